"""Multimodal fusion: a track's emotion from its text and its audio, with explicit weights."""

from __future__ import annotations

from moodtune.types import EmotionVector


def fuse_emotion(
    *, text: EmotionVector | None, audio: EmotionVector, text_weight: float
) -> tuple[EmotionVector, float]:
    """The weighted mixture and the text weight actually used (0 when there is no text)."""
    if text is None:
        return audio, 0.0
    return EmotionVector.blend([(text, text_weight), (audio, 1.0 - text_weight)]), text_weight
