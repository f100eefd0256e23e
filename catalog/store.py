"""The catalog in Chroma: embedded under MOODTUNE_HOME, or a Chroma server (MOODTUNE_CHROMA_URL).

Three collections share track ids:
- `affect`: embedding = [sqrt(p) ; sqrt(q)] / sqrt(2). For distributions, the dot product of
  square roots is the Bhattacharyya coefficient, so cosine similarity here is the mean of the
  emotion and style similarities, and an approximate nearest-neighbour query finds the tracks
  whose mood and style are closest to a target.
- `text`: the sentence encoder's embedding of the track's text (title, artist, album, genre tag,
  the genre words its audio tags give, lyrics).
- `audio`: the music tagger's 200-d embedding of the track's sound (the MSD MusiCNN model's mean
  penultimate vector over the analysed excerpts), for "sounds like" search by cosine. Only
  tracks analysed by the tagger are in it.
The text collection carries each track's whole record (`track_metadata`), which `get` reads.
The affect and audio collections carry only what filters read (`FILTER_KEYS`, plus the affect
collection's document): a filtered query fetches the metadata of a few times more neighbours
than it returns, and each metadata key is a row Chroma reads: with the lean record a filtered
query at 10k tracks took 8.9 ms (p50) against 16.3 ms with the whole one, and the affect
collection 25 MB of disk against 217 MB (bench/results/scale_search.json).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

import numpy as np

from moodtune.config import Settings
from moodtune.errors import CatalogError, NotFoundError
from moodtune.types import GENRES, MOOD_NAMES, EmotionVector, StyleVector, Track

log = logging.getLogger(__name__)

AFFECT = "affect"
TEXT = "text"
AUDIO = "audio"
# The track's strongest genre words from its audio tags that go into its text (so text search finds "funk").
TEXT_GENRE_TERMS = 3
TEXT_GENRE_TERM_MIN = 0.2
# HNSW settings: cosine space; larger construction/search breadth than Chroma's defaults
# buys recall@10 >= 0.95 at 100k tracks (bench/search_scale.py) for a few ms.
HNSW = {"hnsw:space": "cosine", "hnsw:construction_ef": 200, "hnsw:search_ef": 100, "hnsw:M": 32}


def affect_embedding(
    emotion: EmotionVector, style: StyleVector, *, emotion_weight: float = 1.0, style_weight: float = 1.0
) -> list[float]:
    vector = np.concatenate([emotion_weight * np.sqrt(emotion.probs), style_weight * np.sqrt(style.probs)])
    norm = float(np.linalg.norm(vector)) or 1.0
    return (vector / norm).tolist()


def text_genre_terms(track: Track) -> list[str]:
    """The genre words of a track's audio tags strong enough to be part of its text, strongest first."""
    ranked = sorted(track.genre_terms.items(), key=lambda item: -item[1])
    return [term for term, strength in ranked if strength >= TEXT_GENRE_TERM_MIN][:TEXT_GENRE_TERMS]


def embedding_text(track: Track) -> str:
    """What text search matches: the track's words plus its artist, album, genre tag and tag genre words."""
    terms = ", ".join(text_genre_terms(track))
    return " | ".join(
        p for p in (track.title, track.artist, track.album, track.genre_tag, terms, track.text[:500]) if p
    )


def track_metadata(track: Track) -> dict[str, Any]:
    """Flat metadata (Chroma stores str/int/float/bool only; None becomes a sentinel)."""
    meta: dict[str, Any] = {
        "path": track.path,
        "title": track.title,
        "artist": track.artist,
        "artist_lc": track.artist.strip().lower(),
        "album": track.album,
        "year": track.year if track.year is not None else -1,
        "duration": float(track.duration),
        "source": track.source,
        "licence": track.licence,
        "valence": float(track.valence),
        "arousal": float(track.arousal),
        "tempo": float(track.tempo),
        "key": track.key,
        "mode": track.mode,
        "genre_tag": track.genre_tag,
        "genre_tag_lc": track.genre_tag.strip().lower(),
        "top_genre": track.style.top,
        "top_mood": track.emotion.top,
        "instrumental": bool(track.instrumental),
        "tags_json": json.dumps(dict(track.tags), default=float),
        "extra_json": json.dumps(dict(track.extra), ensure_ascii=False, default=float),
    }
    meta.update({f"p_{m}": float(p) for m, p in zip(MOOD_NAMES, track.emotion.probs)})
    meta.update({f"q_{g}": float(q) for g, q in zip(GENRES, track.style.probs)})
    return meta


