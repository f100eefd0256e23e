"""Word lists (English and Chinese) that check and complete the LLM's reading of a request.

The small model is good at the gist and unreliable at details: it may copy a few-shot
example's genres, put a liked artist under exclusions, or miss that 怀旧 means nostalgic.
These deterministic checks decide what is a genre, what was negated, and which artists
were actually named.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

from moodtune.types import GENRES, TEMPO_CEILING_BPM

# Spellings -> canonical genre. Canonical names in GENRES feed the style vector; others
# are kept as genre terms (matched against a track's own genre tag and text).
GENRE_ALIASES: dict[str, str] = {
    "hip hop": "hiphop",
    "hip-hop": "hiphop",
    "hiphop": "hiphop",
    "rap": "hiphop",
    "boom bap": "hiphop",
    "说唱": "hiphop",
    "嘻哈": "hiphop",
    "饶舌": "hiphop",
    "jazz": "jazz",
    "jazzy": "jazz",
    "swing": "jazz",
    "bebop": "jazz",
    "爵士": "jazz",
    "rock": "rock",
    "rock and roll": "rock",
    "rock'n'roll": "rock",
    "摇滚": "rock",
    "classical": "classical",
    "orchestral": "classical",
    "symphony": "classical",
    "baroque": "classical",
    "string quartet": "classical",
    "chorale": "classical",
    "古典": "classical",
    "交响": "classical",
    "country": "country",
    "bluegrass": "country",
    "乡村": "country",
    "blues": "blues",
    "bluesy": "blues",
    "蓝调": "blues",
    "布鲁斯": "blues",
    "disco": "disco",
    "迪斯科": "disco",
    "迪斯可": "disco",
    "metal": "metal",
    "heavy metal": "metal",
    "thrash": "metal",
    "death metal": "metal",
    "金属": "metal",
    "重金属": "metal",
    "pop": "pop",
    "流行": "pop",
    "reggae": "reggae",
    "ska": "reggae",
    "dub": "reggae",
    "雷鬼": "reggae",
}
OTHER_GENRE_TERMS: dict[str, str] = {
    "k-pop": "k-pop",
    "kpop": "k-pop",
    "j-pop": "j-pop",
    "gospel": "gospel",
    "dubstep": "dubstep",
    "edm": "edm",
    "electronic": "electronic",
    "techno": "techno",
    "house": "house",
    "trance": "trance",
    "lo-fi": "lo-fi",
    "lofi": "lo-fi",
    "folk": "folk",
    "indie": "indie",
    "punk": "punk",
    "funk": "funk",
    "soul": "soul",
    "r&b": "r&b",
    "rnb": "r&b",
    "ambient": "ambient",
    "latin": "latin",
    "salsa": "salsa",
    "bossa nova": "bossa nova",
    "opera": "opera",
    "grunge": "grunge",
    "emo": "emo",
    "trap": "trap",
    "drum and bass": "drum and bass",
    "synthwave": "synthwave",
    "soundtrack": "soundtrack",
    "dance music": "dance",
    "dance-pop": "dance",
    "acoustic": "acoustic",
    "民谣": "folk",
    "电子": "electronic",
    "电音": "electronic",
    "舞曲": "dance",
    "古风": "chinese traditional",
    "国风": "chinese traditional",
    "韩团": "k-pop",
    "韩流": "k-pop",
    "独立音乐": "indie",
    "环境音乐": "ambient",
    "氛围音乐": "ambient",
}
ALL_GENRE_TERMS = {**GENRE_ALIASES, **OTHER_GENRE_TERMS}

MOOD_WORDS: dict[str, tuple[str, ...]] = {
    "happy": (
        "happy",
        "cheerful",
        "happier",
        "cheerier",
        "joyful",
        "upbeat",
        "bouncy",
        "sunny",
        "feel-good",
        "feel good",
        "fun",
        "bright",
        "开心",
        "快乐",
        "欢快",
        "高兴",
        "愉快",
        "阳光",
        "喜庆",
        "热闹",
        "欢乐",
    ),
    "sad": (
        "sad",
        "heartbroken",
        "sadder",
        "saddest",
        "heartbreak",
        "melancholy",
        "melancholic",
        "cry",
        "crying",
        "tearful",
        "gloomy",
        "blue",
        "depressed",
        "lonely",
        "悲伤",
        "难过",
        "伤心",
        "忧伤",
        "伤感",
        "失恋",
        "哭",
        "孤独",
    ),
    "calm": (
        "calm",
        "relax",
        "calmer",
        "quieter",
        "softer",
        "relaxing",
        "chill",
        "peaceful",
        "soothing",
        "mellow",
        "quiet",
        "gentle",
        "soft",
        "unwind",
        "tranquil",
        "cozy",
        "cosy",
        "安静",
        "放松",
        "平静",
        "舒缓",
        "轻柔",
    ),
    "energetic": (
        "energetic",
        "energy",
        "livelier",
        "pump",
        "pumped",
        "hype",
        "hyped",
        "fast",
        "intense",
        "danceable",
        "power",
        "动感",
        "活力",
        "激情",
        "燃",
        "嗨",
        "劲爆",
    ),
    "romantic": (
        "romantic",
        "romance",
        "love song",
        "love songs",
        "candlelit",
        "intimate",
        "valentine",
        "浪漫",
        "情歌",
        "爱情",
        "甜蜜",
    ),
    "nostalgic": (
        "nostalgic",
        "nostalgia",
        "old-school",
        "old school",
        "throwback",
        "oldies",
        "retro",
        "childhood",
        "memories",
        "good old days",
        "grandparents",
        "used to play",
        "used to listen",
        "sounds like home",
        "high school",
        "back in the day",
        "when i was young",
        "years ago",
        "怀旧",
        "想念家乡",
        "老歌",
        "经典老歌",
        "回忆",
        "童年",
        "小时候",
        "年轻时",
        "那个年代",
        "wistful",
        "早期",
        "takes me back",
        "taking me back",
        "take me back",
        "when i was a kid",
        "as a kid",
        "reminds me of",
    ),
    "angry": (
        "angry",
        "anger",
        "rage",
        "furious",
        "mad",
        "aggressive",
        "pissed",
        "vent",
        "愤怒",
        "生气",
        "发泄",
        "暴躁",
    ),
    "tense": (
        "tense",
        "spooky",
        "halloween",
        "suspense",
        "suspenseful",
        "anxious",
        "nervous",
        "dark",
        "ominous",
        "creepy",
        "eerie",
        "scary",
        "horror",
        "thriller",
        "紧张",
        "焦虑",
        "恐怖",
        "悬疑",
        "不安",
    ),
}

# Phrases naming the mood the listener wants to reach rather than the one they are in:
# "I'm anxious, help me come down" asks for calm; its "anxious" describes the listener.
MOOD_NAMES_AND_WORDS = frozenset(w for words in MOOD_WORDS.values() for w in words) | frozenset(MOOD_WORDS)

WISHED_MOOD_PHRASES: dict[str, tuple[str, ...]] = {
    "happy": (
        "cheer me up",
        "lift me up",
        "pick me up",
        "lift my mood",
        "lift my spirits",
        "brighten it up",
        "cheer it up",
        "make me smile",
        "make me feel better",
        "开心起来",
        "高兴起来",
        "振作",
        "好起来",
    ),
    "calm": (
        "calm me down",
        "calm down",
        "cool down",
        "cool off",
        "settle down",
        "come down",
        "wind down",
        "help me relax",
        "help me unwind",
        "静下心",
        "静下来",
        "松下来",
        "放松下来",
        "平静下来",
        "冷静下来",
    ),
    "energetic": (
        "wake me up",
        "get me going",
        "get me moving",
        "keep me moving",
        "keep me going",
        "keep me awake",
        "power through",
        "push through",
        "提神",
        "打起精神",
    ),
}

CONTEXT_WORDS: dict[str, tuple[str, ...]] = {
    "driving": ("drive", "driving", "road trip", "car", "开车", "驾车", "自驾", "兜风"),
    "commute": ("commute", "commuting", "subway", "metro", "bus ride", "通勤", "上班路上", "地铁"),
    "workout": ("workout", "gym", "exercise", "lifting", "leg day", "cardio", "training", "健身", "锻炼", "运动"),
    "running": ("for a run", "my run", "on a run", "long run", "5k", "10k", "half marathon", "running", "jog", "jogging", "marathon", "跑步", "慢跑"),
    "sleep": ("sleep", "sleeping", "bedtime", "fall asleep", "insomnia", "睡觉", "入睡", "助眠", "睡前"),
    "study": ("study", "studying", "focus", "homework", "exam", "学习", "专注", "写作业"),
    "reading": ("reading", "read a book", "看书", "读书"),
    "party": ("party", "club", "dance floor", "celebration", "pregame", "pre-game", "night out", "派对", "聚会", "蹦迪"),
    "gaming": ("gaming", "video game", "video games", "raid", "raiding", "boss fight", "打游戏", "玩游戏", "电竞"),
    "relaxing": ("relax", "relaxing", "unwind", "chill out", "放松"),
    "yoga": ("yoga", "stretching", "瑜伽", "拉伸"),
    "meditation": ("meditation", "meditate", "mindfulness", "冥想", "打坐"),
    "spa": ("spa", "massage", "bubble bath", "按摩", "泡澡"),
    "cooking": ("cooking", "cook", "kitchen", "breakfast", "baking", "bake", "做饭", "烹饪", "早餐", "烘焙"),
    "hiking": ("hike", "hiking", "trail", "trek", "trekking", "爬山", "徒步", "登山"),
    "camping": ("camping", "campfire", "露营", "篝火"),
    "cafe": ("coffee shop", "cafe", "café", "咖啡馆", "咖啡店"),
    "gardening": ("gardening", "garden", "花园", "种花", "浇花"),
    "writing": ("writing", "novel", "小说", "写作", "码字"),
    "cleaning": ("cleaning", "chores", "housework", "tidying", "打扫", "做家务", "大扫除"),
    "graduation": ("graduation", "graduated", "毕业"),
    "new year": ("new year", "spring festival", "chinese new year", "春节", "过年", "年夜饭", "除夕"),
    "karaoke": ("karaoke", "ktv", "唱k", "k歌"),
    "drinking": ("drinks", "drinking", "喝酒", "小酌", "喝一杯"),
    "dancing": ("dancing", "dance around", "dance to", "dance practice", "dance class", "跳舞", "练舞", "舞蹈"),
    "kids": ("kids", "children", "toddler", "toddlers", "twins", "year old", "孩子", "小朋友", "宝宝", "儿童"),
    "restaurant": ("restaurant", "diner", "bistro", "餐厅", "饭店", "餐馆", "饭馆", "火锅店"),
    "beach": ("beach", "海边", "沙滩"),
    "dinner": ("dinner", "晚餐", "晚饭"),
    "work": ("work", "working", "coding", "programming", "office", "overtime", "工作", "写代码", "办公", "加班"),
    "rainy day": ("rain", "rainy", "下雨", "雨天"),
    "wedding": ("wedding", "婚礼"),
    "morning": ("morning", "sunday morning", "早上", "早晨", "清晨"),
    "travel": ("flight", "plane", "travel", "trip", "train ride", "旅行", "飞机", "旅途"),
    "barbecue": ("barbecue", "bbq", "cookout", "烧烤"),
    "birthday": ("birthday", "生日"),
    "date": ("date night", "date", "约会"),
}

# Times and weather: the context only when no activity is named beside them.
SETTING_CONTEXTS = ("morning", "rainy day")

# The mood an activity implies when the request names none ("reggae for a barbecue" is happy).
CONTEXT_MOODS: dict[str, str] = {
    "party": "happy",
    "barbecue": "happy",
    "birthday": "happy",
    "cooking": "happy",
    "wedding": "romantic",
    "date": "romantic",
    "relaxing": "calm",
    "yoga": "calm",
    "meditation": "calm",
    "spa": "calm",
    "new year": "happy",
    "sleep": "calm",
    "study": "calm",
    "reading": "calm",
    "work": "calm",
    "workout": "energetic",
    "dancing": "energetic",
    "running": "energetic",
}

HIGH_AROUSAL_WORDS = (
    "upbeat",
    "faster",
    "fast",
    "energetic",
    "more energy",
    "louder",
    "pump",
    "hype",
    "intense",
    "dance",
    "欢快",
    "快一点",
    "动感",
    "激烈",
    "燃",
)
LOW_AROUSAL_WORDS = (
    "slower",
    "slow",
    "calmer",
    "softer",
    "quieter",
    "mellow",
    "relax",
    "sleep",
    "chill",
    "慢一点",
    "安静",
    "轻柔",
    "舒缓",
)
FOLLOW_UP_CUES = (
    "more ",
    "less ",
    "fewer ",
    "another",
    "something else",
    "instead",
    "again",
    "similar",
    "like these",
    "like those",
    "like that",
    "but ",
    "now ",
    "same but",
    "too ",
    "更",
    "再来",
    "换",
    "多一点",
    "少一点",
    "别的",
    "类似",
    "还要",
    "不要那么",
    "刚才",
    "刚刚",
    "上一首",
    "再慢",
    "再快",
    "少一些",
    "多一些",
)
NEGATIONS_EN = ("no", "not", "don't", "dont", "without", "avoid", "except", "skip", "hate", "nothing", "never", "minus", "less", "fewer")
NEGATIONS_ZH = ("不要", "别", "不想", "除了", "不听", "讨厌", "不喜欢", "去掉", "少点", "少一点", "少来点", "受不了", "拒绝", "不")
# Words with 别 or 不 that negate nothing: 特别燃 is "especially fiery", 别的 "other".
NOT_NEGATIONS_ZH = (
    "特别", "别的", "别人", "区别", "分别", "告别", "类别", "级别", "个别",
    # and with 不, which alone negates the word after it (不悲伤): "not the same", "not bad", ...
    "不一样", "不同", "不错", "不断", "不仅", "不如", "不少", "不停", "不行", "不得了", "不管", "不知道", "不用",
)  # fmt: skip
# Phrases that negate what follows: "anything but the Eagles", "I'm so over lo-fi".
_NEGATING_PHRASE = re.compile(
    r"\b(?:(?:anything|everything|whatever) but|so over|sick of|tired of|done with|had enough of)\s+(?:the\s+)?$"
)
# A Chinese negation also ends where the wish starts: 不想再听悲伤的歌了，想要点… / 但是来点…
_ZH_SCOPE_END = re.compile(r"[，,。；;！!？?\n]|但是|但|可是|不过|想要|(?<!少)来点|只想")
LIKING_ZH = ("喜欢", "像", "类似")

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def detect_language(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


def _find_term(text: str, term: str) -> list[int]:
    """Start offsets of `term` in lowercase `text` (word boundaries for Latin terms)."""
    if _CJK.search(term):
        return [m.start() for m in re.finditer(re.escape(term), text)]
    # The head of a hyphenated compound counts ("after-party"), and so does "-ish" ("folk-ish").
    # Boundaries are Latin letters and digits only: in 来点浪漫的r&b the 的 is no part of the word.
    return [m.start() for m in re.finditer(rf"(?<![a-z0-9_]){re.escape(term)}(?=-ish\b|(?![a-z0-9_-]))", text)]


def _negated(text: str, position: int) -> bool:
    """Is the word at `position` inside the scope of a negation just before it?"""
    window = text[max(0, position - 24) : position]
    is_chinese = _CJK.search(window) or _CJK.search(text[position : position + 1])
    if is_chinese:
        # A negation's scope ends with its clause: 不要周杰伦，来点华语流行 still wants pop.
        near = _ZH_SCOPE_END.split(text[max(0, position - 12) : position])[-1]
        for word in NOT_NEGATIONS_ZH:
            near = near.replace(word, "")
        if any(neg in near for neg in NEGATIONS_ZH):
            return True
    if _NEGATING_PHRASE.search(window):
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
        for start in _find_term(lowered, term):
            end = start + len(term)
            if _is_common_noun(lowered, start, end):
                continue
            if not any(s < end and start < e for s, e, _ in taken):
                taken.append((start, end, ALL_GENRE_TERMS[term]))
    liked: list[str] = []
    excluded: list[str] = []
    for start, _, canonical in sorted(taken):
        rejected = _negated(lowered, start) or _TOO_BEFORE.search(lowered[max(0, start - 5) : start])
        target = excluded if rejected else liked
        if canonical not in target:
            target.append(canonical)
    liked = [g for g in liked if g not in excluded]
    return liked, excluded


# "cleaning the house", "a drive through the country", "my rock": nouns, not genres, unless
# music follows ("the house music", "my country songs"). "The blues" is the genre itself.
_DETERMINER_BEFORE = re.compile(r"\b(?:the|my|our|your|his|her|their|\w+'s)\s+$")
_MUSIC_AFTER = re.compile(r"^\s+(?:music|songs?|tracks?|bands?|tunes|albums?|stuff|vibes?|ones|side)\b")


def _is_common_noun(text: str, start: int, end: int) -> bool:
    if text[start:end] == "blues":
        return False
    return bool(_DETERMINER_BEFORE.search(text[max(0, start - 8) : start])) and not _MUSIC_AFTER.match(text[end:])


# Before a genre these name its era, not a feeling: "old-school hip hop like Nas" asks for
# hard 90s boom-bap, not for wistful music. Alone ("something old school") they are nostalgic.
ERA_QUALIFIERS = ("old-school", "old school", "retro", "throwback")


def _names_an_era(text: str, start: int, word: str) -> bool:
    if word not in ERA_QUALIFIERS:
        return False
    rest = text[start + len(word) :].lstrip()
    return any(re.match(rf"{re.escape(term)}(?![\w-])", rest) for term in ALL_GENRE_TERMS)


# Idioms that name no activity and no wish: lo-fi that "puts me to sleep" is boring, music
# "with drive" energetic.
_NOT_AN_ACTIVITY = re.compile(r"\bputs? me to sleep\b|\bwith (?:some |more |real |a lot of )?drive\b")
_TOO_BEFORE = re.compile(r"\btoo\s+$|太$")


def mood_mentions(text: str) -> tuple[dict[str, int], list[str]]:
    """(mood -> count of positive cue words, moods named under a negation)."""
    lowered = _NOT_AN_ACTIVITY.sub(" ", text.lower())
    counts: dict[str, int] = {}
    negated: list[str] = []
    for mood, words in MOOD_WORDS.items():
        for word in words:
            for start in _find_term(lowered, word):
                if _names_an_era(lowered, start, word):
                    continue
                # "Way too gloomy" / 太伤感了 complains of a mood: it is one to leave.
                if _negated(lowered, start) or _TOO_BEFORE.search(lowered[max(0, start - 5) : start]):
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
        hits = [m.start() for pattern in patterns for m in pattern.finditer(lowered) if not _negated(lowered, m.start())]
        if hits:
            counts[mood] = len(hits)
    return counts


def context_mentions(text: str) -> list[str]:
    """Contexts the text names, the last-named first.

    The head of a phrase comes last, in English and in Chinese alike: a "dinner date" is a
    date, a "rainy drive" a drive, a 生日派对 a party.
    """
    lowered = _NOT_AN_ACTIVITY.sub(" ", text.lower())
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


# "too slow" asks for more energy although it contains "slow".
_TOO_LOW = re.compile(r"\btoo (slow|calm|quiet|soft|sleepy|boring|mellow)\b|太慢|太安静")
_TOO_HIGH = re.compile(r"\btoo (fast|loud|intense|much energy|energetic|aggressive|noisy)\b|太吵|太快")


def arousal_cue(text: str) -> float:
    """+1 for cues asking for more energy, -1 for less, 0 for none or both."""
    lowered = text.lower()
    if _TOO_LOW.search(lowered) or _TOO_HIGH.search(lowered):
        return (
            1.0
            if _TOO_LOW.search(lowered) and not _TOO_HIGH.search(lowered)
            else -1.0
            if not _TOO_LOW.search(lowered)
            else 0.0
        )
    high = any(_find_term(lowered, w) and not _negated(lowered, _find_term(lowered, w)[0]) for w in HIGH_AROUSAL_WORDS)
    low = any(_find_term(lowered, w) and not _negated(lowered, _find_term(lowered, w)[0]) for w in LOW_AROUSAL_WORDS)
    return float(high) - float(low)


COMPARATIVES = (
    "slower", "faster", "louder", "quieter", "softer", "calmer", "happier", "sadder", "darker",
    "brighter", "heavier", "lighter", "livelier", "gentler", "harder", "mellower", "chiller",
)
# Chinese cues that point at the last list wherever they stand (这几首挺好的，但能不能换成英文歌;
# 太吵了，换安静点的: a complaint, then "switch to" at a clause's start).
FOLLOW_UP_ANYWHERE_ZH = ("这几首", "这些歌", "换成", "刚才", "刚刚", "上一首")
_ZH_FOLLOW_UP = re.compile(r"^太\S{1,3}了|^再\S{1,4}(?:一点|一些|点)|[，,。！!？?\s](?:换|再来)")
_FILLERS = {"a", "bit", "little", "lot", "much", "way", "even", "please", "pls", "plz", "and", "now"}


def looks_like_follow_up(text: str) -> bool:
    lowered = text.strip().lower() + " "
    words = re.findall(r"[a-z]+", lowered)
    # A message of comparatives alone only makes sense against the previous turn.
    if words and len(words) <= 5 and any(w in COMPARATIVES for w in words) and all(w in COMPARATIVES or w in _FILLERS for w in words):
        return True
    if len(lowered) < 80 and (any(cue in lowered for cue in FOLLOW_UP_ANYWHERE_ZH) or _ZH_FOLLOW_UP.search(lowered)):
        return True
    # "More like the second one" points into the previous list.
    if earlier_track_index(lowered) is not None:
        return True
    return len(lowered) < 80 and any(lowered.startswith(c) or f" {c}" in lowered for c in FOLLOW_UP_CUES)


_ORDINALS = {
    "first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "sixth": 5, "seventh": 6, "eighth": 7,
    "ninth": 8, "tenth": 9, "last": -1,
    "一": 0, "二": 1, "两": 1, "三": 2, "四": 3, "五": 4, "六": 5, "七": 6, "八": 7, "九": 8, "十": 9,
}  # fmt: skip
_TRACK_ORDINAL = re.compile(
    r"\b(?:the )?(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last) (?:one|song|track)\b"
    r"|第([一二两三四五六七八九十]|\d+)首|(最后)一首|\btrack (\d{1,2})\b"
)


def earlier_track_index(text: str) -> int | None:
    """Index into the previous list of the track the text points at ("the second one": 1, last: -1)."""
    match = _TRACK_ORDINAL.search(text.lower())
    if not match:
        return None
    word = match.group(1) or match.group(2) or match.group(3) or match.group(4)
    if word == "最后":
        return -1
    return int(word) - 1 if word.isdigit() else _ORDINALS[word]


_SLOWER = re.compile(r"\b(?:slower|slow (?:it|things) down|less fast)\b|慢一点|慢一些|慢点|再慢|放慢")
_FASTER = re.compile(r"\b(?:faster|speed (?:it|things) up|quicker)\b|快一点|快一些|快点|再快|加快")


def tempo_direction(text: str) -> int:
    """-1 when the text asks for slower music, +1 for faster, 0 for neither or both."""
    lowered = text.lower()
    return int(bool(_FASTER.search(lowered))) - int(bool(_SLOWER.search(lowered)))


_BPM = r"(\d{2,3})\s*(?:bpm|beats per minute)"
_BPM_BETWEEN = re.compile(rf"(\d{{2,3}})\s*(?:-|–|to|~|到)\s*{_BPM}")
_BPM_BELOW = re.compile(rf"(?:under|below|less than|slower than|at most|<)\s*{_BPM}|{_BPM}\s*以下")
_BPM_ABOVE = re.compile(rf"(?:over|above|more than|faster than|at least|>)\s*{_BPM}|{_BPM}\s*以上")
_BPM_AROUND = re.compile(rf"(?:around|about|roughly|~|大约|左右)?\s*{_BPM}")
BPM_TOLERANCE = 0.08


def tempo_bounds(text: str) -> tuple[float, float] | None:
    """An explicit tempo the text asks for ("90-110 bpm", "under 100 bpm", "around 120 bpm")."""
    lowered = text.lower()
    if match := _BPM_BETWEEN.search(lowered):
        low, high = sorted((float(match.group(1)), float(match.group(2))))
        return low, high
    if match := _BPM_BELOW.search(lowered):
        return 0.0, float(match.group(1) or match.group(2))
    if match := _BPM_ABOVE.search(lowered):
        return float(match.group(1) or match.group(2)), TEMPO_CEILING_BPM
    if match := _BPM_AROUND.search(lowered):
        bpm = float(match.group(1))
        return round(bpm * (1 - BPM_TOLERANCE), 1), round(bpm * (1 + BPM_TOLERANCE), 1)
    return None


def named_in_text(name: str, text: str, *, cutoff: float = 0.8) -> bool:
    """Was this (artist) name written in the text, allowing small spelling differences?"""
    name_l, text_l = name.strip().lower(), text.lower()
    if not name_l:
        return False
    if name_l in text_l:
        return True
    tokens = re.findall(r"[\w'&.-]+", text_l)
    size = len(name_l.split())
    grams = [" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]
    return bool(difflib.get_close_matches(name_l, grams, n=1, cutoff=cutoff))


def artist_negated(name: str, text: str) -> bool:
    lowered = text.lower()
    spots = _find_term(lowered, name.lower()) or [lowered.find(name.lower().split()[0])]
    return any(pos >= 0 and _negated(lowered, pos) for pos in spots)


def is_possessive_phrase(name: str) -> bool:
    """'my wife', 'our kids': people in the user's life, not artists ('Our Lady Peace' is one)."""
    return name.strip().split(" ", 1)[0] in {"my", "our", "your", "his", "her", "their"}


