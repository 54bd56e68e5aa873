"""``skysift ensemble``: several trained models saved as one that averages them."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@click.option("--out", required=True, type=click.Path(path_type=str),
              help="Model file to write (.pt), or a directory to hold model.pt.")
@click.option("--overwrite", is_flag=True, help="Replace an existing model file.")
def ensemble(models: tuple[str, ...], out: str, overwrite: bool) -> None:
    """Save MODELS (run directories or model.pt files) as one model averaging them.

    The ensemble's class probabilities are the mean of its members' (a
    regressor's outputs are averaged). Seeds of one configuration can differ
    as much as settings do; on SNPCC the mean of six t2 seeds scored better
    than each of them (docs/results.md 1 (f)). The members must read the same
    data the same way (same preparation, input shape, classes); each keeps
    its own prior shift.
    The result is used like any model: skysift predict, export, info. When
    the members are run directories tested on one split, their mean test
    predictions are written beside it (a classifier's to put to skysift
    compare).

    \b
    Examples:
      skysift ensemble runs/t2_s1 runs/t2_s2 runs/t2_s3 --out runs/t2_x3
      skysift compare runs/t2_s1 runs/t2_x3
      skysift predict runs/t2_x3 --data alerts_store --out predictions.parquet
    """
    from skysift.training.checkpoint import load_model, save_ensemble

    if len(models) < 2:
        raise click.UsageError("an ensemble needs at least two models")
    target = Path(out)
    if target.suffix != ".pt":
        target.mkdir(parents=True, exist_ok=True)
        target = target / "model.pt"
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; use --overwrite to replace it")
    save_ensemble(list(models), target)
    loaded = load_model(target)
    click.echo(
        f"wrote {target}: mean of {len(models)} {loaded.task} models "
        f"({loaded.model.num_parameters():,} parameters"
        + (f"; classes {', '.join(loaded.class_names)}" if loaded.class_names else "")
        + ")"
    )
    _average_test_predictions(models, target.parent, loaded)


def _average_test_predictions(models, out_dir: Path, loaded) -> None:
    """Write the members' mean test predictions beside the model, when they share a test set."""
    import numpy as np

    from skysift.evaluation.evaluate import average_test_predictions
    from skysift.evaluation.metrics import weighted_log_loss
    from skysift.exceptions import DataFormatError

    files = [Path(m) / "test_predictions.parquet" for m in models]
    if not all(f.exists() for f in files):
        return
    try:
        mean = average_test_predictions(files, out_dir / "test_predictions.parquet")
    except DataFormatError as e:
        click.echo(f"no test predictions written: {e}")
        return
    if loaded.class_names is None:
        name = "RMSE"

        def score(r):
            return float(np.sqrt(np.mean((r["pred"] - r["y"]) ** 2)))
    else:
        name = "log-loss"

        def score(r):
            return weighted_log_loss(r["y"], r["prob"])

    each = ", ".join(f"{score(r):.4f}" for r in mean["members"])
    click.echo(
        f"test predictions of their common test split averaged into {mean['path']} "
        f"({len(mean['ids']):,} objects; {name} {score(mean):.4f}, members {each})"
        + ("; compare it with skysift compare" if loaded.class_names else "")
    )
