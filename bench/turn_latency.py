"""Turn latency on this machine over the dev requests: time to the ranked list, to the first
explanation token, and to the whole reply with 5 explanations.

    python -m bench.turn_latency      (needs the demo catalog and the LLM in MOODTUNE_HOME)
"""

from __future__ import annotations

import json
import time

import numpy as np

from agent.session import Moodtune
from bench.common import process_memory_mb, write_results
from bench.parse_eval import DEV_SET
from moodtune.config import Settings


def main(settings: Settings | None = None, limit: int | None = None) -> dict:
    settings = settings or Settings.load()
    agent = Moodtune(settings)
    texts = [json.loads(x)["text"] for x in DEV_SET.read_text(encoding="utf-8").splitlines() if x.strip()][:limit]
    agent.warm_up()  # what `moodtune serve` does before it listens
    agent.recommend("warm up: calm piano", user_id="latency-bench", explain_top=1)  # the store and search path too
    ranked, first_token, whole = [], [], []
    per_request = []
    accepted = worded = 0
    for text in texts:
        start = time.perf_counter()
        first = None
        wording: dict[int, str] = {}
        rejected: list[str] = []
        for event in agent.stream(text, user_id="latency-bench", explain_top=5):
            now = time.perf_counter() - start
            if event.kind == "reply":
                ranked.append(now)
            elif event.kind == "explanation_delta":
                first = now if first is None else first
                wording[event.index] = wording.get(event.index, "") + event.text
            elif event.kind == "done":
                whole.append(now)
                top = event.reply.recommendations[:5]
                worded += sum(bool(rec.explanation.llm) or rec.explanation.facts.get("llm_rejected", False) for rec in top)
                accepted += sum(bool(rec.explanation.llm) for rec in top)
                # What the grounding check turned down, so its failures can be read.
                rejected = [wording[i].strip() for i, rec in enumerate(top) if rec.explanation.facts.get("llm_rejected")]
        first_token.append(first if first is not None else whole[-1])
        per_request.append(
            {"text": text, "ranked_list_s": round(ranked[-1], 2), "first_token_s": round(first_token[-1], 2),
             "whole_s": round(whole[-1], 2), "rejected_wordings": rejected}
        )

    def stats(values: list[float]) -> dict:
        return {"p50_s": round(float(np.median(values)), 2), "p95_s": round(float(np.percentile(values, 95)), 2)}

    figures = {"requests": len(texts), "ranked_list": stats(ranked), "first_explanation_token": stats(first_token),
               "whole_reply_5_explanations": stats(whole), "llm_threads": settings.llm_threads,
               # Worded lines that passed the grounding check (the others fell back to templates).
               "llm_wording_grounded": round(accepted / worded, 3) if worded else None,
               "llm_wordings": worded,
               # Parse and explain contexts, the emotion model and the store, after the run.
               "memory_mb": process_memory_mb(),
               "per_request": per_request}
    write_results("latency", figures)
    return figures


if __name__ == "__main__":
    main()
