"""Batch prediction over a store, chunk by chunk, resumable (SPEC F1, F2, G1).

The store is cut into chunks of ``batch_size`` consecutive objects. Each
chunk is read (only the Parquet row groups it covers), goes through the
model's saved, fitted preparation pipeline and the model, and its rows are
written as one numbered Parquet file into ``<out>.partial/``; when every
chunk is done they are joined, in store order, into ``out``: ``object_id``,
``prob_<class>`` per class, ``pred_class`` and ``pred_prob`` for a
classifier, ``pred_<target>`` for a regressor. Objects that cannot be read
or prepared are listed in ``<out>.rejected.csv`` with the reason, so
objects in = rows out + rejected, and every object id appears exactly once.

Resuming: a chunk file appears (atomically renamed) only once its chunk is
complete, so a run killed at any point leaves whole chunks behind; running
the same job again skips them and produces the same ``out``, row for row,
as an uninterrupted run. ``<out>.partial/job.json`` records the job (model
file hash, store manifest hash, batch size, engine) and a different job is
refused rather than mixed in.

Engines: ``"torch"`` runs the model file; ``"onnx"`` runs an exported
``.onnx`` file with onnxruntime and does not import torch (given a run
directory instead, it exports the model once into a cache directory).
``workers > 1`` processes chunks in that many worker processes, each reading,
preparing and predicting its own chunks with ``threads`` threads.

Preparation runs with NumPy's BLAS held to one thread: the blur step is
made of many small matrix products, for which a second BLAS thread on a
busy machine costs far more in spinning than it gains (10x slower seen on
a shared 2-core VM).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skysift.exceptions import DataFormatError, SkysiftError
from skysift.preprocessing.parallel import (
    imap_workers,
    limit_blas,
    one_torch_thread,
    set_worker_threads,
)

__all__ = ["ENGINES", "check_model_store", "predict_store", "prepare_records"]

#: Inference engines of :func:`predict_store`.
ENGINES = ("torch", "onnx")
_JOB_FORMAT = "skysift-predict-partial"
_CHUNK_META = b"skysift_chunk"
_CHUNK_NAME = re.compile(r"^chunk-(\d{6,})\.parquet$")
#: Objects prepared up front to check that the model can read the store.
_TRIAL_ROWS = 256
#: Errors of a preparation step that mean "this object cannot be prepared"
#: (bad values, wrong layout); anything else is a bug and propagates.
_PREPARE_ERRORS = (ValueError, ArithmeticError, IndexError)


# --------------------------------------------------------------------------
# models: one interface over a torch model file and an ONNX file


@dataclass
class _Engine:
    """What prediction needs from a model, whatever runs it."""

    name: str
    model: Any  # LoadedModel or OnnxModel
    predict: Callable[[np.ndarray, np.ndarray | None], np.ndarray]

    @property
    def pipeline(self):
        return self.model.pipeline

    @property
    def class_names(self) -> list[str] | None:
        return self.model.class_names


def _default_cache_dir() -> Path:
    base = os.environ.get("SKYSIFT_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return Path(xdg) / "skysift"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _model_file(model: Any) -> Path | None:
    """Return the file behind a model argument (None for an in-memory model)."""
    if isinstance(model, str | os.PathLike):
        path = Path(model)
        if path.is_dir():
            path = path / "model.pt"
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: no such model file (train one with skysift train)"
            )
        return path
    return None


def _is_onnx_file(path: Path | None) -> bool:
    return path is not None and path.suffix.lower() == ".onnx"


def _cached_onnx(model_pt: Path, cache_dir: Path) -> Path:
    """Export ``model_pt`` once into the cache and return the ONNX file."""
    from skysift.compression.onnx import ONNX_FORMAT_VERSION, export_onnx

    digest = _file_sha256(model_pt)[:20]
    path = cache_dir / "onnx" / f"{digest}-v{ONNX_FORMAT_VERSION}.onnx"
    if not path.exists():
        export_onnx(model_pt, path, overwrite=True)
    return path


def _set_torch_threads(threads: int | None) -> None:
    if threads is not None:
        import torch

        torch.set_num_threads(int(threads))


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _open_engine(
    engine: str, model: Any, *, device: str, threads: int | None, infer_batch: int
) -> _Engine:
    """Load a model for ``engine`` (in the calling process)."""
    if engine == "onnx":
        from skysift.serving.onnx_engine import load_onnx_model

        onnx_model = load_onnx_model(model, device=device, threads=threads)

        def predict_onnx(x, extra):
            return onnx_model.predict(x, extra, batch_size=infer_batch)

        return _Engine("onnx", onnx_model, predict_onnx)
    from skysift.training.checkpoint import LoadedModel, load_model
    from skysift.training.run import predict_arrays

    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    _set_torch_threads(threads)
    uses_extra = loaded.num_extra_features > 0

    def predict_torch(x, extra):
        return predict_arrays(
            loaded.model,
            x,
            extra if uses_extra else None,
            device=device,
            batch_size=infer_batch,
        )

    return _Engine("torch", loaded, predict_torch)


# --------------------------------------------------------------------------
# preparation


def _model_input_shape(model: Any) -> tuple[int, ...]:
    shape = tuple(getattr(model, "input_shape", ()) or ())
    if not shape and hasattr(model, "model"):
        shape = tuple(getattr(model.model, "input_shape", ()) or ())
    return shape


def _num_outputs(model: Any) -> int | None:
    net = getattr(model, "model", None)
    if net is not None and hasattr(net, "num_classes"):
        return int(net.num_classes)
    session = getattr(model, "session", None)
    if session is not None:
        shape = session.get_outputs()[0].shape
        return shape[1] if len(shape) == 2 and isinstance(shape[1], int) else None
    return None


def _concat_prepared(
    parts: list[dict[str, Any]], shape: tuple[int, ...]
) -> dict[str, Any]:
    """Join prepared pieces (ids, x, extra, rejected) in order."""
    rejected = [r for p in parts for r in p["rejected"]]
    kept = [p for p in parts if len(p["x"])]
    if not kept:
        return {
            "object_id": np.zeros(0, dtype=object),
            "x": np.zeros((0, *shape), np.float32),
            "extra": np.zeros((0, 0), np.float32),
            "rejected": rejected,
        }
    return {
        "object_id": np.concatenate([p["object_id"] for p in kept]),
        "x": np.concatenate([p["x"] for p in kept]),
        "extra": np.concatenate([p["extra"] for p in kept]),
        "rejected": rejected,
    }


def _prepare_once(table, pipeline, prepared_shape) -> dict[str, Any]:
    from skysift.preprocessing.pipeline import batch_from_arrow

    n = table.num_rows
    batch = batch_from_arrow(table)
    if prepared_shape is not None:
        x = np.asarray(batch["x"], dtype=np.float32).reshape((n, *prepared_shape))
        extra = np.asarray(batch["extra"], dtype=np.float32).reshape(n, -1)
        ids = np.asarray(batch["object_id"]).astype(str)
        finite = np.isfinite(x.reshape(n, -1)).all(axis=1) & np.isfinite(extra).all(
            axis=1
        )
        rejected = [
            (i, "non-finite values in the prepared store") for i in ids[~finite]
        ]
        return {
            "object_id": ids[finite],
            "x": x[finite],
            "extra": extra[finite],
            "rejected": rejected,
        }
    out = pipeline.transform(batch, drop_bad=True)
    x = out["x"]
    extra = out.get("extra")
    extra = (
        np.zeros((len(x), 0), np.float32)
        if extra is None
        else np.asarray(extra, np.float32).reshape(len(x), -1)
    )
    return {
        "object_id": np.asarray(out["object_id"]).astype(str),
        "x": x,
        "extra": extra,
        "rejected": [(str(i), str(r)) for i, r in out["rejected"]],
    }


def prepare_records(
    records: Any, pipeline: Any = None, *, prepared_shape: tuple[int, ...] | None = None
) -> dict[str, Any]:
    """Turn store rows into model inputs, rejecting what cannot be prepared.

    If the pipeline fails on the rows as a whole (a step raises on some
    object), the rows are split in halves recursively until the failing
    objects are isolated; they are rejected with the error message and the
    others prepared as usual, with the same result they would have had in
    one batch (every step treats objects independently).

    Parameters
    ----------
    records : pyarrow.Table or pyarrow.RecordBatch
        Rows read from a store.
    pipeline : skysift.preprocessing.Pipeline, optional
        The model's fitted pipeline; not used for a prepared store.
    prepared_shape : tuple of int, optional
        For rows of a prepared store: the shape of one input (the store's
        ``input_shape`` attribute).

    Returns
    -------
    dict
        ``object_id`` (N,), ``x`` (N, ...) float32, ``extra`` (N, R) float32
        and ``rejected``: a list of ``(object_id, reason)`` pairs, so that N
        + len(rejected) is the number of rows in.

    Examples
    --------
    >>> import numpy as np, pyarrow as pa
    >>> from skysift.io.store import table_from_columns
    >>> from skysift.preprocessing import Pipeline
    >>> wl = np.linspace(6500.0, 6750.0, 150)
    >>> rows = table_from_columns("spectra", {
    ...     "object_id": ["a", "b"], "wavelength_aa": np.stack([wl, wl]),
    ...     "flux": np.stack([np.sin(wl), np.full(150, np.nan)]).astype(np.float32),
    ...     "ivar": np.ones((2, 150), np.float32), "mask": np.zeros((2, 150), bool)})
    >>> pipe = Pipeline.from_config({"kind": "spectra", "steps": [
    ...     {"regrid": {"start_aa": 6519.0, "stop_aa": 6732.0, "num": 140}}, "standardize"]})
    >>> out = prepare_records(rows, pipe)
    >>> out["x"].shape, out["rejected"]
    ((1, 1, 140), [('b', 'non-finite values after preparation')])
    """
    import pyarrow as pa

    table = (
        records if isinstance(records, pa.Table) else pa.Table.from_batches([records])
    )
    if prepared_shape is None and pipeline is None:
        raise ValueError(
            "a raw store needs the model's preparation pipeline; this model has "
            "none (it was trained on a prepared store): give a prepared store"
        )
    shape = tuple(prepared_shape or ())

    def run(piece) -> list[dict[str, Any]]:
        try:
            return [_prepare_once(piece, pipeline, prepared_shape)]
        except _PREPARE_ERRORS as e:
            if piece.num_rows == 1:
                oid = str(piece.column("object_id")[0].as_py())
                reason = f"preparation failed: {type(e).__name__}: {e}"
                return [
                    {
                        "object_id": np.zeros(0, dtype=object),
                        "x": np.zeros((0, *shape), np.float32),
                        "extra": np.zeros((0, 0), np.float32),
                        "rejected": [(oid, reason.replace("\n", " "))],
                    }
                ]
            half = piece.num_rows // 2
            return run(piece.slice(0, half)) + run(piece.slice(half))

    if table.num_rows == 0:
        return _concat_prepared([], shape)
    return _concat_prepared(run(table), shape)


def check_model_store(model: Any, store: Any, *, model_path: Any = None) -> None:
    """Refuse, before any work, a store the model cannot read.

    Checks the store kind against the model's pipeline (or, for a prepared
    store, its input shape against the model's), that a classifier has its
    class names, and prepares the first objects: if none can be prepared,
    or the prepared inputs do not have the shape the model takes, the
    store is refused.

    Parameters
    ----------
    model : LoadedModel or OnnxModel
    store : skysift.io.store.Store
    model_path : path-like, optional
        The model's file, named in the messages.

    Raises
    ------
    DataFormatError
        Naming the store (and model file where known) and what does not match.
    """
    where = model_path or getattr(model, "path", None) or "in memory"
    expected = _model_input_shape(model)
    if model.task == "classification":
        names = model.class_names
        outputs = _num_outputs(model)
        if not names or (outputs is not None and len(names) != outputs):
            raise DataFormatError(
                f"{where}: the model file has {len(names or [])} class names for "
                f"{outputs} outputs; it cannot label its predictions (re-save it "
                "with save_model(class_names=...))"
            )
    prepared_shape = None
    if store.kind == "prepared":
        prepared_shape = tuple(store.info()["attrs"].get("input_shape", ()))
        if not prepared_shape:
            raise DataFormatError(f"{store.path}: a prepared store without input_shape")
        if expected and prepared_shape != expected:
            raise DataFormatError(
                f"{store.path}: prepared inputs of shape {prepared_shape}, but the "
                f"model {where} takes {expected}"
            )
    elif model.pipeline is None:
        raise DataFormatError(
            f"{where}: the model has no preparation pipeline, so it reads only "
            f"prepared stores; {store.path} holds raw {store.kind}"
        )
    elif store.kind != model.pipeline.kind:
        raise DataFormatError(
            f"{store.path} holds {store.kind} but the model {where} was trained "
            f"on {model.pipeline.kind}"
        )
    first = None
    for chunk in _plan_chunks(store, _TRIAL_ROWS)[:8]:  # the first readable rows
        first = _read_chunk_robust(chunk)[0]
        if first is not None and first.num_rows:
            break
    if first is None:  # empty, or unreadable: the run will reject, with reasons
        return
    with one_torch_thread():
        trial = prepare_records(first, model.pipeline, prepared_shape=prepared_shape)
    if not len(trial["x"]):
        reasons = sorted({r for _, r in trial["rejected"]})
        raise DataFormatError(
            f"{store.path}: none of the first {first.num_rows} objects can be "
            f"prepared for the model {where}: {'; '.join(reasons[:3])}"
        )
    got = tuple(trial["x"].shape[1:])
    if expected and got != expected:
        raise DataFormatError(
            f"{store.path}: the preparation makes inputs of shape {got} but the "
            f"model {where} takes {expected}"
        )
    n_extra = int(model.num_extra_features)
    if trial["extra"].shape[1] != n_extra:
        raise DataFormatError(
            f"{store.path}: the preparation gives {trial['extra'].shape[1]} extra "
            f"feature(s) per object but the model {where} takes {n_extra}"
        )


# --------------------------------------------------------------------------
# chunks: row ranges of the store, read by row group


@dataclass(frozen=True)
class _Chunk:
    """Rows [start, stop) of the store: the row groups covering them."""

    index: int
    start: int
    stop: int
    pieces: tuple[tuple[str, tuple[int, ...]], ...]  # (part file, row groups)
    skip: int  # rows of the first row group before ``start``


def _plan_chunks(store: Any, batch_size: int) -> list[_Chunk]:
    import pyarrow.parquet as pq

    groups: list[tuple[str, int, int, int]] = []  # (part, row group, first row, rows)
    row = 0
    for part in store.part_paths:
        try:
            meta = pq.read_metadata(part)
        except Exception as e:
            raise DataFormatError(
                f"{part}: cannot read the Parquet footer ({e})"
            ) from e
        for rg in range(meta.num_row_groups):
            n = meta.row_group(rg).num_rows
            if n:
                groups.append((str(part), rg, row, n))
                row += n
    if row != store.n_objects:
        raise DataFormatError(
            f"{store.path}: the part files hold {row} rows, the manifest says "
            f"{store.n_objects}; the store is damaged"
        )
    chunks = []
    g = 0
    for index, start in enumerate(range(0, row, batch_size)):
        stop = min(start + batch_size, row)
        while groups[g][2] + groups[g][3] <= start:
            g += 1
        first, pieces, h = g, [], g
        while h < len(groups) and groups[h][2] < stop:
            path, rg = groups[h][0], groups[h][1]
            if pieces and pieces[-1][0] == path:
                pieces[-1][1].append(rg)
            else:
                pieces.append((path, [rg]))
            h += 1
        chunks.append(
            _Chunk(
                index=index,
                start=start,
                stop=stop,
                pieces=tuple((p, tuple(r)) for p, r in pieces),
                skip=start - groups[first][2],
            )
        )
    return chunks


def _read_chunk(chunk: _Chunk, columns: list[str] | None = None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for path, rgs in chunk.pieces:
        with pq.ParquetFile(path) as pf:
            tables.append(pf.read_row_groups(list(rgs), columns=columns))
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    return table.slice(chunk.skip, chunk.stop - chunk.start)


def _read_chunk_robust(chunk: _Chunk):
    """Read a chunk: its readable rows, and (id, reason) for the unreadable ones.

    When the chunk cannot be read at once, its row groups are read one by
    one; of an unreadable row group only the ids are read, and its rows are
    rejected. If not even the ids can be read the store is refused.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return _read_chunk(chunk), []
    except (pa.ArrowException, OSError):
        pass
    kept, rejected = [], []
    pos, lo, hi = 0, chunk.skip, chunk.skip + chunk.stop - chunk.start
    for path, rgs in chunk.pieces:
        with pq.ParquetFile(path) as pf:
            for rg in rgs:
                n = pf.metadata.row_group(rg).num_rows
                a, b = max(lo - pos, 0), min(hi - pos, n)
                pos += n
                if b <= a:
                    continue
                try:
                    kept.append(pf.read_row_group(rg).slice(a, b - a))
                except (pa.ArrowException, OSError) as e:
                    reason = f"unreadable chunk: {path}, row group {rg}: {e}"
                    try:
                        ids = pf.read_row_group(rg, columns=["object_id"]).column(0)
                    except (pa.ArrowException, OSError) as e2:
                        raise DataFormatError(
                            f"{path}: row group {rg} cannot be read, not even its "
                            f"object ids ({e2}); the store is damaged"
                        ) from e2
                    reason = " ".join(reason.split())
                    rejected += [
                        (str(i), reason) for i in ids.slice(a, b - a).to_pylist()
                    ]
    table = pa.concat_tables(kept) if kept else None
    return table, rejected


