"""The multilingual mood head on the real committed artefact and the real USE v3 encoder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from moodtune.errors import InputError, ModelCorruptError, ModelMissingError
from tools.emotion import classify_emotion, load_emotion_model, load_multilingual_head
from tools.emotion_multilingual import ARTEFACT_DIR, TRAIN_FIX, MultilingualMoodHead


@pytest.mark.parametrize(("text", "mood"), [
    # Written for this test, not taken from the dev requests the head was tuned on.
    ("分手了，心里特别难过，想听几首伤心的歌哭一场", "sad"),
    ("马上要去健身房练腿了，来点超燃超带劲的歌", "energetic"),
])
def test_real_head_reads_clear_chinese_requests(text, mood):
    [vector] = classify_emotion([text])
    assert vector.top == mood, vector.ranked()[:3]
    assert sum(vector.probs) == pytest.approx(1.0)


def test_a_mixed_batch_sends_each_text_to_its_reader_in_order():
    texts = ["I just got dumped", "", "分手了，心里特别难过", "pump me up for the gym"]
    batch = classify_emotion(texts, batch_size=1)
    english = load_emotion_model().predict_moods([texts[0], texts[3]])
    chinese = load_multilingual_head().predict_moods([texts[2]])
    assert np.allclose(batch[0].probs, english[0], atol=1e-4) and np.allclose(batch[3].probs, english[1], atol=1e-4)
    assert np.allclose(batch[2].probs, chinese[0], atol=1e-5)
    assert batch[1].probs == pytest.approx([1 / 8] * 8)


def test_saved_head_reads_as_the_loaded_one(tmp_path):
    head = MultilingualMoodHead.load()
    head.save(tmp_path / "copy", meta={"test": True})
    again = MultilingualMoodHead.load(tmp_path / "copy")
    vectors = np.random.default_rng(0).normal(size=(20, head.weights.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert np.allclose(head.moods_from_vectors(vectors), again.moods_from_vectors(vectors), atol=1e-5)


@pytest.fixture
def artefact_copy(tmp_path):
    copy = tmp_path / "emotion_multilingual"
    shutil.copytree(ARTEFACT_DIR, copy)
    return copy


@pytest.mark.parametrize(("damage", "error", "message"), [
    (lambda d: (d / "mood_head.json").write_text('{"moods": []}'), ModelCorruptError, "checksum"),
    (lambda d: (d / "mood_head.json").unlink(), ModelMissingError, "mood_head.json"),
    (lambda d: (d / "manifest.json").unlink(), ModelMissingError, "not found"),
])
def test_damaged_artefact_is_refused_with_the_fix(artefact_copy, damage, error, message):
    damage(artefact_copy)
    with pytest.raises(error, match=message) as info:
        MultilingualMoodHead.load(artefact_copy)
    assert TRAIN_FIX in info.value.hint


def test_a_head_for_another_encoder_asks_for_retraining(artefact_copy):
    from moodtune.artefacts import write_manifest

    head = json.loads((artefact_copy / "mood_head.json").read_text())
    (artefact_copy / "mood_head.json").write_text(json.dumps({**head, "encoder": "minilm"}))
    write_manifest(artefact_copy, name="emotion_multilingual", version="1.0.0")
    with pytest.raises(InputError, match="encoder") as info:
        MultilingualMoodHead.load(artefact_copy)
    assert TRAIN_FIX in info.value.hint
