"""The distributed engine: Dask distributed, for ingestion's audio analysis on other machines.

`moodtune ingest PATH --cluster tcp://HOST:8786` sends each file's analysis to the workers of a
Dask scheduler instead of local processes (`moodtune/parallel.py`); everything else of
ingestion (ids, resuming, failures, the text models, the store writes) stays in the process
that ingests. Optional: `pip install -e ".[cluster]"`.

Why Dask and not Ray: the work is coarse (seconds of CPU a file), so Ray's lower per-task
overhead buys nothing, while Dask is pure Python (dask + distributed, a few MB; Ray is a
~70 MB wheel with a raylet, a GCS server and an object store per node, memory a 2-core node
needs for the models), starts a scheduler and a worker with one command each, and gives the
test a real two-process cluster on loopback in seconds (`LocalCluster`). What we use of it:
`submit` / `as_completed`, a `WorkerPlugin`, and the scheduler's own recovery: the tasks of a
worker that dies are run again on another (up to `distributed.scheduler.allowed-failures`
times, then the file is reported failed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from moodtune.errors import ClusterError

log = logging.getLogger(__name__)

PLUGIN_NAME = "moodtune-analysis"
# Tasks in flight per worker thread: one running, one waiting with its file already sent.
IN_FLIGHT_PER_THREAD = 2
CONNECT_HINT = (
    "start a scheduler with `dask scheduler --host HOST` and workers with "
    "`OMP_NUM_THREADS=1 dask worker tcp://HOST:8786 --nthreads 1` (README: Deployment), "
    "or leave out --cluster / MOODTUNE_CLUSTER to analyse on this machine"
)


def _distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ClusterError(
            "--cluster needs Dask distributed, which is not installed",
            hint='pip install -e ".[cluster]"',
        ) from exc
    return distributed


def analysis_plugin():
    """A worker plugin: one torch and one BLAS thread in each worker process, set when it starts.

    Dask runs a task in a worker's thread pool; torch and OpenBLAS would otherwise start a
    thread per core in every worker, and workers sharing a node would fight over its cores.
    The models themselves load on a worker's first file and stay loaded (tools/style.py keeps
    them per process), so each worker loads them once.
    """
    distributed = _distributed()

    class AnalysisWorker(distributed.WorkerPlugin):
        def setup(self, worker) -> None:
            from catalog.ingest import _one_thread_per_worker

            _one_thread_per_worker(force=True)

    return AnalysisWorker()


def connect(address: str, *, timeout: float = 30.0):
    """A Dask client of the scheduler at `address`, with at least one worker and the analysis plugin."""
    distributed = _distributed()
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # distributed raises OSError / TimeoutError / CommClosedError
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}", hint=CONNECT_HINT) from exc
    try:
        client.wait_for_workers(1, timeout=timeout)
        client.register_plugin(analysis_plugin(), name=PLUGIN_NAME)
    except Exception as exc:
        client.close()
        raise ClusterError(f"the Dask scheduler at {address} has no usable worker: {exc}", hint=CONNECT_HINT) from exc
    return client


def worker_threads(client) -> int:
    return max(1, sum(client.nthreads().values()))


def map_unordered(
    client,
    fn: Callable[..., Any],
    keys: Iterable[str],
    args_for: Callable[[str], tuple],
    *,
    window: int | None = None,
) -> Iterator[tuple[str, Any, BaseException | None]]:
    """`fn(*args_for(key))` on the cluster for each key; (key, result, None) as each finishes.

    At most `window` tasks are in flight (default: IN_FLIGHT_PER_THREAD per worker thread), and
    `args_for` is called only when its task is sent, so a library of large files is never held
    in memory at once. A task the cluster gave up on (its workers kept dying) comes back as
    (key, None, exception); the others go on.
    """
    distributed = _distributed()
    window = window or IN_FLIGHT_PER_THREAD * worker_threads(client)
    pending = iter(keys)
    futures: dict[Any, str] = {}
    unsent: list[tuple[str, BaseException]] = []  # keys whose arguments could not be made (a file gone)
    finished = distributed.as_completed(loop=client.loop)  # set_as_default=False: no default client to find

    def send_next() -> None:
        for key in pending:
            try:
                args = args_for(key)
            except OSError as exc:
                unsent.append((key, exc))
                continue
            # pure=False: a fresh task each time, never a result cached from another run.
            future = client.submit(fn, *args, pure=False)
            futures[future] = key
            finished.add(future)
            return

    for _ in range(window):
        send_next()
    while unsent or futures:
        while unsent:
            key, error = unsent.pop()
            yield key, None, error
        if not futures:
            break
        future = next(finished)
        key = futures.pop(future)
        if future.status == "error":
            error = future.exception()
            log.warning("the cluster gave up on %s: %s", key, error)
            yield key, None, error
        else:
            yield key, future.result(), None
        future.release()
        send_next()
