"""Ingestion through the Subsonic API against ingestion of the same files from a folder.

Renders N demo clips (36 s, analysed as 30 s excerpts like bench/ingest.py), serves them from
a real supysonic on loopback (bench/servers.py), and times, each into a fresh home:
- the folder ingest and the server ingest (listing, download into the cache, the same
  analysis), with 1 and 2 workers, alternating, twice each; medians are reported;
- the server ingest with batches of 4 songs (a small cache: one process pool per batch);
- listing and downloading alone (no analysis): what the API itself costs.
The first ingest in a process pays the model loads and librosa's JIT; a warm-up run comes first.

    python -m bench.subsonic        (or: moodtune bench subsonic)
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import write_results
from bench.servers import start_supysonic
from catalog.demo import plan_clips, render_plan
from catalog.ingest import ingest_folder
from catalog.subsonic import Credentials, SubsonicClient
from catalog.subsonic_ingest import ingest_server, list_songs
from moodtune.config import Settings


def main(n_clips: int = 16, rounds: int = 2) -> dict:
    work = Path(tempfile.mkdtemp(prefix="moodtune-subsonic-"))
    try:
        plans = plan_clips()[:: max(1, 300 // n_clips)][:n_clips]
        clips = work / "clips"
        for index, plan in enumerate(plans):
            render_plan(plan, clips / f"album {index % 4}", seconds=36.0)
        total_mb = sum(p.stat().st_size for p in clips.rglob("*.flac")) / 2**20
        figures: dict = {"clips": n_clips, "clip_seconds": 36, "excerpt_seconds": 30, "library_mib": round(total_mb, 1)}
        figures["load_average_at_start"] = round(os.getloadavg()[0], 2)
        started = time.perf_counter()
        server = start_supysonic(clips, work / "supysonic")
        figures["supysonic_start_seconds"] = round(time.perf_counter() - started, 2)
        credentials = Credentials(password=server.password)
        try:
            warm = Settings.load(home=work / "warm").ensure_dirs()
            ingest_folder(warm, clips / "album 0", workers=1, progress=False)  # model loads, JIT

            def home(name: str) -> Settings:
                return Settings.load(home=work / name).ensure_dirs()

            # The machine is shared: folder and server runs alternate, each pair twice, in
            # opposite orders, and the figures are the medians (the load average is recorded).
            runs = {}
            for workers in (1, 2):
                for round_ in range(rounds):
                    order = ("folder", "server") if round_ % 2 == 0 else ("server", "folder")
                    for kind in order:
                        settings = home(f"{kind}{workers}-{round_}")
                        start = time.perf_counter()
                        if kind == "folder":
                            done = ingest_folder(settings, clips, workers=workers, progress=False).added
                        else:
                            done = ingest_server(
                                settings, server.address, credentials=credentials, workers=workers,
                                feedback=False, progress=False,
                            ).analysed  # fmt: skip
                        runs.setdefault(f"{kind}_workers_{workers}", []).append((done, time.perf_counter() - start))
            for name, measured in runs.items():
                rates = [done / seconds for done, seconds in measured]
                figures[name] = {
                    "songs_per_second": round(statistics.median(rates), 3),
                    "runs_songs_per_second": [round(r, 3) for r in rates],
                    "seconds": [round(seconds, 1) for _, seconds in measured],
                    "added": [done for done, _ in measured],
                }
            settings = home("server-batches-of-4")
            start = time.perf_counter()
            summary = ingest_server(
                settings, server.address, credentials=credentials, workers=2, max_batch_songs=4,
                feedback=False, progress=False,
            )  # fmt: skip
            figures["server_workers_2_batches_of_4"] = {
                "songs_per_second": round(summary.analysed / (time.perf_counter() - start), 3),
                "note": "a cache holding 4 songs at a time: one process pool per batch of 4",
            }
            start = time.perf_counter()
            size = 0
            with SubsonicClient(server.address, credentials) as client:
                songs = list_songs(client)
                listed = time.perf_counter() - start
                for song_id in songs:
                    size += client.download(song_id, work / "dl" / f"{song_id}.flac")
            seconds = time.perf_counter() - start
            figures["api_only"] = {
                "list_seconds": round(listed, 3),
                "list_and_download_seconds": round(seconds, 2),
                "songs_per_second": round(len(songs) / seconds, 1),
                "mib_per_second": round(size / 2**20 / seconds, 1),
                "auth": client.auth_mode,
            }
            again = ingest_server(
                home("server2-0"), server.address, credentials=credentials, feedback=False, progress=False
            )
            figures["server_rerun_seconds"] = round(again.seconds, 2)
        finally:
            server.stop()
        for workers in (1, 2):
            folder = figures[f"folder_workers_{workers}"]["songs_per_second"]
            figures[f"server_vs_folder_workers_{workers}"] = round(
                figures[f"server_workers_{workers}"]["songs_per_second"] / folder, 3
            )
        figures["load_average_at_end"] = round(os.getloadavg()[0], 2)
        figures["server"] = "supysonic 0.7.9 on 127.0.0.1 (Werkzeug threaded), HTTP Basic (it takes no tokens)"
        write_results("subsonic", figures)
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
