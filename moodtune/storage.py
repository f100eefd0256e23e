"""The SQLite files under MOODTUNE_HOME (profiles, review log): one way to open them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from moodtune.errors import StorageError


def connect(path: Path) -> sqlite3.Connection:
    # A writer may hold the lock briefly (WAL); wait rather than fail a user's thumb.
    return sqlite3.connect(path, timeout=30)


def create_database(path: Path, schema: str, *, what: str) -> None:
    """Create the file and its tables if needed, in WAL mode; StorageError names the fix."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with connect(path) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(schema)
    except (OSError, sqlite3.Error) as exc:
        raise StorageError(f"cannot open {what} {path}: {exc}", hint="check that MOODTUNE_HOME is writable") from exc
