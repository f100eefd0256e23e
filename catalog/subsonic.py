"""A thin Subsonic / OpenSubsonic client over httpx (Navidrome, Gonic, Airsonic, Ampache, supysonic).

Why our own ~250 lines and not a client library: Moodtune uses a dozen endpoints, httpx is
already a dependency (timeouts, pooling, streaming a download straight to a file, HTTP Basic),
and the libraries do not fit: py-sonic is one 2,700-line urllib class whose fallback for
servers without token auth sends the password as `p=enc:…` (hex, not encryption) and that
has no API-key auth; py-opensonic is built on aiohttp and mashumaro (two more dependency
trees) and runs an event loop in a thread for synchronous calls.

Authentication, in order:
- an OpenSubsonic API key (`apiKey=`), when MOODTUNE_SUBSONIC_API_KEY is set;
- token + salt (`t=md5(password + salt)`, `s=salt`, a new salt per client), the Subsonic
  standard since API 1.13;
- HTTP Basic in the Authorization header, for servers that do not take tokens (supysonic
  answers a token with "required parameter is missing", LDAP users get error 41). The
  password then travels in a header, never in a URL.
The password is never logged, printed or written to disk; httpx's own request log lines
have the credential parameters masked.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import re
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlparse

from moodtune.errors import ConfigError, InputError, MoodtuneError

log = logging.getLogger(__name__)

CLIENT_NAME = "moodtune"
API_VERSION = "1.13.0"  # token auth's version; every server we target speaks at least this
PASSWORD_ENV = "MOODTUNE_SUBSONIC_PASSWORD"
API_KEY_ENV = "MOODTUNE_SUBSONIC_API_KEY"
SCHEMES = {"subsonic": "http", "subsonics": "https", "http": "http", "https": "https"}
_SECRET_PARAMS = re.compile(r"([?&](?:t|s|p|apiKey)=)[^&\s\"']*")
PAGE = 500  # songs per search3 page


class SubsonicError(MoodtuneError):
    """The Subsonic server refused a request or could not be reached."""

    http_status = 502

    def __init__(self, message: str, *, code: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


class _MaskSecrets(logging.Filter):
    """httpx logs every request URL at INFO: mask the token, salt, password and API key in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_SECRET_PARAMS.sub(r"\1***", str(a)) if "=" in str(a) else a for a in record.args)
        record.msg = _SECRET_PARAMS.sub(r"\1***", str(record.msg))
        return True


_MASK = _MaskSecrets()


def mask(text: str) -> str:
    return _SECRET_PARAMS.sub(r"\1***", text)


@dataclass(frozen=True)
class ServerAddress:
    """`subsonic://USER@HOST[:PORT][/PATH]` (http), `subsonics://…` (https); no password in it."""

    scheme: str  # http or https
    user: str
    host: str
    port: int | None
    path: str = ""  # a server behind a reverse proxy under a prefix, e.g. /navidrome

    @classmethod
    def parse(cls, text: str) -> ServerAddress:
        url = urlparse(text.strip())
        if url.scheme not in SCHEMES or not url.hostname:
            raise InputError(
                f"{text!r} is not a Subsonic server address",
                hint="write subsonic://USER@HOST[:PORT] (subsonics:// for https), e.g. subsonic://ana@127.0.0.1:4533",
            )
        if url.password is not None:
            raise InputError(
                "the server address must not carry the password (it would stay in your shell history)",
                hint=f"remove ':password' and set {PASSWORD_ENV} in the environment, or type it when asked",
            )
        if not url.username:
            raise InputError(f"{text!r} names no user", hint="write subsonic://USER@HOST[:PORT]")
        try:
            port = url.port
        except ValueError as exc:
            raise InputError(f"{text!r} has an invalid port", hint="a port is a number, e.g. :4533") from exc
        return cls(SCHEMES[url.scheme], unquote(url.username), url.hostname, port, url.path.rstrip("/"))

    @property
    def base_url(self) -> str:
        port = f":{self.port}" if self.port else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{port}{self.path}"

    @property
    def key(self) -> str:
        """Names this server and user in Moodtune's state (a track's path, the ingest database)."""
        scheme = "subsonics" if self.scheme == "https" else "subsonic"
        port = f":{self.port}" if self.port else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{quote(self.user, safe='')}@{host}{port}{self.path}"

    @classmethod
    def from_key(cls, key: str) -> ServerAddress:
        return cls.parse(key)


