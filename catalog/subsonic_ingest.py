"""`moodtune ingest subsonic://USER@HOST[:PORT]`: a Subsonic / OpenSubsonic server's library into the catalog.

The server's songs are listed (getMusicFolders, then search3 with an empty query in pages, or
getAlbumList2 + getAlbum), each new or changed song's original file is downloaded into a
bounded cache under MOODTUNE_HOME/cache/subsonic, analysed there by the same folder ingestion
(`catalog.ingest.ingest_folder`: same features, models and fusion, so a song gets the same
track id, content hash of its bytes, and the same vectors as the file ingested from a folder)
and deleted. Downloads run one batch ahead of the analysis; the two batches in flight stay
under the cache size.

What is kept: the tracks (their path is `subsonic://USER@HOST:PORT/song/<id>` unless the same
file is also in a local folder), and in `subsonic.sqlite3` the server's song id beside our
track id and where its ingestion stands. An interrupted run resumes: a song already hashed and
stored is neither downloaded nor analysed again. The next run picks up added, changed
(another size) and removed songs. Stars and ratings become profile feedback
(`catalog.subsonic_sync`).
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np

from catalog.ingest import analysis_versions, ingest_folder, track_id_for
from catalog.store import CatalogStore
from catalog.subsonic import Credentials, ServerAddress, SubsonicClient, SubsonicError
from catalog.subsonic_state import SubsonicState
from moodtune.config import Settings
from moodtune.types import Track

log = logging.getLogger(__name__)

SOURCE = "subsonic"
MAX_BATCH_SONGS = 200
_UNSAFE_NAME = re.compile(r"[^\w.\- ()\[\]&,']+", re.UNICODE)


@dataclass
class ServerIngestSummary:
    server: str
    songs: int = 0  # on the server now
    analysed: int = 0  # new tracks analysed this run
    updated: int = 0  # re-analysed (newer models) or re-read
    unchanged: int = 0
    downloaded: int = 0
    downloaded_bytes: int = 0
    removed: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # song id -> reason
    feedback: dict[str, int] = field(default_factory=dict)  # kind -> rows recorded
    seconds: float = 0.0

    def __str__(self) -> str:
        feedback = ", ".join(f"{n} {k}" for k, n in sorted(self.feedback.items()) if n) or "none new"
        return (
            f"{self.server}: {self.songs} songs; {self.analysed} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.removed} removed, {len(self.failed)} failed; "
            f"downloaded {self.downloaded} ({self.downloaded_bytes / 2**20:.1f} MiB); feedback from stars and ratings: {feedback}"
        )


def song_path(server_key: str, song_id: str) -> str:
    """The path a track from the server carries: names the server and song, opens nothing."""
    return f"{server_key}/song/{quote(song_id, safe='')}"


def parse_song_path(path: str) -> tuple[str, str] | None:
    """(server key, song id) of a `song_path`, None for a file path."""
    if not path.startswith(("subsonic://", "subsonics://")) or "/song/" not in path:
        return None
    key, _, song = path.rpartition("/song/")
    return key, unquote(song)


def cache_root(settings: Settings) -> Path:
    return settings.home / "cache" / "subsonic"


def _file_name(song: dict) -> str:
    """The file's own name on the server (a title without tags falls back to it, as from a folder)."""
    name = Path(str(song.get("path") or "")).name
    if not name:
        suffix = song.get("suffix") or "audio"
        name = f"{song.get('title') or song['id']}.{suffix}"
    name = _UNSAFE_NAME.sub("_", name).strip(". ") or "song"
    return name[-150:]


def list_songs(client: SubsonicClient) -> dict[str, dict]:
    """Every song of every music folder, by the server's id (a song in two folders once)."""
    songs: dict[str, dict] = {}
    folders = client.music_folders()
    for folder in folders or [{"id": None}]:
        for song in client.iter_songs(music_folder_id=folder.get("id")):
            if song.get("isDir") or song.get("isVideo") or song.get("type") in ("podcast", "audiobook", "video"):
                continue
            songs.setdefault(str(song["id"]), song)
    return songs


