"""Shared types: the mood and genre vocabularies and the records that flow between modules.

Defined once here; every component imports them from this module.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from moodtune.errors import InputError

# Russell's circumplex: (valence, arousal) in [-1, 1]. Placement follows the usual
# circumplex layouts (e.g. Russell 1980; Posner et al. 2005): "calm" is pleasant and
# deactivated, "tense" is unpleasant and activated but less hostile than "angry",
# "nostalgic" is bittersweet (slightly positive, low arousal), "romantic" warm and soft.
MOODS: dict[str, tuple[float, float]] = {
    "happy": (0.8, 0.5),
    "sad": (-0.7, -0.5),
    "calm": (0.4, -0.7),
    "energetic": (0.5, 0.85),
    "romantic": (0.7, -0.2),
    "nostalgic": (0.1, -0.35),
    "angry": (-0.75, 0.75),
    "tense": (-0.45, 0.55),
}
MOOD_NAMES: tuple[str, ...] = tuple(MOODS)

# The open upper end of a tempo range ("at least 140 bpm"): above any tempo a beat tracker reports.
TEMPO_CEILING_BPM = 1000.0

# The style classifier's vocabulary: the ten GTZAN genres.
GENRES: tuple[str, ...] = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)

Language = Literal["en", "zh"]
Strategy = Literal["match", "lift"]
FeedbackKind = Literal["up", "down", "skip", "more_like_this"]


def _normalise(values: Sequence[float], size: int, what: str) -> tuple[float, ...]:
    if len(values) != size:
        raise InputError(f"{what} needs {size} values, got {len(values)}")
    clipped = [max(0.0, float(v)) if math.isfinite(v) else 0.0 for v in values]
    total = sum(clipped)
    if total <= 0:
        return tuple(1.0 / size for _ in range(size))
    return tuple(v / total for v in clipped)


@dataclass(frozen=True)
class _Distribution:
    """A probability distribution over a fixed vocabulary (subclasses set it)."""

    probs: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "probs", _normalise(self.probs, len(self.names()), type(self).__name__))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        raise NotImplementedError

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, float]):
        """Build from {name: weight}; unknown names are an error, missing ones are 0."""
        unknown = set(mapping) - set(cls.names())
        if unknown:
            raise InputError(f"unknown {cls.__name__} labels: {sorted(unknown)}", hint=f"use {list(cls.names())}")
        return cls(tuple(float(mapping.get(name, 0.0)) for name in cls.names()))

    @classmethod
    def uniform(cls):
        return cls(tuple(1.0 for _ in cls.names()))

    @classmethod
    def one_hot(cls, name: str):
        return cls.from_mapping({name: 1.0})

    @classmethod
    def blend(cls, parts: Iterable[tuple[Any, float]]):
        """Weighted mixture of distributions of this class."""
        parts = list(parts)
        total = [0.0] * len(cls.names())
        for dist, weight in parts:
            for i, p in enumerate(dist.probs):
                total[i] += weight * p
        return cls(tuple(total))

    def as_dict(self) -> dict[str, float]:
        return {name: round(p, 6) for name, p in zip(self.names(), self.probs)}

    def __getitem__(self, name: str) -> float:
        return self.probs[self.names().index(name)]

    @property
    def top(self) -> str:
        return self.names()[max(range(len(self.probs)), key=self.probs.__getitem__)]

    def ranked(self) -> list[tuple[str, float]]:
        return sorted(zip(self.names(), self.probs), key=lambda item: -item[1])

    def similarity(self, other: _Distribution) -> float:
        """Bhattacharyya coefficient in [0, 1]: 1 for identical distributions."""
        return float(sum(math.sqrt(a * b) for a, b in zip(self.probs, other.probs)))


@dataclass(frozen=True)
class EmotionVector(_Distribution):
    """Probabilities over MOODS, with the circumplex position they imply."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return MOOD_NAMES

    @property
    def valence(self) -> float:
        return sum(p * MOODS[name][0] for name, p in zip(MOOD_NAMES, self.probs))

    @property
    def arousal(self) -> float:
        return sum(p * MOODS[name][1] for name, p in zip(MOOD_NAMES, self.probs))


