"""From a store to model-ready train / validation / test arrays.

The store is read in chunks. A raw store (spectra or light curves) is split
first, the preparation pipeline is fitted on the training split only, and
every split is then transformed with the fitted pipeline; a prepared store
(from ``skysift prepare``) brings its already-fitted pipeline along.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from skysift.exceptions import DataFormatError

__all__ = [
    "ArrayDataset",
    "EpochSeededSampler",
    "PreparedData",
    "default_pipeline_config",
    "load_training_data",
    "predefined_split",
]


@dataclass
class PreparedData:
    """Model-ready arrays of one store, with its splits.

    Attributes
    ----------
    x : numpy.ndarray, float32, shape (N, *input_shape)
    extra : numpy.ndarray, float32, shape (N, R)
    y : numpy.ndarray
        Class indices (int64) or regression targets (float32).
    ids : numpy.ndarray of str
    class_names : list of str or None
    splits : dict of str to numpy.ndarray
        ``train``, ``val``, ``test`` row indices.
    pipeline : skysift.preprocessing.Pipeline
        Fitted on the training split.
    kind : str
        Kind of the source store.
    rejected : list of (str, str)
        Objects that could not be used, with the reason.
    """

    x: np.ndarray
    extra: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    class_names: list[str] | None
    splits: dict[str, np.ndarray]
    pipeline: Any
    kind: str
    rejected: list[tuple[str, str]] = field(default_factory=list)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample."""
        return tuple(int(d) for d in self.x.shape[1:])


class ArrayDataset(Dataset):
    """``(x, extra, y)`` triples from in-memory arrays (a view of some rows)."""

    def __init__(self, x: np.ndarray, extra: np.ndarray, y: np.ndarray) -> None:
        self.x = torch.from_numpy(np.ascontiguousarray(x))
        self.extra = torch.from_numpy(np.ascontiguousarray(extra))
        self.y = torch.from_numpy(np.ascontiguousarray(y))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.extra[i], self.y[i]


class EpochSeededSampler(Sampler[int]):
    """Shuffle with a permutation that depends only on (seed, epoch).

    Lightning calls :meth:`set_epoch` before each epoch, so a run resumed at
    an epoch boundary visits the data in the same order as an uninterrupted
    one.
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch``."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())


def default_pipeline_config(kind: str) -> dict[str, Any]:
    """Return the pipeline used when a run names none: per-spectrum standardisation.

    Light curves have no default: their GP interpolation must be configured.
    """
    if kind == "spectra":
        return {"kind": "spectra", "steps": ["standardize"]}
    raise DataFormatError(
        "light curves need a preparation pipeline in the run config, e.g. "
        "prepare: {kind: lightcurves, steps: [{gp: {num_points: 100}}, extra_features]}"
    )


def _concat_batches(batches: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in batches[0]:
        parts = [b[key] for b in batches]
        if all(isinstance(p, np.ndarray) and p.ndim >= 1 for p in parts) and len(
            {p.shape[1:] for p in parts}
        ) == 1:
            out[key] = np.concatenate(parts)
        else:
            out[key] = [row for p in parts for row in p]
    return out


def _encode_target(values: np.ndarray, target: str, path: Any):
    if target == "label":
        labels = np.asarray(values, dtype=object)
        missing = np.array([v is None for v in labels])
        return labels, missing
    y = np.asarray(values, dtype=np.float64)
    return y, ~np.isfinite(y)


def _split_value(value: Any) -> str:
    """Canonical text of a split-column value (``True``, ``"true"`` and ``1.0`` differ)."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


