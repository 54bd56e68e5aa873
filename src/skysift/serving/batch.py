"""Batch prediction over a store, chunk by chunk (SPEC F1).

The store is streamed; each chunk goes through the model's saved,
fitted preparation pipeline and the model, and its rows are appended to a
Parquet file: ``object_id``, ``prob_<class>`` per class, ``pred_class`` and
``pred_prob`` for a classifier, ``pred_<target>`` for a regressor. Objects
that cannot be prepared are written to ``<out>.rejected.csv`` with the
reason, so objects in = rows out + rejected.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["predict_store"]


def predict_store(
    model: Any,
    store: str | os.PathLike,
    out: str | os.PathLike,
    *,
    batch_size: int = 4096,
    device: str = "cpu",
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Classify every object of ``store`` and write the predictions to ``out``.

    Parameters
    ----------
    model : path-like or LoadedModel
        A run directory, a ``model.pt``, or a model loaded with
        :func:`skysift.training.load_model`.
    store : path-like
        A raw store of the kind the model was trained on, or a prepared store.
    out : path-like
        Parquet file to write.
    batch_size : int, default 4096
        Objects per chunk.
    device : str, default "cpu"
        Torch device.
    overwrite : bool, default False
        Replace an existing ``out``.
    progress : callable, optional
        Called with the number of objects read after each chunk.

    Returns
    -------
    dict
        ``n_in, n_out, n_rejected, seconds, objects_per_s, out`` and, for a
        classifier, ``class_counts`` (predicted top classes).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from skysift.io.store import open_store
    from skysift.preprocessing.pipeline import batch_from_arrow
    from skysift.training.checkpoint import LoadedModel, load_model
    from skysift.training.run import predict_arrays

    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; pass overwrite=True (--overwrite)")
    src = open_store(store)
    prepared = src.kind == "prepared"
    if not prepared and loaded.pipeline is not None and src.kind != loaded.pipeline.kind:
        raise ValueError(
            f"{src.path} holds {src.kind} but the model was trained on "
            f"{loaded.pipeline.kind}"
        )
    shape = tuple(src.info()["attrs"].get("input_shape", ())) if prepared else None
    names = loaded.class_names
    tmp = out.with_name(out.name + ".tmp")
    writer = None
    n_in = n_out = 0
    rejected: list[tuple[str, str]] = []
    counts = np.zeros(len(names) if names else 0, dtype=np.int64)
    t0 = time.perf_counter()
    try:
        for rb in src.iter_batches(batch_size=batch_size):
            n_in += rb.num_rows
            batch = batch_from_arrow(rb)
            if prepared:
                x = np.asarray(batch["x"], dtype=np.float32).reshape((rb.num_rows, *shape))
                extra = np.asarray(batch["extra"], dtype=np.float32).reshape(rb.num_rows, -1)
                ids = np.asarray(batch["object_id"]).astype(str)
            else:
                batch = loaded.pipeline.transform(batch, drop_bad=True)
                rejected += batch["rejected"]
                x = batch["x"]
                extra = np.asarray(batch.get("extra", np.zeros((len(x), 0))), np.float32)
                ids = np.asarray(batch["object_id"]).astype(str)
            if len(x) == 0:
                continue
            result = predict_arrays(loaded.model, x, extra, device=device)
            columns: dict[str, Any] = {"object_id": pa.array(ids)}
            if names:
                for i, name in enumerate(names):
                    columns[f"prob_{name}"] = pa.array(result[:, i].astype(np.float32))
                top = result.argmax(1)
                counts += np.bincount(top, minlength=len(names))
                columns["pred_class"] = pa.array(np.asarray(names)[top])
                columns["pred_prob"] = pa.array(result.max(1).astype(np.float32))
            else:
                columns[f"pred_{loaded.target}"] = pa.array(result.astype(np.float32))
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table)
            n_out += len(ids)
            if progress is not None:
                progress(rb.num_rows)
        if writer is None:  # nothing predicted: still write an empty, valid file
            empty = {"object_id": pa.array([], pa.string())}
            pq.write_table(pa.table(empty), tmp)
        else:
            writer.close()
            writer = None
        tmp.replace(out)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    if rejected:
        with open(out.with_name(out.name + ".rejected.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["object_id", "reason"])
            w.writerows(rejected)
    seconds = time.perf_counter() - t0
    summary: dict[str, Any] = {
        "n_in": n_in,
        "n_out": n_out,
        "n_rejected": len(rejected),
        "seconds": round(seconds, 3),
        "objects_per_s": n_in / seconds if seconds > 0 else float("nan"),
        "out": str(out),
    }
    if names:
        summary["class_counts"] = {n: int(c) for n, c in zip(names, counts, strict=True)}
    return summary