# --------------------------------------------------------------------------
# one chunk: read, prepare, predict, write


def _output_schema(class_names: list[str] | None, target: str):
    import pyarrow as pa

    fields = [pa.field("object_id", pa.string())]
    if class_names:
        fields += [pa.field(f"prob_{c}", pa.float32()) for c in class_names]
        fields += [
            pa.field("pred_class", pa.string()),
            pa.field("pred_prob", pa.float32()),
        ]
    else:
        fields.append(pa.field(f"pred_{target}", pa.float32()))
    return pa.schema(fields)


def _result_table(ids: np.ndarray, result: np.ndarray, names, target: str):
    import pyarrow as pa

    columns: dict[str, Any] = {"object_id": pa.array(ids, pa.string())}
    if names:
        for i, name in enumerate(names):
            columns[f"prob_{name}"] = pa.array(result[:, i].astype(np.float32))
        top = result.argmax(1) if len(result) else np.zeros(0, dtype=np.int64)
        columns["pred_class"] = pa.array(
            np.asarray(names, dtype=object)[top], pa.string()
        )
        columns["pred_prob"] = pa.array(
            result.max(1).astype(np.float32) if len(result) else np.zeros(0, np.float32)
        )
    else:
        columns[f"pred_{target}"] = pa.array(np.asarray(result, np.float32).reshape(-1))
    return pa.table(columns, schema=_output_schema(names, target))


