"""Batch prediction over a store as Spark tasks (SPEC F3; optional extra ``spark``).

The same job as :func:`skysift.serving.batch.predict_store`, spread over a
Spark cluster: the store's Parquet part files are read with
``spark.read.parquet``, the model file (the bytes of ``model.pt``) is
broadcast to the executors, and every task streams its rows through the saved
preparation pipeline and the model in chunks of ``batch_size`` with
``DataFrame.mapInArrow`` -- the Arrow twin of ``mapInPandas``: the store's
list columns reach Python as Arrow list arrays and go straight into
:func:`~skysift.serving.batch.prepare_records`, with no per-object pandas
objects in between (and no dependence on pyspark's pandas support, which
warns about pandas 3). Each Python worker loads the model once and keeps it
for the later tasks it runs. The model is checked against the store on the
driver first (:func:`~skysift.serving.batch.check_model_store`), so a
mismatch is refused before any Spark work, with predict_store's message.

The predictions have exactly the columns of ``predict_store``; they are
written as a Parquet dataset directory (one part file per task, as Spark
writes), which ``pandas.read_parquet(out)`` and
``pyarrow.parquet.read_table(out)`` read like a single file. Row order
follows Spark's task order, not store order; every object id appears once,
in the predictions or in ``<out>.rejected.csv``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from skysift.exceptions import SkysiftError
from skysift.io.rejects import write_rejects

__all__ = ["find_java", "predict_spark"]

#: Extra output column carrying the reason an object was rejected (null for
#: predicted rows); it never reaches the written predictions.
_REASON = "__skysift_reject_reason"

#: Loaded models of this Python worker, by SHA-256 of the model file: Spark
#: reuses Python workers across tasks, so a model is unpickled once per worker.
_MODEL_CACHE: dict[str, Any] = {}


def _import_pyspark():
    """Import pyspark.sql or explain which extra provides it."""
    try:
        import pyspark.sql
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError(
            "predict_spark needs pyspark, which is not installed; install the "
            "spark extra: pip install 'skysift[spark]'",
            name="pyspark",
        ) from e
    return pyspark.sql


def _model_bytes(model: Any) -> bytes:
    """Return the bytes of a model file, a run directory's model, or a LoadedModel."""
    from skysift.training.checkpoint import LoadedModel, save_model

    if isinstance(model, LoadedModel):
        with tempfile.TemporaryDirectory() as d:
            path = save_model(
                Path(d) / "model.pt",
                model.model,
                model_name=model.model_name,
                model_kwargs=model.model_kwargs,
                pipeline=model.pipeline,
                class_names=model.class_names,
                target=model.target,
                input_shape=model.input_shape,
                metadata=model.metadata,
            )
            return path.read_bytes()
    path = Path(model)
    if path.is_dir():
        path = path / "model.pt"
    return path.read_bytes()


def _worker_model(digest: str, data: Any) -> Any:
    """Load (once per Python worker) the broadcast model file."""
    from skysift.training.checkpoint import load_model

    loaded = _MODEL_CACHE.get(digest)
    if loaded is None:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "model.pt"
            path.write_bytes(data.value)
            loaded = load_model(path)
        _MODEL_CACHE.clear()  # one model at a time: a worker may serve many jobs
        _MODEL_CACHE[digest] = loaded
    return loaded


def _output_schema(class_names: list[str] | None, target: str):
    """Arrow schema of the task output: predict_store's columns + the reason."""
    import pyarrow as pa

    fields = [pa.field("object_id", pa.string())]
    if class_names:
        fields += [pa.field(f"prob_{n}", pa.float32()) for n in class_names]
        fields += [
            pa.field("pred_class", pa.string()),
            pa.field("pred_prob", pa.float32()),
        ]
    else:
        fields.append(pa.field(f"pred_{target}", pa.float32()))
    fields.append(pa.field(_REASON, pa.string()))
    return pa.schema(fields)


