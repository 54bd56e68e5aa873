"""Evaluate a trained model on a labelled store: predictions, report, metrics."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from skysift.exceptions import DataFormatError

__all__ = [
    "average_test_predictions",
    "compare_runs",
    "evaluate_store",
    "read_test_predictions",
    "write_test_predictions",
]


def write_test_predictions(
    path: str | os.PathLike,
    ids: Any,
    out: np.ndarray,
    y: np.ndarray,
    *,
    class_names: list[str] | None = None,
    target: str = "label",
) -> Path:
    """Write a run's ``test_predictions.parquet``: one row per test object.

    A classifier's rows (``class_names`` given; ``out`` the (N, C)
    probabilities, ``y`` the true class indices) hold ``object_id``,
    ``prob_<class>`` per class, ``true_class``, ``pred_class`` and
    ``pred_prob``; a regressor's (``out`` and ``y`` of shape (N,)) hold
    ``object_id``, ``true_<target>`` and ``pred_<target>``.
    """
    import pandas as pd

    frame: dict[str, Any] = {"object_id": ids}
    if class_names is not None:
        names = np.asarray(class_names)
        for i, name in enumerate(class_names):
            frame[f"prob_{name}"] = out[:, i]
        frame["true_class"] = names[y]
        frame["pred_class"] = names[out.argmax(1)]
        frame["pred_prob"] = out.max(1)
    else:
        frame[f"true_{target}"] = y
        frame[f"pred_{target}"] = out
    path = Path(path)
    pd.DataFrame(frame).to_parquet(path, index=False)
    return path


def read_test_predictions(path: str | os.PathLike) -> dict[str, Any]:
    """Read a run's ``test_predictions.parquet`` (or its run directory).

    Returns
    -------
    dict
        ``path``, ``task`` (``"classification"`` or ``"regression"``),
        ``target``, ``ids`` (str, sorted) and ``y``, rows in the order of
        ``ids``. A classifier's: ``class_names``, ``y`` the true class
        indices and ``prob`` (N, C). A regressor's: ``class_names`` None,
        ``y`` the true values and ``pred`` (N,) the predicted ones.

    Raises
    ------
    DataFormatError
        If the file is missing or lacks columns; the message names the file.
    """
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        path = path / "test_predictions.parquet"
    if not path.exists():
        raise DataFormatError(f"{path}: no such file (a run directory holds test_predictions.parquet)")
    frame = pd.read_parquet(path)
    classes = [c.removeprefix("prob_") for c in frame.columns if c.startswith("prob_")]
    targets = [c.removeprefix("true_") for c in frame.columns
               if c.startswith("true_") and c != "true_class" and f"pred_{c[5:]}" in frame]
    if "object_id" not in frame or not (
        (classes and "true_class" in frame) or (not classes and len(targets) == 1)
    ):
        raise DataFormatError(
            f"{path}: not a run's test predictions (needs object_id and either prob_<class> "
            f"and true_class, or true_<target> and pred_<target>; has {list(frame.columns)})"
        )
    frame["object_id"] = frame["object_id"].astype(str)
    frame = frame.sort_values("object_id", kind="stable").reset_index(drop=True)
    out = {"path": path, "ids": frame["object_id"].to_numpy()}
    if not classes:
        (target,) = targets
        return {**out, "task": "regression", "target": target, "class_names": None,
                "y": frame[f"true_{target}"].to_numpy(np.float64),
                "pred": frame[f"pred_{target}"].to_numpy(np.float64)}
    index = {c: i for i, c in enumerate(classes)}
    truth = frame["true_class"].astype(str)
    unknown = sorted(set(truth) - set(index))
    if unknown:
        raise DataFormatError(f"{path}: true classes {unknown} have no prob_ column")
    return {**out, "task": "classification", "target": "label", "class_names": classes,
            "y": truth.map(index).to_numpy(np.int64),
            "prob": frame[[f"prob_{c}" for c in classes]].to_numpy(np.float64)}


def _check_same_test_set(ref: dict[str, Any], other: dict[str, Any], what: str) -> None:
    """Refuse test predictions of another task, objects or truths than ``ref``'s."""
    if (other["target"], other["class_names"]) != (ref["target"], ref["class_names"]):
        def kind(r):
            return f"classes {r['class_names']}" if r["class_names"] else f"target {r['target']}"

        raise DataFormatError(
            f"{other['path']}: {kind(other)}, not {kind(ref)} as in {ref['path']}; "
            f"{what} runs of one task"
        )
    if not np.array_equal(other["ids"], ref["ids"]):
        only = sorted(set(other["ids"]) ^ set(ref["ids"]))
        raise DataFormatError(
            f"{other['path']}: predicted other objects than {ref['path']} "
            f"({len(other['ids'])} against {len(ref['ids'])}; e.g. {only[:3]}); "
            f"{what} runs tested on one split"
        )
    if not np.array_equal(other["y"], ref["y"]):
        raise DataFormatError(
            f"{other['path']}: true {'classes' if ref['class_names'] else 'values'} differ "
            f"from {ref['path']}'s for {int(np.sum(other['y'] != ref['y']))} objects"
        )


