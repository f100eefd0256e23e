"""The catalog search tool: candidates by mood/style closeness and by text, with score parts.

Candidates come from two approximate queries in Chroma (the affect vectors, and the text
embedding when there is text), merged; each candidate's parts are then computed exactly:
- emotion_match: Bhattacharyya coefficient of the track's p and the target emotion, in [0, 1];
- style_match:   the same for q and the target style (only when there is a target style);
- text_match:    cosine of the track's text embedding and the query text, mapped to [0, 1];
- genre_term_match: for genre words beyond the ten ("funk", "k-pop", "electronic"), the best
                 match among them: 1 when the file's own genre tag names it, else the strength of
                 the word in the track's audio tags (extra["genre_terms"], tools/audio_reading.py);
- sounds_like:   cosine of the track's sound embedding (the music tagger's, `audio` collection)
                 and a seed track's or clip's, clipped at 0 (only when a seed or clip is given; its
                 nearest neighbours by sound join the candidates).
Filters run inside Chroma's `where` (artists, genres, tempo, duration, instrumental, source),
and are checked again here, so an exclusion holds even for a server with looser semantics.
`similar_tracks(track id or embedding)` is the sound search alone ("more like this").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from catalog.store import CatalogStore, affect_embedding
from moodtune.config import Settings
from moodtune.types import GENRES, EmotionVector, ScoredTrack, StyleVector, Track

# A track whose style probability for an excluded genre reaches this is excluded too, not
# only tracks whose top genre it is: "no jazz" should also drop the jazz-leaning blues track.
EXCLUDED_GENRE_MAX_PROBABILITY = 0.35
# Spellings of a genre word that the tag vocabulary writes another way.
TERM_ALIASES = {"edm": "electronic", "electronica": "electronic", "electro": "electronic", "rnb": "r&b"}
_TAG_SEPARATORS = re.compile(r"\s*[/;,|]\s*")

# A seed: a track id, or a sound embedding (an uploaded clip's).
Like = str | Sequence[float] | np.ndarray


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


def canonical_term(term: str) -> str:
    """One spelling per genre word ("Hip-Hop" -> "hiphop", "EDM" -> "electronic", "K-Pop" -> "k-pop")."""
    from agent import lexicon

    canonical = lexicon.canonical_genre(term)
    return TERM_ALIASES.get(canonical, canonical)


def genre_tag_terms(genre_tag: str) -> set[str]:
    """The genre words a file's own genre tag names ("Funk / Soul" -> {"funk", "soul", "funk / soul"})."""
    from agent import lexicon

    lowered = genre_tag.strip().lower()
    if not lowered:
        return set()
    named, _ = lexicon.genre_mentions(lowered)
    pieces = [lowered, *(p for p in _TAG_SEPARATORS.split(lowered) if p)]
    return {canonical_term(t) for t in [*named, *pieces]}


def beyond_style(terms: Sequence[str]) -> list[str]:
    """The genre words a request names that are not among the ten (those are the style target's)."""
    out: list[str] = []
    for term in terms:
        canonical = canonical_term(term)
        if canonical and canonical not in GENRES and canonical not in out:
            out.append(canonical)
    return out


def genre_term_strength(track: Track, terms: Sequence[str]) -> float:
    """How strongly the track is any of `terms` (canonical words): 1 from its genre tag, else its tags' strength."""
    if genre_tag_terms(track.genre_tag) & set(terms):
        return 1.0
    strengths = {canonical_term(t): float(v) for t, v in track.genre_terms.items()}
    return max((strengths.get(t, 0.0) for t in terms), default=0.0)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / norm) if norm > 0 else 0.0


def like_embedding(like: Like | None, store: CatalogStore) -> tuple[np.ndarray | None, str | None]:
    """(the sound embedding a seed stands for, the seed's track id if it is a track); (None, id) if it has none."""
    if like is None:
        return None, None
    if isinstance(like, str):
        return store.audio_embeddings([like]).get(like), like
    vector = np.asarray(like, dtype=np.float32).ravel()
    return (vector if vector.size and np.all(np.isfinite(vector)) else None), None


def similar_tracks(
    like: Like,
    *,
    k: int = 20,
    filters: SearchFilters | None = None,
    store: CatalogStore | None = None,
    settings: Settings | None = None,
) -> list[ScoredTrack]:
    """The k tracks that sound most like a track (its id) or a clip (its embedding), nearest first.

    Cosine of the music tagger's embeddings in the `audio` collection; the part and the total
    are "sounds_like" (the cosine, clipped at 0). A seed track is not among its own results;
    a seed without a sound embedding (analysed before the tagger) finds nothing.
    """
    store = store or CatalogStore.open(settings or Settings.load())
    filters = filters or SearchFilters()
    vector, seed_id = like_embedding(like, store)
    if vector is None:
        return []
    ids = [
        i
        for i in store.query_audio(vector.tolist(), n=k + (seed_id is not None), where=filters.where())
        if i != seed_id
    ]
    sounds = store.audio_embeddings(ids)
    scored = []
    for track in store.get(ids):
        if track.id in sounds and filters.admits(track):
            value = max(0.0, _cosine(sounds[track.id], vector))
            scored.append(ScoredTrack(track=track, parts={"sounds_like": value}, total=value))
    scored.sort(key=lambda s: (-s.total, s.track.id))
    return scored[:k]


def search_catalog(
    target_emotion: EmotionVector,
    target_style: StyleVector | None = None,
    text: str | None = None,
    *,
    filters: SearchFilters | None = None,
    k: int = 50,
    store: CatalogStore | None = None,
    settings: Settings | None = None,
    genre_terms: Sequence[str] = (),
    like: Like | None = None,
) -> list[ScoredTrack]:
    """Up to k candidates, best first by the mean of their parts, each with every part it used.

    `genre_terms`: the request's genre words; those beyond the ten add genre_term_match.
    `like`: a seed track id or a clip's sound embedding; its sound neighbours join the
    candidates and every candidate gets sounds_like (the seed track itself is left out).
    """
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
    sound, seed_id = like_embedding(like, store)
    if sound is not None:
        ids += [i for i in store.query_audio(sound.tolist(), n=k, where=where) if i not in ids]
    if seed_id is not None:
        ids = [i for i in ids if i != seed_id]
    terms = beyond_style(genre_terms)
    tracks = [t for t in store.get(ids) if filters.admits(t)]
    text_vectors = store.text_embeddings([t.id for t in tracks]) if text_vector is not None else {}
    sounds = store.audio_embeddings([t.id for t in tracks]) if sound is not None else {}
    scored = []
    for track in tracks:
        parts = {"emotion_match": track.emotion.similarity(target_emotion)}
        if target_style is not None:
            parts["style_match"] = track.style.similarity(target_style)
        if text_vector is not None and track.id in text_vectors:
            parts["text_match"] = float((1.0 + np.dot(text_vectors[track.id], text_vector)) / 2.0)
        if terms:
            parts["genre_term_match"] = genre_term_strength(track, terms)
        if sound is not None:
            parts["sounds_like"] = max(0.0, _cosine(sounds[track.id], sound)) if track.id in sounds else 0.0
        scored.append(ScoredTrack(track=track, parts=parts, total=float(np.mean(list(parts.values())))))
    scored.sort(key=lambda s: -s.total)
    return scored[:k]
