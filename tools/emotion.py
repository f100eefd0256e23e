"""The emotion tool: text -> EmotionVector over the eight MOODS.

Reads the user's message (their current mood) and each catalog track's text (title,
album, tags, lyrics). English only: the model was fine-tuned on English Reddit comments,
so other languages must come in as the parser's English paraphrase.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from moodtune.errors import InputError
from moodtune.types import EmotionVector
from tools.emotion_model import ARTEFACT_DIR, EmotionModel

# CJK ideographs, kana and hangul: text the English-only model would silently misread.
_NON_ENGLISH = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@cache
def load_emotion_model() -> EmotionModel:
    return EmotionModel.load(ARTEFACT_DIR)


def is_english_enough(text: str) -> bool:
    return not _NON_ENGLISH.search(text)


def classify_emotion(texts: Sequence[str], *, batch_size: int = 32) -> list[EmotionVector]:
    """One EmotionVector per text, computed in batches.

    Blank texts get the uniform distribution (nothing to read); CJK text raises InputError,
    because the model would return confident garbage for it.
    """
    if isinstance(texts, str):
        raise InputError("classify_emotion takes a list of texts", hint="wrap the single text in a list")
    for text in texts:
        if not is_english_enough(text):
            raise InputError(
                "the emotion classifier reads English only",
                hint="pass the parser's English paraphrase (Intent.english) instead of the original text",
            )
    readable = [i for i, text in enumerate(texts) if text.strip()]
    results = [EmotionVector.uniform() for _ in texts]
    if readable:
        probs = load_emotion_model().predict_moods([texts[i] for i in readable], batch_size=batch_size)
        for i, row in zip(readable, probs):
            results[i] = EmotionVector(tuple(float(p) for p in row))
    return results
