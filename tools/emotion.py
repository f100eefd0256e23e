"""The emotion tool: text -> EmotionVector over the eight MOODS.

Reads the user's message (their current mood) and each catalog track's text (title,
album, tags, lyrics). Two models behind one function, chosen per text by its script:
- English (and any text without CJK, kana or hangul, as before): the fine-tuned MiniLM
  classifier (tools/emotion_model.py), trained on English Reddit comments and our prototypes.
- Text with CJK, kana or hangul (Chinese above all): the multilingual mood head
  (tools/emotion_multilingual.py) over USE v3, trained on the same English rows; USE's
  cross-lingual alignment lets it read Chinese, Japanese and Korean without a paraphrase. The
  MiniLM model would return confident garbage for them (its vocabulary has no Chinese).
Other scripts keep going to the English model, as before, so no catalog reading changes
silently (ingestion still reads only English-enough track text: catalog/ingest.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from moodtune.errors import InputError
from moodtune.types import EmotionVector
from tools.emotion_model import ARTEFACT_DIR, EmotionModel
from tools.emotion_multilingual import ARTEFACT_DIR as MULTILINGUAL_DIR
from tools.emotion_multilingual import MultilingualMoodHead

# CJK ideographs, kana and hangul: text the English-only model would silently misread.
_NON_ENGLISH = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@cache
def load_emotion_model() -> EmotionModel:
    return EmotionModel.load(ARTEFACT_DIR)


@cache
def load_multilingual_head() -> MultilingualMoodHead:
    return MultilingualMoodHead.load(MULTILINGUAL_DIR)


def is_english_enough(text: str) -> bool:
    """Whether the English classifier can read `text` (no CJK, kana or hangul)."""
    return not _NON_ENGLISH.search(text)


def classify_emotion(texts: Sequence[str], *, batch_size: int = 32) -> list[EmotionVector]:
    """One EmotionVector per text, computed in batches, each text by the model that reads its script.

    Blank texts get the uniform distribution (nothing to read).
    """
    if isinstance(texts, str):
        raise InputError("classify_emotion takes a list of texts", hint="wrap the single text in a list")
    results = [EmotionVector.uniform() for _ in texts]
    english = [i for i, text in enumerate(texts) if text.strip() and is_english_enough(text)]
    other = [i for i, text in enumerate(texts) if text.strip() and not is_english_enough(text)]
    if english:
        probs = load_emotion_model().predict_moods([texts[i] for i in english], batch_size=batch_size)
        for i, row in zip(english, probs):
            results[i] = EmotionVector(tuple(float(p) for p in row))
    for start in range(0, len(other), batch_size):
        chunk = other[start : start + batch_size]
        for i, row in zip(chunk, load_multilingual_head().predict_moods([texts[i] for i in chunk])):
            results[i] = EmotionVector(tuple(float(p) for p in row))
    return results
