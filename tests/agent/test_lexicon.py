"""The deterministic checks around the LLM's reading."""

from __future__ import annotations

import pytest

from agent import lexicon
from moodtune.types import GENRES, MOOD_NAMES


def test_lexicons_cover_the_vocabularies():
    assert set(lexicon.MOOD_WORDS) == set(MOOD_NAMES)
    assert set(lexicon.GENRE_ALIASES.values()) == set(GENRES)


@pytest.mark.parametrize(
    ("text", "liked", "excluded"),
    [
        ("something calm for a rainy drive, no jazz", [], ["jazz"]),
        ("Some old-school hip hop, like Nas", ["hiphop"], []),
        ("I love rap but not country", ["hiphop"], ["country"]),
        ("heavy metal to get pumped", ["metal"], []),
        ("来点爵士，不要摇滚", ["jazz"], ["rock"]),
        ("k-pop or dubstep please", ["k-pop", "dubstep"], []),
        ("without any classical music", [], ["classical"]),
    ],
)
def test_genre_mentions(text, liked, excluded):
    assert lexicon.genre_mentions(text) == (liked, excluded)


@pytest.mark.parametrize(
    ("text", "mood", "negated"),
    [
        ("calm but not sad", "calm", ["sad"]),
        ("怀旧的老歌", "nostalgic", []),
        ("pump me up", "energetic", []),
    ],
)
def test_mood_mentions(text, mood, negated):
    counts, found_negated = lexicon.mood_mentions(text)
    assert mood in counts and found_negated == negated


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("Wu-Tang Clan", "like Nas or Wu-Tang Clan", True),
        ("Wu Tang Clan", "like Nas or Wu-Tang Clan", True),
        ("Norah Jonez", "something like norah jones", True),
        ("Taylor Swift", "something like norah jones", False),
    ],
)
def test_named_in_text_tolerates_small_spelling_differences(name, text, expected):
    assert lexicon.named_in_text(name, text) is expected


@pytest.mark.parametrize(("text", "expected"), [("more upbeat", 1.0), ("something slower", -1.0), ("jazz", 0.0)])
def test_arousal_cue(text, expected):
    assert lexicon.arousal_cue(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("more upbeat please", True),
        ("less jazz", True),
        ("换点欢快的", True),
        ("Play me something happy for breakfast", False),
    ],
)
def test_follow_up_cues(text, expected):
    assert lexicon.looks_like_follow_up(text) is expected


@pytest.mark.parametrize(("text", "language"), [("hello", "en"), ("你好", "zh"), ("play 周杰伦", "zh")])
def test_language(text, language):
    assert lexicon.detect_language(text) == language
