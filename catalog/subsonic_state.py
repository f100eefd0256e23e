"""What Moodtune keeps about Subsonic servers: `MOODTUNE_HOME/subsonic.sqlite3`.

- servers: the address (scheme, user, host, port, path) of each server ingested; never a password.
- songs: per server, the server's song id beside our track id (the content hash of the file),
  the file's size (a changed size means a changed file) and where its ingestion stands
  (`downloaded`: hashed, not yet analysed; `done`; `failed` with the reason).
- feedback: the star or rating of a song last turned into profile feedback, so a star is
  counted once, not on every run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from moodtune.config import Settings
from moodtune.storage import connect, create_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS servers (
    key TEXT PRIMARY KEY,
    base_url TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_ingest REAL
);
CREATE TABLE IF NOT EXISTS songs (
    server TEXT NOT NULL,
    song_id TEXT NOT NULL,
    track_id TEXT,
    size INTEGER,
    status TEXT NOT NULL,
    reason TEXT,
    updated REAL NOT NULL,
    PRIMARY KEY (server, song_id)
);
CREATE INDEX IF NOT EXISTS songs_track ON songs(track_id);
CREATE TABLE IF NOT EXISTS feedback (
    server TEXT NOT NULL,
    song_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    recorded REAL NOT NULL,
    PRIMARY KEY (server, song_id, user_id)
);
"""


@dataclass(frozen=True)
class SongRow:
    server: str
    song_id: str
    track_id: str | None
    size: int | None
    status: str
    reason: str | None = None


def state_path(settings: Settings) -> Path:
    return settings.home / "subsonic.sqlite3"


class SubsonicState:
    def __init__(self, settings: Settings) -> None:
        self.path = state_path(settings)
        create_database(self.path, _SCHEMA, what="the Subsonic state database")

    def _db(self):
        return connect(self.path)

    # -- servers ---------------------------------------------------------------------------
    def add_server(self, key: str, base_url: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO servers (key, base_url, first_seen) VALUES (?,?,?) ON CONFLICT(key) DO UPDATE SET base_url=excluded.base_url",
                (key, base_url, time.time()),
            )

    def finished_ingest(self, key: str) -> None:
        with self._db() as db:
            db.execute("UPDATE servers SET last_ingest=? WHERE key=?", (time.time(), key))

    def servers(self) -> list[str]:
        with self._db() as db:
            return [r[0] for r in db.execute("SELECT key FROM servers ORDER BY first_seen")]

    # -- songs -----------------------------------------------------------------------------
    def songs(self, server: str) -> dict[str, SongRow]:
        with self._db() as db:
            rows = db.execute(
                "SELECT server, song_id, track_id, size, status, reason FROM songs WHERE server=?", (server,)
            ).fetchall()
        return {r[1]: SongRow(*r) for r in rows}

    def set_song(
        self, server: str, song_id: str, *, track_id: str | None, size: int | None, status: str, reason: str | None = None
    ) -> None:
        self.set_songs(server, [(song_id, track_id, size, status, reason)])

    def set_songs(self, server: str, rows: Iterable[tuple[str, str | None, int | None, str, str | None]]) -> None:
        now = time.time()
        with self._db() as db:
            db.executemany(
                "INSERT INTO songs (server, song_id, track_id, size, status, reason, updated) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(server, song_id) DO UPDATE SET track_id=excluded.track_id, size=excluded.size, "
                "status=excluded.status, reason=excluded.reason, updated=excluded.updated",
                [(server, s, t, z, st, r, now) for s, t, z, st, r in rows],
            )

    def remove_songs(self, server: str, song_ids: Iterable[str]) -> None:
        ids = list(song_ids)
        with self._db() as db:
            db.executemany("DELETE FROM songs WHERE server=? AND song_id=?", [(server, s) for s in ids])
            db.executemany("DELETE FROM feedback WHERE server=? AND song_id=?", [(server, s) for s in ids])

    def track_is_referenced(self, track_id: str) -> bool:
        with self._db() as db:
            return db.execute("SELECT 1 FROM songs WHERE track_id=? LIMIT 1", (track_id,)).fetchone() is not None

    def songs_of_track(self, track_id: str) -> list[tuple[str, str]]:
        """(server, song id) of every server song whose file is this track."""
        with self._db() as db:
            return list(db.execute("SELECT server, song_id FROM songs WHERE track_id=? AND status='done'", (track_id,)))

    def song_ids(self, server: str, track_ids: Iterable[str]) -> dict[str, str]:
        """track id -> this server's song id, for the tracks the server holds."""
        found: dict[str, str] = {}
        with self._db() as db:
            for track_id in track_ids:
                row = db.execute(
                    "SELECT song_id FROM songs WHERE server=? AND track_id=? AND status='done' LIMIT 1",
                    (server, track_id),
                ).fetchone()
                if row:
                    found[track_id] = row[0]
        return found

    # -- feedback --------------------------------------------------------------------------
    def feedback(self, server: str, user_id: str) -> dict[str, str]:
        with self._db() as db:
            rows = db.execute("SELECT song_id, kind FROM feedback WHERE server=? AND user_id=?", (server, user_id))
            return dict(rows.fetchall())

    def set_feedback(self, server: str, song_id: str, user_id: str, kind: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO feedback (server, song_id, user_id, kind, recorded) VALUES (?,?,?,?,?) "
                "ON CONFLICT(server, song_id, user_id) DO UPDATE SET kind=excluded.kind, recorded=excluded.recorded",
                (server, song_id, user_id, kind, time.time()),
            )

    def forget_feedback(self, server: str, song_id: str, user_id: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM feedback WHERE server=? AND song_id=? AND user_id=?", (server, song_id, user_id))
