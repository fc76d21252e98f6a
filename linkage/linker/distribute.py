"""Where the parts of B are scored: one after another in this process, or as tasks on a Dask cluster.

A link is a sum over parts of B (rows ``start:stop``): each part is scored against all of A
and the parts' results are merged as they arrive, in whatever order, into exactly what one
pass over all of B gives (:class:`~linkage.linker.score.ScoreMerge`). So the same job runs on
one core, on a laptop's cores or on a cluster, with identical results.

Dask is optional (``pip install 'linkage[dask]'``) and imported only here, only when asked
for. Workers read their parts of an encoded file themselves (the file must be at the same
absolute path on every worker: a shared file system); A, and what blocking needs of it (its
sample, its buckets in each band or key), is sent to each worker once, and so is B when it
is held in memory rather than opened from a file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import InputError

__all__ = ["Cluster", "Runner", "open_runner", "part_rows", "task_threads"]

_INSTALL = "pip install 'linkage[dask]'"
_KERNEL_LOCK = threading.Lock()  # one compiled parallel kernel at a time per process


@contextlib.contextmanager
def task_threads(threads: int | None) -> Iterator[None]:
    """Run a task's compiled kernels on ``threads`` threads (None: all), one task at a time per process.

    A Dask worker may run several tasks at once in threads; numba's thread pool serves one
    parallel kernel at a time, so tasks take turns and each uses the worker's threads.
    """
    from ..compiled import numba

    with _KERNEL_LOCK:
        if numba is None or threads is None:
            yield
            return
        before = numba.get_num_threads()
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
        try:
            yield
        finally:
            numba.set_num_threads(before)


@dataclass(frozen=True)
class Cluster:
    """Dask settings: ``workers`` local worker processes, or the cluster at ``scheduler`` (an address).

    ``threads`` per local worker (None: the machine's cores shared among the workers);
    ``timeout``: seconds to wait for the scheduler.
    """

    workers: int | None = None
    scheduler: str | None = None
    threads: int | None = None
    timeout: float = 20.0

    def __post_init__(self) -> None:
        if self.workers is not None and self.scheduler is not None:
            raise InputError("give --workers (a local cluster) or --scheduler (an existing one), not both")
        if self.workers is not None and (isinstance(self.workers, bool) or self.workers < 1):
            raise InputError("--workers must be at least 1")
        if self.threads is not None and self.threads < 1:
            raise InputError("threads per worker must be at least 1")
        if self.threads is not None and self.workers is None:
            raise InputError("--worker-threads is for a local cluster: give --workers too")

    @property
    def used(self) -> bool:
        return self.workers is not None or self.scheduler is not None


def part_rows(n_b: int, *, lists: int = 1, workers: int = 1, most: int = 1 << 20) -> int:
    """Rows of B per part: at most ``most``, at most what the sorted buckets of ``lists`` lists
    (bands or blocking keys) hold in 256 MiB (beside the part's filters, 128 MiB a million
    1,024-bit rows), and few enough that each of ``workers`` gets two parts."""
    rows = min(most, max(1 << 15, (1 << 28) // (16 * max(lists, 1))))
    if workers > 1:
        rows = min(rows, max(4096, -(-n_b // (2 * workers))))
    return max(1, rows)


class Runner:
    """Runs a function over parts: in this process, one after another (the default)."""

    where = "this process"

    def share(self, obj: Any) -> Any:
        """``obj`` as the tasks will receive it (on a cluster: sent to every worker once)."""
        return obj

    def map(self, fn: Callable[..., Any], items: Iterable[Any], *args: Any) -> Iterator[Any]:
        """``fn(item, *args)`` for each item, yielded as each finishes (any order on a cluster)."""
        for item in items:
            yield fn(item, *args)

    @property
    def threads(self) -> int | None:
        """Threads each task may use (None: all of this machine's)."""
        return None

    @property
    def workers(self) -> int:
        """Tasks that run at once."""
        return 1

    def describe(self) -> dict[str, Any]:
        return {"engine": "local"}


class _DaskRunner(Runner):
    """Parts as Dask tasks; results gathered as they complete."""

    def __init__(self, client: Any, description: dict[str, Any], threads: int | None = None) -> None:
        self.client = client
        self.description = description
        info = client.scheduler_info().get("workers", {})
        counts = [int(w.get("nthreads", 1)) for w in info.values()]
        self._threads = threads or (min(counts) if counts else None)
        self.where = description["engine"]

    def share(self, obj: Any) -> Any:
        return self.client.scatter(obj, broadcast=True, hash=False)

    def map(self, fn: Callable[..., Any], items: Iterable[Any], *args: Any) -> Iterator[Any]:
        import distributed
        from distributed import as_completed

        futures = [self.client.submit(fn, item, *args, pure=False) for item in items]
        try:
            for future in as_completed(futures):
                try:
                    result = future.result()
                except (distributed.KilledWorker, distributed.comm.CommClosedError, TimeoutError, OSError):
                    raise InputError(f"the Dask cluster ({self.where}) lost a task's worker or has none; check its "
                                     "workers (memory, the encoded file at the same path on each) and run again"
                                     ) from None
                yield result
                future.release()
        finally:
            for future in futures:
                future.cancel()

    @property
    def threads(self) -> int | None:
        return self._threads

    @property
    def workers(self) -> int:
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def describe(self) -> dict[str, Any]:
        return dict(self.description)


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise InputError(f"--workers and --scheduler need Dask, which is not installed here: {_INSTALL}") from None
    return distributed


@contextlib.contextmanager
def open_runner(cluster: Cluster | None = None) -> Iterator[Runner]:
    """A runner for ``cluster``: this process when None or unused; else a local or existing Dask cluster."""
    if cluster is None or not cluster.used:
        yield Runner()
        return
    distributed = _import_distributed()
    if cluster.scheduler is not None:
        try:
            client = distributed.Client(cluster.scheduler, timeout=cluster.timeout)
        except (OSError, TimeoutError, ValueError):
            raise InputError(f"could not reach a Dask scheduler at {cluster.scheduler}") from None
        with client:
            n = len(client.scheduler_info().get("workers", {}))
            yield _DaskRunner(client, {"engine": "dask", "scheduler": cluster.scheduler, "workers": n})
        return
    # One task at a time per worker process; its kernels use the worker's share of the cores.
    threads = cluster.threads or max(1, (os.cpu_count() or 1) // cluster.workers)
    with distributed.LocalCluster(n_workers=cluster.workers, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.ERROR) as local, \
            distributed.Client(local) as client:
        yield _DaskRunner(client, {"engine": "dask", "scheduler": "local", "workers": cluster.workers,
                                   "threads_per_worker": threads}, threads=threads)
