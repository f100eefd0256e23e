"""How well is the user's mood read from Chinese requests? The multilingual head against the paraphrase route.

    python -m bench.user_mood_zh [--results parse]

On our labelled dev requests with a mood label (`moods_any`), how often the top mood is one the
label accepts:
- `zh_via_multilingual`: Chinese requests (bench/data/parse_zh.jsonl) read as written by the
  multilingual head (models/emotion_multilingual), what the session does now; with the even
  half (which tuned the head: bench/tune_mood_multilingual.py) and the odd half (which did not)
  apart;
- `en_via_multilingual`: English requests (bench/data/cpcd_dev.jsonl and the shared dev set)
  read by the same head;
- `en_direct`: the English requests read by the English classifier (models/emotion), what the
  session does for English;
- `zh_via_paraphrase`: the Chinese requests read by the English classifier through the English
  paraphrase the parser wrote (Intent.english, from a parse_eval results file, default
  bench/results/parse.json, so no LLM runs here), the route the session took before; a request
  whose `english` is not English (the model often copies the Chinese) got no mood that way, and
  counts as a miss;
- `zh_rules`: the parser's rules alone (mood words, wished moods, activities; `interpret` with an
  empty model answer): how many requests they give a mood at all, and how often it is right.
No held-out file is read. Results: bench/results/user_mood_zh.json.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from bench import parse_eval
from bench.common import RESULTS_DIR, write_results
from bench.tune_mood_multilingual import labelled_requests
from moodtune.types import MOOD_NAMES, EmotionVector


def _hits(tops: list[str | None], pairs: list[tuple[str, list[str]]]) -> list[bool]:
    return [top is not None and top in moods for top, (_, moods) in zip(tops, pairs)]


def _figure(hits: list[bool]) -> dict:
    return {"accuracy": round(float(np.mean(hits)), 4) if hits else None, "requests": len(hits)}


def rules_top(text: str) -> str | None:
    """The rules' top mood for a first request (None when they find no mood in it)."""
    from agent.lexicon import detect_language
    from agent.parse import interpret

    intent = interpret({}, text=text, previous=None, language=detect_language(text), notes=[])
    return None if intent.emotion == EmotionVector.uniform() else intent.emotion.top


def main(results: str = "parse") -> dict:
    from tools.emotion import classify_emotion, is_english_enough, load_multilingual_head

    requests = labelled_requests()
    zh, en = requests["zh"], requests["en"]
    ids = [item["id"] for item in parse_eval.read_lines(parse_eval.SETS["zh"]) if "moods_any" in item["expect"]]

    zh_tops = [v.top for v in classify_emotion([t for t, _ in zh])]
    zh_hits = _hits(zh_tops, zh)
    en_head = load_multilingual_head().predict_moods([t for t, _ in en])
    en_direct = _hits([v.top for v in classify_emotion([t for t, _ in en])], en)

    parsed = json.loads((RESULTS_DIR / f"{results}.json").read_text(encoding="utf-8"))
    english_of = {row["id"]: row.get("english", "") for row in parsed["figures"]["zh"]["rows"]}
    # The parser keeps the model's `e` even when it is Chinese (often the request copied); only an
    # English one is a paraphrase the English classifier can read.
    paraphrases = [t if t.strip() and is_english_enough(t) else "" for t in (english_of.get(i, "") for i in ids)]
    # Aligned with `zh`; a request without a paraphrase gets no mood this way (None: a miss).
    paraphrase_tops = [v.top if t else None for t, v in zip(paraphrases, classify_emotion(paraphrases))]
    paraphrase_hits = _hits(paraphrase_tops, zh)
    with_paraphrase = [hit for hit, t in zip(paraphrase_hits, paraphrases) if t]

    rule_tops = [rules_top(t) for t, _ in zh]
    rule_hits = _hits(rule_tops, zh)
    covered = [hit for hit, top in zip(rule_hits, rule_tops) if top is not None]

    figures = {
        "zh_via_multilingual": {
            **_figure(zh_hits),
            "even_half_tuned_on": _figure(zh_hits[0::2]),
            "odd_half_not_tuned_on": _figure(zh_hits[1::2]),
            "misses": [
                {"id": i, "text": t, "moods_any": m, "top": top}
                for i, (t, m), top, hit in zip(ids, zh, zh_tops, zh_hits)
                if not hit
            ],
        },
        "en_via_multilingual": _figure(_hits([MOOD_NAMES[int(i)] for i in en_head.argmax(1)], en)),
        "en_direct": _figure(en_direct),
        "zh_via_paraphrase": {
            **_figure(paraphrase_hits),
            "without_paraphrase": sum(not t for t in paraphrases),
            "accuracy_where_a_paraphrase": _figure(with_paraphrase)["accuracy"],
            "odd_half": _figure(paraphrase_hits[1::2]),
            "misses": [
                {"id": i, "paraphrase": t, "moods_any": m, "top": top}
                for i, t, (_, m), top, hit in zip(ids, paraphrases, zh, paraphrase_tops, paraphrase_hits)
                if not hit
            ],
        },
        # The two routes on the same requests: where the parser wrote an English paraphrase, and
        # the paraphrase when there is one, else the head.
        "zh_via_multilingual_where_a_paraphrase": _figure([h for h, t in zip(zh_hits, paraphrases) if t]),
        "zh_paraphrase_else_multilingual": _figure([p if t else h for p, h, t in zip(paraphrase_hits, zh_hits, paraphrases)]),
        "zh_rules": {
            "accuracy_all": _figure(rule_hits)["accuracy"],
            "requests": len(rule_hits),
            "with_a_mood": len(covered),
            "accuracy_where_a_mood": _figure(covered)["accuracy"],
        },
        "paraphrases_from": f"bench/results/{results}.json",
    }
    print(json.dumps({k: {f: x for f, x in v.items() if f != "misses"} if isinstance(v, dict) else v for k, v in figures.items()}))
    write_results("user_mood_zh", figures)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="parse")
    main(parser.parse_args().results)
