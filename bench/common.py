"""What every benchmark shares: the machine's description and writing results."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from moodtune.weights import llama_build_features, llama_system_info

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine_info() -> dict[str, Any]:
    """Enough about this machine to compare figures across runs."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gib = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    versions = {}
    for package in ("torch", "transformers", "scikit-learn", "chromadb", "librosa", "llama_cpp_python"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    info = llama_system_info()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1) if mem_gib else None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "packages": versions,
        # A build for this CPU and the portable one differ in speed and in some greedy readings.
        "llama_cpp_uses": None if info is None else llama_build_features(info),
        "git_commit": commit,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def process_memory_mb() -> dict[str, int]:
    """This process's resident memory (Linux): anonymous, and file-backed (mapped model weights;
    a file mapped twice is counted twice here but held once by the OS)."""
    status = Path("/proc/self/status")
    if not status.exists():
        return {}
    fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) // 1024 for key in ("VmRSS", "RssAnon", "RssFile") if key in fields}


def write_results(name: str, figures: dict[str, Any]) -> Path:
    """Print the figures and write bench/results/<name>.json with the machine's description."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {"benchmark": name, "machine": machine_info(), "figures": figures}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=float) + "\n")
    print(json.dumps(figures, indent=2, ensure_ascii=False, default=float))
    print(f"wrote {path}")
    return path
