"""The one small engine that runs the request rules (agent/rules/{en,zh,common}.yaml).

The model reads the gist; what must stay deterministic is data in those files, run here: the
vocabularies that map what people write onto our genre, mood and context names, the scope of
a negation ("no jazz", 不要摇滚, "not too sad"), tempo numbers ("under 100 bpm"), ordinals ("the
second one", 第二首), and the names written after "like" or a negation. Each file holds one
language; a list or mapping is the union of both files, and a pattern of the same name in both
is one alternation, so a Chinese request with Latin words in it ("来点jazz") is read by both.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

from moodtune.errors import ModelMissingError
from moodtune.types import GENRES, TEMPO_CEILING_BPM

RULES_DIR = Path(__file__).resolve().parent / "rules"
LANGUAGES = ("en", "zh")


@cache
def _load(name: str) -> dict[str, Any]:
    path = RULES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ModelMissingError(f"the rules file {path} is missing", hint="git checkout agent/rules/")
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _merged(key: str) -> Any:
    """A key's value across the language files: lists joined, mappings merged (their lists joined too)."""
    values = [v for language in LANGUAGES if (v := _load(language).get(key)) is not None]
    if not values:
        return {}
    if all(isinstance(v, list) for v in values):
        return [item for v in values for item in v]
    merged: dict[str, Any] = {}
    for value in values:
        for k, v in value.items():
            merged[k] = [*merged.get(k, []), *v] if isinstance(v, list) else v
    return merged


@cache
def pattern(name: str) -> re.Pattern:
    """The named pattern of every language file, as one alternation, with the common pieces filled in."""
    sources = [
        _filled(src, {**_load("common").get("pieces", {}), **_load(language).get("pieces", {})})
        for language in LANGUAGES
        if (src := _load(language).get("patterns", {}).get(name))
    ]
    if not sources:
        raise KeyError(f"no pattern {name!r} in {RULES_DIR}")
    return re.compile("|".join(f"(?:{s})" for s in sources))


def _filled(source: str, pieces: dict[str, str]) -> str:
    """A pattern with its {piece} placeholders replaced (pieces may use other pieces)."""
    for _ in range(3):
        for key, piece in pieces.items():
            source = source.replace("{" + key + "}", piece)
    return source


def _groups(match: re.Match) -> list[str]:
    # Alternatives from several files number their groups apart: take the ones that matched.
    return [g for g in match.groups() if g is not None]


def _tuples(value: dict) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in value.items()}


