"""``skysift tune``: hyper-parameter search with Optuna TPE and k-fold CV."""

from __future__ import annotations

import click


@click.command()
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False), help="Run config with a tune: section (space, trials, folds).")
@click.option("--trials", type=click.IntRange(min=1), help="Number of trials (overrides tune.trials).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Dotted override, e.g. --set tune.folds=3 (repeatable).")
def tune(config_path, trials, overrides) -> None:
    """Search hyper-parameters (seed 003: TPE, 5-fold cross-validation).

    Each trial trains one model per fold of the training + validation rows
    (the test split is never used) and scores the mean held-out weighted
    log-loss (MSE for a regressor). Writes OUT/tune/trials.csv and
    OUT/tune/best_config.yaml, which `skysift train --config` takes as is.

    \b
    Example run.yaml section:
      tune:
        trials: 30
        folds: 5
        space:
          train.lr: {low: 1.0e-4, high: 1.0e-2, log: true}
          model.params.drop_rate: {low: 0.0, high: 0.5}
          model.params.depth: {choices: [1, 2, 4]}
    """
    from skysift.config import load_config
    from skysift.training.tuning import tune_run

    config = load_config(config_path, overrides)
    result = tune_run(config, trials=trials)
    click.echo(f"best {result['metric']} {result['best_score']:.5f} over {result['n_trials']} trials with {result['best_params']}")
    click.echo(f"trials table: {result['trials_csv']}")
    click.echo(f"best config:  {result['best_config']}  (train it: skysift train --config {result['best_config']})")
