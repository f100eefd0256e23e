"""The demo's shipped analysis: written where the audio is rendered or copied, nothing analysed twice.

Real rendering, real analysis (tagger, SVM, emotion classifier), a real Chroma store, on a few clips.
"""

from __future__ import annotations

import shutil

import pytest

from catalog import demo_pack
from catalog.demo import DEMO_LICENCE, DEMO_SOURCE, iter_rendered, plan_clips
from catalog.ingest import analysis_versions, ingest_folder
from catalog.render import read_tags
from catalog.store import CatalogStore
from moodtune.config import Settings


def test_the_generated_tracks_are_copied_with_their_source_and_licence(settings):
    clips = demo_pack.copy_generated(settings, say=lambda _: None)
    assert len(clips) == 28 and {c.mood for c in clips} == {"calm", "energetic", "happy", "nostalgic", "romantic"}
    copied = sorted(settings.generated_demo_dir.glob("*/*.opus"))
    assert len(copied) == 28
    tags = read_tags(settings.generated_demo_dir / "tender" / "tender_acoustic_s411.opus")
    assert tags["title"] == "Tender Acoustic (seed 411)" and "generated" in tags["artist"]
    assert tags["comment"].startswith("Synthetic") and "MIT" in tags["copyright"] and tags["genre"] == "acoustic"
    truth = (settings.generated_demo_dir / demo_pack.GENERATED_TRUTH_FILE).read_text()
    assert truth.count('"mood"') == 28 and '"romantic"' in truth
    assert demo_pack.copy_generated(settings, say=lambda _: None) == clips, "a second run copies nothing new"


@pytest.fixture(scope="module")
def analysed_home(tmp_path_factory):
    """A home with two rendered clips and two generated tracks, analysed the slow way, and its pack."""
    home = tmp_path_factory.mktemp("analysed")
    settings = Settings.load(home=home).ensure_dirs()
    store = CatalogStore.open(settings)
    settings.demo_dir.mkdir(parents=True)
    list(iter_rendered(plan_clips()[:2], settings.demo_dir, seconds=12.0, workers=1))
    demo_pack.copy_generated(settings, say=lambda _: None)
    for extra in sorted(settings.generated_demo_dir.glob("*/*.opus"))[2:]:
        extra.unlink()  # two generated tracks are enough
    ingest_folder(settings, settings.demo_dir, workers=1, source=DEMO_SOURCE, licence=DEMO_LICENCE, store=store, progress=False)
    ingest_folder(settings, settings.generated_demo_dir, workers=1, source=demo_pack.GENERATED_SOURCE,
                  licence=demo_pack.GENERATED_LICENCE, store=store, progress=False)
    pack_path = home / "pack.json.gz"
    header = demo_pack.export_pack(settings, pack_path, store=store)
    return settings, store, pack_path, header


def test_a_fresh_home_gets_the_shipped_analysis_and_analyses_nothing(analysed_home, tmp_path):
    settings, store, pack_path, header = analysed_home
    assert header["tracks"] == 4 and header["models"] == analysis_versions(settings)
    fresh = Settings.load(home=tmp_path / "fresh").ensure_dirs()
    shutil.copytree(settings.demo_dir, fresh.demo_dir)
    shutil.copytree(settings.generated_demo_dir, fresh.generated_demo_dir)
    target = CatalogStore.open(fresh)
    pack = demo_pack.load_pack(pack_path)
    assert demo_pack.install_pack(fresh, store=target, pack=pack, say=lambda _: None) == 4
    for track in store.iter_tracks():
        copy = target.get_one(track.id)
        assert copy.path.startswith(str(fresh.home)) and copy.source == track.source and copy.licence == track.licence
        assert copy.emotion.top == track.emotion.top and copy.tags == track.tags
        assert copy.emotion.similarity(track.emotion) == pytest.approx(1.0, abs=1e-6)
    assert target.count_audio() == 4, "the sound embeddings come with the pack"
    summary = ingest_folder(fresh, fresh.demo_dir, workers=1, source=DEMO_SOURCE, store=target, progress=False)
    assert (summary.added, summary.updated, summary.unchanged) == (0, 0, 2), "nothing analysed twice"
    assert demo_pack.install_pack(fresh, store=target, pack=pack, say=lambda _: None) == 0


def test_a_pack_of_older_models_is_brought_up_to_date_by_the_ingest(analysed_home, tmp_path):
    """A pack read by older models is still written, and the ingest re-reads what changed (not the audio)."""
    import gzip
    import json

    settings, _, pack_path, _ = analysed_home
    pack = demo_pack.load_pack(pack_path)
    for entry in pack["entries"]:
        entry["track"]["extra"]["models"] = {**entry["track"]["extra"]["models"], "text": "0"}
    fresh = Settings.load(home=tmp_path / "stale").ensure_dirs()
    shutil.copytree(settings.demo_dir, fresh.demo_dir)
    target = CatalogStore.open(fresh)
    demo_pack.install_pack(fresh, store=target, pack=pack, say=lambda _: None)
    summary = ingest_folder(fresh, fresh.demo_dir, workers=1, source=DEMO_SOURCE, store=target, progress=False)
    assert (summary.added, summary.updated) == (0, 2)
    assert all(t.extra["models"] == analysis_versions(fresh) for t in target.iter_tracks())
    # A pack of another format is not read (setup then analyses everything).
    other = tmp_path / "other.json.gz"
    with gzip.open(other, "wt") as out:
        json.dump({"format": 0, "entries": []}, out)
    assert demo_pack.load_pack(other) is None


def test_a_damaged_pack_is_a_clear_error(tmp_path):
    from moodtune.errors import MoodtuneError

    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(MoodtuneError, match="damaged") as caught:
        demo_pack.load_pack(bad)
    assert "git checkout" in caught.value.hint


def test_the_shipped_pack_covers_the_whole_demo():
    pack = demo_pack.load_pack()
    assert pack is not None, "catalog/pack/demo_analysis.json.gz is missing: python -m catalog.demo_pack build"
    files = {(e["group"], e["file"]) for e in pack["entries"]}
    assert {("rendered", f"{p.name}.flac") for p in plan_clips()} <= files
    assert {("generated", c.name) for c in demo_pack.generated_clips()} <= files
    assert all(e["audio_embedding"] and len(e["text_embedding"]) > 100 for e in pack["entries"])


def test_the_shipped_pack_is_read_by_todays_models(tmp_path):
    """A model bump without `python -m catalog.demo_pack build` makes every first run analyse all 328 clips (~3-14 min)."""
    pack = demo_pack.load_pack()
    assert pack is not None and pack["tracks"] == 328
    assert pack["models"] == analysis_versions(Settings.load(home=tmp_path)), "rebuild: python -m catalog.demo_pack build"
