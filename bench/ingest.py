"""Ingestion speed (1 and 2 workers) and the style SVM's cross-validation.

Renders 24 demo clips once into a temp folder, then ingests them into fresh temporary
stores. The first run in a fresh process pays librosa/numba's JIT compilation; it is
measured separately.

    python -m bench.ingest
    python -m bench.ingest --real [--limit N]   # real recordings -> bench/results/ingest_realaudio.json
    python -m bench.ingest --scale [--clips N]  # the local pool against a Dask cluster -> bench/results/scale.json

`--real` ingests the labelled Debian game-music tracks of shared/eval/realaudio_dev/manifest.jsonl
(installed by its install.sh under /usr/share/games; 53 Ogg Vorbis + 1 MP3, 2-5 minutes each)
with 1 and 2 workers, and profiles one file's analysis stage by stage in CPU seconds of this
process (one torch thread): today's path (tools/style.py analyse_file: one decode, one shared
STFT, the exact row-wise HPSS, both taggers on one log-mel) against the recipe before it
(librosa's per-feature calls, effects.hpss, and each tagger's own tag_file decode), which is
reproduced here step for step.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS_DIR, write_results
from bench.plots import confusion_png
from catalog.demo import plan_clips, render_plan
from catalog.ingest import ingest_folder
from moodtune.config import Settings
from moodtune.types import GENRES
from tools.style import cross_validate, read_gtzan_table

COLD_START = "import time; t=time.perf_counter(); from tools.audio_features import extract_features; extract_features('{path}'); print(time.perf_counter()-t)"


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) of this process, and of its children that have ended (the pool's workers)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _timed_ingest(settings: Settings, folder: Path, *, workers: int, cluster: str | None = None) -> dict:
    """Ingest a folder into a fresh home and time it: files/s, seconds, CPU seconds per file, added, failed.

    The CPU seconds (start-up and model loads included) say what a file costs whatever else shares
    the cores; files/s is wall time and suffers from a loaded machine. With workers, "main" is this
    process's share (text models, Chroma writes, the JIT warm-up) and "workers" the pool's.
    """
    start, (main_cpu, workers_cpu) = time.perf_counter(), _cpu_seconds()
    summary = ingest_folder(settings, folder, workers=workers, progress=False, cluster=cluster)
    seconds = time.perf_counter() - start
    main_after, workers_after = _cpu_seconds()
    files = max(1, summary.added)
    return {
        "files_per_second": round(summary.added / seconds, 2),
        "seconds": round(seconds, 1),
        "cpu_seconds_per_file": round((main_after - main_cpu + workers_after - workers_cpu) / files, 3),
        "cpu_seconds_per_file_main": round((main_after - main_cpu) / files, 3),
        "cpu_seconds_per_file_workers": round((workers_after - workers_cpu) / files, 3),
        "added": summary.added,
        "failed": len(summary.failed),
    }


def main(n_clips: int = 24) -> dict:
    work = Path(tempfile.mkdtemp(prefix="moodtune-ingest-"))
    try:
        plans = plan_clips()[:: max(1, 300 // n_clips)][:n_clips]
        clips = work / "clips"
        for plan in plans:
            render_plan(plan, clips, seconds=36.0)
        cold = float(
            subprocess.run(
                [sys.executable, "-c", COLD_START.format(path=next(clips.glob("*.flac")))],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        figures = {
            "clips": n_clips,
            "clip_seconds": 36,
            "excerpt_seconds": 30,
            "first_file_cold_seconds": round(cold, 2),
        }
        for workers in (1, 2):
            settings = Settings.load(home=work / f"home{workers}").ensure_dirs()
            ingest_folder(settings, clips, workers=workers, progress=False)  # warm-up: worker start, model loads
            shutil.rmtree(settings.chroma_dir)
            settings = Settings.load(home=work / f"home{workers}b").ensure_dirs()
            figures[f"workers_{workers}"] = _timed_ingest(settings, clips, workers=workers)
        X, y, _ = read_gtzan_table()
        cv = cross_validate(X, y, C=3.0)
        png = confusion_png(cv["confusion"], GENRES, title="GTZAN 30 s, 10-fold CV", name="style_confusion")
        figures["style_svm_cv"] = {
            "accuracy": round(cv["accuracy"], 4),
            "macro_f1": round(cv["macro_f1"], 4),
            "folds": 10,
            "table": "GTZAN features_30_sec.csv (1,000 clips)",
            "confusion_png": png.name,
        }
        write_results("ingest", figures)
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def real_tracks(limit: int | None = None) -> list[Path]:
    from bench.realaudio import SHARED_MANIFEST, audio_path, read_manifest

    rows = read_manifest(SHARED_MANIFEST, "shared")
    paths = [audio_path(row) for row in rows]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(
            f"{len(missing)} tracks missing (first {missing[0]}): run bash shared/eval/realaudio_dev/install.sh"
        )
    return paths[:limit] if limit else paths


def _cpu(fn):
    start = time.process_time()
    result = fn()
    return result, time.process_time() - start


def profile_one_file(path: Path, *, repeats: int = 2) -> dict:
    """CPU seconds of each stage of one file's analysis, now and in the recipe before (best of `repeats`)."""
    import librosa
    import numpy as np
    import torch

    from tools import audio_features as af
    from tools.style import TAGGER_MODELS, analyse_file, classify_features
    from tools.tagger import DEFAULT_WINDOWS, WINDOW_SECONDS, MusicTagger, plan_windows, prepare_excerpts
    from tools.tagger import SAMPLE_RATE as TAGGER_RATE

    torch.set_num_threads(1)
    taggers = [MusicTagger.load(name) for name in TAGGER_MODELS]
    analyse_file(path)  # warm-up: models loaded, JIT compiled
    sr = af.SAMPLE_RATE

    def old_features(y: np.ndarray) -> dict:
        """tools/audio_features.py's features_of_signal before the shared STFT, stage by stage."""
        stages = {}
        _, stages["chroma_stft"] = _cpu(lambda: librosa.feature.chroma_stft(y=y, sr=sr))
        _, stages["spectral (rms, centroid, bandwidth, rolloff, zcr)"] = _cpu(
            lambda: (
                librosa.feature.rms(y=y),
                librosa.feature.spectral_centroid(y=y, sr=sr),
                librosa.feature.spectral_bandwidth(y=y, sr=sr),
                librosa.feature.spectral_rolloff(y=y, sr=sr),
                librosa.feature.zero_crossing_rate(y),
            )
        )
        (harmonic, _), stages["hpss (librosa.effects.hpss)"] = _cpu(lambda: librosa.effects.hpss(y))
        onset, stages["onset + tempo"] = _cpu(lambda: librosa.onset.onset_strength(y=y, sr=sr))
        _, t = _cpu(lambda: librosa.feature.tempo(onset_envelope=onset, sr=sr))
        stages["onset + tempo"] += t
        _, stages["mfcc"] = _cpu(lambda: librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20))
        _, stages["key (chroma_cqt of the harmonic part)"] = _cpu(lambda: librosa.feature.chroma_cqt(y=harmonic, sr=sr))
        return stages

    def once() -> tuple[dict, dict]:
        before, now = {}, {}
        (y, duration), before["decode 30 s (features)"] = _cpu(lambda: af.load_excerpt(path))
        for name, seconds in old_features(y).items():
            before[f"features: {name}"] = seconds
        features, _ = _cpu(lambda: af.features_of_signal(y, duration=duration))
        _, before["style SVM"] = _cpu(lambda: classify_features(features))
        for tagger in taggers:
            _, before[f"tagger {tagger.name} (tag_file: own decode + log-mel + network)"] = _cpu(
                lambda tagger=tagger: tagger.tag_file(path)
            )
        windows: list = []

        def plan(d):
            windows[:] = plan_windows(d, windows=DEFAULT_WINDOWS, window_seconds=WINDOW_SECONDS)
            return [af.excerpt_span(d), *((o, s, TAGGER_RATE) for o, s in windows)]

        (_, signals), now[f"decode once (30 s + {DEFAULT_WINDOWS} x {WINDOW_SECONDS:g} s)"] = _cpu(
            lambda: af.decode_spans(path, plan)
        )
        excerpt = signals[0]
        stft = librosa.stft(excerpt)
        _, whole = _cpu(lambda: af.features_of_signal(excerpt, duration=duration))
        (harmonic, _), hpss_seconds = _cpu(lambda: af.hpss(stft, signal=excerpt))
        _, key_seconds = _cpu(lambda: librosa.feature.chroma_cqt(y=harmonic, sr=sr))
        now["features: all but HPSS and key (one shared STFT and mel)"] = whole - hpss_seconds - key_seconds
        now["features: hpss (row-wise median filters, same numbers)"] = hpss_seconds
        now["features: key (chroma_cqt of the harmonic part)"] = key_seconds
        now["style SVM"] = before["style SVM"]
        prepared, now["tagger log-mel (once for both)"] = _cpu(
            lambda: prepare_excerpts([(o, y16) for (o, _), y16 in zip(windows, signals[1:])])
        )
        for tagger in taggers:
            _, now[f"tagger {tagger.name} network"] = _cpu(lambda tagger=tagger: tagger.tag_patches(prepared.patches))
        _, now["whole analyse_file (incl. the fused reading)"] = _cpu(lambda: analyse_file(path))
        return before, now

    runs = [once() for _ in range(repeats)]
    best = [{k: round(min(r[i][k] for r in runs), 3) for k in runs[0][i]} for i in (0, 1)]
    before, now = best
    return {
        "file": str(path),
        "duration_seconds": round(af.decode_spans(path, lambda d: [])[0], 1),
        "before": {**before, "total": round(sum(before.values()), 3)},
        "now": now,
        "note": f"CPU seconds of this process, one torch thread, best of {repeats}; the 'now' stages sum to about the whole",
    }


