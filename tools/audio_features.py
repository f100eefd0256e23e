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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from moodtune.errors import AudioReadError, InputError

SAMPLE_RATE = 22_050
AUDIO_SUFFIXES = (".mp3", ".flac", ".ogg", ".opus", ".wav")

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

    def as_dict(self) -> dict:
        """Plain JSON-ready values; `from_dict` gives the same features back (stored with a track)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> AudioFeatures:
        return cls(
            **{
                **data,
                "gtzan": {c: float(data["gtzan"][c]) for c in GTZAN_COLUMNS},
                "extra": dict(data.get("extra") or {}),
            }
        )


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


def check_audio_path(path: Path) -> Path:
    """`path` if it names a non-empty file in a format Moodtune reads; AudioReadError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise AudioReadError(f"{path} does not exist", hint="check the path")
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        raise AudioReadError(
            f"{path.name}: {path.suffix or 'no suffix'} is not a supported audio format",
            hint=f"Moodtune reads {', '.join(AUDIO_SUFFIXES)}",
        )
    if path.stat().st_size == 0:
        raise AudioReadError(f"{path.name} is empty", hint="re-copy or re-encode the file")
    return path


# A span to decode: (offset seconds, seconds or None for 'to the end', sample rate of the result).
Span = tuple[float, "float | None", int]


def decode_spans(path: Path, plan: Callable[[float], Sequence[Span]]) -> tuple[float, list[np.ndarray]]:
    """(the file's duration, one mono float32 signal per span), opening and decoding the file once.

    `plan(duration)` names the spans. Each span is decoded as librosa.load(path, sr=rate,
    offset=offset, duration=seconds) decodes it (seek to int(offset * native rate), read
    int(seconds * native rate) frames, mean of the channels, soxr_hq resampling), so a span
    is the same samples whichever function asks for it; only the file is opened and read once,
    and nothing outside the spans is decoded. Files soundfile cannot read go through librosa's
    audioread fallback, one span at a time.
    """
    import librosa
    import soundfile as sf

    path = check_audio_path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                with sf.SoundFile(str(path)) as handle:
                    native = handle.samplerate
                    duration = handle.frames / native
                    signals = []
                    for offset, seconds, rate in plan(duration):
                        handle.seek(int(offset * native) if offset else 0)
                        frames = int(seconds * native) if seconds is not None else -1
                        y = librosa.to_mono(handle.read(frames=frames, dtype="float32", always_2d=False).T)
                        signals.append(librosa.resample(y, orig_sr=native, target_sr=rate) if rate != native else y)
            except sf.SoundFileRuntimeError:
                duration = float(librosa.get_duration(path=str(path)))
                signals = [
                    librosa.load(str(path), sr=rate, mono=True, offset=offset, duration=seconds)[0]
                    for offset, seconds, rate in plan(duration)
                ]
    except (AudioReadError, InputError):  # InputError: a bad plan, not a bad file
        raise
    except Exception as exc:  # librosa/soundfile/audioread raise many unrelated types for bad files
        raise AudioReadError(
            f"{path.name} could not be decoded ({type(exc).__name__}: {exc})".rstrip(),
            hint="check that the file plays; re-encode it as FLAC or WAV if it does",
        ) from exc
    return float(duration), [np.ascontiguousarray(y, dtype=np.float32) for y in signals]


def excerpt_span(duration: float, *, excerpt_seconds: float = 30.0) -> Span:
    """The middle `excerpt_seconds` of a track (all of it if shorter), at SAMPLE_RATE: what the features read."""
    return (max(0.0, (duration - excerpt_seconds) / 2), excerpt_seconds, SAMPLE_RATE)


