"""What the agent understood of a request, said back to the user, and edited by them.

`chips(intent)` is the reading as small removable pieces (moods, not-X, context, genres, liked
artists, tempo), each with a stable id ("mood:calm", "not_mood:sad", "tempo:0-100") and a label
in the request's language. `summary(intent, recommendations)` is the reply's first sentence:
"calm, not sad, for driving, no jazz: 10 tracks, mostly ambient and folk." `edit(intent, keep,
add)` is the intent with the chips the user removed taken out and the ones they added put in:
the session searches again with it and no new LLM call (`Moodtune.stream_edited`).

The words are data (prompts/ui.yaml); the Chinese names of moods and the ten genres are the
explanations' (agent/explain.py), of other genre words and contexts the parser's rule files'.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache

import yaml

from agent import lexicon
from agent.explain import GENRE_ZH, MOOD_ZH
from moodtune.errors import InputError
from moodtune.types import GENRES, MOOD_NAMES, TEMPO_CEILING_BPM, EmotionVector, Intent, Recommendation, StyleVector
from prompts import load_prompt

# A mood or genre of the target is named in the reading from this share on: a request for
# "calm" is one-hot, a follow-up's blend keeps both moods it moved between, and the uniform
# target of a request that names no mood (1/8 each) names none.
CHIP_SHARE = 0.2
# "mostly X" when X is this share of the list (or X and Y together); a mix of three otherwise.
MOSTLY_SHARE = 0.6
KINDS = ("mood", "not_mood", "context", "genre", "guess", "artist", "not_genre", "not_artist", "tempo")


@dataclass(frozen=True)
class Chip:
    kind: str  # one of KINDS
    value: str  # "calm", "jazz", "driving", "0-100"
    label: str  # in the request's language

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.value}"


def words(language: str) -> dict[str, str]:
    return load_prompt("ui")["reading"]["zh" if language == "zh" else "en"]


@cache
def _zh_names() -> tuple[dict[str, str], dict[str, str]]:
    """(genre word -> its first Chinese spelling, context -> its first Chinese word), from the zh rules."""
    rules = yaml.safe_load((lexicon.RULES_DIR / "zh.yaml").read_text(encoding="utf-8"))
    genres: dict[str, str] = {}
    for written, canonical in rules.get("genres", {}).items():
        genres.setdefault(canonical, written)
    contexts = {name: spellings[0] for name, spellings in rules.get("contexts", {}).items() if spellings}
    return genres, contexts


def name_of(kind: str, value: str, language: str) -> str:
    """A mood, genre word or context as the user's language writes it."""
    if language != "zh":
        return "hip hop" if value == "hiphop" else value
    genres, contexts = _zh_names()
    if kind in ("mood", "not_mood"):
        return MOOD_ZH.get(value, value)
    if kind in ("genre", "guess", "not_genre"):
        return GENRE_ZH.get(value) or genres.get(value, value)
    if kind == "context":
        return contexts.get(value, value)
    return value


def _tempo_value(bounds: tuple[float, float]) -> str:
    low, high = bounds
    return f"{low:g}-{high:g}"


def _tempo_label(bounds: tuple[float, float], language: str) -> str:
    low, high = bounds
    said = words(language)
    if low <= 0:
        return said["tempo_under"].format(high=high)
    if high >= TEMPO_CEILING_BPM:
        return said["tempo_over"].format(low=low)
    return said["tempo_between"].format(low=low, high=high)


def chip(kind: str, value: str, language: str) -> Chip:
    if kind == "tempo":
        low, high = (float(v) for v in value.split("-"))
        return Chip(kind, value, _tempo_label((low, high), language))
    return Chip(kind, value, words(language)[kind].format(name=name_of(kind, value, language)))


def _target_moods(emotion: EmotionVector) -> list[str]:
    return [m for m, p in emotion.ranked() if p >= CHIP_SHARE]


def _target_genres(intent: Intent) -> list[str]:
    named = list(intent.genre_terms)
    if intent.style is not None and not intent.style_inferred:
        named += [g for g, p in intent.style.ranked() if p >= CHIP_SHARE and g not in named]
    return named


def chips(intent: Intent) -> list[Chip]:
    """The reading of a request, in the order the reply says it."""
    language = intent.language
    found = [chip("mood", m, language) for m in _target_moods(intent.emotion)]
    found += [chip("not_mood", m, language) for m in intent.exclude_moods]
    if intent.context:
        found.append(chip("context", intent.context, language))
    found += [chip("genre", g, language) for g in _target_genres(intent)]
    if intent.style is not None and intent.style_inferred:
        found += [chip("guess", g, language) for g, p in intent.style.ranked() if p >= CHIP_SHARE]
    found += [chip("artist", a, language) for a in intent.artists]
    found += [chip("not_genre", g, language) for g in intent.exclude_genres]
    found += [chip("not_artist", a, language) for a in intent.exclude_artists]
    if intent.tempo_range:
        found.append(chip("tempo", _tempo_value(intent.tempo_range), language))
    return found


