"""The emotion tool on the real committed model: vocabulary, label map, checksums, inference."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from moodtune.artefacts import write_manifest
from moodtune.errors import InputError, ModelCorruptError, ModelMissingError
from moodtune.types import MOOD_NAMES, MOODS
from tools.emotion import classify_emotion
from tools.emotion_model import (
    ARTEFACT_DIR,
    GOEMOTIONS_TO_MOOD,
    GOEMOTIONS_UNMAPPED,
    HELDOUT_PATH,
    PROTOTYPES_PATH,
    EmotionModel,
    read_labelled_tsv,
)


def test_vocabulary_has_eight_moods_on_the_circumplex():
    assert len(MOOD_NAMES) == 8 and len(set(MOOD_NAMES)) == 8
    for valence, arousal in MOODS.values():
        assert -1 <= valence <= 1 and -1 <= arousal <= 1
    assert MOODS["happy"][0] > 0 > MOODS["sad"][0], "valence"
    assert MOODS["energetic"][1] > 0 > MOODS["calm"][1], "arousal"


def test_label_map_covers_goemotions_and_targets_our_moods():
    goemotions = set(GOEMOTIONS_TO_MOOD) | set(GOEMOTIONS_UNMAPPED)
    assert len(goemotions) == 28, "GoEmotions has 27 emotions plus neutral"
    assert not set(GOEMOTIONS_TO_MOOD) & set(GOEMOTIONS_UNMAPPED)
    assert set(GOEMOTIONS_TO_MOOD.values()) <= set(MOOD_NAMES)


def test_sentence_sets_cover_every_mood_and_are_disjoint():
    prototypes = read_labelled_tsv(PROTOTYPES_PATH)
    heldout = read_labelled_tsv(HELDOUT_PATH)
    assert {m for _, m in prototypes} == set(MOOD_NAMES) == {m for _, m in heldout}
    assert not {t.lower() for t, _ in prototypes} & {t.lower() for t, _ in heldout}


@pytest.mark.parametrize(("text", "mood"), [
    ("I just got dumped", "sad"),
    ("pump me up for the gym", "energetic"),
    ("something soothing to fall asleep to", "calm"),
    ("songs that remind me of my childhood summers", "nostalgic"),
    ("a slow dance with my love tonight", "romantic"),
    ("I'm furious, give me something to scream along to", "angry"),
    # Song titles, not sentences: what a track without lyrics offers. None uses the demo's title words.
    ("Tears on My Pillow", "sad"),
    ("Walking on Sunshine", "happy"),
    ("Lullaby for a Sleepy Harbour", "calm"),
    ("Back Home Again", "nostalgic"),
    ("Nocturne of Dread", "tense"),
])
def test_real_model_reads_requests_and_song_titles(text, mood):
    [vector] = classify_emotion([text])
    assert vector.top == mood, vector.ranked()[:3]
    assert sum(vector.probs) == pytest.approx(1.0)


def test_a_mood_head_without_prototype_reading_asks_for_retraining(artefact_copy):
    head_path = artefact_copy / "mood_head.json"
    head = json.loads(head_path.read_text())
    del head["prototype_centroids"]
    head_path.write_text(json.dumps(head))
    manifest = json.loads((artefact_copy / "manifest.json").read_text())
    write_manifest(artefact_copy, name=manifest["name"], version="1.0.0", meta=manifest["meta"])
    with pytest.raises(ModelMissingError, match="predates") as info:
        EmotionModel.load(artefact_copy)
    assert "--reuse-encoder" in info.value.hint


def test_blank_text_is_uniform_and_batches_match_single_calls():
    texts = ["", "I just got dumped", "pump me up for the gym"]
    batch = classify_emotion(texts, batch_size=2)
    assert batch[0].probs == pytest.approx([1 / 8] * 8)
    singles = [classify_emotion([t])[0] for t in texts[1:]]
    for a, b in zip(batch[1:], singles):
        assert np.allclose(a.probs, b.probs, atol=1e-4)


@pytest.mark.parametrize("text", ["只是一首歌", "一人で聴きたい"])
def test_cjk_text_is_read_by_the_multilingual_head_not_the_english_model(text):
    from tools.emotion import load_multilingual_head

    [vector] = classify_emotion([text])
    assert np.allclose(vector.probs, load_multilingual_head().predict_moods([text])[0], atol=1e-5)


def test_a_single_string_is_refused():
    with pytest.raises(InputError, match="list"):
        classify_emotion("calm")


@pytest.fixture
def artefact_copy(tmp_path):
    copy = tmp_path / "emotion"
    shutil.copytree(ARTEFACT_DIR, copy)
    return copy


@pytest.mark.parametrize(("damage", "error", "message"), [
    (lambda d: (d / "mood_head.json").write_text('{"moods": []}'), ModelCorruptError, "checksum"),
    (lambda d: (d / "encoder" / "vocab.txt").unlink(), ModelMissingError, "vocab.txt"),
    (lambda d: (d / "manifest.json").unlink(), ModelMissingError, "not found"),
    (lambda d: (d / "manifest.json").write_text("{not json"), ModelCorruptError, "unreadable"),
])
def test_damaged_artefact_is_refused_with_the_fix(artefact_copy, damage, error, message):
    damage(artefact_copy)
    with pytest.raises(error, match=message) as info:
        EmotionModel.load(artefact_copy)
    assert "moodtune train emotion" in info.value.hint