def is_genre(term: str) -> bool:
    return term.strip().lower() in ALL_GENRE_TERMS or term.strip().lower() in GENRES


_GENRE_SUFFIX = re.compile(r"\s+(?:music|songs?|tracks?|tunes|stuff|vibes?|playlist)$")


def canonical_genre(term: str) -> str:
    """One spelling per genre: "Reggaetón" -> "reggaeton", "power ballads" -> "power ballad", "hip hop" -> "hiphop"."""
    lowered = unicodedata.normalize("NFKD", term.strip().lower())
    lowered = "".join(c for c in lowered if not unicodedata.combining(c))
    lowered = _GENRE_SUFFIX.sub("", lowered).strip()
    if lowered in ALL_GENRE_TERMS:
        return ALL_GENRE_TERMS[lowered]
    if lowered.endswith("s") and lowered[:-1] in ALL_GENRE_TERMS:
        return ALL_GENRE_TERMS[lowered[:-1]]
    if lowered.endswith("s") and " " in lowered:  # "power ballads", "sea shanties" stay plural-free
        return lowered[:-1]
    return lowered


def is_mood_word(term: str) -> bool:
    """A mood or tempo word the model put among genres ("chill", "upbeat")."""
    lowered = term.strip().lower()
    return lowered in MOOD_NAMES_AND_WORDS