def _batches(todo: list[dict], *, max_bytes: int, max_songs: int) -> list[list[dict]]:
    batches: list[list[dict]] = [[]]
    size = 0
    for song in todo:
        song_size = max(0, int(song.get("size") or 0))
        if batches[-1] and (size + song_size > max_bytes or len(batches[-1]) >= max_songs):
            batches.append([])
            size = 0
        batches[-1].append(song)
        size += song_size
    return [b for b in batches if b]


def ingest_server(
    settings: Settings,
    address: ServerAddress | str,
    *,
    credentials: Credentials | None = None,
    client: SubsonicClient | None = None,
    workers: int | None = None,
    store: CatalogStore | None = None,
    user_id: str = "default",
    cache_mb: int | None = None,
    max_batch_songs: int = MAX_BATCH_SONGS,
    feedback: bool = True,
    progress: bool = True,
    on_batch: Callable[[ServerIngestSummary], None] | None = None,
) -> ServerIngestSummary:
    """Ingest the server's library; see the module's doc. `on_batch` is called after each stored batch."""
    started = time.perf_counter()
    cache_mb = cache_mb or settings.subsonic_cache_mb
    address = ServerAddress.parse(address) if isinstance(address, str) else address
    own_client = client is None
    if client is None:
        credentials = credentials or Credentials.from_environment(prompt_for=address.key)
        client = SubsonicClient(address, credentials)
    store = store or CatalogStore.open(settings)
    state = SubsonicState(settings)
    key = address.key
    summary = ServerIngestSummary(server=key)
    cache = cache_root(settings) / re.sub(r"\W+", "_", key)
    shutil.rmtree(cache, ignore_errors=True)  # what an interrupted run left
    try:
        client.ping()
        state.add_server(key, address.base_url)
        songs = list_songs(client)
        summary.songs = len(songs)
        known = state.songs(key)
        summary.removed = _remove_gone(store, state, key, {s: r for s, r in known.items() if s not in songs})
        stored = {t.id: t for t in store.get(list({r.track_id for r in known.values() if r.track_id}))}
        models = analysis_versions(settings)
        todo: list[dict] = []
        settled: list[tuple[str, str]] = []  # (song id, track id) stored and current
        for song_id, song in songs.items():
            row = known.get(song_id)
            size = int(song.get("size") or -1)
            track = stored.get(row.track_id) if row and row.track_id else None
            same_file = row is not None and (size < 0 or row.size is None or row.size == size)
            if track is not None and same_file and row.status in ("done", "downloaded") and track.extra.get("models") == models:
                settled.append((song_id, track.id))
            else:
                todo.append(song)
        summary.unchanged = len(settled)
        # Stored, but the run that stored them stopped before saying so (or before fixing the path).
        _settle(store, state, key, settled, songs, cache)
        _run_batches(
            settings, client, store, state, key, todo, cache, summary,
            workers=workers, max_bytes=max(1, cache_mb * 2**20 // 2), max_songs=max_batch_songs,
            progress=progress, on_batch=on_batch,
        )  # fmt: skip
        if feedback:
            from catalog.subsonic_sync import sync_feedback

            summary.feedback = sync_feedback(settings, client, user_id=user_id, songs=songs, store=store, state=state)
        state.finished_ingest(key)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if own_client:
            client.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _run_batches(
    settings, client, store, state, key, todo, cache, summary, *, workers, max_bytes, max_songs, progress, on_batch
) -> None:
    from tqdm import tqdm

    batches = _batches(todo, max_bytes=max_bytes, max_songs=max_songs)
    if not batches:
        return
    bar = tqdm(total=len(todo), desc="ingesting from server", unit="song", disable=not progress)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="subsonic-download") as downloader:
        ahead: Future = downloader.submit(_download_batch, client, state, key, batches[0], cache / "batch-0")
        for number in range(len(batches)):
            files, failed = ahead.result()
            if number + 1 < len(batches):  # the next batch downloads while this one is analysed
                ahead = downloader.submit(
                    _download_batch, client, state, key, batches[number + 1], cache / f"batch-{number + 1}"
                )
            summary.failed.update(failed)
            summary.downloaded += len(files)
            summary.downloaded_bytes += sum(size for _, _, size in files.values())
            folder = cache / f"batch-{number}"
            if files:
                _analyse_batch(settings, store, state, key, folder, files, summary, workers=workers)
            shutil.rmtree(folder, ignore_errors=True)
            bar.update(len(batches[number]))
            if on_batch:
                on_batch(summary)
    bar.close()


