"""The search tool on a real Chroma store: ordering by affect, text, filters and exclusions."""

from __future__ import annotations

import pytest

from catalog.store import CatalogStore
from moodtune.types import EmotionVector, StyleVector
from tools.search import SearchFilters, search_catalog


@pytest.fixture
def store(settings, track_factory):
    store = CatalogStore.open(settings)
    store.upsert(
        [
            track_factory(
                "calm-jazz", mood="calm", genre="jazz", artist="Quiet Trio", tempo=80, text="late night quiet jazz"
            ),
            track_factory(
                "calm-classical",
                mood="calm",
                genre="classical",
                artist="String Four",
                tempo=70,
                text="gentle string quartet",
            ),
            track_factory(
                "angry-metal", mood="angry", genre="metal", artist="Iron Noise", tempo=170, text="furious riffs"
            ),
            track_factory(
                "happy-pop", mood="happy", genre="pop", artist="Sunny Days", tempo=120, text="summer party anthem"
            ),
            track_factory(
                "happy-pop-2",
                mood="happy",
                genre="pop",
                artist="Sunny Days",
                tempo=118,
                duration=200,
                text="dance all night",
            ),
            track_factory(
                "sad-blues",
                mood="sad",
                genre="blues",
                artist="Delta Joe",
                tempo=75,
                genre_tag="Jazz",
                text="lonely road blues",
            ),
        ]
    )
    return store


def test_results_are_ordered_by_emotion_match(store):
    results = search_catalog(EmotionVector.one_hot("calm"), k=6, store=store)
    assert {r.track.id for r in results[:2]} == {"calm-jazz", "calm-classical"}
    assert [r.total for r in results] == sorted((r.total for r in results), reverse=True)
    assert all(set(r.parts) == {"emotion_match"} for r in results)


def test_style_target_adds_style_part_and_breaks_ties(store):
    results = search_catalog(EmotionVector.one_hot("calm"), StyleVector.one_hot("classical"), k=3, store=store)
    assert results[0].track.id == "calm-classical"
    assert "style_match" in results[0].parts


def test_text_part_finds_words(store):
    results = search_catalog(EmotionVector.uniform(), text="summer party", k=6, store=store)
    assert results[0].track.id == "happy-pop" and results[0].parts["text_match"] > 0.5


@pytest.mark.parametrize(
    ("filters", "absent"),
    [
        (SearchFilters(exclude_genres=("jazz",)), {"calm-jazz", "sad-blues"}),  # the blues track is tagged Jazz
        (SearchFilters(exclude_artists=("sunny days",)), {"happy-pop", "happy-pop-2"}),
        (SearchFilters(tempo_range=(60, 100)), {"angry-metal", "happy-pop", "happy-pop-2"}),
        (SearchFilters(duration_range=(0, 60)), {"happy-pop-2"}),
        (
            SearchFilters(artists=("Iron Noise",)),
            {"calm-jazz", "calm-classical", "happy-pop", "happy-pop-2", "sad-blues"},
        ),
    ],
)
def test_filters_and_exclusions_hold(store, filters, absent):
    results = search_catalog(EmotionVector.uniform(), text="music", filters=filters, k=10, store=store)
    ids = {r.track.id for r in results}
    assert ids and not (ids & absent)
    assert all(filters.admits(r.track) for r in results)


def test_empty_catalog_returns_nothing(settings):
    assert search_catalog(EmotionVector.uniform(), text="anything", store=CatalogStore.open(settings)) == []


# ---- genre words beyond the ten --------------------------------------------------------------
@pytest.fixture
def genre_store(settings, track_factory):
    """Happy pop-leaning tracks alike in mood and style; they differ in their genre words only."""
    tracks = [
        track_factory("tagged-funk", mood="happy", genre="disco", artist="A", genre_tag="Funk / Soul", text="groove"),
        track_factory("heard-funk", mood="happy", genre="disco", artist="B", text="groove").with_(
            extra={"genre_terms": {"disco": 0.4, "funk": 0.52, "electronic": 0.1}}
        ),
        track_factory("heard-electronic", mood="happy", genre="disco", artist="C", text="groove").with_(
            extra={"genre_terms": {"electronic": 0.7, "funk": 0.05}}
        ),
        track_factory("kpop", mood="happy", genre="pop", artist="D", genre_tag="K-Pop", text="groove"),
        *(track_factory(f"plain-{i}", mood="happy", genre="disco", artist=f"P{i}", text="groove") for i in range(4)),
    ]
    store = CatalogStore.open(settings)
    store.upsert(tracks)
    return store


