"""`moodtune setup` (weights, artefact checks, demo catalog) and `moodtune doctor`."""

from __future__ import annotations

import argparse
import platform
import time
from importlib import metadata

from moodtune import __version__
from moodtune.artefacts import verify_artefact
from moodtune.cli import CommandLine
from moodtune.config import SHIPPED_MODELS_DIR, Settings
from moodtune.errors import MoodtuneError
from moodtune.weights import assemble_llm, llama_build_check, llm_status

# Shipped artefacts: directory name -> the command that rebuilds it.
SHIPPED_ARTEFACTS = {
    "emotion": "moodtune train emotion",
    "emotion_multilingual": "moodtune train emotion-multilingual",
    "style": "moodtune train style",
    # Converted once from musicnn's checkpoints (tools/tagger_convert.py); the files are in git.
    "tagger": "git checkout -- models/tagger",
    # Fitted on real dev recordings (bench/fit_audio_reading.py); the file is in git.
    "audio_reading": "git checkout -- models/audio_reading",
}
REPORTED_PACKAGES = ("llama_cpp_python", "torch", "transformers", "chromadb", "scikit-learn", "librosa", "gradio")


def run_setup(settings: Settings, *, force: bool = False, verify: bool = False, demo: bool = True) -> dict[str, float]:
    """Make everything a first run needs; idempotent. Returns the seconds each step took."""
    timings = {}
    settings.ensure_dirs()
    start = time.perf_counter()
    path = assemble_llm(settings, force=force, verify=verify)
    timings["llm"] = time.perf_counter() - start
    print(f"LLM ready: {path} ({timings['llm']:.1f}s)")
    for name, fix in SHIPPED_ARTEFACTS.items():
        manifest = verify_artefact(SHIPPED_MODELS_DIR / name, name=f"{name} model", fix=fix)
        print(f"{name} model ready: version {manifest['version']}")
    start = time.perf_counter()
    _setup_speech(settings, verify=verify)
    timings["speech"] = time.perf_counter() - start
    if demo:
        from catalog.demo_pack import prepare_demo
        from catalog.store import CatalogStore

        # The audio is rendered or copied here; its analysis comes with the code (catalog/demo_pack.py),
        # and only what that lacks is analysed. A second run finds everything and takes a second.
        start = time.perf_counter()
        timings.update(prepare_demo(settings, store=CatalogStore.open(settings)))
        timings["demo"] = time.perf_counter() - start
    return timings


def _setup_speech(settings: Settings, *, verify: bool) -> None:
    """The Whisper models, when their packages (the `voice` extra) are installed; voice is optional."""
    from moodtune.speech_weights import WHISPER_MODELS, assemble_whisper, packages_installed

    for name, spec in WHISPER_MODELS.items():
        if not packages_installed(name):
            print(f"speech model {name}: not installed, voice input is off ({spec.pip_fix})")
            continue
        print(f"speech model {name} ready: {assemble_whisper(settings, name, verify=verify)}")


def speech_checks(settings: Settings) -> list[tuple[str, bool, str]]:
    import shutil

    from moodtune.speech_weights import WHISPER_MODELS, packages_installed, whisper_status

    checks = []
    try:
        checks.append(("faster-whisper (speech in)", True, metadata.version("faster-whisper")))
    except metadata.PackageNotFoundError:
        checks.append(("faster-whisper (speech in)", False, "not installed: pip install -e '.[voice]'"))
    for name, spec in WHISPER_MODELS.items():
        status = whisper_status(settings, name)
        fix = "" if status.ready else "; run `moodtune setup`" if packages_installed(name) else f"; {spec.pip_fix}"
        checks.append((f"speech model {name}", status.ready, f"{status.path}: {status.detail}{fix}"))
    espeak = shutil.which("espeak-ng")
    checks.append(("espeak-ng (spoken replies)", bool(espeak), espeak or "missing: apt-get install espeak-ng"))
    return checks


def doctor(settings: Settings) -> list[tuple[str, bool, str]]:
    """(what, ready, detail or fix) for everything Moodtune needs."""
    checks: list[tuple[str, bool, str]] = [("moodtune", True, f"{__version__}, Python {platform.python_version()}")]
    for package in REPORTED_PACKAGES:
        try:
            checks.append((package, True, metadata.version(package)))
        except metadata.PackageNotFoundError:
            checks.append((package, False, "not installed: run ./run.sh (it installs everything)"))
    status = llm_status(settings)
    checks.append(
        (
            "LLM weights",
            status.ready,
            f"{status.path}: {status.detail}" + ("" if status.ready else "; run `moodtune setup`"),
        )
    )
    checks.append(llama_build_check())
    for name, fix in SHIPPED_ARTEFACTS.items():
        try:
            manifest = verify_artefact(SHIPPED_MODELS_DIR / name, name=f"{name} model", fix=fix)
            checks.append((f"{name} model", True, f"version {manifest['version']}, checksums ok"))
        except MoodtuneError as exc:
            checks.append((f"{name} model", False, str(exc)))
    try:
        from catalog.store import CatalogStore

        store = CatalogStore.open(settings)
        total = store.count()
        mode = settings.chroma_url or f"embedded at {settings.chroma_dir}"
        checks.append(("catalog", total > 0, f"{total} tracks ({mode})" + ("" if total else "; run `moodtune setup`")))
    except MoodtuneError as exc:
        checks.append(("catalog", False, str(exc)))
    checks.extend(speech_checks(settings))
    checks.append(("MOODTUNE_HOME", settings.home.is_dir(), str(settings.home)))
    return checks


def _setup_command(args: argparse.Namespace, settings: Settings) -> int:
    run_setup(settings, force=args.force, verify=args.verify, demo=not args.no_demo)
    return 0


def _doctor_command(args: argparse.Namespace, settings: Settings) -> int:
    checks = doctor(settings)
    width = max(len(name) for name, _, _ in checks)
    for name, ready, detail in checks:
        print(f"{'ok ' if ready else 'MISSING'} {name:<{width}}  {detail}")
    ready = all(ok for _, ok, _ in checks)
    print("ready" if ready else "not ready: run the commands shown above")
    return 0 if ready else 1


def register(cli: CommandLine) -> None:
    parser = cli.add(
        "setup", help="assemble the LLM weights, check the models, build the demo catalog", handler=_setup_command
    )
    parser.add_argument("--force", action="store_true", help="reassemble the LLM weights even if they verify")
    parser.add_argument("--verify", action="store_true", help="re-hash the LLM file instead of trusting the stamp")
    parser.add_argument("--no-demo", action="store_true", help="do not build the demo catalog")
    cli.add("doctor", help="show what is installed and ready, and how to fix what is not", handler=_doctor_command)
