"""A reply as a playlist file: m3u8 (extended M3U, UTF-8) and XSPF.

Each track's location comes from `locate(track)`: by default its local file (absolute, or
relative to the playlist's folder with `relative_to`). A track that has no location (one that
is only on a Subsonic server, when no stream URL is asked for) is written as a comment in
m3u8 and left out of XSPF, so every entry a player sees is playable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote
from xml.etree import ElementTree as ET

from moodtune.types import Reply, Track

Locate = Callable[[Track], "str | None"]
XSPF_NS = "http://xspf.org/ns/0/"


def local_file(track: Track, *, relative_to: Path | None = None) -> str | None:
    path = Path(track.path)
    if not path.is_absolute() or not path.is_file():
        return None
    if relative_to is not None:
        return os.path.relpath(path, Path(relative_to).resolve())
    return str(path)


def reply_tracks(reply: Reply) -> list[Track]:
    return [rec.track for rec in reply.recommendations]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def to_m3u8(tracks: Sequence[Track], *, title: str = "", locate: Locate | None = None) -> str:
    locate = locate or local_file
    lines = ["#EXTM3U"]
    if title:
        lines.append(f"#PLAYLIST:{_one_line(title)}")
    for track in tracks:
        where = locate(track)
        label = _one_line(f"{track.artist} - {track.title}" if track.artist else track.title)
        if where is None:
            lines.append(f"# not playable from here: {label} ({_one_line(track.path)})")
            continue
        lines.append(f"#EXTINF:{round(track.duration) if track.duration else -1},{label}")
        lines.append(where)
    return "\n".join(lines) + "\n"


def _uri(location: str) -> str:
    if "://" in location:
        return location
    if Path(location).is_absolute():
        return Path(location).as_uri()
    return quote(location.replace(os.sep, "/"))


def to_xspf(tracks: Sequence[Track], *, title: str = "", locate: Locate | None = None) -> str:
    locate = locate or local_file
    ET.register_namespace("", XSPF_NS)
    root = ET.Element(f"{{{XSPF_NS}}}playlist", version="1")
    if title:
        ET.SubElement(root, f"{{{XSPF_NS}}}title").text = _one_line(title)
    ET.SubElement(root, f"{{{XSPF_NS}}}creator").text = "Moodtune"
    track_list = ET.SubElement(root, f"{{{XSPF_NS}}}trackList")
    for track in tracks:
        where = locate(track)
        if where is None:
            continue
        entry = ET.SubElement(track_list, f"{{{XSPF_NS}}}track")
        ET.SubElement(entry, f"{{{XSPF_NS}}}location").text = _uri(where)
        ET.SubElement(entry, f"{{{XSPF_NS}}}identifier").text = f"moodtune:track:{track.id}"
        ET.SubElement(entry, f"{{{XSPF_NS}}}title").text = track.title
        if track.artist:
            ET.SubElement(entry, f"{{{XSPF_NS}}}creator").text = track.artist
        if track.album:
            ET.SubElement(entry, f"{{{XSPF_NS}}}album").text = track.album
        if track.duration:
            ET.SubElement(entry, f"{{{XSPF_NS}}}duration").text = str(round(track.duration * 1000))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_playlist(reply: Reply, path: Path, *, locate: Locate | None = None) -> Path:
    """The reply's tracks to `path`: XSPF for .xspf, m3u8 otherwise; local files relative to its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    relative = locate or (lambda track: local_file(track, relative_to=path.parent))
    render = to_xspf if path.suffix.lower() == ".xspf" else to_m3u8
    path.write_text(render(reply_tracks(reply), title=reply.request, locate=relative), encoding="utf-8")
    return path


def _http_locate(base_url: str) -> Locate:
    from urllib.parse import quote as quote_id

    base = base_url.rstrip("/")

    def locate(track: Track) -> str | None:
        return f"{base}/api/v1/tracks/{quote_id(track.id, safe='')}/audio" if local_file(track) else None

    return locate


def http_m3u8(reply: Reply, *, base_url: str) -> str:
    """The reply for a player talking to Moodtune's HTTP API: each track as its /api/v1/tracks/{id}/audio URL."""
    return to_m3u8(reply_tracks(reply), title=reply.request, locate=_http_locate(base_url))


def http_xspf(reply: Reply, *, base_url: str) -> str:
    """`http_m3u8` as XSPF."""
    return to_xspf(reply_tracks(reply), title=reply.request, locate=_http_locate(base_url))
