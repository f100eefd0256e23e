"""Ingestion speed (30 s excerpts, 1 and 2 workers) and the style SVM's cross-validation.

Renders 24 demo clips once into a temp folder, then ingests them into fresh temporary
stores. The first run in a fresh process pays librosa/numba's JIT compilation; it is
measured separately.

    python -m bench.ingest
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import write_results
from bench.plots import confusion_png
from catalog.demo import plan_clips, render_plan
from catalog.ingest import ingest_folder
from moodtune.config import Settings
from moodtune.types import GENRES
from tools.style import cross_validate, read_gtzan_table

COLD_START = "import time; t=time.perf_counter(); from tools.audio_features import extract_features; extract_features('{path}'); print(time.perf_counter()-t)"


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
            start = time.perf_counter()
            summary = ingest_folder(settings, clips, workers=workers, progress=False)
            seconds = time.perf_counter() - start
            figures[f"workers_{workers}"] = {
                "files_per_second": round(summary.added / seconds, 2),
                "seconds": round(seconds, 1),
                "added": summary.added,
                "failed": len(summary.failed),
            }
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


if __name__ == "__main__":
    main()
