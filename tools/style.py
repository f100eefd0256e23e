"""The style tool: an SVM over GTZAN-recipe audio features, fused with the music tagger -> StyleVector, audio mood.

`StyleClassifier` is a scikit-learn estimator (fit / predict_proba) saved as a versioned,
checksummed artefact in models/style/. `analyse_file(path)` is what ingestion calls and
`classify_style(path)` what a clip upload calls: one decode, the GTZAN features, the SVM, both
MusiCNN taggers (tools/tagger.py) and the fused reading of tools/audio_reading.py (style q,
genre terms, audio mood) plus the MSD model's 200-d embedding for "sounds like" search.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from moodtune.artefacts import log_load, verify_artefact, write_manifest
from moodtune.config import SHIPPED_MODELS_DIR
from moodtune.errors import InputError, ModelCorruptError, ModelMissingError
from moodtune.types import GENRES, MOODS, EmotionVector, StyleVector
from tools.audio_features import GTZAN_COLUMNS, AudioFeatures

ARTEFACT_NAME = "style"
ARTEFACT_VERSION = "1.1.0"
ARTEFACT_DIR = SHIPPED_MODELS_DIR / "style"
TRAIN_FIX = "moodtune train style"
GTZAN_TABLE = Path(__file__).resolve().parents[1] / "data" / "gtzan" / "features_30_sec.csv"
# Features of synthetic renderings from the demo's recipes (ours; `moodtune train style --render-synthetic`).
SYNTHETIC_TABLE = Path(__file__).resolve().parents[1] / "data" / "synthetic" / "style_features.csv"

# See make_pipeline: the deprecation is known and the version is pinned.
warnings.filterwarnings("ignore", message="The `probability` parameter was deprecated", category=FutureWarning)

# Variance columns span orders of magnitude; a signed log makes them near-Gaussian for the RBF kernel.
_LOG_COLUMNS = tuple(i for i, c in enumerate(GTZAN_COLUMNS) if c.endswith("_var"))


def _log_variances(x: np.ndarray) -> np.ndarray:
    x = np.array(x, dtype=np.float64, copy=True)
    x[:, _LOG_COLUMNS] = np.log1p(np.maximum(x[:, _LOG_COLUMNS], 0.0))
    return x


def make_pipeline(*, C: float = 3.0, gamma: str | float = "scale"):
    """log(variances) -> standard scaling -> RBF SVC with Platt-scaled probabilities.

    SVC(probability=True) is deprecated in scikit-learn 1.9 in favour of CalibratedClassifierCV,
    but on GTZAN the latter's argmax is 4-5 points less accurate (0.72 vs 0.77 in 10-fold CV),
    so we keep Platt scaling while scikit-learn is pinned to a version that has it.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    from sklearn.svm import SVC

    svm = SVC(C=C, gamma=gamma, kernel="rbf", probability=True, random_state=0)
    return Pipeline(
        [
            ("log_variances", FunctionTransformer(_log_variances)),
            ("scale", StandardScaler()),
            ("svm", svm),
        ]
    )


