"""Explanations built from a track's facts: a template at once, the LLM's wording streamed after.

`track_facts` collects only what is true of the track and the request (mood and style
probabilities, tempo, key/mode, score parts, the fusion weights). The template renders them
directly. The LLM words the first track alone (a short prompt, so its words start soon) and
the rest of the reply in one more call, one numbered line each; a line that contains a number
or a name not found in the facts or the request is rejected and the template stands
(`grounding_problems` says why; the session logs the reasons with the rejected line).

A number is checked against its own label: "69% sad" (or 悲伤占69%) must be the track's share
of sad, not merely some percentage the facts contain. A mood the user negated ("not sad",
不悲伤) is no mood the user wrote, so it cannot license naming that mood.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent import lexicon
from agent.llm import LLM
from moodtune.types import GENRES, MOOD_NAMES, EmotionVector, Intent, ScoredTrack
from prompts import load_prompt

TOKENS_PER_TRACK = 32
MOOD_ZH = {
    "happy": "快乐",
    "sad": "悲伤",
    "calm": "平静",
    "energetic": "活力",
    "romantic": "浪漫",
    "nostalgic": "怀旧",
    "angry": "愤怒",
    "tense": "紧张",
}
GENRE_ZH = {
    "blues": "蓝调",
    "classical": "古典",
    "country": "乡村",
    "disco": "迪斯科",
    "hiphop": "嘻哈",
    "jazz": "爵士",
    "metal": "金属",
    "pop": "流行",
    "reggae": "雷鬼",
    "rock": "摇滚",
}
PART_NAMES = {
    "en": {
        "emotion_match": "mood match",
        "style_match": "style match",
        "text_match": "word match",
        "inferred_style_match": "guessed style match",
        "genre_term_match": "genre word match",
        "sounds_like": "sounds alike",
        "unwanted_mood": "unwanted mood",
        "preference": "your taste",
        "co_like": "liked by similar listeners",
        "repetition": "already shown",
    },
    "zh": {
        "emotion_match": "情绪匹配",
        "style_match": "风格匹配",
        "text_match": "文字匹配",
        "inferred_style_match": "推测风格匹配",
        "genre_term_match": "流派词匹配",
        "sounds_like": "声音相似",
        "unwanted_mood": "不想要的情绪",
        "preference": "你的口味",
        "co_like": "相似听众喜欢",
        "repetition": "已推荐过",
    },
}


def pct(value: float) -> int:
    return round(100 * value)


def track_facts(scored: ScoredTrack, intent: Intent, *, shown_parts: set[str] | None = None) -> dict[str, Any]:
    """`shown_parts`: the parts worth naming in this list (`agent.rank.parts_worth_showing`); None: all but a zero repetition."""
    track = scored.track
    moods = track.emotion.ranked()[:2]
    genres = track.style.ranked()[:2]
    return {
        "title": track.title,
        "artist": track.artist,
        "synthetic": track.source.startswith("demo"),
        "moods": [(m, pct(p)) for m, p in moods],
        "mood_shares": {m: pct(p) for m, p in track.emotion.ranked()},
        "genres": [(g, pct(p)) for g, p in genres],
        "genre_shares": {g: pct(p) for g, p in track.style.ranked()},
        "tempo": round(track.tempo),
        "key": track.key,
        "mode": track.mode,
        "valence": round(track.valence, 2),
        "arousal": round(track.arousal, 2),
        "parts": {
            name: round(value, 2)
            for name, value in scored.parts.items()
            if (name in shown_parts if shown_parts is not None else name != "repetition" or value)
        },
        "text_weight": pct(float(track.extra.get("fusion_text_weight", 0.0) or 0.0)),
        "target_mood": intent.emotion.top,
        "target_genres": [g for g, p in (intent.style.ranked() if intent.style else []) if p > 0][:2],
        "context": intent.context or "",
    }


def template_explanation(facts: dict[str, Any], *, language: str) -> str:
    (m1, p1), (m2, p2) = facts["moods"]
    (g1, q1), _ = facts["genres"]
    parts = PART_NAMES[language]
    scores = ("，" if language == "zh" else ", ").join(f"{parts[name]} {value:.2f}" for name, value in facts["parts"].items())
    if language == "zh":
        fusion = (
            f"情绪{facts['text_weight']}%来自标题文字、{100 - facts['text_weight']}%来自音频"
            if facts["text_weight"]
            else "情绪完全来自音频分析"
        )
        mode = "大调" if facts["mode"] == "major" else "小调"
        key_zh = f"，{facts['key']}{mode}" if facts["key"] else ""
        return (
            f"《{facts['title']}》：情绪为{MOOD_ZH[m1]} {p1}%、{MOOD_ZH[m2]} {p2}%，风格{GENRE_ZH[g1]} {q1}%，"
            f"{facts['tempo']} BPM{key_zh}（{fusion}）。" + (f"{scores}。" if scores else "")
        )
    fusion = (
        f"mood read {facts['text_weight']}% from its words, {100 - facts['text_weight']}% from the audio"
        if facts["text_weight"]
        else "mood read from the audio alone"
    )
    # Tracks whose key could not be estimated have none; say nothing rather than "in ".
    key = f" in {facts['key']} {facts['mode']}" if facts["key"] else ""
    line = f"{facts['title']}: {m1} {p1}% / {m2} {p2}%, {g1} {q1}%, {facts['tempo']} bpm{key} ({fusion})."
    return f"{line} {scores.capitalize()}." if scores else line


# Chinese facts carry no labels: given "情绪 平静 61%", the model wrote "情绪占61%" (mood 61%)
# instead of naming the mood.
FACT_LABELS = {"en": ("moods ", "style ", ", ", "; "), "zh": ("", "", "、", "；")}


def facts_line(index: int, facts: dict[str, Any], *, language: str) -> str:
    moods_label, style_label, comma, semicolon = FACT_LABELS[language]
    moods = comma.join(f"{(MOOD_ZH[m] if language == 'zh' else m)} {p}%" for m, p in facts["moods"])
    # Only the top genre: the second is usually a few percent, and the model mistook it for a tempo.
    genre, percent = facts["genres"][0]
    genres = f"{GENRE_ZH[genre] if language == 'zh' else genre} {percent}%"
    tempo = f"{facts['tempo']} bpm ({TEMPO_WORDS[language][tempo_class(facts['tempo'])]})"
    return semicolon.join(
        [f"{index}. {moods_label}{moods}", f"{style_label}{genres}", tempo, f"{facts['key']} {facts['mode']}"]
    )


def build_messages(facts_list: Sequence[dict[str, Any]], intent: Intent) -> list[dict[str, str]]:
    """System prompt and example turns first (a prefix the explain context keeps), then the tracks."""
    prompt = load_prompt("explain")
    language = intent.language
    messages = [{"role": "system", "content": prompt["system"][language].strip()}]
    for example in prompt["examples"][language]:
        messages.append({"role": "user", "content": example["user"].strip()})
        messages.append({"role": "assistant", "content": example["answer"].strip()})
    lines = "\n".join(facts_line(i + 1, f, language=language) for i, f in enumerate(facts_list))
    user = prompt["user"][language].format(request=intent.text[:300], n=len(facts_list), tracks=lines)
    messages.append({"role": "user", "content": user})
    return messages


# Tempo classes the facts name, so the model copies a true word instead of guessing one
# (it called 161 bpm "慢速" after the example's 68 bpm). Bounds in bpm: below SLOW_BELOW is
# slow, from FAST_FROM on fast (roughly adagio/andante vs allegro).
SLOW_BELOW, FAST_FROM = 90, 120
TEMPO_WORDS = {"en": {"slow": "slow", "moderate": "moderate", "fast": "fast"}, "zh": {"slow": "慢速", "moderate": "中速", "fast": "快速"}}
# Words that claim a tempo class in a worded line. Chinese avoids the bare 快 of 快乐 (happy).
_TEMPO_CLAIMS = {
    "slow": re.compile(r"\bslow(?:er|ly)?\b|\bunhurried\b|慢速|慢节奏|节奏慢|慢板|缓慢", re.IGNORECASE),
    "moderate": re.compile(r"\bmoderate\b|\bmid-?tempo\b|\bmedium\b|中速|中等速度|中等节奏", re.IGNORECASE),
    "fast": re.compile(r"\bfast(?:er)?\b|\bquick\b|\bup-?tempo\b|\brapid\b|快速|快节奏|节奏快|急促", re.IGNORECASE),
}


# Words that say a track has a mood. A line may name a mood the track has in some measure
# (its two leading ones, or any with CLAIMABLE_MOOD_SHARE %) or one the user wrote; "紧张感十足"
# about a calm, happy track is an invented fact.
CLAIMABLE_MOOD_SHARE = 10
_MOOD_CLAIMS = {
    "happy": re.compile(r"\b(?:happy|cheerful|joyful|joyous)\b|快乐|开心|欢快", re.IGNORECASE),
    "sad": re.compile(r"\b(?:sad|melanchol(?:y|ic)|sorrowful|mournful)\b|悲伤|忧伤|伤感|哀伤", re.IGNORECASE),
    "calm": re.compile(r"\b(?:calm|peaceful|serene|tranquil)\b|平静|宁静", re.IGNORECASE),
    "energetic": re.compile(r"\b(?:energetic|high-energy)\b|活力", re.IGNORECASE),
    "romantic": re.compile(r"\b(?:romantic|romance)\b|浪漫", re.IGNORECASE),
    "nostalgic": re.compile(r"\b(?:nostalgic|nostalgia|wistful)\b|怀旧", re.IGNORECASE),
    "angry": re.compile(r"\b(?:angry|furious|rage)\b|愤怒", re.IGNORECASE),
    "tense": re.compile(r"\b(?:tense|tension|suspense(?:ful)?|ominous)\b|紧张|悬疑", re.IGNORECASE),
}


def tempo_class(bpm: float) -> str:
    return "slow" if bpm < SLOW_BELOW else "fast" if bpm >= FAST_FROM else "moderate"


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_BPM = re.compile(r"(\d+)\s*(?:bpm|BPM|Bpm)")
_PERCENT = re.compile(r"(\d+)\s*[%％]")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z'’-]{2,}(?:\s+[A-Z][a-zA-Z'’-]{2,})*")
# Words that may be capitalised in a sentence without naming anything.
_COMMON = {
    "This",
    "The",
    "Its",
    "It",
    "With",
    "And",
    "For",
    "Your",
    "You",
    "Perfect",
    "Great",
    "Mood",
    "Style",
    "Moodtune",
    "Major",
    "Minor",
    "BPM",
    "Bpm",
    "Track",
    "Song",
    "Here",
    "That",
    "Both",
    "Also",
    "Demo",
    "Synthetic",
}


def allowed_tokens(facts: dict[str, Any], intent: Intent) -> tuple[set[str], str]:
    numbers = {str(v) for _, v in facts["moods"] + facts["genres"]}
    numbers |= {str(facts["tempo"]), str(facts["text_weight"]), str(100 - facts["text_weight"])}
    numbers |= {f"{v:.2f}" for v in facts["parts"].values()} | {str(pct(v)) for v in facts["parts"].values()}
    numbers |= set(_NUMBER.findall(facts["title"])) | set(_NUMBER.findall(intent.text))
    words = " ".join(
        [
            facts["title"],
            facts["artist"],
            facts["key"],
            facts["mode"],
            intent.text,
            intent.english,
            " ".join(MOOD_NAMES),
            " ".join(GENRES),
            facts["context"],
        ]
    ).lower()
    return numbers, words


# Labels a number in a worded line can belong to, per fact: the moods (their claim words, both
# languages), the genres, where the mood was read from (words or audio), the score parts.
_GENRE_LABELS = {
    genre: re.compile(
        rf"\b{'hip[- ]?hop' if genre == 'hiphop' else genre}\b|{GENRE_ZH[genre]}", re.IGNORECASE
    )
    for genre in GENRES
}
_TEXT_SHARE_LABEL = re.compile(r"\b(?:words?|text|titles?|lyrics|tags)\b|文字|标题|歌词|标签", re.IGNORECASE)
_AUDIO_SHARE_LABEL = re.compile(r"\baudio\b|音频", re.IGNORECASE)
_PART_LABELS = {
    part: re.compile("|".join(re.escape(names[part]) for names in PART_NAMES.values() if part in names), re.IGNORECASE)
    for part in PART_NAMES["en"]
}
# "69%", "69 percent", 百分之69; decimals such as 0.91 (score parts).
_PERCENT_CLAIM = re.compile(r"(\d+(?:\.\d+)?)\s*(?:%|％|\bper ?cent\b)|百分之(\d+)", re.IGNORECASE)
_DECIMAL_CLAIM = re.compile(r"(?<![\d.])(\d\.\d+)(?![\d.])(?!\s*(?:%|％|bpm))", re.IGNORECASE)
# A number is bound to the nearest label in its clause, this many characters away at most.
_CLAUSE_END = re.compile(r"[,;:，；：。!?！？、/|\n]|\.(?!\d)")
MAX_LABEL_GAP = 24
# Words just before a mood word that negate it in the request ("not sad", 不悲伤, 没有悲伤).
_NEGATED_BEFORE = re.compile(
    r"(?:\b(?:not|no|never|without|nothing|less|avoid|skip|hate)\b(?:\s+(?:too|so|very|at all|really|a bit|that))?"
    r"|n't(?:\s+(?:be|too|so|very))?|不要太|不太|不想|不要|不|没有|没|无|非|别太|别)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Label:
    start: int
    end: int
    kind: str  # "mood", "genre", "text", "audio", "part"
    name: str


def _labels(clause: str) -> list[_Label]:
    found: list[_Label] = []
    patterns = [("mood", m, p) for m, p in _MOOD_CLAIMS.items()] + [("genre", g, p) for g, p in _GENRE_LABELS.items()]
    patterns += [("part", n, p) for n, p in _PART_LABELS.items()]
    patterns += [("text", "text", _TEXT_SHARE_LABEL), ("audio", "audio", _AUDIO_SHARE_LABEL)]
    for kind, name, pattern in patterns:
        found += [_Label(m.start(), m.end(), kind, name) for m in pattern.finditer(clause)]
    # Overlapping labels: the longer wins ("word match" is a score part, not the words' share).
    kept: list[_Label] = []
    for label in sorted(found, key=lambda x: x.start - x.end):
        if not any(label.start < k.end and k.start < label.end for k in kept):
            kept.append(label)
    return kept


def _bound_label(clause: str, start: int, end: int, labels: list[_Label]) -> _Label | None:
    """The label nearest the number in its clause (before it on a tie), if close enough."""
    best: tuple[int, int, _Label] | None = None
    for label in labels:
        if label.end <= start:
            gap, side = start - label.end, 0
        elif label.start >= end:
            gap, side = label.start - end, 1
        else:
            continue
        if gap <= MAX_LABEL_GAP and (best is None or (gap, side) < best[:2]):
            best = (gap, side, label)
    return best[2] if best else None


def _share_of(label: _Label, facts: dict[str, Any]) -> int | None:
    """The percentage the facts give the label's fact."""
    if label.kind == "mood":
        return facts.get("mood_shares", dict(facts["moods"])).get(label.name)
    if label.kind == "genre":
        return facts.get("genre_shares", dict(facts["genres"])).get(label.name)
    if label.kind == "text":
        return facts["text_weight"]
    if label.kind == "audio":
        return 100 - facts["text_weight"]
    value = facts["parts"].get(label.name)
    return None if value is None else pct(value)


