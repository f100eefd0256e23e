"""Explanations: templates from facts, streamed wording split per track, grounding check."""

from __future__ import annotations

import re

import pytest

from agent.explain import ExplanationStream, is_grounded, template_explanation, track_facts
from moodtune.types import EmotionVector, Intent, ScoredTrack


@pytest.fixture
def facts(track_factory):
    track = track_factory("t1", mood="calm", genre="jazz", title="Blue Harbour", artist="The Quiet Trio", tempo=84)
    scored = ScoredTrack(track=track, parts={"emotion_match": 0.91, "style_match": 0.5}, total=1.31)
    intent = Intent(emotion=EmotionVector.one_hot("calm"), text="calm music for a rainy drive", context="driving")
    return track_facts(scored, intent), intent


@pytest.mark.parametrize("language", ["en", "zh"])
def test_template_numbers_all_come_from_the_facts(facts, language):
    data, intent = facts
    text = template_explanation(data, language=language)
    assert "Blue Harbour" in text and "84" in text
    assert is_grounded(text, data, intent)


@pytest.mark.parametrize(("language", "key", "mode", "expected"), [
    ("en", "D", "minor", " in D minor"), ("en", "", "major", "bpm ("), ("zh", "D", "minor", "D小调"), ("zh", "", "major", "BPM（"),
])
def test_template_names_the_key_only_when_known(facts, language, key, mode, expected):
    data, _ = facts
    text = template_explanation({**data, "key": key, "mode": mode}, language=language)
    assert expected in text and " in  " not in text and "bpm in (" not in text


@pytest.mark.parametrize(("sentence", "grounded"), [
    ("Blue Harbour is calm at 84 bpm, a fine fit for your rainy drive.", True),
    ("A calm jazz piece, 0.91 mood match.", True),
    ("Recorded in 1959 by Miles Davis, it is calm.", False),
    ("This calm track runs at 120 bpm.", False),
    ("Its calm mood (77%) suits a rainy drive.", False),
])
def test_grounding_rejects_invented_numbers_and_names(facts, sentence, grounded):
    data, intent = facts
    assert is_grounded(sentence, data, intent) is grounded


def test_the_tracks_own_percentage_is_grounded(facts):
    data, intent = facts
    mood, percent = data["moods"][0]
    assert is_grounded(f"Its {mood} mood ({percent}%) suits a rainy drive.", data, intent)


def test_stream_splits_numbered_lines_across_chunk_boundaries():
    splitter = ExplanationStream(2)
    text = "1. First track is calm.\n2. Second one is lively.\n"
    out: dict[int, str] = {}
    for i in range(0, len(text), 5):
        for index, delta in splitter.feed(text[i : i + 5]):
            out[index] = out.get(index, "") + delta
    assert out == {0: "First track is calm.", 1: "Second one is lively."}


def test_facts_contain_only_track_and_request_values(facts):
    data, _ = facts
    assert data["tempo"] == 84 and data["target_mood"] == "calm"
    assert all(re.fullmatch(r"[a-z]+", m) for m, _ in data["moods"])
