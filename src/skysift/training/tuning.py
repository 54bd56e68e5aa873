"""Hyper-parameter search: Optuna TPE with k-fold cross-validation (seed 003).

Each trial draws values for the dotted config keys of ``tune.space``, then
trains one model per fold of a stratified (and, with groups, grouped) k-fold
split of the training + validation rows; the test split is never touched.
The objective is the mean over folds of the flat-weighted log-loss (seed 003
eq. 3.20) on the held-out fold for a classifier, or its MSE for a regressor.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import numpy as np

from skysift.config import RunConfig, apply_overrides, save_config

__all__ = ["suggest", "tune_run"]


def suggest(trial: Any, key: str, spec: dict[str, Any]) -> Any:
    """Draw one value for ``key`` from its distribution ``spec``.

    Raises
    ------
    ValueError
        If ``spec`` is neither ``{choices}`` nor ``{low, high[, log][, int]}``.
    """
    if "choices" in spec:
        choices = list(spec["choices"])
        if any(isinstance(c, list | dict) for c in choices):
            # Optuna stores only scalars; index list-valued choices (e.g. hidden_dims)
            return choices[trial.suggest_categorical(key + "#index", list(range(len(choices))))]
        return trial.suggest_categorical(key, choices)
    if "low" in spec and "high" in spec:
        if spec.get("int"):
            return trial.suggest_int(key, int(spec["low"]), int(spec["high"]), log=bool(spec.get("log")))
        return trial.suggest_float(key, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log")))
    raise ValueError(
        f"tune.space[{key!r}] = {spec!r}: expected {{choices: [...]}} or "
        "{low: ..., high: ..., log: bool, int: bool}"
    )


def _folds(data, rows: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    y = data.y[rows]
    strata = y if data.class_names is not None else np.digitize(y, np.quantile(y, [0.25, 0.5, 0.75]))
    if np.bincount(strata.astype(int)).min() >= k:
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        return [(rows[a], rows[b]) for a, b in splitter.split(rows, strata)]
    splitter = KFold(n_splits=k, shuffle=True, random_state=seed)
    return [(rows[a], rows[b]) for a, b in splitter.split(rows)]


def _fold_score(config: RunConfig, data, train: np.ndarray, val: np.ndarray) -> float:
    import lightning as L

    from skysift.evaluation.metrics import weighted_log_loss
    from skysift.training.run import (
        _make_trainer,
        _quiet_lightning,
        build_training,
        predict_arrays,
    )

    L.seed_everything(config.train.seed, workers=True, verbose=False)
    built = build_training(config, data, train, val)
    with _quiet_lightning():
        trainer = _make_trainer(config.train, None, progress=False)
        trainer.fit(built.task, built.train_loader, built.val_loader)
    out = predict_arrays(built.model, data.x[val], data.extra[val])
    if data.class_names is None:
        return float(np.mean((out - data.y[val]) ** 2))
    return float(weighted_log_loss(data.y[val], out))


def tune_run(config: RunConfig, *, trials: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Search ``config.tune.space`` and write the trials table and best config.

    Parameters
    ----------
    config : RunConfig
        The run to tune; ``config.tune`` declares the search.
    trials : int, optional
        Overrides ``config.tune.trials``.
    progress : bool, default True
        Print one line per finished trial.

    Returns
    -------
    dict
        ``best_params``, ``best_score``, ``trials_csv``, ``best_config``
        (path of the YAML with the best values applied), ``n_trials``.

    Raises
    ------
    ValueError
        If the search space is empty or malformed.
    """
    import optuna

    tune = config.tune
    if not tune.space:
        raise ValueError(
            "tune.space is empty: declare what to search, e.g. "
            "tune: {space: {train.lr: {low: 1.0e-4, high: 1.0e-2, log: true}}}"
        )
    if tune.folds < 2:
        raise ValueError(f"tune.folds must be >= 2, got {tune.folds}")
    n_trials = trials if trials is not None else tune.trials
    out_dir = Path(config.out) / "tune"
    out_dir.mkdir(parents=True, exist_ok=True)
    if tune.epochs is not None:
        config = apply_overrides(config, [f"train.epochs={tune.epochs}"])

    from skysift.training.run import load_run_data

    data = load_run_data(config)
    pool = np.sort(np.concatenate([data.splits["train"], data.splits["val"]]))
    folds = _folds(data, pool, tune.folds, config.train.seed)
    rows: list[dict[str, Any]] = []

    def objective(trial) -> float:
        values = {key: suggest(trial, key, spec) for key, spec in tune.space.items()}
        trial.set_user_attr("values", values)
        trial_config = apply_overrides(config, [f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in values.items()])
        t0 = time.perf_counter()
        scores = []
        for i, (train, val) in enumerate(folds):
            scores.append(_fold_score(trial_config, data, train, val))
            trial.report(float(np.mean(scores)), i)
        score = float(np.mean(scores))
        rows.append(
            {
                "trial": trial.number,
                **values,
                "score": score,
                "score_std": float(np.std(scores)),
                "fold_scores": " ".join(f"{s:.5f}" for s in scores),
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        if progress:
            print(f"trial {trial.number}: score {score:.5f} +- {np.std(scores):.5f}  {values}")
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=config.train.seed)
    )
    study.optimize(objective, n_trials=n_trials)
    trials_csv = out_dir / "trials.csv"
    with open(trials_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["score"]))
    best = study.best_trial.user_attrs["values"]
    best_config = apply_overrides(config, [f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in best.items()])
    best_path = save_config(best_config, out_dir / "best_config.yaml")
    return {
        "best_params": best,
        "best_score": float(study.best_value),
        "trials_csv": str(trials_csv),
        "best_config": str(best_path),
        "n_trials": len(rows),
        "metric": "weighted_log_loss" if data.class_names is not None else "mse",
    }