def _masked(sentence: str, facts: dict[str, Any]) -> str:
    """The sentence with the title and artist blanked, so "Sad Song" labels no number."""
    masked = sentence
    for name in (facts.get("title", ""), facts.get("artist", "")):
        if len(name) >= 2:
            masked = re.sub(re.escape(name), lambda m: " " * len(m.group(0)), masked, flags=re.IGNORECASE)
    return masked


def _label_problems(sentence: str, facts: dict[str, Any]) -> list[str]:
    """Every percentage (and score decimal) is its own label's value, when a label claims it."""
    problems = []
    masked = _masked(sentence, facts)
    offset = 0
    for clause in _CLAUSE_END.split(masked):
        labels = _labels(clause)
        for match in _PERCENT_CLAIM.finditer(clause):
            number = float(match.group(1) or match.group(2))
            label = _bound_label(clause, match.start(), match.end(), labels)
            if label is None:
                continue
            share = _share_of(label, facts)
            if share is None or round(number) != share or number != int(number):
                said = sentence[offset + match.start() : offset + match.end()].strip()
                what = "" if share is None else f", whose share is {share}%"
                problems.append(f"'{said}' is said of {label.kind} '{label.name}'{what}")
        for match in _DECIMAL_CLAIM.finditer(clause):
            label = _bound_label(clause, match.start(), match.end(), labels)
            if label is None:
                continue
            value = float(match.group(1))
            if label.kind == "part":
                true = facts["parts"].get(label.name)
                ok = true is not None and abs(round(true, 2) - value) < 0.005
                what = "" if true is None else f", whose value is {true:.2f}"
            else:
                share = _share_of(label, facts)
                ok = share is not None and round(100 * value) == share
                what = "" if share is None else f", whose share is {share}%"
            if not ok:
                problems.append(f"'{match.group(1)}' is said of {label.kind} '{label.name}'{what}")
        offset += len(clause) + 1
    return problems


