"""Which of the tagger's patches a track needs: the fused reading's figures when the tags are the mean over fewer patches.

    python -m bench.tagger_windows [--variants all12,mid4,...]
    python -m bench.tagger_windows --whole [--variants spread12,spread24,whole]

For each of bench/realaudio.py's 225 labelled real recordings, both MusiCNN models' per-patch
probabilities over the default windows (4 excerpts of 9 s at 20/40/60/80 %, 3 patches each,
12 in all) are computed once and cached (MOODTUNE_BENCH_CACHE/tagger_patches). A variant keeps
some of those patches (`mid4`: the middle patch of each excerpt, i.e. four 3 s windows centred at
20/40/60/80 %) and its tags are their mean; bench/fit_audio_reading.py's `fit` then scores it as
it scores the shipped reading: genre top-1/top-3 per package, arousal and valence ROC-AUC leave one
package out. The SVM probabilities, tempo and loudness (of the middle 30 s: they do not depend on
the tagger's windows) and the file's genre tag are computed once too and cached beside them.

Writes bench/results/tagger_windows.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench import realaudio
from bench.common import write_results
from bench.fit_audio_reading import fit
from tools.tagger import MSD_TAGS, MTT_TAGS

# Patch indices into the 12 of the old default (excerpt i holds patches 3i, 3i+1, 3i+2).
VARIANTS: dict[str, tuple[int, ...]] = {
    "all12": tuple(range(12)),
    "mid4": (1, 4, 7, 10),
    "first4": (0, 3, 6, 9),
    "mid2_40_60": (4, 7),
    "mid2_20_80": (1, 10),
    "mid1_60": (7,),
    "two_per_window": (0, 1, 3, 4, 6, 7, 9, 10),
    "w2x3_40_60": (3, 4, 5, 6, 7, 8),
}
OLD_WINDOWS, OLD_WINDOW_SECONDS = 4, 9.0
# With --whole, every consecutive patch of the track is tagged and a variant keeps n of them,
# spread evenly from the first to the last (None: all). The int8 front-end made a patch cheap
# enough (~13 ms a model) to ask whether more than 12 read real music better.
WHOLE_VARIANTS: dict[str, int | None] = {"spread8": 8, "spread12": 12, "spread24": 24, "spread48": 48, "whole": None}


def spread(n_patches: int, keep: int | None) -> list[int]:
    """`keep` patch indices spread evenly over 0..n_patches-1 (all of them when there are fewer, or keep is None)."""
    if keep is None or n_patches <= keep:
        return list(range(n_patches))
    return sorted({round(float(i)) for i in np.linspace(0, n_patches - 1, keep)})


def _key(row: dict) -> str:
    return row["sha256"] + ("-mix" if len(row.get("stems") or []) > 1 else "")


def measured(row: dict, workdir: Path) -> dict[str, Any]:
    """The SVM's probabilities, tempo and loudness of the middle 30 s, and the file's genre tag (cached)."""
    from catalog.render import read_tags
    from tools.audio_features import extract_features
    from tools.style import classify_features

    cached = realaudio.cache_dir() / "tagger_patches" / f"{_key(row)}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    features = extract_features(realaudio.prepared_audio(row, workdir))
    try:
        genre_tag = read_tags(realaudio.audio_path(row)).get("genre", "")
    except Exception:  # a file with no readable tags simply has none
        genre_tag = ""
    entry = {
        "svm": classify_features(features).style.as_dict(),
        "tempo": features.tempo,
        "loudness_db": features.loudness_db,
        "genre_tag": genre_tag,
    }
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(entry))
    return entry


def patch_probabilities(row: dict, workdir: Path, *, whole: bool = False) -> dict[str, np.ndarray]:
    """{"msd": (n, 50), "mtt": (n, 50)} per-patch probabilities over the default windows, or over
    the whole track in consecutive patches (cached per tagger version)."""
    from tools import audio_features as af
    from tools.tagger import ARTEFACT_VERSION, SAMPLE_RATE, MusicTagger, plan_windows, prepare_excerpts

    folder = f"tagger_patches{'_whole' if whole else ''}-{ARTEFACT_VERSION}"
    cached = realaudio.cache_dir() / folder / f"{_key(row)}.npz"
    if cached.is_file():
        with np.load(cached) as saved:
            return {name: saved[name] for name in ("msd", "mtt")}
    path = realaudio.prepared_audio(row, workdir)
    windows: list = []

    def plan(duration: float):
        windows[:] = plan_windows(duration, windows=None if whole else OLD_WINDOWS, window_seconds=OLD_WINDOW_SECONDS)
        return [(offset, seconds, SAMPLE_RATE) for offset, seconds in windows]

    _, signals = af.decode_spans(path, plan)
    prepared = prepare_excerpts([(offset, y) for (offset, _), y in zip(windows, signals) if y.size])
    out = {name: MusicTagger.load(name).tag_patches(prepared.patches)[0] for name in ("msd", "mtt")}
    cached.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cached, **out)
    return out


def variant_items(
    rows: list[dict], patches: dict[str, dict], measures: dict[str, dict], keep: tuple[int, ...] | int | None
) -> list:
    items = []
    for row in rows:
        probs = patches[row["id"]]
        n = len(probs["msd"])
        if keep is None or isinstance(keep, int):
            use = spread(n, keep)
        elif n == 12:
            use = list(keep)
        else:  # a track too short for the windows was read whole: all its patches, in every variant
            use = list(range(n))
        comp = {
            **measures[row["id"]],
            "msd": dict(zip(MSD_TAGS, map(float, probs["msd"][use].mean(axis=0)))),
            "mtt": dict(zip(MTT_TAGS, map(float, probs["mtt"][use].mean(axis=0)))),
        }
        items.append((row, comp))
    return items


def summary(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "genre_top1_audio_only": figures["genre"]["top1_audio_only"],
        "genre_top3_audio_only": figures["genre"]["top3_audio_only"],
        "arousal_lopo_auc": figures["arousal"].get("lopo_auc_kept"),
        "arousal_kept": figures["arousal"]["kept"],
        "valence_lopo_auc": figures["valence"].get("lopo_auc_kept"),
        "valence_prior_auc": round(figures["valence"]["prior_auc"], 4),
        "valence_best_fit_auc": max(a for a in figures["valence"]["lopo_auc"].values() if a is not None),
        "valence_kept": figures["valence"]["kept"],
    }


def main(variants: list[str], *, whole: bool = False, name: str = "tagger_windows") -> dict[str, Any]:
    import torch

    from tools.tagger import ARTEFACT_VERSION

    torch.set_num_threads(1)
    rows = realaudio.load_rows("all")
    patches, measures = {}, {}
    with tempfile.TemporaryDirectory(prefix="moodtune-windows-") as tmp:
        for i, row in enumerate(rows, 1):
            patches[row["id"]] = patch_probabilities(row, Path(tmp), whole=whole)
            measures[row["id"]] = measured(row, Path(tmp))
            if i % 20 == 0:
                print(f"[{i}/{len(rows)}] patches", flush=True)
    figures: dict[str, Any] = {
        "tracks": len(rows),
        "patches_of": "every consecutive 3 s patch of the track" if whole else "4 x 9 s excerpts at 20/40/60/80 %",
        "tagger_version": ARTEFACT_VERSION,
        "patches_per_track_median": float(np.median([len(p["msd"]) for p in patches.values()])),
        "variants": {},
    }
    table = WHOLE_VARIANTS if whole else VARIANTS
    for variant in variants:
        keep = table[variant]
        result, _ = fit(variant_items(rows, patches, measures, keep), tracks_listed=len(rows), verbose=False)
        shown = keep if keep is None or isinstance(keep, int) else list(keep)
        figures["variants"][variant] = {"patches": shown, **summary(result)}
        print(variant, figures["variants"][variant], flush=True)
    figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    write_results(name, figures)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", help="comma-separated; default: every variant of the mode")
    parser.add_argument(
        "--whole", action="store_true", help="tag every patch of each track; variants keep n spread evenly"
    )
    parser.add_argument("--name", help="results file name (default tagger_windows, or tagger_windows_whole)")
    args = parser.parse_args()
    default = WHOLE_VARIANTS if args.whole else VARIANTS
    chosen = args.variants.split(",") if args.variants else list(default)
    main(chosen, whole=args.whole, name=args.name or ("tagger_windows_whole" if args.whole else "tagger_windows"))
