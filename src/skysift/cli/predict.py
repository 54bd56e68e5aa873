"""``skysift predict``: classify every object of a store with a trained model."""

from __future__ import annotations

import sys

import click


@click.command()
@click.argument("model", type=click.Path(exists=True, path_type=str))
@click.option("--data", "data_path", required=True, type=click.Path(exists=True, file_okay=False, path_type=str), help="Store to classify (raw, as the model was trained on, or prepared).")
@click.option("--out", required=True, type=click.Path(path_type=str), help="Parquet file for the predictions.")
@click.option("--batch-size", type=click.IntRange(min=1), default=4096, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="Torch device: cpu or cuda.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
def predict(model, data_path, out, batch_size, device, overwrite) -> None:
    """Classify the store --data with MODEL (a run directory or model.pt).

    Applies the model's saved preparation pipeline chunk by chunk and writes
    per object: object_id, prob_<class> for every class, pred_class and
    pred_prob (pred_<target> for a regressor). Objects that cannot be
    prepared are listed in OUT.rejected.csv.

    \b
    Example:
      skysift predict runs/lines --data data/new-lines --out predictions.parquet
    """
    from skysift.io.store import open_store
    from skysift.serving.batch import predict_store

    n = open_store(data_path).n_objects
    with click.progressbar(length=n, label="predict", file=sys.stderr) as bar:
        s = predict_store(model, data_path, out, batch_size=batch_size, device=device, overwrite=overwrite, progress=bar.update)
    click.echo(
        f"read {s['n_in']:,} objects: {s['n_out']:,} predicted, {s['n_rejected']:,} rejected "
        f"in {s['seconds']:.1f} s ({s['objects_per_s']:,.0f} objects/s)"
    )
    if "class_counts" in s:
        click.echo("predicted classes: " + ", ".join(f"{k} {v:,}" for k, v in s["class_counts"].items()))
    click.echo(f"predictions: {s['out']}")
