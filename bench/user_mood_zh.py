"""Does the emotion classifier read Chinese requests as well through the parser's paraphrase?

    python -m bench.user_mood_zh [--results NAME]

The emotion classifier (models/emotion, English MiniLM) reads a Chinese request through the
English paraphrase the parser writes (Intent.english). This compares, on our labelled requests
with a mood label (`moods_any`), how often its top mood is one the label accepts: Chinese
requests via their paraphrase (bench/data/parse_zh.jsonl) against English requests read
directly (bench/data/cpcd_dev.jsonl and the shared dev set). It reads the paraphrases from a
parse_eval results file (default bench/results/parse_v2_dev.json), so no LLM runs here.
Results: bench/results/user_mood_zh.json.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from bench import parse_eval
from bench.common import RESULTS_DIR, write_results


def _accuracy(pairs: list[tuple[str, list[str]]]) -> tuple[float | None, int]:
    from tools.emotion import classify_emotion

    pairs = [(t, m) for t, m in pairs if t.strip()]
    if not pairs:
        return None, 0
    tops = [v.top for v in classify_emotion([t for t, _ in pairs])]
    return round(float(np.mean([top in moods for top, (_, moods) in zip(tops, pairs)])), 4), len(pairs)


def main(results: str = "parse_v2_dev") -> dict:
    parsed = json.loads((RESULTS_DIR / f"{results}.json").read_text(encoding="utf-8"))
    english_of = {row["id"]: row.get("english", "") for row in parsed.get("zh", {}).get("rows", [])}
    zh = [(english_of.get(item["id"], ""), item["expect"]["moods_any"]) for item in parse_eval.read_lines(parse_eval.SETS["zh"]) if "moods_any" in item["expect"]]
    en = [
        (item["text"], item["expect"]["moods_any"])
        for name in ("cpcd_dev", "shared")
        for item in parse_eval.read_lines(parse_eval.SETS[name])
        if "moods_any" in item["expect"] and parse_eval.parser.lexicon.detect_language(item["text"]) == "en"
    ]
    zh_acc, zh_n = _accuracy(zh)
    en_acc, en_n = _accuracy(en)
    figures = {
        "zh_via_paraphrase": {"accuracy": zh_acc, "requests": zh_n, "without_paraphrase": sum(not t for t, _ in zh)},
        "en_direct": {"accuracy": en_acc, "requests": en_n},
        "paraphrases_from": f"bench/results/{results}.json",
    }
    print(json.dumps(figures))
    write_results("user_mood_zh", figures)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="parse_v2_dev")
    main(parser.parse_args().results)
