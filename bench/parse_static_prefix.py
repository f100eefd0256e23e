"""Tried and not kept: fixed labelled examples in the parser's cached prefix instead of one retrieved per request.

    nice python -m bench.parse_static_prefix MODE [N]

MODE `retrieval`: the shipped parser (the nearest bank example per request, leave-one-conversation-out).
MODE `static`: no retrieval; N bank examples chosen by greedy facility location on the bank's USE
vectors sit after the written examples, in the prefix llama.cpp keeps computed, so a request pays
only for its own turn (~60 prompt tokens, ~1.2 s, less). The pool leaves out the fresh slice's
conversations and half of the Chinese set's, which are then scored (`zh_half`).
MODE `static_mood`: the same, chosen only among answers that name a mood, from the whole bank
(fresh left out), scored on the shared set, fresh and the whole Chinese set.

Each set is also re-scored with the model's paraphrase key e cut off (an exact simulation: greedy
decoding writes the same keys before it), to see whether any reading needs e.
Writes bench/results/parse_static_prefix_<MODE>_<N>.json. Findings are in the README's parse row.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from agent import parse as parser
from agent.fewshot import default_bank
from agent.llm import LocalLLM
from bench import parse_eval
from bench.common import write_results
from bench.make_parse_bank import conversation_key
from moodtune.config import Settings
from moodtune.types import Turn


def facility_location(vectors: np.ndarray, n: int) -> list[int]:
    similarity = vectors @ vectors.T
    nearest = np.full(len(vectors), -1.0)
    chosen: list[int] = []
    for _ in range(n):
        gain = np.maximum(similarity, nearest[None, :]).sum(axis=1)
        gain[chosen] = -np.inf
        best = int(np.argmax(gain))
        chosen.append(best)
        nearest = np.maximum(nearest, similarity[best])
    return chosen


def main(mode: str, n: int) -> dict:
    bank = default_bank()
    zh = parse_eval.read_lines(parse_eval.SETS["zh"])
    fresh = parse_eval.read_lines(parse_eval.SETS["cpcd_fresh"])
    fresh_groups = {conversation_key(i) for i in fresh}
    groups = sorted({conversation_key(i) for i in zh})
    np.random.default_rng(0).shuffle(groups)
    half = set(groups[: len(groups) // 2])
    zh_half = [i for i in zh if conversation_key(i) in half]
    if mode == "static_mood":
        pool = bank.without(lambda e: bool(json.loads(e.answer).get("m")) and e.group not in fresh_groups)
        sets = {"shared": parse_eval.read_lines(parse_eval.SETS["shared"]), "cpcd_fresh": fresh, "zh": zh}
    else:
        texts = {i["text"] for i in zh_half}
        pool = bank.without(lambda e: e.group not in half and e.text not in texts and e.group not in fresh_groups)
        sets = {"cpcd_fresh": fresh, "zh_half": zh_half}
    static = [pool.examples[j] for j in facility_location(pool.vectors.astype(np.float32), n)] if mode != "retrieval" else []

    shipped = parser.build_messages

    def with_static(text, *, previous=None, history=(), examples=()):
        messages = shipped(text, previous=previous, history=history, examples=examples)
        prompt = parser.load_prompt("parse")
        extra = []
        for example in static:
            earlier = (Turn(user=example.previous[: parser.EXAMPLE_PREVIOUS_CHARS]),) if example.previous else ()
            extra.append({"role": "user", "content": parser._request_content(example.text, history=earlier, prompt=prompt)})
            extra.append({"role": "assistant", "content": example.answer})
        fixed = 1 + 2 * len(prompt["examples"])
        return messages[:fixed] + extra + messages[fixed:]

    if static:
        parser.build_messages = with_static
        parser.FEW_SHOT_K = 0
    settings = Settings.load()
    llm = parse_eval.CachingLLM(LocalLLM.load(settings), {}, use_cache=False)
    parser.parse_request("warm-up: calm piano", llm=llm.llm, settings=settings, bank=bank)
    figures: dict = {"mode": mode, "n": n, "static_examples": [e.id for e in static]}
    for name, lines in sets.items():
        result = parse_eval.evaluate(lines, llm=llm, settings=settings, bank=bank)
        keep = ("requests", "fully_correct", "per_field", "latency_s_p50", "latency_s_p95", "output_tokens_mean")
        figures[name] = {k: result[k] for k in keep}
        figures[name]["misses"] = [(r["id"], r["text"][:60], [f for f, ok in r["checks"].items() if not ok]) for r in result["rows"] if not r["ok"]]

        def without_e(value):
            keys = list(value)
            return {k: value[k] for k in keys[: keys.index("e")]} if "e" in keys else dict(value)

        cut = parse_eval.CachingLLM(None, {k: without_e(v) for k, v in llm.cache.items()})
        again = parse_eval.evaluate(lines, llm=cut, settings=settings, bank=bank)
        figures[f"{name}_without_e"] = {
            "fully_correct": again["fully_correct"],
            "unseen_prompts": cut.misses,
            "changed": [r["id"] for r, s in zip(result["rows"], again["rows"]) if r["ok"] != s["ok"]],
        }
    write_results(f"parse_static_prefix_{mode}_{n}", figures)
    return figures


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("mode", choices=["retrieval", "static", "static_mood"])
    cli.add_argument("n", type=int, nargs="?", default=20)
    args = cli.parse_args()
    main(args.mode, args.n)