def _ranked(store, terms, *, text=None):
    from agent.rank import rank
    from moodtune.config import RankWeights

    query = text if text is not None else " ".join(terms)
    candidates = search_catalog(EmotionVector.one_hot("happy"), text=query, genre_terms=terms, k=20, store=store)
    return rank(candidates, filters=SearchFilters(), weights=RankWeights(), k=10)


def test_a_track_tagged_funk_is_found_first_for_funk(genre_store):
    ranked = _ranked(genre_store, ("funk",))
    assert [r.track.id for r in ranked[:2]] == ["tagged-funk", "heard-funk"]
    assert ranked[0].parts["genre_term_match"] == 1.0, "the file's own tag names it"
    assert ranked[1].parts["genre_term_match"] == pytest.approx(0.52), "the audio tags' strength"
    assert all(r.parts["genre_term_match"] <= 0.05 for r in ranked[2:])


@pytest.mark.parametrize(("terms", "first"), [(("EDM",), "heard-electronic"), (("k-pop",), "kpop"), (("Soul",), "tagged-funk")])
def test_other_spellings_and_genres_outside_the_ten_match(genre_store, terms, first):
    ranked = _ranked(genre_store, terms)
    assert ranked[0].track.id == first and ranked[0].parts["genre_term_match"] >= 0.7


def test_genres_among_the_ten_stay_with_the_style_target(genre_store):
    results = search_catalog(EmotionVector.one_hot("happy"), genre_terms=("disco", "pop"), k=5, store=genre_store)
    assert results and all("genre_term_match" not in r.parts for r in results)


def test_a_tracks_genre_words_are_in_its_text_so_recall_finds_it(settings, track_factory):
    from catalog.store import embedding_text
    from tools.encoder import embed_texts

    heard = track_factory("heard-funk", mood="sad", genre="blues", title="Night Bus", text="late night").with_(
        extra={"genre_terms": {"funk": 0.52, "soul": 0.3, "electronic": 0.1}}
    )
    assert "funk, soul" in embedding_text(heard) and "electronic" not in embedding_text(heard)
    plain = track_factory("plain", mood="sad", genre="blues", title="Night Bus", text="late night")
    others = [track_factory(f"happy-{i}", mood="happy", genre="pop", artist=f"H{i}", text="sunny day") for i in range(6)]
    store = CatalogStore.open(settings)
    store.upsert([heard, plain, *others])
    # The same title and words without the genre words: only the stored terms tell them apart.
    assert store.query_text(embed_texts(["funk"])[0].tolist(), n=1, where=None) == ["heard-funk"]


# ---- sounds like ------------------------------------------------------------------------------
@pytest.fixture
def sound_store(settings, track_factory):
    """Tracks with made-up sound embeddings: a, then b (near a), c (farther), d (opposite)."""
    import numpy as np

    rng = np.random.default_rng(0)
    base = rng.standard_normal(200)
    other = rng.standard_normal(200)
    vectors = {"a": base, "b": base + 0.3 * other, "c": base + 1.5 * other, "d": -base}
    store = CatalogStore.open(settings)
    tracks = [track_factory(i, mood="calm", genre="jazz", artist=f"Artist {i}") for i in vectors]
    store.upsert([*tracks, track_factory("silent", mood="calm", genre="jazz")], audio_embeddings=vectors)
    return store, vectors


def test_similar_tracks_are_ordered_by_sound_and_leave_the_seed_out(sound_store):
    from tools.search import similar_tracks

    store, vectors = sound_store
    found = similar_tracks("a", k=5, store=store)
    assert [s.track.id for s in found] == ["b", "c", "d"], "the seed is left out; 'silent' has no sound embedding"
    assert found[0].parts["sounds_like"] > found[1].parts["sounds_like"] > 0 == found[2].parts["sounds_like"]
    by_vector = similar_tracks(vectors["a"], k=2, store=store)
    assert [s.track.id for s in by_vector] == ["a", "b"] and by_vector[0].total == pytest.approx(1.0, abs=1e-5)
    assert [s.track.id for s in similar_tracks("a", k=5, filters=SearchFilters(exclude_artists=("Artist b",)), store=store)] == ["c", "d"]
    assert similar_tracks("silent", store=store) == [] and similar_tracks("unknown", store=store) == []


def test_search_with_a_seed_adds_sounds_like_to_every_candidate(sound_store):
    store, _ = sound_store
    results = search_catalog(EmotionVector.one_hot("calm"), like="a", k=10, store=store)
    parts = {r.track.id: r.parts["sounds_like"] for r in results}
    assert "a" not in parts and parts["silent"] == 0.0
    assert parts["b"] > parts["c"] > parts["d"] == 0.0
