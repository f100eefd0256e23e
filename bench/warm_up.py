"""What `moodtune serve` spends loading before answers are quick: Moodtune.warm_up, timed in a fresh process.

    python -m bench.warm_up [--runs N] [--name NAME]   (needs the LLM and a catalog in MOODTUNE_HOME)

Each run is a new Python process (nothing loaded, nothing cached in memory), which builds the
agent and calls warm_up: the parser's and the explainer's prompt prefixes read and kept, the
emotion readers, the taggers and the Whisper models loaded. Reports the seconds of each run, the
seconds llama-cpp-python's save_state took inside it, and the process's resident memory after.
Writes bench/results/NAME.json (default warm_up).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

from bench.common import write_results

_CHILD = """
import json, time
import llama_cpp
from agent.session import Moodtune
from bench.common import process_memory_mb
from moodtune.config import Settings

saving = []
original = llama_cpp.Llama.save_state
def timed_save_state(self):
    start = time.perf_counter()
    try:
        return original(self)
    finally:
        saving.append(time.perf_counter() - start)
llama_cpp.Llama.save_state = timed_save_state

start = time.perf_counter()
agent = Moodtune(Settings.load())
built = time.perf_counter() - start
agent.warm_up()
print(json.dumps({"build_s": built, "warm_up_s": time.perf_counter() - start - built,
                  "save_state_s": sum(saving), "save_states": len(saving), "memory_mb": process_memory_mb()}))
"""


def one_run() -> dict:
    done = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(*, runs: int = 2, name: str = "warm_up") -> dict:
    rows = [one_run() for _ in range(runs)]
    figures = {
        "runs": rows,
        "warm_up_s_median": round(float(np.median([r["warm_up_s"] for r in rows])), 2),
        "save_state_s_median": round(float(np.median([r["save_state_s"] for r in rows])), 2),
        "build_s_median": round(float(np.median([r["build_s"] for r in rows])), 2),
        "note": "wall seconds in a fresh process each run; warm_up_s includes save_state_s",
    }
    write_results(name, figures)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--name", default="warm_up")
    args = parser.parse_args()
    main(runs=args.runs, name=args.name)