def _download_batch(client, state, key, songs: list[dict], folder: Path):
    """Download and hash each song: {path: (song id, track id, size)}, {song id: reason}."""
    files: dict[Path, tuple[str, str, int]] = {}
    failed: dict[str, str] = {}
    rows = []
    for index, song in enumerate(songs):
        song_id = str(song["id"])
        destination = folder / f"{index:04d}" / _file_name(song)
        try:
            size = client.download(song_id, destination)
            track_id = track_id_for(destination)
        except (SubsonicError, OSError) as exc:
            failed[song_id] = getattr(exc, "message", None) or str(exc)
            rows.append((song_id, None, None, "failed", failed[song_id]))
            continue
        files[destination] = (song_id, track_id, size)
        rows.append((song_id, track_id, size, "downloaded", None))
    state.set_songs(key, rows)  # hashed: a resumed run finds the track without downloading it
    return files, failed


def _analyse_batch(settings, store, state, key, folder: Path, files, summary, *, workers) -> None:
    result = ingest_folder(settings, folder, workers=workers, source=SOURCE, store=store, progress=False)
    summary.analysed += result.added
    summary.updated += result.updated
    summary.unchanged += result.unchanged
    failed_paths = {Path(p).resolve(): reason for p, reason in {**result.failed, **result.skipped}.items()}
    rows, settled = [], []
    for path, (song_id, track_id, size) in files.items():
        reason = failed_paths.get(path.resolve())
        if reason:
            summary.failed[song_id] = reason
            rows.append((song_id, track_id, size, "failed", reason))
        else:
            rows.append((song_id, track_id, size, "done", None))
            settled.append((song_id, track_id))
    _settle(store, state, key, settled, None, folder.parent)
    state.set_songs(key, rows)


def _settle(store, state, key, settled: list[tuple[str, str]], songs: dict | None, cache: Path) -> None:
    """Give stored tracks their server path (if their file was only in the cache) and server ids; mark them done."""
    if not settled:
        return
    tracks = {t.id: t for t in store.get(list({t for _, t in settled}))}
    changed: dict[str, Track] = {}
    for song_id, track_id in settled:
        track = changed.get(track_id) or tracks.get(track_id)
        if track is None:
            continue
        path = track.path
        in_cache = path.startswith((str(cache), str(cache.resolve())))
        if in_cache or (parse_song_path(path) is None and not Path(path).exists()):
            path = song_path(key, song_id)
        ids = {"server": key, "song_id": song_id}
        if path != track.path or track.extra.get("subsonic") != ids:
            changed[track_id] = track.with_(path=path, extra={**track.extra, "subsonic": ids})
    if changed:
        ids = list(changed)
        embeddings = store.text_embeddings(ids)
        if len(embeddings) == len(ids):
            store.upsert([changed[i] for i in ids], text_embeddings=np.stack([embeddings[i] for i in ids]))
        else:
            store.upsert([changed[i] for i in ids])
    if songs is not None:
        known = state.songs(key)
        state.set_songs(
            key,
            [(s, t, known[s].size, "done", None) for s, t in settled if s in known and known[s].status != "done"],
        )


def _remove_gone(store: CatalogStore, state: SubsonicState, key: str, gone: dict) -> int:
    """Songs the server no longer has: their tracks leave the catalog unless a folder or another server has the file."""
    if not gone:
        return 0
    state.remove_songs(key, gone)
    removed = 0
    for row in gone.values():
        if not row.track_id or state.track_is_referenced(row.track_id):
            continue
        for track in store.get([row.track_id]):
            if parse_song_path(track.path) is not None:
                store.delete([track.id])
                removed += 1
    return removed