def average_test_predictions(
    runs: list[str | os.PathLike], path: str | os.PathLike
) -> dict[str, Any]:
    """Write the mean of runs' test predictions as one run's file.

    What an ensemble of the runs predicts on their common test split (see
    :func:`skysift.training.checkpoint.save_ensemble`), so that it can be
    evaluated and compared like a run: classifiers' probabilities or
    regressors' predicted values are averaged. Returns what
    :func:`read_test_predictions` does with ``prob`` or ``pred`` the mean,
    the written ``path``, and ``members``: what was read of each run.

    Raises
    ------
    DataFormatError
        If the runs were tested on other objects, tasks, classes or truths.
    """
    read = [read_test_predictions(r) for r in runs]
    for other in read[1:]:
        _check_same_test_set(read[0], other, "average")
    key = "pred" if read[0]["task"] == "regression" else "prob"
    mean = {**read[0], key: np.mean([r[key] for r in read], axis=0), "members": read}
    mean["path"] = write_test_predictions(path, mean["ids"], mean[key], mean["y"],
                                          class_names=mean["class_names"],
                                          target=mean["target"])
    return mean


def compare_runs(
    runs: list[str | os.PathLike],
    *,
    metric: str = "log_loss",
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Compare classifier runs on their common test set, each against the first.

    Every run must have predicted the same objects with the same true
    classes (runs of one recipe split, or one ``skysift evaluate`` set). The
    first run is the reference; for each other one the difference
    ``metric(run) - metric(first)`` comes with a paired bootstrap interval
    (:func:`skysift.evaluation.metrics.paired_bootstrap`): an interval that
    contains 0 means this test set cannot tell the two apart.

    Parameters
    ----------
    runs : list of path-like
        Run directories (or their ``test_predictions.parquet``); two or more.
    metric : {"log_loss", "accuracy", "roc_auc"}, default "log_loss"
        Flat-weighted log-loss (seed 003 eq. 3.20), accuracy, or macro
        one-vs-rest ROC AUC.
    n_boot, level, seed
        As in :func:`~skysift.evaluation.metrics.paired_bootstrap`.

    Returns
    -------
    list of dict
        One per run: ``run``, ``value``; and for all but the first
        ``difference``, ``low``, ``high``, ``p_not_below``.
    """
    from skysift.evaluation.metrics import (
        accuracy_score,
        paired_bootstrap,
        roc_auc_score,
        weighted_log_loss,
    )

    functions = {"log_loss": weighted_log_loss, "accuracy": accuracy_score,
                 "roc_auc": roc_auc_score}
    if metric not in functions:
        raise ValueError(f"metric must be one of {sorted(functions)}, got {metric!r}")
    if len(runs) < 2:
        raise ValueError(f"compare needs at least two runs, got {len(runs)}")
    fn = functions[metric]
    read = [read_test_predictions(r) for r in runs]
    for r in read:
        if r["task"] != "classification":
            raise DataFormatError(
                f"{r['path']}: not a classifier's test predictions (a regressor's, of "
                f"{r['target']}); compare takes classifier runs"
            )
    ref = read[0]
    for other in read[1:]:
        _check_same_test_set(ref, other, "compare")
    rows = [{"run": str(runs[0]), "value": float(fn(ref["y"], ref["prob"]))}]
    for run, other in zip(runs[1:], read[1:], strict=True):
        boot = paired_bootstrap(fn, ref["y"], other["prob"], ref["prob"], n_boot=n_boot,
                                level=level, seed=seed)
        rows.append({"run": str(run), "value": boot["a"], "difference": boot["difference"],
                     "low": boot["low"], "high": boot["high"],
                     "p_not_below": boot["p_not_below"]})
    return rows


def evaluate_store(
    model: Any,
    store: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    cuts: list[float] | None = None,
    binary_groups: dict[str, list[str]] | None = None,
    matrix_cut: float | None = None,
    batch_size: int = 4096,
    device: str = "cpu",
) -> dict[str, Any]:
    """Predict every object of a labelled store and write the report.

    Parameters
    ----------
    model : path-like or LoadedModel
        Run directory, ``model.pt`` or a loaded model.
    store : path-like
        A labelled store (raw or prepared) of the kind the model reads.
    out_dir : path-like
        Receives ``predictions.parquet``, ``report.html`` and ``metrics.json``.
    cuts, binary_groups, matrix_cut
        See :func:`skysift.evaluation.write_report`; by default the ones
        saved in the run's config.
    batch_size, device
        See :func:`skysift.serving.batch.predict_store`.

    Returns
    -------
    dict
        ``metrics`` (as in metrics.json), ``report`` path, ``n_in``,
        ``n_evaluated`` and ``excluded`` (object id -> reason: rejected by the
        pipeline, unlabelled, or a class the model does not know).

    Raises
    ------
    DataFormatError
        If no object of the store can be evaluated.
    """
    import json

    import pandas as pd

    from skysift.evaluation.report import write_report
    from skysift.io.store import open_store
    from skysift.serving.batch import predict_store
    from skysift.training.checkpoint import LoadedModel, load_model

    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(loaded.metadata.get("run_dir", ""))
    if (cuts is None or binary_groups is None) and (run_dir / "config.yaml").exists():
        import yaml

        saved = (yaml.safe_load((run_dir / "config.yaml").read_text()) or {}).get("evaluate") or {}
        cuts = cuts if cuts is not None else saved.get("cuts")
        binary_groups = binary_groups if binary_groups is not None else saved.get("binary_groups")
        matrix_cut = matrix_cut if matrix_cut is not None else saved.get("matrix_cut")

    pred_path = out_dir / "predictions.parquet"
    summary = predict_store(loaded, store, pred_path, batch_size=batch_size, device=device, overwrite=True)
    pred = pd.read_parquet(pred_path)
    src = open_store(store)
    target = loaded.target
    truth = src.read(["object_id", target]).to_pandas()
    merged = pred.merge(truth, on="object_id", how="left")
    excluded: dict[str, str] = {}
    rejected_csv = pred_path.with_name(pred_path.name + ".rejected.csv")
    if rejected_csv.exists():
        for row in pd.read_csv(rejected_csv).itertuples():
            excluded[str(row.object_id)] = str(row.reason)
    if loaded.class_names is not None:
        known = merged[target].isin(loaded.class_names)
        for oid, lab in zip(merged["object_id"][~known], merged[target][~known], strict=True):
            excluded[str(oid)] = "unlabelled" if lab is None or lab != lab else f"class {lab!r} unknown to the model"
        merged = merged[known]
        if merged.empty:
            raise DataFormatError(
                f"{src.path}: no object has a label the model knows "
                f"({', '.join(loaded.class_names)})"
            )
        lookup = {c: i for i, c in enumerate(loaded.class_names)}
        y_true = merged[target].map(lookup).to_numpy()
        y_prob = np.array(merged[[f"prob_{c}" for c in loaded.class_names]], dtype=np.float64)
        y_prob /= y_prob.sum(axis=1, keepdims=True)  # float32 rounding
        report = write_report(
            out_dir,
            y_true=y_true,
            y_prob=y_prob,
            class_names=loaded.class_names,
            title=f"{loaded.model_name} on {src.path.name}",
            cuts=cuts,
            binary_groups=binary_groups,
            matrix_cut=matrix_cut,
            history_csv=run_dir / "metrics.csv" if (run_dir / "metrics.csv").exists() else None,
        )
    else:
        good = merged[target].notna()
        for oid in merged["object_id"][~good]:
            excluded[str(oid)] = f"no {target}"
        merged = merged[good]
        if merged.empty:
            raise DataFormatError(f"{src.path}: no object has a {target} value")
        report = write_report(
            out_dir,
            y_true=merged[target].to_numpy(np.float64),
            y_pred=merged[f"pred_{target}"].to_numpy(np.float64),
            task="regression",
            title=f"{loaded.model_name} on {src.path.name}",
        )
    metrics = json.loads((out_dir / "metrics.json").read_text())
    if excluded:
        pd.DataFrame({"object_id": list(excluded), "reason": list(excluded.values())}).to_csv(
            out_dir / "excluded.csv", index=False
        )
    return {
        "metrics": metrics,
        "report": str(report),
        "n_in": summary["n_in"],
        "n_evaluated": len(merged),
        "excluded": excluded,
    }
