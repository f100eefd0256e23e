"""Request text -> Intent: the LLM's compact JSON reading, checked against the lexicons.

The LLM answers a schema-constrained object with short keys (see prompts/parse.yaml), so
its output is always valid JSON and costs few tokens. Code then decides what the model is
unreliable at: the language, which genres and artists were really named (and which were
negated), contexts, and how a follow-up moves the previous target.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agent import lexicon
from agent.llm import LLM, LocalLLM
from moodtune.config import Settings
from moodtune.errors import InputError
from moodtune.types import GENRES, MOOD_NAMES, MOODS, EmotionVector, Intent, StyleVector
from prompts import load_prompt

# Weights of the 1st, 2nd and 3rd mood the model lists.
RANK_WEIGHTS = (0.6, 0.25, 0.15)
MODEL_WEIGHT_UNDER_CUES = 0.25
# How far a follow-up moves the previous target towards the new reading.
FOLLOW_UP_STEP = 0.5
# A genre the model inferred, next to genres the user named, gets this share of a named one's weight.
INFERRED_GENRE_SHARE = 0.5
MAX_OUTPUT_TOKENS = 120

_MOOD_LIST = {"type": "array", "items": {"type": "string", "enum": list(MOOD_NAMES)}, "maxItems": 3}
_STRINGS = {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 4}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "m": _MOOD_LIST,
        "x": _MOOD_LIST,
        "g": {"type": "array", "items": {"type": "string", "enum": list(GENRES)}, "maxItems": 3},
        "a": _STRINGS,
        "xa": _STRINGS,
        "xg": _STRINGS,
        "c": {"type": "string", "maxLength": 30},
        "f": {"type": "boolean"},
        "s": {"type": "string", "enum": ["match", "lift"]},
        "e": {"type": "string", "maxLength": 200},
        "music": {"type": "boolean"},
    },
    # Only m is required: empty, false and default keys are left out, because every generated
    # token costs ~80-120 ms here and the full skeleton alone is ~45 tokens.
    "required": ["m"],
}
_EMOJI_ONLY = re.compile(r"^[\W_\s]+$", re.UNICODE)


def build_messages(text: str, *, previous: Intent | None) -> list[dict[str, str]]:
    """System prompt and few-shot turns first (a fixed prefix the KV cache reuses), then the request."""
    prompt = load_prompt("parse")
    messages = [{"role": "system", "content": prompt["system"].strip()}]
    for example in prompt["examples"]:
        messages.append({"role": "user", "content": f"<request>{example['user']}</request>"})
        messages.append({"role": "assistant", "content": example["answer"]})
    content = f"<request>{text}</request>"
    if previous is not None:
        summary = previous.english or previous.text
        content = prompt["previous_turn"].format(previous=summary) + "\n" + content
    messages.append({"role": "user", "content": content})
    return messages


def clean_text(text: str, *, max_chars: int) -> tuple[str, list[str]]:
    """Validate and trim the message; raise InputError for nothing usable."""
    if text is None or not str(text).strip():
        raise InputError("your message is empty", hint="tell me what you'd like to hear, e.g. 'calm piano for reading'")
    text = " ".join(str(text).split())
    notes = []
    if len(text) > max_chars:
        text = text[:max_chars]
        notes.append(f"your message was long, so I read its first {max_chars} characters")
    return text, notes


def _mood_distribution(listed: list[str], lexicon_counts: dict[str, int], excluded: list[str]) -> EmotionVector | None:
    weights = dict.fromkeys(MOOD_NAMES, 0.0)
    for rank, mood in enumerate(m for m in listed if m in weights):
        if rank < len(RANK_WEIGHTS):
            weights[mood] += RANK_WEIGHTS[rank]
    total_cues = sum(lexicon_counts.values())
    if total_cues:
        # Mood words the user wrote outrank the model's guess (怀旧 is nostalgic, whatever the
        # model says); the model's moods keep a quarter weight, as a tie-breaker and a blend.
        model_total = sum(weights.values()) or 1.0
        weights = {
            mood: lexicon_counts.get(mood, 0) / total_cues + MODEL_WEIGHT_UNDER_CUES * weights[mood] / model_total
            for mood in weights
        }
    for mood in excluded:
        weights[mood] = 0.0
    if not any(weights.values()):
        return None
    return EmotionVector(tuple(weights[m] for m in MOOD_NAMES))


def _shift_arousal(emotion: EmotionVector, cue: float) -> EmotionVector:
    """Move mass towards high- or low-arousal moods for 'more upbeat' / 'calmer'."""
    if not cue:
        return emotion
    boost = [max(0.0, cue * MOODS[m][1]) for m in MOOD_NAMES]
    total = sum(boost) or 1.0
    return EmotionVector.blend([(emotion, 0.5), (EmotionVector(tuple(b / total for b in boost)), 0.5)])


def _already_named(name: str, *names: list[str]) -> bool:
    """Is this name (or a close spelling of it) among the names kept so far?"""
    return lexicon.named_in_text(name, " , ".join(n for group in names for n in group))


def interpret(raw: dict[str, Any], *, text: str, previous: Intent | None, language: str, notes: list[str]) -> Intent:
    """Turn the model's raw answer into an Intent, checked against what the text says."""
    liked_genres, negated_genres = lexicon.genre_mentions(text)
    mood_counts, negated_moods = lexicon.mood_mentions(text)

    # Genres: only those the text names (or, for the style vector, that the model inferred
    # from a context and the text does not negate); exclusions only when negated in the text
    # or the model's exclusion is a genre the text names.
    model_genres = [g for g in raw.get("g", []) if g in GENRES]
    text_terms = set(liked_genres) | set(negated_genres)
    exclude_genres = list(negated_genres)
    for term in raw.get("xg", []):
        canonical = lexicon.canonical_genre(term)
        if canonical in text_terms and canonical not in liked_genres and canonical not in exclude_genres:
            exclude_genres.append(canonical)
    named_genres = [g for g in liked_genres if g in GENRES]
    style_genres = named_genres + [
        g
        for g in model_genres
        if g not in named_genres and g not in exclude_genres and (not previous or g in text_terms)
    ]
    # What the user named outweighs what the model inferred ("punk rock": rock, some metal).
    style_weights = {g: 1.0 if g in named_genres or not named_genres else INFERRED_GENRE_SHARE for g in style_genres}
    # Genre words outside the ten (gospel, k-pop) come from the text alone: the model's own list
    # of them could only repeat the lexicon's or add a negated one.
    genre_terms = [g for g in liked_genres if g not in GENRES]
    genre_terms += [g for g in style_genres if g not in genre_terms and g in liked_genres]

    # Artists: only names written in the text; a name under a negation is an exclusion.
    artists, exclude_artists = [], []
    for name in [*raw.get("a", []), *raw.get("xa", [])]:
        if lexicon.is_genre(name) or not lexicon.named_in_text(name, text) or lexicon.is_possessive_phrase(name):
            continue
        target = exclude_artists if lexicon.artist_negated(name, text) else artists
        if name not in target:
            target.append(name)
    model_saw_artist = any(not lexicon.is_genre(n) for n in [*raw.get("a", []), *raw.get("xa", [])])
    if language == "zh":
        # The model writes some names in another script (五月天 as "Mayday") or drops them; take
        # the ones written: a name right after a negation always, the looser "X那种" guess only
        # when the model saw an artist and none of its names was written.
        loose = model_saw_artist and not artists and not exclude_artists
        for name in lexicon.chinese_artist_mentions(text, after_negation_only=not loose):
            if not _already_named(name, artists, exclude_artists):
                (exclude_artists if lexicon.artist_negated(name, text) else artists).append(name)
    if language == "en":
        # The small model sometimes drops a name the user clearly wrote ("like Bob Dylan",
        # "anything except Drake"; "think Chic, Donna Summer" came back as Donna Summer alone).
        for name in lexicon.artist_mentions(text):
            if not _already_named(name, artists, exclude_artists) and not lexicon.artist_negated(name, text):
                artists.append(name)
        if not exclude_artists:
            exclude_artists = [n for n in lexicon.artist_mentions(text, excluded=True) if n not in artists]

    wished = lexicon.wished_moods(text)
    lifting = bool(wished) and any(MOODS[m][0] < 0 for m in mood_counts)
    if wished:
        # The mood asked for outranks the one described: in "been in a dark place, lift me up"
        # the dark (and any sad, angry or tense word) is the listener, not the music.
        mood_counts = {m: c for m, c in mood_counts.items() if MOODS[m][0] >= 0}
        for mood, count in wished.items():
            mood_counts[mood] = mood_counts.get(mood, 0) + count
    # When the text names an activity with a typical mood and no mood word, the activity speaks.
    if not mood_counts:
        implied = [lexicon.CONTEXT_MOODS[c] for c in lexicon.context_mentions(text) if c in lexicon.CONTEXT_MOODS]
        mood_counts = {implied[0]: 1} if implied and implied[0] not in negated_moods else {}
    moods = _mood_distribution(raw.get("m", []), mood_counts, [*raw.get("x", []), *negated_moods])
    arousal_cue = lexicon.arousal_cue(text)
    # A refinement is recognised even without a previous turn (the reply then says so);
    # only with one does it move the previous target.
    follow_up = bool(raw.get("f")) or lexicon.looks_like_follow_up(text)
    contexts = lexicon.context_mentions(text)
    # A context the text names wins; the model's own word only fills in when it names none.
    context = contexts[0] if contexts else lexicon.canonical_context(raw.get("c"))

    tempo_range = lexicon.tempo_bounds(text)
    if follow_up and previous is not None:
        base = previous.emotion
        emotion = EmotionVector.blend([(base, 1 - FOLLOW_UP_STEP), (moods, FOLLOW_UP_STEP)]) if moods else base
        emotion = _shift_arousal(emotion, arousal_cue)
        style = previous.style
        if style_genres:
            new = StyleVector.from_mapping(style_weights)
            style = StyleVector.blend([(style, 0.5), (new, 0.5)]) if style else new
        less = [g for g in GENRES if re.search(rf"\b(less|fewer|no more)\s+{g}", text.lower())]
        if style and less:
            style = StyleVector(tuple(0.0 if g in less else p for g, p in zip(GENRES, style.probs)))
        exclude_genres = list(dict.fromkeys([*previous.exclude_genres, *exclude_genres]))
        exclude_artists = list(dict.fromkeys([*previous.exclude_artists, *exclude_artists]))
        artists = artists or list(previous.artists)
        genre_terms = genre_terms or [t for t in previous.genre_terms if t not in exclude_genres]
        context = context or previous.context
        tempo_range = tempo_range or previous.tempo_range
    else:
        emotion = _shift_arousal(moods or EmotionVector.uniform(), arousal_cue)
        style = StyleVector.from_mapping(style_weights) if style_genres else None
    if style is not None:
        kept = [0.0 if g in exclude_genres else p for g, p in zip(GENRES, style.probs)]
        style = StyleVector(tuple(kept)) if any(kept) else None

    english = (raw.get("e") or "").strip()
    if language == "en" or not english or lexicon.detect_language(english) != "en":
        english = text if language == "en" else english
    is_music = bool(raw.get("music", True)) or bool(moods or style_genres or genre_terms or artists or contexts)
    if not is_music:
        notes.append("that doesn't look like a music request, so here is a neutral mix")
    return Intent(
        emotion=emotion,
        style=style,
        genre_terms=tuple(genre_terms),
        artists=tuple(artists),
        exclude_artists=tuple(exclude_artists),
        exclude_genres=tuple(exclude_genres),
        context=context,
        tempo_range=tempo_range,
        follow_up=follow_up,
        strategy="lift" if raw.get("s") == "lift" or lifting else "match",
        english=english or text,
        language="zh" if language == "zh" else "en",
        text=text,
        is_music_request=is_music,
        notes=tuple(notes),
    )


def parse_request(
    text: str, *, previous: Intent | None = None, llm: LLM | None = None, settings: Settings | None = None
) -> Intent:
    """Read a request (English or Chinese) into an Intent; InputError for empty input."""
    settings = settings or Settings.load()
    text, notes = clean_text(text, max_chars=settings.max_message_chars)
    language = lexicon.detect_language(text)
    if _EMOJI_ONLY.match(text):
        notes.append("I couldn't find words in your message, so here is a varied mix")
        return Intent(
            emotion=EmotionVector.uniform(),
            english="",
            language=language,
            text=text,
            is_music_request=False,
            notes=tuple(notes),
        )
    llm = llm or LocalLLM.load(settings)
    raw = llm.generate_json(build_messages(text, previous=previous), schema=SCHEMA, max_tokens=MAX_OUTPUT_TOKENS)
    return interpret(raw, text=text, previous=previous, language=language, notes=notes)


def intent_to_json(intent: Intent) -> str:
    """The intent as the `moodtune parse` command prints it (the same fields the HTTP API sends)."""
    from moodtune.serialize import intent_to_dict

    return json.dumps(intent_to_dict(intent), ensure_ascii=False, indent=2)
