"""Speech in and out with the real models: espeak-ng speaks a request, faster-whisper hears it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import soundfile

from moodtune.errors import AudioReadError, AudioTooLongError, ModelMissingError, NoSpeechError
from tools import speech


@pytest.fixture
def voice_settings(settings, real_whisper_dir):
    return replace(settings, whisper_dir=real_whisper_dir)


def test_an_english_request_spoken_by_espeak_is_heard_in_english(voice_settings):
    wav = speech.speak("calm music for reading, no jazz", language="en", settings=voice_settings)
    heard = speech.transcribe(wav, settings=voice_settings)
    assert heard.language == "en" and heard.model == "tiny.en"
    words = set(heard.text.lower().replace(",", " ").replace(".", " ").split())
    assert {"calm", "music", "reading", "no", "jazz"} <= words, heard.text
    assert heard.duration_s > 1.5 and heard.seconds > 0  # how fast: bench/voice.py, not a timed test


def test_a_chinese_request_is_told_from_english_and_heard_in_chinese(voice_settings):
    text = "来点安静的钢琴曲"
    wav = speech.speak(text, language="zh", settings=voice_settings)
    heard = speech.transcribe(wav, settings=voice_settings)  # no language given: told from the audio
    assert heard.language == "zh" and heard.model == "base", heard
    assert "钢琴" in heard.text, heard.text
    right = sum(1 for c in text if c in heard.text)
    assert right >= len(text) // 2, heard.text


def test_a_request_longer_than_one_whisper_window_is_heard_to_its_end(voice_settings):
    """Past one window of speech, a second window follows: the request is heard from its first words to its last."""
    first = soundfile.read(speech.speak("play some calm piano music", language="en", settings=voice_settings))[0]
    middle = soundfile.read(
        speech.speak(
            "I will be reading for a while, so keep it quiet and slow. " * 2, language="en", settings=voice_settings
        )
    )[0]
    last = soundfile.read(speech.speak("and then energetic rock for running", language="en", settings=voice_settings))[
        0
    ]
    rate = soundfile.info(
        str(speech.speak("play some calm piano music", language="en", settings=voice_settings))
    ).samplerate
    gap = np.zeros(rate // 4)
    middles = [part for _ in range(6) for part in (middle, gap)]
    recording = np.concatenate([first, gap, *middles, last]).astype(np.float32)
    assert recording.size / rate > speech.WINDOW_SPEECH_S + 3
    samples = np.interp(np.arange(0, recording.size, rate / speech.SAMPLE_RATE), np.arange(recording.size), recording)
    heard = speech.transcribe(samples.astype(np.float32), language="en", settings=voice_settings)
    words = heard.text.lower()
    assert "piano" in words and "running" in words, heard.text


def test_silence_is_no_speech_not_an_empty_request(voice_settings, tmp_path):
    quiet = tmp_path / "quiet.wav"
    rng = np.random.default_rng(0)
    soundfile.write(quiet, (rng.standard_normal(16000 * 2) * 2e-4).astype(np.float32), 16000)
    with pytest.raises(NoSpeechError) as info:
        speech.transcribe(quiet, settings=voice_settings)
    assert info.value.http_status == 422 and "microphone" in info.value.hint


def test_what_is_not_audio_is_a_read_error(voice_settings):
    with pytest.raises(AudioReadError) as info:
        speech.transcribe(b"RIFF but not really a wave file at all" * 20, settings=voice_settings)
    assert info.value.http_status == 400 and "WAV" in info.value.hint
    with pytest.raises(AudioReadError, match="empty"):
        speech.transcribe(b"", settings=voice_settings)


def test_a_recording_past_the_limit_is_refused_before_decoding(voice_settings, tmp_path):
    long = tmp_path / "long.wav"
    soundfile.write(long, np.zeros(16000 * 3, dtype=np.float32), 16000)
    with pytest.raises(AudioTooLongError) as info:
        speech.transcribe(long, settings=replace(voice_settings, voice_max_seconds=2))
    assert info.value.http_status == 413 and "MOODTUNE_VOICE_MAX_SECONDS" in info.value.hint


def test_a_missing_model_names_the_command_that_fetches_it(settings, real_whisper_dir):
    wav = speech.speak("calm piano music", language="en", settings=settings)
    with pytest.raises(ModelMissingError) as info:
        speech.transcribe(wav, language="en", settings=settings)  # this home has no assembled models
    assert "moodtune setup" in info.value.hint


def test_speech_is_cached_per_text_and_voice(settings):
    if not speech.shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (./run.sh test installs it)")
    first = speech.speak("Here is some calm music.", language="en", settings=settings)
    written = first.stat().st_mtime_ns
    again = speech.speak("Here  is some calm music. ", language="en", settings=settings)  # same words
    assert again == first and first.read_bytes()[:4] == b"RIFF"
    assert soundfile.info(str(first)).duration > 0.8
    assert speech.speak("这是安静的音乐。", language="zh", settings=settings) != first
    assert speech.speak("Here is some calm music.", language="zh", settings=settings) != first, "another voice"
    assert first.stat().st_mtime_ns >= written and len(list(settings.speech_cache_dir.glob("*.wav"))) == 3
    assert speech.cached_speech(first.name, settings) == first
    assert speech.cached_speech("../../etc/passwd", settings) is None


@pytest.mark.parametrize(
    ("heard", "language", "kept"),
    [
        ("考试驾驾驾驾驾驾驾驾驾驾", "zh", "考试驾"),  # the decoder looping on audio it could not read
        ("古典、古典、古典、古典、", "zh", "古典"),
        ("不错 不错，国风的", "zh", "不错不错，国风的"),  # said twice is speech; spaces between Han dropped
        ("a lot of fun, fun, fun, fun, fun,", "en", "a lot of fun"),
        ("songs from 2000 at 100 bpm", "en", "songs from 2000 at 100 bpm"),  # digits are not a loop
        ("想听Coldplay和Imagine Dragons", "zh", "想听Coldplay和Imagine Dragons"),
        ("考试周\ufffd", "zh", "考试周"),  # half a character, cut by the token cap
        ("來點安靜的鋼琴曲，不要歌詞", "zh", "来点安静的钢琴曲，不要歌词"),  # simplified, as the parser's rules are
    ],
)
def test_transcripts_lose_decoder_loops_and_keep_what_was_said(heard, language, kept):
    assert speech.clean_transcript(heard, language) == kept


# A stand-in library: the names a user might have, the asked-for one among them.
LIBRARY = (
    "Kelly Rowland", "Alicia Keys", "Kelly Clarkson", "R. Kelly", "Kenny G", "Celine Dion", "Coldplay", "Queen",
    "Lady Gaga", "Taylor Swift", "Bon Jovi", "Goo Goo Dolls", "Miles Davis", "Ed Sheeran", "Adele", "Pink",
    "The Paper Lanterns (synthetic demo)", "五月天", "周杰伦", "毛不易",
)  # fmt: skip


def test_a_misheard_artist_in_the_library_is_heard_right_on_the_second_pass(voice_settings):
    wav = speech.speak("play some Kelly Rowland songs", language="en", settings=voice_settings)
    alone = speech.transcribe(wav, language="en", settings=voice_settings)
    assert "rowland" not in alone.text.lower(), f"tiny.en hears the name without help now: {alone.text}"
    helped = speech.transcribe(wav, language="en", settings=voice_settings, vocabulary=LIBRARY)
    assert "Kelly Rowland" in helped.names and "kelly rowland" in helped.text.lower(), helped


def test_a_request_naming_no_artist_is_one_pass_and_unchanged_with_the_library(voice_settings):
    wav = speech.speak("calm music for reading, no jazz", language="en", settings=voice_settings)
    alone = speech.transcribe(wav, language="en", settings=voice_settings)
    helped = speech.transcribe(wav, language="en", settings=voice_settings, vocabulary=LIBRARY)
    assert helped.names == () and helped.text == alone.text


@pytest.mark.parametrize(
    ("heard", "names"),
    [
        ("Play Kelly Roland.", ["Kelly Rowland", "R. Kelly"]),  # likeliest first
        ("Play Kelly Rowland.", []),  # heard right: not a mishearing of "R. Kelly" either
        ("How about songs similar to Taylor Swift, Man Jovi or Goo Goo Niles?", ["Goo Goo Dolls", "Bon Jovi"]),
        ("Hi, I want to create a playlist for chores.", []),
        ("some of the paper lantern", ["The Paper Lanterns"]),  # the bracket is not said (nor prompted)
        ("貌不易的歌，适合一个人喝点小酒", ["毛不易"]),
        ("王妃的少放点", []),  # a two-character name must be heard exactly (no pinyin)
    ],
)
def test_library_names_are_proposed_for_the_spans_that_sound_like_them(heard, names):
    assert speech.vocabulary_candidates(heard, LIBRARY) == names


@pytest.mark.parametrize(
    ("heard", "language", "copied"),
    [
        ("音乐推荐：安静、轻松、快乐、伤感、浪漫、怀旧、钢", "zh", True),
        ("别翻闪闪音乐，我闪听电脑飞要滚、闪闪、轻松、快乐、伤感、浪漫、怀旧、钢琴", "zh", True),
        ("唱唱的是钢琴、爵士、歌词、台词、歌曲、古典", "zh", False),  # two prompt words together is speech
        ("calm, happy, sad, energetic music", "en", True),
        ("some calm jazz or happy rock", "en", False),
        ("popular rock songs", "en", False),  # whole words: "pop" is not in "popular"
    ],
)
def test_a_transcript_that_repeats_the_prompts_words_in_its_order_is_a_copy(heard, language, copied):
    assert speech.copies_prompt(heard, language) is copied


def test_a_decoding_that_copies_the_prompt_is_done_again_without_it(voice_settings, tmp_path):
    """Whisper base wrote its own prompt for this request spoken at 165 wpm (bench/results/voice.json)."""
    wav = tmp_path / "anime.wav"
    speech.subprocess.run(
        ["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "165", "-w", str(wav), "--stdin"],
        input="有没有那种很燃的动漫歌曲，打游戏的时候听".encode(),
        check=True,
    )
    unguarded = speech.transcribe(wav, language="zh", settings=voice_settings, prompt_guard=False)
    assert speech.copies_prompt(unguarded.text, "zh"), f"base does not copy its prompt here now: {unguarded.text}"
    guarded = speech.transcribe(wav, language="zh", settings=voice_settings)
    assert guarded.prompt_copied and not speech.copies_prompt(guarded.text, "zh"), guarded
