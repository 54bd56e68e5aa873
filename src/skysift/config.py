"""Run configuration: frozen dataclasses, YAML in and out, unknown keys rejected.

Only the command line and the training boundary read configs; library
functions take explicit keyword arguments. A run config looks like::

    data:
      path: data/lines            # a store (raw or prepared)
      test_size: 0.2
      val_size: 0.2
    prepare:                      # optional pipeline (see skysift prepare)
      kind: spectra
      steps: [{regrid: {start_aa: 3600, stop_aa: 9800, num: 900}}, standardize]
    model:
      name: cnn1d_strided
      params: {drop_rate: 0.1}
    train:
      epochs: 30
      batch_size: 256
      lr: 0.001
    out: runs/lines

and any value can be overridden with a dotted key: ``train.lr=3e-4``.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DataConfig",
    "EvaluateConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "TuneConfig",
    "apply_overrides",
    "load_config",
    "save_config",
]


@dataclass(frozen=True)
class DataConfig:
    """Where the data is and how to split it.

    Attributes
    ----------
    path : str
        A store directory (spectra, light curves, or prepared).
    test_size, val_size : float
        Fractions of all objects for test and validation (seed 000: 0.2, 0.2).
    group_column : str or None
        Metadata column naming the physical object of each row; rows of one
        group stay in one split. ``"auto"`` uses ``group`` when present.
    target : str
        ``"label"`` for classification, a numeric column (``"redshift"``)
        for regression.
    max_objects : int or None
        Use only the first N objects (quick runs).
    split_column : str or None
        A predefined split instead of a random one: the metadata column
        whose value says where a row goes. Rows whose value is in
        ``train_values`` form the training pool (``val_size`` of it, as a
        fraction of the pool, is carved out for validation, stratified);
        every other row is test, and ``test_size`` is ignored. E.g. SNPCC's
        biased split: ``split_column: spectro_confirmed, train_values: [true]``;
        a UEA archive: ``split_column: split, train_values: [TRAIN]``.
    train_values : list or None
        The values of ``split_column`` that mean "training pool".
    split_seed : int or None
        Seed of the random split; None: ``train.seed``. Set it to train
        several models (different ``train.seed``) on one split.
    """

    path: str = ""
    test_size: float = 0.2
    val_size: float = 0.2
    group_column: str | None = "auto"
    target: str = "label"
    max_objects: int | None = None
    split_column: str | None = None
    train_values: list[Any] | None = None
    split_seed: int | None = None


@dataclass(frozen=True)
class ModelConfig:
    """The architecture: a registered name and its size overrides."""

    name: str = "vgg1d"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation (seed 003: Adam, LR cut 10% after 5 flat epochs).

    Attributes
    ----------
    epochs, batch_size, lr : int, int, float
        Seed 001: batch 256, Adam 1e-3.
    loss : str
        ``cross_entropy``, ``weighted_log_loss`` (seed 003 eq. 3.20), ``mse``
        or ``mae``; ``auto`` picks cross-entropy or MSE from the model's task.
    balance : str
        ``none``, ``class_weights`` (loss weights from the training split),
        ``smote`` (oversample the training split, seed 001) or
        ``prior_shift`` (train unweighted, then add ``-log(prior)`` of the
        training split to the classifier's bias, so the saved model's
        probabilities are those for equally likely classes: Bayes' rule,
        "post-hoc logit adjustment", Menon et al. 2021; what the
        flat-weighted log-loss rewards).
    patience : int
        Early stopping: epochs without a better validation loss.
    lr_patience, lr_factor : int, float
        Multiply the LR by ``lr_factor`` after ``lr_patience`` flat epochs.
    lr_schedule : str
        ``plateau`` (the above) or ``cosine`` (half a cosine from ``lr`` to
        0 over ``epochs``; ``lr_patience``/``lr_factor`` unused).
    input_noise : float
        Standard deviation of Gaussian noise added to every training input
        value (in the prepared input's units, e.g. arcsinh flux), drawn
        anew at every step; validation, test and predictions see clean
        inputs. 0 (default): none.
    seed : int
        Seeds weights, data order and dropout; a resumed run repeats an
        uninterrupted one.
    accelerator : str
        ``auto``, ``cpu`` or ``gpu``.
    devices : int
        GPUs to use (several: data parallel).
    precision : str
        ``32``, or ``bf16-mixed`` on a GPU.
    num_workers : int
        DataLoader worker processes.
    """

    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    loss: str = "auto"
    balance: str = "none"
    patience: int = 10
    lr_patience: int = 5
    lr_factor: float = 0.9
    lr_schedule: str = "plateau"
    input_noise: float = 0.0
    seed: int = 0
    accelerator: str = "auto"
    devices: int = 1
    precision: str = "32"
    num_workers: int = 0


@dataclass(frozen=True)
class EvaluateConfig:
    """What the report shows beyond the defaults.

    Attributes
    ----------
    cuts : list of float
        Extra confidence cuts for the ladder (seed 000's 0.9 ... 0.99999997
        are always there).
    binary_groups : dict of str to list of str
        Binary views of a multi-class model, e.g. ``{"Ia": ["SNIa", "Ia-91bg"]}``
        gives "Ia vs non-Ia" (seed 000).
    matrix_cut : float or None
        Draw a confusion matrix for objects above this probability.
    """

    cuts: list[float] = field(default_factory=list)
    binary_groups: dict[str, list[str]] = field(default_factory=dict)
    matrix_cut: float | None = None