def track_genre(rec: Recommendation) -> str:
    """The genre word a list summary counts a track under: its strongest tag genre, else its top style."""
    from tools.search import canonical_term

    terms = rec.track.genre_terms
    if not terms:
        return rec.track.style.top
    first = next(iter(terms))
    return canonical_term(first) or first


def mix(recommendations: Sequence[Recommendation], language: str) -> str:
    """"mostly ambient and folk" (or "a mix of ...") over the list's genres."""
    said = words(language)
    counts = Counter(track_genre(rec) for rec in recommendations).most_common(3)
    names = [name_of("genre", g, language) for g, _ in counts]
    total = len(recommendations)
    if counts[0][1] >= MOSTLY_SHARE * total or len(counts) == 1:
        return said["mostly_one"].format(a=names[0])
    if counts[0][1] + counts[1][1] >= MOSTLY_SHARE * total or len(counts) == 2:
        return said["mostly_two"].format(a=names[0], b=names[1])
    head = said["joiner"].join(names[:-1])
    return said["mix"].format(names=f"{head}{said['mix_last']}{names[-1]}")


def reading(intent: Intent) -> str:
    said = words(intent.language)
    return said["joiner"].join(c.label for c in chips(intent)) or said["anything"]


def summary(intent: Intent, recommendations: Sequence[Recommendation]) -> str:
    """The reply's first sentence: the reading, how many tracks, what they mostly are, and the strategy."""
    said = words(intent.language)
    text = reading(intent)
    text = text[:1].upper() + text[1:]
    template = said["one_track"] if len(recommendations) == 1 else said["summary"]
    head = template.format(reading=text, count=len(recommendations), mix=mix(recommendations, intent.language))
    space = "" if intent.language == "zh" else " "
    return f"{head}{space}{said['strategy_' + intent.strategy]}"


def _parse_ids(ids: Iterable[str]) -> list[tuple[str, str]]:
    parsed = []
    for chip_id in ids:
        kind, _, value = str(chip_id).partition(":")
        if kind not in KINDS or not value.strip():
            raise InputError(
                f"'{chip_id}' is not a reading chip", hint=f"chips are KIND:VALUE with KIND one of {', '.join(KINDS)}"
            )
        parsed.append((kind, value.strip()))
    return parsed


def _genre(value: str) -> str:
    canonical = lexicon.canonical_genre(value)
    if not canonical or not lexicon.looks_like_genre(canonical):
        raise InputError(f"'{value}' is not a genre I know", hint="try a genre such as jazz, folk, ambient, k-pop")
    return canonical


def _tempo(value: str) -> tuple[float, float]:
    choices = load_prompt("ui")["tempo_choices"]
    if value in choices:
        low, high = choices[value]
        return float(low), float(high)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)", value)
    if not match or float(match.group(1)) >= float(match.group(2)):
        raise InputError(f"'{value}' is not a tempo range", hint=f"use LOW-HIGH in bpm (90-120) or one of {list(choices)}")
    return float(match.group(1)), float(match.group(2))


def _without_words(text: str, names: Iterable[str]) -> str:
    """The query text without a removed chip's words, so a word the user took back no longer pulls the text search."""
    for name in names:
        if name:
            text = re.sub(rf"(?i)\b{re.escape(name)}\b", " ", text)
    return " ".join(text.split())


