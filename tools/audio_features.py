"""Audio features of a file, with the recipe of the public GTZAN librosa feature tables.

`features_30_sec.csv` (GTZAN, 1,000 clips) was computed with librosa's defaults at 22,050 Hz
mono on 30 s clips: the mean and variance of chroma_stft, rms, spectral centroid, bandwidth,
roll-off, zero-crossing rate, the harmonic and percussive waveforms of HPSS ("harmony",
"perceptr"), 20 MFCCs, and the beat tracker's tempo. Computing the same columns here means
a classifier trained on that table applies to a user's files.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moodtune.errors import AudioReadError

SAMPLE_RATE = 22_050
AUDIO_SUFFIXES = (".mp3", ".flac", ".ogg", ".wav")

GTZAN_COLUMNS: tuple[str, ...] = (
    *(
        f"{name}_{stat}"
        for name in (
            "chroma_stft",
            "rms",
            "spectral_centroid",
            "spectral_bandwidth",
            "rolloff",
            "zero_crossing_rate",
            "harmony",
            "perceptr",
        )
        for stat in ("mean", "var")
    ),
    "tempo",
    *(f"mfcc{i}_{stat}" for i in range(1, 21) for stat in ("mean", "var")),
)

# Krumhansl-Kessler key profiles (probe-tone ratings), for key and mode estimation.
_MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@dataclass(frozen=True)
class AudioFeatures:
    gtzan: dict[str, float]  # the GTZAN table's columns, in GTZAN_COLUMNS order
    duration: float  # of the whole file, seconds
    tempo: float
    key: str
    mode: str  # "major" or "minor"
    mode_strength: float  # correlation margin of the chosen mode over the other, >= 0
    loudness_db: float  # mean RMS in dBFS
    onset_rate: float  # onsets per second
    brightness: float  # spectral centroid, Hz
    extra: dict[str, float] = field(default_factory=dict)

    def vector(self) -> np.ndarray:
        return np.array([self.gtzan[c] for c in GTZAN_COLUMNS], dtype=np.float64)


def _mean_var(values: np.ndarray) -> tuple[float, float]:
    return float(np.mean(values)), float(np.var(values))


def estimate_key(chroma: np.ndarray) -> tuple[str, str, float]:
    """Key and mode by correlating the mean chroma with the rotated Krumhansl profiles."""
    profile = chroma.mean(axis=1)
    if not np.any(profile > 0):
        return "C", "major", 0.0
    best = {}
    for mode, template in (("major", _MAJOR_PROFILE), ("minor", _MINOR_PROFILE)):
        scores = [np.corrcoef(profile, np.roll(template, shift))[0, 1] for shift in range(12)]
        scores = [s if math.isfinite(s) else -1.0 for s in scores]
        tonic = int(np.argmax(scores))
        best[mode] = (scores[tonic], tonic)
    mode = "major" if best["major"][0] >= best["minor"][0] else "minor"
    margin = abs(best["major"][0] - best["minor"][0])
    return PITCH_CLASSES[best[mode][1]], mode, float(margin)


def load_excerpt(path: Path, *, excerpt_seconds: float = 30.0) -> tuple[np.ndarray, float]:
    """The middle `excerpt_seconds` of the file (all of it if shorter), mono at 22,050 Hz."""
    import librosa

    path = Path(path)
    if not path.is_file():
        raise AudioReadError(f"{path} does not exist")
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        raise AudioReadError(
            f"{path.name}: {path.suffix or 'no suffix'} is not a supported audio format",
            hint=f"Moodtune reads {', '.join(AUDIO_SUFFIXES)}",
        )
    if path.stat().st_size == 0:
        raise AudioReadError(f"{path.name} is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            duration = float(librosa.get_duration(path=str(path)))
            offset = max(0.0, (duration - excerpt_seconds) / 2)
            signal, _ = librosa.load(str(path), sr=SAMPLE_RATE, mono=True, offset=offset, duration=excerpt_seconds)
    except Exception as exc:  # librosa/soundfile/audioread raise many unrelated types for bad files
        raise AudioReadError(
            f"{path.name} could not be decoded ({type(exc).__name__}: {exc})".rstrip(),
            hint="check that the file plays; re-encode it as FLAC or WAV if it does",
        ) from exc
    if signal.size < SAMPLE_RATE // 2 or not np.any(signal):
        raise AudioReadError(f"{path.name} has less than half a second of sound")
    return signal.astype(np.float32), duration


def extract_features(path: Path, *, excerpt_seconds: float = 30.0) -> AudioFeatures:
    """Features of the file's middle excerpt; AudioReadError for unreadable, empty or silent files."""
    y, duration = load_excerpt(path, excerpt_seconds=excerpt_seconds)
    return features_of_signal(y, duration=duration)


def warm_up_jit_cache() -> None:
    """Load (or compile and cache) every numba function feature extraction uses, in this process.

    Call it before starting processes that analyse audio: numba's on-disk cache of gufuncs is
    not safe to write from several processes at once (numba issue #10128, a segfault in a later
    process), and a fresh install has an empty cache. Once this process has written it, workers
    only read it. It takes ~3 s on a warm cache (mostly importing librosa), ~24 s on a cold one.
    """
    seconds = 6.0  # shorter signals are too short for chroma_cqt's lowest octave
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    tone = 0.3 * np.sin(2 * np.pi * 220.0 * t) * (1 + np.sign(np.sin(2 * np.pi * 2.0 * t))) / 2
    features_of_signal(tone.astype(np.float32), duration=seconds)


def features_of_signal(y: np.ndarray, *, duration: float) -> AudioFeatures:
    """Features of a mono float32 signal at SAMPLE_RATE; `duration` is the whole file's, seconds."""
    import librosa

    sr = SAMPLE_RATE
    chroma = librosa.feature.chroma_stft(y=y, sr=sr)
    rms = librosa.feature.rms(y=y)
    centroid = librosa.feature.spectral_centroid(y=y, sr=sr)
    bandwidth = librosa.feature.spectral_bandwidth(y=y, sr=sr)
    rolloff = librosa.feature.spectral_rolloff(y=y, sr=sr)
    zcr = librosa.feature.zero_crossing_rate(y)
    harmonic, percussive = librosa.effects.hpss(y)
    onset_env = librosa.onset.onset_strength(y=y, sr=sr)
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset_env, sr=sr))[0])
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    onsets = librosa.onset.onset_detect(onset_envelope=onset_env, sr=sr)

    gtzan: dict[str, float] = {}
    for name, values in (
        ("chroma_stft", chroma),
        ("rms", rms),
        ("spectral_centroid", centroid),
        ("spectral_bandwidth", bandwidth),
        ("rolloff", rolloff),
        ("zero_crossing_rate", zcr),
        ("harmony", harmonic),
        ("perceptr", percussive),
    ):
        gtzan[f"{name}_mean"], gtzan[f"{name}_var"] = _mean_var(values)
    gtzan["tempo"] = tempo
    for i in range(20):
        gtzan[f"mfcc{i + 1}_mean"], gtzan[f"mfcc{i + 1}_var"] = _mean_var(mfcc[i])
    key, mode, strength = estimate_key(librosa.feature.chroma_cqt(y=harmonic, sr=sr))
    seconds = y.size / sr
    return AudioFeatures(
        gtzan=gtzan,
        duration=duration,
        tempo=tempo,
        key=key,
        mode=mode,
        mode_strength=strength,
        loudness_db=float(20 * np.log10(max(float(np.mean(rms)), 1e-6))),
        onset_rate=float(len(onsets) / seconds),
        brightness=float(np.mean(centroid)),
    )
