"""The fused audio reading of a track: its style q and its audio mood, from three kinds of evidence.

- the style SVM's probabilities over the ten GTZAN genres (tools/style.py, librosa features);
- the MusiCNN tagger's tag probabilities (tools/tagger.py: MSD tags such as rock, metal, jazz,
  Hip-Hop, funk, happy, sad, Mellow; MTT tags such as fast, slow, loud, soft, classical, techno);
- the file's own genre tag (mutagen), when it has one: strong evidence, written by a person.

Style: the tags are mapped onto genres by a fixed, documented table (`GENRE_TAGS`: which tags
speak for which genre, and how much), giving a tagger distribution over the ten plus strengths
for genre words beyond them (funk, electronic, folk, ambient, punk, soul, house, techno ...). The
three sources are mixed with explicit weights, `q = w_svm·svm + w_tagger·tagger + w_tag·file_tag`
(the file-tag share only when the tag names a genre we know; the others scale up to fill it),
chosen on real dev recordings by `fit` (never on the demo's renderings).

Mood: arousal and valence are each a logistic model (`MoodAxis`) over standardised features:
tag probabilities plus the measured tempo and loudness. The zero-fit model reads a few named tags
with hand-set signs (fast/loud/drums/metal/party against slow/soft/quiet/Mellow/ambient;
happy/party/catchy against sad/metal/weird); `bench/fit_audio_reading.py` fits the named tags or
all 100, read as probabilities or as log-odds, and keeps a fit only when it beats that prior
leave-one-package-out (nested: the choice of features and strength made without the scored package). The
circumplex position (valence, arousal) becomes a distribution over the eight moods as before.

`AudioReader` is an estimator with fit/predict and a versioned, checksummed artefact in
models/audio_reading/; `read_audio` is the function ingestion calls.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from moodtune.artefacts import atomic_path, verify_artefact, write_manifest
from moodtune.config import SHIPPED_MODELS_DIR
from moodtune.errors import ModelCorruptError
from moodtune.types import GENRES, EmotionVector, StyleVector
from tools.audio_features import AudioFeatures
from tools.style import emotion_from_valence_arousal
from tools.tagger import MSD_TAGS, MTT_TAGS

ARTEFACT_DIR = SHIPPED_MODELS_DIR / "audio_reading"
VERSION = "1.2.0"  # 1.2.0: a mood axis may read its tags as log-odds (MoodAxis.tag_scale)

# Which tags speak for which genre, and how strongly (a tag may speak for two). Genres the
# tagger has no tag for (disco, reggae) rest on the SVM and the file's tag.
GENRE_TAGS: dict[str, dict[str, float]] = {
    "rock": {"msd:rock": 1.0, "msd:classic rock": 1.0, "msd:alternative rock": 0.8, "msd:indie rock": 0.8, "msd:hard rock": 0.6, "msd:Progressive rock": 0.8, "mtt:rock": 1.0},
    "metal": {"msd:metal": 1.0, "msd:heavy metal": 1.0, "msd:hard rock": 0.4, "mtt:metal": 1.0},
    "jazz": {"msd:jazz": 1.0},
    "hiphop": {"msd:Hip-Hop": 1.0, "msd:rnb": 0.3},
    "pop": {"msd:pop": 1.0, "msd:indie pop": 0.8, "msd:catchy": 0.3, "mtt:pop": 1.0},
    "blues": {"msd:blues": 1.0},
    "country": {"msd:country": 1.0, "mtt:country": 1.0},
    "classical": {"mtt:classical": 1.0, "mtt:classic": 0.6, "mtt:strings": 0.4, "mtt:violin": 0.4, "mtt:cello": 0.4, "mtt:harpsichord": 0.6, "mtt:choral": 0.3, "mtt:opera": 0.5},
    "disco": {"msd:dance": 0.3, "msd:funk": 0.3},
    "reggae": {},
}
# Genre words beyond the ten, matchable from tags ("some funk" finds funk).
TERM_TAGS: dict[str, dict[str, float]] = {
    "electronic": {"msd:electronic": 1.0, "msd:electronica": 1.0, "msd:electro": 0.8, "mtt:electronic": 1.0, "mtt:synth": 0.5},
    "techno": {"mtt:techno": 1.0},
    "house": {"msd:House": 1.0},
    "dance": {"msd:dance": 1.0, "mtt:dance": 1.0},
    "funk": {"msd:funk": 1.0},
    "soul": {"msd:soul": 1.0},
    "r&b": {"msd:rnb": 1.0},
    "folk": {"msd:folk": 1.0, "msd:acoustic": 0.4},
    "ambient": {"msd:ambient": 1.0, "msd:chillout": 0.5, "mtt:ambient": 1.0, "mtt:new age": 0.6},
    "punk": {"msd:punk": 1.0},
    "indie": {"msd:indie": 1.0, "msd:indie rock": 0.6, "msd:indie pop": 0.6},
    "acoustic": {"msd:acoustic": 1.0},
    "soundtrack": {"mtt:strings": 0.3, "mtt:choir": 0.3, "msd:instrumental": 0.3},
    "new age": {"mtt:new age": 1.0},
    "world": {"mtt:indian": 0.6, "mtt:sitar": 0.8},
    "experimental": {"msd:experimental": 1.0, "mtt:weird": 0.5},
}
# The tag features of the mood models: named so the fitted weights can be read.
AROUSAL_FEATURES = (
    "mtt:fast", "mtt:loud", "mtt:drums", "mtt:beat", "mtt:metal", "mtt:techno", "mtt:rock", "msd:party", "msd:hard rock",
    "mtt:slow", "mtt:soft", "mtt:quiet", "mtt:ambient", "mtt:classical", "mtt:piano", "msd:Mellow", "msd:chill", "msd:ambient",
)  # fmt: skip
VALENCE_FEATURES = (
    "msd:happy", "msd:party", "msd:catchy", "msd:pop", "msd:dance", "msd:funk", "msd:easy listening",
    "msd:sad", "msd:metal", "msd:heavy metal", "msd:hard rock", "mtt:metal", "mtt:weird", "msd:experimental", "msd:ambient",
)  # fmt: skip
# How a mood axis may read a tag (MoodAxis.tag_scale), and where log-odds are clipped: the stored
# tags are rounded to 4 decimals (tools/style.py TAG_DECIMALS), so 0 would be -inf.
TAG_SCALES = ("prob", "logodds")
TAG_CLIP = 1e-4
READER_FIX = "git checkout -- models/audio_reading (or python -m bench.fit_audio_reading)"
# The measured values beside the tags (tanh-squashed tempo around 110 BPM, loudness around -22 dB).
MEASURED = ("tempo", "loudness")
# Every tag of both taggers, for a mood model that may read any of them.
ALL_TAGS = tuple(f"msd:{t}" for t in MSD_TAGS) + tuple(f"mtt:{t}" for t in MTT_TAGS)
# Prior signs of each feature (for the zero-fit reading and as a check on the fitted signs).
AROUSAL_SIGNS = dict.fromkeys(AROUSAL_FEATURES[:9], 1.0) | dict.fromkeys(AROUSAL_FEATURES[9:], -1.0)
VALENCE_SIGNS = dict.fromkeys(VALENCE_FEATURES[:7], 1.0) | dict.fromkeys(VALENCE_FEATURES[7:], -1.0)


@dataclass(frozen=True)
class AudioReading:
    style: StyleVector
    genre_terms: dict[str, float]
    emotion: EmotionVector
    valence: float
    arousal: float
    weights: dict[str, float] = field(default_factory=dict)


def prefixed(msd: Mapping[str, float], mtt: Mapping[str, float]) -> dict[str, float]:
    return {**{f"msd:{k}": float(v) for k, v in msd.items()}, **{f"mtt:{k}": float(v) for k, v in mtt.items()}}


def tagger_genres(tags: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """(a distribution over the ten genres, strengths in [0, 1] of genre words inside and beyond them)."""
    scores = {g: sum(w * tags.get(t, 0.0) for t, w in spec.items()) / max(1.0, sum(spec.values()) ** 0.5) for g, spec in GENRE_TAGS.items()}
    terms = {g: max((w * tags.get(t, 0.0) for t, w in spec.items()), default=0.0) for g, spec in {**GENRE_TAGS, **TERM_TAGS}.items()}
    total = sum(scores.values())
    dist = {g: (s / total if total > 0 else 1 / len(GENRES)) for g, s in scores.items()}
    return dist, {g: round(s, 4) for g, s in terms.items() if s > 0}


def file_tag_genre(genre_tag: str) -> str | None:
    """The genre of the ten a file's own genre tag names ("Heavy Metal", "Hip-Hop/Rap"), if any."""
    from agent import lexicon

    lowered = (genre_tag or "").strip().lower()
    if not lowered:
        return None
    liked, _ = lexicon.genre_mentions(lowered)
    canonical = next((g for g in liked if g in GENRES), None)
    return canonical or (lexicon.canonical_genre(lowered) if lexicon.canonical_genre(lowered) in GENRES else None)


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass
class MoodAxis:
    """A logistic model of one circumplex axis (arousal high/low, valence positive/negative).

    p = logistic(((x - mean) / scale) · coef + bias) over named features: tags plus the measured
    tempo and loudness (each squashed by tanh). A tag enters as its probability or, with
    `tag_scale="logodds"`, as log(p / (1 - p)) (clipped at TAG_CLIP): the scale of the tagger's own
    output layer, on which a tag's evidence adds up linearly, so a rare tag rising from 0.01 to 0.1
    counts as much as a common one rising from 0.5 to 0.9. The zero-fit model (mean 0, scale 1,
    coef ±2 by the prior signs, probabilities) is the hand-set reading the fit must beat out of sample.
    """

    features: tuple[str, ...]
    coef: tuple[float, ...]
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    bias: float = 0.0
    tag_scale: str = "prob"

    @classmethod
    def prior(cls, signs: Mapping[str, float]) -> MoodAxis:
        names = (*signs, *MEASURED)
        return cls(features=names, coef=tuple(2.0 * signs.get(n, 0.0) for n in names))

    @staticmethod
    def raw(
        tags: Mapping[str, float], features: AudioFeatures | None, names: Sequence[str], tag_scale: str = "prob"
    ) -> np.ndarray:
        if tag_scale not in TAG_SCALES:
            raise ModelCorruptError(f"unknown tag scale {tag_scale!r} in the audio reader", hint=READER_FIX)
        measured = {
            "tempo": math.tanh((features.tempo - 110) / 35) if features and features.tempo else 0.0,
            "loudness": math.tanh((features.loudness_db + 22) / 6) if features else 0.0,
        }

        def tag(name: str) -> float:
            p = tags.get(name, 0.0)
            if tag_scale == "prob":
                return p
            p = min(max(p, TAG_CLIP), 1 - TAG_CLIP)
            return math.log(p / (1 - p))

        return np.array([measured[n] if n in measured else tag(n) for n in names], dtype=np.float64)

    def standardised(self, x: np.ndarray) -> np.ndarray:
        if not self.mean:
            return x
        return (x - np.asarray(self.mean)) / np.asarray(self.scale)

    def decision(self, tags: Mapping[str, float], features: AudioFeatures | None) -> float:
        """The linear score without the bias (what ranks tracks; the bias only moves the threshold)."""
        x = self.raw(tags, features, self.features, self.tag_scale)
        return float(self.standardised(x) @ np.asarray(self.coef))

    def probability(self, tags: Mapping[str, float], features: AudioFeatures | None) -> float:
        return _logistic(self.decision(tags, features) + self.bias)

    @classmethod
    def fit(
        cls,
        rows: Sequence[tuple[Mapping[str, float], AudioFeatures | None]],
        labels: Sequence[int],
        *,
        features: Sequence[str],
        C: float,
        tag_scale: str = "prob",
    ) -> MoodAxis:
        """L2 logistic regression (strength C) on standardised features, classes balanced (our
        labelled sets lean towards high arousal; the threshold should not)."""
        from sklearn.linear_model import LogisticRegression

        names = tuple(features)
        X = np.stack([cls.raw(tags, feats, names, tag_scale) for tags, feats in rows])
        mean, scale = X.mean(axis=0), X.std(axis=0) + 1e-6
        model = LogisticRegression(C=C, max_iter=3000, class_weight="balanced").fit((X - mean) / scale, np.asarray(labels))
        return cls(
            features=names,
            coef=tuple(round(float(c), 6) for c in model.coef_[0]),
            mean=tuple(round(float(m), 6) for m in mean),
            scale=tuple(round(float(v), 6) for v in scale),
            bias=float(model.intercept_[0]),
            tag_scale=tag_scale,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "coef": list(self.coef),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "bias": self.bias,
            "tag_scale": self.tag_scale,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> MoodAxis:
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items()})


