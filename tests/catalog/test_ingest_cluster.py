"""Ingestion on a real Dask cluster (two worker processes on loopback) into a real `chroma run`
server, with a worker killed midway: nothing lost, nothing duplicated, and the same catalog as
local ingestion of the same files."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from catalog.ingest import _analyse_sent, analysis_versions, ingest_folder, track_id_for
from catalog.store import CatalogStore
from moodtune.errors import ClusterError

distributed = pytest.importorskip("distributed", reason='the cluster extra: pip install -e ".[cluster]"')

REPO = Path(__file__).resolve().parents[2]
BATCH = 2  # tracks per store write, so the run writes several batches before the kill


@pytest.fixture
def cluster():
    """A scheduler and two single-threaded worker processes (each under a nanny that restarts it)."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as local,
        distributed.Client(local, set_as_default=False) as client,
    ):
        yield local.scheduler_address, client


@pytest.fixture
def chroma(tmp_path):
    from bench.servers import start_chroma

    with start_chroma(tmp_path / "chroma") as server:
        yield server.url


def _ingest_on_cluster(home: Path, folder: Path, address: str, chroma_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "MOODTUNE_HOME": str(home),
        "MOODTUNE_CHROMA_URL": chroma_url,
        "MOODTUNE_INGEST_BATCH": str(BATCH),
        # The same code as this test file's, whatever the working directory or installed copy.
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "moodtune.cli", "ingest", str(folder), "--cluster", address],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=home,
    )


def _kill_a_busy_worker(client, store: CatalogStore, run: subprocess.Popen, *, deadline: float) -> int:
    """SIGKILL a worker while it analyses a file, once a first batch is stored; its pid."""
    while time.monotonic() < deadline and run.poll() is None:
        if store.count() >= BATCH:
            busy = [address for address, keys in client.processing().items() if keys]
            if busy:
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.1)
    raise AssertionError(f"the run ended before a worker could be killed: {run.communicate()}")


def test_a_worker_killed_midway_loses_and_duplicates_nothing_and_matches_local_ingestion(
    settings, clip_library, cluster, chroma, tmp_path
):
    address, client = cluster
    files = sorted(clip_library.rglob("*.flac"))
    ids = {track_id_for(f) for f in files}
    assert len(ids) == len(files) >= 6
    remote = CatalogStore.open(replace(settings, chroma_url=chroma))
    home = tmp_path / "cluster-home"
    home.mkdir()

    run = _ingest_on_cluster(home, clip_library, address, chroma)
    try:
        killed = _kill_a_busy_worker(client, remote, run, deadline=time.monotonic() + 600)
        out, err = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err[-3000:]
    assert f"{len(files)} added, 0 updated, 0 unchanged, 0 failed" in out, out + err[-2000:]
    # The nanny brought the killed worker back: two workers, neither the killed process.
    client.wait_for_workers(2, timeout=120)
    assert killed not in client.run(os.getpid).values()
    # The analysis plugin reached both, the restarted one too: one torch thread each.
    assert set(client.run(lambda: __import__("torch").get_num_threads()).values()) == {1}

    # Each file exactly once, in every collection.
    stored = [t.id for t in remote.iter_tracks()]
    assert sorted(stored) == sorted(ids)
    assert remote.count() == len(ids) and remote.text.count() == len(ids) and remote.count_audio() == len(ids)

    # The same catalog as local ingestion (in this process) of the same files.
    summary = ingest_folder(settings, clip_library, workers=1, progress=False)
    assert summary.added == len(files) and not summary.failed
    local = CatalogStore.open(settings)
    here = {t.id: t for t in local.iter_tracks()}
    there = {t.id: t for t in remote.iter_tracks()}
    assert set(here) == set(there) == ids
    local_sounds, remote_sounds = local.audio_embeddings(sorted(ids)), remote.audio_embeddings(sorted(ids))
    for track_id, mine in here.items():
        theirs = there[track_id]
        for name in ("path", "title", "artist", "album", "year", "source", "key", "mode", "genre_tag", "text"):
            assert getattr(theirs, name) == getattr(mine, name), name
        assert theirs.tempo == pytest.approx(mine.tempo, rel=1e-6)
        assert theirs.duration == pytest.approx(mine.duration, rel=1e-6)
        assert theirs.emotion.probs == pytest.approx(mine.emotion.probs, abs=1e-4)
        assert theirs.style.probs == pytest.approx(mine.style.probs, abs=1e-4)
        assert set(theirs.tags) == set(mine.tags) and len(mine.tags) == 100
        assert max(abs(theirs.tags[k] - mine.tags[k]) for k in mine.tags) <= 2e-4  # stored at 4 decimals
        assert theirs.extra["models"] == mine.extra["models"]
        assert theirs.extra["audio_features"]["gtzan"] == pytest.approx(mine.extra["audio_features"]["gtzan"], rel=1e-4)
        assert np.allclose(remote_sounds[track_id], local_sounds[track_id], atol=1e-4)

    # A re-run over the cluster finds everything stored and analyses nothing.
    again = _ingest_on_cluster(home, clip_library, address, chroma)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0 and f"0 added, 0 updated, {len(files)} unchanged" in out, out + err[-2000:]


def test_an_unreachable_scheduler_is_a_cluster_error_with_the_commands_to_start_one():
    from bench.servers import free_port
    from moodtune.cluster import connect

    with pytest.raises(ClusterError) as caught:
        connect(f"tcp://127.0.0.1:{free_port()}", timeout=2)
    assert "dask scheduler" in caught.value.hint and "dask worker" in caught.value.hint


def test_a_worker_with_other_models_reports_the_file_failed_rather_than_store_it(settings, clip_library):
    path = sorted(clip_library.rglob("*.flac"))[0]
    theirs = {**analysis_versions(settings), "tagger": "0-older"}
    name, analysed = _analyse_sent(str(path), path.read_bytes(), theirs)
    assert name == str(path) and "other models" in analysed["error"] and "0-older" in analysed["error"]
