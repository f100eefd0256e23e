"""A model file truncated on disk is refused by its loader with the fix, never loaded silently."""

from __future__ import annotations

import shutil

import pytest

from moodtune.config import SHIPPED_MODELS_DIR
from moodtune.errors import ModelCorruptError


def _load_emotion(directory):
    from tools.emotion_model import EmotionModel

    return EmotionModel.load(directory)


def _load_style(directory):
    from tools.style import StyleClassifier

    return StyleClassifier.load(directory)


def _load_tagger(directory):
    from tools.tagger import MusicTagger

    return MusicTagger.load("msd", directory=directory)


def _load_reader(directory):
    from tools.audio_reading import AudioReader

    return AudioReader.load(directory)


@pytest.mark.parametrize(
    ("artefact", "damaged_file", "load", "fix"),
    [
        ("emotion", "encoder/model.safetensors", _load_emotion, "moodtune train emotion"),
        ("emotion", "mood_head.json", _load_emotion, "moodtune train emotion"),
        ("style", "style_svm.joblib", _load_style, "moodtune train style"),
        ("tagger", "msd_musicnn.safetensors", _load_tagger, "git checkout -- models/tagger"),
        ("audio_reading", "reader.json", _load_reader, "git checkout -- models/audio_reading"),
    ],
)
def test_a_truncated_model_file_is_a_model_corrupt_error_with_the_fix(tmp_path, artefact, damaged_file, load, fix):
    copy = tmp_path / artefact
    shutil.copytree(SHIPPED_MODELS_DIR / artefact, copy)
    path = copy / damaged_file
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size // 2)  # as a disk that filled up, or an interrupted copy, leaves it
    with pytest.raises(ModelCorruptError) as caught:
        load(copy)
    assert damaged_file in caught.value.message and "checksum" in caught.value.message
    assert fix in caught.value.hint