@dataclass(frozen=True)
class StyleVector(_Distribution):
    """Probabilities over GENRES."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return GENRES


@dataclass(frozen=True)
class Track:
    """One catalog entry with everything ranking and explanations may use."""

    id: str
    path: str
    title: str
    artist: str = ""
    album: str = ""
    year: int | None = None
    duration: float = 0.0
    source: str = "user"  # "user", "demo-synthetic", "bench-synthetic"
    licence: str = ""
    emotion: EmotionVector = field(default_factory=EmotionVector.uniform)
    style: StyleVector = field(default_factory=StyleVector.uniform)
    tempo: float = 0.0
    key: str = ""
    mode: str = ""  # "major" / "minor"
    text: str = ""  # the text the emotion classifier read (title, album, tags, lyrics)
    genre_tag: str = ""  # the file's own genre tag, as written by whoever tagged it
    instrumental: bool = True
    # The music tagger's tag probabilities, "msd:rock", "mtt:fast" (tools/tagger.py; empty before it ran).
    tags: Mapping[str, float] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def valence(self) -> float:
        return self.emotion.valence

    @property
    def genre_terms(self) -> dict[str, float]:
        """Genre words with evidence in the track's tags (inside and beyond the ten), strongest first."""
        return dict(self.extra.get("genre_terms") or {})

    @property
    def arousal(self) -> float:
        return self.emotion.arousal

    def with_(self, **changes: Any) -> Track:
        return replace(self, **changes)


@dataclass(frozen=True)
class Intent:
    """What the user asked for, as the parser read it."""

    emotion: EmotionVector
    style: StyleVector | None = None  # None: the request says nothing about style
    # True when no genre was named and the style is the model's guess (from an artist, a context):
    # ranking then gives it a small weight of its own.
    style_inferred: bool = False
    genre_terms: tuple[str, ...] = ()
    artists: tuple[str, ...] = ()
    exclude_artists: tuple[str, ...] = ()
    exclude_genres: tuple[str, ...] = ()
    exclude_moods: tuple[str, ...] = ()  # "calm but not sad": these keep zero weight in the target
    context: str | None = None
    tempo_range: tuple[float, float] | None = None
    energy: float | None = None  # desired arousal in [-1, 1] when stated
    follow_up: bool = False
    strategy: Strategy = "match"
    english: str = ""
    language: Language = "en"
    text: str = ""  # the request as the user typed it
    is_music_request: bool = True
    notes: tuple[str, ...] = ()  # what the parser changed or could not use, said to the user

    @property
    def valence(self) -> float:
        return self.emotion.valence

    @property
    def arousal(self) -> float:
        return self.emotion.arousal


@dataclass(frozen=True)
class Turn:
    """An earlier turn of the conversation, as the parser sees it: what was asked, what was shown."""

    user: str
    shown: str = ""


@dataclass(frozen=True)
class ScoredTrack:
    """A candidate with the named parts of its score; `total` is their weighted sum."""

    track: Track
    parts: Mapping[str, float]
    total: float


@dataclass(frozen=True)
class Explanation:
    template: str  # shown at once, built from facts only
    llm: str = ""  # the model's wording of the same facts, streamed in later
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recommendation:
    scored: ScoredTrack
    explanation: Explanation
    rank: int = 0

    @property
    def track(self) -> Track:
        return self.scored.track


@dataclass(frozen=True)
class Reply:
    """One answer of the agent: what it understood, what it found, and why."""

    reply_id: str
    session_id: str
    user_id: str
    request: str
    intent: Intent
    user_mood: EmotionVector  # the emotion classifier's reading of the message
    message: str  # the reply text in the user's language (what strategy it chose, notes)
    recommendations: tuple[Recommendation, ...]
    candidates: tuple[ScoredTrack, ...] = ()  # every scored candidate, for the review log
    notes: tuple[str, ...] = ()  # e.g. "your message was cut to 2000 characters"
    versions: Mapping[str, str] = field(default_factory=dict)  # model and catalog versions
    replaces: str = ""  # the reply whose reading the user edited into this one (agent/understood.py)


@dataclass(frozen=True)
class ReplyEvent:
    """A step of a streamed reply: the ranked list first, then explanation text as it arrives."""

    kind: Literal["reply", "explanation_delta", "explanation_done", "done"]
    reply: Reply | None = None
    index: int | None = None  # which recommendation an explanation delta belongs to
    text: str = ""
