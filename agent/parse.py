"""Request text -> Intent: the LLM's compact JSON reading, checked against the lexicons.

The LLM answers a schema-constrained object with short keys (see prompts/parse.yaml), so
its output is always valid JSON and costs few tokens. Code then decides what the model is
unreliable at: the language, which genres and artists were really named (and which were
negated), contexts, and how a follow-up moves the previous target.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from agent import lexicon
from agent.fewshot import Example, ExampleBank, default_bank
from agent.llm import LLM, LocalLLM
from moodtune.config import Settings
from moodtune.errors import InputError
from moodtune.types import GENRES, MOOD_NAMES, MOODS, EmotionVector, Intent, StyleVector, Turn
from prompts import load_prompt

# Weights of the 1st, 2nd and 3rd mood the model lists.
RANK_WEIGHTS = (0.6, 0.25, 0.15)
MODEL_WEIGHT_UNDER_CUES = 0.25
# How far a follow-up moves the previous target towards the new reading: a mood the new turn
# names leads ("some romantic songs" after "I'm feeling down" is romantic), the last one stays.
FOLLOW_UP_STEP = 0.7
MAX_OUTPUT_TOKENS = 120
# Every answer starts with the one required key, as the prompt's examples do: read with the
# prompt, its two tokens ('{"', 'm') cost ~25 ms instead of ~150 ms generated.
ANSWER_START = '{"m'
# Keys the model writes that are never read (see parse_request): the answer stops where one starts.
UNREAD = ("e", "f")

_MOOD_LIST = {"type": "array", "items": {"type": "string", "enum": list(MOOD_NAMES)}, "maxItems": 3}
_STRINGS = {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 4}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "m": _MOOD_LIST,
        "x": _MOOD_LIST,
        # Genre words as the user wrote them: the ten the style classifier knows and any other
        # (funk, reggaeton, k-pop), which are matched against tracks' tags and text.
        "g": _STRINGS,
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
# How many labelled examples nearest to the request join the fixed ones, and how much of the
# conversation the parser sees (each retrieved example or earlier turn costs ~30-60 prompt tokens).
# One example reads real requests better than two (CPCD dev 0.885 vs 0.875, Chinese 0.928 vs
# 0.897, same rules) and two as well as four, and each costs ~60 prompt tokens, ~1.2 s here
# (bench/results/parse.json): the nearest example teaches the answer's shape, more only dilute it.
FEW_SHOT_K = 1
# The last turn (what the user said and was shown) is the context a reading needs; a second one
# read the same (fresh + fresh2: 133 of 143 either way) for ~0.2 s more a later turn
# (bench/results/parse_history_one_turn.json, parse_history_two_turns_same_hour.json).
HISTORY_TURNS = 1
EXAMPLE_PREVIOUS_CHARS = 80
HISTORY_CHARS = 120


def _request_content(text: str, *, history: Sequence[Turn], prompt: dict[str, Any]) -> str:
    lines = []
    for turn in list(history)[-HISTORY_TURNS:]:
        lines.append(prompt["previous_turn"].format(previous=turn.user[:HISTORY_CHARS]))
    if history and history[-1].shown:
        lines.append(prompt["shown_turn"].format(shown=history[-1].shown[:HISTORY_CHARS]))
    lines.append(f"<request>{text}</request>")
    return "\n".join(lines)


def static_prefix_length() -> int:
    """How many leading messages are the same for every request (the system prompt and the fixed
    examples): the model reads each request from there, so one prompt always gets one answer."""
    return 1 + 2 * len(load_prompt("parse")["examples"])


def build_messages(
    text: str,
    *,
    previous: Intent | None = None,
    history: Sequence[Turn] = (),
    examples: Sequence[Example] = (),
) -> list[dict[str, str]]:
    """System prompt and fixed few-shot turns first (a prefix the KV cache reuses), then the
    examples retrieved for this request, then the request with the conversation before it."""
    prompt = load_prompt("parse")
    messages = [{"role": "system", "content": prompt["system"].strip()}]
    for example in prompt["examples"]:
        messages.append({"role": "user", "content": f"<request>{example['user']}</request>"})
        messages.append({"role": "assistant", "content": example["answer"]})
    for example in examples:
        earlier = (Turn(user=example.previous[:EXAMPLE_PREVIOUS_CHARS]),) if example.previous else ()
        messages.append({"role": "user", "content": _request_content(example.text, history=earlier, prompt=prompt)})
        messages.append({"role": "assistant", "content": example.answer})
    if not history and previous is not None:
        history = (Turn(user=previous.english or previous.text),)
    messages.append({"role": "user", "content": _request_content(text, history=history, prompt=prompt)})
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


def _model_context(value: str | None, *, names: Sequence[str]) -> str | None:
    """The model's own context word, when the text names none. It often writes a genre, a name or
    "music" there ("80s pop", "momoland", "drake"): those describe the music, not the setting."""
    context = lexicon.canonical_context(value)
    if context is None or context in lexicon.CONTEXT_WORDS:
        return context
    if lexicon.looks_like_genre(context) or lexicon.is_mood_word(context) or _already_named(context, list(names)):
        return None
    return context


def _asked_for_music(intent: Intent) -> bool:
    """Did this turn ask for anything: a mood, a style, a name, a setting or a tempo?"""
    return (
        intent.emotion != EmotionVector.uniform()
        or any((intent.style, intent.genre_terms, intent.artists, intent.context, intent.tempo_range))
        or any((intent.exclude_artists, intent.exclude_genres, intent.exclude_moods))
    )


def _genre_reading(
    raw: dict[str, Any], *, text: str, english: str, disliking: bool
) -> tuple[list[str], list[str], list[str]]:
    """(genre terms the user named, genre terms they rejected, genres the model only inferred).

    A term counts as named when it (or a spelling of it) is written in the request, or, for a
    Chinese request, in the model's English paraphrase of it; the model's other genres are a guess.
    """
    liked_text, negated_text = lexicon.genre_mentions(text)
    written = f"{text} {english}"
    named = list(liked_text)
    excluded = list(negated_text)
    inferred: list[str] = []
    # A genre the model calls unwanted needs a word of dislike in the text (`disliking`), as an
    # artist does: "any chance you have country songs?" came back with country rejected.
    for term in raw.get("xg", []) if disliking else ():
        canonical = lexicon.canonical_genre(term)
        if canonical and canonical not in excluded and lexicon.named_in_text(term, written):
            excluded.append(canonical)
    for term in raw.get("g", []):
        canonical = lexicon.canonical_genre(term)
        if not canonical or canonical in excluded or canonical in named or not lexicon.looks_like_genre(canonical):
            continue  # a name the model put among genres ("kodak", "beartooth") is read as an artist
        if lexicon.named_in_text(term, written) and not lexicon.is_mood_word(canonical):
            named.append(canonical)
        elif canonical in GENRES and canonical not in inferred:
            inferred.append(canonical)
    # A genre written positively and also rejected ("jazzy" in "too jazzy") is rejected.
    named = [g for g in named if g not in excluded]
    return named, excluded, inferred


def interpret(
    raw: dict[str, Any],
    *,
    text: str,
    previous: Intent | None,
    language: str,
    notes: list[str],
    history: Sequence[Turn] = (),
) -> Intent:
    """Turn the model's raw answer into an Intent, checked against what the text says."""
    mood_counts, negated_moods = lexicon.mood_mentions(text)
    # A genre the model listed as an artist ("punk rock", "afro-beat", "electropop") is a genre
    # when the text writes it in lowercase; "Baby Metal" and "Iggy Pop" stay names.
    # An adjective made from a genre ("more Hip-Hopy") is never a name.
    as_genres = [
        n
        for n in raw.get("a", [])
        if (n == n.lower() and n in text and lexicon.looks_like_genre(n)) or lexicon.genre_adjective(n)
    ]
    if as_genres:
        raw = {**raw, "g": [*raw.get("g", []), *as_genres], "a": [n for n in raw["a"] if n not in as_genres]}
    english = (raw.get("e") or "").strip()
    if language == "en" or not english or lexicon.detect_language(english) != "en":
        english = text if language == "en" else english

    disliking = lexicon.has_dislike_cue(text)
    named, exclude_genres, inferred = _genre_reading(raw, text=text, english=english, disliking=disliking)
    named_styles = [g for g in named if g in GENRES]
    genre_terms = list(named)

    # Artists: only names written in the text. The model tells liked from disliked ("not a fan
    # of PSY", "I don't like the ones by X"); a name under a negation is always an exclusion, and
    # one right after "like"/喜欢 always liked.
    artists, exclude_artists = [], []
    # A name the model put among genres, liked or rejected ("not a fan of Deep Blue Something"
    # came back as a rejected genre), is read as an artist.
    names_as_genres = [g for g in raw.get("g", []) if not lexicon.looks_like_genre(g)]
    names_as_excluded_genres = [g for g in raw.get("xg", []) if not lexicon.looks_like_genre(g)]
    liked_names = [*raw.get("a", []), *names_as_genres]
    disliked_names = [*raw.get("xa", []), *names_as_excluded_genres]
    listed = [*liked_names, *disliked_names]
    for written, disliked in [*((n, False) for n in liked_names), *((n, True) for n in disliked_names)]:
        name = lexicon.without_tail(written)
        if not lexicon.could_be_an_artist(name) or lexicon.is_possessive_phrase(name):
            continue
        if (name := lexicon.written_name(name, text)) is None:
            continue
        if lexicon.artist_negated(name, text, listed_with=listed):
            disliked = True
        elif language == "zh" or lexicon.artist_liked(name, text) or not disliking:
            # "like Adele", or a message with no word of dislike at all ("Limp Bizkit Korn"). In
            # Chinese the cue words are everywhere (有没有 holds 没), so only the name's own
            # negation or complaint rejects it: 周杰伦的都听遍了 still wants Jay Chou's style.
            disliked = False
        target = exclude_artists if disliked else artists
        if not _already_named(name, artists, exclude_artists):
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
        mentioned = lexicon.artist_mentions(text)
        for name in mentioned:
            if not _already_named(name, artists, exclude_artists):
                negated = lexicon.artist_negated(name, text, listed_with=mentioned)
                target = exclude_artists if negated else artists
                # The model's cut-off start of the name ("Tony Toni" of "tony toni tone") gives way.
                target[:] = [n for n in target if not name.lower().startswith(f"{n.lower()} ")]
                target.append(name)
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
    exclude_moods = list(dict.fromkeys([*raw.get("x", []), *negated_moods]))
    exclude_moods = [m for m in exclude_moods if m in MOODS and m not in mood_counts]
    moods = _mood_distribution(raw.get("m", []), mood_counts, exclude_moods)
    arousal_cue = lexicon.arousal_cue(text)
    # In a conversation every later turn works on the list so far ("james brown", "more like
    # these", "too upbeat for me"); a first message is a refinement only when its words say so
    # ("slower", 换点开心的), and only with a previous turn does it move the previous target.
    # An opening greeting ("hello" -> "Modern Rock") asked for nothing, so there is nothing to
    # refine yet; a "thanks!" later on, music request or not, is still inside the conversation.
    in_conversation = (
        previous.follow_up or (previous.is_music_request and _asked_for_music(previous))
        if previous is not None
        else bool(history)
    )
    # A turn that starts another playlist is new, whatever words of refinement it holds ("now I'd like ...").
    follow_up = not lexicon.starts_new_request(text) and (in_conversation or lexicon.looks_like_follow_up(text))
    contexts = lexicon.context_mentions(text)
    # A context the text names wins; the model's own word only fills in when it names none.
    context = contexts[0] if contexts else _model_context(raw.get("c"), names=[*artists, *exclude_artists])

    tempo_range = lexicon.tempo_bounds(text)
    style_inferred = False
    if follow_up and previous is not None:
        base = previous.emotion
        emotion = EmotionVector.blend([(base, 1 - FOLLOW_UP_STEP), (moods, FOLLOW_UP_STEP)]) if moods else base
        emotion = _shift_arousal(emotion, arousal_cue)
        style, style_inferred = previous.style, previous.style_inferred
        if named_styles:
            new = StyleVector.from_mapping(dict.fromkeys(named_styles, 1.0))
            style = StyleVector.blend([(style, 0.5), (new, 0.5)]) if style and not style_inferred else new
            style_inferred = False
        less = [g for g in GENRES if re.search(rf"\b(less|fewer|no more)\s+{g}", text.lower())]
        if style and less:
            style = StyleVector(tuple(0.0 if g in less else p for g, p in zip(GENRES, style.probs)))
        exclude_genres = list(dict.fromkeys([*previous.exclude_genres, *exclude_genres]))
        exclude_artists = list(dict.fromkeys([*previous.exclude_artists, *exclude_artists]))
        exclude_moods = list(dict.fromkeys([*previous.exclude_moods, *exclude_moods]))
        exclude_moods = [m for m in exclude_moods if m not in mood_counts]
        artists = artists or [a for a in previous.artists if a not in exclude_artists]
        genre_terms = genre_terms or [t for t in previous.genre_terms if t not in exclude_genres]
        context = context or previous.context
        tempo_range = tempo_range or previous.tempo_range
    else:
        emotion = _shift_arousal(moods or EmotionVector.uniform(), arousal_cue)
        if named_styles:
            style = StyleVector.from_mapping(dict.fromkeys(named_styles, 1.0))
        elif inferred and not named:
            # No genre named: the model's guess (from an artist or a setting) is kept, marked, and
            # ranked with a small weight of its own; it never outweighs the mood.
            style, style_inferred = StyleVector.from_mapping(dict.fromkeys(inferred, 1.0)), True
        else:
            style = None
    if style is not None:
        kept = [0.0 if g in exclude_genres else p for g, p in zip(GENRES, style.probs)]
        style = StyleVector(tuple(kept)) if any(kept) else None
        style_inferred = style_inferred and style is not None
    # A mood the user rejected keeps no weight, whatever blending and arousal shifts added.
    if exclude_moods:
        kept = [0.0 if m in exclude_moods else p for m, p in zip(MOOD_NAMES, emotion.probs)]
        if any(kept):
            emotion = EmotionVector(tuple(kept))

    is_music = bool(raw.get("music", True)) or bool(moods or named or artists or contexts)
    if not is_music:
        notes.append("that doesn't look like a music request, so here is a neutral mix")
    return Intent(
        emotion=emotion,
        style=style,
        style_inferred=style_inferred,
        genre_terms=tuple(genre_terms),
        artists=tuple(artists),
        exclude_artists=tuple(exclude_artists),
        exclude_genres=tuple(exclude_genres),
        exclude_moods=tuple(exclude_moods),
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
    text: str,
    *,
    previous: Intent | None = None,
    history: Sequence[Turn] = (),
    llm: LLM | None = None,
    settings: Settings | None = None,
    bank: ExampleBank | None = None,
) -> Intent:
    """Read a request (English or Chinese) into an Intent; InputError for empty input.

    `history` is the conversation before this turn (what was asked and shown), oldest first;
    `previous` the Intent of the last turn, which a follow-up refines.
    """
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
    bank = bank if bank is not None else default_bank()
    previous_text = history[-1].user if history else (previous.text if previous else "")
    examples = bank.nearest(text, previous=previous_text, k=FEW_SHOT_K)
    messages = build_messages(text, previous=previous, history=history, examples=examples)
    # The model's English paraphrase (e) is cut off as it starts: ~8 tokens, ~0.7 s of a Chinese
    # parse. `english` is then the request itself, so a genre counts as named only when the request
    # writes it (Chinese spellings in agent/rules/zh.yaml); the Chinese set and the demo's e2e read
    # as they did with the paraphrase (bench/results/parse_zh_native_genre_names.json). Its
    # follow-up flag (f) is cut off too (2 tokens): the conversation decides a follow-up
    # (interpret), and no key came after f in 1,235 cached answers, so nothing read is lost. The
    # prompt still asks for f: without it, fresh2 read 0.873 against 0.901 for ~1.4 fewer tokens
    # (bench/results/parse_without_f_key.json).
    raw = llm.generate_json(
        messages,
        schema=SCHEMA,
        max_tokens=MAX_OUTPUT_TOKENS,
        unread=UNREAD,
        prefill=ANSWER_START,
        prefix=static_prefix_length(),
    )
    return interpret(raw, text=text, previous=previous, language=language, notes=notes, history=history)


def intent_to_json(intent: Intent) -> str:
    """The intent as the `moodtune parse` command prints it (the same fields the HTTP API sends)."""
    from moodtune.serialize import intent_to_dict

    return json.dumps(intent_to_dict(intent), ensure_ascii=False, indent=2)