@dataclass(frozen=True)
class Credentials:
    password: str | None = None
    api_key: str | None = None

    def __repr__(self) -> str:  # never show a secret in a traceback or a log line
        return f"Credentials(password={'***' if self.password else None}, api_key={'***' if self.api_key else None})"

    @classmethod
    def from_environment(cls, *, prompt_for: str | None = None) -> Credentials:
        """MOODTUNE_SUBSONIC_API_KEY or MOODTUNE_SUBSONIC_PASSWORD, else a prompt on a terminal."""
        if os.environ.get(API_KEY_ENV):
            return cls(api_key=os.environ[API_KEY_ENV])
        if os.environ.get(PASSWORD_ENV):
            return cls(password=os.environ[PASSWORD_ENV])
        if prompt_for and sys.stdin.isatty():
            password = getpass.getpass(f"password for {prompt_for}: ")
            if password:
                return cls(password=password)
        raise ConfigError(
            "no password for the Subsonic server",
            hint=f"set {PASSWORD_ENV} (or {API_KEY_ENV} for an OpenSubsonic API key) in the environment, "
            "or run in a terminal to be asked",
        )


class SubsonicClient:
    """One server, one user. Methods return the server's JSON objects (dicts) as the API defines them."""

    def __init__(
        self, address: ServerAddress | str, credentials: Credentials, *, timeout: float = 30.0, transport=None
    ) -> None:
        import httpx

        logging.getLogger("httpx").addFilter(_MASK)
        self.address = ServerAddress.parse(address) if isinstance(address, str) else address
        self._credentials = credentials
        self._http = httpx.Client(base_url=self.address.base_url, timeout=timeout, transport=transport)
        self.auth_mode = "apikey" if credentials.api_key else "token"
        self._checked = False

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SubsonicClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------------
    def _auth_params(self) -> dict[str, str]:
        if self.auth_mode == "apikey":
            return {"apiKey": self._credentials.api_key or ""}
        if self.auth_mode == "token":
            salt = secrets.token_hex(8)
            return {"u": self.address.user, "t": token_for(self._credentials.password or "", salt), "s": salt}
        return {"u": self.address.user}  # basic: the header carries the password

    def _params(self, params: dict[str, Any] | None) -> dict[str, Any]:
        return {**self._auth_params(), "v": API_VERSION, "c": CLIENT_NAME, "f": "json", **(params or {})}

    def _auth(self):
        import httpx

        if self.auth_mode == "basic":
            return httpx.BasicAuth(self.address.user, self._credentials.password or "")
        return None

    def _send(self, method: str, params: dict[str, Any] | None):
        import httpx

        try:
            response = self._http.get(f"/rest/{method}", params=self._params(params), auth=self._auth())
        except httpx.HTTPError as exc:
            raise SubsonicError(
                f"cannot reach the Subsonic server at {self.address.base_url}: {type(exc).__name__}",
                hint="check that the server runs and the address and port are right",
            ) from exc
        return _answer(method, response)

    def call(self, method: str, **params: Any) -> dict:
        """One API call; the `subsonic-response` object, or SubsonicError with the server's code."""
        if not self._checked:
            self.ping()
        return self._send(method, params)

    def ping(self) -> dict:
        """Check the credentials, choosing the auth mode the server takes (see the module's doc)."""
        try:
            answer = self._send("ping", None)
        except SubsonicError as exc:
            # 10: a required parameter (the password) is missing: supysonic takes no token.
            # 41: token authentication is not supported for this user (LDAP).
            if self.auth_mode != "token" or exc.code not in (10, 41) or not self._credentials.password:
                raise _credential_error(exc, self.address) from exc
            log.debug("%s takes no token authentication; using HTTP Basic", self.address.base_url)
            self.auth_mode = "basic"
            try:
                answer = self._send("ping", None)
            except SubsonicError as again:
                raise _credential_error(again, self.address) from again
        self._checked = True
        return answer

    # -- the library -----------------------------------------------------------------------
    def music_folders(self) -> list[dict]:
        return _as_list(self.call("getMusicFolders").get("musicFolders", {}).get("musicFolder"))

    def iter_songs(self, *, music_folder_id: str | None = None) -> Iterator[dict]:
        """Every song: search3 with an empty query in pages; getAlbumList2 + getAlbum where that finds none."""
        offset, found = 0, 0
        extra = {"musicFolderId": music_folder_id} if music_folder_id is not None else {}
        while True:
            page = self.call(
                "search3", query="", songCount=PAGE, songOffset=offset, artistCount=0, albumCount=0, **extra
            )
            songs = _as_list(page.get("searchResult3", {}).get("song"))
            yield from songs
            found += len(songs)
            if len(songs) < PAGE:
                break
            offset += PAGE
        if found == 0:  # servers that want a search term: walk the albums instead
            yield from self._songs_by_album(extra)

    def _songs_by_album(self, extra: dict) -> Iterator[dict]:
        offset = 0
        while True:
            page = self.call("getAlbumList2", type="alphabeticalByName", size=PAGE, offset=offset, **extra)
            albums = _as_list(page.get("albumList2", {}).get("album"))
            for album in albums:
                yield from _as_list(self.call("getAlbum", id=album["id"]).get("album", {}).get("song"))
            if len(albums) < PAGE:
                return
            offset += PAGE

    def song(self, song_id: str) -> dict:
        return self.call("getSong", id=song_id).get("song", {})

    def starred_songs(self) -> list[dict]:
        return _as_list(self.call("getStarred2").get("starred2", {}).get("song"))

    def download(self, song_id: str, destination: Path) -> int:
        """The song's original file (not a transcode) streamed to `destination`; its size in bytes.

        Where downloads are switched off for the user (error 50), `stream` with format=raw, which
        is the original file too.
        """
        if not self._checked:
            self.ping()
        try:
            return self._fetch("download", {"id": song_id}, destination)
        except SubsonicError as exc:
            if exc.code != 50:
                raise
            return self._fetch("stream", {"id": song_id, "format": "raw"}, destination)

    def _fetch(self, method: str, params: dict[str, Any], destination: Path) -> int:
        import httpx

        song_id = params["id"]
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".part")
        try:
            with self._http.stream(
                "GET", f"/rest/{method}", params=self._params(params), auth=self._auth()
            ) as response:
                kind = response.headers.get("content-type", "")
                if response.status_code != 200 or kind.startswith(("application/json", "text/xml", "application/xml")):
                    response.read()
                    _answer(method, response)  # raises with the server's error
                    raise SubsonicError(f"download of song {song_id} returned no audio ({kind})")
                size = 0
                with open(partial, "wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
                        size += len(chunk)
        except httpx.HTTPError as exc:
            partial.unlink(missing_ok=True)
            raise SubsonicError(f"download of song {song_id} failed: {type(exc).__name__}") from exc
        partial.replace(destination)
        return size

    def stream_url(self, song_id: str, *, allow_password: bool = False) -> str:
        """A URL another program (MPD) can play without Moodtune. It carries a credential:
        a token + salt (or API key), or, for servers without tokens, the password itself, which
        only `allow_password` permits."""
        if not self._checked:
            self.ping()
        if self.auth_mode == "basic":
            if not allow_password:
                raise SubsonicError(
                    f"{self.address.base_url} takes no token authentication, so a stream URL would carry your password",
                    hint="allow it explicitly (--allow-password-in-urls), or use a server with token or API-key auth",
                )
            params = {"u": self.address.user, "p": "enc:" + (self._credentials.password or "").encode().hex()}
        else:
            params = self._auth_params()
        query = urlencode({**params, "v": API_VERSION, "c": CLIENT_NAME, "id": song_id})
        return f"{self.address.base_url}/rest/stream?{query}"

    # -- writing back ----------------------------------------------------------------------
    def playlists(self) -> list[dict]:
        return _as_list(self.call("getPlaylists").get("playlists", {}).get("playlist"))

    def playlist(self, playlist_id: str) -> dict:
        return self.call("getPlaylist", id=playlist_id).get("playlist", {})

    def create_playlist(self, name: str, song_ids: list[str]) -> None:
        self.call("createPlaylist", name=name, songId=list(song_ids))

    def update_playlist(self, playlist_id: str, *, remove_indexes: list[int], add_song_ids: list[str]) -> None:
        self.call(
            "updatePlaylist",
            playlistId=playlist_id,
            songIndexToRemove=[str(i) for i in remove_indexes],
            songIdToAdd=list(add_song_ids),
        )

    def star(self, song_id: str) -> None:
        try:
            self.call("star", id=song_id)
        except SubsonicError as exc:
            if "already starred" not in exc.message:
                raise

    def unstar(self, song_id: str) -> None:
        try:
            self.call("unstar", id=song_id)
        except SubsonicError as exc:
            if "not starred" not in exc.message:
                raise

    def set_rating(self, song_id: str, rating: int) -> None:
        self.call("setRating", id=song_id, rating=rating)


def token_for(password: str, salt: str) -> str:
    """Subsonic's token: md5 of the password followed by the salt, in hex."""
    return hashlib.md5((password + salt).encode("utf-8")).hexdigest()


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _answer(method: str, response) -> dict:
    if response.status_code == 401:
        raise SubsonicError(f"{method}: the server refused the credentials (HTTP 401)", code=40)
    try:
        body = response.json()["subsonic-response"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SubsonicError(
            f"{method}: the server's answer is not a Subsonic response (HTTP {response.status_code})",
            hint="check that the address is the Subsonic server itself (its /rest API)",
        ) from exc
    if body.get("status") != "ok":
        error = body.get("error") or {}
        raise SubsonicError(f"{method}: {error.get('message', 'failed')}", code=error.get("code"))
    return body


def _credential_error(exc: SubsonicError, address: ServerAddress) -> SubsonicError:
    if exc.code in (40, 41, 44, 10):
        return SubsonicError(
            f"{address.base_url} refused the credentials of user {address.user!r}: {exc.message}",
            code=exc.code,
            hint=f"check the user name and {PASSWORD_ENV} (or {API_KEY_ENV})",
        )
    return exc
