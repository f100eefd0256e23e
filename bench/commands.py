"""`moodtune bench NAME`: run one benchmark; it prints its figures and writes bench/results/NAME.json."""

from __future__ import annotations

import argparse
import importlib
import inspect
import json

from moodtune.cli import CommandLine
from moodtune.config import Settings

# name -> (module, what it measures and what it needs)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "emotion": ("bench.emotion", "emotion classifier: GoEmotions-Ekman test, held-out moods, speed (needs data/goemotions)"),
    "ingest": ("bench.ingest", "ingestion throughput with 1 and 2 worker processes on rendered clips"),
    "search-scale": ("bench.search_scale", "Chroma search latency and recall at 100k synthetic tracks"),
    "demo-truth": ("bench.demo_truth", "style/emotion tools against the demo catalog's generation recipes (needs the demo)"),
    "user-mood-zh": ("bench.user_mood_zh", "the user's mood from Chinese requests: multilingual head, paraphrase route, rules; English for comparison"),
    "parse": ("bench.parse_eval", "request parsing on the shared dev set with the real LLM"),
    "adaptation": ("bench.adaptation", "precision@10 over feedback rounds for simulated users (needs the demo)"),
    "e2e": ("bench.e2e_eval", "whole turns on the dev requests against the demo's recipes (needs the demo and LLM)"),
    "latency": ("bench.turn_latency", "time to the list, to the first explanation token, to the whole reply"),
    "api": ("bench.api_load", "concurrent HTTP clients against one server: latency, busy answers, lost feedback"),
    "voice": ("bench.voice", "speech in and out: WER (en) / CER (zh) on spoken requests, seconds to transcript and to first spoken word"),
    "subsonic": ("bench.subsonic", "songs/s ingested through a real supysonic's API against the same files from a folder"),
}


def _runner(module_name: str):
    def run(args: argparse.Namespace, settings: Settings) -> int:
        main = importlib.import_module(module_name).main
        # Benchmarks that build their own temporary homes take no settings.
        kwargs = {"settings": settings} if "settings" in inspect.signature(main).parameters else {}
        figures = main(**kwargs)
        print(json.dumps(figures, indent=2, ensure_ascii=False, default=str))
        return 0

    return run


def register(cli: CommandLine) -> None:
    for name, (module_name, help_text) in BENCHMARKS.items():
        cli.add(name, group="bench", help=help_text, handler=_runner(module_name))