def real_main(limit: int | None = None, *, name: str = "ingest_realaudio") -> dict:
    paths = real_tracks(limit)
    work = Path(tempfile.mkdtemp(prefix="moodtune-ingest-real-"))
    try:
        folder = work / "tracks"
        folder.mkdir()
        for i, path in enumerate(paths):  # one folder of links: the tracks lie among the games' other files
            (folder / f"{i:03d}{path.suffix.lower()}").symlink_to(path)
        figures: dict = {
            "tracks": len(paths),
            "mean_duration_seconds": round(sum(_duration(p) for p in paths) / len(paths), 1),
            "source": "shared/eval/realaudio_dev/manifest.jsonl (Debian game-music packages)",
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
            "profile_one_file": profile_one_file(paths[min(5, len(paths) - 1)]),
            "tagger_one_thread": _tagger_speed(),
        }
        for workers in (1, 2):
            settings = Settings.load(home=work / f"home{workers}").ensure_dirs()
            figures[f"workers_{workers}"] = {
                **_timed_ingest(settings, folder, workers=workers),
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "note": "includes starting the worker processes and loading the models in each",
            }
        write_results(name, figures)
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _tagger_speed() -> dict:
    """Each tagger's CPU seconds per 3 s patch and per 30 s window (log-mel + network), one thread (tools/tagger.py bench)."""
    from tools.style import TAGGER_MODELS
    from tools.tagger import MusicTagger
    from tools.tagger import bench as tagger_bench

    return {name: tagger_bench(MusicTagger.load(name), threads=1) for name in TAGGER_MODELS}