@dataclass(frozen=True)
class TuneConfig:
    """Hyper-parameter search (seed 003: Optuna TPE with 5-fold cross-validation).

    Attributes
    ----------
    space : dict
        Dotted config key -> distribution: ``{low, high, log}`` for floats,
        ``{low, high, int: true}`` for integers, ``{choices: [...]}`` for a
        categorical choice. Example: ``{"train.lr": {"low": 1e-4, "high":
        1e-2, "log": true}, "model.params.num_heads": {"choices": [2, 4]}}``.
    trials : int
        Number of TPE trials.
    folds : int
        k of the k-fold cross-validation on the training + validation rows
        (the test split is never seen).
    epochs : int or None
        Epoch budget per fold (default: ``train.epochs``).
    """

    space: dict[str, dict[str, Any]] = field(default_factory=dict)
    trials: int = 20
    folds: int = 5
    epochs: int | None = None


@dataclass(frozen=True)
class RunConfig:
    """Everything one training run needs; written to ``RUN_DIR/config.yaml``."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    prepare: dict[str, Any] | None = None
    out: str = "runs/run"

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (YAML-ready)."""
        return dataclasses.asdict(self)


_SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "evaluate": EvaluateConfig,
    "tune": TuneConfig,
}


def _build(cls: type, values: Mapping[str, Any], where: str) -> Any:
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        import difflib

        notes = [
            k + (f" (did you mean {c[0]!r}?)" if (c := difflib.get_close_matches(k, names, 1)) else "")
            for k in unknown
        ]
        raise ValueError(
            f"config {where}: unknown key(s) {', '.join(notes)}; "
            f"allowed: {', '.join(names)}"
        )
    hints = typing.get_type_hints(cls)
    coerced = {}
    for key, value in values.items():
        kind = hints[key]
        try:
            # YAML 1.1 reads 3e-4 (no dot) as a string: coerce by the field type
            if kind is float and isinstance(value, str | int) and not isinstance(value, bool):
                value = float(value)
            elif kind is int and isinstance(value, str):
                value = int(value)
        except ValueError as e:
            raise ValueError(
                f"config {where}.{key}: expected a {kind.__name__}, got {value!r}"
            ) from e
        coerced[key] = value
    return cls(**coerced)


def config_from_dict(data: Mapping[str, Any]) -> RunConfig:
    """Build a :class:`RunConfig` from nested mappings, rejecting unknown keys.

    Examples
    --------
    >>> cfg = config_from_dict({"model": {"name": "t2"}, "train": {"lr": 3e-4}})
    >>> cfg.model.name, cfg.train.lr, cfg.train.batch_size
    ('t2', 0.0003, 256)
    >>> config_from_dict({"train": {"epoch": 1}})
    Traceback (most recent call last):
    ...
    ValueError: config train: unknown key(s) epoch (did you mean 'epochs'?); allowed: ...
    """
    data = dict(data or {})
    top = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(data) - top)
    if unknown:
        raise ValueError(
            f"config: unknown section(s) {unknown}; allowed: {sorted(top)}"
        )
    kwargs: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        section = data.get(name) or {}
        if not isinstance(section, Mapping):
            raise ValueError(f"config {name}: expected a mapping, got {section!r}")
        kwargs[name] = _build(cls, section, name)
    if data.get("prepare") is not None:
        kwargs["prepare"] = dict(data["prepare"])
    if "out" in data:
        kwargs["out"] = str(data["out"])
    return RunConfig(**kwargs)


def _parse_value(text: str) -> Any:
    return yaml.safe_load(text)


def apply_overrides(config: RunConfig, overrides: Iterable[str]) -> RunConfig:
    """Return ``config`` with dotted ``key=value`` overrides applied.

    Values are parsed as YAML (``3e-4``, ``true``, ``[1, 2]``).

    Examples
    --------
    >>> cfg = apply_overrides(RunConfig(), ["train.lr=3e-4", "model.params.d_model=64"])
    >>> cfg.train.lr, cfg.model.params
    (0.0003, {'d_model': 64})
    """
    data = config.to_dict()
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r}: expected key=value, e.g. train.lr=3e-4")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node = data
        for p in parts[:-1]:
            if node.get(p) is None:
                node[p] = {}
            if not isinstance(node[p], dict):
                raise ValueError(f"override {item!r}: {p!r} is not a section")
            node = node[p]
        node[parts[-1]] = _parse_value(value)
    return config_from_dict(data)


def load_config(path: str | os.PathLike, overrides: Iterable[str] = ()) -> RunConfig:
    """Read a YAML run config and apply overrides.

    Raises
    ------
    ValueError
        If the YAML is not a mapping or holds unknown keys; the message names
        the file.
    """
    path = Path(path)
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: a run config must be a YAML mapping")
    try:
        return apply_overrides(config_from_dict(data), overrides)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e


def save_config(config: RunConfig, path: str | os.PathLike) -> Path:
    """Write the resolved config as YAML; return the path."""
    path = Path(path)
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    return path
