"""Request understanding, scored by the shared eval README's rules, on real people's words.

    python -m bench.parse_eval [--set NAME ...] [--file PATH --name RESULTS_NAME] [--no-cache]

Sets (`--set`, default all but the held-out one):
- `shared`: ../shared/eval/parse_dev.jsonl (24 requests, en + zh);
- `cpcd_dev`: bench/data/cpcd_dev.jsonl, user turns of real CPCD conversations with the turns
  before them (`history`), labelled by us (bench/data/README.md);
- `cpcd_heldout`: bench/data/cpcd_heldout.jsonl, other conversations labelled the same way,
  scored once per parser version and never tuned on (ask for it by name);
- `cpcd_fresh`, `cpcd_heldout2`: two later slices of the dev and held-out pools, labelled blind
  (bench/data/README.md: Fresh slices); the second is held out like `cpcd_heldout`;
- `zh`: bench/data/parse_zh.jsonl, requests written in Chinese;
- `probes`: our nine earlier probe sets (bench/data/parse_probe*.jsonl).

A line with `history` is parsed as the session would: its previous turn is parsed first (with
the turns before it as context) to give the Intent a follow-up refines, then the line with the
conversation so far. Few-shot examples come from the bank without the line's own conversation
(leave-one-conversation-out), so a dev figure is not the model reading its own answer.

The model's raw answers are cached by prompt (bench/results/.parse_cache.jsonl, not committed),
appended as they come so an interrupted run keeps them: a change to the code that reads them is re-scored in seconds, while a prompt change re-runs the
model. Latency figures come only from lines the model actually ran (`--no-cache` for a timing run).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from agent import lexicon
from agent import parse as parser
from agent.fewshot import ExampleBank, default_bank
from agent.llm import LocalLLM
from bench.common import RESULTS_DIR, write_results
from bench.make_parse_bank import conversation_key
from moodtune.config import REPO_ROOT, Settings
from moodtune.types import Intent, Turn

DATA = REPO_ROOT / "bench" / "data"
SETS: dict[str, list[Path]] = {
    "shared": [REPO_ROOT.parent / "shared" / "eval" / "parse_dev.jsonl"],
    "cpcd_dev": [DATA / "cpcd_dev.jsonl"],
    "zh": [DATA / "parse_zh.jsonl"],
    "probes": sorted(DATA.glob("parse_probe*.jsonl")),
    "cpcd_heldout": [DATA / "cpcd_heldout.jsonl"],
    "cpcd_fresh": [DATA / "cpcd_fresh.jsonl"],
    "cpcd_heldout2": [DATA / "cpcd_heldout2.jsonl"],
    "cpcd_fresh2": [DATA / "cpcd_fresh2.jsonl"],
    "cpcd_heldout3": [DATA / "cpcd_heldout3.jsonl"],
}
DEFAULT_SETS = ("shared", "cpcd_dev", "zh", "probes")
DEV_SET = SETS["shared"][0]
HIPHOP = {"hiphop", "hip hop", "hip-hop", "rap"}
# One JSON line per model answer, appended as it comes: an interrupted run keeps what it paid for.
CACHE_FILE = RESULTS_DIR / ".parse_cache.jsonl"
LEGACY_CACHE_FILE = RESULTS_DIR / ".parse_cache.json"


def _norm_genre(name: str) -> str:
    """A genre label or term in one spelling (国风 and "chinese traditional" are one genre)."""
    name = name.strip().lower()
    name = lexicon.canonical_genre(name) or name
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


class CachingLLM:
    """The real model, with its raw JSON answers remembered by prompt (for re-scoring code changes).

    Without a model (`llm=None`) it answers from the cache alone and counts the prompts it has
    not seen (answered with no reading), for re-scoring without running the model.
    """

    def __init__(
        self, llm: LocalLLM | None, cache: dict[str, Any], *, use_cache: bool = True, sink: Path | None = None
    ) -> None:
        self.llm, self.cache, self.use_cache, self.sink = llm, cache, use_cache, sink
        self.name = llm.name if llm else "cache"
        self.last: dict[str, Any] = {}
        self.misses = 0

    def generate_json(self, messages, *, schema, max_tokens, unread=(), prefill="", prefix=0):
        # Keys left unread, a prefilled start and the point the model reads the prompt from change
        # what it writes, so they are part of the key (when set).
        what = [messages, schema, list(unread)] if unread else [messages, schema]
        what += [prefill] if prefill else []
        what += [f"read from message {prefix}"] if prefix else []
        key = hashlib.sha256(json.dumps(what, ensure_ascii=False).encode()).hexdigest()
        if (self.use_cache or self.llm is None) and key in self.cache:
            self.last = {"cached": True}
            return dict(self.cache[key])
        if self.llm is None:
            self.misses += 1
            self.last = {"cached": True}
            return {"m": []}
        start = time.perf_counter()
        value = self.llm.generate_json(
            messages, schema=schema, max_tokens=max_tokens, unread=unread, prefill=prefill, prefix=prefix
        )
        self.last = {
            "cached": False,
            "seconds": time.perf_counter() - start,
            "completion_tokens": self.llm.last_timing.get("completion_tokens"),
            "constrained": self.llm.last_timing.get("constrained"),
        }
        self.cache[key] = value
        if self.sink is not None:
            with self.sink.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n")
        return dict(value)


def read_lines(paths: list[Path]) -> list[dict]:
    lines = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                item = json.loads(line)
                item.setdefault("id", f"{path.stem}:{number}")
                item.setdefault("history", [])
                lines.append(item)
    return lines


def parse_line(item: dict, *, llm, settings: Settings, bank: ExampleBank) -> tuple[Intent, float]:
    """Parse one labelled line as the session would, with its own conversation left out of the bank."""
    group = conversation_key(item)
    own_bank = bank.without(lambda e: e.group != group and e.text != item["text"])
    turns = [Turn(user=t["user"], shown=t.get("system", "")) for t in item["history"]]
    previous = None
    if turns:
        previous = parser.parse_request(turns[-1].user, history=turns[:-1], llm=llm, settings=settings, bank=own_bank)
    start = time.perf_counter()
    intent = parser.parse_request(
        item["text"], previous=previous, history=turns, llm=llm, settings=settings, bank=own_bank
    )
    return intent, time.perf_counter() - start


def evaluate(lines: list[dict], *, llm: CachingLLM, settings: Settings, bank: ExampleBank) -> dict[str, Any]:
    rows, per_field, own_work = [], {}, []
    for item in lines:
        intent, seconds = parse_line(item, llm=llm, settings=settings, bank=bank)
        if llm.last.get("cached"):
            own_work.append(seconds)  # the parse without the model: retrieval, prompt, rules
        checks = score(intent, item["expect"])
        for field, ok in checks.items():
            per_field.setdefault(field, []).append(ok)
        rows.append(
            {
                "id": item["id"],
                "text": item["text"],
                "turn": len(item["history"]),
                "ok": all(checks.values()),
                "checks": checks,
                "seconds": None if llm.last.get("cached") else round(seconds, 2),
                "output_tokens": llm.last.get("completion_tokens"),
                "constrained": llm.last.get("constrained"),
                "top_mood": intent.emotion.top,
                "arousal": round(intent.arousal, 2),
                "genres": [g for g, p in (intent.style.as_dict().items() if intent.style else []) if p > 0],
                "style_inferred": intent.style_inferred,
                "genre_terms": list(intent.genre_terms),
                "artists": list(intent.artists),
                "exclude_artists": list(intent.exclude_artists),
                "exclude_genres": list(intent.exclude_genres),
                "exclude_moods": list(intent.exclude_moods),
                "context": intent.context,
                "follow_up": intent.follow_up,
                "english": intent.english if intent.language == "zh" else "",
            }
        )
    timed = [r["seconds"] for r in rows if r["seconds"] is not None]
    tokens = [r["output_tokens"] for r in rows if r["output_tokens"] is not None]
    return {
        "requests": len(rows),
        "fully_correct": round(float(np.mean([r["ok"] for r in rows])), 4) if rows else None,
        "per_field": {f: round(float(np.mean(v)), 4) for f, v in sorted(per_field.items())},
        "per_field_n": {f: len(v) for f, v in sorted(per_field.items())},
        "latency_s_p50": round(float(np.median(timed)), 2) if timed else None,
        "latency_s_p95": round(float(np.percentile(timed, 95)), 2) if timed else None,
        "timed_requests": len(timed),
        "output_tokens_mean": round(float(np.mean(tokens)), 1) if tokens else None,
        # Lines answered from the cache time what the parse does besides the model.
        "without_model_ms_p50": round(1000 * float(np.median(own_work)), 1) if own_work else None,
        "without_model_ms_p95": round(1000 * float(np.percentile(own_work, 95)), 1) if own_work else None,
        "rows": rows,
    }


def _load_cache() -> dict[str, Any]:
    cache: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):  # the one-file cache of earlier runs, if any
        cache.update(json.loads(LEGACY_CACHE_FILE.read_text(encoding="utf-8")))
    try:
        lines = CACHE_FILE.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:  # a line cut short by a kill: the answer is simply asked again
            continue
        cache[entry["key"]] = entry["value"]
    return cache


def main(
    settings: Settings | None = None,
    *,
    sets: tuple[str, ...] = DEFAULT_SETS,
    path: Path | None = None,
    name: str = "parse",
    use_cache: bool = True,
    cache_only: bool = False,
) -> dict:
    settings = settings or Settings.load()
    cache = _load_cache()
    llm = CachingLLM(None if cache_only else LocalLLM.load(settings), cache, use_cache=use_cache, sink=CACHE_FILE)
    bank = default_bank()
    if llm.llm is not None:
        parser.parse_request("warm-up: calm piano", llm=llm.llm, settings=settings, bank=bank)  # fills the prefix cache
    chosen = {path.stem: [path]} if path else {s: SETS[s] for s in sets}
    figures: dict[str, Any] = {
        "model": llm.name,
        "few_shot_k": parser.FEW_SHOT_K,
        "bank_size": len(bank.examples),
        "scored_from_cached_answers": cache_only,
    }
    for set_name, paths in chosen.items():
        misses_before = llm.misses
        figures[set_name] = evaluate(read_lines(paths), llm=llm, settings=settings, bank=bank)
        # Prompts the cache had not seen (answered with no reading): the set was not fully run.
        figures[set_name]["uncached_prompts"] = llm.misses - misses_before
        summary = {k: v for k, v in figures[set_name].items() if k != "rows"}
        print(set_name, json.dumps(summary), flush=True)
    write_results(name, figures)
    return figures


if __name__ == "__main__":
    parser_ = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser_.add_argument("--set", action="append", choices=sorted(SETS), help="request sets to score (repeatable)")
    parser_.add_argument("--file", type=Path, help="score this file alone instead")
    parser_.add_argument("--name", default="parse", help="results file name under bench/results/")
    parser_.add_argument("--no-cache", action="store_true", help="run the model on every line (for latency)")
    parser_.add_argument("--cache-only", action="store_true", help="score from cached model answers alone (no model)")
    args = parser_.parse_args()
    main(
        sets=tuple(args.set or DEFAULT_SETS),
        path=args.file,
        name=args.name,
        use_cache=not args.no_cache,
        cache_only=args.cache_only,
    )
