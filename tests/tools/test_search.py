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
