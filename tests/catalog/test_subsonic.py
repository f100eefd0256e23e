"""Ingesting from a real supysonic server on loopback, and writing back to it: playlists, stars.

No mocks: supysonic (PyPI) serves a folder of clips the tests render, with its own sqlite
database in a temp dir; Moodtune talks to it through the Subsonic API only.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from catalog import ingest
from catalog.ingest import ingest_folder, track_id_for
from catalog.store import CatalogStore
from catalog.subsonic import Credentials, ServerAddress, SubsonicClient, SubsonicError, token_for
from catalog.subsonic_ingest import cache_root, ingest_server, parse_song_path, song_path
from catalog.subsonic_state import SubsonicState
from catalog.subsonic_sync import playlist_entries, playlist_name, push_playlist, sync_feedback
from moodtune.config import Settings
from moodtune.errors import ConfigError, InputError

# -- addresses and credentials (no server) --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "base", "key"),
    [
        ("subsonic://ana@127.0.0.1:4533", "http://127.0.0.1:4533", "subsonic://ana@127.0.0.1:4533"),
        ("subsonics://ana@music.example.org", "https://music.example.org", "subsonics://ana@music.example.org"),
        ("subsonic://ana@nas.local:8080/navidrome/", "http://nas.local:8080/navidrome", "subsonic://ana@nas.local:8080/navidrome"),
        ("subsonic://ana%20b@[::1]:4533", "http://[::1]:4533", "subsonic://ana%20b@[::1]:4533"),
    ],
)
def test_server_addresses(text, base, key):
    address = ServerAddress.parse(text)
    assert (address.base_url, address.key) == (base, key)
    assert ServerAddress.from_key(address.key) == address


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("subsonic://ana:hunter2@127.0.0.1", "must not carry the password"),
        ("subsonic://127.0.0.1:4533", "names no user"),
        ("ftp://ana@host", "not a Subsonic server address"),
        ("subsonic://ana@host:port", "invalid port"),
    ],
)
def test_bad_server_addresses_say_what_to_write(text, words):
    with pytest.raises(InputError) as caught:
        ServerAddress.parse(text)
    assert words in caught.value.message and "hunter2" not in str(caught.value)


def test_credentials_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("MOODTUNE_SUBSONIC_API_KEY", raising=False)
    monkeypatch.delenv("MOODTUNE_SUBSONIC_PASSWORD", raising=False)
    with pytest.raises(ConfigError) as caught:
        Credentials.from_environment(prompt_for=None)
    assert "MOODTUNE_SUBSONIC_PASSWORD" in caught.value.hint
    monkeypatch.setenv("MOODTUNE_SUBSONIC_PASSWORD", "pw-123")
    assert Credentials.from_environment().password == "pw-123"
    monkeypatch.setenv("MOODTUNE_SUBSONIC_API_KEY", "key-456")
    credentials = Credentials.from_environment()
    assert credentials.api_key == "key-456" and "key-456" not in repr(credentials)


def test_the_token_is_the_one_the_subsonic_api_documents():
    # The example of the API's documentation (subsonic.org/pages/api.jsp, "Authentication").
    assert token_for("sesame", "c19b2d") == "26719a1196d2a940705a59634eb18eab"


def test_song_paths_name_the_server_and_song():
    path = song_path("subsonic://ana@127.0.0.1:4533", "a/b c")
    assert path == "subsonic://ana@127.0.0.1:4533/song/a%2Fb%20c"
    assert parse_song_path(path) == ("subsonic://ana@127.0.0.1:4533", "a/b c")
    assert parse_song_path("/music/a.flac") is None


# -- a real server --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(clip_library, start_supysonic, tmp_path_factory):
    return start_supysonic(clip_library, tmp_path_factory.mktemp("supysonic"))


@pytest.fixture(scope="module")
def from_folder(clip_library, tmp_path_factory) -> Settings:
    settings = Settings.load(home=tmp_path_factory.mktemp("folder-home")).ensure_dirs()
    summary = ingest_folder(settings, clip_library, workers=1, progress=False)
    assert summary.added == 6 and not summary.failed
    return settings


@pytest.fixture(scope="module")
def from_server(server, tmp_path_factory):
    """A home ingested from the server (2 workers), with the log of that run."""
    settings = Settings.load(home=tmp_path_factory.mktemp("server-home")).ensure_dirs()
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        summary = ingest_server(
            settings, server.address, credentials=Credentials(password=server.password), workers=2, progress=False
        )
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    return settings, summary, records


def client_for(server) -> SubsonicClient:
    return SubsonicClient(server.address, Credentials(password=server.password))


def test_server_ingest_equals_folder_ingest(server, from_folder, from_server):
    settings, summary, _ = from_server
    assert (summary.songs, summary.analysed, summary.downloaded, len(summary.failed)) == (6, 6, 6, 0)
    by_folder = {t.id: t for t in CatalogStore.open(from_folder).iter_tracks()}
    by_server = {t.id: t for t in CatalogStore.open(settings).iter_tracks()}
    assert sorted(by_server) == sorted(by_folder), "the same files give the same content hashes"
    for track_id, mine in by_server.items():
        theirs = by_folder[track_id]
        # Same up to float noise: the folder ran in this process, the server's songs in 2 worker
        # processes (one BLAS thread each), which moves the SVM's probabilities by ~4e-9.
        assert mine.emotion.probs == pytest.approx(theirs.emotion.probs, abs=1e-6)
        assert mine.style.probs == pytest.approx(theirs.style.probs, abs=1e-6)
        assert mine.tempo == pytest.approx(theirs.tempo)
        assert (mine.key, mine.mode, mine.title, mine.artist, mine.album) == (
            theirs.key, theirs.mode, theirs.title, theirs.artist, theirs.album
        )  # fmt: skip
        assert mine.source == "subsonic" and parse_song_path(mine.path) == (server_key(server), mine.extra["subsonic"]["song_id"])
    # The server's ids are kept beside our content hash.
    with client_for(server) as client:
        server_songs = {s["id"]: s for s in client.iter_songs()}
    rows = SubsonicState(settings).songs(server_key(server))
    assert set(rows) == set(server_songs) and all(r.status == "done" for r in rows.values())
    local = {p.name: track_id_for(p) for p in server.music.rglob("*.flac")}
    for song_id, row in rows.items():
        assert row.track_id == local[server_songs[song_id]["path"].rsplit("/", 1)[-1]]
    assert not any(cache_root(settings).rglob("*.flac")), "downloads are deleted after analysis"


def server_key(server) -> str:
    return ServerAddress.parse(server.address).key


def test_a_second_run_downloads_nothing(server, from_server):
    settings, _, _ = from_server
    again = ingest_server(settings, server.address, credentials=Credentials(password=server.password), progress=False)
    assert (again.songs, again.unchanged, again.analysed, again.downloaded, again.removed) == (6, 6, 0, 0, 0)


def test_the_password_and_token_stay_out_of_the_logs(server, from_server):
    _, _, records = from_server
    text = "\n".join(records)
    assert "/rest/download" in text and "t=***" in text, "the requests were logged, masked"
    assert server.password not in text and server.password.encode().hex() not in text
    assert not re.search(r"[?&](t|s|p)=(?!\*\*\*)", text)


def test_cli_ingest_takes_the_password_from_the_environment(server, from_server, monkeypatch, capsys):
    from moodtune.cli import main

    settings, _, _ = from_server
    monkeypatch.delenv("MOODTUNE_SUBSONIC_API_KEY", raising=False)
    monkeypatch.setenv("MOODTUNE_SUBSONIC_PASSWORD", server.password)
    assert main(["--home", str(settings.home), "ingest", server.address, "--workers", "1"]) == 0
    out = capsys.readouterr()
    assert "6 songs; 0 added" in out.out and "6 unchanged" in out.out
    assert server.password not in out.out + out.err
    monkeypatch.setenv("MOODTUNE_SUBSONIC_PASSWORD", "wrong-password")
    assert main(["--home", str(settings.home), "ingest", server.address]) == 2
    err = capsys.readouterr().err
    assert "refused the credentials" in err and "MOODTUNE_SUBSONIC_PASSWORD" in err and "wrong-password" not in err


def test_wrong_password_is_refused_clearly(server, settings):
    with pytest.raises(SubsonicError) as caught:
        ingest_server(settings, server.address, credentials=Credentials(password="nope-nope"), progress=False)
    assert "refused the credentials of user 'ana'" in caught.value.message and "nope-nope" not in str(caught.value)


def test_interrupted_ingest_resumes_without_analysing_a_song_twice(server, settings, monkeypatch):
    analysed: list[str] = []
    real = ingest._analyse

    def counting(path_str):
        analysed.append(track_id_for(Path(path_str)))
        return real(path_str)

    monkeypatch.setattr(ingest, "_analyse", counting)

    def stop_after_first_batch(summary):
        raise KeyboardInterrupt  # as if Ctrl-C arrived once the first two songs were stored

    options = {"credentials": Credentials(password=server.password), "workers": 1, "progress": False, "max_batch_songs": 2}
    with pytest.raises(KeyboardInterrupt):
        ingest_server(settings, server.address, on_batch=stop_after_first_batch, **options)
    store = CatalogStore.open(settings)
    assert len(analysed) == 2 and store.count() == 2
    assert not any(cache_root(settings).rglob("*.flac")), "an interrupted run leaves no downloads behind"
    summary = ingest_server(settings, server.address, **options)
    assert len(analysed) == 6 and len(set(analysed)) == 6, "no song analysed twice, none missing"
    assert (summary.unchanged, summary.analysed, summary.downloaded) == (2, 4, 4)
    assert store.count() == 6 and all(parse_song_path(t.path) for t in store.iter_tracks())


def test_added_and_removed_songs_are_picked_up(clip_library, spare_clip, start_supysonic, settings, tmp_path):
    music = tmp_path / "music"
    shutil.copytree(clip_library, music)
    server = start_supysonic(music, tmp_path / "supysonic")
    options = {"credentials": Credentials(password=server.password), "workers": 1, "progress": False}
    first = ingest_server(settings, server.address, **options)
    assert first.analysed == 6
    gone = sorted(music.rglob("*.flac"))[0]
    gone_id = track_id_for(gone)
    gone.unlink()
    shutil.copy(spare_clip, music / "album 0" / spare_clip.name)
    server.scan()
    second = ingest_server(settings, server.address, **options)
    assert (second.songs, second.analysed, second.removed, second.unchanged) == (6, 1, 1, 5)
    ids = {t.id for t in CatalogStore.open(settings).iter_tracks()}
    assert gone_id not in ids and track_id_for(spare_clip) in ids and len(ids) == 6
    assert gone_id not in {r.track_id for r in SubsonicState(settings).songs(server_key(server)).values()}


def test_a_reply_becomes_a_server_playlist_and_reads_back(server, from_server, reply_factory, track_factory):
    settings, _, _ = from_server
    tracks = sorted(CatalogStore.open(settings).iter_tracks(), key=lambda t: t.title)
    stranger = track_factory("not-on-server", mood="calm", genre="jazz")
    reply = reply_factory([tracks[3], stranger, tracks[0], tracks[5]], "calm piano for a rainy evening")
    name = playlist_name(reply.request)
    assert name == "Moodtune: calm piano for a rainy evening"
    with client_for(server) as client:
        pushed = push_playlist(settings, client, [r.track for r in reply.recommendations], name=name)
        assert not pushed.updated and list(pushed.skipped) == ["not-on-server"]
        expected = [t.extra["subsonic"]["song_id"] for t in (tracks[3], tracks[0], tracks[5])]
        entries = playlist_entries(client, pushed.playlist_id)
        assert [e["id"] for e in entries] == expected
        assert [e["title"] for e in entries] == [tracks[3].title, tracks[0].title, tracks[5].title]
        # The same request again replaces the songs of the same playlist.
        again = push_playlist(settings, client, [tracks[1], tracks[2]], name=name)
        assert again.updated and again.playlist_id == pushed.playlist_id
        assert [e["id"] for e in playlist_entries(client, again.playlist_id)] == [
            t.extra["subsonic"]["song_id"] for t in (tracks[1], tracks[2])
        ]
        assert [p["name"] for p in client.playlists()].count(name) == 1


def test_stars_and_ratings_become_feedback_and_thumbs_star(server, from_server, monkeypatch):
    from agent.profile import ProfileStore
    from agent.session import Moodtune

    settings, _, _ = from_server
    tracks = sorted(CatalogStore.open(settings).iter_tracks(), key=lambda t: t.title)
    song = {t.id: t.extra["subsonic"]["song_id"] for t in tracks}
    a, b, c, d, e, f = tracks
    with client_for(server) as client:
        client.star(song[a.id])  # up
        client.set_rating(song[b.id], 1)  # down
        client.set_rating(song[c.id], 5)  # up
        client.set_rating(song[d.id], 3)  # nothing
        client.star(song[e.id])
        client.set_rating(song[e.id], 2)  # a rating says more than a star: down
        counts = sync_feedback(settings, client, user_id="ana")
        assert counts == {"up": 2, "down": 2}
        rows = {track: kind for track, kind, _, _ in ProfileStore(settings.profile_db).rows("ana")}
        assert rows == {a.id: "up", b.id: "down", c.id: "up", e.id: "down"}
        assert sync_feedback(settings, client, user_id="ana") == {"up": 0, "down": 0}, "each star counts once"

        # Thumbs in Moodtune star on the server only when the user opted in.
        monkeypatch.setenv("MOODTUNE_SUBSONIC_PASSWORD", server.password)
        Moodtune(settings).feedback(user_id="ana", track_id=f.id, kind="up")
        assert song[f.id] not in {s["id"] for s in client.starred_songs()}
        opted_in = Moodtune(replace(settings, subsonic_star_feedback=True))
        opted_in.feedback(user_id="ana", track_id=f.id, kind="up")
        assert song[f.id] in {s["id"] for s in client.starred_songs()}
        assert sync_feedback(settings, client, user_id="ana") == {"up": 0, "down": 0}, "our own star is not counted again"
        opted_in.feedback(user_id="ana", track_id=a.id, kind="down")
        assert song[a.id] not in {s["id"] for s in client.starred_songs()}
    assert [k for t, k, _, _ in ProfileStore(settings.profile_db).rows("ana") if t == f.id] == ["up", "up"]


def test_songs_are_listed_by_album_where_search_finds_none(server):
    with client_for(server) as client:
        by_search = {s["id"] for s in client.iter_songs()}
        by_album = {s["id"] for s in client._songs_by_album({})}
    assert by_search == by_album and len(by_search) == 6


def test_a_raw_stream_is_the_original_file_too(server, tmp_path):
    """Where a server has downloads switched off, the client falls back to stream?format=raw."""
    with client_for(server) as client:
        song = next(iter(client.iter_songs()))
        client._fetch("stream", {"id": song["id"], "format": "raw"}, tmp_path / "raw.flac")
        client.download(song["id"], tmp_path / "download.flac")
    assert track_id_for(tmp_path / "raw.flac") == track_id_for(tmp_path / "download.flac")
    assert track_id_for(tmp_path / "raw.flac") == track_id_for(server.music / song["path"])
