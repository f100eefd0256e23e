"""How well Moodtune reads genre and mood from real recordings (labelled Debian/PyPI music).

python -m bench.realaudio [--set shared|extra|all] [--reader current] [--name NAME] [--limit N]

Two labelled sets, each installed by its own script (the audio never enters the repo):
  shared  shared/eval/realaudio_dev/manifest.jsonl   (bash shared/eval/realaudio_dev/install.sh)
  extra   bench/data/realaudio_extra.jsonl           (bash bench/data/realaudio_extra_install.sh)
Their labels come from tags, credits and where a game plays a track, never from an audio model
(bench/data/README.md). A "reader" turns one audio file into a distribution over the ten GTZAN
genres plus a valence and an arousal in [-1, 1]; `current` is what ingestion runs today
(tools/style.py: the GTZAN-feature SVM and the heuristic circumplex position). Another reader
(a pretrained tagger) is added to READERS with its own name and version.

Figures: genre top-1/top-3 on tracks whose label is a GTZAN genre; arousal and valence ROC-AUC
(scikit-learn) and accuracy (a reading > 0 means high arousal / positive valence) on tracks with
that label; overall, per set, per package and per artist; seconds per track. Readings are cached
per (reader, version, file sha256) under $MOODTUNE_BENCH_CACHE (default
$MOODTUNE_HOME/bench-cache, else /tmp/moodtune-bench-cache), so a rerun only scores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodtune.types import GENRES

REPO = Path(__file__).resolve().parents[1]
EXTRA_MANIFEST = REPO / "bench" / "data" / "realaudio_extra.jsonl"
# shared/ lies beside the work tree (and beside CI's clone); MOODTUNE_SHARED points elsewhere.
SHARED_MANIFEST = Path(os.environ.get("MOODTUNE_SHARED", REPO.parent / "shared")) / "eval" / "realaudio_dev" / "manifest.jsonl"
DEV_AUDIO_DEFAULT = "/var/lib/moodtune-dev"
# Formats ingestion decodes itself; anything else (the immich tracks are Opus) is decoded to WAV first.
DIRECT_SUFFIXES = (".mp3", ".flac", ".ogg", ".wav")
CONFIDENT = ("high", "medium")


# ---- readers -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reading:
    genres: dict[str, float]  # over GENRES, sums to 1
    valence: float  # [-1, 1]
    arousal: float  # [-1, 1]

    def as_dict(self) -> dict[str, Any]:
        return {"genres": self.genres, "valence": self.valence, "arousal": self.arousal}


@dataclass(frozen=True)
class Reader:
    name: str
    version: Callable[[], str]  # changes whenever the reader's output for a file may change
    read: Callable[[Path], Reading] | None = None
    # A reader that needs the labelled row (to reuse per-track components cached by sha256).
    read_row: Callable[[dict, Path], Reading] | None = None


def _current_version() -> str:
    from tools.style import ARTEFACT_DIR, ARTEFACT_VERSION

    manifest = ARTEFACT_DIR / "manifest.json"
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()[:12] if manifest.is_file() else "none"
    return f"style-{ARTEFACT_VERSION}-{digest}"


def _current_read(path: Path) -> Reading:
    """What ingestion stores today (catalog/ingest.py `_analyse` -> tools/style.py `classify_style`)."""
    from tools.style import classify_style

    result = classify_style(path)
    return Reading(
        genres={g: float(p) for g, p in zip(GENRES, result.style.probs)},
        valence=float(result.valence),
        arousal=float(result.arousal),
    )


def _fused_version() -> str:
    from tools.audio_reading import ARTEFACT_DIR

    manifest = ARTEFACT_DIR / "manifest.json"
    return "fused-" + (hashlib.sha256(manifest.read_bytes()).hexdigest()[:12] if manifest.is_file() else "none")


def _fused_read_row(row: dict, workdir: Path) -> Reading:
    """Ingestion's new reading (tools/audio_reading.py): SVM + MusiCNN tags + the file's genre tag,
    fused with the fitted weights; the per-track components come from bench/fit_audio_reading.py."""
    from bench.fit_audio_reading import components, reading_of

    comp = components(row, workdir)
    assert comp is not None
    reading = reading_of(comp, use_file_tag=True)
    return Reading(genres=reading.style.as_dict(), valence=reading.valence, arousal=reading.arousal)


READERS: dict[str, Reader] = {
    "current": Reader("current", _current_version, _current_read),
    "fused": Reader("fused", _fused_version, read_row=_fused_read_row),
}


# ---- the labelled sets -----------------------------------------------------------------------
def read_manifest(path: Path, set_name: str) -> list[dict]:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return [{**row, "set": set_name} for row in rows]


def load_rows(which: str) -> list[dict]:
    rows: list[dict] = []
    if which in ("shared", "all"):
        if not SHARED_MANIFEST.is_file():
            raise SystemExit(f"{SHARED_MANIFEST} not found (set MOODTUNE_SHARED to the shared/ folder)")
        rows += read_manifest(SHARED_MANIFEST, "shared")
    if which in ("extra", "all"):
        rows += read_manifest(EXTRA_MANIFEST, "extra")
    return rows


def audio_path(row: dict, rel: str | None = None) -> Path:
    """Where a track (or one of its stems) lies once its install script has run."""
    if rel is not None:
        return Path("/" + rel)
    if row.get("path"):
        path = row["path"]
        root = os.environ.get("MOODTUNE_DEV_AUDIO")
        if root and path.startswith(DEV_AUDIO_DEFAULT + "/"):
            path = os.path.join(root, path[len(DEV_AUDIO_DEFAULT) + 1 :])
        return Path(path)
    return Path("/" + row["relpath"])


def prepared_audio(row: dict, workdir: Path) -> Path:
    """A file ingestion can read: the track itself, its stems summed (Frets on Fire songs), or a
    WAV decoding of a format ingestion does not read (Opus)."""
    import numpy as np
    import soundfile as sf

    stems = [s for s in (row.get("stems") or [])]
    path = audio_path(row)
    if len(stems) <= 1 and path.suffix.lower() in DIRECT_SUFFIXES:
        return path
    sources = [audio_path(row, s) for s in stems] if len(stems) > 1 else [path]
    signals, rate = [], None
    for source in sources:
        data, sr = sf.read(str(source), dtype="float32", always_2d=True)
        if rate is not None and sr != rate:
            raise ValueError(f"{source.name}: {sr} Hz, the other stems {rate} Hz")
        rate = sr
        signals.append(data.mean(axis=1))
    length = max(len(s) for s in signals)
    mix = np.zeros(length, dtype=np.float32)
    for s in signals:
        mix[: len(s)] += s  # a plain sum, as the game plays them together (a float WAV keeps peaks over 1)
    out = workdir / (hashlib.sha1(row["id"].encode()).hexdigest()[:16] + ".wav")
    sf.write(str(out), mix, rate, subtype="FLOAT")
    return out


# ---- cache -----------------------------------------------------------------------------------
def cache_dir() -> Path:
    if os.environ.get("MOODTUNE_BENCH_CACHE"):
        return Path(os.environ["MOODTUNE_BENCH_CACHE"])
    if os.environ.get("MOODTUNE_HOME"):
        return Path(os.environ["MOODTUNE_HOME"]) / "bench-cache"
    return Path(tempfile.gettempdir()) / "moodtune-bench-cache"


def cache_path(reader: str, version: str, row: dict) -> Path:
    key = row["sha256"] + ("-mix" if len(row.get("stems") or []) > 1 else "")
    return cache_dir() / "realaudio" / f"{reader}-{version}" / f"{key}.json"


def analyse(rows: list[dict], reader: Reader, *, use_cache: bool = True, progress: bool = True) -> list[dict]:
    """Each row with its reading ("reading", "seconds", "cached") or its "error"; one file at a time."""
    version = reader.version()
    out = []
    with tempfile.TemporaryDirectory(prefix="moodtune-realaudio-") as tmp:
        for i, row in enumerate(rows, 1):
            cached = cache_path(reader.name, version, row)
            if use_cache and cached.is_file():
                entry = json.loads(cached.read_text())
                out.append({**row, **entry, "cached": True})
                continue
            start = time.perf_counter()
            try:
                if reader.read_row is not None:
                    reading = reader.read_row(row, Path(tmp))
                else:
                    reading = reader.read(prepared_audio(row, Path(tmp)))
            except Exception as exc:  # one unreadable file is reported, never stops the run
                out.append({**row, "error": f"{type(exc).__name__}: {getattr(exc, 'message', exc)}", "cached": False})
                continue
            entry = {"reading": reading.as_dict(), "seconds": round(time.perf_counter() - start, 3)}
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(entry))
            out.append({**row, **entry, "cached": False})
            if progress:
                print(f"[{i}/{len(rows)}] {entry['seconds']:.1f}s {row['id'][:90]}", file=sys.stderr, flush=True)
    return out


# ---- scoring (pure) ----------------------------------------------------------------------------
def top_k(genres: dict[str, float], k: int) -> list[str]:
    return [g for g, _ in sorted(genres.items(), key=lambda kv: -kv[1])[:k]]


def genre_scores(rows: Iterable[dict]) -> dict[str, Any]:
    """Top-1 / top-3 over rows whose label is one of the ten GTZAN genres."""
    scored = [r for r in rows if r.get("reading") and r.get("genre") in GENRES]
    if not scored:
        return {"n": 0}
    top1 = [top_k(r["reading"]["genres"], 1)[0] == r["genre"] for r in scored]
    top3 = [r["genre"] in top_k(r["reading"]["genres"], 3) for r in scored]
    predicted: dict[str, dict[str, int]] = {}
    for r in scored:
        guess = top_k(r["reading"]["genres"], 1)[0]
        predicted.setdefault(r["genre"], {}).setdefault(guess, 0)
        predicted[r["genre"]][guess] += 1
    return {
        "n": len(scored),
        "top1": round(sum(top1) / len(scored), 4),
        "top3": round(sum(top3) / len(scored), 4),
        "labels": {g: sum(r["genre"] == g for r in scored) for g in GENRES if any(r["genre"] == g for r in scored)},
        "predicted_top1_by_label": predicted,
    }


def binary_scores(labels: list[bool], scores: list[float]) -> dict[str, Any]:
    """ROC-AUC of a signed score for a binary label, and the accuracy of 'score > 0 means True'."""
    from sklearn.metrics import roc_auc_score

    n = len(labels)
    if n == 0:
        return {"n": 0}
    positives = sum(labels)
    both = 0 < positives < n
    return {
        "n": n,
        "n_pos": positives,
        "n_neg": n - positives,
        "auc": round(float(roc_auc_score(labels, scores)), 4) if both else None,
        "accuracy": round(sum((s > 0) == y for y, s in zip(labels, scores)) / n, 4),
    }


def mood_scores(rows: Iterable[dict], axis: str, positive: str, *, confident_only: bool = False) -> dict[str, Any]:
    """AUC/accuracy of the reading's `axis` ("arousal"/"valence") against its label (`positive` = True)."""
    chosen = [
        r
        for r in rows
        if r.get("reading") and r.get(axis) and (not confident_only or r.get(f"{axis}_confidence") in CONFIDENT)
    ]
    return binary_scores([r[axis] == positive for r in chosen], [float(r["reading"][axis]) for r in chosen])


