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
@click.option("--engine", type=click.Choice(["torch", "onnx"]), default=None, help="Inference engine [default: onnx for a .onnx MODEL, else torch]. onnx runs onnxruntime without torch; given a run directory it exports the model once into a cache ($SKYSIFT_CACHE_DIR or ~/.cache/skysift).")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda (cuda:N).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes, each reading, preparing and predicting whole chunks.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Inference threads per worker [default: the engine's choice; cores / workers with several workers].")
@click.option("--batch-size", type=click.IntRange(min=1), default=4096, show_default=True, help="Objects per chunk: the unit of reading, inference and resuming.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out (and an interrupted run of another job).")
@click.option("--no-resume", is_flag=True, help="Discard the finished chunks of an interrupted run instead of continuing it.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def predict(model, data_path, out, engine, device, workers, threads, batch_size, overwrite, no_resume, no_progress) -> None:
    """Classify the store --data with MODEL (a run directory, model.pt or .onnx file).

    Applies the model's saved preparation pipeline chunk by chunk and writes
    per object: object_id, prob_<class> for every class, pred_class and
    pred_prob (pred_<target> for a regressor). Objects that cannot be read or
    prepared are listed with the reason in OUT.rejected.csv; every object id
    appears once in one of the two files.

    Finished chunks are kept in OUT.partial/ until the end, so an
    interrupted run (Ctrl-C, a killed job) continues where it stopped when
    the same command is run again.

    \b
    Examples:
      skysift predict runs/lines --data data/new-lines --out predictions.parquet
      skysift predict model.onnx --data data/new-lines --out p.parquet --workers 2
    """
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
    click.echo(
        f"read {s['n_in']:,} objects: {s['n_out']:,} predicted, {s['n_rejected']:,} rejected "
        f"in {s['seconds']:.1f} s ({s['objects_per_s']:,.0f} objects/s, engine {s['engine']}, "
        f"{s['workers']} worker{'s' if s['workers'] > 1 else ''})"
    )
    if "class_counts" in s:
        click.echo("predicted classes: " + ", ".join(f"{k} {v:,}" for k, v in s["class_counts"].items()))
    click.echo(f"predictions: {s['out']}")
    if s["n_rejected"]:
        click.echo(f"rejected objects and reasons: {s['rejected']}")
