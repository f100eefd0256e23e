"""Ranking: an interpretable score, every part kept, with the list rules applied.

total = Σ weight[part] · part  −  Σ weight[penalty] · penalty   (penalties: repetition, unwanted_mood)

Parts (each in [0, 1], present only when it was used):
- emotion_match: Bhattacharyya similarity of the track's p and the target emotion;
- style_match:   the same for q and the target style (only when the request implies a style);
- text_match:    the request's words against the track's text (only when there are words);
- genre_term_match: a genre word beyond the ten the request names ("funk"): 1 from the file's
                 genre tag, else its strength in the track's audio tags (tools/search.py);
- sounds_like:   cosine of the track's sound embedding and a seed track's or clip's (only with a seed);
- preference:    (u·p / max u + v·q / max v) / 2, how much of the track's mood and style mass
                 lies where this user's learned preferences u, v are highest (only with feedback);
- co_like:       share of users with this user's taste who liked the track (only past the threshold);
- inferred_style_match: style_match when no genre was named and the style is the model's guess;
- repetition:    1 if the track was already shown in this conversation, else 0;
- unwanted_mood: the track's probability mass on moods the user rejected ("calm but not sad").
List rules: exclusions always hold; at most MAX_PER_ARTIST tracks per artist; no two
tracks with the same title and artist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from agent.profile import Preferences
from moodtune.config import RankWeights
from moodtune.types import MOODS, EmotionVector, Intent, ScoredTrack
from tools.search import SearchFilters

MAX_PER_ARTIST = 2
PENALTIES = ("repetition", "unwanted_mood")


def lift_target(intent: Intent, user_mood: EmotionVector | None) -> EmotionVector:
    """For strategy "lift": move the target towards positive valence.

    Moods with negative valence lose 70 % of their mass, which goes to the positive moods
    nearest in arousal, so "I'm sad, cheer me up" aims at gentle happy/calm music, not at
    the same sadness.
    """
    weights = dict(intent.emotion.as_dict())
    if user_mood is not None:
        weights = {m: 0.5 * w + 0.5 * user_mood[m] for m, w in weights.items()}
    moved = 0.0
    for mood, (valence, _) in MOODS.items():
        if valence < 0:
            moved += 0.7 * weights[mood]
            weights[mood] *= 0.3
    arousal = intent.emotion.arousal
    positives = {m: 1.0 / (0.3 + abs(a - arousal)) for m, (v, a) in MOODS.items() if v > 0.3}
    total = sum(positives.values())
    for mood, share in positives.items():
        weights[mood] += moved * share / total
    return EmotionVector.from_mapping(weights)


def preference_part(candidate: ScoredTrack, preferences: Preferences) -> float:
    track = candidate.track
    u, v = preferences.moods, preferences.styles
    mood = sum(a * b for a, b in zip(u.probs, track.emotion.probs)) / max(u.probs)
    style = sum(a * b for a, b in zip(v.probs, track.style.probs)) / max(v.probs)
    return (mood + style) / 2


def filters_for(intent: Intent) -> SearchFilters:
    """The hard constraints of a request, as the search tool and the ranking both apply them."""
    return SearchFilters(
        exclude_artists=intent.exclude_artists,
        exclude_genres=intent.exclude_genres,
        tempo_range=intent.tempo_range,
    )


def score(parts: Mapping[str, float], weights: RankWeights) -> float:
    table = weights.as_dict()
    return sum(-table[name] * value if name in PENALTIES else table[name] * value for name, value in parts.items())


def parts_worth_showing(ranked: Sequence[ScoredTrack]) -> set[str]:
    """The score parts that are not 0.00 for every track of a list.

    A part that is zero everywhere ("already shown" in a first turn) tells the user nothing and
    adds nothing to any total, so cards and explanations leave it out.
    """
    return {name for s in ranked for name, value in s.parts.items() if round(value, 2) != 0}


def rank(
    candidates: Sequence[ScoredTrack],
    *,
    filters: SearchFilters,
    weights: RankWeights,
    preferences: Preferences | None = None,
    co_likes: Mapping[str, float] | None = None,
    shown: Iterable[str] = (),
    exclude_moods: Sequence[str] = (),
    style_inferred: bool = False,
    k: int = 10,
) -> list[ScoredTrack]:
    """Re-score the search candidates with the personal parts and return the top k under the list rules."""
    shown = set(shown)
    rescored = []
    for candidate in candidates:
        track = candidate.track
        if not filters.admits(track):
            continue
        parts = dict(candidate.parts)
        if style_inferred and "style_match" in parts:
            parts["inferred_style_match"] = parts.pop("style_match")
        if exclude_moods:
            parts["unwanted_mood"] = sum(track.emotion[m] for m in exclude_moods)
        if preferences is not None and preferences.has_feedback:
            parts["preference"] = preference_part(candidate, preferences)
        if co_likes and track.id in co_likes:
            parts["co_like"] = co_likes[track.id]
        parts["repetition"] = 1.0 if track.id in shown else 0.0
        rescored.append(replace(candidate, parts=parts, total=score(parts, weights)))
    rescored.sort(key=lambda c: (-c.total, c.track.id))
    chosen: list[ScoredTrack] = []
    per_artist: dict[str, int] = {}
    seen_titles: set[tuple[str, str]] = set()
    for candidate in rescored:
        artist = candidate.track.artist.strip().lower()
        key = (candidate.track.title.strip().lower(), artist)
        if key in seen_titles or (artist and per_artist.get(artist, 0) >= MAX_PER_ARTIST):
            continue
        seen_titles.add(key)
        per_artist[artist] = per_artist.get(artist, 0) + 1
        chosen.append(candidate)
        if len(chosen) == k:
            break
    return chosen
