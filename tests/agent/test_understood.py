"""The reply says what it understood; its reading, as chips, is edited and searched again without the LLM.

A real store, the real parser's rules and emotion classifier; the LLM is a fake (these are about the logic around it).
"""

from __future__ import annotations

import pytest

from agent import understood
from agent.rank import parts_worth_showing
from agent.session import Moodtune
from catalog.store import CatalogStore
from moodtune.errors import InputError
from moodtune.types import EmotionVector, Intent, StyleVector
from prompts import load_prompt

# Six calm classical tracks, four energetic rock ones (a little calm), four sad-and-calm blues ones:
# with "not sad" the sad ones are penalised below the energetic ones; without it they rank above them.
CATALOG = [("c", "calm", "classical", 6), ("e", "energetic", "rock", 4), ("s", "sad", "blues", 4)]
CALM_NOT_SAD = {"m": ["calm"], "x": ["sad"], "g": [], "a": [], "xa": [], "xg": ["jazz"], "c": "driving", "f": False,
                "s": "match", "e": "", "music": True}


@pytest.fixture
def agent(settings, track_factory, fake_llm):
    store = CatalogStore.open(settings)
    tracks = []
    for prefix, mood, genre, count in CATALOG:
        for i in range(count):
            track = track_factory(f"{prefix}{i}", mood=mood, genre=genre, artist=f"{prefix} artist {i}", tempo=70.0 + 10 * i)
            if mood == "sad":  # sad, a third calm: close to the request once sadness is allowed
                track = track.with_(emotion=EmotionVector.from_mapping({"sad": 0.7, "calm": 0.3}))
            tracks.append(track)
    store.upsert(tracks)
    return Moodtune(settings, llm=fake_llm(CALM_NOT_SAD, "1. Calm.\n"), store=store)


def ids(reply):
    return [rec.track.id for rec in reply.recommendations]


def test_the_reply_names_its_reading_the_count_and_the_mix(agent):
    reply = agent.recommend("calm but not sad for driving, no jazz", session_id="s1", explain_top=0)
    assert [c.id for c in understood.chips(reply.intent)] == ["mood:calm", "not_mood:sad", "context:driving", "not_genre:jazz"]
    assert reply.message.startswith("Calm, not sad, for driving, no jazz: 10 tracks, mostly classical")
    assert "I aimed at the mood you asked for." in reply.message
    assert not any(track_id.startswith("s") for track_id in ids(reply)), "the sad tracks are kept out by 'not sad'"


def test_the_reply_speaks_chinese_to_a_chinese_request(agent):
    agent._llm.answer = {**CALM_NOT_SAD, "c": ""}
    reply = agent.recommend("适合开车听的安静但不悲伤的歌，不要爵士", session_id="z1", explain_top=0)
    assert [c.label for c in understood.chips(reply.intent)] == ["平静", "不要悲伤", "适合开车", "不要爵士"]
    assert reply.message.startswith("平静、不要悲伤、适合开车、不要爵士：10 首，大多是古典")
    assert reply.message.endswith("我按你想要的情绪来挑选。")


def test_removing_not_sad_searches_again_without_the_llm(agent):
    first = agent.recommend("calm but not sad for driving, no jazz", session_id="s1", explain_top=0)
    calls = len(agent.llm.calls)
    keep = [c.id for c in understood.chips(first.intent) if c.id != "not_mood:sad"]
    edited = agent.edited(first.reply_id, keep=keep, session_id="s1")
    assert len(agent.llm.calls) == calls, "no new LLM call"
    assert edited.intent.exclude_moods == () and edited.message.startswith("Calm, for driving, no jazz: 10 tracks")
    assert {"s0", "s1", "s2", "s3"} <= set(ids(edited)), "the sad-and-calm tracks now outrank the energetic ones"
    assert ids(edited)[:6] == ids(first)[:6]
    # The edit takes the first reply's place: its tracks do not count as already shown.
    assert [r.reply_id for r in agent.history("s1")] == [edited.reply_id]
    assert all(rec.scored.parts["repetition"] == 0 for rec in edited.recommendations)
    assert all("unwanted_mood" not in rec.scored.parts for rec in edited.recommendations)
    # An edit of an edit: put "not sad" back through "add", and the first list returns.
    again = agent.edited(edited.reply_id, keep=[c.id for c in understood.chips(edited.intent)], add=["not_mood:sad"],
                         session_id="s1")
    assert ids(again) == ids(first) and len(agent.llm.calls) == calls


def test_only_the_latest_reply_can_be_edited_and_only_by_its_user(agent):
    first = agent.recommend("calm but not sad", session_id="s1", explain_top=0)
    agent.recommend("calm but not sad again", session_id="s1", explain_top=0)
    with pytest.raises(InputError, match="latest reply"):
        agent.edited(first.reply_id, keep=[], session_id="s1")
    from moodtune.errors import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        agent.edited(first.reply_id, keep=[], session_id="s1", user_id="mallory")