def moods_the_user_wrote(intent: Intent) -> set[str]:
    """Moods the request names as wanted: not negated ("not sad", 不悲伤), not excluded, not zero in the target."""
    wrote = set()
    for text in (intent.text, intent.english):
        negated = set(lexicon.mood_mentions(text)[1]) if text else set()
        for mood, claim in _MOOD_CLAIMS.items():
            for match in claim.finditer(text or ""):
                if mood in negated or _NEGATED_BEFORE.search(text[max(0, match.start() - 16) : match.start()]):
                    continue
                wrote.add(mood)
    excluded = set(getattr(intent, "exclude_moods", ()))
    return {mood for mood in wrote if mood not in excluded and intent.emotion[mood] > 0}


def grounding_problems(sentence: str, facts: dict[str, Any], intent: Intent) -> list[str]:
    """Why a worded line is not true to the facts and the request (empty: it is grounded)."""
    problems: list[str] = []
    numbers, words = allowed_tokens(facts, intent)
    request = f"{intent.text} {intent.english}"
    # A true number in the wrong place is still a false fact ("blues 89%" is not "89 bpm").
    for bpm in _BPM.findall(sentence):
        if int(bpm) != facts["tempo"]:
            problems.append(f"'{bpm} bpm' but the track is {facts['tempo']} bpm")
    percentages = {p for _, p in facts["moods"] + facts["genres"]} | {facts["text_weight"], 100 - facts["text_weight"]}
    for percent in _PERCENT.findall(sentence):
        if int(percent) not in percentages:
            problems.append(f"'{percent}%' is none of the track's stated percentages")
    problems += _label_problems(sentence, facts)
    # The claims below are about the track, not its name: "Sad Song" calls nothing sad.
    claims = _masked(sentence, facts)
    # A tempo word of another class is false, unless it only echoes the request ("slow dance").
    true_class = tempo_class(facts["tempo"])
    for name, claim in _TEMPO_CLAIMS.items():
        found = claim.search(claims)
        if name != true_class and found and not claim.search(request):
            problems.append(f"'{found.group(0)}' calls it {name}, but {facts['tempo']} bpm is {true_class}")
    shares = facts["mood_shares"]
    moods_allowed = (
        {mood for mood, _ in facts["moods"]}
        | {mood for mood, share in shares.items() if share >= CLAIMABLE_MOOD_SHARE}
        | moods_the_user_wrote(intent)
    )
    for mood, claim in _MOOD_CLAIMS.items():
        found = claim.search(claims)
        if found and mood not in moods_allowed:
            problems.append(
                f"'{found.group(0)}' names {mood}, which the track barely has ({shares.get(mood, 0)}%) "
                "and the user did not ask for"
            )
    # An activity the request did not name is an invented fact about the request: the model
    # copied the example's "easy to read to" into replies for a barbecue or a breakup.
    asked = {*lexicon.context_mentions(request), intent.context}
    for context in lexicon.context_mentions(claims):
        if context not in asked:
            problems.append(f"it names an activity ({context}) the request did not")
    for number in _NUMBER.findall(sentence):
        if number not in numbers and number.rstrip("0").rstrip(".") not in numbers:
            problems.append(f"'{number}' is not in the facts or the request")
    for name in _NAME.findall(sentence):
        if all(part in _COMMON for part in name.split()):
            continue
        if name.lower() not in words and not all(part.lower() in words or part in _COMMON for part in name.split()):
            problems.append(f"'{name}' is a name that is not in the facts or the request")
    return list(dict.fromkeys(problems))