def predefined_split(
    values: Any,
    train_values: Any,
    strata: np.ndarray,
    *,
    val_size: float,
    seed: int = 0,
    where: str = "split column",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split rows by a column's value: a training pool and the test rest.

    Parameters
    ----------
    values : array-like, shape (N,)
        The split column (booleans, strings or numbers; compared as text,
        booleans as ``true``/``false``).
    train_values : sequence
        Values that put a row into the training pool.
    strata : numpy.ndarray, shape (N,)
        Class (or target bin) of each row, to stratify the validation part.
    val_size : float
        Fraction of the training pool carved out for validation.
    seed : int, default 0
    where : str
        Names the column in error messages.

    Returns
    -------
    train, val, test : numpy.ndarray of int
        Sorted, disjoint row indices covering every row.

    Raises
    ------
    DataFormatError
        If no row is in the training pool or none is left for test.

    Examples
    --------
    >>> tr, va, te = predefined_split(["TRAIN"] * 6 + ["TEST"] * 2, ["TRAIN"],
    ...                               np.array([0, 1] * 4), val_size=1 / 3)
    >>> tr.tolist(), va.tolist(), te.tolist()
    ([0, 1, 2, 3], [4, 5], [6, 7])
    """
    from skysift.data.splits import stratified_split

    if train_values is None or isinstance(train_values, str | bytes) or not len(train_values):
        raise DataFormatError(
            f"{where}: train_values must be a non-empty list of the column's values "
            f"that mean 'training', got {train_values!r}"
        )
    text = np.array([_split_value(v) for v in values], dtype=object)
    wanted = {_split_value(v) for v in train_values}
    in_pool = np.isin(text, sorted(wanted))
    pool, test = np.flatnonzero(in_pool), np.flatnonzero(~in_pool)
    if len(pool) == 0 or len(test) == 0:
        raise DataFormatError(
            f"{where}: train_values {sorted(wanted)} select {len(pool)} training and "
            f"{len(test)} test rows; the column's values are {sorted(set(text))[:10]}"
        )
    if val_size > 0:
        # the held-out part of a stratified split of the pool is the validation part
        keep, _, held = stratified_split(strata[pool], test_size=val_size, val_size=0.0, seed=seed)
        train, val = pool[keep], pool[held]
    else:
        train, val = pool, pool[:0]
    return np.sort(train), np.sort(val), test


def load_training_data(
    path: Any,
    *,
    pipeline_config: dict[str, Any] | None = None,
    target: str = "label",
    test_size: float = 0.2,
    val_size: float = 0.2,
    group_column: str | None = "auto",
    max_objects: int | None = None,
    seed: int = 0,
    batch_size: int = 8192,
    split_column: str | None = None,
    train_values: Any = None,
) -> PreparedData:
    """Read a store, split it, fit the pipeline on train, prepare every split.

    Parameters
    ----------
    path : path-like
        A spectra, light-curve or prepared store.
    pipeline_config : dict, optional
        ``{"kind": ..., "steps": [...]}``; ignored for a prepared store (its
        fitted pipeline is used). Default: :func:`default_pipeline_config`.
    target : str, default "label"
        ``label`` (classification) or a numeric column (regression).
    test_size, val_size : float
        Split fractions, stratified by class (see
        :func:`skysift.data.splits.stratified_split`).
    group_column : str or None, default "auto"
        Keep rows sharing this column's value in one split; ``auto`` uses a
        ``group`` column when the store has one.
    max_objects : int, optional
        Read only the first N objects.
    seed : int, default 0
    batch_size : int, default 8192
        Objects per chunk while reading and preparing.
    split_column : str, optional
        A predefined split (see :func:`predefined_split`): rows whose value
        of this column is in ``train_values`` are the training pool,
        ``val_size`` of the pool is carved out for validation, every other
        row is test; ``test_size`` and ``group_column`` are then ignored.
    train_values : sequence, optional
        The training-pool values of ``split_column``.

    Returns
    -------
    PreparedData

    Raises
    ------
    DataFormatError
        If the store has no usable target values, or fewer than two classes,
        or ``split_column`` is absent or selects no training or no test row.
    """
    from skysift.data.splits import stratified_split
    from skysift.io.store import open_store
    from skysift.preprocessing.pipeline import Pipeline, batch_from_arrow, take_rows
    from skysift.preprocessing.prepare import auto_workers, transform_batches

    store = open_store(path)
    if target not in store.columns:
        raise DataFormatError(
            f"{store.path}: no column {target!r} to learn; columns: {store.columns}"
        )
    batches = []
    n_read = 0
    for rb in store.iter_batches(batch_size=batch_size):
        if max_objects is not None and n_read >= max_objects:
            break
        if max_objects is not None and n_read + rb.num_rows > max_objects:
            rb = rb.slice(0, max_objects - n_read)
        batches.append(batch_from_arrow(rb))
        n_read += rb.num_rows
    if not batches:
        raise DataFormatError(f"{store.path}: the store is empty; nothing to train on")
    raw = _concat_batches(batches)
    values, missing = _encode_target(raw[target], target, store.path)
    rejected = [
        (str(oid), f"no {target}") for oid in np.asarray(raw["object_id"])[missing]
    ]
    keep = np.flatnonzero(~missing)
    raw = take_rows(raw, keep)
    values = values[keep]

    if target == "label":
        class_names = sorted({str(v) for v in values})
        if len(class_names) < 2:
            raise DataFormatError(
                f"{store.path}: need at least two classes to train a classifier, "
                f"found {class_names}"
            )
        lookup = {c: i for i, c in enumerate(class_names)}
        y_all = np.array([lookup[str(v)] for v in values], dtype=np.int64)
        strata = y_all
    else:
        class_names = None
        y_all = values.astype(np.float32)
        # stratify regression targets by quantile bins so every split spans
        # the whole range
        edges = np.quantile(y_all, np.linspace(0, 1, 6)[1:-1])
        strata = np.digitize(y_all, edges)

    if split_column is not None:
        if split_column not in raw:
            raise DataFormatError(
                f"{store.path}: split column {split_column!r} not in the store; "
                f"columns: {sorted(raw)}"
            )
        train, val, test = predefined_split(
            raw[split_column], train_values, strata, val_size=val_size, seed=seed,
            where=f"{store.path}: split column {split_column!r}",
        )
    else:
        if group_column == "auto":
            group_column = "group" if "group" in raw else None
        groups = None
        if group_column is not None:
            if group_column not in raw:
                raise DataFormatError(
                    f"{store.path}: group column {group_column!r} not in the store"
                )
            groups = np.asarray(raw[group_column]).astype(str)
        train, val, test = stratified_split(
            strata, test_size=test_size, val_size=val_size, groups=groups, seed=seed
        )

    if store.kind == "prepared":
        shape = tuple(store.info()["attrs"].get("input_shape", ()))
        x = np.asarray(raw["x"], dtype=np.float32).reshape((len(keep), *shape))
        extra = np.asarray(raw["extra"], dtype=np.float32).reshape(len(keep), -1)
        pipeline = Pipeline.from_dict(store.info()["attrs"]["pipeline"])
        kind = store.info()["attrs"].get("source_kind", "spectra")
        ids = np.asarray(raw["object_id"]).astype(str)
        return PreparedData(
            x, extra, y_all, ids, class_names,
            {"train": train, "val": val, "test": test}, pipeline, kind, rejected,
        )

    pipeline = Pipeline.from_config(pipeline_config or default_pipeline_config(store.kind))
    pipeline.fit(take_rows(raw, train[: max(len(train), 1)]))
    xs, extras, ys, ids, order = [], [], [], [], []
    chunks = [np.arange(s, min(s + batch_size, len(keep))) for s in range(0, len(keep), batch_size)]
    # light curves through the gp step are prepared in a process per core
    # (skysift.preprocessing.prepare.auto_workers), with the same result
    outs = transform_batches(
        pipeline,
        (take_rows(raw, rows) for rows in chunks),
        workers=auto_workers(pipeline, len(keep), batch_size),
    )
    for rows, out in zip(chunks, outs, strict=True):
        rejected += out["rejected"]
        good_ids = np.asarray(out["object_id"]).astype(str)
        index = {oid: r for oid, r in zip(np.asarray(raw["object_id"])[rows].astype(str), rows, strict=True)}
        kept_rows = np.array([index[o] for o in good_ids], dtype=np.int64)
        xs.append(out["x"])
        extras.append(
            np.asarray(out.get("extra", np.zeros((len(out["x"]), 0))), dtype=np.float32)
        )
        ys.append(y_all[kept_rows])
        ids.append(good_ids)
        order.append(kept_rows)
    x = np.concatenate(xs)
    extra = np.concatenate(extras)
    y = np.concatenate(ys)
    kept = np.concatenate(order)
    # map split indices from raw rows to the rows that survived preparation
    position = np.full(len(keep), -1, dtype=np.int64)
    position[kept] = np.arange(len(kept))
    splits = {
        name: position[idx][position[idx] >= 0]
        for name, idx in (("train", train), ("val", val), ("test", test))
    }
    return PreparedData(
        x, extra, y, np.concatenate(ids), class_names, splits, pipeline,
        store.kind, rejected,
    )