def score(rows: list[dict]) -> dict[str, Any]:
    rows = list(rows)
    read = [r for r in rows if r.get("reading")]
    timed = [r["seconds"] for r in read if r.get("seconds") is not None]
    return {
        "tracks": len(rows),
        "failed": len(rows) - len(read),
        "genre": genre_scores(read),
        "arousal": mood_scores(read, "arousal", "high"),
        "valence": mood_scores(read, "valence", "positive"),
        "arousal_high_medium_confidence": mood_scores(read, "arousal", "high", confident_only=True),
        "valence_high_medium_confidence": mood_scores(read, "valence", "positive", confident_only=True),
        "seconds_per_track": round(sum(timed) / len(timed), 3) if timed else None,
    }


def group_scores(rows: list[dict], key: Callable[[dict], str]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return {name: score(members) for name, members in sorted(groups.items())}


def artist_key(row: dict) -> str:
    return f"{row['package']} / {row.get('artist') or '?'}"


def label_counts(rows: list[dict]) -> dict[str, Any]:
    def count(field: str) -> dict[str, int]:
        values: dict[str, int] = {}
        for r in rows:
            if r.get(field):
                values[r[field]] = values.get(r[field], 0) + 1
        return dict(sorted(values.items(), key=lambda kv: -kv[1]))

    return {
        "tracks": len(rows),
        "genre": count("genre"),
        "genre_in_gtzan10": sum(bool(r.get("genre_in_gtzan10")) for r in rows),
        "arousal": count("arousal"),
        "valence": count("valence"),
        "packages": count("package"),
    }


def figures_for(analysed: list[dict], reader: Reader) -> dict[str, Any]:
    sets = {name: [r for r in analysed if r["set"] == name] for name in ("shared", "extra")}
    sets = {name: members for name, members in sets.items() if members}
    by_set = {name: score(members) for name, members in sets.items()}
    if "extra" in sets:
        # the immich tracks are generated, not recorded: the extra set without them, too
        by_set["extra_recorded_only"] = score([r for r in sets["extra"] if not r.get("synthetic")])
    if len(sets) > 1:
        by_set["all"] = score(analysed)
    fresh = [r["seconds"] for r in analysed if r.get("reading") and not r.get("cached")]
    return {
        "reader": reader.name,
        "reader_version": reader.version(),
        "how": "middle 30 s of each file, as ingestion reads it; Frets on Fire stems summed first; Opus decoded to WAV first",
        "labels": {name: label_counts(members) for name, members in sets.items()},
        "sets": by_set,
        "per_package": group_scores(analysed, lambda r: f"{r['set']}:{r['package']}"),
        "per_artist": group_scores(analysed, lambda r: f"{r['set']}:{artist_key(r)}"),
        "failures": {r["id"]: r["error"] for r in analysed if r.get("error")},
        "seconds_per_track_this_run": round(sum(fresh) / len(fresh), 3) if fresh else None,
        "analysed_this_run": len(fresh),
    }


def main(argv: list[str] | None = None) -> dict:
    from bench.common import write_results

    parser = argparse.ArgumentParser(prog="python -m bench.realaudio", description=__doc__.split("\n")[0])
    parser.add_argument("--set", choices=("shared", "extra", "all"), default="all")
    parser.add_argument("--reader", choices=sorted(READERS), default="current")
    parser.add_argument("--name", default=None, help="results file bench/results/<name>.json (default realaudio_<reader>)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N tracks of each set (a quick look)")
    parser.add_argument("--no-cache", action="store_true", help="analyse again even where a cached reading exists")
    args = parser.parse_args(argv)

    reader = READERS[args.reader]
    rows = load_rows(args.set)
    if args.limit:
        rows = [r for name in ("shared", "extra") for r in [x for x in rows if x["set"] == name][: args.limit]]
    if args.reader == "current":
        from tools.audio_features import warm_up_jit_cache

        warm_up_jit_cache()
    analysed = analyse(rows, reader, use_cache=not args.no_cache)
    figures = figures_for(analysed, reader)
    write_results(args.name or f"realaudio_{reader.name}", figures)
    return figures


if __name__ == "__main__":
    main()
