"""The catalog search tool: candidates by mood/style closeness and by text, with score parts.

Candidates come from two approximate queries in Chroma (the affect vectors, and the text
embedding when there is text), merged; each candidate's parts are then computed exactly:
- emotion_match: Bhattacharyya coefficient of the track's p and the target emotion, in [0, 1];
- style_match:   the same for q and the target style (only when there is a target style);
- text_match:    cosine of the track's text embedding and the query text, mapped to [0, 1].
Filters run inside Chroma's `where` (artists, genres, tempo, duration, instrumental, source),
and are checked again here, so an exclusion holds even for a server with looser semantics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from catalog.store import CatalogStore, affect_embedding
from moodtune.config import Settings
from moodtune.types import EmotionVector, ScoredTrack, StyleVector, Track

# A track whose style probability for an excluded genre reaches this is excluded too, not
# only tracks whose top genre it is: "no jazz" should also drop the jazz-leaning blues track.
EXCLUDED_GENRE_MAX_PROBABILITY = 0.35


@dataclass(frozen=True)
class SearchFilters:
    exclude_artists: tuple[str, ...] = ()
    exclude_genres: tuple[str, ...] = ()  # GENRES names (style vector) or free genre tags
    artists: tuple[str, ...] = ()  # only these artists (empty: any)
    tempo_range: tuple[float, float] | None = None
    duration_range: tuple[float, float] | None = None
    instrumental_only: bool = False
    source: str | None = None

    def where(self) -> dict | None:
        from moodtune.types import GENRES

        clauses: list[dict] = []
        if self.exclude_artists:
            clauses.append({"artist_lc": {"$nin": [a.strip().lower() for a in self.exclude_artists]}})
        if self.artists:
            clauses.append({"artist_lc": {"$in": [a.strip().lower() for a in self.artists]}})
        if self.exclude_genres:
            lowered = [g.strip().lower() for g in self.exclude_genres]
            clauses.append({"genre_tag_lc": {"$nin": lowered}})
            clauses.append({"top_genre": {"$nin": lowered}})
            clauses += [{f"q_{g}": {"$lt": EXCLUDED_GENRE_MAX_PROBABILITY}} for g in lowered if g in GENRES]
        if self.tempo_range:
            clauses += [
                {"tempo": {"$gte": float(self.tempo_range[0])}},
                {"tempo": {"$lte": float(self.tempo_range[1])}},
            ]
        if self.duration_range:
            clauses += [
                {"duration": {"$gte": float(self.duration_range[0])}},
                {"duration": {"$lte": float(self.duration_range[1])}},
            ]
        if self.instrumental_only:
            clauses.append({"instrumental": True})
        if self.source:
            clauses.append({"source": self.source})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def admits(self, track: Track) -> bool:
        """The same rules in Python, as a second line of defence."""
        from moodtune.types import GENRES

        artist = track.artist.strip().lower()
        if artist in {a.strip().lower() for a in self.exclude_artists}:
            return False
        if self.artists and artist not in {a.strip().lower() for a in self.artists}:
            return False
        for genre in (g.strip().lower() for g in self.exclude_genres):
            if genre in (track.genre_tag.strip().lower(), track.style.top):
                return False
            if genre in GENRES and track.style[genre] >= EXCLUDED_GENRE_MAX_PROBABILITY:
                return False
        if self.tempo_range and not self.tempo_range[0] <= track.tempo <= self.tempo_range[1]:
            return False
        if self.duration_range and not self.duration_range[0] <= track.duration <= self.duration_range[1]:
            return False
        if self.instrumental_only and not track.instrumental:
            return False
        return not (self.source and track.source != self.source)


def search_catalog(
    target_emotion: EmotionVector,
    target_style: StyleVector | None = None,
    text: str | None = None,
    *,
    filters: SearchFilters | None = None,
    k: int = 50,
    store: CatalogStore | None = None,
    settings: Settings | None = None,
) -> list[ScoredTrack]:
    """Up to k candidates, best first by the mean of their parts, each with every part it used."""
    from tools.encoder import embed_texts

    store = store or CatalogStore.open(settings or Settings.load())
    filters = filters or SearchFilters()
    where = filters.where()
    style_for_query = target_style or StyleVector.uniform()
    # With no target style, query on emotion alone (style weight 0) so style does not bias recall.
    query = affect_embedding(target_emotion, style_for_query, style_weight=1.0 if target_style else 0.0)
    ids = store.query_affect(query, n=k, where=where)
    text_vector = None
    if text and text.strip():
        text_vector = embed_texts([text])[0]
        ids += [i for i in store.query_text(text_vector.tolist(), n=k, where=where) if i not in ids]
    tracks = [t for t in store.get(ids) if filters.admits(t)]
    text_vectors = store.text_embeddings([t.id for t in tracks]) if text_vector is not None else {}
    scored = []
    for track in tracks:
        parts = {"emotion_match": track.emotion.similarity(target_emotion)}
        if target_style is not None:
            parts["style_match"] = track.style.similarity(target_style)
        if text_vector is not None and track.id in text_vectors:
            parts["text_match"] = float((1.0 + np.dot(text_vectors[track.id], text_vector)) / 2.0)
        scored.append(ScoredTrack(track=track, parts=parts, total=float(np.mean(list(parts.values())))))
    scored.sort(key=lambda s: -s.total)
    return scored[:k]
