"""User profiles: feedback rows and the learned preferences u (moods) and v (styles).

Feedback is stored as rows (SQLite, WAL, one transaction per row, so concurrent writers lose
nothing). Preferences are derived from the rows when asked, never stored separately, so
they can't drift from the feedback:

    u = softmax(TEMPERATURE · Σ_i w_i · p_i)      v = softmax(TEMPERATURE · Σ_i w_i · q_i)

where p_i, q_i are the emotion and style vectors of the i-th rated track and w_i the weight of
its feedback kind (FEEDBACK_WEIGHTS). With no feedback, u and v are uniform.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from moodtune.errors import InputError
from moodtune.storage import connect, create_database, guard_storage, guarded
from moodtune.types import GENRES, MOOD_NAMES, EmotionVector, StyleVector, Track

FEEDBACK_WEIGHTS = {"up": 1.0, "more_like_this": 1.5, "skip": -0.3, "down": -1.0}
TEMPERATURE = 2.0
# Item-to-item co-likes count only once there is this much evidence: a candidate needs at
# least CO_LIKE_MIN_USERS other users who liked it and one of this user's liked tracks.
CO_LIKE_MIN_USERS = 2
WHAT = "the profile database"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    track_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    reply_id TEXT,
    created REAL NOT NULL,
    emotion TEXT NOT NULL,
    style TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_user ON feedback(user_id);
CREATE INDEX IF NOT EXISTS feedback_track ON feedback(track_id);
"""


@dataclass(frozen=True)
class Preferences:
    moods: EmotionVector  # u
    styles: StyleVector  # v
    counts: dict[str, int]

    @property
    def has_feedback(self) -> bool:
        return sum(self.counts.values()) > 0


def _softmax(values: list[float]) -> tuple[float, ...]:
    top = max(values)
    exp = [math.exp(TEMPERATURE * (v - top)) for v in values]
    total = sum(exp)
    return tuple(e / total for e in exp)


class ProfileStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        create_database(self.path, _SCHEMA, what=WHAT)

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path)

    def record(self, *, user_id: str, track: Track, kind: str, reply_id: str | None = None) -> None:
        if kind not in FEEDBACK_WEIGHTS:
            raise InputError(f"unknown feedback {kind!r}", hint=f"use one of {sorted(FEEDBACK_WEIGHTS)}")
        if not user_id or not user_id.strip():
            raise InputError("feedback needs a user id")
        row = (
            user_id,
            track.id,
            kind,
            reply_id,
            time.time(),
            json.dumps(track.emotion.probs),
            json.dumps(track.style.probs),
        )
        # One transaction per row: a failed write (disk full) rolls back alone, nothing before it is lost.
        with guarded(self.path, WHAT, doing="saving your feedback"), self._lock, self._connect() as db:
            db.execute(
                "INSERT INTO feedback (user_id, track_id, kind, reply_id, created, emotion, style) VALUES (?,?,?,?,?,?,?)",
                row,
            )

    @guard_storage(WHAT)
    def rows(self, user_id: str) -> list[tuple[str, str, list[float], list[float]]]:
        with self._connect() as db:
            found = db.execute(
                "SELECT track_id, kind, emotion, style FROM feedback WHERE user_id=? ORDER BY id", (user_id,)
            ).fetchall()
        return [(t, k, json.loads(e), json.loads(s)) for t, k, e, s in found]

    def preferences(self, user_id: str) -> Preferences:
        mood_sum = [0.0] * len(MOOD_NAMES)
        style_sum = [0.0] * len(GENRES)
        counts = dict.fromkeys(FEEDBACK_WEIGHTS, 0)
        for _, kind, emotion, style in self.rows(user_id):
            weight = FEEDBACK_WEIGHTS[kind]
            counts[kind] += 1
            mood_sum = [a + weight * b for a, b in zip(mood_sum, emotion)]
            style_sum = [a + weight * b for a, b in zip(style_sum, style)]
        return Preferences(EmotionVector(_softmax(mood_sum)), StyleVector(_softmax(style_sum)), counts)

    def shown_feedback(self, user_id: str) -> dict[str, str]:
        """The latest feedback kind per track for this user."""
        return {track: kind for track, kind, _, _ in self.rows(user_id)}

    @guard_storage(WHAT)
    def co_likes(self, user_id: str, candidate_ids: Iterable[str]) -> dict[str, float]:
        """Share of other users who liked both the candidate and one of this user's liked tracks."""
        candidates = list(candidate_ids)
        if not candidates:
            return {}
        with self._connect() as db:
            mine = [
                r[0]
                for r in db.execute(
                    "SELECT DISTINCT track_id FROM feedback WHERE user_id=? AND kind IN ('up','more_like_this')",
                    (user_id,),
                )
            ]
            if not mine:
                return {}
            marks = ",".join("?" * len(mine))
            others = [
                r[0]
                for r in db.execute(
                    f"SELECT DISTINCT user_id FROM feedback WHERE user_id!=? AND kind IN ('up','more_like_this') AND track_id IN ({marks})",
                    (user_id, *mine),
                )
            ]
            if len(others) < CO_LIKE_MIN_USERS:
                return {}
            user_marks = ",".join("?" * len(others))
            cand_marks = ",".join("?" * len(candidates))
            found = db.execute(
                f"SELECT track_id, COUNT(DISTINCT user_id) FROM feedback WHERE kind IN ('up','more_like_this') "
                f"AND user_id IN ({user_marks}) AND track_id IN ({cand_marks}) GROUP BY track_id",
                (*others, *candidates),
            ).fetchall()
        return {track: count / len(others) for track, count in found if count >= CO_LIKE_MIN_USERS}

    @guard_storage(WHAT)
    def reset(self, user_id: str) -> int:
        with self._lock, self._connect() as db:
            return db.execute("DELETE FROM feedback WHERE user_id=?", (user_id,)).rowcount

    @guard_storage(WHAT)
    def count(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]