def _chunk_path(partial: Path, index: int) -> Path:
    return partial / f"chunk-{index:06d}.parquet"


def _process_chunk(
    engine: _Engine, chunk: _Chunk, partial: Path, prepared_shape, target: str
) -> tuple[int, dict[str, float]]:
    """Read, prepare and predict one chunk; commit it as one file.

    Returns the rows in and the seconds spent in each stage.
    """
    import pyarrow.parquet as pq

    clock = time.perf_counter
    t0 = clock()
    table, rejected = _read_chunk_robust(chunk)
    t1 = clock()
    names = engine.class_names if engine.model.task == "classification" else None
    width = len(names or [0])
    if table is None:
        ids, result = np.zeros(0, dtype=object), np.zeros((0, width), np.float32)
        t2 = t1
    else:
        with one_torch_thread():
            prepared = prepare_records(
                table, engine.pipeline, prepared_shape=prepared_shape
            )
        rejected = rejected + prepared["rejected"]
        x, ids = prepared["x"], prepared["object_id"]
        t2 = clock()
        result = (
            engine.predict(x, prepared["extra"])
            if len(x)
            else np.zeros((0, width), np.float32)
        )
    t3 = clock()
    out = _result_table(ids, result, names, target)
    meta = {
        "index": chunk.index,
        "start": chunk.start,
        "stop": chunk.stop,
        "n_in": chunk.stop - chunk.start,
        "rejected": [list(r) for r in rejected],
    }
    if out.num_rows + len(rejected) != meta["n_in"]:
        raise SkysiftError(
            f"chunk {chunk.index}: {meta['n_in']} objects in but {out.num_rows} "
            f"predicted and {len(rejected)} rejected"
        )
    out = out.replace_schema_metadata({_CHUNK_META: json.dumps(meta)})
    final = _chunk_path(partial, chunk.index)
    tmp = partial / f".{final.name}.tmp-{os.getpid()}"
    pq.write_table(out, tmp, compression="zstd")
    tmp.replace(final)  # the commit: a chunk file exists only once complete
    stages = {
        "read": t1 - t0,
        "prepare": t2 - t1,
        "infer": t3 - t2,
        "write": clock() - t3,
    }
    return meta["n_in"], stages


