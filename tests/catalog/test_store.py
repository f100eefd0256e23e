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


def test_tags_and_extra_round_trip_through_the_store_and_json(settings, track_factory):
    from moodtune.serialize import track_from_dict, track_to_dict

    tags = {"msd:rock": 0.4123, "msd:funk": 0.61, "mtt:fast": 0.2}
    track = track_factory("a", mood="happy", genre="pop").with_(tags=tags, extra={"genre_terms": {"funk": 0.61}})
    store = CatalogStore.open(settings)
    store.upsert([track])
    back = store.get_one("a")
    assert back.tags == tags and back.genre_terms == {"funk": 0.61}
    again = track_from_dict(track_to_dict(back))
    assert (again.tags, again.genre_terms) == (tags, {"funk": 0.61})


def _tagged(track_factory, clips, names):
    from tools.tagger import MusicTagger

    tagger = MusicTagger.load("msd")
    tracks, embeddings = [], {}
    for name in names:
        tracks.append(track_factory(name, mood="calm", genre="jazz", artist=name))
        embeddings[name] = tagger.tag_file(clips[name]).embedding
    return tracks, embeddings


def test_the_audio_collection_finds_a_clip_itself_then_what_sounds_like_it(settings, track_factory, sound_clips):
    names = ["metal_a", "metal_b", "jazz_a", "jazz_b", "classical_a"]
    tracks, embeddings = _tagged(track_factory, sound_clips, names)
    store = CatalogStore.open(settings)
    store.upsert(tracks, audio_embeddings=embeddings)
    assert store.count_audio() == 5
    for seed, alike, unlike in (("metal_a", "metal_b", "jazz_a"), ("jazz_a", "jazz_b", "metal_a")):
        found = store.query_audio(embeddings[seed].tolist(), n=5, where=None)
        assert found[0] == seed, "a clip's own embedding finds the clip first"
        assert found.index(alike) < found.index(unlike)
    # Filters hold in the audio search too.
    found = store.query_audio(embeddings["metal_a"].tolist(), n=5, where=SearchFilters(exclude_artists=("metal_b",)).where())
    assert "metal_b" not in found and found[0] == "metal_a"
    stored = store.audio_embeddings(["metal_a", "nope"])
    assert list(stored) == ["metal_a"] and stored["metal_a"] == pytest.approx(embeddings["metal_a"], abs=1e-6)


def test_writing_a_track_again_without_its_sound_keeps_its_sound(settings, track_factory, sound_clips):
    tracks, embeddings = _tagged(track_factory, sound_clips, ["metal_a", "jazz_a"])
    store = CatalogStore.open(settings)
    store.upsert(tracks, audio_embeddings=embeddings)
    # A retag and a path update, as ingest writes them.
    store.upsert([tracks[0].with_(title="Renamed", artist="New Artist", path="/music/moved.flac")])
    assert store.count_audio() == 2
    assert store.audio_embeddings(["metal_a"])["metal_a"] == pytest.approx(embeddings["metal_a"], abs=1e-6)
    renamed = store.audio.get(ids=["metal_a"], include=["metadatas"])["metadatas"][0]
    assert renamed["artist_lc"] == "new artist", "the audio collection's filter fields follow the track"
    again = store.get_one("metal_a")
    assert (again.title, again.path) == ("Renamed", "/music/moved.flac")
    store.delete(["metal_a"])
    assert store.count_audio() == 1 and store.audio_embeddings(["metal_a"]) == {}


@pytest.mark.parametrize("filters", [
    SearchFilters(
        exclude_artists=("a",), artists=("b",), exclude_genres=("jazz", "funk"), tempo_range=(60.0, 90.0),
        duration_range=(30.0, 300.0), instrumental_only=True, source="user",
    ),
])
def test_the_lean_collections_carry_every_field_a_filter_reads(settings, track_factory, filters):
    from catalog.store import FILTER_KEYS

    def keys(where: dict) -> set[str]:
        out = set()
        for key, value in where.items():
            out |= set().union(*(keys(c) for c in value)) if key in ("$and", "$or") else {key}
        return out

    assert keys(filters.where()) <= set(FILTER_KEYS)
    store = CatalogStore.open(settings)
    track = track_factory("t", mood="calm", genre="jazz", artist="Someone")
    store.upsert([track])
    lean = store.affect.get(ids=["t"], include=["metadatas"])["metadatas"][0]
    assert set(lean) == set(FILTER_KEYS), "the affect collection holds the filter fields only"
    again = store.get_one("t")
    assert again.with_(emotion=track.emotion, style=track.style) == track, "the whole record comes back from the text collection"
    assert again.emotion.probs == pytest.approx(track.emotion.probs) and again.style.probs == pytest.approx(track.style.probs)


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


def test_artist_names_are_the_distinct_artists_as_first_spelt(settings, track_factory):
    store = CatalogStore.open(settings)
    assert store.artist_names() == []
    artists = ["Zayn Malik", "zayn malik", "Alessia Cara", "  ", "Bon Jovi", "Alessia Cara"]
    store.upsert([track_factory(f"a{i}", mood="happy", genre="pop", artist=a) for i, a in enumerate(artists)])
    assert store.artist_names(batch_size=2) == ["Alessia Cara", "Bon Jovi", "Zayn Malik"]