def read_gtzan_table(path: Path = GTZAN_TABLE) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(features in GTZAN_COLUMNS order, genre labels, file names) of a GTZAN feature table."""
    import pandas as pd

    if not Path(path).is_file():
        raise ModelMissingError(
            f"GTZAN feature table {path} not found",
            hint="bring features_30_sec.csv into data/gtzan/ as data/README.md describes",
        )
    table = pd.read_csv(path)
    missing = [c for c in GTZAN_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path} lacks GTZAN columns {missing[:5]}", hint="use the GTZAN features_30_sec.csv table")
    labels = table["label"].to_numpy()
    unknown = set(labels) - set(GENRES)
    if unknown:
        raise InputError(f"{path} has genres outside the vocabulary: {sorted(unknown)}")
    return table[list(GTZAN_COLUMNS)].to_numpy(dtype=np.float64), labels, table["filename"].tolist()


class StyleClassifier:
    """Genre probabilities from GTZAN features; keyword arguments go to `make_pipeline`."""

    def __init__(self, **params) -> None:
        self.params = params
        self.pipeline = make_pipeline(**params)

    def fit(self, X: np.ndarray, y: Sequence[str]) -> StyleClassifier:
        self.pipeline.fit(X, y)
        if list(self.pipeline.classes_) != sorted(GENRES):
            raise InputError("style training data must contain all ten genres")
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, 10) probabilities in GENRES order."""
        probs = self.pipeline.predict_proba(np.atleast_2d(X))
        order = [list(self.pipeline.classes_).index(g) for g in GENRES]
        return probs[:, order]

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.array(GENRES)[self.predict_proba(X).argmax(1)]

    def save(self, directory: Path, *, meta: dict) -> dict:
        import joblib
        import sklearn

        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump({"params": self.params, "pipeline": self.pipeline}, directory / "style_svm.joblib")
        return write_manifest(
            directory,
            name=ARTEFACT_NAME,
            version=ARTEFACT_VERSION,
            meta={**meta, "sklearn": sklearn.__version__, "columns": list(GTZAN_COLUMNS)},
        )

    @classmethod
    def load(cls, directory: Path = ARTEFACT_DIR) -> StyleClassifier:
        import joblib
        import sklearn

        manifest = verify_artefact(directory, name="style classifier", fix=TRAIN_FIX)
        if manifest["meta"].get("sklearn") != sklearn.__version__:
            # Pickled estimators are only guaranteed to load in the version that wrote them.
            raise ModelCorruptError(
                f"style model was saved with scikit-learn {manifest['meta'].get('sklearn')}, this is {sklearn.__version__}",
                hint=f"install the pinned version (./run.sh) or run `{TRAIN_FIX}`",
            )
        with log_load(f"style classifier {manifest['version']} from {directory}"):
            saved = joblib.load(directory / "style_svm.joblib")
            model = cls(**saved["params"])
            model.pipeline = saved["pipeline"]
            return model


def cross_validate(
    X: np.ndarray,
    y: np.ndarray,
    *,
    folds: int = 10,
    seed: int = 0,
    subsets: dict[str, np.ndarray] | None = None,
    **params,
) -> dict:
    """Stratified k-fold accuracy and macro-F1 of the genre we report (argmax of the probabilities).

    `subsets` (name -> row mask) adds the accuracy on those rows alone.
    """
    from sklearn.metrics import confusion_matrix, f1_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    probs = cross_val_predict(make_pipeline(**params), X, y, cv=splitter, method="predict_proba")
    predicted = np.array(sorted(set(y)))[probs.argmax(1)]
    return {
        "folds": folds,
        "accuracy": float(np.mean(predicted == y)),
        "macro_f1": float(f1_score(y, predicted, average="macro")),
        "confusion": confusion_matrix(y, predicted, labels=list(GENRES)).tolist(),
        "labels": list(GENRES),
        "subsets": {
            name: {"accuracy": float(np.mean(predicted[mask] == y[mask])), "n": int(mask.sum())}
            for name, mask in (subsets or {}).items()
            if mask.any()
        },
    }