def _blas_threads(n: int):
    """Hold NumPy's BLAS to ``n`` threads while preparing (threadpoolctl if present)."""
    try:
        from threadpoolctl import threadpool_limits
    except ModuleNotFoundError:  # optional: only a speed matter
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def _predict_partition(
    batches: Iterator[Any],
    *,
    digest: str,
    data: Any,
    schema: Any,
    input_shape: tuple[int, ...] | None,
) -> Iterator[Any]:
    """Predict the Arrow batches of one Spark partition (runs on an executor)."""
    import pyarrow as pa
    import torch
    from pyspark import TaskContext

    from skysift.serving.batch import prepare_records
    from skysift.training.run import predict_arrays

    ctx = TaskContext.get()
    # A task owns spark.task.cpus cores; more torch or BLAS threads than that
    # would oversubscribe an executor that runs several tasks side by side.
    cpus = max(1, ctx.cpus() if ctx is not None else 1)
    torch.set_num_threads(cpus)
    loaded = _worker_model(digest, data)
    names = loaded.class_names
    for rb in batches:
        if rb.num_rows == 0:
            continue
        with _blas_threads(cpus):
            prep = prepare_records(rb, loaded.pipeline, prepared_shape=input_shape)
        ids, x, rejected = prep["object_id"].astype(str), prep["x"], prep["rejected"]
        columns: dict[str, Any] = {"object_id": ids}
        if len(x):
            result = predict_arrays(loaded.model, x, prep["extra"])
            if names:
                for i, name in enumerate(names):
                    columns[f"prob_{name}"] = result[:, i].astype(np.float32)
                columns["pred_class"] = np.asarray(names, dtype=object)[
                    result.argmax(1)
                ]
                columns["pred_prob"] = result.max(1).astype(np.float32)
            else:
                columns[schema.names[1]] = np.asarray(result, np.float32).reshape(-1)
        # Predicted rows (reason null), then rejected rows (predictions null).
        n_ok, n_bad = len(ids), len(rejected)
        arrays = []
        for field in schema:
            if field.name == _REASON:
                ok = pa.nulls(n_ok, field.type)
                bad = pa.array([str(why) for _, why in rejected], field.type)
            else:
                ok = pa.array(columns.get(field.name, []), field.type)
                bad = (
                    pa.array([str(oid) for oid, _ in rejected], field.type)
                    if field.name == "object_id"
                    else pa.nulls(n_bad, field.type)
                )
            arrays.append(pa.concat_arrays([ok, bad]))
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def _spark_schema(schema: Any) -> Any:
    """Translate the output Arrow schema (strings and float32 only) to Spark's."""
    import pyarrow as pa
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField(
                f.name, T.FloatType() if f.type == pa.float32() else T.StringType()
            )
            for f in schema
        ]
    )