# --------------------------------------------------------------------------
# worker processes

_WORKER: dict[str, Any] = {}


def _worker_init(spec: dict[str, Any]) -> None:
    set_worker_threads(spec["threads"])  # before the gp step imports torch
    _WORKER["blas"] = limit_blas()
    _WORKER["engine"] = _open_engine(
        spec["engine"],
        spec["model"],
        device=spec["device"],
        threads=spec["threads"],
        infer_batch=spec["infer_batch"],
    )
    _WORKER["spec"] = spec


def _worker_run(chunk: _Chunk) -> tuple[int, dict[str, float]]:
    spec = _WORKER["spec"]
    return _process_chunk(
        _WORKER["engine"],
        chunk,
        Path(spec["partial"]),
        spec["prepared_shape"],
        spec["target"],
    )


def _run_parallel(chunks, spec, workers: int, progress, timings) -> None:
    # As the chunks finish: each writes its own file, joined in order at the end.
    for n, stages in imap_workers(
        _worker_run,
        chunks,
        workers=workers,
        ordered=False,
        initializer=_worker_init,
        initargs=(spec,),
        what="a prediction worker",
        advice="finished chunks are kept, rerun to resume",
    ):
        for k, v in stages.items():
            timings[k] += v
        if progress is not None:
            progress(n)