def train_style_model(
    *,
    table: Path = GTZAN_TABLE,
    synthetic_table: Path | None = SYNTHETIC_TABLE,
    out_dir: Path = ARTEFACT_DIR,
    C_grid: Sequence[float] = (1.0, 3.0, 10.0),
) -> dict:
    """Pick C by 10-fold CV, fit on GTZAN (+ the synthetic table), save the artefact; return the manifest.

    The CV figures are reported separately for GTZAN's recordings (what a user's own library
    sounds like) and for the synthetic renderings (what the demo catalog sounds like).
    """
    start = time.perf_counter()
    X, y, _ = read_gtzan_table(table)
    is_real = np.ones(len(y), dtype=bool)
    training_data = "GTZAN features_30_sec.csv (librosa features of 1,000 30 s recordings)"
    if synthetic_table is not None:
        Xs, ys, _ = read_gtzan_table(synthetic_table)
        X, y = np.vstack([X, Xs]), np.concatenate([y, ys])
        is_real = np.concatenate([is_real, np.zeros(len(ys), dtype=bool)])
        training_data += f" + {len(ys)} synthetic renderings from the demo's recipes (other seeds and scores)"
    results = {C: cross_validate(X, y, C=C, subsets={"gtzan": is_real, "synthetic": ~is_real}) for C in C_grid}
    best_C = max(results, key=lambda C: results[C]["accuracy"])
    model = StyleClassifier(C=best_C).fit(X, y)
    meta = {
        "training_data": training_data,
        "cv": results[best_C],
        "cv_by_C": {
            str(C): {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"], "subsets": r["subsets"]}
            for C, r in results.items()
        },
        "C": best_C,
        "train_seconds": round(time.perf_counter() - start, 1),
    }
    return model.save(out_dir, meta=meta)


@cache
def load_style_model() -> StyleClassifier:
    return StyleClassifier.load(ARTEFACT_DIR)


# ---- audio mood ---------------------------------------------------------------------
def _squash(x: float) -> float:
    return math.tanh(x)


def audio_valence_arousal(features: AudioFeatures) -> tuple[float, float]:
    """Heuristic circumplex position from audio (documented in models/style/README.md).

    arousal = 0.40·tanh((tempo−110)/35) + 0.30·tanh((loudness_dB+22)/6)
            + 0.30·tanh((onsets_per_s−2.5)/1.5) + 0.20·tanh((centroid_Hz−1800)/900), clipped to [−1, 1]
    valence = 0.55·(±1 for major/minor)·min(1, 0.4 + 6·mode_strength)
            + 0.25·tanh((centroid_Hz−1600)/900) + 0.20·tanh((tempo−95)/40), clipped to [−1, 1]
    Faster, louder, denser and brighter music reads as more aroused; major mode, brightness
    and tempo as more positive (Gabrielsson & Lindström's summary of music-emotion cues).
    """
    arousal = (
        0.40 * _squash((features.tempo - 110) / 35)
        + 0.30 * _squash((features.loudness_db + 22) / 6)
        + 0.30 * _squash((features.onset_rate - 2.5) / 1.5)
        + 0.20 * _squash((features.brightness - 1800) / 900)
    )
    sign = 1.0 if features.mode == "major" else -1.0
    valence = (
        0.55 * sign * min(1.0, 0.4 + 6 * features.mode_strength)
        + 0.25 * _squash((features.brightness - 1600) / 900)
        + 0.20 * _squash((features.tempo - 95) / 40)
    )
    return float(np.clip(valence, -1, 1)), float(np.clip(arousal, -1, 1))


def emotion_from_valence_arousal(valence: float, arousal: float, *, width: float = 0.35) -> EmotionVector:
    """Moods weighted by a Gaussian of their circumplex distance to (valence, arousal)."""
    weights = [math.exp(-((valence - v) ** 2 + (arousal - a) ** 2) / (2 * width**2)) for v, a in MOODS.values()]
    return EmotionVector(tuple(weights))


@dataclass(frozen=True)
class StyleResult:
    """What the audio says of a track: its style q, its audio mood, and the evidence behind them.

    From `analyse_file` / `classify_style` (the fused reading, tools/audio_reading.py): `style`
    mixes the SVM's q (`svm_style`), the tagger's genres and the file's genre tag with `weights`;
    `audio_mood` is read from the tags, tempo and loudness. From `classify_features` alone (no
    tagger): the SVM's q and the hand-set circumplex heuristic (`audio_valence_arousal`).
    """

    style: StyleVector
    audio_mood: EmotionVector
    valence: float
    arousal: float
    features: AudioFeatures
    svm_style: StyleVector | None = None
    tags: Mapping[str, float] = field(default_factory=dict)  # "msd:rock" / "mtt:fast" -> probability
    embedding: np.ndarray | None = None  # (200,) the MSD model's mean penultimate vector
    genre_terms: Mapping[str, float] = field(default_factory=dict)  # genre words with tag evidence, strongest first
    weights: Mapping[str, float] = field(default_factory=dict)  # {"svm", "tagger", "file_tag"} shares of q


def classify_features(features: AudioFeatures) -> StyleResult:
    """The SVM's q and the heuristic audio mood of some features (no tagger; what `fit_audio_reading` starts from)."""
    probs = load_style_model().predict_proba(features.vector()[None, :])[0]
    valence, arousal = audio_valence_arousal(features)
    style = StyleVector(tuple(float(p) for p in probs))
    return StyleResult(
        style=style,
        audio_mood=emotion_from_valence_arousal(valence, arousal),
        valence=valence,
        arousal=arousal,
        features=features,
        svm_style=style,
    )


TAGGER_MODELS = ("msd", "mtt")
TAG_DECIMALS = 4  # tags are stored rounded; the reading is made from the rounded values, so a re-read gives the same


def split_tags(tags: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """{"msd": {...}, "mtt": {...}} from tags keyed "msd:rock", "mtt:fast"."""
    out: dict[str, dict[str, float]] = {name: {} for name in TAGGER_MODELS}
    for key, value in tags.items():
        model, _, tag = key.partition(":")
        if model in out:
            out[model][tag] = float(value)
    return out


def read_analysis(
    features: AudioFeatures,
    tags: Mapping[str, float],
    *,
    genre_tag: str = "",
    embedding: np.ndarray | None = None,
) -> StyleResult:
    """The fused reading of a track from its features and tags (stored ones too: no audio is decoded)."""
    from tools.audio_reading import read_audio

    svm = classify_features(features).style
    by_model = split_tags(tags)
    reading = read_audio(
        svm=svm, msd=by_model["msd"], mtt=by_model["mtt"], genre_tag=genre_tag or "", features=features
    )
    terms = dict(sorted(reading.genre_terms.items(), key=lambda item: -item[1]))
    return StyleResult(
        style=reading.style,
        audio_mood=reading.emotion,
        valence=float(reading.valence),
        arousal=float(reading.arousal),
        features=features,
        svm_style=svm,
        tags=dict(tags),
        embedding=embedding,
        genre_terms=terms,
        weights=dict(reading.weights),
    )


def measure_file(path: str | Path) -> tuple[AudioFeatures, dict[str, float], np.ndarray]:
    """(GTZAN features, both taggers' tags rounded as stored, the MSD model's embedding) of an audio file, decoding it once.

    One decode (tools/audio_features.py decode_spans) gives the middle 30 s at 22,050 Hz for the
    GTZAN features and the tagger's excerpts at 16 kHz (DEFAULT_WINDOWS x WINDOW_SECONDS at
    20/40/60/80 %, as MusicTagger.tag_file reads them); both taggers share one log-mel. What
    ingestion measures, and what bench/fit_audio_reading.py fits the reading on. AudioReadError
    if the file is unreadable.
    """
    from tools.audio_features import check_sound, decode_spans, excerpt_span, features_of_signal
    from tools.tagger import DEFAULT_WINDOWS, WINDOW_SECONDS, MusicTagger, plan_windows, tag_excerpts
    from tools.tagger import SAMPLE_RATE as TAGGER_RATE

    path = Path(path)
    windows: list[tuple[float, float | None]] = []

    def plan(duration: float):
        windows[:] = plan_windows(duration, windows=DEFAULT_WINDOWS, window_seconds=WINDOW_SECONDS)
        return [excerpt_span(duration), *((offset, seconds, TAGGER_RATE) for offset, seconds in windows)]

    duration, (excerpt, *tagger_signals) = decode_spans(path, plan)
    features = features_of_signal(check_sound(path, excerpt), duration=duration)
    outputs = tag_excerpts(
        [MusicTagger.load(name) for name in TAGGER_MODELS],
        [(offset, y) for (offset, _), y in zip(windows, tagger_signals)],
        duration=duration,
    )
    tags = {f"{out.model}:{tag}": round(p, TAG_DECIMALS) for out in outputs for tag, p in out.tags.items()}
    return features, tags, outputs[0].embedding


def analyse_file(path: str | Path, *, genre_tag: str | None = None) -> StyleResult:
    """Features, SVM, both taggers and the fused reading of an audio file, decoding it once (`measure_file`).

    `genre_tag` None reads the file's own tag. AudioReadError if the file is unreadable.
    """
    features, tags, embedding = measure_file(path)
    if genre_tag is None:
        from catalog.render import read_tags

        genre_tag = read_tags(Path(path)).get("genre", "")
    return read_analysis(features, tags, genre_tag=genre_tag, embedding=embedding)


def classify_style(audio_path: str | Path, *, genre_tag: str | None = None) -> StyleResult:
    """Style q, audio mood, tags and sound embedding of an audio file (AudioReadError if unreadable).

    The fused reading (`analyse_file`); a clip's own genre tag counts when it has one.
    """
    return analyse_file(audio_path, genre_tag=genre_tag)