def edit(intent: Intent, keep: Iterable[str], add: Iterable[str] = ()) -> Intent:
    """The intent with the chips not in `keep` removed and those in `add` put in.

    Removing a mood takes it out of the target (the moods left keep their shares; none left is
    any mood); adding one gives it the leading share. Removing "not sad" lifts the exclusion
    (and its penalty), a genre leaves the style target and the genre words, a context or a
    liked artist leaves the query text, a tempo drops the filter. Unknown chips are an InputError.
    """
    keep_ids = {f"{k}:{v}" for k, v in _parse_ids(keep)}
    added = _parse_ids(add)
    current = chips(intent)
    removed = [c for c in current if c.id not in keep_ids]
    gone = {(c.kind, c.value) for c in removed}

    def kept(kind: str, values: Iterable[str]) -> list[str]:
        return [v for v in values if (kind, v) not in gone]

    def plus(kind: str, values: list[str]) -> list[str]:
        for k, v in added:
            v = _genre(v) if kind in ("genre", "not_genre") and k == kind else v
            if k == kind and v not in values:
                values.append(v)
        return values

    # Moods: rebuilt only when the mood chips changed, so an untouched target keeps its exact shape.
    moods_before = _target_moods(intent.emotion)
    moods = plus("mood", kept("mood", moods_before))
    exclude_moods = plus("not_mood", kept("not_mood", intent.exclude_moods))
    for mood in [*moods, *exclude_moods]:
        if mood not in MOOD_NAMES:
            raise InputError(f"'{mood}' is not one of the moods", hint=f"use one of {', '.join(MOOD_NAMES)}")
    moods = [m for m in moods if m not in exclude_moods]
    emotion = intent.emotion
    if moods != moods_before:
        lead = max((intent.emotion[m] for m in moods if m in moods_before), default=1.0)
        shares = {m: (intent.emotion[m] if m in moods_before else lead) for m in moods}
        emotion = EmotionVector.from_mapping(shares) if shares else EmotionVector.uniform()
    if exclude_moods:
        zeroed = [0.0 if m in exclude_moods else p for m, p in zip(MOOD_NAMES, emotion.probs)]
        emotion = EmotionVector(tuple(zeroed)) if any(zeroed) else emotion

    # Genres: named ones (the style target and the genre words), the model's guess, rejections.
    named_before = _target_genres(intent)
    named = plus("genre", kept("genre", named_before))
    exclude_genres = plus("not_genre", kept("not_genre", intent.exclude_genres))
    named = [g for g in dict.fromkeys(named) if g not in exclude_genres]
    style, style_inferred = intent.style, intent.style_inferred
    if style is not None and style_inferred and any(k == "guess" for k, _ in gone):
        style, style_inferred = None, False
    if named != named_before:
        styles = [g for g in named if g in GENRES]
        style = StyleVector.from_mapping(dict.fromkeys(styles, 1.0)) if styles else None
        style_inferred = False
    if style is not None:
        left = [0.0 if g in exclude_genres else p for g, p in zip(GENRES, style.probs)]
        style = StyleVector(tuple(left)) if any(left) else None
        style_inferred = style_inferred and style is not None

    tempo = intent.tempo_range if ("tempo", _tempo_value(intent.tempo_range or (0, 0))) not in gone else None
    for kind, value in added:
        if kind == "tempo":
            tempo = _tempo(value)
    context = intent.context if ("context", intent.context or "") not in gone else None
    for kind, value in added:
        if kind == "context":
            context = lexicon.canonical_context(value)

    dropped_words = [c.value for c in removed if c.kind in ("mood", "genre", "artist")]
    if intent.context and context is None:
        dropped_words += [intent.context, *lexicon.CONTEXT_WORDS.get(intent.context, ())]
    return replace(
        intent,
        emotion=emotion,
        style=style,
        style_inferred=style_inferred,
        genre_terms=tuple(named),
        artists=tuple(plus("artist", kept("artist", intent.artists))),
        exclude_artists=tuple(plus("not_artist", kept("not_artist", intent.exclude_artists))),
        exclude_genres=tuple(dict.fromkeys(exclude_genres)),
        exclude_moods=tuple(exclude_moods),
        context=context,
        tempo_range=tempo,
        english=_without_words(intent.english, dropped_words),
        # The target already is the lifted one when the reply lifted; lifting it again would move it twice.
        strategy="match" if intent.strategy == "lift" else intent.strategy,
        notes=(),
    )


def add_choices(language: str) -> list[tuple[str, str]]:
    """(label, chip id) for what a user can add to a reading: a mood, a not-mood, a genre, a not-genre, a tempo."""
    ui = load_prompt("ui")["ui"]["zh" if language == "zh" else "en"]
    out = [(ui["add_mood"].format(name=name_of("mood", m, language)), f"mood:{m}") for m in MOOD_NAMES]
    out += [(ui["add_not_mood"].format(name=name_of("mood", m, language)), f"not_mood:{m}") for m in MOOD_NAMES]
    out += [(ui["add_genre"].format(name=name_of("genre", g, language)), f"genre:{g}") for g in GENRES]
    out += [(ui["add_not_genre"].format(name=name_of("genre", g, language)), f"not_genre:{g}") for g in GENRES]
    out += [(ui["add_tempo"].format(name=ui["tempo_names"][t]), f"tempo:{t}") for t in load_prompt("ui")["tempo_choices"]]
    return out
