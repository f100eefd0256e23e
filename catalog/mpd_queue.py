"""A reply's tracks into a running MPD's queue (python-mpd2).

Where MPD is: `Settings.mpd_address` (MOODTUNE_MPD: "HOST:PORT", "HOST", a socket path, each
optionally "PASSWORD@…"), else MPD's own MPD_HOST / MPD_PORT, else localhost:6600.

Each track goes in as what MPD can open:
- a local file under MPD's music_directory (Settings.mpd_music_dir, MOODTUNE_MPD_MUSIC_DIR, or
  asked of MPD, which answers only over its local socket): the path relative to it;
- any other local file, over MPD's local socket only: its absolute path;
- a track from a Subsonic server: a stream URL (`stream_url`), which carries a credential
  for that server (a token + salt, an API key, or for servers without tokens the password,
  only when allowed); MPD keeps it in its queue and state file.
A track none of these fit is skipped with the reason, never silently.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from moodtune.config import Settings
from moodtune.errors import MoodtuneError
from moodtune.types import Track

log = logging.getLogger(__name__)
DEFAULT_PORT = 6600
StreamURL = Callable[[Track], "str | None"]


class MPDError(MoodtuneError):
    """MPD cannot be reached or refused a command."""

    http_status = 502


@dataclass(frozen=True)
class MPDAddress:
    host: str  # a host name, or the path of MPD's local socket
    port: int = DEFAULT_PORT
    password: str | None = field(default=None, repr=False)

    @property
    def is_socket(self) -> bool:
        return self.host.startswith(("/", "@"))

    def __str__(self) -> str:
        return self.host if self.is_socket else f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str | None) -> MPDAddress:
        text = (text or "").strip()
        if not text:
            text = os.environ.get("MPD_HOST", "localhost")
            if os.environ.get("MPD_PORT") and not text.startswith("/"):
                text = f"{text}:{os.environ['MPD_PORT']}"
        password = None
        if "@" in text[1:]:  # "@name" alone is an abstract socket
            password, _, text = text.rpartition("@")
        if text.startswith(("/", "@")):
            return cls(text, 0, password or None)
        host, sep, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
        try:
            return cls(host if sep else text, int(port) if sep else DEFAULT_PORT, password or None)
        except ValueError as exc:
            raise MPDError(f"{text!r} is not an MPD address", hint="write HOST:PORT, e.g. 127.0.0.1:6600") from exc


@dataclass
class QueueResult:
    address: str
    queued: list[tuple[str, str]] = field(default_factory=list)  # (track id, what MPD was given)
    skipped: dict[str, str] = field(default_factory=dict)  # track id -> reason

    def __str__(self) -> str:
        # Stream URLs carry credentials: say how many, never print them.
        return f"queued {len(self.queued)} tracks in MPD at {self.address}; {len(self.skipped)} skipped"


def connect(address: MPDAddress, *, timeout: float = 10.0):
    import mpd

    client = mpd.MPDClient()
    client.timeout = timeout
    try:
        client.connect(address.host, address.port)
        if address.password:
            client.password(address.password)
    except (OSError, mpd.MPDError) as exc:
        raise MPDError(
            f"cannot reach MPD at {address}: {exc}",
            hint="start MPD, or point MOODTUNE_MPD at it (HOST:PORT or its socket path)",
        ) from exc
    return client


def _music_dir(client, address: MPDAddress, given: Path | None) -> Path | None:
    if given:
        return Path(given).expanduser().resolve()
    if address.is_socket:
        try:
            return Path(client.config()).resolve()
        except Exception:  # MPD answers `config` to local clients only; older ones not at all
            return None
    return None


def _wait_for_update(client, *, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while "updating_db" in client.status() and time.monotonic() < deadline:
        time.sleep(0.1)


def queue_tracks(
    tracks: Sequence[Track],
    *,
    address: MPDAddress | str | None = None,
    settings: Settings | None = None,
    music_dir: Path | None = None,
    stream_url: StreamURL | None = None,
    clear: bool = False,
    play: bool = False,
) -> QueueResult:
    import mpd

    if not isinstance(address, MPDAddress):
        address = MPDAddress.parse(address or (settings.mpd_address if settings else None))
    music_dir = music_dir or (settings.mpd_music_dir if settings else None)
    result = QueueResult(str(address))
    client = connect(address)
    try:
        root = _music_dir(client, address, music_dir)
        if clear:
            client.clear()
        updated = False
        for track in tracks:
            uri, why = _location(track, root, address, stream_url)
            if uri is None:
                result.skipped[track.id] = why
                continue
            try:
                try:
                    client.addid(uri)
                except mpd.CommandError as exc:
                    if uri.startswith(("/", "http://", "https://")) or updated or "[50@" not in str(exc):
                        raise
                    client.update()  # a file added to the music folder since MPD last read it
                    _wait_for_update(client)
                    updated = True
                    client.addid(uri)
            except mpd.CommandError as exc:
                result.skipped[track.id] = f"MPD refused it: {str(exc).replace(uri, '<uri>')}"
                continue
            result.queued.append((track.id, uri))
        if play and result.queued:
            client.play()
    except (OSError, mpd.ConnectionError) as exc:
        raise MPDError(f"the connection to MPD at {address} broke: {exc}", hint="check that MPD is running") from exc
    finally:
        try:
            client.close()
            client.disconnect()
        except Exception:
            pass
    return result


def _location(
    track: Track, root: Path | None, address: MPDAddress, stream_url: StreamURL | None
) -> tuple[str | None, str]:
    path = Path(track.path)
    if path.is_absolute() and path.is_file():
        resolved = path.resolve()
        if root is not None and resolved.is_relative_to(root):
            return resolved.relative_to(root).as_posix(), ""
        if address.is_socket:
            return str(resolved), ""
    url = stream_url(track) if stream_url else None
    if url:
        return url, ""
    if path.is_absolute() and path.is_file():
        return None, "the file is outside MPD's music_directory (set MOODTUNE_MPD_MUSIC_DIR, or use MPD's local socket)"
    return None, "no local file, and no server stream for it (ingest its Subsonic server, with its password set)"
