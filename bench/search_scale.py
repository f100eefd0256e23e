"""Search at scale: a catalog of SYNTHETIC vectors and metadata (source "bench-synthetic"; no
audio), in a temporary embedded store or on a `chroma run` server on loopback.

Measures build time, on-disk size, memory, query latency p50/p95 with and without filters, and
recall@10 of Chroma's approximate (HNSW) search against exact brute-force search. The rows are
like real ones (catalog/store.py `track_metadata`): 8 moods, 10 genres, tempo, 100 tag
probabilities and an `extra` of the size ingestion writes (features, readings, weights).

    python -m bench.search_scale [--tracks 100000]                      # embedded -> search.json
    python -m bench.search_scale --server --sizes 10000,100000,1000000  # server -> scale_search.json + .png

With --server the catalog grows through the sizes (each size is measured, then the next rows
are added), so one build gives the growth curve; the results file is rewritten after each size,
so an interrupted run keeps the largest size that finished. `--collections affect` writes only
the collection the mood/style search queries, with its lean filter fields (the text and sound
collections are built the same way and are not queried here); `all` writes what ingestion writes
(affect + text, whose whole records `search_catalog` reads, so only then is it measured).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.common import process_memory_mb, write_results
from catalog.store import CatalogStore, affect_embedding, affect_rows, track_metadata
from moodtune.config import Settings
from moodtune.types import GENRES, MOOD_NAMES, EmotionVector, StyleVector, Track
from tools.search import SearchFilters, search_catalog
from tools.tagger import MSD_TAGS, MTT_TAGS

TAG_KEYS = [f"msd:{t}" for t in MSD_TAGS] + [f"mtt:{t}" for t in MTT_TAGS]
N_FEATURES = 57  # tools/audio_features.py: the GTZAN recipe's 57 features, kept in extra["audio_features"]
FILTERS = SearchFilters(exclude_genres=("metal",), tempo_range=(80.0, 160.0))


def synthetic_tracks(n: int, rng: np.random.Generator, *, start: int = 0) -> tuple[list[Track], np.ndarray]:
    """`n` tracks numbered from `start`, with realistic metadata, and unit text embeddings (384-d)."""
    moods = rng.dirichlet(np.full(len(MOOD_NAMES), 0.4), size=n)
    styles = rng.dirichlet(np.full(len(GENRES), 0.3), size=n)
    tempos = rng.uniform(60, 190, size=n)
    tags = np.round(rng.beta(0.5, 4.0, size=(n, len(TAG_KEYS))), 4)
    features = np.round(rng.normal(size=(n, N_FEATURES)), 4)
    tracks = []
    for j in range(n):
        i = start + j
        mood = dict(zip(MOOD_NAMES, np.round(moods[j], 4).tolist()))
        extra = {
            "audio_emotion": mood,
            "audio_valence": 0.1,
            "audio_arousal": -0.2,
            "svm_style": dict(zip(GENRES, np.round(styles[j], 4).tolist())),
            "style_weights": {"svm": 0.4, "tagger": 0.4, "genre_tag": 0.2},
            "genre_terms": dict(zip(("funk", "electronic", "ambient"), np.round(tags[j, :3], 4).tolist())),
            "loudness_db": -14.2,
            "onset_rate": 3.1,
            "audio_features": {f"f{k:02d}": v for k, v in enumerate(features[j].tolist())},
            "text_emotion": mood,
            "fusion_text_weight": 0.5,
            "provenance": "",
            "models": {"emotion": "1.1.0", "style": "1", "audio": "2", "tagger": "1", "text": "2"},
        }
        tracks.append(
            Track(
                id=f"syn{i:07d}",
                path=f"/synthetic/{i}.flac",
                title=f"Synthetic {i}",
                artist=f"Synthetic Artist {i % 5000}",
                source="bench-synthetic",
                emotion=EmotionVector(tuple(moods[j])),
                style=StyleVector(tuple(styles[j])),
                tempo=float(tempos[j]),
                duration=float(rng.uniform(60, 400)),
                text=f"synthetic track {i}",
                tags=dict(zip(TAG_KEYS, tags[j].tolist())),
                extra=extra,
            )
        )
    text = rng.normal(size=(n, 384)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    return tracks, text


def percentile_ms(samples: list[float], q: float) -> float:
    return round(1000 * float(np.percentile(samples, q)), 2)


def write_rows(store: CatalogStore, tracks: list[Track], text: np.ndarray, *, collections: str) -> None:
    if collections == "all":
        store.upsert(tracks, text_embeddings=text)
        return
    # Only the collection the mood/style search queries, with the rows store.upsert writes there.
    store.affect.upsert(**affect_rows(tracks, [track_metadata(t) for t in tracks]))


def measure_queries(
    store: CatalogStore, matrix: np.ndarray, admitted: np.ndarray, ids: np.ndarray, queries: list
) -> dict:
    """p50/p95 and recall@10 against exact search, without and with the filters."""
    figures = {}
    for label, where, mask in (("no_filters", None, None), ("with_filters", FILTERS.where(), admitted)):
        latencies, recalls = [], []
        for emotion, style in queries:
            vector = affect_embedding(emotion, style)
            start = time.perf_counter()
            found = store.query_affect(vector, n=10, where=where)
            latencies.append(time.perf_counter() - start)
            scores = matrix @ np.asarray(vector, dtype=np.float32)
            if mask is not None:
                scores = np.where(mask, scores, -np.inf)
            exact = set(ids[np.argpartition(-scores, 10)[:10]].tolist())
            recalls.append(len(exact & set(found)) / 10)
        figures[label] = {
            "query_ms_p50": percentile_ms(latencies, 50),
            "query_ms_p95": percentile_ms(latencies, 95),
            "recall_at_10": round(float(np.mean(recalls)), 4),
        }
    return figures


def measure_search_catalog(store: CatalogStore, queries: list) -> dict:
    full = []
    for emotion, style in queries[:50]:
        start = time.perf_counter()
        search_catalog(emotion, style, filters=FILTERS, k=50, store=store)
        full.append(time.perf_counter() - start)
    return {
        "ms_p50": percentile_ms(full, 50),
        "ms_p95": percentile_ms(full, 95),
        "note": "query + fetch of 50 tracks + exact score parts",
    }


def make_queries(rng: np.random.Generator, n: int) -> list:
    return [
        (EmotionVector(tuple(rng.dirichlet(np.ones(8)))), StyleVector(tuple(rng.dirichlet(np.ones(10)))))
        for _ in range(n)
    ]


def disk_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 1)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux): unaffected by other load or pauses."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_mb(pid: int) -> int:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) // 1024


def main(n_tracks: int = 100_000, n_queries: int = 200) -> dict:
    """The embedded store at one size (bench/results/search.json)."""
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
        matrix = np.array([affect_embedding(t.emotion, t.style) for t in tracks], dtype=np.float32)
        admitted = np.array([FILTERS.admits(t) for t in tracks])
        ids = np.array([t.id for t in tracks])
        queries = make_queries(rng, n_queries)
        figures: dict = {
            "tracks": n_tracks,
            "build_seconds": round(build_seconds, 1),
            "tracks_per_second": round(n_tracks / build_seconds),
            "disk_mb": disk_mb(settings.chroma_dir),
            "data": "synthetic vectors and metadata (bench-synthetic)",
            **measure_queries(store, matrix, admitted, ids, queries),
            "search_catalog_k50_with_filters": measure_search_catalog(store, queries),
        }
        write_results("search", figures)
        return figures
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main_server(
    sizes: list[int], *, n_queries: int = 200, collections: str = "affect", workdir: Path | None = None
) -> dict:
    """A `chroma run` server grown through `sizes`, measured at each (bench/results/scale_search.json)."""
    from bench.servers import start_chroma

    rng = np.random.default_rng(0)
    queries = make_queries(np.random.default_rng(1), n_queries)
    home = Path(tempfile.mkdtemp(prefix="moodtune-scale-", dir=workdir))
    figures: dict = {
        "store": "chroma run server on loopback (HttpClient)",
        "collections_written": collections,
        "data": "synthetic vectors and realistic metadata (bench-synthetic): 100 tags, features, readings",
        "filters": "exclude genre metal + tempo 80-160 bpm (post-filtered from a wider HNSW query, catalog/store.py)",
        "sizes": [],
    }
    try:
        settings = Settings.load(home=home / "home").ensure_dirs()
        with start_chroma(home / "chroma") as server:
            store = CatalogStore.open(replace(settings, chroma_url=server.url))
            batch = min(5000, store.client.get_max_batch_size())
            figures["batch_size"] = batch
            matrices, masks, id_parts = [], [], []
            built, build_seconds, client_cpu = 0, 0.0, 0.0
            for size in sorted(sizes):
                while built < size:
                    count = min(batch, size - built)
                    tracks, text = synthetic_tracks(count, rng, start=built)
                    start, cpu = time.perf_counter(), time.process_time()
                    write_rows(store, tracks, text, collections=collections)
                    build_seconds += time.perf_counter() - start
                    client_cpu += time.process_time() - cpu
                    matrices.append(np.array([affect_embedding(t.emotion, t.style) for t in tracks], dtype=np.float32))
                    masks.append(np.array([FILTERS.admits(t) for t in tracks]))
                    id_parts.append(np.array([t.id for t in tracks]))
                    built += count
                    if built % 50_000 == 0:
                        print(f"{built} rows, {build_seconds:.0f} s", flush=True)
                matrix, admitted, ids = np.concatenate(matrices), np.concatenate(masks), np.concatenate(id_parts)
                matrices, masks, id_parts = [matrix], [admitted], [ids]
                row = {
                    "tracks": size,
                    "build_seconds_cumulative": round(build_seconds, 1),
                    "tracks_per_second": round(size / build_seconds),
                    # The machine is shared: CPU seconds say what the build costs whatever else ran.
                    "server_cpu_seconds_cumulative": round(process_cpu_seconds(server.pid), 1),
                    "client_cpu_seconds_writing_cumulative": round(client_cpu, 1),
                    "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
                    "server_rss_mb": process_rss_mb(server.pid),
                    "disk_mb": disk_mb(server.path),
                    "client_memory_mb": process_memory_mb(),
                    **measure_queries(store, matrix, admitted, ids, queries),
                }
                if collections == "all":  # search_catalog reads the records from the text collection
                    row["search_catalog_k50_with_filters"] = measure_search_catalog(store, queries)
                figures["sizes"].append(row)
                write_results("scale_search", figures)
                scale_png(figures["sizes"])
        return figures
    finally:
        shutil.rmtree(home, ignore_errors=True)


def scale_png(rows: list[dict]) -> Path:
    """Query p50/p95 (with and without filters) against catalog size, log-x."""
    from bench.plots import line_png

    sizes = [r["tracks"] for r in rows]
    series = {
        f"{label.replace('_', ' ')} {q}": [r[label][f"query_ms_{q}"] for r in rows]
        for label in ("no_filters", "with_filters")
        for q in ("p50", "p95")
    }
    return line_png(
        sizes,
        series,
        title="Chroma server: affect query time vs catalog size",
        xlabel="tracks",
        ylabel="ms",
        name="scale_search",
        logx=True,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=100_000, help="embedded mode: the catalog's size")
    parser.add_argument("--server", action="store_true", help="a `chroma run` server, grown through --sizes")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--collections", choices=("affect", "all"), default="affect")
    parser.add_argument("--workdir", type=Path, default=None, help="where the temporary server data goes")
    args = parser.parse_args()
    if args.server:
        main_server([int(s) for s in args.sizes.split(",")], collections=args.collections, workdir=args.workdir)
    else:
        main(args.tracks)
