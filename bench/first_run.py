"""The first minutes: a fresh clone's `./run.sh` until the UI answers, and a second start.

    python -m bench.first_run [--modes cold,warm,second] [--repo PATH]

Per mode, in a temporary folder: `git clone` of the repository's committed HEAD, then
`./run.sh` with its own MOODTUNE_HOME and port, timed until the UI page is served and then
until `POST /api/v1/recommend` answers (template explanations: the list itself).
- cold: PIP_CACHE_DIR and MOODTUNE_WHEELS are new empty folders: every wheel is downloaded and
  llama-cpp-python built.
- warm: the user's pip cache as it is (after one install: wheels, the llama-cpp-python build).
- second: `./run.sh` again in the last clone, with its venv and home: what every later start costs.
- setup, restart (`--home DIR`): no clone; what `./run.sh` runs after its install step
  (`moodtune setup`, then `moodtune serve`) with this interpreter: setup on an empty home
  (the demo's audio rendered and copied, its analysis written), then again on the same home.
Every line `./run.sh` prints is kept with the second it came at, so the steps (install, LLM
weights, demo audio, demo analysis, model loading) can be read off. Results go to
bench/results/first_run.json with the machine's description.

Heavy: cold builds llama-cpp-python (~10 min of two cores) and installs ~2 GB; run it on a quiet
machine, e.g. `nice -n 19 python -m bench.first_run --modes cold,second`.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.common import RESULTS_DIR, write_results

REPO = Path(__file__).resolve().parents[1]
# Lines of ./run.sh and `moodtune setup` that start or end a step, by step name.
STEPS = {
    "install": re.compile(r"^== installing into"),
    "llm_ready": re.compile(r"^LLM ready"),
    "demo_audio": re.compile(r"^demo: (rendered|copied)"),
    "demo_analysis": re.compile(r"^demo: analysis written"),
    "demo_ready": re.compile(r"^demo catalog ready"),
    "loading_models": re.compile(r"^Loading the models"),
    "serving": re.compile(r"^Moodtune at http"),
    "models_loaded": re.compile(r"^Models and prompts loaded"),
}
TIMEOUT_S = 3600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_once(
    clone: Path, *, env: dict[str, str], port: int, timeout: float = TIMEOUT_S, command: list[str] | None = None
) -> dict:
    """One `./run.sh` in `clone` until its UI answers; the seconds to each step, the UI and the first answer."""
    start = time.perf_counter()
    lines: list[tuple[float, str]] = []
    proc = subprocess.Popen(
        command or ["./run.sh"], cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            for part in line.replace("\r", "\n").splitlines():
                if part.strip():
                    lines.append((round(time.perf_counter() - start, 1), part.rstrip()))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    figures: dict = {}
    try:
        # The first answer waits for the background warm-up: minutes on a loaded machine.
        with httpx.Client(timeout=timeout) as client:
            while time.perf_counter() - start < timeout:
                if proc.poll() is not None:
                    raise RuntimeError(f"./run.sh exited with {proc.returncode}: {lines[-5:]}")
                try:
                    if client.get(base + "/").status_code == 200:
                        figures["ui_s"] = round(time.perf_counter() - start, 1)
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            else:
                raise TimeoutError(f"no UI after {timeout:.0f}s")
            answer = client.post(base + "/api/v1/recommend", json={"text": "calm music for reading", "k": 5, "explain": 0})
            answer.raise_for_status()
            figures["first_answer_s"] = round(time.perf_counter() - start, 1)
            figures["first_answer_message"] = answer.json()["message"]
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass  # it had already ended
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        reader.join(timeout=5)
        if "first_answer_s" not in figures:  # what it got to, for the failure's message
            print("\n".join(f"{t:7.1f}s {line}" for t, line in lines[-20:]), flush=True)
    steps = {}
    for name, pattern in STEPS.items():
        hits = [t for t, line in lines if pattern.search(line)]
        if hits:
            steps[name] = {"first_s": hits[0], "last_s": hits[-1]}
    figures["steps"] = steps
    figures["log_tail"] = [f"{t:7.1f}s {line}" for t, line in lines[-12:]]
    return figures


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.first_run", description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default="warm,second", help="comma-separated: cold, warm, second")
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--home", type=Path, help="for setup/restart: the MOODTUNE_HOME to use (setup wants it empty)")
    parser.add_argument("--keep", action="store_true", help="keep the clones (they hold a venv and the LLM: ~4 GB each)")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - {"cold", "warm", "second", "setup", "restart"}
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}")
    work = Path(tempfile.mkdtemp(prefix="moodtune-first-run-"))
    figures: dict = {"modes": {}}
    clone: Path | None = None
    env: dict[str, str] = {}
    try:
        for mode in modes:
            if mode in ("setup", "restart"):
                if args.home is None:
                    parser.error(f"'{mode}' needs --home")
                import sys

                here = {k: v for k, v in os.environ.items() if k != "MOODTUNE_HOME"}
                here.update(MOODTUNE_HOME=str(args.home), MOODTUNE_PORT=str(free_port()), PYTHONUNBUFFERED="1")
                moodtune = f"{shlex.quote(sys.executable)} -m moodtune.cli"
                print(f"== {mode}: moodtune setup && moodtune serve, home {args.home}", flush=True)
                result = run_once(REPO, env=here, port=int(here["MOODTUNE_PORT"]),
                                  command=["bash", "-c", f"{moodtune} setup && exec {moodtune} serve"])
                figures["modes"][mode] = result
                print(f"   UI after {result['ui_s']}s, first answer after {result['first_answer_s']}s", flush=True)
                continue
            if mode == "second":
                if clone is None:
                    parser.error("'second' needs a cold or warm run before it")
            else:
                clone = work / f"clone-{mode}"
                started = time.perf_counter()
                subprocess.run(["git", "clone", "--quiet", str(args.repo), str(clone)], check=True)
                clone_s = time.perf_counter() - started
                env = {k: v for k, v in os.environ.items() if not k.startswith(("MOODTUNE_", "VIRTUAL_ENV"))}
                env["MOODTUNE_HOME"] = str(clone / ".home")
                if mode == "cold":
                    env["PIP_CACHE_DIR"] = str(work / "empty-pip-cache")
                    env["MOODTUNE_WHEELS"] = str(work / "empty-wheels")  # run.sh's llama.cpp builds, kept per CPU
            env["MOODTUNE_PORT"] = str(free_port())
            print(f"== {mode}: ./run.sh in {clone}", flush=True)
            result = run_once(clone, env=env, port=int(env["MOODTUNE_PORT"]))
            if mode != "second":
                result["clone_s"] = round(clone_s, 1)
            figures["modes"][mode] = result
            print(f"   UI after {result['ui_s']}s, first answer after {result['first_answer_s']}s", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    figures["note"] = (
        "setup/restart run with the existing interpreter (no clone, no install); cold/warm/second are "
        "fresh clones' ./run.sh"
    )
    figures["targets"] = {"first_answer_cold_s": 600, "demo_ready_s": 180, "second_start_ui_s": 30}
    # Modes run apart (a cold run on a quiet machine, a restart today) are kept together in one file.
    previous = RESULTS_DIR / "first_run.json"
    if previous.is_file():
        import json

        kept = json.loads(previous.read_text()).get("figures", {}).get("modes", {})
        figures["modes"] = {**kept, **figures["modes"]}
    write_results("first_run", figures)
    return figures


if __name__ == "__main__":
    main()
