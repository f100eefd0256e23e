"""The review log: every reply with every part of why it was made, and reviewers' verdicts.

SQLite under MOODTUNE_HOME. A reply is stored whole (request, parsed intent, every candidate
with its score parts, explanations, model and catalog versions) so a reviewer can see later
exactly why a track ranked where it did, whatever has changed since. An LLM wording that
failed the grounding check is kept in the reply's facts (`llm_rejected_text`) with the reasons
(`llm_rejected_reasons`), so a reviewer sees what was dropped and why.

Deleting a user (`delete_user`) removes their replies; reviewers' verdicts on them stay,
anonymised: the verdict, the reviewer and the time are kept, the note (which may quote the
request) and the link to the request are not.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
import time
from pathlib import Path

from moodtune.config import Settings
from moodtune.errors import NotFoundError
from moodtune.serialize import reply_from_dict, reply_to_dict
from moodtune.storage import connect, create_database, guard_storage, guarded
from moodtune.types import Reply

WHAT = "the review log"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    reply_id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    created REAL NOT NULL,
    request TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS replies_session ON replies(session_id, created);
CREATE TABLE IF NOT EXISTS verdicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reply_id TEXT NOT NULL REFERENCES replies(reply_id),
    track_id TEXT,
    explanation_faithful INTEGER,
    fits INTEGER,
    note TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
"""


class ReviewLog:
    def __init__(self, settings: Settings) -> None:
        self.path = Path(settings.review_db)
        self._lock = threading.Lock()
        create_database(self.path, _SCHEMA, what=WHAT)

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path)

    def record(self, reply: Reply) -> None:
        body = json.dumps(reply_to_dict(reply), ensure_ascii=False, default=float)
        with guarded(self.path, WHAT, doing="logging the reply"), self._lock, self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO replies VALUES (?,?,?,?,?,?)",
                (reply.reply_id, reply.session_id, reply.user_id, time.time(), reply.request, body),
            )

    @guard_storage(WHAT)
    def session_owner(self, session_id: str) -> str | None:
        """The user whose conversation this is, or None for a session never logged."""
        with self._connect() as db:
            row = db.execute("SELECT user_id FROM replies WHERE session_id=? LIMIT 1", (session_id,)).fetchone()
        return row[0] if row else None

    def delete_user(self, user_id: str) -> dict[str, int]:
        """Remove the user's replies; anonymise the verdicts on them. Returns the counts."""
        with guarded(self.path, WHAT, doing="deleting from the review log"), self._lock, self._connect() as db:
            anonymised = db.execute(
                "UPDATE verdicts SET note='' WHERE reply_id IN (SELECT reply_id FROM replies WHERE user_id=?)",
                (user_id,),
            ).rowcount
            replies = db.execute("DELETE FROM replies WHERE user_id=?", (user_id,)).rowcount
        return {"replies": replies, "verdicts_anonymised": anonymised}

    @guard_storage(WHAT)
    def sessions(self, *, limit: int = 200) -> list[dict]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT session_id, user_id, COUNT(*), MIN(created), MAX(created) FROM replies "
                "GROUP BY session_id ORDER BY MAX(created) DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [{"session_id": s, "user_id": u, "replies": n, "started": a, "last": b} for s, u, n, a, b in rows]

    @guard_storage(WHAT)
    def replies(self, session_id: str) -> list[Reply]:
        with self._connect() as db:
            rows = db.execute("SELECT body FROM replies WHERE session_id=? ORDER BY created", (session_id,)).fetchall()
        return [reply_from_dict(json.loads(body)) for (body,) in rows]

    @guard_storage(WHAT)
    def reply(self, reply_id: str) -> Reply:
        with self._connect() as db:
            row = db.execute("SELECT body FROM replies WHERE reply_id=?", (reply_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no logged reply {reply_id!r}")
        return reply_from_dict(json.loads(row[0]))

    @guard_storage(WHAT)
    def record_verdict(
        self,
        reply_id: str,
        *,
        track_id: str | None = None,
        explanation_faithful: bool | None = None,
        fits: bool | None = None,
        note: str = "",
        reviewer: str = "",
    ) -> int:
        self.reply(reply_id)  # NotFoundError for an unknown reply
        with self._lock, self._connect() as db:
            cursor = db.execute(
                "INSERT INTO verdicts (reply_id, track_id, explanation_faithful, fits, note, reviewer, created) VALUES (?,?,?,?,?,?,?)",
                (
                    reply_id,
                    track_id,
                    None if explanation_faithful is None else int(explanation_faithful),
                    None if fits is None else int(fits),
                    note,
                    reviewer,
                    time.time(),
                ),
            )
            return int(cursor.lastrowid)

    @guard_storage(WHAT)
    def verdicts(self) -> list[dict]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT v.reply_id, v.track_id, v.explanation_faithful, v.fits, v.note, v.reviewer, v.created, "
                "COALESCE(r.request, '') FROM verdicts v LEFT JOIN replies r USING (reply_id) ORDER BY v.id"
            ).fetchall()
        keys = ("reply_id", "track_id", "explanation_faithful", "fits", "note", "reviewer", "created", "request")
        return [dict(zip(keys, row)) for row in rows]

    @guard_storage(WHAT)
    def _replies_with_verdicts(self, verdicts: list[dict]) -> list[dict]:
        by_reply: dict[str, list[dict]] = {}
        for verdict in verdicts:
            by_reply.setdefault(verdict["reply_id"], []).append(verdict)
        with self._connect() as db:
            rows = db.execute("SELECT reply_id, body FROM replies ORDER BY created").fetchall()
        return [{**json.loads(body), "verdicts": by_reply.get(reply_id, [])} for reply_id, body in rows]

    @staticmethod
    def _summary(replies: list[dict], verdicts: list[dict]) -> dict:
        def share(key: str) -> float | None:
            judged = [v[key] for v in verdicts if v[key] is not None]
            return round(sum(judged) / len(judged), 3) if judged else None

        return {
            "replies": len(replies),
            "verdicts": len(verdicts),
            "faithful_share": share("explanation_faithful"),
            "fits_share": share("fits"),
        }

    def export_dict(self) -> dict:
        """The export as one JSON object: a summary, every reply with its verdicts, every verdict."""
        verdicts = self.verdicts()
        replies = self._replies_with_verdicts(verdicts)
        return {"summary": self._summary(replies, verdicts), "replies": replies, "verdicts": verdicts}

    def export(self, jsonl_path: Path, csv_path: Path) -> dict:
        """All replies (JSONL, one per line, with their verdicts) and all verdicts (CSV); returns a summary."""
        verdicts = self.verdicts()
        replies = self._replies_with_verdicts(verdicts)
        jsonl_path.parent.mkdir(parents=True, exist_ok=True)
        with open(jsonl_path, "w", encoding="utf-8") as out:
            for reply in replies:
                out.write(json.dumps(reply, ensure_ascii=False) + "\n")
        with open(csv_path, "w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(
                out,
                fieldnames=[
                    "reply_id",
                    "track_id",
                    "request",
                    "explanation_faithful",
                    "fits",
                    "note",
                    "reviewer",
                    "created",
                ],
            )
            writer.writeheader()
            for verdict in verdicts:
                writer.writerow({k: verdict[k] for k in writer.fieldnames})
        return self._summary(replies, verdicts)
