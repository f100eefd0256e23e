"""Request understanding on the shared dev set (../shared/eval/parse_dev.jsonl), scored by its README's rules.

    python -m bench.parse_eval [--file PATH --name RESULTS_NAME]

`bench/data/parse_probe.jsonl` (name `parse_probe`) holds 24 requests of ours in the same
format, written after the parser was tuned on the dev set and scored before any change made
for them: the nearest thing to the held-out set we have. `bench/data/parse_probe2.jsonl`
(name `parse_probe2`) holds 30 more, written by someone who had not read the lexicons, the
prompts or the other sets; `parse_probe2_before_fixes.json` is its first score.

Each line is parsed on its own (no previous turn). Reports the share of requests with every
field right, the share per field, latency and the model's output tokens; the per-request
table goes into bench/results/parse.json so failures can be read.
"""

from __future__ import annotations

import argparse
import difflib
import json
import time
from pathlib import Path

import numpy as np

from agent.llm import LocalLLM
from agent.parse import parse_request
from bench.common import write_results
from moodtune.config import REPO_ROOT, Settings
from moodtune.types import Intent

DEV_SET = REPO_ROOT.parent / "shared" / "eval" / "parse_dev.jsonl"
HIPHOP = {"hiphop", "hip hop", "hip-hop", "rap"}


def _norm_genre(name: str) -> str:
    name = name.strip().lower()
    return "hiphop" if name in HIPHOP else name


def _name_found(name: str, names: list[str]) -> bool:
    wanted = name.strip().lower()
    pool = [n.strip().lower() for n in names]
    return wanted in pool or bool(difflib.get_close_matches(wanted, pool, n=1, cutoff=0.8))


def score(intent: Intent, expect: dict) -> dict[str, bool]:
    """One boolean per expected field, by the dev set's README."""
    results: dict[str, bool] = {}
    if "moods_any" in expect:
        results["moods_any"] = intent.emotion.top in expect["moods_any"]
    if "not_top_mood" in expect:
        results["not_top_mood"] = intent.emotion.top not in expect["not_top_mood"]
    if "arousal" in expect:
        results["arousal"] = intent.arousal > 0 if expect["arousal"] == "high" else intent.arousal < 0
    if "genres" in expect:
        found = {g for g, p in (intent.style.as_dict().items() if intent.style else []) if p > 0} | {
            _norm_genre(t) for t in intent.genre_terms
        }
        results["genres"] = all(_norm_genre(g) in found for g in expect["genres"])
    for field, parsed in (("artists", intent.artists), ("exclude_artists", intent.exclude_artists)):
        if field in expect:
            results[field] = all(_name_found(name, list(parsed)) for name in expect[field])
    if "exclude_genres" in expect:
        results["exclude_genres"] = all(
            _norm_genre(g) in {_norm_genre(x) for x in intent.exclude_genres} for g in expect["exclude_genres"]
        )
    if "context" in expect:
        context = (intent.context or "").lower()
        results["context"] = bool(context) and any(w in context or context in w for w in expect["context"])
    if "follow_up" in expect:
        results["follow_up"] = intent.follow_up == expect["follow_up"]
    return results


def main(settings: Settings | None = None, path: Path = DEV_SET, name: str = "parse") -> dict:
    settings = settings or Settings.load()
    llm = LocalLLM.load(settings)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    parse_request("warm-up: calm piano", llm=llm, settings=settings)  # fills the prompt-prefix cache
    rows, per_field = [], {}
    for line in lines:
        start = time.perf_counter()
        intent = parse_request(line["text"], llm=llm, settings=settings)
        seconds = time.perf_counter() - start
        checks = score(intent, line["expect"])
        for field, ok in checks.items():
            per_field.setdefault(field, []).append(ok)
        rows.append(
            {
                "text": line["text"],
                "ok": all(checks.values()),
                "checks": checks,
                "seconds": round(seconds, 2),
                "output_tokens": llm.last_timing.get("completion_tokens"),
                # Whether the free answer was unusable and the grammar-constrained one was needed.
                "constrained": llm.last_timing.get("constrained"),
                "top_mood": intent.emotion.top,
                "arousal": round(intent.arousal, 2),
                "genres": [g for g, p in (intent.style.as_dict().items() if intent.style else []) if p > 0],
                "genre_terms": list(intent.genre_terms),
                "artists": list(intent.artists),
                "exclude_artists": list(intent.exclude_artists),
                "exclude_genres": list(intent.exclude_genres),
                "context": intent.context,
                "follow_up": intent.follow_up,
            }
        )
    latencies = [r["seconds"] for r in rows]
    figures = {
        "requests": len(rows),
        "fully_correct": round(float(np.mean([r["ok"] for r in rows])), 4),
        "per_field": {f: round(float(np.mean(v)), 4) for f, v in sorted(per_field.items())},
        "latency_s_p50": round(float(np.median(latencies)), 2),
        "latency_s_p95": round(float(np.percentile(latencies, 95)), 2),
        "output_tokens_mean": round(float(np.mean([r["output_tokens"] or 0 for r in rows])), 1),
        "constrained_share": round(float(np.mean([bool(r["constrained"]) for r in rows])), 4),
        "model": llm.name,
        "request_set": path.name,
        "rows": rows,
    }
    write_results(name, figures)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file", type=Path, default=DEV_SET)
    parser.add_argument("--name", default="parse", help="results file name under bench/results/")
    args = parser.parse_args()
    main(path=args.file, name=args.name)
