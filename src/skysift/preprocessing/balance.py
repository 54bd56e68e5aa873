"""Class balance for the training split: SMOTE and class weights (SPEC B8).

Seed 001 balances its training set (absorption spectra outnumber emission
and double-peak ones) with SMOTE from imbalanced-learn: each synthetic
sample lies on the segment between a minority-class sample and one of its
``k`` nearest neighbours of the same class. Class weights are the other
remedy: the loss weighs each class by ``n / (n_classes * count)``
(scikit-learn's "balanced").

Balancing is applied to the training split only: a synthetic sample built
from a validation or test spectrum would leak it into training, and a
balanced test set would misstate the rates seen on an archive.
:func:`smote_training_split` takes the split indices and leaves every
validation and test row untouched.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from skysift.exceptions import SkysiftWarning

__all__ = ["class_weights", "smote_resample", "smote_training_split"]


def class_weights(
    y: Sequence | np.ndarray, *, classes: Sequence | np.ndarray | None = None
) -> np.ndarray:
    """Balanced class weights ``n_samples / (n_present_classes * count)``.

    Parameters
    ----------
    y : array-like, shape (N,)
        Training labels (names or integer codes).
    classes : array-like, optional
        The classes to give weights for, in the order of the model's
        outputs; default the sorted distinct values of ``y``. A class absent
        from ``y`` gets weight 1.

    Returns
    -------
    numpy.ndarray, shape (n_classes,), float64

    Raises
    ------
    ValueError
        If ``y`` is empty or holds a label that is not in ``classes``.

    Examples
    --------
    >>> class_weights(["a", "a", "a", "b"])
    array([0.66666667, 2.        ])
    """
    y = np.asarray(y)
    if y.size == 0:
        raise ValueError("class_weights: y is empty; pass the training labels")
    present, counts = np.unique(y, return_counts=True)
    classes = present if classes is None else np.asarray(classes)
    unknown = np.setdiff1d(present, classes)
    if unknown.size:
        raise ValueError(
            f"class_weights: label(s) {unknown[:5].tolist()} are not among the "
            f"classes {classes.tolist()[:10]}"
        )
    weights = np.ones(len(classes))
    where = {c: i for i, c in enumerate(classes.tolist())}
    for c, k in zip(present.tolist(), counts, strict=True):
        weights[where[c]] = y.size / (present.size * k)
    return weights


def smote_resample(
    x: np.ndarray,
    y: Sequence | np.ndarray,
    *,
    seed: int | None = None,
    k_neighbors: int = 5,
    extra: np.ndarray | None = None,
    sampling_strategy: Any = "auto",
) -> tuple[np.ndarray, ...]:
    """Oversample the minority classes with SMOTE (imbalanced-learn; seed 001).

    Use it on the training split only (see :func:`smote_training_split`).

    Parameters
    ----------
    x : numpy.ndarray, shape (N, ...)
        Model inputs, e.g. (N, 1, 140); flattened for SMOTE and reshaped back.
    y : array-like, shape (N,)
        Labels.
    seed : int, optional
        Random seed of SMOTE.
    k_neighbors : int, default 5
        Neighbours each synthetic sample may be drawn towards. When the
        smallest class has too few samples, it is lowered to that count
        minus one, with a warning.
    extra : numpy.ndarray, shape (N, R), optional
        Per-object extra features, resampled together with ``x`` (they
        take part in the neighbour search).
    sampling_strategy : str, float or dict, default "auto"
        As in :class:`imblearn.over_sampling.SMOTE`: "auto" brings every
        class up to the largest.

    Returns
    -------
    x_res : numpy.ndarray, shape (M, ...), dtype of ``x``
        The N original rows first, in their order, then the synthetic ones.
    y_res : numpy.ndarray, shape (M,)
    extra_res : numpy.ndarray, shape (M, R)
        Only when ``extra`` is given.

    Raises
    ------
    ValueError
        If there are fewer than two classes, a class has a single sample,
        the lengths differ, or ``x`` is not finite.

    Warns
    -----
    SkysiftWarning
        If ``k_neighbors`` had to be lowered.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(12, 1, 4)).astype(np.float32)
    >>> y = np.array(["abs"] * 9 + ["em"] * 3)
    >>> x_res, y_res = smote_resample(x, y, seed=0, k_neighbors=2)
    >>> x_res.shape, (y_res == "em").sum()
    ((18, 1, 4), np.int64(9))
    """
    from imblearn.over_sampling import SMOTE

    x = np.asarray(x)
    y = np.asarray(y)
    n = len(x)
    if len(y) != n or (extra is not None and len(extra) != n):
        raise ValueError(
            f"smote_resample: x has {n} rows, y {len(y)}"
            + ("" if extra is None else f", extra {len(extra)}")
        )
    flat = x.reshape(n, -1)
    if extra is not None:
        flat = np.concatenate([flat, np.asarray(extra).reshape(n, -1)], axis=1)
    if not np.isfinite(flat).all():
        raise ValueError("smote_resample: x (or extra) holds NaN or inf values")
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < 2:
        raise ValueError(
            f"smote_resample: need at least two classes, got {classes.tolist()}"
        )
    if counts.min() < 2:
        lone = classes[counts < 2].tolist()
        raise ValueError(
            f"smote_resample: class(es) {lone} have a single training sample; SMOTE "
            "needs two per class (merge or drop the class, or use class weights)"
        )
    k = int(k_neighbors)
    if k >= counts.min():
        k = int(counts.min()) - 1
        warnings.warn(
            f"smote_resample: the smallest class "
            f"({classes[counts.argmin()]!r}) has {counts.min()} samples; using "
            f"k_neighbors={k} instead of {k_neighbors}",
            SkysiftWarning,
            stacklevel=2,
        )
    smote = SMOTE(k_neighbors=k, random_state=seed, sampling_strategy=sampling_strategy)
    flat_res, y_res = smote.fit_resample(flat, y)
    n_x = int(np.prod(x.shape[1:], dtype=np.int64))
    x_res = flat_res[:, :n_x].reshape((len(flat_res), *x.shape[1:])).astype(x.dtype)
    y_res = np.asarray(y_res)
    if extra is None:
        return x_res, y_res
    extra = np.asarray(extra)
    return x_res, y_res, flat_res[:, n_x:].astype(extra.dtype)


def smote_training_split(
    x: np.ndarray,
    y: Sequence | np.ndarray,
    splits: Mapping[str, np.ndarray],
    *,
    seed: int | None = None,
    k_neighbors: int = 5,
    train: str = "train",
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """SMOTE on the training rows of a split dataset, nothing else.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, ...)
    y : array-like, shape (N,)
    splits : mapping of str to index arrays
        Row indices of each split (as :func:`skysift.data.splits.stratified_split`
        returns them), e.g. ``{"train": ..., "val": ..., "test": ...}``.
    seed, k_neighbors
        As in :func:`smote_resample`.
    train : str, default "train"
        The name of the training split.

    Returns
    -------
    x_all, y_all : numpy.ndarray
        The N original rows unchanged, followed by the synthetic rows.
    splits : dict
        The same index arrays, except ``train``, which also lists the
        synthetic rows (indices N and up).

    Examples
    --------
    >>> x = np.arange(40.0).reshape(20, 2)
    >>> y = np.array([0] * 14 + [1] * 6)
    >>> splits = {"train": np.r_[0:10, 14:18], "test": np.r_[10:14, 18:20]}
    >>> x2, y2, s2 = smote_training_split(x, y, splits, seed=0, k_neighbors=3)
    >>> len(x2), len(s2["train"]), s2["test"].tolist() == splits["test"].tolist()
    (26, 20, True)
    """
    if train not in splits:
        raise KeyError(f"no split named {train!r}; splits are {sorted(splits)}")
    x = np.asarray(x)
    y = np.asarray(y)
    rows = np.asarray(splits[train])
    x_res, y_res = smote_resample(x[rows], y[rows], seed=seed, k_neighbors=k_neighbors)
    new = slice(len(rows), None)
    out = {name: np.asarray(idx).copy() for name, idx in splits.items()}
    out[train] = np.concatenate([rows, len(x) + np.arange(len(x_res) - len(rows))])
    return (
        np.concatenate([x, x_res[new]]),
        np.concatenate([y, y_res[new]]),
        out,
    )
