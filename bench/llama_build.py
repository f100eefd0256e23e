"""llama.cpp compiled for this CPU against the portable build: speed per token, parse time, readings.

    python -m bench.llama_build micro --label native        # the llama_cpp this interpreter imports
    PYTHONPATH=DIR python -m bench.llama_build micro --label avx2   # another build, unpacked in DIR
    python -m bench.llama_build compare                      # the parse_eval runs below, side by side

`micro` times the LLM itself: 200 prompt tokens read from an empty context and 30 tokens generated
greedily, three times, as `bench/results/llama_build_micro_<label>.json`. Run the builds in turn
(avx2_1, native_1, avx2_2, ...): this machine's speed drifts by tens of percent within an hour.

`compare` reads `bench.parse_eval --no-cache` runs made with each build in turn on the same machine
(one process per build: two builds cannot share one): the second held-out slice, the fresh dev slice,
the Chinese set, and the shared dev set three times alternating (native, portable, native, ...).
It reports p50 per run, the median per-line time ratio, and which readings changed: a build for
another instruction set sums floats in another order, so greedy decoding can pick another token.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from bench.common import RESULTS_DIR, write_results
from moodtune.config import Settings

# (set, results file with the native build, with the portable build), as bench.parse_eval wrote them.
RUNS: list[tuple[str, str, str]] = [
    ("cpcd_heldout2", "parse_heldout2_native", "parse_heldout2_avx2"),
    ("cpcd_fresh", "parse_sets_native", "parse_sets_avx2"),
    ("zh", "parse_sets_native", "parse_sets_avx2"),
    *[("shared", f"parse_shared_native_{i}", f"parse_shared_avx2_{i}") for i in (1, 2, 3)],
]
READING = (
    "top_mood",
    "arousal",
    "genres",
    "style_inferred",
    "genre_terms",
    "artists",
    "exclude_artists",
    "exclude_genres",
    "exclude_moods",
    "context",
    "follow_up",
)


def micro(label: str, *, prompt_tokens: int = 200, generated: int = 30, repeats: int = 3) -> dict[str, Any]:
    import llama_cpp
    from llama_cpp import Llama

    settings = Settings.load()
    llama = Llama(model_path=str(settings.resolved_llm_path), n_ctx=2048, n_threads=settings.llm_threads, verbose=False)
    text = "Something calm but not sad for a rainy drive, no jazz, maybe some folk or soft rock. " * 20
    tokens = llama.tokenize(text.encode())[:prompt_tokens]
    rows = []
    for _ in range(repeats):
        llama.reset()
        start = time.perf_counter()
        llama.eval(tokens)
        prompt_s = time.perf_counter() - start
        start, n = time.perf_counter(), 0
        for _token in llama.generate(tokens, temp=0.0, reset=False):
            n += 1
            if n >= generated:
                break
        rows.append(
            {
                "prompt_ms_per_token": 1000 * prompt_s / len(tokens),
                "generated_ms_per_token": 1000 * (time.perf_counter() - start) / n,
            }
        )
    llama.close()
    return {
        "label": label,
        "system_info": llama_cpp.llama_print_system_info().decode(),
        "prompt_tokens": len(tokens),
        "generated_tokens": generated,
        "prompt_ms_per_token_median": round(statistics.median(r["prompt_ms_per_token"] for r in rows), 1),
        "generated_ms_per_token_median": round(statistics.median(r["generated_ms_per_token"] for r in rows), 1),
        "runs": rows,
        "note": "generate() here samples in Python, so its per-token time is above the parser's; compare builds, not paths",
    }


def _rows(name: str, set_name: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    figures = json.loads((RESULTS_DIR / f"{name}.json").read_text())["figures"][set_name]
    return figures, {row["id"]: row for row in figures["rows"]}


def compare(runs: list[tuple[str, str, str]] = RUNS) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for set_name, native_name, portable_name in runs:
        native, native_rows = _rows(native_name, set_name)
        portable, portable_rows = _rows(portable_name, set_name)
        ratios = [
            native_rows[i]["seconds"] / row["seconds"]
            for i, row in portable_rows.items()
            if i in native_rows and row["seconds"] and native_rows[i]["seconds"]
        ]
        changed = [
            {
                "id": i,
                "text": row["text"],
                "portable_ok": row["ok"],
                "native_ok": native_rows[i]["ok"],
                "fields": sorted(k for k in READING if row.get(k) != native_rows[i].get(k)),
            }
            for i, row in portable_rows.items()
            if i in native_rows and any(row.get(k) != native_rows[i].get(k) for k in READING)
        ]
        out.append(
            {
                "set": set_name,
                "files": [native_name, portable_name],
                "requests": native["requests"],
                "p50_s": {"native": native["latency_s_p50"], "portable": portable["latency_s_p50"]},
                "p95_s": {"native": native["latency_s_p95"], "portable": portable["latency_s_p95"]},
                "output_tokens_mean": {
                    "native": native["output_tokens_mean"],
                    "portable": portable["output_tokens_mean"],
                },
                "per_line_time_ratio_median": round(statistics.median(ratios), 3),
                "fully_correct": {"native": native["fully_correct"], "portable": portable["fully_correct"]},
                "readings_changed": len(changed),
                "verdicts_changed": [c for c in changed if c["portable_ok"] != c["native_ok"]],
            }
        )
    return {"runs": out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    micro_parser = sub.add_parser("micro")
    micro_parser.add_argument("--label", required=True)
    sub.add_parser("compare")
    args = parser.parse_args(argv)
    if args.command == "micro":
        write_results(f"llama_build_micro_{args.label}", micro(args.label))
    else:
        write_results("llama_build", compare())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
