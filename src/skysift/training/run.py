"""One training run: config in, run directory out.

A run directory holds::

    config.yaml          the resolved config (re-used by --resume)
    metrics.csv          one row per epoch: losses, accuracies, learning rate
    training_curve.png   loss and accuracy against epoch
    checkpoints/         best.ckpt and last.ckpt (Lightning; pipeline and
                         class names inside) for resuming
    model.pt             the best model, self-contained (see checkpoint.py)
    test_predictions.parquet, metrics.json, report.html   on the test split
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skysift.config import RunConfig, config_from_dict, save_config
from skysift.exceptions import SkysiftError
from skysift.io.rejects import write_rejects

__all__ = [
    "BuiltTraining",
    "build_training",
    "load_run_data",
    "model_kwargs_for",
    "predict_arrays",
    "shift_to_flat_prior",
    "train_run",
]

log = logging.getLogger(__name__)


def model_kwargs_for(
    name: str,
    *,
    kind: str,
    input_shape: tuple[int, ...],
    num_outputs: int,
    num_extra: int,
    params: dict[str, Any],
) -> dict[str, Any]:
    """Keyword arguments of ``create_model`` for prepared data of this shape."""
    if kind == "lightcurves":
        length, channels = input_shape  # (L, M)
    else:
        channels, length = input_shape[0], int(np.prod(input_shape[1:]))  # (C, L)
    kwargs: dict[str, Any] = {
        "num_classes": num_outputs,
        "in_channels": int(channels),
        "input_length": int(length),
        **params,
    }
    if num_extra:
        kwargs["num_extra_features"] = num_extra
    return kwargs


def predict_arrays(
    model: torch.nn.Module,
    x: np.ndarray,
    extra: np.ndarray | None = None,
    *,
    batch_size: int = 1024,
    device: str = "cpu",
) -> np.ndarray:
    """Run ``model`` over arrays in batches; softmax probabilities for a classifier.

    Returns
    -------
    numpy.ndarray, shape (N, C) or (N,)
        Class probabilities, or regression outputs (squeezed to (N,) when the
        model has one output).
    """
    model = model.to(device).eval()
    classifier = getattr(model, "task", "classification") == "classification"
    uses_extra = getattr(model, "num_extra_features", 0) > 0
    outs = []
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size])).to(device)
            eb = (
                torch.from_numpy(np.ascontiguousarray(extra[start : start + batch_size])).to(device)
                if uses_extra
                else None
            )
            out = model(xb, eb).float()
            # float64 softmax: seed 000 cuts at 0.99999997, beyond float32 resolution
            outs.append((out.double().softmax(1) if classifier else out).cpu().numpy())
    result = np.concatenate(outs) if outs else np.zeros((0, 1), np.float32)
    if not classifier and result.ndim == 2 and result.shape[1] == 1:
        result = result[:, 0]
    return result


class _History:
    """Lightning callback writing one CSV row per epoch."""

    def __new__(cls, path: Path):
        import lightning as L

        class History(L.Callback):
            def __init__(self) -> None:
                self.path = path

            def on_train_epoch_end(self, trainer, pl_module) -> None:
                if trainer.sanity_checking:
                    return
                metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
                row = {
                    "epoch": trainer.current_epoch,
                    "train_loss": metrics.get("train_loss"),
                    "val_loss": metrics.get("val_loss"),
                    "train_acc": metrics.get("train_acc"),
                    "val_acc": metrics.get("val_acc"),
                    "lr": self.lr,  # the rate this epoch trained at
                    "time_s": round(time.perf_counter() - self.start, 2),
                }
                rows = []
                if self.path.exists():
                    with open(self.path) as f:
                        rows = [r for r in csv.DictReader(f) if int(r["epoch"]) < row["epoch"]]
                rows.append(row)
                with open(self.path, "w", newline="") as f:
                    writer = csv.DictWriter(f, fieldnames=list(row))
                    writer.writeheader()
                    writer.writerows(rows)

            def on_train_start(self, trainer, pl_module) -> None:
                self.start = time.perf_counter()

            def on_train_epoch_start(self, trainer, pl_module) -> None:
                # read here: an epoch-interval scheduler has already stepped by epoch end
                self.lr = trainer.optimizers[0].param_groups[0]["lr"]

        return History()


def plot_training_curve(metrics_csv: Path, out: Path) -> Path:
    """Draw loss (and accuracy) against epoch from ``metrics.csv`` into a PNG."""
    from skysift.evaluation.plots import plot_training_curves
    from skysift.evaluation.report import read_history_csv

    fig = plot_training_curves(read_history_csv(metrics_csv))
    fig.savefig(out, dpi=110)
    return out


def _balance(
    data, config: RunConfig, train: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list | None]:
    """Training arrays of rows ``train`` after balancing, and loss class weights."""
    x, extra, y = data.x[train], data.extra[train], data.y[train]
    mode = config.train.balance
    if mode in ("none", "prior_shift") or data.class_names is None:
        return x, extra, y, None
    if mode == "class_weights":
        from skysift.preprocessing.balance import class_weights

        return x, extra, y, class_weights(y, classes=np.arange(len(data.class_names))).tolist()
    if mode == "smote":
        from skysift.preprocessing.balance import smote_resample

        k = max(1, min(5, int(np.bincount(y).min()) - 1))
        x_res, y_res, extra_res = smote_resample(
            x, y, seed=config.train.seed, k_neighbors=k, extra=extra
        )
        return x_res.astype(np.float32), extra_res.astype(np.float32), y_res.astype(np.int64), None
    raise ValueError(
        f"train.balance must be 'none', 'class_weights', 'smote' or 'prior_shift', got {mode!r}"
    )


def shift_to_flat_prior(model, y_train: np.ndarray, num_classes: int) -> list[float]:
    """Make a classifier's probabilities those for equally likely classes.

    A network trained on class frequencies ``pi_c`` estimates
    ``p(c | x) ~ p(x | c) pi_c``; adding ``-log(pi_c)`` to its logits (to the
    final layer's bias, so every later use of the model -- saved file, ONNX,
    ``skysift predict`` -- carries it) divides the prior out, which is what a
    metric that weighs every class equally (seed 003 eq. 3.20) rewards.

    Returns
    -------
    list of float
        The training-split class frequencies used.

    Raises
    ------
    SkysiftError
        If a class has no training object or the final layer has no bias.
    """
    counts = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=num_classes)
    if (counts == 0).any():
        raise SkysiftError(
            f"train.balance=prior_shift: classes {np.flatnonzero(counts == 0).tolist()} have "
            "no training object, so their prior is 0 and cannot be divided out"
        )
    layer = model.get_classifier()
    if layer.bias is None:
        raise SkysiftError("train.balance=prior_shift needs a final layer with a bias")
    prior = counts / counts.sum()
    with torch.no_grad():
        layer.bias -= torch.as_tensor(np.log(prior), dtype=layer.bias.dtype, device=layer.bias.device)
    return prior.tolist()


@dataclass
class BuiltTraining:
    """A model, its Lightning task and data loaders, ready for ``Trainer.fit``."""

    model: Any
    model_kwargs: dict[str, Any]
    task: Any
    train_loader: Any
    val_loader: Any


def build_training(config: RunConfig, data, train: np.ndarray, val: np.ndarray) -> BuiltTraining:
    """Build the model, task and loaders for training rows ``train`` of ``data``.

    Raises
    ------
    SkysiftError
        If the model's task (classifier / regressor) does not match the
        target.
    """
    from torch.utils.data import DataLoader

    from skysift.models import create_model
    from skysift.training.data import ArrayDataset, EpochSeededSampler
    from skysift.training.task import SkysiftTask

    tc = config.train
    x_tr, e_tr, y_tr, class_weights = _balance(data, config, train)
    num_outputs = len(data.class_names) if data.class_names else 1
    kwargs = model_kwargs_for(
        config.model.name,
        kind=data.kind,
        input_shape=data.input_shape,
        num_outputs=num_outputs,
        num_extra=data.extra.shape[1],
        params=dict(config.model.params),
    )
    model = create_model(config.model.name, **kwargs)
    is_classifier = model.task == "classification"
    loss = tc.loss if tc.loss != "auto" else ("cross_entropy" if is_classifier else "mse")
    if not is_classifier and config.data.target == "label":
        raise SkysiftError(
            f"model {config.model.name!r} is a regressor; set data.target to a numeric "
            "column such as redshift"
        )
    if is_classifier and config.data.target != "label":
        raise SkysiftError(
            f"model {config.model.name!r} is a classifier; data.target must be 'label'"
        )
    task = SkysiftTask(
        model,
        loss=loss,
        lr=tc.lr,
        weight_decay=tc.weight_decay,
        lr_patience=tc.lr_patience,
        lr_factor=tc.lr_factor,
        lr_schedule=tc.lr_schedule,
        epochs=tc.epochs,
        input_noise=tc.input_noise,
        class_weights=class_weights,
        seed=tc.seed,
    )
    task.extra_payload = {
        "pipeline": data.pipeline.to_dict(),
        "class_names": data.class_names,
        "model_name": config.model.name,
        "model_kwargs": kwargs,
    }
    train_loader = DataLoader(
        ArrayDataset(x_tr, e_tr, y_tr),
        batch_size=tc.batch_size,
        sampler=EpochSeededSampler(len(y_tr), tc.seed),
        num_workers=tc.num_workers,
        drop_last=len(y_tr) > tc.batch_size,
        # a DataLoader draws its workers' base seed from the global RNG unless
        # it has its own generator; that draw would shift dropout after resume
        generator=torch.Generator().manual_seed(tc.seed),
    )
    val_loader = DataLoader(
        ArrayDataset(data.x[val], data.extra[val], data.y[val]),
        batch_size=max(tc.batch_size, 512),
        num_workers=tc.num_workers,
        generator=torch.Generator().manual_seed(tc.seed),
    )
    return BuiltTraining(model, kwargs, task, train_loader, val_loader)


@contextlib.contextmanager
def _quiet_lightning():
    """Hide Lightning's advertising and deprecation chatter; keep its warnings."""
    logger = logging.getLogger("lightning.pytorch")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*LeafSpec.*")
            warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
            yield
    finally:
        logger.setLevel(level)


