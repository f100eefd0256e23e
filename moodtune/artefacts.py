"""Saved artefacts (trained models, assembled weights) with a version and checksums.

An artefact is a directory holding its files plus `manifest.json`:
    {"name": ..., "version": ..., "created": ..., "files": {relative path: sha256}, "meta": {...}}
`verify_artefact` refuses a directory whose files do not match, so a truncated or
edited model is never loaded silently. Writes go to a temporary path and are
renamed into place, so a crash never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from moodtune.errors import ModelCorruptError, ModelMissingError, StorageError

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"


def sha256_file(path: Path, *, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it to `final` only if the block succeeds."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise StorageError(
                f"disk full while writing {final}", hint="free some space and run the command again"
            ) from exc
        raise
    finally:
        tmp.unlink(missing_ok=True)


def write_manifest(directory: Path, *, name: str, version: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Checksum every file in `directory` (except the manifest) and write the manifest."""
    files = {
        str(path.relative_to(directory)): sha256_file(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }
    manifest = {
        "name": name,
        "version": version,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": files,
        "meta": meta or {},
    }
    with atomic_path(directory / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def verify_artefact(directory: Path, *, name: str, fix: str) -> dict[str, Any]:
    """Return the manifest if every listed file exists with its checksum; raise otherwise.

    `fix` is the command that rebuilds the artefact, quoted in the error.
    """
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ModelMissingError(f"{name} artefact not found at {directory}", hint=f"run `{fix}`")
    try:
        manifest = json.loads(manifest_path.read_text())
        files: dict[str, str] = manifest["files"]
    except (ValueError, KeyError) as exc:
        raise ModelCorruptError(f"{name} manifest {manifest_path} is unreadable", hint=f"run `{fix}`") from exc
    for relative, expected in files.items():
        path = directory / relative
        if not path.is_file():
            raise ModelMissingError(f"{name} artefact is missing {relative}", hint=f"run `{fix}`")
        if sha256_file(path) != expected:
            raise ModelCorruptError(f"{name} artefact file {relative} fails its checksum", hint=f"run `{fix}`")
    return manifest


@contextlib.contextmanager
def log_load(what: str) -> Iterator[None]:
    """Log at debug level what a lazy loader loads and how long it took."""
    start = time.perf_counter()
    log.debug("loading %s", what)
    yield
    log.debug("loaded %s in %.2fs", what, time.perf_counter() - start)