# --------------------------------------------------------------------------
# the job


def _job_spec(model_file, model_hash, store, batch_size, engine) -> dict[str, Any]:
    manifest = store.path / "_skysift.json"
    return {
        "format": _JOB_FORMAT,
        "format_version": 1,
        "model": str(model_file) if model_file else None,
        "model_sha256": model_hash,
        "store": str(Path(store.path).resolve()),
        "store_manifest_sha256": _file_sha256(manifest) if manifest.exists() else None,
        "n_objects": store.n_objects,
        "batch_size": batch_size,
        "engine": engine,
    }


def _open_partial(
    partial: Path, job: dict[str, Any], *, resume: bool, overwrite: bool
) -> None:
    """Create ``partial`` for ``job``, or check it belongs to the same job."""
    job_file = partial / "job.json"
    if partial.exists():
        try:
            old = json.loads(job_file.read_text())
        except (OSError, ValueError):
            old = None
        same = old is not None and all(
            old.get(k) == job[k] for k in job if k != "model"
        )
        if resume and same:
            for leftover in partial.glob(".chunk-*.tmp-*"):  # chunks cut off mid-write
                leftover.unlink(missing_ok=True)
            return
        if resume and not overwrite and old is not None:
            diff = sorted(k for k in job if k != "model" and old.get(k) != job[k])
            raise SkysiftError(
                f"{partial} holds an interrupted prediction of another job "
                f"(different {', '.join(diff)}); rerun it with the same model, store, "
                "batch size and engine to resume, or start again with overwrite=True "
                "(--overwrite) or resume=False (--no-resume)"
            )
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    tmp = partial / ".job.json.tmp"
    tmp.write_text(json.dumps(job, indent=1))
    tmp.replace(job_file)