# The keys `SearchFilters.where` (tools/search.py) may name: all the affect and audio collections carry.
FILTER_KEYS: tuple[str, ...] = (
    "artist_lc", "genre_tag_lc", "top_genre", "tempo", "duration", "instrumental", "source",
    *(f"q_{g}" for g in GENRES),
)  # fmt: skip


def filter_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a track's metadata (`track_metadata`) that filters read."""
    return {key: meta[key] for key in FILTER_KEYS}


def affect_rows(tracks: Sequence[Track], metas: Sequence[Mapping[str, Any]]) -> dict[str, list]:
    """What the affect collection holds for `tracks` (their `track_metadata` in `metas`): the
    keyword arguments of its upsert."""
    return {
        "ids": [t.id for t in tracks],
        "embeddings": [affect_embedding(t.emotion, t.style) for t in tracks],
        "metadatas": [filter_metadata(m) for m in metas],
        "documents": [t.text for t in tracks],
    }


def track_from_record(track_id: str, meta: dict[str, Any], text: str | None) -> Track:
    year = int(meta.get("year", -1))
    return Track(
        id=track_id,
        path=meta["path"],
        title=meta["title"],
        artist=meta.get("artist", ""),
        album=meta.get("album", ""),
        year=None if year < 0 else year,
        duration=float(meta.get("duration", 0.0)),
        source=meta.get("source", "user"),
        licence=meta.get("licence", ""),
        emotion=EmotionVector(tuple(meta[f"p_{m}"] for m in MOOD_NAMES)),
        style=StyleVector(tuple(meta[f"q_{g}"] for g in GENRES)),
        tempo=float(meta.get("tempo", 0.0)),
        key=meta.get("key", ""),
        mode=meta.get("mode", ""),
        text=text or "",
        genre_tag=meta.get("genre_tag", ""),
        instrumental=bool(meta.get("instrumental", True)),
        tags=json.loads(meta.get("tags_json") or "{}"),
        extra=json.loads(meta.get("extra_json") or "{}"),
    )


# How many times more neighbours than wanted a filtered query reads, in turn.
POST_FILTER_FACTORS = (4, 16, 64)

_COMPARE = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a is not None and a > b,
    "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b,
    "$lte": lambda a, b: a is not None and a <= b,
    "$in": lambda a, b: a in b,
    "$nin": lambda a, b: a not in b,
}


def matches_where(metadata: dict | None, where: dict) -> bool:
    """Chroma's `where` semantics ($and, $or and the comparison operators) on one metadata dict."""
    metadata = metadata or {}
    for key, condition in where.items():
        if key == "$and":
            if not all(matches_where(metadata, clause) for clause in condition):
                return False
        elif key == "$or":
            if not any(matches_where(metadata, clause) for clause in condition):
                return False
        elif isinstance(condition, dict):
            if not all(_COMPARE[op](metadata.get(key), value) for op, value in condition.items()):
                return False
        elif metadata.get(key) != condition:
            return False
    return True


# What SQLite (under Chroma) says of a file that is not, or no longer, a whole database.
_DAMAGED = ("not a database", "malformed", "file is encrypted", "unsupported file format", "disk i/o error")


def damaged_hint(directory: str, exc: BaseException) -> str | None:
    """The fix for an embedded catalog whose files are damaged (None if `exc` is another failure)."""
    if not any(word in str(exc).lower() for word in _DAMAGED):
        return None
    return (
        f"the catalog is rebuilt from your music: move {directory} aside (`mv {directory} {directory}.damaged`), "
        "then run `moodtune ingest YOUR_MUSIC_FOLDER` (and `moodtune setup` for the demo catalog); "
        "feedback and profiles are kept in their own files"
    )


