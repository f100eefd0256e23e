"""The demo catalog: plans cover the genres, a small real build renders, ingests and records truth."""

from __future__ import annotations

from collections import Counter

import pytest

from catalog.demo import build_demo_catalog, load_demo_truth, plan_clips
from catalog.store import CatalogStore
from moodtune.types import GENRES, MOOD_NAMES


def test_plans_are_unique_and_spread_over_genres_and_moods():
    plans = plan_clips()
    assert len(plans) == 300 and len({p.name for p in plans}) == 300
    by_genre = Counter(p.genre for p in plans)
    assert set(by_genre) <= set(GENRES) and min(by_genre.values()) >= 20
    assert {p.mood for p in plans} <= set(MOOD_NAMES) and len({p.mood for p in plans}) >= 6
    assert plan_clips() == plans, "plans are deterministic"


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    from moodtune.config import Settings

    settings = Settings.load(home=tmp_path_factory.mktemp("demo-home")).ensure_dirs()
    summary = build_demo_catalog(settings, limit=6, workers=2, seconds=8.0, progress=False)
    return settings, summary


def test_small_build_ingests_every_clip_with_truth(small_demo):
    settings, summary = small_demo
    assert summary.rendered == 6
    truth = load_demo_truth(settings)
    store = CatalogStore.open(settings)
    assert len(truth) == 6 == store.count(source="demo-synthetic")
    tracks = store.get(list(truth))
    assert {t.source for t in tracks} == {"demo-synthetic"}
    assert len({truth[t.id]["genre"] for t in tracks}) == 6, "the subset spreads over genres"
    for track in tracks:
        assert sum(track.emotion.probs) == pytest.approx(1.0, abs=1e-4)
        assert sum(track.style.probs) == pytest.approx(1.0, abs=1e-4)
        assert track.title == truth[track.id]["title"] and track.tempo > 0 and track.licence


def test_rebuild_renders_nothing_and_adds_nothing(small_demo):
    settings, _ = small_demo
    again = build_demo_catalog(settings, limit=6, workers=1, seconds=8.0, progress=False)
    assert again.rendered == 0
    assert CatalogStore.open(settings).count() == 6


def test_setup_brings_a_demo_from_an_older_text_recipe_up_to_date(small_demo, monkeypatch, capsys):
    from catalog.ingest import analysis_versions
    from moodtune import setup

    settings, _ = small_demo
    store = CatalogStore.open(settings)
    track = next(store.iter_tracks(source="demo-synthetic"))
    stale = {**track.extra["models"], "text": "1"}
    store.upsert([track.with_(text="stale words", extra={**track.extra, "models": stale})])
    # The LLM's assembly is tested on its own; this test is about the demo step.
    monkeypatch.setattr(setup, "assemble_llm", lambda settings, **_: settings.resolved_llm_path)
    setup.run_setup(settings)
    assert "demo catalog ready:" in capsys.readouterr().out
    refreshed = store.get_one(track.id)
    assert refreshed.extra["models"] == analysis_versions(settings) and refreshed.text != "stale words"
    # Setup now brings the whole demo (its analysis shipped in catalog/pack/), the stale clip among it.
    count = store.count(source="demo-synthetic")
    assert count >= 6
    setup.run_setup(settings)
    assert "demo catalog ready:" in capsys.readouterr().out and store.count(source="demo-synthetic") == count


def test_style_training_clips_are_never_demo_clips():
    from catalog.demo import style_training_plans

    demo = plan_clips()
    training = style_training_plans(per_genre=5)
    assert {p.genre for p in training} == set(GENRES)
    assert not {p.name for p in training} & {p.name for p in demo}
    assert not {p.seed for p in training if not p.corpus_path} & {p.seed for p in demo if not p.corpus_path}
    assert not {p.corpus_path for p in training if p.corpus_path} & {p.corpus_path for p in demo if p.corpus_path}
