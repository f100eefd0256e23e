"""End-to-end quality: the whole agent (real LLM parse, real classifiers, real store) on the demo
catalog, scored against the demo clips' ground truth, which ranking never reads.

For each dev request that names a genre among the ten or a mood: precision@10 for genre
(share of the top 10 whose true genre is one the request named), for mood (true mood in the
request's accepted moods) and for both.

    python -m bench.e2e_eval      (needs the demo catalog in MOODTUNE_HOME)
    python -m bench.e2e_eval --intents FILE --name e2e_old_parser
                                  (the same, ranking intents another parser wrote: JSON lines of
                                  {"text", "intent"} as bench/record_intents.py writes them, to tell the parser's share of a change from
                                  the catalog's)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from agent.session import Moodtune
from bench.common import write_results
from bench.parse_eval import DEV_SET, _norm_genre
from catalog.demo import load_demo_truth
from moodtune.config import Settings
from moodtune.errors import CatalogError
from moodtune.serialize import intent_from_dict
from moodtune.types import GENRES, Intent


def recorded_intents(path: Path) -> dict[str, Intent]:
    """Intents another parser wrote (bench/record_intents.py), by request text; fields that
    parser did not have keep their defaults."""
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    return {row["text"]: intent_from_dict(row["intent"]) for row in rows}


def main(settings: Settings | None = None, *, intents: Path | None = None, name: str = "e2e") -> dict:
    settings = settings or Settings.load()
    truth = load_demo_truth(settings)
    if not truth:
        # Without the demo's ground truth every figure would read 0: say so instead of writing them.
        raise CatalogError(
            f"no demo catalog in {settings.home}",
            hint="run ./run.sh (or moodtune setup) first, or set MOODTUNE_HOME to a home that has one",
        )
    agent = Moodtune(settings)
    if intents is not None:
        import agent.session as session

        recorded = recorded_intents(intents)
        session.parse_request = lambda text, **_: recorded[text]
    rows = []
    for line in (json.loads(x) for x in DEV_SET.read_text(encoding="utf-8").splitlines() if x.strip()):
        expect = line["expect"]
        genres = [_norm_genre(g) for g in expect.get("genres", []) if _norm_genre(g) in GENRES]
        moods = expect.get("moods_any", [])
        if not genres and not moods:
            continue
        reply = agent.recommend(line["text"], user_id="e2e-bench", k=10, explain_top=0)
        found = [truth.get(r.track.id, {}) for r in reply.recommendations]
        row = {"text": line["text"], "returned": len(found), "true_genres": [f.get("genre") for f in found], "true_moods": [f.get("mood") for f in found]}
        if genres:
            row["genre_p10"] = sum(f.get("genre") in genres for f in found) / 10
        if moods:
            row["mood_p10"] = sum(f.get("mood") in moods for f in found) / 10
        if genres and moods:
            row["both_p10"] = sum(f.get("genre") in genres and f.get("mood") in moods for f in found) / 10
        rows.append(row)

    def mean(key: str) -> float | None:
        values = [r[key] for r in rows if key in r]
        return round(float(np.mean(values)), 4) if values else None

    figures = {"requests": len(rows), "genre_precision_at_10": mean("genre_p10"), "mood_precision_at_10": mean("mood_p10"),
               "both_precision_at_10": mean("both_p10"), "catalog": "demo-synthetic (300 clips)", "rows": rows}
    if intents is not None:
        figures["intents_from"] = str(intents)
    write_results(name, figures)
    return figures


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--intents", type=Path, help="rank these recorded intents instead of parsing")
    cli.add_argument("--name", default="e2e", help="results file name (bench/results/NAME.json)")
    args = cli.parse_args()
    main(intents=args.intents, name=args.name)
