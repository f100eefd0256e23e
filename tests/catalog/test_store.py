"""The real Chroma store in a temp dir (embedded) and against a real `chroma run` server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from catalog.store import CatalogStore, affect_embedding
from moodtune.errors import CatalogError, NotFoundError
from moodtune.types import EmotionVector, StyleVector
from tools.search import SearchFilters


def test_upsert_get_count_delete_round_trip(settings, track_factory):
    store = CatalogStore.open(settings)
    tracks = [
        track_factory("a", mood="calm", genre="jazz"),
        track_factory("b", mood="angry", genre="metal", source="demo-synthetic"),
    ]
    store.upsert(tracks)
    assert store.count() == 2 and store.count(source="demo-synthetic") == 1
    back = store.get_one("a")
    assert back.title == tracks[0].title and back.emotion.probs == pytest.approx(tracks[0].emotion.probs)
    assert back.style.top == "jazz"
    assert store.existing_ids(["a", "zzz"]) == {"a"}
    store.upsert([tracks[0].with_(title="Renamed")])
    assert store.count() == 2 and store.get_one("a").title == "Renamed"
    store.delete(["a"])
    with pytest.raises(NotFoundError):
        store.get_one("a")


def test_store_persists_across_opens(settings, track_factory):
    CatalogStore.open(settings).upsert([track_factory("x", mood="sad", genre="blues")])
    version = CatalogStore.open(settings).version()
    assert CatalogStore.open(settings).count() == 1 and version.startswith("1-")


def test_iter_tracks_pages_through_everything(settings, track_factory):
    store = CatalogStore.open(settings)
    store.upsert([track_factory(f"t{i}", mood="happy", genre="pop") for i in range(7)])
    assert sorted(t.id for t in store.iter_tracks(batch_size=3)) == [f"t{i}" for i in range(7)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    chroma = shutil.which("chroma") or str(__import__("pathlib").Path(__import__("sys").executable).with_name("chroma"))
    port = _free_port()
    process = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**__import__("os").environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None:
                pytest.skip("`chroma run` could not start on this machine")
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=20)


def test_server_mode_through_http_client(settings, chroma_server, track_factory):
    from dataclasses import replace

    remote = replace(settings, chroma_url=chroma_server)
    store = CatalogStore.open(remote)
    store.upsert([track_factory("s1", mood="romantic", genre="pop")])
    assert CatalogStore.open(remote).get_one("s1").emotion.top == "romantic"
    assert not settings.chroma_dir.joinpath("chroma.sqlite3").exists(), "server mode must not write the embedded store"


def test_unreachable_server_is_a_clear_error(settings):
    from dataclasses import replace

    with pytest.raises(CatalogError, match="cannot reach"):
        CatalogStore.open(replace(settings, chroma_url=f"http://127.0.0.1:{_free_port()}"))


@pytest.mark.parametrize("filters", [
    SearchFilters(exclude_genres=("jazz",)),
    SearchFilters(exclude_artists=("Artist 3",), tempo_range=(90.0, 130.0)),
    SearchFilters(artists=("artist 1", "Artist 2")),
    SearchFilters(exclude_genres=("metal", "gospel"), source="user"),
])
def test_post_filtering_agrees_with_chromas_filtered_search(settings, track_factory, filters):
    from catalog.store import matches_where

    moods_genres = [("calm", "jazz"), ("sad", "blues"), ("angry", "metal"), ("happy", "pop")]
    store = CatalogStore.open(settings)
    store.upsert([
        track_factory(f"t{i}", mood=m, genre=g, artist=f"Artist {i % 5}", tempo=70.0 + 7 * i)
        for i, (m, g) in enumerate(moods_genres * 6)
    ])
    where = filters.where()
    query = affect_embedding(EmotionVector.one_hot("calm"), StyleVector.uniform())
    chroma = store.affect.query(query_embeddings=[query], n_results=24, where=where, include=["metadatas"])
    expected = set(chroma["ids"][0])
    assert all(matches_where(meta, where) for meta in chroma["metadatas"][0])
    assert set(store.query_affect(query, n=24, where=where)) == expected
    assert len(store.query_affect(query, n=3, where=where)) == min(3, len(expected))