def calm_intent(**changes) -> Intent:
    base = Intent(emotion=EmotionVector.one_hot("calm"), exclude_moods=("sad",), context="driving",
                  exclude_genres=("jazz",), english="calm but not sad for driving, no jazz", text="calm")
    from dataclasses import replace

    return replace(base, **changes)


def test_edit_removes_and_adds_each_kind_of_chip():
    intent = calm_intent(genre_terms=("folk", "classical"), style=StyleVector.one_hot("classical"), tempo_range=(0.0, 100.0),
                         artists=("Nick Drake",))
    chips = [c.id for c in understood.chips(intent)]
    assert chips == ["mood:calm", "not_mood:sad", "context:driving", "genre:folk", "genre:classical", "artist:Nick Drake",
                     "not_genre:jazz", "tempo:0-100"]
    assert [c.label for c in understood.chips(intent)][-1] == "under 100 bpm"
    untouched = understood.edit(intent, chips)
    assert untouched.emotion == intent.emotion and untouched.style == intent.style and untouched.tempo_range == (0.0, 100.0)

    no_calm = understood.edit(intent, [c for c in chips if c != "mood:calm"])
    assert no_calm.emotion["sad"] == 0 and no_calm.emotion["happy"] == pytest.approx(1 / 7), "any mood but the rejected one"
    assert "calm" not in no_calm.english, "a word taken back no longer pulls the text search"
    happy = understood.edit(intent, chips, add=["mood:happy"])
    assert happy.emotion["happy"] == pytest.approx(0.5) and happy.emotion["calm"] == pytest.approx(0.5)
    no_classical = understood.edit(intent, [c for c in chips if c != "genre:classical"])
    assert no_classical.style is None and no_classical.genre_terms == ("folk",)
    added = understood.edit(intent, chips, add=["genre:Hip-Hop", "not_genre:metal", "tempo:slow"])
    assert added.style["hiphop"] == pytest.approx(0.5) and "metal" in added.exclude_genres and added.tempo_range == (0, 90)
    bare = understood.edit(intent, [])
    assert (bare.exclude_moods, bare.exclude_genres, bare.context, bare.tempo_range, bare.artists) == ((), (), None, None, ())
    assert "driving" not in bare.english and bare.style is None


def test_a_lifted_reading_is_not_lifted_twice():
    lifted = calm_intent(strategy="lift")
    assert understood.edit(lifted, ["mood:calm"]).strategy == "match"


@pytest.mark.parametrize("bad", ["mood:sleepy", "colour:blue", "tempo:fast-ish", "genre:", "nonsense"])
def test_a_chip_that_is_not_one_is_a_clear_error(bad):
    intent = calm_intent()
    with pytest.raises(InputError):
        understood.edit(intent, [c.id for c in understood.chips(intent)], add=[bad])


def test_a_request_that_names_nothing_reads_as_anything():
    intent = Intent(emotion=EmotionVector.uniform(), text="music")
    assert understood.chips(intent) == [] and understood.reading(intent) == "anything"


def test_score_parts_zero_on_every_card_are_not_shown(agent):
    from app import cards_html

    first = agent.recommend("calm but not sad", session_id="s1", explain_top=0)
    assert "repetition" not in parts_worth_showing([r.scored for r in first.recommendations])
    html = cards_html(first)
    assert "already shown" not in html and "mood match" in html
    assert all("repetition" not in rec.explanation.facts["parts"] for rec in first.recommendations)
    # A second turn of the same request shows tracks again: now the part says something.
    second = agent.recommend("calm but not sad, again", session_id="s1", explain_top=0)
    assert "already shown" in cards_html(second)


def test_both_languages_have_every_word():
    ui = load_prompt("ui")
    for section in ("reading", "ui"):
        assert set(ui[section]["en"]) == set(ui[section]["zh"]), section
    assert next(label for label, _ in understood.add_choices("zh")) == "情绪：快乐"


def test_after_a_restart_the_conversation_holds_the_edit_not_the_reply_it_replaced(agent, settings, fake_llm):
    first = agent.recommend("calm but not sad", session_id="s1", explain_top=0)
    edited = agent.edited(first.reply_id, keep=["mood:calm"], session_id="s1")
    assert edited.replaces == first.reply_id
    restarted = Moodtune(settings, llm=fake_llm(CALM_NOT_SAD), store=agent.store)
    assert [r.reply_id for r in restarted.history("s1")] == [edited.reply_id]
    assert {r.reply_id for r in restarted.review.replies("s1")} == {first.reply_id, edited.reply_id}, "both are logged"