def is_grounded(sentence: str, facts: dict[str, Any], intent: Intent) -> bool:
    """Every number, capitalised name, mood and activity in the sentence comes from the facts or the request."""
    return not grounding_problems(sentence, facts, intent)


@dataclass
class ExplanationStream:
    """Splits the model's numbered lines into per-track text as it streams.

    Asked about a single track, the model sometimes leaves out the "1.": its first line is
    then that track's all the same.
    """

    count: int
    buffer: str = ""
    current: int | None = None
    line_started: bool = False  # whether the current line's text has begun (spaces before it are dropped)
    finished: set[int] = field(default_factory=set)

    def _start_line(self) -> None:
        """At a line's start: pick the track it is about, once there is enough text to tell."""
        match = re.match(r"\s*(\d+)[.)、:：]\s*", self.buffer)
        if match:
            index = int(match.group(1)) - 1
            self.current = index if 0 <= index < self.count else None
            self.buffer = self.buffer[match.end() :]
        elif self.count == 1 and 0 not in self.finished and re.match(r"\s*[^\s\d]", self.buffer):
            self.current = 0
        else:
            return
        self.line_started = False

    def feed(self, chunk: str) -> Iterator[tuple[int, str]]:
        self.buffer += chunk
        while True:
            if self.current is None:
                self._start_line()  # a line numbered beyond the tracks asked about stays unassigned
            if self.current is not None and not self.line_started:
                self.buffer = self.buffer.lstrip(" \t")
            newline = self.buffer.find("\n")
            if self.current is None:
                if newline < 0:
                    return
                self.buffer = self.buffer[newline + 1 :]
                continue
            if newline < 0:
                if self.buffer and not re.fullmatch(r"\s*\d*", self.buffer):
                    yield self.current, self.buffer
                    self.buffer = ""
                    self.line_started = True
                return
            text, self.buffer = self.buffer[:newline], self.buffer[newline + 1 :]
            if text:
                yield self.current, text
            self.finished.add(self.current)
            self.current = None