def _size(data: bytes) -> int:
    """A task that does nothing with a file: what sending it to a worker and back costs."""
    return len(data)


def scale_main(n_clips: int = 6, worker_counts: tuple[int, ...] = (1, 2, 4)) -> dict:
    """Files/s of the local pool and of a Dask cluster (a LocalCluster on loopback) at 1, 2, 4 workers.

    On this 2-core machine 4 workers are simulated: 4 processes share 2 cores, which shows the
    engine's overhead at that fan-out, not a speed-up. The pool's run includes starting its
    processes and loading the models in each (as every `moodtune ingest` does); the cluster's
    workers load the models on a first one-file ingest (timed apart), and the timed run is the
    steady state of a running cluster. Both write an embedded store. The results file is
    rewritten after each worker count, so an interrupted run keeps what finished.
    """
    from distributed import Client, LocalCluster

    from moodtune.cluster import map_unordered

    work = Path(tempfile.mkdtemp(prefix="moodtune-ingest-scale-"))
    try:
        clips = work / "clips"
        for plan in plan_clips()[:: max(1, 300 // n_clips)][:n_clips]:
            render_plan(plan, clips, seconds=36.0)
        files = sorted(clips.glob("*.flac"))
        figures: dict = {
            "clips": len(files),
            "clip_seconds": 36,
            "engine": "Dask distributed (LocalCluster, one thread per worker process, loopback)",
            "store": "embedded Chroma in the ingesting process, for both",
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        }
        for n in worker_counts:
            row: dict = {}
            settings = Settings.load(home=work / f"pool{n}").ensure_dirs()
            row["local_pool"] = _timed_ingest(settings, clips, workers=n)
            with (
                LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
                ) as cluster,
                Client(cluster, set_as_default=False) as client,
            ):
                one = work / f"one{n}"
                one.mkdir()
                (one / files[0].name).symlink_to(files[0])
                settings = Settings.load(home=work / f"warm{n}").ensure_dirs()
                row["cluster_warm_up_one_file"] = _timed_ingest(
                    settings, one, workers=n, cluster=cluster.scheduler_address
                )
                settings = Settings.load(home=work / f"cluster{n}").ensure_dirs()
                row["cluster_warm"] = _timed_ingest(settings, clips, workers=n, cluster=cluster.scheduler_address)
                start = time.perf_counter()
                sent = list(map_unordered(client, _size, [str(f) for f in files], lambda p: (Path(p).read_bytes(),)))
                row["engine_round_trip_ms_per_file"] = round(1000 * (time.perf_counter() - start) / len(sent), 1)
            warm, pool = row["cluster_warm"]["seconds"], row["local_pool"]["seconds"]
            row["cluster_warm_minus_pool_seconds_per_file"] = round((warm - pool) / len(files), 2)
            row["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            figures[f"workers_{n}"] = row
            figures["mean_file_mb"] = round(sum(f.stat().st_size for f in files) / len(files) / 2**20, 2)
            figures["search"] = search_figures()
            write_results("scale", figures)
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def search_figures() -> dict:
    """The catalog-server search rows of bench/results/scale_search.json (bench/search_scale.py --server), so
    scale.json holds the issue's figures in one place; that benchmark's own file keeps the details."""
    path = RESULTS_DIR / "scale_search.json"
    if not path.is_file():
        return {"missing": "run python -m bench.search_scale --server"}
    found = json.loads(path.read_text(encoding="utf-8"))
    keep = (
        "tracks",
        "build_seconds_cumulative",
        "server_rss_mb",
        "disk_mb",
        "no_filters",
        "with_filters",
        "load_average_1_5_15",
    )
    return {
        "from": "bench/results/scale_search.json",
        "its_git_commit": found.get("machine", {}).get("git_commit"),
        "sizes": [{k: row[k] for k in keep if k in row} for row in found["figures"]["sizes"]],
    }


def _duration(path: Path) -> float:
    import soundfile as sf

    return float(sf.info(str(path)).duration)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--real", action="store_true", help="the labelled Debian recordings instead of rendered clips")
    parser.add_argument("--limit", type=int, help="only the first N real tracks")
    parser.add_argument("--name", default="ingest_realaudio", help="results file name for --real")
    parser.add_argument("--profile-only", action="store_true", help="print one file's stage profile and stop")
    parser.add_argument("--scale", action="store_true", help="the local pool against a Dask cluster (scale.json)")
    parser.add_argument("--clips", type=int, default=6, help="rendered clips for --scale")
    args = parser.parse_args()
    if args.scale:
        scale_main(args.clips)
    elif args.profile_only:
        print(json.dumps(profile_one_file(real_tracks()[5]), indent=2))
    elif args.real:
        real_main(args.limit, name=args.name)
    else:
        main()
