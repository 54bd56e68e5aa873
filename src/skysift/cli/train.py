"""``skysift train``: train a registered model on a store."""

from __future__ import annotations

import click


@click.command()
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), help="Run config YAML (data, prepare, model, train, out).")
@click.option("--data", "data_path", type=click.Path(path_type=str), help="Store to train on (overrides data.path).")
@click.option("--model", "model_name", help="Registered model name, see `skysift models` (overrides model.name).")
@click.option("--epochs", type=click.IntRange(min=1), help="Maximum epochs (overrides train.epochs).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Batch size (overrides train.batch_size).")
@click.option("--lr", type=float, help="Adam learning rate (overrides train.lr).")
@click.option("--out", "out", type=click.Path(path_type=str), help="Run directory (overrides out).")
@click.option("--device", type=click.Choice(["auto", "cpu", "gpu"]), help="Accelerator (overrides train.accelerator).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Dotted override, e.g. --set train.balance=class_weights (repeatable).")
@click.option("--resume", "resume_dir", type=click.Path(exists=True, file_okay=False, path_type=str), help="Continue the interrupted run in this directory.")
@click.option("--overwrite", is_flag=True, help="Replace a finished run in --out.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def train(config_path, data_path, model_name, epochs, batch_size, lr, out, device, overrides, resume_dir, overwrite, no_progress) -> None:
    """Train a model and write a run directory.

    The run directory holds the resolved config.yaml, metrics.csv (one row
    per epoch), training_curve.png, checkpoints/ (best and last, for
    --resume), model.pt (the best model with its fitted preparation pipeline
    and class names), and the test-split report (report.html, metrics.json).

    \b
    Examples:
      skysift train --data data/lines --model cnn1d_strided --epochs 10 --out runs/lines
      skysift train --config run.yaml --set train.lr=3e-4
      skysift train --resume runs/lines
    """
    from pathlib import Path

    from skysift.config import RunConfig, apply_overrides, load_config
    from skysift.exceptions import DataFormatError

    if resume_dir:
        from skysift.training.run import train_run

        config = RunConfig(out=resume_dir)
        result = train_run(config, resume=True, progress=not no_progress)
    else:
        config = load_config(config_path) if config_path else RunConfig()
        flags = {
            "data.path": data_path,
            "model.name": model_name,
            "train.epochs": epochs,
            "train.batch_size": batch_size,
            "train.lr": lr,
            "out": out,
            "train.accelerator": device,
        }
        config = apply_overrides(
            config, [f"{k}={v}" for k, v in flags.items() if v is not None] + list(overrides)
        )
        if not config.data.path:
            raise click.UsageError("no data: give --data STORE or data.path in --config")
        if not Path(config.data.path).exists():  # before importing torch (seconds)
            raise DataFormatError(f"{config.data.path}: no such file or directory")
        from skysift.training.run import train_run

        result = train_run(config, overwrite=overwrite, progress=not no_progress)
    _print_result(result)


def _print_result(result: dict) -> None:
    if not result:  # a data-parallel worker other than rank 0: rank 0 reports
        return
    metrics = ", ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
        for k, v in result["metrics"].items()
    )
    click.echo(
        f"trained {result['epochs']} epoch(s) in {result['seconds']:.0f} s on "
        f"{result['n_train']:,} train / {result['n_val']:,} validation objects"
        + (f" ({result['n_rejected']} rejected, see rejected.csv)" if result["n_rejected"] else "")
    )
    click.echo(f"test split ({result['n_test']:,} objects): {metrics}")
    click.echo(f"run directory: {result['run_dir']}")
    click.echo(f"model:         {result['model_path']}")
    if result.get("report"):
        click.echo(f"report:        {result['report']}")