def warm_up(llm: LLM) -> None:
    """Keep each language's instructions and example computed, so no reply reads them first."""
    facts = {"moods": [("calm", 60), ("happy", 20)], "genres": [("jazz", 80)], "tempo": 80, "key": "C", "mode": "major"}
    for language in load_prompt("explain")["system"]:
        intent = Intent(emotion=EmotionVector.one_hot("calm"), text="calm", language=language)
        llm.keep_prefix(build_messages([facts], intent)[:-1])


def stream_explanations(llm: LLM, facts_list: Sequence[dict[str, Any]], intent: Intent) -> Iterator[tuple[int, str]]:
    """(track index, text delta) as the model writes.

    Two calls: the first track alone, then the others together. Reading a prompt costs ~9 ms a
    token here; the first track's request and facts are ~50 tokens, five tracks' ~190, so its
    words start ~1.3 s sooner. The second call re-reads only its own facts: the instructions
    and example before them stay computed in the explain context.
    """
    for start, group in ((0, facts_list[:1]), (1, facts_list[1:])):
        if not group:
            continue
        splitter = ExplanationStream(len(group))
        messages = build_messages(group, intent)
        # Everything before the tracks (instructions, example) is the language's reusable prefix.
        chunks = llm.stream(messages, max_tokens=TOKENS_PER_TRACK * len(group), temperature=0.0, prefix=len(messages) - 1)
        for chunk in chunks:
            for index, delta in splitter.feed(chunk):
                yield start + index, delta
        for index, delta in splitter.feed("\n"):
            yield start + index, delta
