"""What `moodtune serve` spends loading before answers are quick: Moodtune.warm_up, timed in a fresh process.

    python -m bench.warm_up [--runs N] [--name NAME]   (needs the LLM and a catalog in MOODTUNE_HOME)

Each run is a new Python process (nothing loaded, nothing cached in memory), which builds the
agent and calls warm_up: the parser's and the explainer's prompt prefixes read and kept, the
emotion readers, the taggers and the Whisper models loaded. Each run is a pair: the first start
(no prompt states on disk: they are removed before it) and a later start (the states the first
one wrote), and then a one-shot `moodtune parse` after each. Reports the seconds of each, the
seconds llama-cpp-python's save_state took inside it, and the process's resident memory after.
Writes bench/results/NAME.json (default warm_up).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time

import numpy as np

from bench.common import write_results
from moodtune.config import Settings

_CHILD = """
import json, time
import llama_cpp
from agent.session import Moodtune
from bench.common import process_memory_mb
from moodtune.config import Settings

saving = []
original = llama_cpp.Llama.save_state
def timed_save_state(self):
    start = time.perf_counter()
    try:
        return original(self)
    finally:
        saving.append(time.perf_counter() - start)
llama_cpp.Llama.save_state = timed_save_state

start = time.perf_counter()
agent = Moodtune(Settings.load())
built = time.perf_counter() - start
agent.warm_up()
print(json.dumps({"build_s": built, "warm_up_s": time.perf_counter() - start - built,
                  "save_state_s": sum(saving), "save_states": len(saving), "memory_mb": process_memory_mb()}))
"""


def one_run() -> dict:
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli_parse_s() -> float:
    """Wall seconds of `moodtune parse` in a new process, as a one-shot command line pays them."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "moodtune.cli", "parse", "something calm but not sad for a rainy drive, no jazz"],
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - start


def main(*, runs: int = 2, name: str = "warm_up") -> dict:
    state_dir = Settings.load().llm_state_dir
    rows = []
    for _ in range(runs):
        shutil.rmtree(state_dir, ignore_errors=True)
        first_cli = cli_parse_s()
        shutil.rmtree(state_dir, ignore_errors=True)
        first = {**one_run(), "cli_parse_s": first_cli}
        later = {**one_run(), "cli_parse_s": cli_parse_s()}
        rows.append({"first_start": first, "later_start": later})

    def median(start: str, key: str) -> float:
        return round(float(np.median([r[start][key] for r in rows])), 2)

    figures = {
        "runs": rows,
        **{f"{start}_{key}_median": median(start, key) for start in ("first_start", "later_start")
           for key in ("warm_up_s", "save_state_s", "build_s", "cli_parse_s")},
        "note": "wall seconds in a fresh process each run; warm_up_s includes save_state_s; a later start "
        "loads the prompt states the first start kept on disk",
    }
    write_results(name, figures)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--name", default="warm_up")
    args = parser.parse_args()
    main(runs=args.runs, name=args.name)
