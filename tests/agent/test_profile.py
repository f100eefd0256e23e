"""Feedback rows and the learned preferences u and v (real SQLite under a temp home)."""

from __future__ import annotations

import threading

import pytest

from agent.profile import CO_LIKE_MIN_USERS, ProfileStore
from moodtune.errors import InputError


def test_no_feedback_means_uniform_preferences(settings):
    prefs = ProfileStore(settings.profile_db).preferences("new-user")
    assert not prefs.has_feedback
    assert max(prefs.moods.probs) == pytest.approx(min(prefs.moods.probs))


@pytest.mark.parametrize(("kind", "direction"), [("up", 1), ("more_like_this", 1), ("down", -1), ("skip", -1)])
def test_feedback_moves_preferences(settings, track_factory, kind, direction):
    store = ProfileStore(settings.profile_db)
    store.record(user_id="u", track=track_factory("t", mood="calm", genre="jazz"), kind=kind)
    prefs = store.preferences("u")
    assert (prefs.moods["calm"] - 1 / 8) * direction > 0
    assert (prefs.styles["jazz"] - 1 / 10) * direction > 0


def test_preferences_persist_and_reset(settings, track_factory):
    ProfileStore(settings.profile_db).record(
        user_id="u", track=track_factory("t", mood="sad", genre="blues"), kind="up"
    )
    reopened = ProfileStore(settings.profile_db)
    assert reopened.preferences("u").moods.top == "sad"
    assert reopened.reset("u") == 1
    assert not reopened.preferences("u").has_feedback


def test_unknown_kind_is_rejected(settings, track_factory):
    with pytest.raises(InputError):
        ProfileStore(settings.profile_db).record(
            user_id="u", track=track_factory("t", mood="sad", genre="blues"), kind="love"
        )


def test_concurrent_writers_lose_no_rows(settings, track_factory):
    store = ProfileStore(settings.profile_db)
    track = track_factory("t", mood="happy", genre="pop")

    def write(n):
        for _ in range(25):
            ProfileStore(settings.profile_db).record(user_id=f"user{n}", track=track, kind="up")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count() == 200


def test_co_likes_need_enough_users(settings, track_factory):
    store = ProfileStore(settings.profile_db)
    shared, other = (
        track_factory("shared", mood="happy", genre="pop"),
        track_factory("other", mood="calm", genre="jazz"),
    )
    store.record(user_id="me", track=shared, kind="up")
    store.record(user_id="friend1", track=shared, kind="up")
    store.record(user_id="friend1", track=other, kind="up")
    assert store.co_likes("me", ["other"]) == {}, "one co-liker is below the threshold"
    for n in range(2, CO_LIKE_MIN_USERS + 1):
        store.record(user_id=f"friend{n}", track=shared, kind="up")
        store.record(user_id=f"friend{n}", track=other, kind="up")
    assert store.co_likes("me", ["other"])["other"] == pytest.approx(1.0)
