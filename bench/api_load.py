"""API load: 8 concurrent clients for 60 s against a real server on 127.0.0.1.

Each client loops: a recommend request (through the shared LLM, queued fairly), then thumbs
up on its first result. Reports requests served, latency p50/p95 per endpoint, errors, "busy"
answers, and whether every feedback row the server acknowledged is in the database.

    python -m bench.api_load [--clients 8] [--seconds 60] [--explain 5]   (needs the demo catalog and the LLM)

`--explain` is the request's `explain` (tracks the LLM words); other than the default 5 the
results go to api_explain<N>.json.
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import numpy as np

from bench.common import write_results
from moodtune.config import Settings

REQUESTS = ["calm piano for reading", "upbeat songs for cooking", "sad songs, no country", "energetic workout music",
            "romantic dinner music", "来点轻松的音乐", "nostalgic oldies", "tense suspense music"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(settings: Settings, port: int) -> subprocess.Popen:
    env = {**os.environ, "MOODTUNE_HOME": str(settings.home), "MOODTUNE_PORT": str(port), "MOODTUNE_HOST": "127.0.0.1"}
    process = subprocess.Popen([sys.executable, "-m", "moodtune.cli", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(1)
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode()[-2000:])
    raise RuntimeError("server did not start in 180 s")


def main(settings: Settings | None = None, clients: int = 8, seconds: float = 60.0, explain: int = 5) -> dict:
    settings = settings or Settings.load()
    port = free_port()
    server = start_server(settings, port)
    base = f"http://127.0.0.1:{port}"
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {"recommend": [], "feedback": []}
    errors: list[str] = []
    busy = [0]
    acknowledged = [0]
    db = settings.profile_db
    rows_before = sqlite3.connect(db).execute("SELECT COUNT(*) FROM feedback").fetchone()[0] if db.exists() else 0
    stop_at = time.time() + seconds

    def client(n: int) -> None:
        with httpx.Client(base_url=base, timeout=300) as http:
            i = 0
            while time.time() < stop_at:
                start = time.perf_counter()
                response = http.post("/api/v1/recommend", json={"text": REQUESTS[(n + i) % len(REQUESTS)], "user_id": f"load{n}", "k": 5, "explain": explain})
                elapsed = time.perf_counter() - start
                i += 1
                with lock:
                    if response.status_code == 503 and response.json().get("error") == "BusyError":
                        busy[0] += 1
                        continue
                    if response.status_code != 200:
                        errors.append(f"recommend {response.status_code}: {response.text[:200]}")
                        continue
                    latencies["recommend"].append(elapsed)
                recs = response.json()["recommendations"]
                if not recs:
                    continue
                start = time.perf_counter()
                response = http.post("/api/v1/feedback", json={"user_id": f"load{n}", "track_id": recs[0]["track"]["id"], "kind": "up"})
                with lock:
                    if response.status_code == 200:
                        latencies["feedback"].append(time.perf_counter() - start)
                        acknowledged[0] += 1
                    else:
                        errors.append(f"feedback {response.status_code}: {response.text[:200]}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    server.terminate()
    server.wait(timeout=30)
    rows_after = sqlite3.connect(db).execute("SELECT COUNT(*) FROM feedback").fetchone()[0]

    def stats(values: list[float]) -> dict:
        return {"served": len(values), "p50_s": round(float(np.median(values)), 3) if values else None,
                "p95_s": round(float(np.percentile(values, 95)), 3) if values else None}

    figures = {"clients": clients, "seconds": seconds, "explain": explain, "wall_seconds": round(wall, 1), "recommend": stats(latencies["recommend"]),
               "feedback": stats(latencies["feedback"]), "errors": len(errors), "error_samples": errors[:5], "busy_answers": busy[0],
               "feedback_acknowledged": acknowledged[0], "feedback_rows_written": rows_after - rows_before,
               "lost_feedback_rows": acknowledged[0] - (rows_after - rows_before), "llm": "local Qwen2.5-Coder-1.5B Q4_K_M, one shared instance"}
    write_results("api" if explain == 5 else f"api_explain{explain}", figures)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--explain", type=int, default=5)
    args = parser.parse_args()
    main(clients=args.clients, seconds=args.seconds, explain=args.explain)