_LIKED_BEFORE = re.compile(r"(?:\b(?:like|such as|similar to|love|loves|fan of|into)\s+(?:the\s+)?|喜欢|像|类似)$")


def artist_liked(name: str, text: str) -> bool:
    """Is the name written right after a liking cue ("like Adele", 喜欢周杰伦), not under a negation?"""
    lowered = text.lower()
    spots = _find_term(lowered, name.lower())
    return any(_LIKED_BEFORE.search(lowered[max(0, pos - 16) : pos]) and not _negated(lowered, pos) for pos in spots)


# "songs like Bob Dylan", "by Nas or Wu-Tang Clan": capitalised names after like/by/from.
_NAME = r"[A-Z][\w'.&-]*(?:\s+(?:[A-Z][\w'.&-]*|of|the|and))*"
_ARTIST_AFTER = re.compile(
    rf"\b(?:like|by|from|artists? such as|lots of|plenty of|some|more|play|put on|think|especially|mostly)"
    rf"\s+({_NAME}(?:\s*(?:,|or|and)\s*{_NAME})*)"
)
_NOT_NAMES = {"I", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Christmas", "Halloween"}


# "anything except Drake", "country but not Johnny Cash": capitalised names after a negation.
_ARTIST_EXCLUDED = re.compile(
    rf"\b(?:except|not|without|no more|no|nothing by|none of|other than|anything but|apart from)\s+({_NAME}(?:\s*(?:,|or|and)\s*{_NAME})*)"
)


def artist_mentions(text: str, *, excluded: bool = False) -> list[str]:
    """Capitalised names the user put after "like", "by" or "from", or with `excluded` after a
    negation ("except", "not", "without" ...). English text only."""
    names: list[str] = []
    for match in (_ARTIST_EXCLUDED if excluded else _ARTIST_AFTER).finditer(text):
        for name in re.split(r"\s*(?:,|\bor\b|\band\b)\s*", match.group(1)):
            name = name.strip()
            if name and name not in _NOT_NAMES and not is_genre(name) and name not in names:
                names.append(name)
    return names


# "五月天那种", "李健或者毛不易那种温柔的歌": names at a clause's start, before "that kind".
_ZH_NAMES_BEFORE_KIND = re.compile(
    r"(?:^|[，,。；;！!？?\s])(?:给我|来点|来些|来几首|想听|听听|听|要|放点|放|像|比如|类似|不要|别放|别|不想听|不听)*"
    r"([\u4e00-\u9fffA-Za-z0-9、]{2,20}?)"
    r"(?:那种|那样|一样|那类|之类|的风格)"
)


# "别给我放邓紫棋", "别放BTS": a short name right after a negation and a verb, ending its clause.
_ZH_NAME_AFTER_NEGATION = re.compile(
    r"(?:不要|别|不想听|不听|受不了|除了|拒绝)(?:再|给我)*(?:放|听|来|推荐)?\s*"
    r"([\u4e00-\u9fff]{2,4}?|[A-Za-z][A-Za-z0-9.&'-]*(?: [A-Za-z][A-Za-z0-9.&'-]*){0,3})"
    r"(?=$|[，,。；;！!？?\s]|的歌|的(?=$|[，,。！!？?])|了|谁都|都行|都可以|以外|之外)"
)
# Characters no name in such a spot is made of: 太吵, 那么伤感, 慢歌, 有人声, 打扰我.
_NOT_IN_A_NAME = set("的了点些太很那这么歌曲乐一有声我你他她它再")


_CUE_WORDS = tuple(w for words in (*MOOD_WORDS.values(), *CONTEXT_WORDS.values()) for w in words)


def _could_be_a_name(name: str) -> bool:
    if len(name) < 2 or is_genre(name):
        return False
    if not _CJK.search(name):  # "Madonna" holds "mad": Latin names are compared whole
        return name.lower() not in _CUE_WORDS
    return not any(w in name for w in _CUE_WORDS)


def chinese_artist_mentions(text: str, *, after_negation_only: bool = False) -> list[str]:
    """Names a Chinese request writes before 那种/那样 ("五月天那种") or right after a negation
    ("别给我放邓紫棋"), when they are no mood, genre or activity word.

    The first kind is a guess worth taking only when the model saw an artist but wrote its name
    in another script (五月天 as "Mayday"); `after_negation_only` keeps to the second kind.
    """
    names: list[str] = []
    for match in _ZH_NAME_AFTER_NEGATION.finditer(text):
        name = match.group(1)
        if _could_be_a_name(name) and not set(name) & _NOT_IN_A_NAME and name not in names:
            names.append(name)
    if not after_negation_only:
        for match in _ZH_NAMES_BEFORE_KIND.finditer(text):
            for name in re.split(r"或者|还是|和|跟|、", match.group(1)):
                name = name.strip()
                if _could_be_a_name(name) and name not in names:
                    names.append(name)
    return names

