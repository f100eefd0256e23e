"""Cost of the speech second pass's library-name matcher (tools.speech.vocabulary_candidates).

A library of N made-up artist names (random letters, 1-3 words) plus the two names the
transcript misheard; one long English transcript. Seconds per transcript, best of 5, after a
first call that builds the library's cached keys (once per catalog version in the app).

    python -m bench.voice_matcher      (no models; writes bench/results/voice_matcher.json)
"""

from __future__ import annotations

import random
import string
import time

from bench.common import write_results
from tools.speech import vocabulary_candidates

TRANSCRIPT = (
    "Those were slightly better but still not what I'm looking for. How about songs similar to Taylor Swift, "
    "Man Jovi or Goo Goo Niles?"
)
SIZES = (256, 2000, 10000, 50000)


def _library(size: int, rng: random.Random) -> list[str]:
    def word() -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9))).title()

    return [" ".join(word() for _ in range(rng.randint(1, 3))) for _ in range(size)] + ["Bon Jovi", "Goo Goo Dolls"]


def main() -> dict:
    rng = random.Random(0)
    rows = []
    for size in SIZES:
        library = _library(size, rng)
        vocabulary_candidates(TRANSCRIPT, library)  # builds the cached keys
        times = []
        for _ in range(5):
            start = time.perf_counter()
            found = vocabulary_candidates(TRANSCRIPT, library)
            times.append(time.perf_counter() - start)
        rows.append({"library_names": size + 2, "seconds": round(min(times), 5), "found": found})
    figures = {
        "transcript": TRANSCRIPT,
        "rows": rows,
        "before": "the pure-Python matcher (commit 11ce3fd): 0.249 s for 258 names, 1.535 s for 2,002, 8.631 s for 10,002",
    }
    write_results("voice_matcher", figures)
    return figures


if __name__ == "__main__":
    print(main())
