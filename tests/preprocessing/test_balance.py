"""SMOTE and class weights, for the training split only."""

import itertools

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from skysift.data.splits import stratified_split
from skysift.exceptions import SkysiftWarning
from skysift.preprocessing.balance import (
    class_weights,
    smote_resample,
    smote_training_split,
)


def imbalanced(n_major=60, n_minor=(15, 9), seed=0):
    rng = np.random.default_rng(seed)
    counts = (n_major, *n_minor)
    y = np.repeat(np.array(["absorption", "emission", "double-peak"]), counts)
    x = rng.normal(size=(len(y), 1, 8)).astype(np.float32)
    x[:, 0, 0] += np.repeat(np.arange(3.0) * 4, counts)  # separable classes
    return x, y


def test_class_weights_match_sklearn():
    _, y = imbalanced()
    classes = np.unique(y)
    np.testing.assert_allclose(
        class_weights(y), compute_class_weight("balanced", classes=classes, y=y)
    )
    ordered = class_weights(
        y, classes=["emission", "absorption", "double-peak", "other"]
    )
    ref = dict(
        zip(
            classes, compute_class_weight("balanced", classes=classes, y=y), strict=True
        )
    )
    np.testing.assert_allclose(
        ordered, [ref["emission"], ref["absorption"], ref["double-peak"], 1.0]
    )
    with pytest.raises(ValueError, match="not among the classes"):
        class_weights(y, classes=["absorption"])
    with pytest.raises(ValueError, match="empty"):
        class_weights([])


def _on_segment(point, a, b):
    """Distance from point to the segment ab."""
    d = b - a
    t = np.clip(np.dot(point - a, d) / max(np.dot(d, d), 1e-30), 0.0, 1.0)
    return np.linalg.norm(point - (a + t * d))


def test_smote_balances_and_keeps_the_originals():
    x, y = imbalanced()
    x_res, y_res = smote_resample(x, y, seed=0)
    assert x_res.dtype == np.float32 and x_res.shape[1:] == (1, 8)
    np.testing.assert_array_equal(x_res[: len(x)], x)
    np.testing.assert_array_equal(y_res[: len(y)], y)
    _, counts = np.unique(y_res, return_counts=True)
    assert counts.tolist() == [60, 60, 60]
    again, _ = smote_resample(x, y, seed=0)
    np.testing.assert_array_equal(again, x_res)  # reproducible from the seed


def test_smote_only_touches_the_training_split():
    x, y = imbalanced(n_major=80, n_minor=(20, 12), seed=1)
    train, val, test = stratified_split(
        y, test_size=0.1, val_size=0.18, seed=0
    )  # seed 001
    splits = {"train": train, "val": val, "test": test}
    x_all, y_all, out = smote_training_split(x, y, splits, seed=0, k_neighbors=3)
    n = len(x)
    # every original row, held-out ones included, is unchanged and keeps its index
    np.testing.assert_array_equal(x_all[:n], x)
    np.testing.assert_array_equal(y_all[:n], y)
    np.testing.assert_array_equal(out["val"], val)
    np.testing.assert_array_equal(out["test"], test)
    synthetic = np.arange(n, len(x_all))
    assert synthetic.size > 0
    np.testing.assert_array_equal(out["train"], np.concatenate([train, synthetic]))
    # the training split is balanced, the held-out splits are not
    assert len(set(np.unique(y_all[out["train"]], return_counts=True)[1])) == 1
    assert len(set(np.unique(y_all[test], return_counts=True)[1])) > 1
    # each synthetic sample lies between two *training* samples of its class
    flat = x_all.reshape(len(x_all), -1)
    held_out = np.concatenate([val, test])
    for s in synthetic:
        same = train[y[train] == y_all[s]]
        best = min(
            _on_segment(flat[s], flat[a], flat[b])
            for a, b in itertools.combinations(same, 2)
        )
        assert best < 1e-5
        with_held = [i for i in held_out if y[i] == y_all[s]]
        assert not any(np.allclose(flat[s], flat[i]) for i in with_held)


def test_smote_resamples_extra_features_together():
    x, y = imbalanced()
    extra = np.random.default_rng(2).normal(size=(len(y), 3))
    x_res, y_res, e_res = smote_resample(x, y, seed=0, extra=extra)
    assert len(x_res) == len(y_res) == len(e_res) == 180
    np.testing.assert_array_equal(e_res[: len(y)], extra)


def test_smote_errors_and_small_classes():
    x, y = imbalanced(n_minor=(15, 3))
    with pytest.warns(SkysiftWarning, match="k_neighbors=2"):
        smote_resample(x, y, seed=0)
    with pytest.raises(ValueError, match="single training sample"):
        smote_resample(x[:61], y[:61])
    with pytest.raises(ValueError, match="two classes"):
        smote_resample(x[:10], y[:10])
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        smote_resample(bad, y, k_neighbors=2)
    with pytest.raises(KeyError, match="no split named 'fit'"):
        smote_training_split(x, y, {"train": np.arange(10)}, train="fit")
