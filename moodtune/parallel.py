"""One way to start worker processes, for every parallel job (rendering, audio analysis)."""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor


def process_pool(workers: int, *, analyses_audio: bool = False) -> ProcessPoolExecutor:
    """A pool of `workers` spawned processes; with `analyses_audio`, the JIT cache is warmed first.

    spawn, not fork: the parent may hold torch threads, and forking those can deadlock.
    """
    if analyses_audio:
        from tools.audio_features import warm_up_jit_cache

        warm_up_jit_cache()
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers, initializer=_quiet_worker, mp_context=context)


def _quiet_worker() -> None:
    # Each worker is one of several on few cores: one BLAS thread each, and no JIT chatter.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.getLogger("numba").setLevel(logging.WARNING)