@contextlib.contextmanager
def _quiet_pandas_check() -> Iterator[None]:
    """Silence pyspark's warning about the pandas version, irrelevant here.

    pyspark checks the pandas version when it starts and on several paths of
    a job, although this job never builds a pandas object (mapInArrow).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="PySpark does not yet fully support pandas",
            category=FutureWarning,
        )
        yield


def find_java() -> str | None:
    """Return the ``java`` executable Spark would start, or None when there is none.

    pyspark launches ``$JAVA_HOME/bin/java`` when ``JAVA_HOME`` is set, else
    ``java`` from ``PATH``.

    Returns
    -------
    str or None
        The path of the Java executable, or None.
    """
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        return str(java) if os.access(java, os.X_OK) else None
    return shutil.which("java")


def _require_java() -> None:
    """Refuse, with the fix, to start Spark on a machine without Java."""
    if find_java() is None:
        where = (
            f"JAVA_HOME={os.environ['JAVA_HOME']} has no bin/java"
            if os.environ.get("JAVA_HOME")
            else "no java on PATH and JAVA_HOME is not set"
        )
        raise SkysiftError(
            f"the spark engine needs a Java runtime (Java 17 or newer) and there "
            f"is none: {where}. Install one (e.g. apt-get install "
            "openjdk-17-jre-headless) or set JAVA_HOME, or use --engine torch|onnx"
        )


def _start_session(master: str, app_name: str, conf: Mapping[str, Any]):
    """Return (session, started): the running session, or a new one we must stop."""
    sql = _import_pyspark()
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:  # one SparkContext per process
        return sql.SparkSession.builder.getOrCreate(), False
    _require_java()
    if "PYSPARK_PYTHON" not in os.environ and "spark.pyspark.python" not in conf:
        # Executors run Python workers with "python3" unless told otherwise,
        # which is rarely the environment holding torch and skysift; this
        # interpreter is (local executors are child processes of this one,
        # and cluster nodes built from the same image have the same path).
        os.environ["PYSPARK_PYTHON"] = sys.executable
    builder = sql.SparkSession.builder.master(master).appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, str(value))
    return builder.getOrCreate(), True


def _remove(path: Path) -> None:
    """Delete a file or a directory tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def predict_spark(
    model: Any,
    store: str | os.PathLike,
    out: str | os.PathLike,
    *,
    master: str = "local[*]",
    batch_size: int = 4096,
    app_name: str = "skysift-predict",
    overwrite: bool = False,
    spark_conf: Mapping[str, Any] | None = None,
    session: Any = None,
) -> dict[str, Any]:
    """Classify every object of ``store`` as Spark tasks and write the predictions.

    Parameters
    ----------
    model : path-like or LoadedModel
        A run directory, a ``model.pt``, or a model loaded with
        :func:`skysift.training.load_model`. The file is broadcast to the
        executors, which need skysift, torch and pyarrow installed.
    store : path-like
        A raw store of the kind the model was trained on, or a prepared
        store. On a cluster it must be on a filesystem that the driver and
        every executor see at the same path.
    out : path-like
        Parquet dataset directory to write (same visibility rule as
        ``store``). Columns: ``object_id``, ``prob_<class>`` per class,
        ``pred_class`` and ``pred_prob`` for a classifier, ``pred_<target>``
        for a regressor -- those of
        :func:`~skysift.serving.batch.predict_store`. Objects that cannot be
        prepared are listed in ``<out>.rejected.csv`` (``object_id, reason``).
    master : str, default "local[*]"
        Spark master URL: ``local[N]``, ``spark://host:7077``, ``yarn``...
    batch_size : int, default 4096
        Objects per chunk in a task (Arrow batch size,
        ``spark.sql.execution.arrow.maxRecordsPerBatch``, for this job).
    app_name : str, default "skysift-predict"
        Spark application name.
    overwrite : bool, default False
        Replace an existing ``out`` (file or directory).
    spark_conf : mapping, optional
        Spark settings for a session this function starts, e.g.
        ``{"spark.executor.memory": "4g"}``. Executors run this Python
        interpreter (``sys.executable``) unless ``PYSPARK_PYTHON`` or
        ``spark.pyspark.python`` names another one.
    session : pyspark.sql.SparkSession, optional
        Use this session. Without one, a Spark session already running in
        this process is used as it is (Spark allows one per process);
        otherwise one is started with ``master``, ``app_name`` and
        ``spark_conf``, and stopped at the end. Sessions not started here are
        left running.

    Returns
    -------
    dict
        ``n_in, n_out, n_rejected`` (n_in = n_out + n_rejected), ``seconds``,
        ``objects_per_s``, ``out``, ``rejected`` (the CSV path) and, for a
        classifier, ``class_counts``, as ``predict_store`` returns them; plus
        ``engine`` ("spark"), ``master`` and ``n_partitions`` (Spark tasks).

    Raises
    ------
    ModuleNotFoundError
        If pyspark is not installed (``pip install 'skysift[spark]'``).
    skysift.exceptions.SkysiftError
        If a session must be started and there is no Java runtime
        (:func:`find_java`), before any Spark work.
    FileExistsError
        If ``out`` exists and ``overwrite`` is False.
    ValueError
        If ``batch_size`` < 1.
    skysift.exceptions.DataFormatError
        If the store or the model file is unreadable, or the model cannot
        read the store (:func:`~skysift.serving.batch.check_model_store`);
        raised before any Spark work. A part file that turns out unreadable
        during the job fails the job (Spark's error), where ``predict_store``
        would reject its rows.

    Examples
    --------
    A local run on all cores of this machine; on a cluster pass
    ``master="spark://host:7077"``::

        summary = predict_spark("runs/lines", "data/lamost", "predictions.parquet")
        summary["n_out"], summary["class_counts"]
    """
    _import_pyspark()
    from skysift.io.store import open_store
    from skysift.serving.batch import check_model_store
    from skysift.training.checkpoint import LoadedModel, load_model

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    out = Path(out)
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise FileExistsError(
            f"{out} already exists; pass overwrite=True (--overwrite)"
        )
    src = open_store(store)
    # Refused here, before any Spark work, exactly as predict_store refuses it.
    check_model_store(
        loaded, src, model_path=None if isinstance(model, LoadedModel) else model
    )
    input_shape = (
        tuple(src.info()["attrs"]["input_shape"]) if src.kind == "prepared" else None
    )
    data = _model_bytes(model)
    digest = hashlib.sha256(data).hexdigest()
    arrow_schema = _output_schema(loaded.class_names, loaded.target)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
    rejected_path = out.with_name(out.name + ".rejected.csv")

    t0 = time.perf_counter()
    if session is not None:
        spark, started = session, False
    else:
        with _quiet_pandas_check():
            spark, started = _start_session(master, app_name, spark_conf or {})
    batch_key = "spark.sql.execution.arrow.maxRecordsPerBatch"
    old_batch = spark.conf.get(batch_key, None)
    result = broadcast = None
    try:
        used_master = spark.sparkContext.master
        spark.conf.set(batch_key, str(batch_size))
        broadcast = spark.sparkContext.broadcast(data)
        with _quiet_pandas_check():
            result, n_partitions = _run_job(
                spark,
                src,
                tmp,
                digest=digest,
                data=broadcast,
                schema=arrow_schema,
                input_shape=input_shape,
            )
            n_ok, n_rejected, counts = _tally(
                result, with_classes=bool(loaded.class_names)
            )
            if n_ok + n_rejected != src.n_objects:  # never expected: refuse to hide it
                raise SkysiftError(
                    f"Spark read {n_ok + n_rejected} of the {src.n_objects} objects "
                    f"of {src.path}; is spark.sql.files.ignoreCorruptFiles set?"
                )
            if overwrite:
                _remove(out)
                _remove(rejected_path)
            tmp.replace(out)
            rows = result.filter(result[_REASON].isNotNull()).select(
                "object_id", _REASON
            )
            write_rejects(
                rejected_path,
                ((r[0], r[1]) for r in rows.toLocalIterator()) if n_rejected else [],
            )
    finally:
        if result is not None:
            result.unpersist()
        if broadcast is not None:
            broadcast.destroy()
        if old_batch is None:
            spark.conf.unset(batch_key)
        else:
            spark.conf.set(batch_key, old_batch)
        if started:
            spark.stop()
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.perf_counter() - t0
    summary: dict[str, Any] = {
        "n_in": src.n_objects,
        "n_out": n_ok,
        "n_rejected": n_rejected,
        "seconds": round(seconds, 3),
        "objects_per_s": src.n_objects / seconds if seconds > 0 else float("nan"),
        "out": str(out),
        "rejected": str(rejected_path),
        "engine": "spark",
        "master": used_master,
        "n_partitions": n_partitions,
    }
    if loaded.class_names:
        summary["class_counts"] = {n: counts.get(n, 0) for n in loaded.class_names}
    return summary


