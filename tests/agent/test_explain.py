"""Explanations: templates from facts, streamed wording split per track, grounding check."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from agent.explain import (
    ExplanationStream,
    facts_line,
    is_grounded,
    stream_explanations,
    template_explanation,
    track_facts,
)
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
    ("Calm jazz at {jazz} bpm.", False),
    ("Calm jazz ({tempo}%) for the drive.", False),
    ("Calm ({calm}%) jazz at {tempo} bpm.", True),
    ("Calm jazz at a slow {tempo} bpm.", True),
    ("Fast, calm jazz at {tempo} bpm.", False),
    ("Calm jazz with an up-tempo swing.", False),
    ("平静的爵士，{tempo} bpm的快速节奏。", False),
    ("平静又快乐的爵士，{tempo} bpm的慢速。", True),
    # Activities: the request's own (a rainy drive) may be named, another may not.
    ("Calm jazz, easy to drive to in the rain.", True),
    ("Calm jazz at {tempo} bpm: easy to read to while reading.", False),
    ("Calm jazz, perfect for your workout.", False),
    ("平静的爵士，很适合开车。", True),
    ("平静的爵士，很适合看书。", False),
    # Moods: the track's two leading ones (calm, then happy here) or one the user wrote.
    ("A tense, suspenseful jazz piece at {tempo} bpm.", False),
    ("平静的爵士，紧张感十足。", False),
    ("Calm jazz with a happy glow, for the rainy drive.", True),
    ("Calm jazz, nothing romantic about it.", False),
])
def test_grounding_rejects_invented_numbers_and_names(facts, sentence, grounded):
    data, intent = facts
    values = {"tempo": data["tempo"], "calm": dict(data["moods"])["calm"], "jazz": dict(data["genres"])["jazz"]}
    assert is_grounded(sentence.format(**values), data, intent) is grounded


@pytest.mark.parametrize(("tempo", "language", "word"), [
    (68, "en", "(slow)"), (104, "en", "(moderate)"), (150, "en", "(fast)"), (89, "zh", "(慢速)"), (120, "zh", "(快速)"),
])
def test_facts_name_the_tempo_class(facts, tempo, language, word):
    data, _ = facts
    assert f"{tempo} bpm {word}" in facts_line(1, {**data, "tempo": tempo}, language=language)


def test_a_tempo_word_that_echoes_the_request_is_not_a_claim(facts):
    data, _ = facts
    intent = Intent(emotion=EmotionVector.one_hot("romantic"), text="songs for a slow dance")
    fast = {**data, "tempo": 132}
    assert is_grounded("Calm enough for a slow dance.", fast, intent)
    assert not is_grounded("Calm and fast enough for a slow dance.", {**data, "tempo": 70}, intent)


def test_a_mood_the_user_wrote_may_be_named(facts):
    data, _ = facts
    intent = Intent(emotion=EmotionVector.one_hot("sad"), text="something sad for a rainy drive", context="driving")
    assert is_grounded("Calm rather than sad, for your rainy drive.", data, intent)
    assert not is_grounded("Calm rather than angry, for your rainy drive.", data, intent)


@pytest.mark.parametrize(("sentence", "grounded"), [
    ("快乐占75%的迪斯科，充满活力。", True),  # energetic 10 %, third only by a hair
    ("Happy disco with a romantic streak.", True),
    ("Happy disco, a little nostalgic.", False),  # 5 %
])
def test_a_mood_the_track_has_in_some_measure_may_be_named(track_factory, sentence, grounded):
    track = track_factory("t2", mood="happy", genre="disco", tempo=129)
    track = replace(track, emotion=EmotionVector.from_mapping(
        {"happy": 0.75, "romantic": 0.101, "energetic": 0.099, "nostalgic": 0.05}))
    intent = Intent(emotion=EmotionVector.one_hot("happy"), text="换点开心一点的")
    facts = track_facts(ScoredTrack(track=track, parts={"emotion_match": 0.9}, total=0.9), intent)
    assert is_grounded(sentence, facts, intent) is grounded


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


@pytest.mark.parametrize("count", [1, 2, 5])
def test_the_first_track_is_worded_alone_then_the_rest_together(track_factory, fake_llm, count):
    intent = Intent(emotion=EmotionVector.one_hot("calm"), text="calm music")
    facts_list = [
        track_facts(ScoredTrack(track=track_factory(f"t{i}", mood="calm", genre="jazz", tempo=61 + i), parts={}, total=0.0), intent)
        for i in range(count)
    ]
    answers = ["1. Alone first.\n", "".join(f"{n}. Then number {n}.\n" for n in range(1, count))]
    llm = fake_llm(wording=answers[: 1 + (count > 1)])
    worded: dict[int, str] = {}
    for index, delta in stream_explanations(llm, facts_list, intent):
        worded[index] = worded.get(index, "") + delta
    assert worded == {0: "Alone first.", **{n: f"Then number {n}." for n in range(1, count)}}
    prompts = [call[-1]["content"] for call in llm.calls]
    assert len(prompts) == 1 + (count > 1)
    # Instructions and example, not the tracks, are what the context may keep between calls.
    assert llm.prefixes == [len(call) - 1 for call in llm.calls]
    assert "61 bpm" in prompts[0] and "62 bpm" not in prompts[0]
    if count > 1:
        assert "61 bpm" not in prompts[1] and all(f"{61 + i} bpm" in prompts[1] for i in range(1, count))


@pytest.mark.parametrize(
    ("count", "text", "expected"),
    [
        (1, "It is calm at 84 bpm.\nA second paragraph.\n", {0: "It is calm at 84 bpm."}),
        (1, "1. It is calm.\n", {0: "It is calm."}),
        (2, "It is calm.\n2. Lively.\n", {1: "Lively."}),
        (2, "1. Calm.\n7. Beyond the list.\n2. Then this.\n", {0: "Calm.", 1: "Then this."}),
    ],
)
def test_stream_lines_without_a_number(count, text, expected):
    splitter = ExplanationStream(count)
    out: dict[int, str] = {}
    for i in range(0, len(text), 3):
        for index, delta in splitter.feed(text[i : i + 3]):
            out[index] = out.get(index, "") + delta
    for index, delta in splitter.feed("\n"):
        out[index] = out.get(index, "") + delta
    assert out == expected