def _make_trainer(tc, run_dir: Path | None, progress: bool, resume: bool = False):
    """Lightning Trainer with early stopping; checkpoints and history when ``run_dir``."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    checkpoint = None if run_dir is None else ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="best",
        monitor="val_loss",
        mode="min",
        save_last=True,
        enable_version_counter=False,
    )
    callbacks = [EarlyStopping(monitor="val_loss", patience=tc.patience, mode="min")]
    if run_dir is not None:
        callbacks += [checkpoint, _History(run_dir / "metrics.csv")]
    return L.Trainer(
        max_epochs=tc.epochs,
        accelerator=tc.accelerator,
        devices=tc.devices,
        precision=tc.precision,
        callbacks=callbacks,
        logger=False,
        num_sanity_val_steps=0,
        enable_progress_bar=progress,
        enable_model_summary=False,
        enable_checkpointing=run_dir is not None,
        default_root_dir=run_dir,
    )


def load_run_data(config: RunConfig):
    """Read, split and prepare the data of a run (see ``load_training_data``)."""
    from skysift.training.data import load_training_data

    data = load_training_data(
        config.data.path,
        pipeline_config=config.prepare,
        target=config.data.target,
        test_size=config.data.test_size,
        val_size=config.data.val_size,
        group_column=config.data.group_column,
        max_objects=config.data.max_objects,
        seed=config.train.seed if config.data.split_seed is None else config.data.split_seed,
        split_column=config.data.split_column,
        train_values=config.data.train_values,
    )
    if len(data.splits["train"]) == 0 or len(data.splits["val"]) == 0:
        raise SkysiftError(
            f"{config.data.path}: too few objects for a train and a validation split "
            f"({len(data.y)} usable)"
        )
    return data


def train_run(
    config: RunConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train, checkpoint, and evaluate on the test split; see the module docstring.

    Parameters
    ----------
    config : RunConfig
        The run; ``config.out`` is the run directory.
    resume : bool, default False
        Continue the interrupted run in ``config.out`` from its last
        checkpoint, with the config saved there.
    overwrite : bool, default False
        Allow writing into a run directory that already has a model.
    progress : bool, default True
        Show Lightning's progress bar.

    Returns
    -------
    dict
        ``run_dir``, ``model_path``, ``report``, ``metrics`` (test split),
        ``epochs``, ``n_train/n_val/n_test``, ``n_rejected``, ``seconds``.
    """
    import lightning as L

    from skysift.training.checkpoint import save_model

    t0 = time.perf_counter()
    run_dir = Path(config.out)
    last_ckpt = run_dir / "checkpoints" / "last.ckpt"
    if resume:
        if not last_ckpt.exists():
            raise FileNotFoundError(
                f"{run_dir}: no checkpoints/last.ckpt to resume from; start a new run"
            )
        import yaml

        config = config_from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()))
    elif (run_dir / "model.pt").exists() or last_ckpt.exists():
        if not overwrite:
            raise FileExistsError(
                f"{run_dir} already holds a run; use --resume to continue it, "
                "--overwrite to replace it, or another --out"
            )
        for stale in [last_ckpt, run_dir / "checkpoints" / "best.ckpt", run_dir / "metrics.csv"]:
            stale.unlink(missing_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, run_dir / "config.yaml")

    tc = config.train
    L.seed_everything(tc.seed, workers=True, verbose=False)
    data = load_run_data(config)
    built = build_training(config, data, data.splits["train"], data.splits["val"])
    model, kwargs, task = built.model, built.model_kwargs, built.task
    val = data.splits["val"]
    with _quiet_lightning():
        trainer = _make_trainer(tc, run_dir, progress, resume)
        checkpoint = trainer.checkpoint_callback
        trainer.fit(task, built.train_loader, built.val_loader, ckpt_path=str(last_ckpt) if resume else None)
    if not trainer.is_global_zero:
        return {}

    best = checkpoint.best_model_path or str(last_ckpt)
    state = torch.load(best, map_location="cpu", weights_only=False)["state_dict"]
    model.load_state_dict({k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")})
    model.eval()
    prior = None
    if tc.balance == "prior_shift" and data.class_names is not None:
        prior = shift_to_flat_prior(model, data.y[data.splits["train"]], len(data.class_names))
    plot_training_curve(run_dir / "metrics.csv", run_dir / "training_curve.png")

    test = data.splits["test"]
    out = predict_arrays(model, data.x[test], data.extra[test])
    metrics = _evaluate_test(data, test, out, run_dir, config)
    model_path = save_model(
        run_dir / "model.pt",
        model,
        model_name=config.model.name,
        model_kwargs=kwargs,
        pipeline=data.pipeline,
        class_names=data.class_names,
        target=config.data.target,
        input_shape=data.input_shape,
        metadata={"run_dir": str(run_dir), "test_metrics": metrics.get("headline", {}),
                  **({} if prior is None else {"prior_shift": prior})},
    )
    if data.rejected:
        write_rejects(run_dir / "rejected.csv", data.rejected)
    return {
        "run_dir": str(run_dir),
        "model_path": str(model_path),
        "report": metrics.get("report"),
        "metrics": metrics.get("headline", {}),
        "epochs": trainer.current_epoch,
        "n_train": len(data.splits["train"]),
        "n_val": len(val),
        "n_test": len(test),
        "n_rejected": len(data.rejected),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _evaluate_test(data, test: np.ndarray, out: np.ndarray, run_dir: Path, config) -> dict[str, Any]:
    """Write test predictions, metrics.json and the report; return headline numbers."""
    from skysift.evaluation.evaluate import write_test_predictions

    y = data.y[test]
    write_test_predictions(run_dir / "test_predictions.parquet", data.ids[test], out, y,
                           class_names=data.class_names, target=config.data.target)
    if len(test) == 0:
        return {"headline": {}}
    report = None
    try:
        from skysift.evaluation import write_report
    except ImportError:  # evaluation package not available
        write_report = None
    if data.class_names is not None:
        headline = {"accuracy": float((out.argmax(1) == y).mean()), "n_test": len(y)}
    else:
        headline = {
            "mse": float(np.mean((out - y) ** 2)),
            "mae": float(np.mean(np.abs(out - y))),
            "n_test": len(y),
        }
    if write_report is not None:
        report = write_report(
            run_dir,
            y_true=y,
            y_prob=out if data.class_names is not None else None,
            y_pred=None if data.class_names is not None else out,
            class_names=data.class_names,
            task="classification" if data.class_names is not None else "regression",
            history_csv=run_dir / "metrics.csv",
            title=f"{config.model.name} on {Path(config.data.path).name}",
            config=config.to_dict(),
            cuts=list(config.evaluate.cuts) or None,
            binary_groups=dict(config.evaluate.binary_groups) or None,
            matrix_cut=config.evaluate.matrix_cut,
        )
        full = json.loads((run_dir / "metrics.json").read_text())
        headline.update({k: v for k, v in full.get("headline", {}).items() if k not in headline})
    else:
        (run_dir / "metrics.json").write_text(json.dumps(headline, indent=2))
    return {"headline": headline, "report": None if report is None else str(report)}

