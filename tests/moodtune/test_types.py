"""The mood and genre vocabularies and the distribution types."""

from __future__ import annotations

import math

import pytest

from moodtune.errors import InputError
from moodtune.types import GENRES, MOOD_NAMES, MOODS, EmotionVector, StyleVector


def test_vocabularies_are_the_fixed_ones():
    assert MOOD_NAMES == ("happy", "sad", "calm", "energetic", "romantic", "nostalgic", "angry", "tense")
    assert len(GENRES) == 10 and "hiphop" in GENRES


@pytest.mark.parametrize("mood", MOOD_NAMES)
def test_every_mood_sits_in_the_circumplex(mood):
    valence, arousal = MOODS[mood]
    assert -1 <= valence <= 1 and -1 <= arousal <= 1


@pytest.mark.parametrize(
    ("mood", "valence_sign", "arousal_sign"),
    [("happy", 1, 1), ("sad", -1, -1), ("calm", 1, -1), ("angry", -1, 1), ("energetic", 1, 1)],
)
def test_circumplex_quadrants(mood, valence_sign, arousal_sign):
    vector = EmotionVector.one_hot(mood)
    assert math.copysign(1, vector.valence) == valence_sign
    assert math.copysign(1, vector.arousal) == arousal_sign


def test_valence_is_probability_weighted_mean():
    vector = EmotionVector.from_mapping({"happy": 0.5, "sad": 0.5})
    assert vector.valence == pytest.approx((MOODS["happy"][0] + MOODS["sad"][0]) / 2)


@pytest.mark.parametrize("cls", [EmotionVector, StyleVector])
def test_distributions_normalise_and_rank(cls):
    names = cls.names()
    vector = cls(tuple(float(i) for i in range(len(names))))
    assert sum(vector.probs) == pytest.approx(1.0)
    assert vector.top == names[-1]
    assert vector.similarity(vector) == pytest.approx(1.0)
    assert cls.one_hot(names[0]).similarity(cls.one_hot(names[1])) == 0.0


def test_unknown_labels_and_wrong_sizes_are_errors():
    with pytest.raises(InputError):
        EmotionVector.from_mapping({"joyful": 1.0})
    with pytest.raises(InputError):
        StyleVector((1.0, 2.0))


def test_non_finite_and_negative_values_are_dropped():
    vector = EmotionVector((float("nan"), -1.0, 1.0, 0, 0, 0, 0, 0))
    assert vector.top == "calm" and vector["calm"] == 1.0