def _done_chunks(partial: Path, n_chunks: int) -> dict[int, int]:
    """Return committed chunks and their rows in; remove damaged leftovers."""
    import pyarrow.parquet as pq

    done = {}
    for path in partial.iterdir():
        m = _CHUNK_NAME.match(path.name)
        if not m:
            continue
        index = int(m.group(1))
        try:
            meta = json.loads(pq.read_schema(path).metadata[_CHUNK_META])
            ok = index < n_chunks and meta["index"] == index
        except Exception:  # a damaged leftover is simply redone
            ok = False
        if ok:
            done[index] = int(meta["n_in"])
        else:
            path.unlink()
    return done


def _finalise(partial: Path, n_chunks: int, out: Path, schema, names) -> dict[str, Any]:
    """Join the chunk files in order into ``out`` and the rejects file."""
    import pyarrow.parquet as pq

    rejected_path = out.with_name(out.name + ".rejected.csv")
    tmp_out = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp_rej = rejected_path.with_name(f".{rejected_path.name}.tmp-{os.getpid()}")
    n_in = n_out = n_rej = 0
    counts = np.zeros(len(names) if names else 0, dtype=np.int64)
    try:
        with (
            pq.ParquetWriter(tmp_out, schema, compression="zstd") as writer,
            open(tmp_rej, "w", newline="") as f,
        ):
            rej = csv.writer(f)
            rej.writerow(["object_id", "reason"])
            for index in range(n_chunks):
                table = pq.read_table(_chunk_path(partial, index))
                meta = json.loads(table.schema.metadata[_CHUNK_META])
                n_in += meta["n_in"]
                n_rej += len(meta["rejected"])
                rej.writerows(meta["rejected"])
                if table.num_rows:
                    table = table.replace_schema_metadata(None)
                    writer.write_table(table)
                    n_out += table.num_rows
                    if names:
                        top = table.column("pred_class").to_numpy(zero_copy_only=False)
                        found, k = np.unique(top.astype(str), return_counts=True)
                        for name, c in zip(found, k, strict=True):
                            counts[names.index(name)] += c
        tmp_rej.replace(rejected_path)
        tmp_out.replace(out)  # the result appears last, whole
    finally:
        tmp_out.unlink(missing_ok=True)
        tmp_rej.unlink(missing_ok=True)
    shutil.rmtree(partial)
    summary: dict[str, Any] = {
        "n_in": n_in,
        "n_out": n_out,
        "n_rejected": n_rej,
        "rejected": str(rejected_path),
    }
    if names:
        summary["class_counts"] = {
            n: int(c) for n, c in zip(names, counts, strict=True)
        }
    return summary


