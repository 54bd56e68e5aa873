"""``skysift predict``: classify every object of a store with a trained model."""

from __future__ import annotations

import sys
import time

import click


def _progress_bar(total: int, enabled: bool):
    """Make a progress bar over objects that also shows objects per second.

    It appears with the first finished chunk, so that an error found before
    any work is not preceded by an empty bar.
    """
    state = {"t0": time.perf_counter(), "done": 0, "bar": None}

    def bar() -> click._termui_impl.ProgressBar:
        if state["bar"] is None:
            state["bar"] = click.progressbar(
                length=total, label="predict", file=sys.stderr, item_show_func=lambda s: s
            ).__enter__()
        return state["bar"]

    def update(n: int) -> None:
        state["done"] += n
        elapsed = time.perf_counter() - state["t0"]
        if enabled:
            bar().update(n, f"{state['done'] / elapsed:,.0f} objects/s" if elapsed > 0 else None)

    def resumed(n: int) -> None:  # done by an earlier run: moves the bar, not the rate
        if enabled:
            bar().update(n, "resuming")

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)

    return update, resumed, close


@click.command()
@click.argument("model", type=click.Path(exists=True, path_type=str))
@click.option("--data", "data_path", required=True, type=click.Path(exists=True, file_okay=False, path_type=str), help="Store to classify (raw, as the model was trained on, or prepared).")
@click.option("--out", required=True, type=click.Path(path_type=str), help="Parquet file for the predictions.")
@click.option("--engine", type=click.Choice(["torch", "onnx", "spark"]), default=None, help="Inference engine [default: onnx for a .onnx MODEL, else torch]. onnx runs onnxruntime without torch; given a run directory it exports the model once into a cache ($SKYSIFT_CACHE_DIR or ~/.cache/skysift). spark runs the job as Spark tasks on --master (needs pip install 'skysift[spark]' and Java 17+).")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda (cuda:N).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes, each reading, preparing and predicting whole chunks.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Inference threads per worker [default: the engine's choice; cores / workers with several workers].")
@click.option("--batch-size", type=click.IntRange(min=1), default=4096, show_default=True, help="Objects per chunk: the unit of reading, inference and resuming (per Spark task with --engine spark).")
@click.option("--master", default=None, help="Spark master URL for --engine spark: local[*], local[N], spark://HOST:7077, yarn ... [default: local[*]].")
@click.option("--conf", "spark_conf", multiple=True, metavar="KEY=VALUE", help="A Spark setting for --engine spark, e.g. spark.executor.memory=4g; repeatable.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out (and an interrupted run of another job).")
@click.option("--no-resume", is_flag=True, help="Discard the finished chunks of an interrupted run instead of continuing it.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar (Spark's stage progress with --engine spark).")
def predict(model, data_path, out, engine, device, workers, threads, batch_size, master, spark_conf, overwrite, no_resume, no_progress) -> None:
    """Classify the store --data with MODEL (a run directory, model.pt or .onnx file).

    Applies the model's saved preparation pipeline chunk by chunk and writes
    per object: object_id, prob_<class> for every class, pred_class and
    pred_prob (pred_<target> for a regressor). Objects that cannot be read or
    prepared are listed with the reason in OUT.rejected.csv; every object id
    appears once in one of the two files.

    Finished chunks are kept in OUT.partial/ until the end, so an
    interrupted run (Ctrl-C, a killed job) continues where it stopped when
    the same command is run again.

    With --engine spark the same job runs as Spark tasks over the store's
    Parquet files (a run directory or model.pt; the executors need skysift
    and torch). OUT is then a Parquet dataset directory, one part file per
    task, which pandas and pyarrow read like one file; rows follow Spark's
    task order and a failed job is rerun from the start (no resuming).

    \b
    Examples:
      skysift predict runs/lines --data data/new-lines --out predictions.parquet
      skysift predict model.onnx --data data/new-lines --out p.parquet --workers 2
      skysift predict runs/lines --data data/survey --out p.parquet --engine spark --master 'local[*]'
    """
    if engine == "spark":
        _predict_spark(model, data_path, out, device, workers, threads, batch_size, master, spark_conf, overwrite, no_progress)
        return
    if master is not None or spark_conf:
        raise click.UsageError("--master and --conf are settings of --engine spark")
    from skysift.io.store import open_store
    from skysift.serving.batch import predict_store

    n = open_store(data_path).n_objects
    update, resumed, close = _progress_bar(n, not no_progress)
    try:
        s = predict_store(
            model,
            data_path,
            out,
            engine=engine,
            batch_size=batch_size,
            device=device,
            workers=workers,
            threads=threads,
            overwrite=overwrite,
            resume=not no_resume,
            progress=update,
            on_resume=resumed,
        )
    finally:
        close()
    if s["n_resumed"]:
        click.echo(f"resumed an interrupted run: {s['n_resumed']:,} objects were already done")
    _report(s, f"{s['workers']} worker{'s' if s['workers'] > 1 else ''}")


def _parse_conf(pairs: tuple[str, ...]) -> dict[str, str]:
    """Turn repeated --conf KEY=VALUE into a dict, refusing malformed pairs."""
    conf = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE (e.g. spark.executor.memory=4g)", param_hint="--conf")
        conf[key.strip()] = value
    return conf


def _predict_spark(model, data_path, out, device, workers, threads, batch_size, master, spark_conf, overwrite, no_progress) -> None:
    """Run ``skysift predict --engine spark``: predict_spark with the CLI's checks and summary."""
    from pathlib import Path

    if workers != 1 or threads is not None or device != "cpu":
        raise click.UsageError(
            "--workers, --threads and --device are settings of the torch and onnx engines; "
            "Spark runs one task per core of its executors (size them with --master, "
            "e.g. local[4], and --conf spark.task.cpus=N)"
        )
    if Path(model).suffix.lower() == ".onnx":
        raise click.UsageError(
            f"{model}: the spark engine runs a run directory or model.pt (torch on the "
            "executors), not an ONNX file"
        )
    conf = _parse_conf(spark_conf)
    if no_progress:  # Spark draws its own stage progress bar on stderr
        conf.setdefault("spark.ui.showConsoleProgress", "false")
    from skysift.serving.spark import predict_spark

    try:
        s = predict_spark(
            model,
            data_path,
            out,
            master=master or "local[*]",
            batch_size=batch_size,
            overwrite=overwrite,
            spark_conf=conf,
        )
    except ModuleNotFoundError as e:
        if e.name != "pyspark":
            raise
        raise click.ClickException(str(e)) from e
    _report(s, f"master {s['master']}, {s['n_partitions']} task{'s' if s['n_partitions'] > 1 else ''}")


def _report(s: dict, how: str) -> None:
    """Print the run summary shared by every engine."""
    click.echo(
        f"read {s['n_in']:,} objects: {s['n_out']:,} predicted, {s['n_rejected']:,} rejected "
        f"in {s['seconds']:.1f} s ({s['objects_per_s']:,.0f} objects/s, engine {s['engine']}, {how})"
    )
    if "class_counts" in s:
        click.echo("predicted classes: " + ", ".join(f"{k} {v:,}" for k, v in s["class_counts"].items()))
    click.echo(f"predictions: {s['out']}")
    if s["n_rejected"]:
        click.echo(f"rejected objects and reasons: {s['rejected']}")