def _run_job(
    spark, src, tmp: Path, *, digest, data, schema, input_shape
) -> tuple[Any, int]:
    """Predict the store as Spark tasks and write the predictions to ``tmp``.

    Returns the task output (cached, with the reject reasons) and the number
    of input partitions (tasks).
    """
    from pyspark import StorageLevel

    df = spark.read.parquet(*(str(p.resolve()) for p in src.part_paths))
    task = functools.partial(
        _predict_partition,
        digest=digest,
        data=data,
        schema=schema,
        input_shape=input_shape,
    )
    # Cached so that the counts and the rejects after the write do not run
    # the model a second time; one small row per object.
    result = df.mapInArrow(task, _spark_schema(schema)).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    good = result.filter(result[_REASON].isNull()).drop(_REASON)
    good.write.parquet(str(tmp.resolve()), compression="zstd")
    return result, df.rdd.getNumPartitions()


def _tally(result, *, with_classes: bool) -> tuple[int, int, dict[str, int]]:
    """Count predicted rows (per top class) and rejected rows in one pass."""
    from pyspark.sql import functions as F

    keys = [F.col(_REASON).isNull().alias("ok")] + (
        [F.col("pred_class")] if with_classes else []
    )
    n_ok = n_bad = 0
    counts: dict[str, int] = {}
    for row in result.groupBy(*keys).count().collect():
        if row["ok"]:
            n_ok += row["count"]
            if with_classes:
                counts[row["pred_class"]] = row["count"]
        else:
            n_bad += row["count"]
    return n_ok, n_bad, counts