def check_sound(path: Path, signal: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    if signal.size < sr // 2 or not np.any(signal):
        raise AudioReadError(f"{Path(path).name} has less than half a second of sound")
    if not np.all(np.isfinite(signal)):
        raise AudioReadError(
            f"{Path(path).name} decodes to NaN or infinite samples", hint="re-encode it as FLAC or WAV"
        )
    return signal


def load_excerpt(path: Path, *, excerpt_seconds: float = 30.0) -> tuple[np.ndarray, float]:
    """The middle `excerpt_seconds` of the file (all of it if shorter), mono at 22,050 Hz."""
    duration, (signal,) = decode_spans(path, lambda d: [excerpt_span(d, excerpt_seconds=excerpt_seconds)])
    return check_sound(path, signal), duration


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


def median_filter_rows(values: np.ndarray, size: int) -> np.ndarray:
    """scipy.ndimage.median_filter(values, size=(1, size), mode="reflect"), row by row.

    The same numbers; SciPy's 1-D median filter is about 7x faster on a spectrogram than its
    general n-D one with a (1, size) footprint (0.075 s against 0.53 s for 30 s of audio).
    """
    from scipy.ndimage import median_filter

    values = np.ascontiguousarray(values)
    out = np.empty_like(values)
    for i, row in enumerate(values):
        out[i] = median_filter(row, size=size, mode="reflect")
    return out


def hpss(stft: np.ndarray, *, signal: np.ndarray, kernel_size: int = 31) -> tuple[np.ndarray, np.ndarray]:
    """(harmonic signal, percussive signal) of `signal` from its STFT: librosa.effects.hpss's numbers.

    librosa.effects.hpss(y) is stft -> librosa.decompose.hpss (median filters across time and
    across frequency, soft masks of power 2) -> istft; this is the same computation with the
    median filters run row by row (median_filter_rows), 1.2 s -> 0.2 s for 30 s of audio. The two
    masks sum to one and the inverse STFT is linear, so the percussive part is the signal less
    the harmonic one (within 1e-6 of librosa's): one mask and one inverse STFT, not two (~70 ms).
    """
    import librosa

    magnitude, phase = librosa.magphase(stft)
    harm = median_filter_rows(magnitude, kernel_size)  # across time, per frequency bin
    perc = median_filter_rows(magnitude.T, kernel_size).T  # across frequency, per frame
    mask_harm = librosa.util.softmask(harm, perc, power=2.0, split_zeros=True)
    y_harm = librosa.istft((magnitude * mask_harm) * phase, dtype=np.float32, length=signal.size)
    return y_harm, signal - y_harm


def features_of_signal(y: np.ndarray, *, duration: float) -> AudioFeatures:
    """Features of a mono float32 signal at SAMPLE_RATE; `duration` is the whole file's, seconds.

    Every GTZAN column is librosa's default computation on `y` (chroma_stft, rms, spectral
    centroid, bandwidth and roll-off, zero-crossing rate, HPSS, mfcc, onset strength and tempo),
    but one STFT (n_fft 2048, hop 512, librosa's default for all of them) and one mel
    spectrogram are computed and shared instead of one per feature; the numbers are the same
    (tests/tools/test_audio.py compares them with the per-feature calls). The key is read from
    the CQT chroma of the harmonic part (0.24 s of the ~0.5 s): a chroma of the harmonic STFT
    would save 0.2 s but found 11 of 28 rendered demo grooves' keys against CQT's 18.
    """
    import librosa

    sr = SAMPLE_RATE
    y = np.ascontiguousarray(y, dtype=np.float32)
    stft = librosa.stft(y)
    magnitude = np.abs(stft)
    power = magnitude**2
    tuning = librosa.estimate_tuning(S=power, sr=sr, bins_per_octave=12)  # what chroma_stft(y=y) estimates
    chroma = librosa.feature.chroma_stft(S=power, sr=sr, tuning=tuning)
    rms = librosa.feature.rms(y=y)
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=sr)
    bandwidth = librosa.feature.spectral_bandwidth(S=magnitude, sr=sr, centroid=centroid)
    rolloff = librosa.feature.spectral_rolloff(S=magnitude, sr=sr)
    zcr = librosa.feature.zero_crossing_rate(y)
    harmonic, percussive = hpss(stft, signal=y)
    log_mel = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sr))
    onset_env = librosa.onset.onset_strength(S=log_mel, sr=sr)
    tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset_env, sr=sr))[0])
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=20)
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
