"""Replies as m3u8 and XSPF files, read back as a player would."""

from __future__ import annotations

import argparse
from pathlib import Path
from xml.etree import ElementTree as ET

from catalog.playlists import XSPF_NS, to_m3u8, to_xspf, write_playlist
from catalog.server_commands import deliver_reply


def tracks_with_files(tmp_path, track_factory):
    files = []
    for name in ("Rain on glass.flac", "Über Nacht #2.flac"):
        path = tmp_path / "music" / "album one" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"fLaC")
        files.append(path)
    first = track_factory("a1", mood="calm", genre="classical", title="Rain on Glass", artist="Ana").with_(
        path=str(files[0]), duration=183.4, album="Weather"
    )
    second = track_factory("b2", mood="sad", genre="jazz", title="Über Nacht", artist="Ben").with_(
        path=str(files[1]), duration=61.0
    )
    remote = track_factory("c3", mood="calm", genre="pop", title="Far Away").with_(
        path="subsonic://ana@127.0.0.1:4533/song/77"
    )
    return [first, remote, second]


def test_m3u8_lists_playable_files_in_order_and_notes_the_rest(tmp_path, track_factory):
    tracks = tracks_with_files(tmp_path, track_factory)
    text = to_m3u8(tracks, title="calm\nmusic")
    lines = text.splitlines()
    assert lines[:2] == ["#EXTM3U", "#PLAYLIST:calm music"]
    assert lines[2:4] == ["#EXTINF:183,Ana - Rain on Glass", tracks[0].path]
    assert lines[4].startswith("# not playable from here: Artist - Far Away (subsonic://")
    assert lines[5:] == ["#EXTINF:61,Ben - Über Nacht", tracks[2].path]
    entries = [line for line in lines if line and not line.startswith("#")]
    assert all(Path(entry).is_file() for entry in entries)


def test_xspf_is_valid_xml_with_file_uris(tmp_path, track_factory):
    tracks = tracks_with_files(tmp_path, track_factory)
    root = ET.fromstring(to_xspf(tracks, title="calm music").encode())
    ns = {"x": XSPF_NS}
    assert root.tag == f"{{{XSPF_NS}}}playlist" and root.findtext("x:title", namespaces=ns) == "calm music"
    entries = root.findall("x:trackList/x:track", ns)
    assert [e.findtext("x:title", namespaces=ns) for e in entries] == ["Rain on Glass", "Über Nacht"]
    assert [e.findtext("x:location", namespaces=ns) for e in entries] == [Path(tracks[0].path).as_uri(), Path(tracks[2].path).as_uri()]
    assert entries[0].findtext("x:duration", namespaces=ns) == "183400"
    assert entries[0].findtext("x:album", namespaces=ns) == "Weather"


def test_saved_playlists_point_at_files_relative_to_their_folder(tmp_path, track_factory, reply_factory):
    reply = reply_factory(tracks_with_files(tmp_path, track_factory), "calm piano")
    m3u = write_playlist(reply, tmp_path / "lists" / "calm.m3u8")
    entries = [line for line in m3u.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    assert entries == ["../music/album one/Rain on glass.flac", "../music/album one/Über Nacht #2.flac"]
    assert all((m3u.parent / entry).resolve().is_file() for entry in entries)
    xspf = write_playlist(reply, tmp_path / "lists" / "calm.xspf")
    locations = [e.text for e in ET.parse(xspf).getroot().iter(f"{{{XSPF_NS}}}location")]
    assert locations == ["../music/album%20one/Rain%20on%20glass.flac", "../music/album%20one/%C3%9Cber%20Nacht%20%232.flac"]


def test_recommend_outputs_write_both_files(tmp_path, track_factory, reply_factory, settings, capsys):
    reply = reply_factory(tracks_with_files(tmp_path, track_factory))
    args = argparse.Namespace(m3u=str(tmp_path / "r.m3u8"), xspf=str(tmp_path / "r.xspf"), subsonic_playlist=None, mpd=None)
    deliver_reply(args, settings, reply)
    assert (tmp_path / "r.m3u8").read_text(encoding="utf-8").startswith("#EXTM3U")
    assert ET.parse(tmp_path / "r.xspf").getroot().tag.endswith("playlist")
    assert "saved 3 tracks" in capsys.readouterr().err