def predict_store(
    model: Any,
    store: str | os.PathLike,
    out: str | os.PathLike,
    *,
    engine: str | None = None,
    batch_size: int = 4096,
    device: str = "cpu",
    workers: int = 1,
    threads: int | None = None,
    overwrite: bool = False,
    resume: bool = True,
    progress: Callable[[int], None] | None = None,
    on_resume: Callable[[int], None] | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Classify every object of ``store`` and write the predictions to ``out``.

    Parameters
    ----------
    model : path-like or LoadedModel
        A run directory, a ``model.pt``, a ``.onnx`` file written by
        :func:`skysift.compression.export_onnx`, or a model loaded with
        :func:`skysift.training.load_model`.
    store : path-like
        A raw store of the kind the model was trained on, or a prepared store.
    out : path-like
        Parquet file to write.
    engine : {"torch", "onnx"}, optional
        Default: ``"onnx"`` for a ``.onnx`` file, else ``"torch"``. With
        ``"onnx"`` and a run directory or ``model.pt``, the model is exported
        once into ``cache_dir``.
    batch_size : int, default 4096
        Objects per chunk: the unit of reading, preparation, inference and
        resumption. A multiple of the store's row-group size (4096 unless the
        store says otherwise) reads each row group once.
    device : str, default "cpu"
        ``"cpu"`` or ``"cuda"`` (``"cuda:N"``).
    workers : int, default 1
        Worker processes, each processing whole chunks; 1 runs in this
        process.
    threads : int, optional
        Threads per worker for inference (torch intra-op or onnxruntime);
        default: the engine's own choice with one worker, ``cpu_count //
        workers`` with several.
    overwrite : bool, default False
        Replace an existing ``out`` (and an interrupted run of another job).
    resume : bool, default True
        Continue an interrupted run of the same job from ``<out>.partial``;
        False starts again.
    progress : callable, optional
        Called with the number of objects read after each chunk. An exception
        it raises stops the run; completed chunks are kept for resuming.
    on_resume : callable, optional
        Called once, before any work, with the number of objects an
        interrupted run already finished (only when there are some).
    cache_dir : path-like, optional
        Where ``engine="onnx"`` keeps exported models; default
        ``$SKYSIFT_CACHE_DIR`` or ``~/.cache/skysift``.

    Returns
    -------
    dict
        ``n_in, n_out, n_rejected`` (n_in = n_out + n_rejected), ``n_resumed``
        (objects done by an earlier, interrupted run), ``seconds`` and
        ``objects_per_s`` (this call), ``out``, ``rejected`` (the CSV path),
        ``engine``, ``workers``, ``timings`` and, for a classifier,
        ``class_counts``. ``timings`` holds wall seconds: ``setup`` (model,
        checks), ``chunks`` (all chunks), ``finalise`` (joining them), and
        the stages ``read, prepare, infer, write`` summed over chunks (over
        all workers, so they can add up to more than ``chunks``).

    Raises
    ------
    FileExistsError
        If ``out`` exists and ``overwrite`` is False.
    DataFormatError
        If the store or model file is unreadable, or the model cannot read
        the store (see :func:`check_model_store`); raised before any work.
    SkysiftError
        If ``<out>.partial`` holds an interrupted run of another job.
    """
    from skysift.io.store import open_store

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if device != "cpu" and device.split(":")[0] != "cuda":
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    model_file = _model_file(model)
    if engine is None:
        engine = "onnx" if _is_onnx_file(model_file) else "torch"
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "torch" and _is_onnx_file(model_file):
        raise ValueError(
            f"{model_file}: an ONNX file runs with engine='onnx' (--engine onnx)"
        )
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(
            f"{out} already exists; pass overwrite=True (--overwrite)"
        )
    src = open_store(store)
    t0 = time.perf_counter()

    # The model, once, here: to check it against the store before any work.
    if engine == "onnx" and model_file is None:  # an in-memory LoadedModel
        raise ValueError(
            "engine='onnx' needs a model file, a run directory or a .onnx file"
        )
    if engine == "onnx" and not _is_onnx_file(model_file):
        model_arg: Any = _cached_onnx(
            model_file, Path(cache_dir or _default_cache_dir())
        )
    else:
        model_arg = model_file if model_file is not None else model
    if workers > 1 and threads is None:
        threads = max(1, (os.cpu_count() or 1) // workers)
    # Inference in slices of at most 512 objects: as fast per object as
    # 1024 or 4096 (within noise, vgg1d and t2 on onnxruntime), and it bounds
    # the activations -- t2's attention scores alone are 16 x 100 x 100
    # floats per light curve, 330 MB for 512 of them.
    infer_batch = min(batch_size, 512)
    torch_threads = _torch_threads() if engine == "torch" and workers == 1 else None
    with limit_blas():
        # With workers, this copy only checks the store; it never predicts.
        eng = _open_engine(
            engine,
            model_arg,
            device=device if workers == 1 else "cpu",
            threads=threads if workers == 1 else None,
            infer_batch=infer_batch,
        )
        check_model_store(eng.model, src, model_path=model_file)
    prepared_shape = (
        tuple(src.info()["attrs"]["input_shape"]) if src.kind == "prepared" else None
    )
    names = eng.class_names if eng.model.task == "classification" else None
    target = eng.model.target
    model_hash = _file_sha256(model_file) if model_file is not None else None
    job = _job_spec(model_file, model_hash, src, batch_size, engine)
    chunks = _plan_chunks(src, batch_size)
    partial = out.with_name(out.name + ".partial")
    if model_file is None:  # an in-memory model cannot be identified: no resuming
        resume = False
    _open_partial(partial, job, resume=resume, overwrite=overwrite)
    done = _done_chunks(partial, len(chunks))
    n_resumed = sum(done.values())
    if on_resume is not None and n_resumed:
        on_resume(n_resumed)
    todo = [c for c in chunks if c.index not in done]
    workers = max(1, min(workers, len(todo) or 1))
    timings = dict.fromkeys(("read", "prepare", "infer", "write"), 0.0)
    t_work = time.perf_counter()
    if workers == 1 or not todo:
        try:
            with limit_blas():
                for chunk in todo:
                    n, stages = _process_chunk(
                        eng, chunk, partial, prepared_shape, target
                    )
                    for k, v in stages.items():
                        timings[k] += v
                    if progress is not None:
                        progress(n)
        finally:
            if torch_threads is not None:  # leave torch as we found it
                _set_torch_threads(torch_threads)
    else:
        spec = {
            "engine": engine,
            "model": str(model_arg) if not hasattr(model_arg, "model") else model_arg,
            "device": device,
            "threads": threads,
            "infer_batch": infer_batch,
            "partial": str(partial),
            "prepared_shape": prepared_shape,
            "target": target,
        }
        _run_parallel(todo, spec, workers, progress, timings)
    t_final = time.perf_counter()
    schema = _output_schema(names, target)
    summary = _finalise(partial, len(chunks), out, schema, names)
    t_end = time.perf_counter()
    timings = {k: round(v, 3) for k, v in timings.items()}
    timings.update(
        setup=round(t_work - t0, 3),
        chunks=round(t_final - t_work, 3),
        finalise=round(t_end - t_final, 3),
    )
    if summary["n_in"] != src.n_objects:
        raise SkysiftError(
            f"{src.path}: {src.n_objects} objects in the store but {summary['n_in']} "
            "accounted for in the predictions and rejects"
        )
    seconds = time.perf_counter() - t0
    n_now = summary["n_in"] - n_resumed
    summary.update(
        n_resumed=n_resumed,
        seconds=round(seconds, 3),
        objects_per_s=n_now / seconds if seconds > 0 else float("nan"),
        out=str(out),
        engine=engine,
        workers=workers,
        timings=timings,
    )
    return summary
