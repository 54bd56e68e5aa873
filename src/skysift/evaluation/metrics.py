"""Classification and regression metrics as pure functions.

Every classification metric takes integer labels ``y_true`` of shape
``(N,)`` and class probabilities ``y_prob`` of shape ``(N, C)`` (rows sum to
one), with the scikit-learn signature ``(y_true, y_prob, *,
sample_weight=None)``. Hard predictions are ``argmax(y_prob, axis=1)``.
Names follow the house rule: ``*_score`` is higher-is-better, ``*_loss``
lower-is-better.

The textbook metrics (confusion matrix, accuracy, balanced accuracy,
precision/recall/F1, ROC and precision-recall curves, ROC AUC, average
precision) delegate to :mod:`sklearn.metrics`; this module adds input
checks, the class-index convention and ``nan`` for undefined values.
Sources of the remaining definitions:

* flat-weighted multi-class logarithmic loss: seed 003 eq. 3.20 with every
  class weight ``w_i = 1`` (:func:`weighted_log_loss`);
* purity ``TP / (TP + FP)`` (seed 003 eq. 2.1) and core-collapse
  contamination, the share of objects classified as SNIa whose true type is
  Ibc or II (seed 003 ch. 3-5, :func:`purity_score`,
  :func:`contamination_loss`);
* ROC and precision-recall curves with micro and macro averages (seed 003
  sec. 2.3);
* maximum-probability cuts and the Ia / non-Ia view of a multi-class model
  (seed 000 ch. 4, :data:`DEFAULT_CUTS`, :func:`group_probabilities`);
* expected calibration error with equal-width confidence bins (Naeini et al.
  2015; Guo et al. 2017), :func:`expected_calibration_loss`.

Metrics that can be undefined (AUC of a class absent from ``y_true``,
precision of a class never predicted) return ``nan`` rather than raising or
silently returning 0; :func:`skysift.evaluation.evaluate_classification`
turns those into ``null`` with a note.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_CUTS",
    "accuracy_score",
    "average_precision_score",
    "balanced_accuracy_score",
    "binary_pr_curve",
    "binary_roc_curve",
    "check_classification_inputs",
    "confidence_cut_table",
    "confusion_matrix",
    "contamination_loss",
    "coverage_accuracy_curve",
    "coverage_at_cut",
    "evaluate_classification",
    "evaluate_regression",
    "expected_calibration_loss",
    "f1_score",
    "group_probabilities",
    "match_supernova_classes",
    "paired_bootstrap",
    "per_class_scores",
    "purity_score",
    "regression_scores",
    "reliability_curve",
    "roc_auc_score",
    "weighted_log_loss",
]

#: Maximum-probability cuts evaluated by default. Seed 000 cuts its ViT's
#: outputs at 0.99 ... 0.99999997; 0.9 is added as a first, gentle rung.
#: Cuts above ``1 - 6e-8`` can only be passed by float32 probabilities that
#: rounded to exactly 1.0, so compute probabilities in float64 for them.
DEFAULT_CUTS: tuple[float, ...] = (0.9, 0.99, 0.999, 0.9999, 0.99999, 0.99999997)

# Tolerances for "is this a probability matrix": float32 softmax rows sum to 1
# within ~1e-6; anything beyond 1e-3 is a caller error (logits, missing column).
_PROB_RANGE_TOL = 1e-6
_ROW_SUM_TOL = 1e-3


# --------------------------------------------------------------------------
# input validation


def _check_sample_weight(sample_weight: Any, n: int) -> np.ndarray:
    """Return weights as float64 ``(N,)``; ones when ``None``."""
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(
            f"sample_weight has shape {w.shape} but y_true has {n} rows; "
            f"pass one weight per object, shape ({n},)"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(
            "sample_weight must be finite and non-negative; got "
            f"min={np.nanmin(w) if w.size else 'n/a'} with "
            f"{int(np.sum(~np.isfinite(w)))} non-finite value(s)"
        )
    if w.sum() <= 0:
        raise ValueError("sample_weight sums to 0; at least one object needs weight")
    return w


def _check_labels(y_true: Any, n_classes: int | None = None) -> np.ndarray:
    """Return labels as int64 ``(N,)``; reject non-integers and out-of-range values."""
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(
            f"y_true must be a 1-D array of integer class indices, got shape {y.shape}"
        )
    if y.size == 0:
        raise ValueError("y_true is empty; metrics need at least one object")
    if y.dtype == bool:
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer):
        if not np.issubdtype(y.dtype, np.number):
            raise ValueError(
                f"y_true must hold integer class indices, got dtype {y.dtype}; "
                "map class names to indices first"
            )
        finite = np.isfinite(y)
        if not finite.all():
            raise ValueError(
                f"y_true contains {int((~finite).sum())} NaN/inf value(s) "
                f"(first at index {int(np.argmax(~finite))}); labels must be integers"
            )
        if np.any(y != np.round(y)):
            bad = y[y != np.round(y)][:3]
            raise ValueError(
                f"y_true must hold integer class indices, got non-integer values "
                f"such as {bad.tolist()}"
            )
    y = y.astype(np.int64)
    if n_classes is not None:
        bad = (y < 0) | (y >= n_classes)
        if bad.any():
            values = np.unique(y[bad])[:5].tolist()
            raise ValueError(
                f"y_true has {int(bad.sum())} label(s) out of range, e.g. {values}; "
                f"with {n_classes} classes labels must lie in 0..{n_classes - 1}"
            )
    return y


def check_classification_inputs(
    y_true: Any, y_prob: Any, *, sample_weight: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate labels, probabilities and weights; return them as numpy arrays.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        Integer class indices in ``0 .. C-1``.
    y_prob : array-like of shape (N, C)
        Class probabilities, each row summing to 1 (within 1e-3).
    sample_weight : array-like of shape (N,), optional
        Non-negative weights; ones when omitted.

    Returns
    -------
    y_true : numpy.ndarray of int64, shape (N,)
    y_prob : numpy.ndarray of float64, shape (N, C)
    sample_weight : numpy.ndarray of float64, shape (N,)

    Raises
    ------
    ValueError
        If the shapes disagree, ``y_prob`` holds NaN or infinite values,
        values outside [0, 1] or rows that do not sum to 1 (logits passed
        instead of probabilities), or a label is out of range.

    Examples
    --------
    >>> y, p, w = check_classification_inputs([0, 1], [[0.9, 0.1], [0.2, 0.8]])
    >>> p.dtype, w.tolist()
    (dtype('float64'), [1.0, 1.0])
    >>> check_classification_inputs([0, 2], [[0.9, 0.1], [0.2, 0.8]])
    Traceback (most recent call last):
    ...
    ValueError: y_true has 1 label(s) out of range, e.g. [2]; with 2 classes labels must lie in 0..1
    """
    p = np.asarray(y_prob, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(
            f"y_prob must have shape (N, C) with C >= 2 classes, got {p.shape}; "
            "for a binary score s pass np.column_stack([1 - s, s])"
        )
    y = np.asarray(y_true)
    if y.ndim != 1 or y.shape[0] != p.shape[0]:
        raise ValueError(
            f"y_true has shape {y.shape} and y_prob has shape {p.shape}; "
            "expected y_true (N,) and y_prob (N, C) with the same N"
        )
    if p.shape[0] == 0:
        raise ValueError(
            "y_true and y_prob are empty; metrics need at least one object"
        )
    bad = ~np.isfinite(p)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        kind = "NaN" if np.isnan(p).any() else "infinite"
        raise ValueError(
            f"y_prob contains {int(bad.sum())} {kind} value(s) in {rows.size} row(s) "
            f"(first row {int(rows[0])}); check the model outputs for divergence "
            "or drop those objects"
        )
    if p.min() < -_PROB_RANGE_TOL or p.max() > 1 + _PROB_RANGE_TOL:
        raise ValueError(
            f"y_prob values must lie in [0, 1], got min {p.min():.4g} and max "
            f"{p.max():.4g}; pass probabilities, not logits (apply softmax)"
        )
    sums = p.sum(axis=1)
    off = np.abs(sums - 1) > _ROW_SUM_TOL
    if off.any():
        first = int(np.argmax(off))
        raise ValueError(
            f"{int(off.sum())} row(s) of y_prob do not sum to 1 (row {first} sums to "
            f"{sums[first]:.6g}); pass softmax probabilities over all C classes"
        )
    y = _check_labels(y, p.shape[1])
    w = _check_sample_weight(sample_weight, p.shape[0])
    return y, np.clip(p, 0.0, 1.0), w


# --------------------------------------------------------------------------
# label-based metrics


def confusion_matrix(
    y_true: Any,
    y_prob: Any,
    *,
    normalize: str | None = None,
    sample_weight: Any = None,
) -> np.ndarray:
    """Confusion matrix of the arg-max predictions.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    normalize : {None, "true"}, default None
        ``None`` gives (weighted) counts; ``"true"`` divides each row by its
        total, so row ``i`` is the distribution of predictions for true class
        ``i``. A class absent from ``y_true`` gets a row of ``nan``.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    numpy.ndarray of shape (C, C)
        Entry ``[i, j]``: objects of true class ``i`` predicted as ``j``.

    Raises
    ------
    ValueError
        For invalid inputs (see :func:`check_classification_inputs`) or an
        unknown ``normalize``.

    Examples
    --------
    >>> confusion_matrix([0, 0, 1], [[0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    array([[1., 1.],
           [0., 1.]])
    """
    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    return _confusion(y, p.argmax(axis=1), p.shape[1], w, normalize)


def _confusion(
    y: np.ndarray, pred: np.ndarray, c: int, w: np.ndarray, normalize: str | None
) -> np.ndarray:
    """Weighted float64 confusion matrix from label arrays (scikit-learn)."""
    from sklearn import metrics as skm

    if normalize not in (None, "true"):
        raise ValueError(f"normalize must be None or 'true', got {normalize!r}")
    if not np.sum(w) > 0:
        # Nothing (of weight) above a confidence cut: sklearn rejects this.
        return np.zeros((c, c))
    cm = skm.confusion_matrix(y, pred, labels=np.arange(c), sample_weight=w)
    cm = cm.astype(np.float64)
    if normalize == "true":
        # Not sklearn's normalize="true": it turns an absent class's row into
        # zeros, and a row of nan says "undefined" instead.
        with np.errstate(invalid="ignore", divide="ignore"):
            cm = cm / cm.sum(axis=1, keepdims=True)
    return cm


def accuracy_score(y_true: Any, y_prob: Any, *, sample_weight: Any = None) -> float:
    """Fraction of objects whose arg-max class is the true class.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    float
        Accuracy in [0, 1].

    Examples
    --------
    >>> accuracy_score([0, 1, 1], [[0.6, 0.4], [0.3, 0.7], [0.9, 0.1]])
    0.6666666666666666
    """
    from sklearn import metrics as skm

    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    return float(skm.accuracy_score(y, p.argmax(axis=1), sample_weight=w))


def balanced_accuracy_score(
    y_true: Any, y_prob: Any, *, sample_weight: Any = None
) -> float:
    """Mean recall over the classes present in ``y_true``.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    float
        Balanced accuracy; classes absent from ``y_true`` are left out of the
        mean (as in scikit-learn).

    Examples
    --------
    >>> balanced_accuracy_score([0, 0, 0, 1], [[1, 0], [1, 0], [1, 0], [1, 0]])
    0.5
    """
    from sklearn import metrics as skm

    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    with warnings.catch_warnings():
        # sklearn warns when a predicted class is absent from y_true (leaving
        # it out of the mean is the documented behaviour here) and when only
        # one label occurs (its recall is then the right answer).
        warnings.filterwarnings("ignore", message="y_pred contains classes not in")
        warnings.filterwarnings("ignore", message="A single label was found")
        return float(skm.balanced_accuracy_score(y, p.argmax(axis=1), sample_weight=w))


def per_class_scores(
    y_true: Any, y_prob: Any, *, sample_weight: Any = None
) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 and support (seed 002 Table 2).

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    dict
        ``"precision"``, ``"recall"``, ``"f1"`` and ``"support"``, each an
        array of shape (C,). Precision is ``nan`` for a class never
        predicted, recall for a class absent from ``y_true``, F1
        (``2 TP / (2 TP + FP + FN)``) only for a class in neither.

    Examples
    --------
    >>> s = per_class_scores([0, 0, 1], [[0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    >>> s["precision"].tolist(), s["recall"].tolist()
    ([1.0, 0.5], [0.5, 1.0])
    """
    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    return _precision_recall_f1(y, p.argmax(axis=1), p.shape[1], w)


def _precision_recall_f1(
    y: np.ndarray, pred: np.ndarray, c: int, w: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 and (weighted) support, ``nan`` if undefined."""
    from sklearn import metrics as skm

    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y, pred, labels=np.arange(c), sample_weight=w, zero_division=np.nan
    )
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": np.asarray(support, dtype=np.float64),
    }


def _per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support from a confusion matrix.

    Used by :func:`confidence_cut_table`, which scores many subsets of one
    confusion matrix; elsewhere :func:`_precision_recall_f1` (scikit-learn).
    """
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, np.nan)
        recall = np.where(support > 0, tp / support, np.nan)
        denom = predicted + support  # = 2 TP + FP + FN
        f1 = np.where(denom > 0, 2 * tp / denom, np.nan)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def f1_score(
    y_true: Any,
    y_prob: Any,
    *,
    average: str | None = "macro",
    sample_weight: Any = None,
) -> float | np.ndarray:
    """F1 score of the arg-max predictions.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    average : {"macro", "weighted", "micro", None}, default "macro"
        ``"macro"``: unweighted mean over the classes that occur in
        ``y_true`` or in the predictions; ``"weighted"``: mean weighted by
        support; ``"micro"``: global counts (equals accuracy for single-label
        data); ``None``: the per-class array.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    float or numpy.ndarray of shape (C,)
        The averaged score, or per-class scores when ``average`` is None.

    Raises
    ------
    ValueError
        For an unknown ``average``.

    Examples
    --------
    >>> f1_score([0, 0, 1], [[0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    0.6666666666666666
    """
    if average not in ("macro", "weighted", "micro", None):
        raise ValueError(
            f"average must be 'macro', 'weighted', 'micro' or None, got {average!r}"
        )
    from sklearn import metrics as skm

    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    # zero_division=nan: a class in neither y_true nor the predictions is
    # undefined and left out of the macro mean (weight 0 in "weighted").
    f1 = skm.f1_score(
        y,
        p.argmax(axis=1),
        labels=np.arange(p.shape[1]),
        average=average,
        sample_weight=w,
        zero_division=np.nan,
    )
    return f1 if average is None else float(f1)


# --------------------------------------------------------------------------
# probability-based metrics


def weighted_log_loss(
    y_true: Any,
    y_prob: Any,
    *,
    class_weights: Any = None,
    sample_weight: Any = None,
    eps: float = 1e-15,
) -> float:
    """Class-weighted multi-class logarithmic loss (seed 003 eq. 3.20).

    ``L = -sum_i w_i (1/N_i) sum_{j in class i} ln p_ij / sum_i w_i``: the
    mean log-probability of the true class is taken within each class first,
    so every class counts by its weight, not by its size. With the default
    flat weights ``w_i = 1`` this is the flat-weighted log-loss seed 003
    reports (a classifier that gives every class the same probability
    scores ``ln C``).

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    class_weights : array-like of shape (C,), optional
        Weights ``w_i``; all ones (flat) when omitted.
    sample_weight : array-like of shape (N,), optional
        Object weights inside each class mean (``N_i`` becomes the weight sum).
    eps : float, default 1e-15
        Probabilities are clipped to ``[eps, 1]`` so a confident mistake
        costs ``-ln(eps)`` instead of infinity (the PLAsTiCC convention).

    Returns
    -------
    float
        The loss; 0 for a perfect classifier. Classes absent from ``y_true``
        drop out of both sums.

    Raises
    ------
    ValueError
        For invalid inputs or class weights of the wrong shape or sign.

    Examples
    --------
    >>> import numpy as np
    >>> y_prob = np.full((4, 3), 1 / 3)
    >>> bool(np.isclose(weighted_log_loss([0, 0, 1, 2], y_prob), np.log(3)))
    True
    """
    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    c = p.shape[1]
    if class_weights is None:
        cw = np.ones(c)
    else:
        cw = np.asarray(class_weights, dtype=np.float64)
        if cw.shape != (c,) or not np.all(np.isfinite(cw)) or np.any(cw < 0):
            raise ValueError(
                f"class_weights must be {c} finite non-negative numbers, got shape "
                f"{cw.shape}"
            )
    log_p = np.log(np.clip(p[np.arange(y.size), y], eps, 1.0))
    n_i = np.bincount(y, weights=w, minlength=c)
    sum_i = np.bincount(y, weights=w * log_p, minlength=c)
    present = n_i > 0
    if cw[present].sum() <= 0:
        raise ValueError("class_weights are zero for every class present in y_true")
    mean_i = sum_i[present] / n_i[present]
    return float(-np.sum(cw[present] * mean_i) / cw[present].sum())


def paired_bootstrap(
    metric: Any,
    y_true: Any,
    prob_a: Any,
    prob_b: Any,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """How sure is ``metric(a) - metric(b)`` on one test set? A paired bootstrap.

    Both models' predictions of the same objects are resampled together
    (objects drawn with replacement, ``n_boot`` times); each resample is
    scored for both, and the spread of the differences says whether the test
    set can tell the two apart. A resample is drawn as multinomial object
    weights, so ``metric`` must accept ``sample_weight`` (every metric here
    does).

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_prob, sample_weight=w) -> float``, e.g.
        :func:`weighted_log_loss` or :func:`accuracy_score`.
    y_true : array-like of shape (N,)
        True class indices.
    prob_a, prob_b : array-like of shape (N, C)
        The two models' probabilities, rows in the same object order.
    n_boot : int, default 2000
    level : float, default 0.95
        Coverage of the percentile interval.
    seed : int, default 0

    Returns
    -------
    dict
        ``a``, ``b`` (the metric on the whole set), ``difference`` (``a - b``),
        ``low``, ``high`` (the percentile interval of the resampled
        differences), ``p_not_below`` (the share of resamples with ``a - b >= 0``:
        small means ``a`` is reliably lower), ``n_boot``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400)
    >>> good = np.where(y[:, None] == [0, 1], 0.8, 0.2)
    >>> r = paired_bootstrap(weighted_log_loss, y, good, np.full((400, 2), 0.5), n_boot=200)
    >>> r["difference"] < r["high"] < 0  # a is better, beyond the noise
    True
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    y, pa, _ = check_classification_inputs(y_true, prob_a)
    _, pb, _ = check_classification_inputs(y, prob_b)
    if pa.shape != pb.shape:
        raise ValueError(f"prob_a has shape {pa.shape} but prob_b {pb.shape}")
    a, b = float(metric(y, pa)), float(metric(y, pb))
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    for i in range(n_boot):
        w = np.bincount(rng.integers(0, y.size, y.size), minlength=y.size).astype(np.float64)
        diffs[i] = metric(y, pa, sample_weight=w) - metric(y, pb, sample_weight=w)
    tail = 50.0 * (1.0 - level)
    low, high = np.percentile(diffs, [tail, 100.0 - tail])
    return {"a": a, "b": b, "difference": a - b, "low": float(low), "high": float(high),
            "p_not_below": float(np.mean(diffs >= 0)), "n_boot": int(n_boot)}


def binary_roc_curve(
    y_true: Any, y_score: Any, *, sample_weight: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Receiver operating characteristic of one binary problem.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        1 for positives, 0 for negatives.
    y_score : array-like of shape (N,)
        Scores; higher means more likely positive.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    fpr, tpr : numpy.ndarray
        False- and true-positive rates at each distinct threshold, starting
        at (0, 0). All ``nan`` when there are no positives or no negatives.
    thresholds : numpy.ndarray
        Score thresholds (``inf`` first); an object is positive when its
        score is ``>=`` the threshold.

    Examples
    --------
    >>> fpr, tpr, thr = binary_roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    from sklearn import metrics as skm
    from sklearn.exceptions import UndefinedMetricWarning

    y, s, w = _check_binary_inputs(y_true, y_score, sample_weight)
    with warnings.catch_warnings():
        # Without positives (negatives) sklearn warns and returns nan tpr (fpr).
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        fpr, tpr, thresholds = skm.roc_curve(
            y, s, pos_label=1, sample_weight=w, drop_intermediate=False
        )
    return fpr, tpr, thresholds


def binary_pr_curve(
    y_true: Any, y_score: Any, *, sample_weight: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision-recall curve of one binary problem.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        1 for positives, 0 for negatives.
    y_score : array-like of shape (N,)
        Scores; higher means more likely positive.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    precision, recall : numpy.ndarray
        At each distinct threshold, from the strictest to the loosest.
        ``nan`` recall when there are no positives.
    thresholds : numpy.ndarray
        The thresholds (positive when score ``>=`` threshold).

    Examples
    --------
    >>> prec, rec, thr = binary_pr_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> prec.tolist(), rec.tolist()
    ([1.0, 0.5, 0.6666666666666666, 0.5], [0.5, 0.5, 1.0, 1.0])
    """
    from sklearn import metrics as skm

    y, s, w = _check_binary_inputs(y_true, y_score, sample_weight)
    with warnings.catch_warnings():
        # Without positives sklearn warns and sets recall to 1; it is nan here.
        warnings.filterwarnings("ignore", message="No positive class found")
        precision, recall, thresholds = skm.precision_recall_curve(
            y, s, pos_label=1, sample_weight=w, drop_intermediate=False
        )
    # sklearn goes from the loosest threshold to the strictest and appends the
    # point (P=1, R=0); drop it and reverse to strictest first.
    precision, recall, thresholds = precision[-2::-1], recall[-2::-1], thresholds[::-1]
    if not np.sum(w[y == 1]) > 0:
        recall = np.full_like(recall, np.nan)
    return precision, recall, thresholds


def _check_binary_inputs(
    y_true: Any, y_score: Any, sample_weight: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate 0/1 labels, finite scores and weights of one binary problem."""
    y = _check_labels(y_true, 2)
    s = np.asarray(y_score, dtype=np.float64)
    if s.shape != y.shape:
        raise ValueError(
            f"y_true has shape {y.shape} and y_score has shape {s.shape}; "
            "they must match"
        )
    if not np.all(np.isfinite(s)):
        raise ValueError(
            f"y_score contains {int(np.sum(~np.isfinite(s)))} NaN/inf value(s)"
        )
    w = _check_sample_weight(sample_weight, y.size)
    return y, s, w


def _cumulative_counts(
    y_true: Any, y_score: Any, sample_weight: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted true/false positives above each distinct threshold, (0, 0) first.

    Used by :func:`coverage_accuracy_curve`; the ROC and PR curves come from
    scikit-learn.
    """
    y, s, w = _check_binary_inputs(y_true, y_score, sample_weight)
    order = np.argsort(-s)  # ties are grouped below, so stability is not needed
    s, y, w = s[order], y[order], w[order]
    # The last index of every run of equal scores: tied objects enter together.
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tps = np.cumsum(w * y)[last]
    fps = np.cumsum(w * (1 - y))[last]
    return np.r_[0.0, tps], np.r_[0.0, fps], np.r_[np.inf, s[last]]


def _binary_score(metric: Any, y: np.ndarray, s: np.ndarray, w: np.ndarray) -> float:
    """Score one binary problem with a sklearn ranking metric; nan if undefined.

    ``metric`` is ``roc_auc_score`` or ``average_precision_score``. Both are
    undefined without (weighted) positives, where sklearn's AP would return 0;
    the AUC also without negatives, where sklearn warns.
    """
    from sklearn.exceptions import UndefinedMetricWarning

    if not np.sum(w[y == 1]) > 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)
        try:
            return float(metric(y, s, sample_weight=w))
        except (ValueError, UndefinedMetricWarning):
            return float("nan")


def _per_class_ranking(
    metric: Any, y: np.ndarray, p: np.ndarray, w: np.ndarray
) -> np.ndarray:
    """One-vs-rest ``metric`` of every class, ``(C,)``, nan where undefined."""
    return np.array(
        [
            _binary_score(metric, (y == k).astype(np.int64), p[:, k], w)
            for k in range(p.shape[1])
        ]
    )


def _micro_ranking(metric: Any, y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    """``metric`` over all (object, class) pairs; always defined for C >= 2."""
    onehot = (y[:, None] == np.arange(p.shape[1])).astype(np.int64)  # (N, C)
    return float(metric(onehot, p, average="micro", sample_weight=w))


def _macro(values: np.ndarray) -> float:
    """Mean over the defined (non-nan) entries; nan if none is defined."""
    return float("nan") if np.isnan(values).all() else float(np.nanmean(values))


def _one_vs_rest(
    y_true: Any, y_prob: Any, sample_weight: Any, metric: Any, average: str | None
) -> float | np.ndarray:
    """One-vs-rest scikit-learn ranking ``metric``, averaged as asked."""
    if average not in ("macro", "micro", None):
        raise ValueError(f"average must be 'macro', 'micro' or None, got {average!r}")
    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    if average == "micro":
        return _micro_ranking(metric, y, p, w)
    per_class = _per_class_ranking(metric, y, p, w)
    return per_class if average is None else _macro(per_class)


def roc_auc_score(
    y_true: Any,
    y_prob: Any,
    *,
    average: str | None = "macro",
    sample_weight: Any = None,
) -> float | np.ndarray:
    """One-vs-rest area under the ROC curve.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    average : {"macro", "micro", None}, default "macro"
        ``"macro"``: mean of the per-class AUCs (every class counts the
        same); ``"micro"``: one curve over all (object, class) pairs, so
        frequent classes dominate (seed 003 prefers it for imbalanced data);
        ``None``: the per-class array.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    float or numpy.ndarray of shape (C,)
        AUC in [0, 1]. A class absent from ``y_true`` has no ROC curve: its
        entry is ``nan`` and the macro mean skips it.

    Examples
    --------
    >>> y_prob = [[0.9, 0.1], [0.6, 0.4], [0.35, 0.65], [0.2, 0.8]]
    >>> roc_auc_score([0, 1, 0, 1], y_prob)
    0.75
    """
    from sklearn import metrics as skm

    return _one_vs_rest(y_true, y_prob, sample_weight, skm.roc_auc_score, average)


def average_precision_score(
    y_true: Any,
    y_prob: Any,
    *,
    average: str | None = "macro",
    sample_weight: Any = None,
) -> float | np.ndarray:
    """One-vs-rest average precision, the area under the precision-recall curve.

    Uses the step-wise sum ``AP = sum_n (R_n - R_{n-1}) P_n`` over
    thresholds (no interpolation), the scikit-learn definition.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    average : {"macro", "micro", None}, default "macro"
        As for :func:`roc_auc_score`.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    float or numpy.ndarray of shape (C,)
        AP in [0, 1]; ``nan`` for a class absent from ``y_true``.

    Examples
    --------
    >>> y_prob = [[0.9, 0.1], [0.6, 0.4], [0.35, 0.65], [0.2, 0.8]]
    >>> float(average_precision_score([0, 1, 0, 1], y_prob, average=None)[1])
    0.8333333333333333
    """
    from sklearn import metrics as skm

    return _one_vs_rest(
        y_true, y_prob, sample_weight, skm.average_precision_score, average
    )


# --------------------------------------------------------------------------
# supernova-specific metrics


def _class_set(name: str, value: int | Sequence[int], c: int) -> np.ndarray:
    """Class indices given as an int or a sequence; checked against C."""
    idx = np.atleast_1d(np.asarray(value))
    if idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(
            f"{name} must be a class index or a non-empty list of them, got {value!r}"
        )
    if idx.min() < 0 or idx.max() >= c:
        raise ValueError(f"{name}={value!r} is out of range for {c} classes")
    return idx


def purity_score(
    y_true: Any,
    y_prob: Any,
    *,
    target: int | Sequence[int],
    sample_weight: Any = None,
) -> float:
    """Purity of the objects classified as ``target``: ``TP / (TP + FP)``.

    Seed 003 eq. 2.1; cosmology calls the precision of the SNIa class the
    SNIa purity.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    target : int or sequence of int
        The class (or group of classes) whose purity is wanted; with a group,
        an object counts when both its prediction and its truth are in it.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    float
        Purity in [0, 1]; ``nan`` when no object is classified as ``target``.

    Examples
    --------
    >>> y_prob = [[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.7, 0.0, 0.3], [0.1, 0.9, 0.0]]
    >>> purity_score([0, 0, 2, 1], y_prob, target=0)
    0.6666666666666666
    """
    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    t = _class_set("target", target, p.shape[1])
    selected = np.isin(p.argmax(axis=1), t)
    if w[selected].sum() == 0:
        return float("nan")
    return float(np.sum(w[selected & np.isin(y, t)]) / np.sum(w[selected]))


def contamination_loss(
    y_true: Any,
    y_prob: Any,
    *,
    target: int | Sequence[int],
    contaminants: int | Sequence[int],
    sample_weight: Any = None,
) -> float:
    """Share of the objects classified as ``target`` that truly belong to ``contaminants``.

    With ``target`` the SNIa class and ``contaminants`` the Ibc and II
    classes this is the core-collapse contamination of a photometric SNIa
    sample (seed 003; cosmology tolerates about 5-8 %). It is at most
    ``1 - purity``.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    target : int or sequence of int
        The class (or classes) defining the selected sample.
    contaminants : int or sequence of int
        The classes counted as contamination.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    float
        Contamination in [0, 1]; ``nan`` when nothing is classified as ``target``.

    Examples
    --------
    >>> y_prob = [[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.7, 0.0, 0.3], [0.1, 0.9, 0.0]]
    >>> contamination_loss([0, 0, 2, 1], y_prob, target=0, contaminants=[2])
    0.3333333333333333
    """
    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    t = _class_set("target", target, p.shape[1])
    k = _class_set("contaminants", contaminants, p.shape[1])
    selected = np.isin(p.argmax(axis=1), t)
    if w[selected].sum() == 0:
        return float("nan")
    return float(np.sum(w[selected & np.isin(y, k)]) / np.sum(w[selected]))


# Normalised class names (lower case, letters and digits only) of the types
# whose purity and contamination seed 003 reports. "SNIa-91bg" and "SNIax"
# are peculiar Ia subtypes and deliberately do not match the Ia pattern.
_SN_PATTERNS = {
    "ia": re.compile(r"^(sne?|type)?ia$"),
    "ibc": re.compile(r"^(sne?|type)?i(b|c|bc)$"),
    "ii": re.compile(r"^(sne?|type)?ii(p|l|n|b)?$"),
}


def match_supernova_classes(class_names: Sequence[str]) -> dict[str, list[int]]:
    """Find the SNIa, SNIbc and SNII classes among class names.

    A name is lower-cased and stripped of everything but letters and digits
    (``"SN Ib/c"`` -> ``"snibc"``), then matched in full against:

    * Ia: ``ia``, ``snia``, ``sneia``, ``typeia`` -- not the peculiar
      subtypes ``SNIa-91bg`` or ``SNIax``;
    * Ibc: ``ib``, ``ic``, ``ibc`` with the same optional prefixes;
    * II: ``ii``, ``iip``, ``iil``, ``iin``, ``iib`` with the same prefixes.

    Parameters
    ----------
    class_names : sequence of str
        Names in class-index order.

    Returns
    -------
    dict
        ``{"ia": [...], "ibc": [...], "ii": [...]}``: class indices of each
        type (empty lists when absent).

    Examples
    --------
    >>> names = ["SNIa", "SNIbc", "SNII", "SNIax", "SNIa-91bg", "SLSN-I", "KN"]
    >>> match_supernova_classes(names)
    {'ia': [0], 'ibc': [1], 'ii': [2]}
    """
    found: dict[str, list[int]] = {key: [] for key in _SN_PATTERNS}
    for i, name in enumerate(class_names):
        key = re.sub(r"[^a-z0-9]", "", str(name).lower())
        for kind, pattern in _SN_PATTERNS.items():
            if pattern.match(key):
                found[kind].append(i)
    return found


def group_probabilities(
    y_true: Any, y_prob: Any, positive: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Collapse a multi-class problem into "in the group" vs "not in the group".

    The probability of the group is the sum of its classes' probabilities,
    which is how seed 000 turns its six-type classifier into Ia vs non-Ia.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    positive : sequence of int
        Class indices forming the positive group.

    Returns
    -------
    y_true_binary : numpy.ndarray of int64, shape (N,)
        1 where the true class is in the group.
    y_prob_binary : numpy.ndarray of float64, shape (N, 2)
        Columns: probability of "not in the group", of "in the group".

    Examples
    --------
    >>> yb, pb = group_probabilities([0, 2], [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]], [0, 1])
    >>> yb.tolist(), pb.round(2).tolist()
    ([1, 0], [[0.2, 0.8], [0.8, 0.2]])
    """
    y, p, _ = check_classification_inputs(y_true, y_prob)
    t = _class_set("positive", list(positive), p.shape[1])
    score = np.clip(p[:, t].sum(axis=1), 0.0, 1.0)
    return np.isin(y, t).astype(np.int64), np.column_stack([1.0 - score, score])


# --------------------------------------------------------------------------
# confidence cuts and calibration


def coverage_at_cut(y_prob: Any, cut: float, *, sample_weight: Any = None) -> float:
    """Fraction of objects whose maximum class probability is at least ``cut``.

    Parameters
    ----------
    y_prob : array-like of shape (N, C)
        Class probabilities.
    cut : float
        Confidence threshold in [0, 1].
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    float
        The (weighted) fraction kept.

    Examples
    --------
    >>> coverage_at_cut([[0.95, 0.05], [0.6, 0.4], [0.2, 0.8], [0.0, 1.0]], 0.9)
    0.5
    """
    p = np.asarray(y_prob, dtype=np.float64)
    # Labels play no part here; zeros let the shared validation check the rest.
    dummy = np.zeros(p.shape[0] if p.ndim else 0, dtype=np.int64)
    _, p, w = check_classification_inputs(dummy, p, sample_weight=sample_weight)
    value = _check_cut(cut)
    return float(np.sum(w[p.max(axis=1) >= value]) / w.sum())


def _check_cut(cut: float) -> float:
    """Return ``cut`` as a float, rejecting values outside [0, 1]."""
    try:
        value = float(cut)
    except (TypeError, ValueError) as e:
        raise ValueError(f"a confidence cut must be a number, got {cut!r}") from e
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"a confidence cut must lie in [0, 1], got {cut!r}")
    return value


def confidence_cut_table(
    y_true: Any,
    y_prob: Any,
    cuts: Sequence[float] = DEFAULT_CUTS,
    *,
    sample_weight: Any = None,
) -> list[dict[str, Any]]:
    """Keep only confident objects, cut by cut, and score what is kept (seed 000).

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    cuts : sequence of float, default :data:`DEFAULT_CUTS`
        Thresholds on the maximum probability; an object is kept when its
        maximum probability is ``>= cut``.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    list of dict
        One row per cut, in the given order: ``cut``, ``n_kept`` (objects),
        ``fraction_kept`` (weighted), ``accuracy`` and ``macro_f1`` on the
        kept objects (``nan`` when none is kept).

    Examples
    --------
    >>> rows = confidence_cut_table(
    ...     [0, 1, 1, 0], [[0.95, 0.05], [0.6, 0.4], [0.2, 0.8], [0.0, 1.0]], [0.9]
    ... )
    >>> rows[0]["n_kept"], rows[0]["fraction_kept"], rows[0]["accuracy"]
    (2, 0.5, 0.5)
    """
    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    confidence = p.max(axis=1)
    pred = p.argmax(axis=1)
    rows = []
    for cut in cuts:
        value = _check_cut(cut)
        kept = confidence >= value
        wk = w[kept]
        row: dict[str, Any] = {
            "cut": value,
            "n_kept": int(kept.sum()),
            "fraction_kept": float(wk.sum() / w.sum()),
            "accuracy": float("nan"),
            "macro_f1": float("nan"),
        }
        if wk.sum() > 0:
            row["accuracy"] = float(np.sum(wk * (pred[kept] == y[kept])) / wk.sum())
            cm = _confusion(y[kept], pred[kept], p.shape[1], wk, None)
            row["macro_f1"] = float(np.nanmean(_per_class(cm)["f1"]))
        rows.append(row)
    return rows


def coverage_accuracy_curve(
    y_true: Any, y_prob: Any, *, sample_weight: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accuracy of the most confident objects as a function of the fraction kept.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    coverage : numpy.ndarray
        Fraction kept at each distinct confidence threshold, increasing to 1.
    accuracy : numpy.ndarray
        Accuracy on the kept objects.
    thresholds : numpy.ndarray
        The maximum-probability threshold giving that coverage.

    Examples
    --------
    >>> cov, acc, thr = coverage_accuracy_curve(
    ...     [0, 1, 1, 0], [[0.95, 0.05], [0.6, 0.4], [0.2, 0.8], [0.0, 1.0]]
    ... )
    >>> cov.tolist(), acc.tolist()
    ([0.25, 0.5, 0.75, 1.0], [0.0, 0.5, 0.6666666666666666, 0.5])
    """
    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    correct = (p.argmax(axis=1) == y).astype(np.int64)
    tps, fps, thresholds = _cumulative_counts(correct, p.max(axis=1), w)
    kept = (tps + fps)[1:]
    return kept / w.sum(), tps[1:] / np.where(kept > 0, kept, 1), thresholds[1:]


def reliability_curve(
    y_true: Any, y_prob: Any, *, n_bins: int = 15, sample_weight: Any = None
) -> dict[str, np.ndarray]:
    """Accuracy against confidence in equal-width bins of the maximum probability.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    n_bins : int, default 15
        Number of equal-width bins over [0, 1]; bin ``b`` holds confidences
        in ``(b / n_bins, (b + 1) / n_bins]`` (the first also holds 0).
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    dict
        ``"edges"`` (n_bins + 1,), and per bin ``"confidence"`` (mean
        maximum probability), ``"accuracy"`` and ``"weight"`` (objects, or
        weight sum); empty bins have ``nan`` confidence and accuracy.

    Examples
    --------
    >>> r = reliability_curve([0, 1], [[0.9, 0.1], [0.7, 0.3]], n_bins=5)
    >>> r["weight"].tolist(), r["accuracy"][3:].tolist()
    ([0.0, 0.0, 0.0, 1.0, 1.0], [0.0, 1.0])
    """
    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    if (
        isinstance(n_bins, bool)
        or not isinstance(n_bins, int | np.integer)
        or n_bins < 1
    ):
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == y
    bins = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    weight = np.bincount(bins, weights=w, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(bins, weights=w * confidence, minlength=n_bins) / weight
        acc = np.bincount(bins, weights=w * correct, minlength=n_bins) / weight
    return {
        "edges": np.linspace(0.0, 1.0, n_bins + 1),
        "confidence": conf,
        "accuracy": acc,
        "weight": weight,
    }


def expected_calibration_loss(
    y_true: Any, y_prob: Any, *, n_bins: int = 15, sample_weight: Any = None
) -> float:
    """Compute the expected calibration error (ECE) of the top-class probability.

    ``ECE = sum_b (n_b / N) |accuracy_b - confidence_b|`` over the bins of
    :func:`reliability_curve` (Guo et al. 2017). 0 means a probability of
    0.9 is right 90 % of the time; what a follow-up decision on a
    probability threshold relies on.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    n_bins : int, default 15
        Equal-width confidence bins.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    float
        ECE in [0, 1].

    Examples
    --------
    >>> round(expected_calibration_loss([0, 1], [[0.9, 0.1], [0.7, 0.3]], n_bins=5), 6)
    0.4
    """
    r = reliability_curve(y_true, y_prob, n_bins=n_bins, sample_weight=sample_weight)
    filled = r["weight"] > 0
    gap = np.abs(r["accuracy"][filled] - r["confidence"][filled])
    return float(np.sum(r["weight"][filled] * gap) / r["weight"].sum())


# --------------------------------------------------------------------------
# regression


def regression_scores(
    y_true: Any, y_pred: Any, *, outlier_threshold: float = 0.15
) -> dict[str, float]:
    """Scores of a redshift regression (seed 002 reports MSE and MAE).

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True redshifts.
    y_pred : array-like of shape (N,) or (N, 1)
        Predicted redshifts.
    outlier_threshold : float, default 0.15
        A prediction is an outlier when ``|dz| / (1 + z_true) > threshold``.
        The seeds give no definition; 0.15 is the usual photometric-redshift
        convention.

    Returns
    -------
    dict
        ``mse``, ``mae``, ``rmse``, ``bias`` (mean of ``z_pred - z_true``),
        ``nmad`` (``1.4826 * median(|e - median(e)|)`` with
        ``e = dz / (1 + z_true)``, a robust scatter), ``outlier_fraction`` and
        ``n``. ``nmad`` and ``outlier_fraction`` are ``nan`` when some
        ``z_true <= -1`` (not redshifts).

    Raises
    ------
    ValueError
        For mismatched shapes, NaN/inf values or an empty input.

    Examples
    --------
    >>> s = regression_scores([0.5, 1.0, 2.0], [0.5, 1.2, 2.9])
    >>> round(s["mae"], 4), round(s["outlier_fraction"], 4)
    (0.3667, 0.3333)
    """
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]  # (N, 1) -> (N,)
    if t.ndim != 1 or p.shape != t.shape:
        raise ValueError(
            f"y_true has shape {t.shape} and y_pred has shape {p.shape}; "
            "expected two arrays of shape (N,)"
        )
    if t.size == 0:
        raise ValueError("y_true is empty; metrics need at least one object")
    for name, a in (("y_true", t), ("y_pred", p)):
        if not np.all(np.isfinite(a)):
            raise ValueError(
                f"{name} contains {int(np.sum(~np.isfinite(a)))} NaN/inf value(s) "
                f"(first at index {int(np.argmax(~np.isfinite(a)))})"
            )
    dz = p - t
    scores = {
        "mse": float(np.mean(dz**2)),
        "mae": float(np.mean(np.abs(dz))),
        "rmse": float(np.sqrt(np.mean(dz**2))),
        "bias": float(np.mean(dz)),
        "nmad": float("nan"),
        "outlier_fraction": float("nan"),
        "outlier_threshold": float(outlier_threshold),
        "n": int(t.size),
    }
    if np.all(t > -1):
        e = dz / (1 + t)
        scores["nmad"] = float(1.4826 * np.median(np.abs(e - np.median(e))))
        scores["outlier_fraction"] = float(np.mean(np.abs(e) > outlier_threshold))
    return scores


def _as_jsonable(value: Any) -> Any:
    """Turn numpy values into plain Python, with ``nan`` as ``None``."""
    if isinstance(value, Mapping):
        return {str(k): _as_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _as_jsonable(value.tolist())
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


# --------------------------------------------------------------------------
# one-call evaluation


def _check_class_names(class_names: Sequence[str], c: int) -> list[str]:
    """Return class names as strings; their number must match the columns."""
    if isinstance(class_names, str):
        raise ValueError(
            f"class_names must be a sequence of names, got the string {class_names!r}"
        )
    names = [str(n) for n in class_names]
    if len(names) != c:
        raise ValueError(
            f"got {len(names)} class names but y_prob has {c} columns; "
            "pass one name per column, in column order"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"class names must be unique, got {names}")
    return names


def _choose_matrix_cut(rows: list[dict[str, Any]]) -> float:
    """Highest cut keeping at least half of the objects, else the lowest cut."""
    ok = [r["cut"] for r in rows if r["fraction_kept"] >= 0.5]
    return max(ok) if ok else min(r["cut"] for r in rows)


def evaluate_classification(
    y_true: Any,
    y_prob: Any,
    class_names: Sequence[str],
    *,
    cuts: Sequence[float] | None = None,
    binary_groups: Mapping[str, Sequence[str]] | None = None,
    matrix_cut: float | None = None,
    n_bins: int = 15,
    sample_weight: Any = None,
) -> dict[str, Any]:
    """Compute every classification number of the run report.

    Parameters
    ----------
    y_true : array-like of int, shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities (softmax outputs), rows summing to 1.
    class_names : sequence of str
        C names in column order.
    cuts : sequence of float, optional
        Extra maximum-probability cuts, evaluated together with
        :data:`DEFAULT_CUTS`.
    binary_groups : mapping of str to sequence of str, optional
        Binary views of the multi-class model, e.g.
        ``{"Ia": ["SNIa", "SNIa-91bg"]}`` gives "Ia" vs "non-Ia" with the
        summed probability of the listed classes (seed 000).
    matrix_cut : float, optional
        Cut for the "confusion matrix above a cut"; by default the highest
        cut of the ladder that still keeps at least half of the objects (the
        lowest cut if none does).
    n_bins : int, default 15
        Confidence bins of the calibration analysis.
    sample_weight : array-like of shape (N,), optional
        Object weights for every metric.

    Returns
    -------
    dict
        JSON-ready (``nan`` stored as ``None``): ``headline`` (the key
        numbers), ``per_class`` (precision, recall, F1, support, ROC AUC and
        average precision per class), ``roc_auc`` and ``average_precision``
        (micro, macro), ``confusion_matrix`` (counts and row-normalised),
        ``confidence`` (cut table and the matrix above ``matrix_cut``),
        ``calibration`` (ECE and the reliability bins), ``supernova``
        (SNIa purity and core-collapse contamination, present when
        :func:`match_supernova_classes` finds those classes), ``binary``
        (one entry per group) and ``notes`` (undefined values explained).

    Raises
    ------
    ValueError
        For invalid inputs (shapes, NaN, labels out of range, rows not
        summing to 1), a wrong number of class names, or a group naming an
        unknown class.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y_prob = rng.dirichlet(np.ones(3), size=200)
    >>> y_true = rng.integers(0, 3, size=200)
    >>> m = evaluate_classification(
    ...     y_true, y_prob, ["SNIa", "SNIbc", "SNII"], binary_groups={"Ia": ["SNIa"]}
    ... )
    >>> sorted(m["headline"])  # doctest: +NORMALIZE_WHITESPACE
    ['Ia_roc_auc', 'accuracy', 'balanced_accuracy', 'cc_contamination', 'ece',
     'log_loss', 'macro_f1', 'roc_auc_macro', 'roc_auc_micro', 'snia_purity']
    >>> m["per_class"][0]["name"], m["per_class"][0]["support"]
    ('SNIa', 62)
    """
    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    c = p.shape[1]
    names = _check_class_names(class_names, c)
    pred = p.argmax(axis=1)
    notes: list[str] = []

    def counts(a: np.ndarray) -> np.ndarray:
        # Unweighted counts are reported as integers.
        return a.astype(np.int64) if sample_weight is None else a

    from sklearn import metrics as skm

    cm = _confusion(y, pred, c, w, None)
    scores = _precision_recall_f1(y, pred, c, w)
    auc = _per_class_ranking(skm.roc_auc_score, y, p, w)
    ap = _per_class_ranking(skm.average_precision_score, y, p, w)
    absent = [names[k] for k in range(c) if scores["support"][k] == 0]
    if absent:
        notes.append(
            f"{len(absent)} class(es) have no objects in y_true ({', '.join(absent)}):"
            " their recall, ROC AUC and average precision are undefined (null) and"
            " left out of the macro averages"
        )
    never = [names[k] for k in range(c) if cm[:, k].sum() == 0]
    if never:
        notes.append(
            f"{len(never)} class(es) are never predicted ({', '.join(never)}):"
            " their precision is undefined (null)"
        )
    with np.errstate(invalid="ignore"):
        cm_norm = cm / cm.sum(axis=1, keepdims=True)

    per_class = [
        {
            "name": names[k],
            "precision": scores["precision"][k],
            "recall": scores["recall"][k],
            "f1": scores["f1"][k],
            "support": counts(scores["support"])[k],
            "roc_auc": auc[k],
            "average_precision": ap[k],
        }
        for k in range(c)
    ]
    roc = {"micro": _micro_ranking(skm.roc_auc_score, y, p, w), "macro": _macro(auc)}
    avp = {
        "micro": _micro_ranking(skm.average_precision_score, y, p, w),
        "macro": _macro(ap),
    }

    ladder = sorted({*DEFAULT_CUTS, *(_check_cut(v) for v in (cuts or ()))})
    rows = confidence_cut_table(y, p, ladder, sample_weight=w)
    chosen = _choose_matrix_cut(rows) if matrix_cut is None else _check_cut(matrix_cut)
    kept = p.max(axis=1) >= chosen
    confidence = {
        "cuts": rows,
        "max_prob_median": float(np.median(p.max(axis=1))),
        "matrix_cut": chosen,
        "matrix_at_cut": counts(_confusion(y[kept], pred[kept], c, w[kept], None)),
        "n_kept_at_matrix_cut": int(kept.sum()),
    }
    if np.any(np.asarray(ladder) > 1 - 6e-8):
        saturated = int(np.sum(p.max(axis=1) == 1.0))
        if saturated:
            notes.append(
                f"{saturated:,} of {y.size:,} maximum probabilities equal exactly 1.0;"
                " float32 probabilities cannot resolve cuts above 1 - 6e-8, so "
                "compute them in float64 from the logits for the highest cuts"
            )

    reliability = reliability_curve(y, p, n_bins=n_bins, sample_weight=w)
    calibration = {
        "ece": expected_calibration_loss(y, p, n_bins=n_bins, sample_weight=w),
        "n_bins": n_bins,
        "bins": [
            {
                "low": reliability["edges"][b],
                "high": reliability["edges"][b + 1],
                "confidence": reliability["confidence"][b],
                "accuracy": reliability["accuracy"][b],
                "weight": counts(reliability["weight"])[b],
            }
            for b in range(n_bins)
        ],
    }

    log_loss = weighted_log_loss(y, p, sample_weight=w)
    headline: dict[str, Any] = {
        "accuracy": float(np.sum(w * (pred == y)) / w.sum()),
        "balanced_accuracy": balanced_accuracy_score(y, p, sample_weight=w),
        "macro_f1": float(np.nanmean(scores["f1"])),
        "log_loss": log_loss,
        "roc_auc_micro": roc["micro"],
        "roc_auc_macro": roc["macro"],
        "ece": calibration["ece"],
    }

    result: dict[str, Any] = {
        "task": "classification",
        "n_samples": int(y.size),
        "n_classes": c,
        "class_names": names,
        "headline": headline,
        "log_loss": {"value": log_loss, "class_weights": "flat (w_i = 1)"},
        "per_class": per_class,
        "roc_auc": roc,
        "average_precision": avp,
        "confusion_matrix": {"counts": counts(cm), "normalized_by_true": cm_norm},
        "confidence": confidence,
        "calibration": calibration,
    }

    sn = match_supernova_classes(names)
    if sn["ia"]:
        supernova: dict[str, Any] = {
            "ia_classes": [names[k] for k in sn["ia"]],
            "snia_purity": purity_score(y, p, target=sn["ia"], sample_weight=w),
        }
        headline["snia_purity"] = supernova["snia_purity"]
        cc = sn["ibc"] + sn["ii"]
        if cc:
            supernova["cc_classes"] = [names[k] for k in cc]
            supernova["cc_contamination"] = contamination_loss(
                y, p, target=sn["ia"], contaminants=cc, sample_weight=w
            )
            headline["cc_contamination"] = supernova["cc_contamination"]
        if np.isnan(supernova["snia_purity"]):
            notes.append("no object is classified as SNIa: purity is undefined (null)")
        result["supernova"] = supernova

    binary: dict[str, Any] = {}
    for group, members in (binary_groups or {}).items():
        if isinstance(members, str):
            members = [members]
        unknown = [m for m in members if m not in names]
        if unknown or not members:
            raise ValueError(
                f"binary group {group!r} lists unknown class(es) {unknown}; "
                f"available classes are {names}"
            )
        idx = [names.index(m) for m in members]
        yb, pb = group_probabilities(y, p, idx)
        cmb = _confusion(yb, pb.argmax(axis=1), 2, w, None)
        pcb = _precision_recall_f1(yb, pb.argmax(axis=1), 2, w)
        entry = {
            "positive": str(group),
            "negative": f"non-{group}",
            "classes": list(members),
            "n_positive": int(yb.sum()),
            "accuracy": float(np.sum(w * (pb.argmax(axis=1) == yb)) / w.sum()),
            "roc_auc": _binary_score(skm.roc_auc_score, yb, pb[:, 1], w),
            "average_precision": _binary_score(
                skm.average_precision_score, yb, pb[:, 1], w
            ),
            "purity": pcb["precision"][1],
            "recall": pcb["recall"][1],
            "confusion_matrix": counts(cmb),
            "cuts": confidence_cut_table(yb, pb, ladder, sample_weight=w),
        }
        if np.isnan(entry["roc_auc"]):
            notes.append(
                f"binary view {group!r}: y_true holds only one side, so its ROC AUC "
                "is undefined (null)"
            )
        binary[str(group)] = entry
        headline[f"{group}_roc_auc"] = entry["roc_auc"]
    if binary:
        result["binary"] = binary
    result["notes"] = notes
    return _as_jsonable(result)


def evaluate_regression(
    y_true: Any, y_pred: Any, *, outlier_threshold: float = 0.15
) -> dict[str, Any]:
    """Compute the numbers of a redshift-regression report.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True redshifts.
    y_pred : array-like of shape (N,) or (N, 1)
        Predicted redshifts.
    outlier_threshold : float, default 0.15
        Outliers are ``|z_pred - z_true| / (1 + z_true) > outlier_threshold``
        (a photometric-redshift convention; the seeds define none).

    Returns
    -------
    dict
        JSON-ready: ``task``, ``n_samples``, ``headline`` (MSE, MAE, RMSE,
        bias, NMAD, outlier fraction) and ``notes``.

    Raises
    ------
    ValueError
        For mismatched shapes, NaN/inf values or an empty input.

    Examples
    --------
    >>> m = evaluate_regression([0.5, 1.0, 2.0], [0.5, 1.2, 2.9])
    >>> round(m["headline"]["mse"], 4), m["n_samples"]
    (0.2833, 3)
    """
    scores = regression_scores(y_true, y_pred, outlier_threshold=outlier_threshold)
    notes = []
    if np.isnan(scores["outlier_fraction"]):
        notes.append(
            "some true values are <= -1, so they are not redshifts: the outlier "
            "fraction and NMAD (which divide by 1 + z) are undefined (null)"
        )
    n = scores.pop("n")
    threshold = scores.pop("outlier_threshold")
    return _as_jsonable(
        {
            "task": "regression",
            "n_samples": n,
            "headline": scores,
            "outlier_definition": f"|z_pred - z_true| / (1 + z_true) > {threshold:g}",
            "notes": notes,
        }
    )
