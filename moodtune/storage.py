"""The SQLite files under MOODTUNE_HOME (profiles, review log): one way to open them.

A failing file becomes a StorageError whose hint says what to do: free disk space when the
disk is full (nothing committed is lost: a failed write is one rolled-back transaction), and
`moodtune repair NAME` when the file is damaged (`rebuild`: the readable rows go into a fresh
file, the damaged one is kept beside it).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from moodtune.errors import StorageError

# The files `moodtune repair` rebuilds: the name on the command line -> the file under home.
REPAIRABLE = {"profiles": "profiles.sqlite3", "review": "review.sqlite3"}
_DAMAGED = ("not a database", "malformed", "file is encrypted", "disk i/o error", "unsupported file format")
_FULL = ("disk is full", "database or disk is full", "no space left")

T = TypeVar("T")


def connect(path: Path) -> sqlite3.Connection:
    # A writer may hold the lock briefly (WAL); wait rather than fail a user's thumb.
    return sqlite3.connect(path, timeout=30)


def storage_error(path: Path, what: str, exc: BaseException, *, doing: str = "") -> StorageError:
    """The StorageError for a failing SQLite file, with the fix for its cause."""
    text = str(exc).lower()
    doing = doing or f"using {what} {path}"
    if any(word in text for word in _FULL) or getattr(exc, "errno", None) == 28:
        hint = "free disk space under MOODTUNE_HOME and try again (what was saved before is kept)"
    elif any(word in text for word in _DAMAGED):
        name = next((n for n, f in REPAIRABLE.items() if f == Path(path).name), None)
        hint = (
            f"rebuild it with `moodtune repair {name}` (it keeps the readable rows and the damaged file beside it)"
            if name
            else f"move {path} aside; Moodtune creates a fresh one"
        )
    elif "locked" in text or "busy" in text:
        hint = "another process holds it; try again in a moment"
    else:
        hint = "check that MOODTUNE_HOME is writable"
    return StorageError(f"{doing} failed: {exc}", hint=hint)


@contextlib.contextmanager
def guarded(path: Path, what: str, *, doing: str = "") -> Iterator[None]:
    """SQLite errors inside become a StorageError with the fix."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise storage_error(path, what, exc, doing=doing) from exc


def guard_storage(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Method decorator for stores with a `path`: their SQLite errors become StorageErrors."""

    def decorate(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs) -> T:
            with guarded(self.path, what):
                return method(self, *args, **kwargs)

        return wrapper

    return decorate


def create_database(path: Path, schema: str, *, what: str) -> None:
    """Create the file and its tables if needed, in WAL mode; StorageError names the fix."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with connect(path) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(schema)
    except (OSError, sqlite3.Error) as exc:
        raise storage_error(path, what, exc, doing=f"opening {what} {path}") from exc


def is_healthy(path: Path) -> bool:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    except sqlite3.DatabaseError:
        return False


def rebuild(path: Path, schema: str, *, what: str) -> dict:
    """Move a damaged file aside, create a fresh one and copy in every row that can still be read."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, f"{aside}{suffix}")
    create_database(path, schema, what=what)
    recovered: dict[str, int] = {}
    with contextlib.closing(connect(path)) as fresh:
        tables = [r[0] for r in fresh.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in (t for t in tables if not t.startswith("sqlite_")):
            columns = [c[1] for c in fresh.execute(f"PRAGMA table_info({table})")]
            recovered[table] = _copy_rows(aside, fresh, table, columns)
        fresh.commit()
    return {"rebuilt": str(path), "damaged_file_kept_as": str(aside), "rows_recovered": recovered}


def _copy_rows(old_path: Path, fresh: sqlite3.Connection, table: str, columns: list[str]) -> int:
    """Rows up to the first unreadable page (by rowid, so one bad page loses only what it holds)."""
    names = ", ".join(columns)
    insert = f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
    copied = 0
    try:
        old = sqlite3.connect(f"file:{old_path}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        return 0
    with contextlib.closing(old):
        try:
            top = old.execute(f"SELECT MAX(rowid) FROM {table}").fetchone()[0] or 0
        except sqlite3.DatabaseError:
            return _scan_rows(old, fresh, f"SELECT {names} FROM {table}", insert)
        step = 256
        for start in range(0, top + 1, step):
            try:
                rows = old.execute(
                    f"SELECT {names} FROM {table} WHERE rowid >= ? AND rowid < ?", (start, start + step)
                ).fetchall()
            except sqlite3.DatabaseError:
                continue
            for row in rows:
                fresh.execute(insert, row)
                copied += 1
    return copied


def _scan_rows(old: sqlite3.Connection, fresh: sqlite3.Connection, select: str, insert: str) -> int:
    copied = 0
    try:
        for row in old.execute(select):
            fresh.execute(insert, row)
            copied += 1
    except sqlite3.DatabaseError:
        pass  # the rows after the damage are lost
    return copied
