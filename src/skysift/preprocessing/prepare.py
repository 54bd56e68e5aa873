"""Run a preparation pipeline over a whole store, chunk by chunk.

The output is a ``prepared`` store (model-ready ``x`` and ``extra`` arrays
per object, labels and redshifts carried over) with the fitted pipeline saved
beside the data as ``_pipeline.json``; objects that cannot be prepared are
listed with the reason in ``_rejected.csv`` and counted in the manifest.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from skysift.exceptions import DataFormatError
from skysift.io.rejects import REJECTED_FILE, write_rejects
from skysift.preprocessing.parallel import (
    imap_workers,
    limit_blas,
    one_torch_thread,
    set_worker_threads,
)
from skysift.preprocessing.pipeline import Batch, Pipeline, batch_from_arrow

__all__ = [
    "PIPELINE_FILE",
    "REJECTED_FILE",
    "auto_workers",
    "iter_prepared",
    "prepare_store",
    "transform_batches",
]

PIPELINE_FILE = "_pipeline.json"
_CARRIED = ("object_id", "label", "redshift", "redshift_err")


def iter_prepared(
    store: Any,
    pipeline: Pipeline,
    *,
    batch_size: int = 4096,
    drop_bad: bool = True,
) -> Iterator[Batch]:
    """Stream ``store`` through a fitted ``pipeline``, one batch at a time.

    Yields
    ------
    dict
        The prepared batch: ``x``, optionally ``extra``, the carried columns
        (``object_id, label, redshift, redshift_err``) and ``rejected``.
    """
    if store.kind != pipeline.kind:
        raise DataFormatError(
            f"{store.path}: the pipeline prepares {pipeline.kind}, the store "
            f"holds {store.kind}"
        )
    for record_batch in store.iter_batches(batch_size=batch_size):
        yield pipeline.transform(batch_from_arrow(record_batch), drop_bad=drop_bad)


def _fit_sample(store: Any, size: int) -> Batch:
    """Return the first ``size`` objects of a store as one batch."""
    for record_batch in store.iter_batches(batch_size=size):
        return batch_from_arrow(record_batch)
    raise DataFormatError(f"{store.path}: the store is empty; nothing to prepare")


def _transform(pipeline: Pipeline, batch: Batch) -> Batch:
    """``pipeline.transform(batch, drop_bad=True)`` with torch and NumPy's BLAS on one thread.

    See :mod:`skysift.preprocessing.parallel` for why one thread.
    """
    with one_torch_thread(), limit_blas():
        return pipeline.transform(batch, drop_bad=True)


def _prepare_chunk(pipeline: Pipeline, record_batch: Any) -> dict[str, Any]:
    """Prepare one chunk of a store: the columns to write, and the rejects."""
    batch = _transform(pipeline, batch_from_arrow(record_batch))
    x = batch["x"]
    out: dict[str, Any] = {"n": record_batch.num_rows, "rejected": batch["rejected"],
                           "columns": None}
    if len(x):
        extra = np.asarray(batch.get("extra", np.zeros((len(x), 0))), dtype=np.float32)
        columns = {k: batch[k] for k in _CARRIED if k in batch}
        # per-object diagnostics added by steps (e.g. the GP's fit flags and
        # hyperparameters) travel with the prepared data
        columns.update(
            {
                k: v
                for k, v in batch.items()
                if k.startswith("gp_")
                and isinstance(v, np.ndarray)
                and v.ndim == 1
                and len(v) == len(x)
            }
        )
        columns["x"] = x.reshape(len(x), -1)
        columns["extra"] = extra
        out.update(columns=columns, input_shape=tuple(int(d) for d in x.shape[1:]),
                   n_extra=extra.shape[1])
    return out


def auto_workers(pipeline: Pipeline, n_objects: int, batch_size: int = 4096) -> int:
    """Worker processes :func:`prepare_store` uses by default (the result does not depend on it).

    A pipeline with the gp step (about a millisecond per light curve and
    core) gets one process per available core, up to one per chunk and at
    most 8; lighter pipelines are not worth starting processes for. Measured
    on SNPCC (21,319 light curves, 2-core VM; benchmarks/RESULTS.md): two
    workers 1.6x one, and still 1.1x with the other core busy, where torch's
    own two threads fell to 0.13x.
    """
    if not any(step.step_name == "gp" for step in pipeline.steps):
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, -(-n_objects // batch_size), 8))


_WORKER_PIPELINE: list[Pipeline] = []


def _worker_init(pipeline: dict[str, Any]) -> None:
    set_worker_threads(1)
    _WORKER_PIPELINE[:] = [Pipeline.from_dict(pipeline)]


def _worker_prepare(record_batch: Any) -> dict[str, Any]:
    return _prepare_chunk(_WORKER_PIPELINE[0], record_batch)


def _worker_transform(batch: Batch) -> Batch:
    out = _transform(_WORKER_PIPELINE[0], batch)
    return {k: out[k] for k in ("x", "extra", "object_id", "rejected") if k in out}


def transform_batches(
    pipeline: Pipeline, batches: Iterator[Batch], *, workers: int = 1
) -> Iterator[Batch]:
    """Yield ``pipeline.transform(batch, drop_bad=True)`` for each batch, in order.

    Every batch is prepared on one thread (see
    :mod:`skysift.preprocessing.parallel`); with ``workers > 1`` in that many
    processes, and only ``x``, ``extra``, ``object_id`` and ``rejected`` come
    back. The values are the same either way.
    """
    if workers == 1:
        for batch in batches:
            yield _transform(pipeline, batch)
        return
    yield from imap_workers(_worker_transform, batches, workers=workers,
                            initializer=_worker_init, initargs=(pipeline.to_dict(),),
                            what="a preparation worker")


def prepare_store(
    source: str | os.PathLike,
    out: str | os.PathLike,
    pipeline: Pipeline,
    *,
    fit: bool = True,
    fit_size: int = 20_000,
    batch_size: int = 4096,
    overwrite: bool = False,
    progress: Any = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Prepare every object of the store ``source`` into the store ``out``.

    Parameters
    ----------
    source, out : path-like
        Input store (spectra or light curves) and the prepared store to write.
    pipeline : Pipeline
        The steps. Unfitted stateful steps are fitted on the first
        ``fit_size`` objects of ``source`` when ``fit`` is True (prepare the
        training set this way, then the test set with the saved pipeline and
        ``fit=False``).
    fit : bool, default True
        Fit the pipeline before transforming.
    fit_size : int, default 20000
        Objects used to fit.
    batch_size : int, default 4096
        Objects per chunk; memory use is bounded by one chunk (per worker).
    overwrite : bool, default False
        Replace an existing ``out``.
    progress : callable, optional
        Called with the number of objects read after each chunk.
    workers : int, optional
        Processes preparing chunks at once, each on one thread (the
        pipeline is fitted first, in this process); by default
        :func:`auto_workers` (one per core for the gp step, else 1). The
        result is the same, row for row, whatever the number: the chunks
        are the same and are written in store order. From a script, call it
        under ``if __name__ == "__main__":`` when it may start workers.

    Returns
    -------
    dict
        ``n_in, n_out, n_rejected, input_shape, n_extra, store`` with
        ``n_in == n_out + n_rejected``.
    """
    from skysift.io.store import StoreWriter, open_store

    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ValueError(f"workers must be an integer >= 1 or None, got {workers!r}")
    src = open_store(source)
    if workers is None:
        workers = auto_workers(pipeline, src.n_objects, batch_size)
    # a pipeline with nothing to learn (e.g. the per-object GP) is not run an
    # extra time over the fitting sample
    if fit and any(step.stateful for step in pipeline.steps):
        pipeline.fit(_fit_sample(src, fit_size))
    chunks = src.iter_batches(batch_size=batch_size)
    if workers == 1:
        prepared = (_prepare_chunk(pipeline, rb) for rb in chunks)
    else:
        prepared = imap_workers(_worker_prepare, chunks, workers=workers,
                                initializer=_worker_init, initargs=(pipeline.to_dict(),),
                                what="a preparation worker")
    n_in = n_out = 0
    rejected: list[tuple[str, str]] = []
    input_shape: tuple[int, ...] | None = None
    n_extra = 0
    writer = StoreWriter(out, kind="prepared", overwrite=overwrite)
    try:
        for chunk in prepared:
            n_in += chunk["n"]
            rejected += chunk["rejected"]
            if chunk["columns"] is not None:
                input_shape, n_extra = chunk["input_shape"], chunk["n_extra"]
                writer.write(chunk["columns"])
                n_out += len(chunk["columns"]["x"])
            if progress is not None:
                progress(chunk["n"])
        writer.attrs.update(
            {
                "input_shape": list(input_shape or ()),
                "n_extra": n_extra,
                "source": str(src.path),
                "source_kind": src.kind,
                "n_in": n_in,
                "n_rejected": len(rejected),
                "pipeline": pipeline.to_dict(),
            }
        )
        store = writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        if hasattr(prepared, "close"):
            prepared.close()  # stops the workers on an error
    pipeline.save(Path(out) / PIPELINE_FILE)
    if rejected:
        write_rejects(Path(out) / REJECTED_FILE, rejected)
    assert n_in == n_out + len(rejected)  # internal invariant, not user input
    return {
        "n_in": n_in,
        "n_out": n_out,
        "n_rejected": len(rejected),
        "input_shape": list(input_shape or ()),
        "n_extra": n_extra,
        "store": store,
    }
