"""Audio features (GTZAN recipe), the SVM style tool and audio mood on real rendered clips."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pretty_midi
import pytest

from catalog.render import render_midi
from moodtune.errors import AudioReadError
from tools.audio_features import GTZAN_COLUMNS, extract_features
from tools.style import classify_style, emotion_from_valence_arousal


def strings_piece(seconds: float = 8.0) -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI(initial_tempo=70)
    for program, base in ((48, 48), (48, 55), (48, 64)):
        inst = pretty_midi.Instrument(program=program)
        for i, step in enumerate([0, 4, 7, 5, 4, 2, 0, 0] * 2):
            inst.notes.append(pretty_midi.Note(velocity=60, pitch=base + step, start=i * 0.5, end=i * 0.5 + 0.5))
        midi.instruments.append(inst)
    return midi


def drum_piece(seconds: float = 8.0) -> pretty_midi.PrettyMIDI:
    midi = pretty_midi.PrettyMIDI(initial_tempo=170)
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    guitar = pretty_midi.Instrument(program=30)
    for i in range(int(seconds * 8)):
        t = i * 0.125
        drums.notes.append(pretty_midi.Note(velocity=120, pitch=36 if i % 2 == 0 else 42, start=t, end=t + 0.05))
        if i % 4 == 2:
            drums.notes.append(pretty_midi.Note(velocity=120, pitch=38, start=t, end=t + 0.05))
        guitar.notes.append(pretty_midi.Note(velocity=120, pitch=40 + (i // 8) % 3, start=t, end=t + 0.12))
    midi.instruments += [drums, guitar]
    return midi


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "strings": render_midi(strings_piece(), folder / "strings.flac"),
        "drums": render_midi(drum_piece(), folder / "drums.wav"),
    }


def test_features_have_every_gtzan_column(clips):
    features = extract_features(clips["strings"])
    assert list(features.gtzan) == list(GTZAN_COLUMNS)
    assert np.all(np.isfinite(features.vector()))
    assert features.mode in ("major", "minor") and features.duration == pytest.approx(9.0, abs=1.5)


def test_one_shared_stft_gives_librosas_own_numbers(clips):
    """features_of_signal shares one STFT, one mel and a row-wise HPSS: the columns stay librosa's defaults."""
    import librosa

    from tools.audio_features import estimate_key, features_of_signal, load_excerpt

    sr = 22_050
    for clip in clips.values():
        y, duration = load_excerpt(clip)
        features = features_of_signal(y, duration=duration)
        harmonic, percussive = librosa.effects.hpss(y)
        expected = {
            "chroma_stft": librosa.feature.chroma_stft(y=y, sr=sr),
            "rms": librosa.feature.rms(y=y),
            "spectral_centroid": librosa.feature.spectral_centroid(y=y, sr=sr),
            "spectral_bandwidth": librosa.feature.spectral_bandwidth(y=y, sr=sr),
            "rolloff": librosa.feature.spectral_rolloff(y=y, sr=sr),
            "zero_crossing_rate": librosa.feature.zero_crossing_rate(y),
            "harmony": harmonic,
            "perceptr": percussive,
            **{f"mfcc{i + 1}": row for i, row in enumerate(librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20))},
        }
        for name, values in expected.items():
            assert features.gtzan[f"{name}_mean"] == pytest.approx(float(np.mean(values)), rel=1e-5, abs=1e-9), name
            assert features.gtzan[f"{name}_var"] == pytest.approx(float(np.var(values)), rel=1e-5, abs=1e-12), name
        onset = librosa.onset.onset_strength(y=y, sr=sr)
        assert features.tempo == pytest.approx(float(librosa.feature.tempo(onset_envelope=onset, sr=sr)[0]))
        assert (features.key, features.mode) == estimate_key(librosa.feature.chroma_cqt(y=harmonic, sr=sr))[:2]


def test_the_row_wise_hpss_is_librosas(clips):
    import librosa

    from tools.audio_features import hpss, load_excerpt

    y, _ = load_excerpt(clips["drums"])
    harmonic, percussive = hpss(librosa.stft(y), signal=y)
    expected_h, expected_p = librosa.effects.hpss(y)
    assert np.abs(harmonic - expected_h).max() < 1e-6 and np.abs(percussive - expected_p).max() < 1e-6


def test_one_decode_reads_each_span_as_librosa_load_does(clips):
    import librosa

    from tools.audio_features import decode_spans

    spans = [(1.0, 2.5, 22_050), (0.25, 3.0, 16_000), (0.0, None, 16_000), (2.0, 1.0, 44_100)]
    for clip in clips.values():
        duration, signals = decode_spans(clip, lambda d: spans)
        assert duration == pytest.approx(librosa.get_duration(path=str(clip)))
        for (offset, seconds, rate), signal in zip(spans, signals):
            expected, _ = librosa.load(str(clip), sr=rate, mono=True, offset=offset, duration=seconds)
            assert signal.dtype == np.float32 and np.array_equal(signal, expected)


def test_a_clip_reading_has_tags_an_embedding_and_the_fusion_weights(clips):
    result = classify_style(clips["drums"])
    assert len(result.tags) == 100 and result.embedding.shape == (200,)
    assert result.svm_style is not None and sum(result.weights.values()) == pytest.approx(1.0, abs=1e-3)
    assert list(result.genre_terms.values()) == sorted(result.genre_terms.values(), reverse=True)


def test_style_vector_is_a_distribution_and_tells_strings_from_drums(clips):
    strings, drums = classify_style(clips["strings"]), classify_style(clips["drums"])
    for result in (strings, drums):
        assert sum(result.style.probs) == pytest.approx(1.0)
        assert sum(result.audio_mood.probs) == pytest.approx(1.0)
    assert strings.style["classical"] > drums.style["classical"]
    assert drums.arousal > strings.arousal


@pytest.mark.parametrize(
    ("valence", "arousal", "mood"),
    [(0.8, 0.5, "happy"), (-0.7, -0.5, "sad"), (0.4, -0.7, "calm"), (-0.75, 0.75, "angry")],
)
def test_audio_mood_follows_the_circumplex(valence, arousal, mood):
    assert emotion_from_valence_arousal(valence, arousal).top == mood


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.mp3", b"", "empty"),
        ("broken.flac", b"fLaC\x00\x00garbage" * 10, "could not be decoded"),
        ("notes.txt", b"hello", "not a supported audio format"),
    ],
)
def test_unreadable_audio_is_a_clear_error(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AudioReadError, match=reason):
        extract_features(path)


def test_after_warm_up_analysing_a_file_only_reads_the_jit_cache(clips, tmp_path):
    # numba issue #10128: processes writing the gufunc cache at once can segfault a later one.
    # Worker pools rely on the parent's warm-up leaving the workers nothing to compile.
    cache = tmp_path / "numba-cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}

    def run(code: str) -> None:
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=300)

    def snapshot() -> dict[str, int]:
        return {str(p.relative_to(cache)): p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()}

    run("from tools.audio_features import warm_up_jit_cache; warm_up_jit_cache()")
    warmed = snapshot()
    assert any(name.rsplit("/", 1)[-1].startswith("guf-") for name in warmed), "the gufuncs were cached"
    for clip in clips.values():
        run(f"from tools.audio_features import extract_features; extract_features({str(clip)!r})")
    assert snapshot() == warmed
