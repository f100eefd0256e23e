"""Ranking: parts kept and shown, list rules, exclusions, personal preference, lift."""

from __future__ import annotations

import pytest

from agent.profile import ProfileStore
from agent.rank import MAX_PER_ARTIST, filters_for, lift_target, rank, score
from moodtune.config import RankWeights
from moodtune.types import EmotionVector, Intent, ScoredTrack


def candidates(track_factory, specs):
    out = []
    for i, (mood, genre, artist) in enumerate(specs):
        track = track_factory(f"t{i}", mood=mood, genre=genre, artist=artist, title=f"Song {i}")
        match = track.emotion.similarity(EmotionVector.one_hot("calm"))
        out.append(ScoredTrack(track=track, parts={"emotion_match": match}, total=match))
    return out


def test_at_most_two_per_artist_and_no_duplicate_titles(track_factory):
    pool = candidates(track_factory, [("calm", "jazz", "Same")] * 5 + [("calm", "pop", f"A{i}") for i in range(5)])
    pool.append(ScoredTrack(track=pool[5].track.with_(id="dup"), parts=pool[5].parts, total=pool[5].total))
    ranked = rank(pool, filters=filters_for(Intent(emotion=EmotionVector.one_hot("calm"))), weights=RankWeights(), k=10)
    artists = [r.track.artist for r in ranked]
    assert artists.count("Same") == MAX_PER_ARTIST
    assert len({(r.track.title, r.track.artist) for r in ranked}) == len(ranked)


def test_exclusions_always_hold(track_factory):
    pool = candidates(track_factory, [("calm", "jazz", "X"), ("calm", "pop", "Banned"), ("calm", "classical", "Y")])
    intent = Intent(emotion=EmotionVector.one_hot("calm"), exclude_genres=("jazz",), exclude_artists=("banned",))
    ranked = rank(pool, filters=filters_for(intent), weights=RankWeights())
    assert [r.track.artist for r in ranked] == ["Y"]


def test_every_part_is_kept_and_total_is_their_weighted_sum(settings, track_factory):
    profiles = ProfileStore(settings.profile_db)
    profiles.record(user_id="u", track=track_factory("liked", mood="calm", genre="jazz"), kind="up")
    pool = candidates(track_factory, [("calm", "jazz", "A"), ("calm", "pop", "B")])
    ranked = rank(
        pool,
        filters=filters_for(Intent(emotion=EmotionVector.one_hot("calm"))),
        weights=RankWeights(),
        preferences=profiles.preferences("u"),
        shown=["t1"],
    )
    for item in ranked:
        assert {"emotion_match", "preference", "repetition"} <= set(item.parts)
        assert item.total == pytest.approx(score(item.parts, RankWeights()))
    assert ranked[0].track.id == "t0", "the liked style and the unshown track rank first"
    assert ranked[1].parts["repetition"] == 1.0


def test_lift_moves_target_to_positive_valence():
    sad = Intent(emotion=EmotionVector.one_hot("sad"), strategy="lift")
    lifted = lift_target(sad, EmotionVector.one_hot("sad"))
    assert lifted.valence > 0 > sad.valence
