"""Feedback rows and the learned preferences u and v (real SQLite under a temp home)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from agent.profile import CO_LIKE_MIN_USERS, ProfileStore
from moodtune.errors import InputError, StorageError


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


# -- faults: a damaged file, a full disk ------------------------------------------------------
def _fill_with_rows(store: ProfileStore, track, n: int) -> None:
    for i in range(n):
        store.record(user_id=f"user{i % 7}", track=track, kind="up")
    with sqlite3.connect(store.path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_a_file_that_is_not_a_database_names_the_repair_command(settings, track_factory, capsys):
    from moodtune.cli import main

    settings.profile_db.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StorageError) as error:
        ProfileStore(settings.profile_db)
    assert "moodtune repair profiles" in error.value.hint
    assert main(["--home", str(settings.home), "repair", "profiles"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows_recovered"] == {"feedback": 0}
    assert Path(report["damaged_file_kept_as"]).read_bytes().startswith(b"this is not SQLite")
    ProfileStore(settings.profile_db).record(user_id="u", track=track_factory("t", mood="calm", genre="jazz"), kind="up")


def test_a_damaged_page_is_a_clear_error_and_repair_keeps_the_readable_rows(settings, track_factory, capsys):
    from moodtune.cli import main

    track = track_factory("t", mood="calm", genre="jazz")
    _fill_with_rows(ProfileStore(settings.profile_db), track, 1500)
    with open(settings.profile_db, "r+b") as raw:  # scribble over a few pages in the middle
        raw.seek(4096 * 20)
        raw.write(os.urandom(4096 * 3))
    store = ProfileStore(settings.profile_db)
    with pytest.raises(StorageError) as error:  # reading every user's rows reaches the damaged pages
        for n in range(7):
            store.rows(f"user{n}")
    assert "moodtune repair profiles" in error.value.hint and "Traceback" not in str(error.value)
    assert main(["--home", str(settings.home), "repair", "profiles"]) == 0
    recovered = json.loads(capsys.readouterr().out)["rows_recovered"]["feedback"]
    assert 1000 < recovered < 1500
    assert ProfileStore(settings.profile_db).count() == recovered
    assert main(["--home", str(settings.home), "repair", "profiles"]) == 0
    assert json.loads(capsys.readouterr().out)["healthy"] is True, "a healthy file is left alone"


def test_a_full_disk_loses_no_saved_feedback(small_tmpfs, fill_disk, track_factory):
    store = ProfileStore(small_tmpfs / "profiles.sqlite3")
    track = track_factory("t", mood="calm", genre="jazz", text="x" * 2000)
    for _ in range(5):
        store.record(user_id="ana", track=track, kind="up")
    filler = fill_disk(small_tmpfs)
    saved, failure = 5, None
    for _ in range(5000):  # the WAL reuses space it has; sooner or later a write needs a new page
        try:
            store.record(user_id="ana", track=track, kind="up")
            saved += 1
        except StorageError as exc:
            failure = exc
            break
    assert failure is not None, "the disk never filled"
    assert "free disk space" in failure.hint and "saving your feedback failed" in failure.message
    assert store.count() == saved, "every acknowledged row is there, the failed one is not"
    filler.unlink()
    store.record(user_id="ana", track=track, kind="up")
    assert store.count() == saved + 1 and store.preferences("ana").counts["up"] == saved + 1
