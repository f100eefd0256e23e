"""Search at scale: a 100,000-track catalog of SYNTHETIC vectors and metadata (source
"bench-synthetic"; no audio), in a temporary embedded store.

Measures build time, on-disk size, query latency p50/p95 with and without filters, and
recall@10 of Chroma's approximate (HNSW) search against exact brute-force search.

    python -m bench.search_scale [--tracks 100000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import write_results
from catalog.store import CatalogStore, affect_embedding
from moodtune.config import Settings
from moodtune.types import GENRES, MOOD_NAMES, EmotionVector, StyleVector, Track
from tools.search import SearchFilters, search_catalog


def synthetic_tracks(n: int, rng: np.random.Generator) -> tuple[list[Track], np.ndarray]:
    moods = rng.dirichlet(np.full(len(MOOD_NAMES), 0.4), size=n)
    styles = rng.dirichlet(np.full(len(GENRES), 0.3), size=n)
    tempos = rng.uniform(60, 190, size=n)
    tracks = [
        Track(
            id=f"syn{i:06d}",
            path=f"/synthetic/{i}.flac",
            title=f"Synthetic {i}",
            artist=f"Synthetic Artist {i % 5000}",
            source="bench-synthetic",
            emotion=EmotionVector(tuple(moods[i])),
            style=StyleVector(tuple(styles[i])),
            tempo=float(tempos[i]),
            duration=float(rng.uniform(60, 400)),
            text=f"synthetic track {i}",
        )
        for i in range(n)
    ]
    text = rng.normal(size=(n, 384)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    return tracks, text


def percentile_ms(samples: list[float], q: float) -> float:
    return round(1000 * float(np.percentile(samples, q)), 2)


def main(n_tracks: int = 100_000, n_queries: int = 200) -> dict:
    rng = np.random.default_rng(0)
    home = Path(tempfile.mkdtemp(prefix="moodtune-scale-"))
    try:
        settings = Settings.load(home=home).ensure_dirs()
        store = CatalogStore.open(settings)
        tracks, text = synthetic_tracks(n_tracks, rng)
        start = time.perf_counter()
        for offset in range(0, n_tracks, 5000):
            store.upsert(tracks[offset : offset + 5000], text_embeddings=text[offset : offset + 5000])
        build_seconds = time.perf_counter() - start
        disk_mb = sum(p.stat().st_size for p in settings.chroma_dir.rglob("*") if p.is_file()) / 2**20

        matrix = np.array([affect_embedding(t.emotion, t.style) for t in tracks])
        excluded_genre, tempo_range = "metal", (80.0, 160.0)
        filters = SearchFilters(exclude_genres=(excluded_genre,), tempo_range=tempo_range)
        admitted = np.array([filters.admits(t) for t in tracks])
        queries = [
            (EmotionVector(tuple(rng.dirichlet(np.ones(8)))), StyleVector(tuple(rng.dirichlet(np.ones(10)))))
            for _ in range(n_queries)
        ]
        figures: dict = {
            "tracks": n_tracks,
            "build_seconds": round(build_seconds, 1),
            "tracks_per_second": round(n_tracks / build_seconds),
            "disk_mb": round(disk_mb, 1),
            "data": "synthetic vectors and metadata (bench-synthetic)",
        }
        for label, where, mask in (
            ("no_filters", None, np.ones(n_tracks, bool)),
            ("with_filters", filters.where(), admitted),
        ):
            latencies, recalls = [], []
            for emotion, style in queries:
                vector = affect_embedding(emotion, style)
                start = time.perf_counter()
                found = store.query_affect(vector, n=10, where=where)
                latencies.append(time.perf_counter() - start)
                scores = np.where(mask, matrix @ np.asarray(vector), -np.inf)
                exact = {tracks[i].id for i in np.argsort(-scores)[:10]}
                recalls.append(len(exact & set(found)) / 10)
            figures[label] = {
                "query_ms_p50": percentile_ms(latencies, 50),
                "query_ms_p95": percentile_ms(latencies, 95),
                "recall_at_10": round(float(np.mean(recalls)), 4),
            }
        full = []
        for emotion, style in queries[:50]:
            start = time.perf_counter()
            search_catalog(emotion, style, filters=filters, k=50, store=store)
            full.append(time.perf_counter() - start)
        figures["search_catalog_k50_with_filters"] = {
            "ms_p50": percentile_ms(full, 50),
            "ms_p95": percentile_ms(full, 95),
            "note": "query + fetch of 50 tracks + exact score parts",
        }
        write_results("search", figures)
        return figures
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, default=100_000)
    main(parser.parse_args().tracks)
