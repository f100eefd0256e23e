"""Adaptation to feedback, with SIMULATED users (each has a hidden favourite genre).

Each round: rank the demo catalog for the same neutral request with the user's learned
preferences, the simulated user gives thumbs up to the shown tracks whose ground-truth genre
is their favourite and thumbs down to the rest; we record precision@10 (share of the top 10 in
the favourite genre) before each round's feedback. No LLM: the request is a fixed neutral intent,
so the curve shows the profile's effect alone.

    python -m bench.adaptation      (needs the demo catalog in MOODTUNE_HOME)
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from agent.profile import ProfileStore
from agent.rank import filters_for, rank
from bench.common import RESULTS_DIR, write_results
from catalog.demo import DEMO_SOURCE, load_demo_truth
from catalog.store import CatalogStore
from moodtune.config import Settings
from moodtune.errors import CatalogError
from moodtune.types import GENRES, EmotionVector, Intent
from tools.search import search_catalog

ROUNDS = 5


def main(settings: Settings | None = None) -> dict:
    settings = settings or Settings.load()
    truth = load_demo_truth(settings)
    store = CatalogStore.open(settings)
    if not truth or store.count(source=DEMO_SOURCE) == 0:
        raise CatalogError("the demo catalog is not built", hint="run `moodtune catalog build-demo`")
    work = Path(tempfile.mkdtemp(prefix="moodtune-adapt-"))
    try:
        profiles = ProfileStore(work / "profiles.sqlite3")
        intent = Intent(emotion=EmotionVector.uniform(), text="play me something")
        candidates = search_catalog(intent.emotion, k=400, store=store)
        curves: dict[str, list[float]] = {}
        for genre in GENRES:
            user = f"simulated-{genre}"
            curve = []
            for _ in range(ROUNDS + 1):
                ranked = rank(candidates, filters=filters_for(intent), weights=settings.rank_weights,
                              preferences=profiles.preferences(user), k=10)
                hits = [truth.get(s.track.id, {}).get("genre") == genre for s in ranked]
                curve.append(sum(hits) / len(ranked))
                for scored, hit in zip(ranked, hits):
                    profiles.record(user_id=user, track=scored.track, kind="up" if hit else "down")
            curves[genre] = curve
        mean_curve = [round(float(np.mean([c[r] for c in curves.values()])), 4) for r in range(ROUNDS + 1)]
        png = plot(mean_curve, curves)
        figures = {"users": "simulated: one per genre, hidden taste = that genre (ground truth of the demo clips)",
                   "rounds": ROUNDS, "precision_at_10_by_round": mean_curve, "per_user": {g: [round(x, 3) for x in c] for g, c in curves.items()},
                   "gain_first_to_last": round(mean_curve[-1] - mean_curve[0], 4),
                   "rises": all(b >= a for a, b in itertools.pairwise(mean_curve)) and mean_curve[-1] > mean_curve[0],
                   "png": png.name}
        write_results("adaptation", figures)
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def plot(mean_curve: list[float], curves: dict[str, list[float]]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for curve in curves.values():
        ax.plot(curve, color="#bbbbbb", linewidth=1)
    ax.plot(mean_curve, color="#4a7bd0", linewidth=3, marker="o", label="mean over simulated users")
    ax.set_xlabel("round (0 = before any feedback)")
    ax.set_ylabel("precision@10 of hidden taste")
    ax.set_ylim(0, 1)
    ax.set_title("Adaptation to feedback (simulated users)")
    ax.legend()
    fig.tight_layout()
    path = RESULTS_DIR / "adaptation.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main(replace(Settings.load()))