@dataclass
class AudioReader:
    """Fusion weights for q and the two logistic mood models; `fit` on real labelled recordings."""

    w_svm: float = 0.3
    w_tagger: float = 0.7
    w_file_tag: float = 0.5
    arousal: MoodAxis = field(default_factory=lambda: MoodAxis.prior(AROUSAL_SIGNS))
    valence: MoodAxis = field(default_factory=lambda: MoodAxis.prior(VALENCE_SIGNS))
    meta: dict[str, Any] = field(default_factory=dict)

    # -- style ---------------------------------------------------------------------------
    def style(self, svm: StyleVector, tags: Mapping[str, float], genre_tag: str = "") -> tuple[StyleVector, dict[str, float], dict[str, float]]:
        tagger, terms = tagger_genres(tags)
        named = file_tag_genre(genre_tag)
        w_tag = self.w_file_tag if named else 0.0
        scale = (1.0 - w_tag) / max(self.w_svm + self.w_tagger, 1e-9)
        weights = {"svm": self.w_svm * scale, "tagger": self.w_tagger * scale, "file_tag": w_tag}
        q = {g: weights["svm"] * svm[g] + weights["tagger"] * tagger[g] + (w_tag if g == named else 0.0) for g in GENRES}
        return StyleVector.from_mapping(q), terms, {k: round(v, 4) for k, v in weights.items()}

    # -- mood ----------------------------------------------------------------------------
    def read(
        self, *, svm: StyleVector, msd: Mapping[str, float], mtt: Mapping[str, float], genre_tag: str = "", features: AudioFeatures | None = None
    ) -> AudioReading:
        tags = prefixed(msd, mtt)
        style, terms, weights = self.style(svm, tags, genre_tag)
        arousal = 2 * self.arousal.probability(tags, features) - 1
        valence = 2 * self.valence.probability(tags, features) - 1
        return AudioReading(
            style=style,
            genre_terms=terms,
            emotion=emotion_from_valence_arousal(valence, arousal),
            valence=round(valence, 4),
            arousal=round(arousal, 4),
            weights=weights,
        )

    # -- artefact ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "w_svm": self.w_svm,
            "w_tagger": self.w_tagger,
            "w_file_tag": self.w_file_tag,
            "arousal": self.arousal.to_dict(),
            "valence": self.valence.to_dict(),
        }

    def save(self, directory: Path = ARTEFACT_DIR, *, meta: dict[str, Any]) -> dict[str, Any]:
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / "reader.json") as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True), encoding="utf-8")
        return write_manifest(directory, name="audio_reading", version=VERSION, meta=meta)

    @classmethod
    def load(cls, directory: Path = ARTEFACT_DIR) -> AudioReader:
        manifest = verify_artefact(directory, name="audio_reading", fix=READER_FIX)
        values = json.loads((directory / "reader.json").read_text(encoding="utf-8"))
        axes = {axis: MoodAxis.from_dict(values.pop(axis)) for axis in ("arousal", "valence")}
        return cls(**values, **axes, meta=manifest.get("meta", {}))


@cache
def load_reader() -> AudioReader:
    return AudioReader.load()


def read_audio(
    *, svm: StyleVector, msd: Mapping[str, float], mtt: Mapping[str, float], genre_tag: str = "", features: AudioFeatures | None = None
) -> AudioReading:
    """The fused style q, genre-term strengths and audio mood of one track (see the module's docstring)."""
    return load_reader().read(svm=svm, msd=msd, mtt=mtt, genre_tag=genre_tag, features=features)
