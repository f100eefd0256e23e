"""A damaged catalog directory: a clear CatalogError naming the command that rebuilds it, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from catalog.store import CatalogStore
from moodtune.errors import CatalogError

# Written in its own process: Chroma keeps one client per directory per process, and this one must open it fresh.
WRITE_ONE_TRACK = """
import numpy as np
from catalog.store import CatalogStore
from moodtune.config import Settings
from moodtune.types import EmotionVector, StyleVector, Track
store = CatalogStore.open(Settings.load())
track = Track(id="t1", path="/music/t1.flac", title="Song", artist="A",
              emotion=EmotionVector.one_hot("calm"), style=StyleVector.one_hot("jazz"))
store.upsert([track], text_embeddings=np.full((1, 8), 0.1))
print(store.count())
"""


def _cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MOODTUNE_HOME": str(settings.home)}
    return subprocess.run(
        ["nice", "-n", "19", sys.executable, "-m", "moodtune.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _damage(chroma_dir, how: str) -> None:
    db = chroma_dir / "chroma.sqlite3"
    if how == "garbage":
        db.write_bytes(b"garbage, not SQLite " * 500)
    else:  # every file of the directory cut to a third
        for path in (p for p in chroma_dir.rglob("*") if p.is_file()):
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_a_damaged_catalog_names_the_command_that_rebuilds_it(settings, how):
    env = {**os.environ, "MOODTUNE_HOME": str(settings.home)}
    written = subprocess.run(
        ["nice", "-n", "19", sys.executable, "-c", WRITE_ONE_TRACK],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert written.returncode == 0 and written.stdout.strip() == "1", written.stderr
    _damage(settings.chroma_dir, how)

    with pytest.raises(CatalogError) as caught:
        CatalogStore.open(settings)
    assert "damaged" in caught.value.message
    assert "moodtune ingest" in caught.value.hint and "moodtune setup" in caught.value.hint
    assert str(settings.chroma_dir) in caught.value.hint

    done = _cli(settings, "catalog", "stats")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "error: the catalog is damaged" in done.stderr and "fix:" in done.stderr
    assert "moodtune ingest" in done.stderr
