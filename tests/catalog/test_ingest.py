"""Ingesting a folder of real rendered clips into a real temporary Chroma store."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from catalog import ingest
from catalog.demo import plan_clips, render_plan
from catalog.ingest import analysis_versions, ingest_folder, mood_words
from catalog.store import CatalogStore
from moodtune.types import EmotionVector, StyleVector
from tools.audio_features import AudioFeatures
from tools.fusion import fuse_emotion
from tools.tagger import MusicTagger


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("library")
    plans = plan_clips()
    for plan in (plans[0], plans[60], plans[200]):
        render_plan(plan, folder / "albums", seconds=8.0)
    (folder / "albums" / "broken.mp3").write_bytes(b"ID3\x03\x00\x00\x00" + b"\x00" * 50)
    (folder / "albums" / "cover.bmp").write_bytes(b"BM")
    first = next((folder / "albums").glob("*.flac"))
    first.with_suffix(".lrc").write_text("[00:01.00]tears fall like rain tonight\n[00:05.00]I miss you so\n")
    return folder


@pytest.mark.parametrize("workers", [1, 2])
def test_ingest_then_reingest_is_a_no_op(settings, library, workers):
    summary = ingest_folder(settings, library, workers=workers, progress=False)
    assert summary.added == 3
    assert list(summary.failed) == [str(library / "albums" / "broken.mp3")]
    assert "not an audio format" in summary.skipped[str(library / "albums" / "cover.bmp")]
    store = CatalogStore.open(settings)
    tracks = list(store.iter_tracks())
    assert len(tracks) == 3
    for track in tracks:
        assert sum(track.emotion.probs) == pytest.approx(1.0) and sum(track.style.probs) == pytest.approx(1.0)
        assert track.title and track.artist.endswith("(synthetic demo)") and track.tempo > 0 and track.key
        assert "audio_emotion" in track.extra and "provenance" in track.extra
    with_lyrics = [t for t in tracks if not t.instrumental]
    assert len(with_lyrics) == 1 and "tears fall" in with_lyrics[0].text
    assert with_lyrics[0].extra["fusion_text_weight"] == settings.fusion_text_weight_with_lyrics
    # The tagger's reading: both models' 50 tags, the sound embedding, the fused style's evidence.
    msd = MusicTagger.load("msd")
    sounds = store.audio_embeddings([t.id for t in tracks])
    assert store.count_audio() == 3 and set(sounds) == {t.id for t in tracks}
    for track in tracks:
        assert len(track.tags) == 100 and {k.split(":")[0] for k in track.tags} == {"msd", "mtt"}
        assert sounds[track.id].shape == (200,)
        assert sum(track.extra["style_weights"].values()) == pytest.approx(1.0, abs=1e-3)
        assert track.extra["style_weights"]["file_tag"] == 0.0, "the rendered clips have no genre tag"
        assert set(track.extra["svm_style"]) == set(track.style.as_dict()) and track.extra["genre_terms"]
        assert AudioFeatures.from_dict(track.extra["audio_features"]).tempo == pytest.approx(track.tempo)
    first = tracks[0]
    alone = msd.tag_file(first.path)  # what the tagger reads from the file by itself
    assert max(abs(first.tags[f"msd:{tag}"] - p) for tag, p in alone.tags.items()) < 1e-4
    assert sounds[first.id] == pytest.approx(alone.embedding, abs=1e-5)
    again = ingest_folder(settings, library, workers=workers, progress=False)
    assert (again.added, again.unchanged) == (0, 3) and store.count() == 3 and store.count_audio() == 3


def test_renamed_file_updates_path_without_duplicating(settings, library, tmp_path):
    copy = tmp_path / "lib"
    shutil.copytree(library, copy)
    ingest_folder(settings, copy, workers=1, progress=False)
    original = next((copy / "albums").glob("*.flac"))
    renamed = original.with_name("renamed.flac")
    original.rename(renamed)
    summary = ingest_folder(settings, copy, workers=1, progress=False)
    store = CatalogStore.open(settings)
    assert summary.updated == 1 and store.count() == 3
    assert any(t.path == str(renamed.resolve()) for t in store.iter_tracks())


def test_tracks_from_an_older_style_model_are_analysed_again(settings, library):
    ingest_folder(settings, library, workers=1, progress=False)
    store = CatalogStore.open(settings)
    track = next(store.iter_tracks())
    old_models = {**track.extra["models"], "style": "0.9.0"}
    store.upsert([track.with_(extra={**track.extra, "models": old_models})])
    summary = ingest_folder(settings, library, workers=1, progress=False)
    assert (summary.added, summary.updated, summary.unchanged) == (0, 1, 2)
    assert store.get_one(track.id).extra["models"] == analysis_versions(settings)


def _no_decoding(monkeypatch, library) -> list[str]:
    decoded: list[str] = []

    def record_decoding(path_str):
        decoded.append(path_str)
        return path_str, {"error": "not decoded in this test"}

    monkeypatch.setattr(ingest, "_analyse", record_decoding)
    return decoded


@pytest.mark.parametrize("change", ["audio_reading", "style"])
def test_a_new_audio_reader_rereads_the_stored_features_and_tags_without_decoding(settings, library, monkeypatch, change):
    ingest_folder(settings, library, workers=1, progress=False)
    store = CatalogStore.open(settings)
    track = next(store.iter_tracks())
    sound = store.audio_embeddings([track.id])[track.id]
    stale = {**track.extra["models"], change: "0.9.0"}
    store.upsert([track.with_(style=StyleVector.uniform(), extra={**track.extra, "models": stale})])
    decoded = _no_decoding(monkeypatch, library)
    summary = ingest_folder(settings, library, workers=1, progress=False)
    assert decoded == [str(library / "albums" / "broken.mp3")]
    assert (summary.added, summary.updated, summary.unchanged) == (0, 1, 2)
    refreshed = store.get_one(track.id)
    assert refreshed.style.probs == pytest.approx(track.style.probs, abs=1e-6), "read again from the stored values"
    assert refreshed.extra["models"] == analysis_versions(settings) and refreshed.tags == track.tags
    assert store.audio_embeddings([track.id])[track.id] == pytest.approx(sound)


def test_tracks_analysed_before_the_tagger_are_decoded_again(settings, library, monkeypatch):
    ingest_folder(settings, library, workers=1, progress=False)
    store = CatalogStore.open(settings)
    track = next(store.iter_tracks())
    old_models = {k: v for k, v in track.extra["models"].items() if k not in ("audio", "tagger", "audio_reading")}
    old_extra = {k: v for k, v in track.extra.items() if k not in ("audio_features", "genre_terms", "style_weights")}
    store.delete([track.id])
    store.upsert([track.with_(tags={}, extra={**old_extra, "models": old_models})])  # as the old recipe left it
    assert store.count_audio() == 2
    summary = ingest_folder(settings, library, workers=1, progress=False)
    assert (summary.added, summary.updated, summary.unchanged) == (0, 1, 2)
    again = store.get_one(track.id)
    assert again.tags == track.tags and again.extra["genre_terms"] == track.extra["genre_terms"]
    assert store.count_audio() == 3


def test_a_files_genre_tag_takes_its_share_of_the_style(settings, library, tmp_path):
    from catalog.render import write_tags

    folder = tmp_path / "tagged"
    folder.mkdir()
    clip = shutil.copy(next((library / "albums").glob("*.flac")), folder / "tagged.flac")
    write_tags(clip, title="Tagged", artist="Someone", genre="Heavy Metal")
    ingest_folder(settings, folder, workers=1, progress=False)
    track = next(CatalogStore.open(settings).iter_tracks())
    weights = track.extra["style_weights"]
    assert track.genre_tag == "Heavy Metal" and weights["file_tag"] > 0
    assert track.style["metal"] >= weights["file_tag"]


@pytest.mark.parametrize("change", ["emotion model", "fusion weight", "text recipe"])
def test_a_new_text_reading_rereads_words_without_decoding_audio(settings, library, monkeypatch, change):
    ingest_folder(settings, library, workers=1, progress=False)
    store = CatalogStore.open(settings)
    track = next(t for t in store.iter_tracks() if t.instrumental)
    if change in ("emotion model", "text recipe"):
        key, old = ("emotion", "0.9.0") if change == "emotion model" else ("text", "1")
        stored = {**track.extra["models"], key: old}
        old_text = f"{track.title}. classical"
        store.upsert([track.with_(emotion=EmotionVector.uniform(), text=old_text, extra={**track.extra, "models": stored})])
    else:
        settings = dataclasses.replace(settings, fusion_text_weight=0.2)

    decoded = []

    def record_decoding(path_str):
        decoded.append(path_str)
        return path_str, {"error": "not decoded in this test"}

    monkeypatch.setattr(ingest, "_analyse", record_decoding)
    summary = ingest_folder(settings, library, workers=1, progress=False)
    assert decoded == [str(library / "albums" / "broken.mp3")]  # failed files are always tried again
    assert summary.updated == (3 if change == "fusion weight" else 1) and summary.added == 0
    refreshed = store.get_one(track.id)
    assert refreshed.text == mood_words(track.title) != track.title, "the title is read without its number"
    assert refreshed.extra["models"] == analysis_versions(settings)
    assert refreshed.extra["fusion_text_weight"] == settings.fusion_text_weight
    expected, _ = fuse_emotion(
        text=EmotionVector.from_mapping(refreshed.extra["text_emotion"]),
        audio=EmotionVector.from_mapping(track.extra["audio_emotion"]),
        text_weight=settings.fusion_text_weight,
    )
    assert refreshed.emotion.probs == pytest.approx(expected.probs, abs=1e-6)
    assert refreshed.extra["audio_emotion"] == track.extra["audio_emotion"] and refreshed.tempo == track.tempo


@pytest.mark.parametrize(
    ("title", "words"),
    [
        ("Quiet Window (after bach bwv313)", "Quiet Window"),
        ("Rush Avenue No. 21", "Rush Avenue"),
        ("Yesterday - Remastered 2009", "Yesterday"),
        ("Everybody Hurts [Live]", "Everybody Hurts"),
        ("Piano Sonata No. 14 in C-sharp minor, Op. 27 No. 2", "Piano Sonata in C-sharp minor"),
        ("Brandenburg Concerto BWV 1048", "Brandenburg Concerto"),
        ("Fast Car - Single Version", "Fast Car"),
        ("Tears on My Pillow", "Tears on My Pillow"),
        ("Love - Hate", "Love - Hate"),  # a dash alone is part of the title
        ("(Untitled)", "(Untitled)"),  # nothing left: the title stands
    ],
)
def test_mood_words_drop_notes_and_numbers_only(title, words):
    assert mood_words(title) == words
