"""A reply's tracks in a real MPD's queue (Debian's mpd on a loopback port, its own config in a temp dir)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from catalog.ingest import track_id_for
from catalog.mpd_queue import MPDAddress, MPDError, connect, queue_tracks
from catalog.subsonic import Credentials, ServerAddress, SubsonicClient
from catalog.subsonic_ingest import song_path
from catalog.subsonic_state import SubsonicState
from catalog.subsonic_sync import ServerStreams


@pytest.fixture(scope="module")
def mpd_server(clip_library, start_mpd, tmp_path_factory):
    return start_mpd(clip_library, tmp_path_factory.mktemp("mpd"))


@pytest.fixture
def local_tracks(clip_library, track_factory):
    files = sorted(clip_library.rglob("*.flac"))
    return [
        track_factory(track_id_for(p), mood="calm", genre="jazz", title=p.stem).with_(path=str(p), duration=6.0)
        for p in files
    ]


def queue_of(server) -> list[str]:
    client = connect(MPDAddress.parse(server.address))
    try:
        return [entry["file"] for entry in client.playlistinfo()]
    finally:
        client.disconnect()


@pytest.mark.parametrize(
    ("text", "host", "port", "password"),
    [
        ("127.0.0.1:6601", "127.0.0.1", 6601, None),
        ("music-box", "music-box", 6600, None),
        ("pw@127.0.0.1:6602", "127.0.0.1", 6602, "pw"),
        ("/run/mpd/socket", "/run/mpd/socket", 0, None),
    ],
)
def test_mpd_addresses(text, host, port, password):
    address = MPDAddress.parse(text)
    assert (address.host, address.port, address.password) == (host, port, password)
    assert "pw" not in repr(address)


def test_local_files_are_queued_relative_to_the_music_directory(mpd_server, local_tracks, clip_library, reply_factory):
    reply = reply_factory(local_tracks[:4])
    # MPD has not read its music folder yet: queueing asks it to, once.
    result = queue_tracks(
        [r.track for r in reply.recommendations], address=mpd_server.address, music_dir=clip_library, clear=True
    )
    expected = [str(Path(t.path).relative_to(clip_library)) for t in local_tracks[:4]]
    assert [uri for _, uri in result.queued] == expected and not result.skipped
    assert queue_of(mpd_server) == expected


def test_what_mpd_cannot_open_is_skipped_with_the_reason(mpd_server, local_tracks, clip_library, tmp_path, track_factory):
    outside = tmp_path / "elsewhere.flac"
    outside.write_bytes(Path(local_tracks[0].path).read_bytes())
    tracks = [
        local_tracks[0],
        local_tracks[0].with_(id="outside", path=str(outside)),
        track_factory("remote", mood="calm", genre="jazz").with_(path="subsonic://ana@127.0.0.1:1/song/x"),
    ]
    result = queue_tracks(tracks, address=mpd_server.address, music_dir=clip_library, clear=True)
    assert [t for t, _ in result.queued] == [local_tracks[0].id]
    assert "outside MPD's music_directory" in result.skipped["outside"]
    assert "no local file" in result.skipped["remote"]
    assert len(queue_of(mpd_server)) == 1


def test_unreachable_mpd_says_how_to_point_at_it(local_tracks):
    with pytest.raises(MPDError) as caught:
        queue_tracks(local_tracks, address="127.0.0.1:1")
    assert "MOODTUNE_MPD" in caught.value.hint


def test_server_songs_are_queued_as_streams_mpd_plays(
    mpd_server, clip_library, start_supysonic, settings, track_factory, tmp_path
):
    server = start_supysonic(clip_library, tmp_path / "supysonic")
    key = ServerAddress.parse(server.address).key
    credentials = Credentials(password=server.password)
    state = SubsonicState(settings)
    tracks = []
    with SubsonicClient(server.address, credentials) as client:
        for song in sorted(client.iter_songs(), key=lambda s: s["path"])[:2]:
            track_id = track_id_for(clip_library / song["path"])
            state.set_song(key, song["id"], track_id=track_id, size=song["size"], status="done")
            tracks.append(track_factory(track_id, mood="calm", genre="jazz").with_(path=song_path(key, song["id"])))
    # supysonic takes no tokens: a stream URL would carry the password, which needs a yes.
    with ServerStreams(settings, credentials=credentials) as streams:
        refused = queue_tracks(tracks, address=mpd_server.address, stream_url=streams, clear=True)
    assert not refused.queued and len(refused.skipped) == 2
    with ServerStreams(settings, credentials=credentials, allow_password=True) as streams:
        result = queue_tracks(tracks, address=mpd_server.address, stream_url=streams, clear=True, play=True)
    queued = queue_of(mpd_server)
    assert len(result.queued) == 2 and queued == [uri for _, uri in result.queued]
    assert all(uri.startswith(f"{server.url}/rest/stream?") for uri in queued)
    assert server.password not in str(result)
    client = connect(MPDAddress.parse(mpd_server.address))
    try:
        deadline = time.monotonic() + 20
        status = client.status()
        while float(status.get("elapsed", 0)) <= 0.5 and "error" not in status and time.monotonic() < deadline:
            time.sleep(0.2)
            status = client.status()
        assert status["state"] == "play" and "error" not in status and float(status["elapsed"]) > 0.5
        assert int(status.get("duration", "0").split(".")[0] or 0) >= 5, "MPD decoded the streamed FLAC"
        client.stop()
    finally:
        client.disconnect()


def test_moodtune_play_queues_a_logged_reply(mpd_server, local_tracks, clip_library, settings, reply_factory, capsys):
    from agent.review import ReviewLog
    from moodtune.cli import main

    reply = reply_factory(local_tracks[2:5])
    ReviewLog(settings).record(reply)
    code = main([
        "--home", str(settings.home), "play", "--reply", reply.reply_id, "--mpd", mpd_server.address,
        "--mpd-music-dir", str(clip_library), "--clear", "--no-start",
    ])  # fmt: skip
    assert code == 0 and "queued 3 tracks" in capsys.readouterr().out
    assert queue_of(mpd_server) == [str(Path(t.path).relative_to(clip_library)) for t in local_tracks[2:5]]
