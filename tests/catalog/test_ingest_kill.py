"""kill -9 during `moodtune ingest`: at most one batch is lost, and the re-run analyses only what is missing."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

from catalog.demo import plan_clips, render_plan
from catalog.ingest import track_id_for
from catalog.store import CatalogStore

BATCH = 2
CLIPS = 6
# The store's collections in the order an upsert writes them (the sound embeddings last, where the store keeps them).
COLLECTIONS = ("affect", "text", "audio") if hasattr(CatalogStore, "count_audio") else ("affect", "text")


def _stored(chroma_dir) -> dict[str, set[str]]:
    """Track ids per collection, read straight from Chroma's SQLite file (another process is writing it)."""
    path = chroma_dir / "chroma.sqlite3"
    if not path.exists():
        return {}
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            rows = db.execute(
                "SELECT c.name, e.embedding_id FROM embeddings e JOIN segments s ON e.segment_id = s.id "
                "JOIN collections c ON s.collection = c.id"
            ).fetchall()
    except sqlite3.OperationalError:  # not created yet, or locked for a moment
        return {}
    found: dict[str, set[str]] = {}
    for name, track_id in rows:
        found.setdefault(name, set()).add(track_id)
    return found


def _ingest(settings, folder) -> subprocess.Popen:
    env = {**os.environ, "MOODTUNE_HOME": str(settings.home), "MOODTUNE_INGEST_BATCH": str(BATCH)}
    return subprocess.Popen(
        ["nice", "-n", "19", sys.executable, "-m", "moodtune.cli", "ingest", str(folder), "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def test_kill_9_during_ingest_loses_at_most_one_batch_and_the_rerun_skips_what_is_stored(settings, tmp_path):
    folder = tmp_path / "music"
    plans = plan_clips()
    for plan in plans[0:300:50][:CLIPS]:
        render_plan(plan, folder, seconds=4.0)
    files = sorted(folder.rglob("*.flac"))
    assert len(files) == CLIPS
    ids = {track_id_for(f) for f in files}
    assert len(ids) == CLIPS

    run = _ingest(settings, folder)
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline and run.poll() is None:
            if len(_stored(settings.chroma_dir).get(COLLECTIONS[-1], ())) >= BATCH:  # a whole batch: written last
                break
            time.sleep(0.2)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.communicate(timeout=60)
    assert run.returncode == -signal.SIGKILL, "killed before it finished"
    before = _stored(settings.chroma_dir)
    kept = before.get("affect", set())
    assert BATCH <= len(kept) < CLIPS and kept <= ids

    again = _ingest(settings, folder)
    out, err = again.communicate(timeout=900)
    assert again.returncode == 0, err
    counts = re.search(r"(\d+) added, (\d+) updated, (\d+) unchanged, (\d+) failed", out)
    assert counts, out
    added, updated, unchanged, failed = map(int, counts.groups())
    # Only what was missing is analysed; everything the killed run stored is skipped as unchanged.
    assert (added, updated, unchanged, failed) == (CLIPS - len(kept), 0, len(kept), 0), out

    after = _stored(settings.chroma_dir)
    for name in COLLECTIONS:
        assert after[name] == ids, f"every file exactly once in {name}"
    store = CatalogStore.open(settings)
    tracks = store.get(sorted(ids))
    assert store.count() == CLIPS
    if hasattr(store, "count_audio"):
        assert store.count_audio() == CLIPS
    assert sorted(t.path for t in tracks) == sorted(str(f.resolve()) for f in files)
