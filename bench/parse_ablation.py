"""Which of the parser's rules still earn their place: each rule group switched off in turn.

    python -m bench.parse_ablation [--set NAME ...]

Re-scores the sets of bench/parse_eval.py from its cache of the model's raw answers (run
parse_eval first: a rule change never changes the prompt, so no model runs here), once with
every rule and once with each group below disabled. A group whose removal loses nothing is a
word list for something the model now reads, and is deleted from agent/rules/.
Results: bench/results/parse_ablation.json.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from agent import lexicon
from bench import parse_eval
from bench.common import write_results
from moodtune.config import Settings

GROUPS: dict[str, dict[str, Callable]] = {
    # Mood words decide the top mood over the model's reading (their negations stay: "not sad").
    "mood_words": {"mood_mentions": lambda text: ({}, _ORIG["mood_mentions"](text)[1])},
    "wished_mood_phrases": {"wished_moods": lambda text: {}},
    # Context words name the activity; without them the model's "c" is used.
    "context_words": {"context_mentions": lambda text: []},
    "arousal_words": {"arousal_cue": lambda text: 0.0},
    "follow_up_cues": {"looks_like_follow_up": lambda text: False},
    "artist_patterns_en": {"artist_mentions": lambda text, excluded=False: []},
    "artist_patterns_zh": {"chinese_artist_mentions": lambda text, after_negation_only=False: []},
    # Genre words found in the text (their negations too) beside the model's genres.
    "genre_words": {"genre_mentions": lambda text: ([], [])},
}
_ORIG = {name: getattr(lexicon, name) for group in GROUPS.values() for name in group}


@contextmanager
def disabled(group: str) -> Iterator[None]:
    for name, replacement in GROUPS[group].items():
        setattr(lexicon, name, replacement)
    try:
        yield
    finally:
        for name in GROUPS[group]:
            setattr(lexicon, name, _ORIG[name])


def main(sets: tuple[str, ...] = parse_eval.DEFAULT_SETS) -> dict[str, Any]:
    settings = Settings.load()
    llm = parse_eval.CachingLLM(None, parse_eval._load_cache())
    bank = parse_eval.default_bank()
    lines = {s: parse_eval.read_lines(parse_eval.SETS[s]) for s in sets}

    def run() -> dict[str, float]:
        out = {}
        for name, items in lines.items():
            result = parse_eval.evaluate(items, llm=llm, settings=settings, bank=bank)
            out[name] = result["fully_correct"]
            out[name + "_fields"] = result["per_field"]
        return out

    figures: dict[str, Any] = {"all_rules": run()}
    for group in GROUPS:
        with disabled(group):
            figures[f"without_{group}"] = run()
        print(group, {k: v for k, v in figures[f"without_{group}"].items() if not k.endswith("_fields")})
    figures["cache_misses"] = llm.misses
    write_results("parse_ablation", figures)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", action="append", choices=sorted(parse_eval.SETS))
    args = parser.parse_args()
    main(tuple(args.set or parse_eval.DEFAULT_SETS))
