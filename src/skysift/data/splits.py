"""Stratified train / validation / test splits, grouped by physical object.

Seed 000 splits 60/20/20; seed 001 holds out 10% for test, then 20% of the
rest for validation. When several rows belong to one physical object (the
epochs of one supernova template, the spectra of one star), ``groups`` keeps
them in the same split so near-copies cannot leak from train into test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["stratified_split"]


def _split_once(
    labels: np.ndarray,
    groups: np.ndarray | None,
    fraction: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Return indices (keep, held out) with about ``fraction`` held out per class."""
    n = len(labels)
    if fraction <= 0:
        return np.arange(n), np.zeros(0, dtype=np.int64)
    if groups is None:
        held = []
        for cls in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == cls))
            held.append(idx[: round(fraction * len(idx))])
        held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    else:
        # Each group is stratified by the most common label of its rows; the
        # groups of a class are held out in random order until the class
        # reaches its share of rows (within one group).
        _, inverse = np.unique(groups, return_inverse=True)
        _, label_idx = np.unique(labels, return_inverse=True)
        n_groups = inverse.max() + 1
        counts = np.zeros((n_groups, label_idx.max() + 1), dtype=np.int64)
        np.add.at(counts, (inverse, label_idx), 1)
        group_label = counts.argmax(axis=1)
        group_size = counts.sum(axis=1)
        held_groups = []
        for cls in range(counts.shape[1]):
            members = rng.permutation(np.flatnonzero(group_label == cls))
            target = fraction * group_size[members].sum()
            cumulative = np.cumsum(group_size[members])
            # the prefix whose size is closest to the target
            k = int(np.argmin(np.abs(np.concatenate([[0], cumulative]) - target)))
            held_groups.append(members[:k])
        held_idx = np.flatnonzero(np.isin(inverse, np.concatenate(held_groups)))
    keep = np.setdiff1d(np.arange(n), held_idx)
    return keep, held_idx


def stratified_split(
    labels: Sequence | np.ndarray,
    *,
    test_size: float = 0.2,
    val_size: float = 0.2,
    groups: Sequence | np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split row indices into train, validation and test, stratified by class.

    Parameters
    ----------
    labels : array-like, shape (N,)
        Class of each row (for regression pass any constant or binned target).
    test_size : float, default 0.2
        Fraction of all rows for test.
    val_size : float, default 0.2
        Fraction of all rows for validation (seed 000: 0.2; seed 001 takes 20%
        of the remaining 90%, i.e. ``val_size=0.18``).
    groups : array-like, shape (N,), optional
        Physical-object id of each row; rows of one group land in one split.
        With groups, class fractions hold to within one group per class.
    seed : int, default 0
        Random seed.

    Returns
    -------
    train, val, test : numpy.ndarray of int
        Sorted, disjoint row indices covering every row.

    Raises
    ------
    ValueError
        If the fractions are not in [0, 1) or sum to 1 or more, or the lengths
        of ``labels`` and ``groups`` differ.

    Examples
    --------
    >>> labels = np.repeat(["a", "b"], [60, 40])
    >>> train, val, test = stratified_split(labels, test_size=0.2, val_size=0.2)
    >>> len(train), len(val), len(test)
    (60, 20, 20)
    >>> int((labels[test] == "a").sum()), int((labels[test] == "b").sum())
    (12, 8)
    """
    labels = np.asarray(labels)
    for name, value in (("test_size", test_size), ("val_size", val_size)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value}")
    if test_size + val_size >= 1.0:
        raise ValueError(
            f"test_size + val_size must be < 1 to leave a training set, got "
            f"{test_size} + {val_size}"
        )
    groups_arr = None if groups is None else np.asarray(groups)
    if groups_arr is not None and len(groups_arr) != len(labels):
        raise ValueError(
            f"groups has {len(groups_arr)} rows but labels has {len(labels)}"
        )
    rng = np.random.default_rng(seed)
    rest, test = _split_once(labels, groups_arr, test_size, rng)
    sub_groups = None if groups_arr is None else groups_arr[rest]
    val_fraction = val_size / (1.0 - test_size) if val_size else 0.0
    train_local, val_local = _split_once(labels[rest], sub_groups, val_fraction, rng)
    return np.sort(rest[train_local]), np.sort(rest[val_local]), test