# Spellings -> canonical genre. Canonical names in GENRES feed the style vector; others are kept
# as genre terms (matched against a track's own genre tag and text).
ALL_GENRE_TERMS: dict[str, str] = _merged("genres")
GENRE_ALIASES: dict[str, str] = {k: v for k, v in ALL_GENRE_TERMS.items() if v in GENRES}
MOOD_WORDS: dict[str, tuple[str, ...]] = _tuples(_merged("moods"))
MOOD_NAMES_AND_WORDS = frozenset(w for words in MOOD_WORDS.values() for w in words) | frozenset(MOOD_WORDS)
# Phrases naming the mood the listener wants to reach rather than the one they are in:
# "I'm anxious, help me come down" asks for calm; its "anxious" describes the listener.
WISHED_MOOD_PHRASES: dict[str, tuple[str, ...]] = _tuples(_merged("wished_moods"))
CONTEXT_WORDS: dict[str, tuple[str, ...]] = _tuples(_merged("contexts"))
SETTING_CONTEXTS: tuple[str, ...] = tuple(_load("common")["setting_contexts"])
CONTEXT_MOODS: dict[str, str] = dict(_load("common")["context_moods"])
HIGH_AROUSAL_WORDS: tuple[str, ...] = tuple(_merged("arousal_words").get("high", ()))
LOW_AROUSAL_WORDS: tuple[str, ...] = tuple(_merged("arousal_words").get("low", ()))
FOLLOW_UP_CUES: tuple[str, ...] = tuple(_merged("follow_up_cues"))
NEGATIONS_EN: tuple[str, ...] = tuple(_load("en")["negations"])
NEGATIONS_ZH: tuple[str, ...] = tuple(_load("zh")["negations"])
# Words with 别 or 不 that negate nothing: 特别燃 is "especially fiery", 别的 "other", 不错 "good".
NOT_NEGATIONS_ZH: tuple[str, ...] = tuple(_load("zh")["not_negations"])
COMPARATIVES: tuple[str, ...] = tuple(_load("en")["comparatives"])
# Chinese cues that point at the last list wherever they stand (这几首挺好的，但能不能换成英文歌).
FOLLOW_UP_ANYWHERE_ZH: tuple[str, ...] = tuple(_load("zh")["follow_up_anywhere"])
# Before a genre these name its era, not a feeling: "old-school hip hop like Nas" asks for
# hard 90s boom-bap, not for wistful music. Alone ("something old school") they are nostalgic.
ERA_QUALIFIERS: tuple[str, ...] = tuple(_load("en")["era_qualifiers"])
_FILLERS = frozenset(_load("en")["fillers"])
_NOT_NAMES = frozenset(_load("en")["not_names"])
NOUN_GENRES = frozenset(_merged("noun_genres"))
# Characters no Chinese name in a name's spot is made of: 太吵, 那么伤感, 慢歌, 有人声.
_NOT_IN_A_NAME = frozenset(_load("zh")["not_in_a_name"])
_ORDINALS: dict[str, int] = _merged("ordinals")

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def detect_language(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


def _find_term(text: str, term: str, *, adjective: bool = False) -> list[int]:
    """Start offsets of `term` in lowercase `text` (word boundaries for Latin terms).

    `adjective`: the term's adjective counts too ("jazzy", "hip-hopy", "bluesy"); only for
    genres, since for other words it is another word ("chill" -> "chilly").
    """
    return [m.start() for m in _term_pattern(term, adjective).finditer(text)]


# One compiled pattern a term: a parse looks up ~900 terms, more than re's own cache of 512
# holds, so without this every parse compiled them all again (~40 ms of a parse).
@lru_cache(maxsize=8192)
def _term_pattern(term: str, adjective: bool) -> re.Pattern[str]:
    if _CJK.search(term):
        return re.compile(re.escape(term))
    # The head of a hyphenated compound counts ("after-party"), and so does "-ish" ("folk-ish").
    # Boundaries are Latin letters and digits only: in 来点浪漫的r&b the 的 is no part of the word.
    suffix = r"-ish\b|-?y\b|" if adjective else r"-ish\b|"
    return re.compile(rf"(?<![a-z0-9_])(?:{_spellings(term)})(?={suffix}(?![a-z0-9_-]))")


# A term written as one word is also found split once by a hyphen or a space ("afro-beats" for
# afrobeats), as the model's own terms are read (canonical_genre); shorter ones would match
# across words ("ur a pig").
MIN_SPLIT_TERM = 6


def _spellings(term: str) -> str:
    if len(term) < MIN_SPLIT_TERM or not term.isalpha():
        return re.escape(term)
    return "|".join(re.escape(term[:i]) + (r"[- ]" if i else "") + re.escape(term[i:]) for i in range(len(term) - 1))


def _negated(text: str, position: int) -> bool:
    """Is the word at `position` inside the scope of a negation just before it?"""
    window = text[max(0, position - 24) : position]
    is_chinese = _CJK.search(window) or _CJK.search(text[position : position + 1])
    if is_chinese:
        # A negation's scope ends with its clause: 不要周杰伦，来点华语流行 still wants pop.
        near = pattern("scope_end").split(text[max(0, position - 12) : position])[-1]
        for word in NOT_NEGATIONS_ZH:
            near = near.replace(word, "")
        if any(neg in near for neg in NEGATIONS_ZH):
            return True
    if pattern("negating_phrase").search(window):
        return True
    words = re.findall(r"[\w'-]+", window)[-3:]
    if any(w in NEGATIONS_EN for w in words):
        # "not too X" and "no X" negate; "but" or "," between them ends the scope.
        tail = window.split(",")[-1].split(" but ")[-1]
        return any(w in NEGATIONS_EN for w in re.findall(r"[\w'-]+", tail)[-3:])
    return False


def genre_mentions(text: str) -> tuple[list[str], list[str]]:
    """(genres named positively, genres named under a negation), canonical names, in order."""
    lowered = text.lower()
    # Longest spellings first, so "heavy metal" is not also read as "metal".
    taken: list[tuple[int, int, str]] = []
    for term in sorted(ALL_GENRE_TERMS, key=len, reverse=True):
        for start in _find_term(lowered, term, adjective=True):
            end = start + len(term)
            if _is_common_noun(lowered, start, end):
                continue
            if not any(s < end and start < e for s, e, _ in taken):
                taken.append((start, end, ALL_GENRE_TERMS[term]))
    liked: list[str] = []
    excluded: list[str] = []
    for start, end, canonical in sorted(taken):
        rejected = (
            _negated(lowered, start)
            or pattern("too_before").search(lowered[max(0, start - 5) : start])
            or _complained_after(lowered, end)
        )
        target = excluded if rejected else liked
        if canonical not in target:
            target.append(canonical)
    liked = [g for g in liked if g not in excluded]
    return liked, excluded


def _is_common_noun(text: str, start: int, end: int) -> bool:
    if text[start:end] not in NOUN_GENRES:
        return False
    return bool(pattern("determiner_before").search(text[max(0, start - 8) : start])) and not pattern(
        "music_after"
    ).match(text[end:])


def _names_an_era(text: str, start: int, word: str) -> bool:
    if word not in ERA_QUALIFIERS:
        return False
    return bool(_GENRE_AHEAD.match(text[start + len(word) :].lstrip()))


# Any genre term as a whole word, in one pattern (one pattern a term overflowed re's cache, see _term_pattern).
_GENRE_AHEAD = re.compile(rf"(?:{'|'.join(map(re.escape, ALL_GENRE_TERMS))})(?![\w-])")


def mood_mentions(text: str) -> tuple[dict[str, int], list[str]]:
    """(mood -> count of positive cue words, moods named under a negation)."""
    lowered = pattern("not_an_activity").sub(" ", text.lower())
    counts: dict[str, int] = {}
    negated: list[str] = []
    for mood, words in MOOD_WORDS.items():
        for word in words:
            for start in _find_term(lowered, word):
                if _names_an_era(lowered, start, word):
                    continue
                # "Way too gloomy" / 太伤感了 complains of a mood: it is one to leave.
                if _negated(lowered, start) or pattern("too_before").search(lowered[max(0, start - 5) : start]):
                    if mood not in negated:
                        negated.append(mood)
                else:
                    counts[mood] = counts.get(mood, 0) + 1
    return {m: c for m, c in counts.items() if m not in negated}, negated


def _phrase_pattern(phrase: str) -> re.Pattern:
    """An English phrase whose leading verb may take an -s ("something that wakes me up")."""
    if _CJK.search(phrase):
        return re.compile(re.escape(phrase))
    verb, _, rest = phrase.partition(" ")
    return re.compile(rf"(?<![\w-]){re.escape(verb)}s? {re.escape(rest)}(?![\w-])")


_WISHED_PATTERNS = {mood: [_phrase_pattern(p) for p in phrases] for mood, phrases in WISHED_MOOD_PHRASES.items()}


def wished_moods(text: str) -> dict[str, int]:
    """Mood -> count of phrases asking to be brought into that mood (not under a negation)."""
    lowered = text.lower()
    counts: dict[str, int] = {}
    for mood, patterns in _WISHED_PATTERNS.items():
        hits = [
            m.start() for pattern in patterns for m in pattern.finditer(lowered) if not _negated(lowered, m.start())
        ]
        if hits:
            counts[mood] = len(hits)
    return counts


def context_mentions(text: str) -> list[str]:
    """Contexts the text names, the last-named first.

    The head of a phrase comes last, in English and in Chinese alike: a "dinner date" is a
    date, a "rainy drive" a drive, a 生日派对 a party.
    """
    lowered = pattern("not_an_activity").sub(" ", text.lower())
    ends: dict[str, int] = {}
    for context, words in CONTEXT_WORDS.items():
        spots = [start + len(w) for w in words for start in _find_term(lowered, w)]
        if spots:
            ends[context] = max(spots)
    # A time or weather is the setting of an activity named with it: baking on a rainy morning
    # is baking, whichever came last.
    return sorted(ends, key=lambda context: (context in SETTING_CONTEXTS, -ends[context]))


def canonical_context(value: str | None) -> str | None:
    """The LLM's context word mapped onto our context names where it matches one."""
    if not value or not value.strip():
        return None
    lowered = value.strip().lower()
    for context, words in CONTEXT_WORDS.items():
        if lowered == context or lowered in words:
            return context
    return lowered


def arousal_cue(text: str) -> float:
    """+1 for cues asking for more energy, -1 for less, 0 for none or both."""
    lowered = text.lower()
    if pattern("too_low").search(lowered) or pattern("too_high").search(lowered):
        return (
            1.0
            if pattern("too_low").search(lowered) and not pattern("too_high").search(lowered)
            else -1.0
            if not pattern("too_low").search(lowered)
            else 0.0
        )
    high = any(_find_term(lowered, w) and not _negated(lowered, _find_term(lowered, w)[0]) for w in HIGH_AROUSAL_WORDS)
    low = any(_find_term(lowered, w) and not _negated(lowered, _find_term(lowered, w)[0]) for w in LOW_AROUSAL_WORDS)
    return float(high) - float(low)


def looks_like_follow_up(text: str) -> bool:
    lowered = text.strip().lower() + " "
    words = re.findall(r"[a-z]+", lowered)
    # A message of comparatives alone only makes sense against the previous turn.
    if (
        words
        and len(words) <= 5
        and any(w in COMPARATIVES for w in words)
        and all(w in COMPARATIVES or w in _FILLERS for w in words)
    ):
        return True
    if len(lowered) < 80 and (
        any(cue in lowered for cue in FOLLOW_UP_ANYWHERE_ZH) or pattern("follow_up").search(lowered)
    ):
        return True
    # "More like the second one" points into the previous list.
    if earlier_track_index(lowered) is not None:
        return True
    return len(lowered) < 80 and any(lowered.startswith(c) or f" {c}" in lowered for c in FOLLOW_UP_CUES)


def earlier_track_index(text: str) -> int | None:
    """Index into the previous list of the track the text points at ("the second one": 1, last: -1)."""
    match = pattern("track_ordinal").search(text.lower())
    if not match:
        return None
    word = _groups(match)[0]
    if word == "最后":
        return -1
    return int(word) - 1 if word.isdigit() else _ORDINALS[word]


def tempo_direction(text: str) -> int:
    """-1 when the text asks for slower music, +1 for faster, 0 for neither or both."""
    lowered = text.lower()
    return int(bool(pattern("faster").search(lowered))) - int(bool(pattern("slower").search(lowered)))


BPM_TOLERANCE = 0.08


def tempo_bounds(text: str) -> tuple[float, float] | None:
    """An explicit tempo the text asks for ("90-110 bpm", "under 100 bpm", "around 120 bpm")."""
    lowered = text.lower()
    if match := pattern("bpm_between").search(lowered):
        low, high = sorted(float(g) for g in _groups(match)[:2])
        return low, high
    if match := pattern("bpm_below").search(lowered):
        return 0.0, float(_groups(match)[0])
    if match := pattern("bpm_above").search(lowered):
        return float(_groups(match)[0]), TEMPO_CEILING_BPM
    if match := pattern("bpm_around").search(lowered):
        bpm = float(_groups(match)[0])
        return round(bpm * (1 - BPM_TOLERANCE), 1), round(bpm * (1 + BPM_TOLERANCE), 1)
    return None


def named_in_text(name: str, text: str, *, cutoff: float = 0.8) -> bool:
    """Was this (artist) name written in the text, allowing small spelling differences?"""
    return written_name(name, text, cutoff=cutoff) is not None


# A name shorter than this, squashed or as initials, matches too many words by chance.
MIN_SQUASHED = 4
MIN_INITIALS, MAX_INITIALS = 3, 6


def written_name(name: str, text: str, *, cutoff: float = 0.8) -> str | None:
    """The name to keep when the text writes it, else None.

    The model respells names: it spaces one the user ran together ("R Kelly" for "rkelly"),
    shortens one to its initials ("bmth" for "bring me the horizon") or spells out the user's
    initials ("Red Hot Chili Peppers" for "rhcp"). The spelled-out form is kept, since that is
    what a library's tags hold.
    """
    name_l, text_l = name.strip().lower(), text.lower()
    if not name_l:
        return None
    if name_l in text_l:
        return name.strip()
    tokens = re.findall(r"[\w'&.-]+", text_l)
    words = name_l.split()
    grams = [" ".join(tokens[i : i + len(words)]) for i in range(len(tokens) - len(words) + 1)]
    if difflib.get_close_matches(name_l, grams, n=1, cutoff=cutoff):
        return name.strip()
    squashed = _letters(name_l)
    if len(squashed) >= MIN_SQUASHED and any(
        _letters(" ".join(tokens[i : i + size])) == squashed
        for size in range(1, len(words) + 2)
        for i in range(len(tokens) - size + 1)
    ):
        return name.strip()
    if len(words) == 1 and MIN_INITIALS <= len(squashed) <= MAX_INITIALS and squashed.isalpha():
        size = len(squashed)
        for start in range(len(tokens) - size + 1):
            if _initials(tokens[start : start + size]) == squashed:
                return " ".join(tokens[start : start + size])
    if MIN_INITIALS <= len(words) <= MAX_INITIALS and _initials(words) in {_letters(t) for t in tokens}:
        return name.strip()
    return None


def _letters(text: str) -> str:
    return re.sub(r"[\W_]+", "", text)


def _initials(words: Sequence[str]) -> str:
    return "".join(w[0] for w in words if w[:1].isalnum())


def artist_negated(name: str, text: str, *, listed_with: Sequence[str] = ()) -> bool:
    """Is the name under a negation, or followed by a complaint (草东太吵了, "TWICE 就算了")? A complaint
    after a list of names is about each of them: "SUGA, KARA and Apink don't fit" (the list's other
    names are `listed_with`)."""
    lowered = text.lower()
    spots = _find_term(lowered, name.lower()) or [lowered.find(name.lower().split()[0])]
    return any(
        pos >= 0
        and (_negated(lowered, pos) or _complained_after(lowered, _list_end(text, pos + len(name), listed_with)))
        for pos in spots
    )


def _list_end(text: str, end: int, names: Sequence[str]) -> int:
    """Where a list of names that goes on at `end` stops ("..., KARA, Miss A and Apink"): each item is
    one of `names` or a capitalised name."""
    lowered = text.lower()
    others = sorted({n.strip().lower() for n in names if n.strip()}, key=len, reverse=True)
    while separator := pattern("list_separator").match(text, end):
        start = separator.end()
        listed = next((len(n) for n in others if lowered.startswith(n, start)), 0)
        item = pattern("list_item").match(text, start)
        size = max(listed, item.end() - start if item else 0)
        if not size:
            break
        end = start + size
    return end


def _complained_after(text: str, end: int) -> bool:
    """Does a complaint follow the term ending at `end`, in the same clause (电子的有点吵)?"""
    return bool(pattern("complaint_after").match(text[end:]))


def is_possessive_phrase(name: str) -> bool:
    """'my wife', 'our kids': people in the user's life, not artists ('Our Lady Peace' is one)."""
    return name.strip().split(" ", 1)[0] in {"my", "our", "your", "his", "her", "their"}


def is_genre(term: str) -> bool:
    lowered = term.strip().lower()
    return lowered in ALL_GENRE_TERMS or lowered in GENRES or genre_adjective(lowered) is not None


def genre_adjective(term: str) -> str | None:
    """The genre an adjective is made from ("Hip-Hopy" -> hiphop, "jazzy" -> jazz), else None."""
    match = pattern("genre_adjective").fullmatch(term.strip().lower())
    stem = _groups(match)[0] if match else None
    return ALL_GENRE_TERMS.get(stem) if stem else None


def _squashed(term: str) -> str:
    return re.sub(r"[\s-]+", "", term)


# People hyphenate and space genre words as they like; one spelling of each is in the rules.
_SQUASHED_GENRE_TERMS = {_squashed(k): v for k, v in ALL_GENRE_TERMS.items()}


def canonical_genre(term: str) -> str:
    """One spelling per genre: "Reggaetón" -> "reggaeton", "power ballads" -> "power ballad", "hip hop" -> "hiphop"."""
    lowered = unicodedata.normalize("NFKD", term.strip().lower())
    lowered = "".join(c for c in lowered if not unicodedata.combining(c))
    lowered = pattern("genre_suffix").sub("", lowered).strip()
    if lowered in ALL_GENRE_TERMS:
        return ALL_GENRE_TERMS[lowered]
    if squashed := _SQUASHED_GENRE_TERMS.get(_squashed(lowered)):  # "afro-beat", "lo fi", "hip-hop"
        return squashed
    if adjective := genre_adjective(lowered):
        return adjective
    if lowered.endswith("s") and lowered[:-1] in ALL_GENRE_TERMS:
        return ALL_GENRE_TERMS[lowered[:-1]]
    if lowered.endswith("s") and " " in lowered:  # "power ballads", "sea shanties" stay plural-free
        return lowered[:-1]
    return lowered


def looks_like_genre(term: str) -> bool:
    """A genre word the vocabulary lacks, made of genre words ("pop punk", "deep house"), not a name."""
    lowered = canonical_genre(term)
    return lowered in ALL_GENRE_TERMS.values() or bool(pattern("genre_like").search(lowered))


def has_dislike_cue(text: str) -> bool:
    """Does the text say anywhere that the user does not want something?"""
    return bool(pattern("dislike_cue").search(text.lower()))


def is_mood_word(term: str) -> bool:
    """A mood or tempo word the model put among genres ("chill", "upbeat")."""
    lowered = term.strip().lower()
    return lowered in MOOD_NAMES_AND_WORDS


def artist_liked(name: str, text: str) -> bool:
    """Is the name written right after a liking cue ("like Adele", 喜欢周杰伦), not under a negation?"""
    lowered = text.lower()
    spots = _find_term(lowered, name.lower())
    return any(
        pattern("liked_before").search(lowered[max(0, pos - 16) : pos]) and not _negated(lowered, pos) for pos in spots
    )


def artist_mentions(text: str, *, excluded: bool = False) -> list[str]:
    """Capitalised names the user put after "like", "by" or "from", or with `excluded` after a
    negation ("except", "not", "without" ...). English text only."""
    names: list[str] = []
    for match in pattern("artist_excluded" if excluded else "artist_after").finditer(text):
        for name in re.split(r"\s*(?:,|\bor\b|\band\b)\s*", _groups(match)[0]):
            name = name.strip()
            if name and name not in _NOT_NAMES and not is_genre(name) and name not in names:
                names.append(name)
    # Lowercase names count only in the narrow spots the rules name (asked for up to the clause's
    # end; with `excluded` a dislike lead up to the clause's end, "those by X don't fit", doubt
    # about being X's fan), and never when they are a mood, genre or activity word.
    lower = ("artist_excluded_lower", "artist_before_complaint", "artist_doubted_fan") if excluded else ("artist_wanted_lower",)
    for key in lower:
        for match in pattern(key).finditer(text):
            name = re.sub(r"'s$", "", _groups(match)[0].strip().rstrip("."))  # "some of burna boy's"
            if _could_be_a_name(name) and not is_mood_word(name) and not looks_like_genre(name) and name not in names:
                names.append(name)
    return names


def starts_new_request(text: str) -> bool:
    """Does the turn start another playlist ("now I'd like to make a playlist for nostalgia")?"""
    return bool(pattern("new_request").search(text.lower()))


_CUE_WORDS = tuple(
    w for words in (*MOOD_WORDS.values(), *CONTEXT_WORDS.values(), HIGH_AROUSAL_WORDS, LOW_AROUSAL_WORDS) for w in words
)


def without_tail(name: str) -> str:
    """A name without the words the model carried over from after it ("Blonde to the Mix")."""
    return pattern("name_tail").sub("", name.strip())


def could_be_an_artist(name: str) -> bool:
    """Could a name the model listed be an artist? Not when it is a word these rules read as a
    mood, tempo, activity or genre ("bouncy", "holiday season", 忧伤), or a decade ("90's")."""
    return _could_be_a_name(name.strip()) and not pattern("decade").match(name.strip().lower())


def _could_be_a_name(name: str) -> bool:
    if len(name) < 2 or is_genre(name):
        return False
    if not _CJK.search(name):  # "Madonna" holds "mad": Latin names are compared whole
        return name.lower() not in _CUE_WORDS
    return not any(w in name for w in _CUE_WORDS)


def chinese_artist_mentions(text: str, *, after_negation_only: bool = False) -> list[str]:
    """Names a Chinese request writes before 那种/那样 ("五月天那种"), right after a negation
    ("别给我放邓紫棋") or right before a complaint ("草东太吵了", "BTS之外的"), when they are no
    mood, genre or activity word.

    The first kind is a guess worth taking only when the model saw an artist but wrote its name
    in another script (五月天 as "Mayday"); `after_negation_only` keeps to the second kind.
    """
    names: list[str] = []
    for match in [*pattern("name_after_negation").finditer(text), *pattern("name_before_complaint").finditer(text)]:
        name = _groups(match)[0]
        if _could_be_a_name(name) and not set(name) & _NOT_IN_A_NAME and name not in names:
            names.append(name)
    if not after_negation_only:
        for match in pattern("names_before_kind").finditer(text):
            for name in pattern("name_separators").split(_groups(match)[0]):
                name = name.strip()
                if _could_be_a_name(name) and name not in names:
                    names.append(name)
    return names
