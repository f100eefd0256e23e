"""Back to the Subsonic server: a reply as a server playlist, stars and ratings as feedback, thumbs as stars.

- `push_playlist`: the reply's tracks that the server holds become the playlist
  "Moodtune: <request>" (createPlaylist; updatePlaylist when one of that name is the user's).
- `sync_feedback`: the user's stars (getStarred2) and ratings (the songs' userRating) become
  profile feedback: a star or a rating of 4-5 is "up", 1-2 is "down" (a rating says more than
  a star: a starred song rated 1 is "down"), 3 is nothing. Each song's feedback is recorded
  once; a changed one (5 to 1) adds the new kind.
- `star_for_feedback`: with `subsonic_star_feedback` on (MOODTUNE_SUBSONIC_STAR=1), a thumb up
  (or "more like this") in Moodtune stars the song on every server that has it, a thumb down
  unstars it. The credentials come from the serving process's environment.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from catalog.store import CatalogStore
from catalog.subsonic import Credentials, ServerAddress, SubsonicClient
from catalog.subsonic_state import SubsonicState
from moodtune.config import Settings
from moodtune.errors import ConfigError, MoodtuneError
from moodtune.types import Track

log = logging.getLogger(__name__)

PLAYLIST_PREFIX = "Moodtune: "
MAX_NAME_CHARS = 80


def playlist_name(request: str) -> str:
    words = " ".join(request.split())
    if len(words) > MAX_NAME_CHARS - len(PLAYLIST_PREFIX):
        words = words[: MAX_NAME_CHARS - len(PLAYLIST_PREFIX) - 1].rstrip() + "…"
    return PLAYLIST_PREFIX + (words or "recommendations")


@dataclass
class PushedPlaylist:
    playlist_id: str
    name: str
    song_ids: list[str]
    skipped: dict[str, str] = field(default_factory=dict)  # track id -> why it is not in the playlist
    updated: bool = False  # an existing playlist of the same name was replaced


def push_playlist(
    settings: Settings, client: SubsonicClient, tracks: Sequence[Track], *, name: str
) -> PushedPlaylist:
    """The tracks, in order, as the server playlist `name`; tracks the server does not hold are skipped."""
    state = SubsonicState(settings)
    key = client.address.key
    by_track = state.song_ids(key, [t.id for t in tracks])
    song_ids, skipped = [], {}
    for track in tracks:
        if track.id in by_track:
            song_ids.append(by_track[track.id])
        else:
            skipped[track.id] = f"{track.title!r} is not on {key} (ingest the server first)"
    mine = [
        p for p in client.playlists() if p.get("name") == name and p.get("owner", client.address.user) == client.address.user
    ]
    if mine:
        playlist = mine[0]
        count = int(playlist.get("songCount") or len(playlist_entries(client, str(playlist["id"]))))
        client.update_playlist(str(playlist["id"]), remove_indexes=list(range(count)), add_song_ids=song_ids)
        return PushedPlaylist(str(playlist["id"]), name, song_ids, skipped, updated=True)
    client.create_playlist(name, song_ids)
    created = [p for p in client.playlists() if p.get("name") == name]
    if not created:
        raise MoodtuneError(f"the server did not keep the playlist {name!r}", hint="check the server's log")
    return PushedPlaylist(str(created[-1]["id"]), name, song_ids, skipped)


def playlist_entries(client: SubsonicClient, playlist_id: str) -> list[dict]:
    entries = client.playlist(playlist_id).get("entry")
    return entries if isinstance(entries, list) else ([entries] if entries else [])


def feedback_kind(song: dict, *, starred: bool) -> str | None:
    rating = int(song.get("userRating") or 0)
    if rating in (1, 2):
        return "down"
    if rating >= 4 or starred:
        return "up"
    return None


def sync_feedback(
    settings: Settings,
    client: SubsonicClient,
    *,
    user_id: str,
    songs: dict[str, dict] | None = None,
    store: CatalogStore | None = None,
    state: SubsonicState | None = None,
) -> dict[str, int]:
    """Record the server user's new stars and ratings as `user_id`'s feedback; the count recorded per kind."""
    from agent.profile import ProfileStore
    from catalog.subsonic_ingest import list_songs

    store = store or CatalogStore.open(settings)
    state = state or SubsonicState(settings)
    key = client.address.key
    if songs is None:
        songs = list_songs(client)
    starred = {str(s["id"]) for s in client.starred_songs()} | {i for i, s in songs.items() if s.get("starred")}
    known = {s: r.track_id for s, r in state.songs(key).items() if r.status == "done" and r.track_id}
    recorded = state.feedback(key, user_id)
    wanted = {}
    for song_id, song in songs.items():
        kind = feedback_kind(song, starred=song_id in starred)
        if song_id in known and kind != recorded.get(song_id):
            wanted[song_id] = kind
    tracks = {t.id: t for t in store.get(list({known[s] for s, k in wanted.items() if k}))}
    profiles = ProfileStore(settings.profile_db)
    counts = {"up": 0, "down": 0}
    for song_id, kind in wanted.items():
        if kind is None:  # unstarred or rated 3 since: the next star counts again
            state.forget_feedback(key, song_id, user_id)
            continue
        track = tracks.get(known[song_id])
        if track is None:
            continue
        profiles.record(user_id=user_id, track=track, kind=kind)
        state.set_feedback(key, song_id, user_id, kind)
        counts[kind] += 1
    return counts


def star_for_feedback(settings: Settings, *, user_id: str, track_id: str, kind: str) -> list[str]:
    """A thumb in Moodtune as a star on each server holding the track; the servers changed.

    Never raises: the feedback is already stored, a server that cannot be reached is logged.
    """
    if kind not in ("up", "more_like_this", "down"):
        return []
    state = SubsonicState(settings)
    changed = []
    for key, song_id in state.songs_of_track(track_id):
        try:
            # A short timeout: the user's thumb waits for this answer.
            with SubsonicClient(ServerAddress.parse(key), Credentials.from_environment(), timeout=5.0) as client:
                if kind == "down":
                    client.unstar(song_id)
                else:
                    client.star(song_id)
        except (MoodtuneError, ConfigError) as exc:
            log.warning("could not %s song %s on %s: %s", "unstar" if kind == "down" else "star", song_id, key, exc)
            continue
        # The star came from this feedback: the next sync must not count it a second time.
        state.set_feedback(key, song_id, user_id, "down" if kind == "down" else "up")
        changed.append(key)
    return changed


class ServerStreams:
    """track -> a stream URL on a server that holds it (for MPD), or None; one client per server."""

    def __init__(
        self, settings: Settings, *, credentials: Credentials | None = None, allow_password: bool = False
    ) -> None:
        self.state = SubsonicState(settings)
        self.credentials = credentials
        self.allow_password = allow_password
        self._clients: dict[str, SubsonicClient | None] = {}

    def _client(self, key: str) -> SubsonicClient | None:
        if key not in self._clients:
            try:
                credentials = self.credentials or Credentials.from_environment()
                self._clients[key] = SubsonicClient(ServerAddress.parse(key), credentials)
            except ConfigError as exc:
                log.warning("no stream URLs from %s: %s", key, exc.message)
                self._clients[key] = None
        return self._clients[key]

    def __call__(self, track: Track) -> str | None:
        for key, song_id in self.state.songs_of_track(track.id):
            client = self._client(key)
            if client is None:
                continue
            try:
                return client.stream_url(song_id, allow_password=self.allow_password)
            except MoodtuneError as exc:
                log.warning("no stream URL for %s from %s: %s", track.title, key, exc.message)
        return None

    def close(self) -> None:
        for client in self._clients.values():
            if client is not None:
                client.close()

    def __enter__(self) -> ServerStreams:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