class CatalogStore:
    def __init__(self, client, *, label: str) -> None:
        self.client = client
        self.label = label
        try:
            # embedding_function=None: we always pass embeddings; Chroma's default one would download a model.
            self.affect = client.get_or_create_collection(AFFECT, metadata=HNSW, embedding_function=None)
            self.text = client.get_or_create_collection(TEXT, metadata=HNSW, embedding_function=None)
            self.audio = client.get_or_create_collection(AUDIO, metadata=HNSW, embedding_function=None)
        except Exception as exc:  # chromadb raises its own and sqlite errors
            raise CatalogError(
                f"cannot open the catalog collections at {label}: {exc}",
                hint=damaged_hint(label, exc) or "check that MOODTUNE_HOME is writable, or that the Chroma server is running",
            ) from exc

    @classmethod
    def open(cls, settings: Settings) -> CatalogStore:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if settings.chroma_url:
                url = urlparse(settings.chroma_url)
                client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or 8000,
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                client.heartbeat()
                return cls(client, label=settings.chroma_url)
            settings.chroma_dir.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
        except CatalogError:
            raise
        except Exception as exc:
            where = settings.chroma_url or settings.chroma_dir
            damaged = None if settings.chroma_url else damaged_hint(str(settings.chroma_dir), exc)
            raise CatalogError(
                f"{'the catalog is damaged' if damaged else 'cannot reach the Chroma store'} at {where}: {exc}",
                hint=damaged or "start the server with `chroma run --path DIR`, or unset MOODTUNE_CHROMA_URL",
            ) from exc
        return cls(client, label=str(settings.chroma_dir))

    # -- writing ----------------------------------------------------------------------
    def upsert(
        self,
        tracks: Sequence[Track],
        *,
        text_embeddings: np.ndarray | None = None,
        audio_embeddings: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        """Write tracks; `audio_embeddings` (track id -> 200-d sound embedding) for the ones just analysed.

        A track written without one keeps the sound embedding it has (its metadata there is updated).
        """
        if not tracks:
            return
        if text_embeddings is None:
            from tools.encoder import embed_texts

            text_embeddings = embed_texts([embedding_text(t) for t in tracks])
        ids = [t.id for t in tracks]
        metas = [track_metadata(t) for t in tracks]
        audio_embeddings = audio_embeddings or {}
        try:
            affect = affect_rows(tracks, metas)
            lean = affect["metadatas"]
            self.affect.upsert(**affect)
            self.text.upsert(
                ids=ids, embeddings=np.asarray(text_embeddings, dtype=np.float32).tolist(), metadatas=metas
            )
            with_sound = [i for i, track_id in enumerate(ids) if track_id in audio_embeddings]
            if with_sound:
                self.audio.upsert(
                    ids=[ids[i] for i in with_sound],
                    embeddings=[np.asarray(audio_embeddings[ids[i]], dtype=np.float32).tolist() for i in with_sound],
                    metadatas=[lean[i] for i in with_sound],
                )
            others = [i for i, track_id in enumerate(ids) if track_id not in audio_embeddings]
            if others:
                present = set(self.audio.get(ids=[ids[i] for i in others], include=[])["ids"])
                keep = [i for i in others if ids[i] in present]
                if keep:
                    self.audio.update(ids=[ids[i] for i in keep], metadatas=[lean[i] for i in keep])
        except Exception as exc:
            raise CatalogError(
                f"writing {len(ids)} tracks to the catalog failed: {exc}",
                hint="check free disk space under MOODTUNE_HOME and rerun; ingestion resumes where it stopped",
            ) from exc

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.affect.delete(ids=list(ids))
            self.text.delete(ids=list(ids))
            self.audio.delete(ids=list(ids))

    # -- reading ----------------------------------------------------------------------
    def get(self, ids: Sequence[str]) -> list[Track]:
        if not ids:
            return []
        by_id = self._records(self.text.get(ids=list(ids), include=["metadatas"]))
        return [by_id[i] for i in ids if i in by_id]

    def _records(self, found: Mapping[str, Any]) -> dict[str, Track]:
        """Tracks from a text-collection `get` (the whole records) and their affect documents (their words)."""
        if not found["ids"]:
            return {}
        words = self.affect.get(ids=list(found["ids"]), include=["documents"])
        document = dict(zip(words["ids"], words["documents"]))
        return {i: track_from_record(i, m, document.get(i)) for i, m in zip(found["ids"], found["metadatas"])}

    def get_one(self, track_id: str) -> Track:
        tracks = self.get([track_id])
        if not tracks:
            raise NotFoundError(
                f"no track with id {track_id!r} in the catalog",
                hint="list tracks with /api/v1/tracks or `moodtune catalog stats`",
            )
        return tracks[0]

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        return set(self.affect.get(ids=list(ids), include=[])["ids"])

    def count(self, *, source: str | None = None) -> int:
        if source is None:
            return self.affect.count()
        return len(self.affect.get(where={"source": source}, include=[])["ids"])

    def iter_tracks(self, *, source: str | None = None, batch_size: int = 500) -> Iterator[Track]:
        offset = 0
        where = {"source": source} if source else None
        while True:
            page = self.text.get(where=where, include=["metadatas"], limit=batch_size, offset=offset)
            if not page["ids"]:
                return
            yield from self._records(page).values()
            offset += len(page["ids"])

    def artist_names(self, *, batch_size: int = 5000) -> list[str]:
        """The catalog's distinct artist names, as first spelt (one per lower-case spelling), sorted.

        Read from the text collection's metadata only (no documents, no embeddings), a page at a time.
        """
        names: dict[str, str] = {}
        offset = 0
        while True:
            page = self.text.get(include=["metadatas"], limit=batch_size, offset=offset)
            if not page["ids"]:
                break
            for meta in page["metadatas"]:
                name = str(meta.get("artist") or "").strip()
                if name:
                    names.setdefault(name.lower(), name)
            offset += len(page["ids"])
        return sorted(names.values(), key=str.lower)

    def text_embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        found = self.text.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(found["ids"], found["embeddings"])}

    def audio_embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The sound embeddings of those of `ids` that have one."""
        if not ids:
            return {}
        found = self.audio.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(found["ids"], found["embeddings"])}

    def count_audio(self) -> int:
        return self.audio.count()

    def query_audio(self, embedding: Sequence[float], *, n: int, where: dict | None) -> list[str]:
        """Ids of the tracks whose sound embedding is nearest (cosine) to `embedding`, nearest first."""
        total = self.audio.count()
        if total == 0:
            return []
        return self._query(self.audio, embedding, n=min(n, total), where=where)

    def query_affect(self, embedding: Sequence[float], *, n: int, where: dict | None) -> list[str]:
        return self._query(self.affect, embedding, n=n, where=where)

    def query_text(self, embedding: Sequence[float], *, n: int, where: dict | None) -> list[str]:
        return self._query(self.text, embedding, n=n, where=where)

    def _query(self, collection, embedding, *, n: int, where: dict | None) -> list[str]:
        query = [list(embedding)]
        try:
            if where is None:
                return list(collection.query(query_embeddings=query, n_results=n, include=[])["ids"][0])
            # Chroma's filtered search scans the metadata table: seconds at 100k tracks
            # (bench/results/search.json). Our filters (an excluded genre or artist, a tempo
            # range) usually admit most tracks, so ask the index for a few times more neighbours
            # and filter their metadata here, widening while too few pass. The index answers in
            # ~1 ms; each row's metadata costs ~0.18 ms, so the first width is kept small.
            for factor in POST_FILTER_FACTORS:
                wide = n * factor
                result = collection.query(query_embeddings=query, n_results=wide, include=["metadatas"])
                found = result["ids"][0]
                ids = [i for i, meta in zip(found, result["metadatas"][0]) if matches_where(meta, where)]
                if len(ids) >= n or len(found) < wide:  # enough, or every track was seen
                    return ids[:n]
            result = collection.query(query_embeddings=query, n_results=n, where=where, include=[])
        except Exception as exc:
            raise CatalogError(f"catalog search failed: {exc}", hint="run `moodtune doctor`") from exc
        return list(result["ids"][0])

    def version(self) -> str:
        """Changes whenever tracks are added or removed (count + a hash of the newest ids)."""
        total = self.count()
        sample = self.affect.get(limit=50, offset=max(0, total - 50), include=[])["ids"] if total else []
        return f"{total}-{hashlib.sha1(','.join(sorted(sample)).encode()).hexdigest()[:8]}"
