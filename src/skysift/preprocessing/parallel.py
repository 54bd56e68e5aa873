"""Preparation across worker processes, and the thread settings it runs under.

Preparing a store is independent chunk by chunk, so it scales across
cores as separate processes, each on one thread: the gp step's many small
batched factorisations and the blur step's small matrix products gain
nothing from a second intra-op or BLAS thread and lose up to 10x to
threads spinning when the cores are busy (seen on a shared 2-core VM: 280
against 3,300 light curves/s per core for the gp step). Workers are
started with ``spawn``: a forked copy of a process whose torch/OpenMP
threads are running can deadlock, and a fresh process imports only what it
needs (the onnx prediction engine stays torch-free).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from skysift.exceptions import SkysiftError

__all__ = ["imap_workers", "limit_blas", "one_torch_thread", "set_worker_threads"]


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the enclosed preparation with torch on one intra-op thread.

    Restores the previous setting afterwards; if the enclosed code imported
    torch itself, torch is left on one thread.
    """
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    if before is not None and before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        after = sys.modules.get("torch")
        if after is not None:
            after.set_num_threads(before if before is not None else 1)


def limit_blas() -> contextlib.AbstractContextManager:
    """Hold NumPy's BLAS to one thread (a no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ModuleNotFoundError:  # optional: only a speed matter
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def set_worker_threads(threads: int | None) -> None:
    """Size a fresh worker process's thread pools, before torch is imported.

    torch sizes its OpenMP pool from ``OMP_NUM_THREADS`` and
    ``MKL_NUM_THREADS`` when it starts (None leaves them as they are);
    Arrow's pool gets ``threads`` (at least 1).
    """
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
    import pyarrow as pa

    pa.set_cpu_count(max(1, threads or 1))


def imap_workers(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    workers: int,
    ordered: bool = True,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
    what: str = "a worker",
    advice: str = "",
) -> Iterator[Any]:
    """Yield ``fn(item)`` for every item, computed in worker processes.

    In item order, or with ``ordered=False`` as they finish (a slow item
    then holds nobody up). At most ``2 * workers`` items are in flight, so
    memory stays bounded by a few chunks whatever the length of ``items``.
    ``fn`` and ``initializer`` must be importable module-level functions
    (``spawn`` pickles them by name). A worker that dies (e.g. out of
    memory) raises :class:`~skysift.exceptions.SkysiftError` naming
    ``what`` was running, followed by ``advice``.
    """
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    context = multiprocessing.get_context("spawn")
    todo = iter(items)
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=initializer, initargs=initargs
    ) as pool:
        pending: deque = deque()
        try:
            for item in todo:
                pending.append(pool.submit(fn, item))
                if len(pending) >= 2 * workers:
                    break
            while pending:
                if ordered:
                    done = [pending.popleft()]
                else:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    pending = deque(f for f in pending if f not in done)
                for future in done:
                    try:
                        result = future.result()
                    except BrokenProcessPool as e:
                        raise SkysiftError(
                            f"{what} process died (out of memory? or, from a script, a "
                            "call with workers > 1 outside an `if __name__ == "
                            "'__main__':` block)" + (f"; {advice}" if advice else "")
                        ) from e
                    nxt = next(todo, None)
                    if nxt is not None:
                        pending.append(pool.submit(fn, nxt))
                    yield result
        except BaseException:
            for future in pending:
                future.cancel()
            raise
