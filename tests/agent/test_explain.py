"""Explanations: templates from facts, streamed wording split per track, grounding check."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from agent.explain import (
    ExplanationStream,
    facts_line,
    grounding_problems,
    is_grounded,
    moods_the_user_wrote,
    stream_explanations,
    template_explanation,
    track_facts,
)
from moodtune.types import EmotionVector, Intent, ScoredTrack, StyleVector


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


# -- every number bound to its own label ---------------------------------------------------
@pytest.fixture
def calm_69(track_factory):
    """A track whose 69 % is calm (sad 12 %, happy 10 %, tense 9 %), jazz 80 %, blues 20 %."""
    track = replace(
        track_factory("t3", mood="calm", genre="jazz", title="Harbour Lights", tempo=84),
        emotion=EmotionVector.from_mapping({"calm": 0.69, "sad": 0.12, "happy": 0.10, "tense": 0.09}),
        style=StyleVector.from_mapping({"jazz": 0.8, "blues": 0.2}),
    )
    intent = Intent(emotion=EmotionVector.one_hot("calm"), text="calm music for a rainy drive", context="driving")
    scored = ScoredTrack(track=track, parts={"emotion_match": 0.91, "style_match": 0.5}, total=1.3)
    return track_facts(scored, intent), intent


@pytest.mark.parametrize(("sentence", "grounded"), [
    ("悲伤占69%的爵士，适合开车。", False),  # 69 is calm's share, not sad's
    ("69% sad jazz for the drive.", False),
    ("Sad (69%) jazz for the drive.", False),
    ("平静占69%的爵士，适合开车。", True),
    ("A 69% calm jazz piece for the drive.", True),
    ("Calm (69%) with a touch of sadness at 12%.", True),
    ("Jazz at 69% for the drive.", False),  # jazz is 80 %
    ("爵士 80%、蓝调 20%，适合开车。", True),
    ("Calm 69 percent, jazz 80 percent.", True),
    ("百分之69的悲伤。", False),
    ("Its mood match is 0.91.", True),
    ("Its mood match is 0.50.", False),  # 0.50 is the style match
    ("Mood read 100% from the audio.", True),  # no text weight: all from the audio
    ("Mood read 60% from its words.", False),
])
def test_each_number_is_bound_to_its_own_label(calm_69, sentence, grounded):
    data, intent = calm_69
    assert is_grounded(sentence, data, intent) is grounded, grounding_problems(sentence, data, intent)


def test_templates_pass_the_label_check_in_both_languages(calm_69):
    data, intent = calm_69
    for weight in (0, 50, 60):
        for language in ("en", "zh"):
            text = template_explanation({**data, "text_weight": weight}, language=language)
            assert not grounding_problems(text, {**data, "text_weight": weight}, intent), text


def test_a_title_with_a_mood_word_labels_no_number(track_factory):
    track = track_factory("t4", mood="calm", genre="jazz", title="Sad Song", tempo=84)
    intent = Intent(emotion=EmotionVector.one_hot("calm"), text="calm music")
    data = track_facts(ScoredTrack(track=track, parts={}, total=0.0), intent)
    calm = dict(data["moods"])["calm"]
    assert is_grounded(f"Sad Song: {calm}% calm.", data, intent)


def test_the_reason_names_the_label_and_its_true_share(calm_69):
    data, intent = calm_69
    problems = grounding_problems("悲伤占69%的爵士。", data, intent)
    assert problems == ["'69%' is said of mood 'sad', whose share is 12%"]


# -- a mood the user negated is no mood the user wrote -------------------------------------
@pytest.mark.parametrize(("text", "emotion"), [
    ("calm but not sad for a rainy drive", {"calm": 1.0}),
    ("不悲伤的钢琴曲", {"calm": 1.0}),
    ("不悲伤的钢琴曲", {"calm": 0.7, "sad": 0.3}),  # even if the target kept some sad, 不 negates it
    ("没有悲伤的感觉，安静一点", {"calm": 0.8, "sad": 0.2}),
    ("something sad for a rainy drive", {"calm": 1.0}),  # the target gives sad nothing (a lift)
])
def test_a_negated_mood_never_licenses_naming_it(facts, text, emotion):
    data, _ = facts  # calm 82 %, every other mood 2-3 %
    intent = Intent(emotion=EmotionVector.from_mapping(emotion), text=text, context="driving")
    assert "sad" not in moods_the_user_wrote(intent)
    assert not is_grounded("Calm jazz with a sad undertone.", data, intent)
    assert not is_grounded("平静而带点悲伤的爵士。", data, intent)


def test_an_excluded_mood_is_not_one_the_user_wrote():
    intent = Intent(emotion=EmotionVector.from_mapping({"calm": 0.5, "sad": 0.5}), text="sad? no, calm", exclude_moods=("sad",))
    assert "sad" not in moods_the_user_wrote(intent)


def test_a_mood_the_user_asked_for_still_counts(facts):
    data, _ = facts
    intent = Intent(emotion=EmotionVector.one_hot("sad"), text="sad songs, not happy ones")
    assert moods_the_user_wrote(intent) == {"sad"}
    assert is_grounded("Calm rather than sad.", data, intent)
