"""kill -9 in the middle of feedback writes: every acknowledged row is there and the file is whole."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

from agent.profile import ProfileStore

# Writes thumbs through the real ProfileStore and prints each one's number once `record` has returned.
WRITER = """
import sys
from agent.profile import ProfileStore
from moodtune.types import EmotionVector, StyleVector, Track

store = ProfileStore(sys.argv[1])
for i in range(1_000_000):
    track = Track(id=f"t{i}", path=f"/music/t{i}.flac", title="Song", artist="A",
                  emotion=EmotionVector.one_hot("calm"), style=StyleVector.one_hot("jazz"))
    store.record(user_id="ana", track=track, kind="up", reply_id=f"r{i}")
    print(i, flush=True)
"""


def test_kill_9_during_feedback_writes_loses_no_acknowledged_row(tmp_path):
    path = tmp_path / "profiles.sqlite3"
    writer = subprocess.Popen(
        ["nice", "-n", "19", sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    acknowledged: list[int] = []
    deadline = time.monotonic() + 240
    try:
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            line = writer.stdout.readline()
            if not line:
                break
            acknowledged.append(int(line))
    finally:
        os.killpg(writer.pid, signal.SIGKILL)  # mid-stream: the writer is between or inside transactions
        writer.wait(timeout=30)
    # What it printed before dying is acknowledged too (it was read by no one yet, but was said).
    acknowledged += [int(line) for line in writer.stdout.read().split()]
    assert writer.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 40, writer.stderr.read()

    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {track for (track,) in db.execute("SELECT track_id FROM feedback WHERE user_id='ana'")}
    assert {f"t{i}" for i in acknowledged} <= stored
    assert len(stored) - len(acknowledged) <= 1, "at most the row being written when killed, committed unacknowledged"
    store = ProfileStore(path)  # and the store opens and reads it as usual
    assert store.preferences("ana").counts["up"] == len(stored)
