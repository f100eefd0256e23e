"""The classifiers against the demo catalog's ground truth (what each clip was made to be).

Needs a built demo catalog (`moodtune setup` or `moodtune catalog build-demo`) in MOODTUNE_HOME.

    python -m bench.demo_truth
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.common import write_results
from bench.plots import confusion_png
from catalog.demo import DEMO_SOURCE, generate_groove, load_demo_truth, plan_clips
from catalog.store import CatalogStore
from moodtune.config import Settings
from moodtune.errors import CatalogError
from moodtune.types import GENRES, MOOD_NAMES, EmotionVector

TEMPO_TOLERANCE = 0.04  # MIREX's tempo accuracy: within 4 % (Acc1), or of 2x, 3x, 1/2, 1/3 (Acc2)


def tempo_figures(tracks) -> dict:
    """The beat tracker against each generated clip's MIDI tempo (the corpus scores carry no
    tempo of their own: their renderings stretch the notes instead)."""
    plans = {plan.name: plan for plan in plan_clips() if plan.corpus_path is None}
    pairs = []
    for track in tracks:
        plan = plans.get(Path(track.path).stem)
        if plan is not None:
            pairs.append((plan.genre, float(generate_groove(plan).get_tempo_changes()[1][0]), track.tempo))

    def share(rows, factors) -> float:
        hits = sum(any(abs(est - true * f) <= TEMPO_TOLERANCE * true * f for f in factors) for _, true, est in rows)
        return round(hits / max(1, len(rows)), 3)

    genres = sorted({genre for genre, _, _ in pairs})
    return {
        "clips": len(pairs),
        "acc1": share(pairs, (1,)),
        "acc2_octave_errors_allowed": share(pairs, (1, 2, 3, 1 / 2, 1 / 3)),
        "acc1_per_genre": {g: share([p for p in pairs if p[0] == g], (1,)) for g in genres},
        "read_at_double": share(pairs, (2,)),
        "read_at_half": share(pairs, (1 / 2,)),
    }


def main(settings: Settings | None = None) -> dict:
    from sklearn.metrics import confusion_matrix

    settings = settings or Settings.load()
    truth = load_demo_truth(settings)
    tracks = [t for t in CatalogStore.open(settings).iter_tracks(source=DEMO_SOURCE) if t.id in truth]
    if not tracks:
        raise CatalogError("no demo tracks with ground truth found", hint="run `moodtune catalog build-demo` first")
    genre_true = [truth[t.id]["genre"] for t in tracks]
    genre_pred = [t.style.top for t in tracks]
    mood_true = [truth[t.id]["mood"] for t in tracks]
    mood_pred = [t.emotion.top for t in tracks]
    audio_pred = [EmotionVector.from_mapping(t.extra["audio_emotion"]).top for t in tracks]
    per_genre = {
        g: round(sum(p == g for p, t in zip(genre_pred, genre_true) if t == g) / max(1, genre_true.count(g)), 3)
        for g in GENRES
    }
    figures = {
        "tracks": len(tracks),
        "style_accuracy": round(sum(a == b for a, b in zip(genre_pred, genre_true)) / len(tracks), 4),
        "style_accuracy_per_genre": per_genre,
        "fused_top_mood_accuracy": round(sum(a == b for a, b in zip(mood_pred, mood_true)) / len(tracks), 4),
        "audio_only_top_mood_accuracy": round(sum(a == b for a, b in zip(audio_pred, mood_true)) / len(tracks), 4),
        "predicted_genre_counts": dict(Counter(genre_pred)),
        "tempo_generated_clips": tempo_figures(tracks),
        "style_confusion_png": confusion_png(
            confusion_matrix(genre_true, genre_pred, labels=list(GENRES)),
            GENRES,
            title="Demo catalog: style",
            name="demo_style_confusion",
        ).name,
        "mood_confusion_png": confusion_png(
            confusion_matrix(mood_true, mood_pred, labels=list(MOOD_NAMES)),
            MOOD_NAMES,
            title="Demo catalog: fused mood",
            name="demo_mood_confusion",
        ).name,
    }
    write_results("demo_truth", figures)
    return figures


if __name__ == "__main__":
    main()
