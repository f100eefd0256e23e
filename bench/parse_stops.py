"""Where the parser's free answer stops: at the end of its line only (before), or also at its
closing brace and where the model starts the paraphrase key e (now: `agent.llm.free_answer_stops`).

    nice python -m bench.parse_stops [--n 30]

Interleaved on the same prompts (the first N lines of bench/data/cpcd_fresh.jsonl, never the
held-out), in one process, alternating which goes first, each after the request part of the
prompt was evicted, so both pay for the same prompt tokens and machine drift hits both alike.
Writes bench/results/parse_stops.json. The readings are compared too: the stops may only cut
what is never read.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from agent import parse as parser
from agent.fewshot import default_bank
from agent.llm import LocalLLM, _object_satisfying, closed, free_answer_stops
from bench.common import write_results
from bench.make_parse_bank import conversation_key
from bench.parse_eval import SETS, read_lines
from moodtune.config import Settings
from moodtune.types import Turn

BEFORE = ["\n"]
NOW = free_answer_stops(("e",))


def main(n: int = 30) -> dict:
    llm = LocalLLM.load(Settings.load())
    bank = default_bank()
    fixed = 1 + 2 * len(parser.load_prompt("parse")["examples"])  # the cached prefix: system prompt and written examples
    rows = []
    for i, item in enumerate(read_lines(SETS["cpcd_fresh"])[:n]):
        group = conversation_key(item)
        own = bank.without(lambda e, group=group, text=item["text"]: e.group != group and e.text != text)
        turns = [Turn(user=t["user"], shown=t.get("system", "")) for t in item["history"]]
        examples = own.nearest(item["text"], previous=turns[-1].user if turns else "", k=parser.FEW_SHOT_K)
        messages = parser.build_messages(item["text"], history=turns, examples=examples)
        row = {"text": item["text"][:60]}
        for which in (("before", "now") if i % 2 == 0 else ("now", "before")):
            llm.generate([*messages[:fixed], {"role": "user", "content": "x"}], max_tokens=1)  # evict the rest
            start = time.perf_counter()
            out = llm.generate(messages, max_tokens=parser.MAX_OUTPUT_TOKENS, stop=BEFORE if which == "before" else NOW)
            row[which] = {
                "seconds": round(time.perf_counter() - start, 3),
                "tokens": llm.last_timing["completion_tokens"],
                "reading": _object_satisfying(closed(out), parser.SCHEMA),
            }
        rows.append(row)
    before = np.array([r["before"]["seconds"] for r in rows])
    now = np.array([r["now"]["seconds"] for r in rows])

    def read(reading):  # what the parser reads of an answer: everything but e
        return json.dumps({k: v for k, v in (reading or {}).items() if k != "e"}, sort_keys=True)

    figures = {
        "lines": len(rows),
        "source": "bench/data/cpcd_fresh.jsonl (first lines)",
        "seconds_p50": {"before": round(float(np.median(before)), 2), "now": round(float(np.median(now)), 2)},
        "seconds_mean": {"before": round(float(before.mean()), 2), "now": round(float(now.mean()), 2)},
        "saving_p50_s": round(float(np.median(before - now)), 3),
        "tokens_mean": {
            "before": round(float(np.mean([r["before"]["tokens"] for r in rows])), 1),
            "now": round(float(np.mean([r["now"]["tokens"] for r in rows])), 1),
        },
        "readings_changed": sum(read(r["before"]["reading"]) != read(r["now"]["reading"]) for r in rows),
        "rows": rows,
    }
    write_results("parse_stops", figures)
    return figures


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--n", type=int, default=30, help="lines of cpcd_fresh to time")
    main(cli.parse_args().n)
