"""Figures of the run report; each function returns a matplotlib Figure.

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas,
never through ``pyplot``: nothing touches global plotting state, no window
opens, and the functions are safe in scripts, servers and threads. Save one
with ``fig.savefig("name.png")``.

The numbers drawn come from :mod:`skysift.evaluation.metrics`, so a figure
and the table beside it in the report always agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from skysift.evaluation.metrics import (
    DEFAULT_CUTS,
    binary_pr_curve,
    binary_roc_curve,
    check_classification_inputs,
    coverage_accuracy_curve,
    reliability_curve,
)

__all__ = [
    "new_figure",
    "plot_binary_roc",
    "plot_confidence_histogram",
    "plot_confusion_matrix",
    "plot_coverage_accuracy",
    "plot_per_class_scores",
    "plot_pr_curves",
    "plot_regression",
    "plot_reliability_diagram",
    "plot_roc_curves",
    "plot_training_curves",
]

# Past this many classes per-cell numbers and per-class legends stop being
# readable; the figures fall back to colour only.
_MAX_ANNOTATED_CLASSES = 20


def new_figure(width: float = 6.4, height: float = 4.8, **kwargs: Any) -> Figure:
    """Return a Figure with an Agg canvas and constrained layout.

    Parameters
    ----------
    width, height : float, default 6.4 and 4.8
        Size in inches.
    **kwargs
        Passed to :class:`matplotlib.figure.Figure`.

    Returns
    -------
    matplotlib.figure.Figure
        A figure detached from ``pyplot``.

    Examples
    --------
    >>> fig = new_figure(4, 3)
    >>> type(fig.canvas).__name__
    'FigureCanvasAgg'
    """
    kwargs.setdefault("layout", "constrained")
    fig = Figure(figsize=(width, height), **kwargs)
    FigureCanvasAgg(fig)
    return fig


def _class_colors(n: int) -> list[Any]:
    """Distinct colours for n classes (tab10, then tab20, then a continuous map)."""
    import matplotlib as mpl

    if n <= 10:
        return list(mpl.colormaps["tab10"].colors[:n])
    if n <= 20:
        return list(mpl.colormaps["tab20"].colors[:n])
    return [mpl.colormaps["turbo"](x) for x in np.linspace(0.05, 0.95, n)]


def _thin(*arrays: np.ndarray, max_points: int = 2000) -> tuple[np.ndarray, ...]:
    """Keep about ``max_points`` evenly spaced points (and both ends) of curves.

    A curve over a million objects draws no differently from 2000 of its
    points, but renders and embeds far slower.
    """
    n = arrays[0].size
    if n <= max_points:
        return arrays
    keep = np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))
    return tuple(a[keep] for a in arrays)


def _plain_log_ticks(axis: Any) -> None:
    """Label a log axis 0.01, 1, 100 instead of mathtext powers (faster to render)."""
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _legend(ax: Any, n_entries: int) -> None:
    """Put a legend inside for a few entries, outside on the right for many."""
    if n_entries == 0:
        return
    if n_entries <= 8:
        ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)


def plot_confusion_matrix(
    matrix: Any,
    class_names: Sequence[str],
    *,
    normalized: bool = False,
    title: str | None = None,
) -> Figure:
    """Draw a confusion matrix as an annotated heat map.

    Parameters
    ----------
    matrix : array-like of shape (C, C)
        Counts, or row-normalised fractions when ``normalized`` is True;
        rows are true classes, columns predictions. ``nan`` rows (classes
        absent from the truth) are left blank.
    class_names : sequence of str
        C names.
    normalized : bool, default False
        Annotate cells as percentages and fix the colour scale to [0, 1].
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If the matrix is not square or does not match the names.

    Examples
    --------
    >>> fig = plot_confusion_matrix([[5, 1], [2, 7]], ["star", "qso"])
    >>> fig.axes[0].get_xlabel()
    'Predicted class'
    """
    cm = np.asarray(matrix, dtype=np.float64)
    c = len(class_names)
    if cm.shape != (c, c):
        raise ValueError(
            f"confusion matrix has shape {cm.shape} but there are {c} class names"
        )
    side = min(12.0, 3.0 + 0.45 * c)
    fig = new_figure(side + 1.2, side)
    ax = fig.add_subplot()
    vmax = 1.0 if normalized else max(float(np.nanmax(cm)) if cm.size else 1.0, 1.0)
    image = ax.imshow(
        np.ma.masked_invalid(cm), cmap="Blues", vmin=0.0, vmax=vmax, aspect="equal"
    )
    fig.colorbar(
        image,
        ax=ax,
        shrink=0.8,
        label="fraction of true class" if normalized else "objects",
    )
    ax.set_xticks(range(c), [str(n) for n in class_names], rotation=45, ha="right")
    ax.set_yticks(range(c), [str(n) for n in class_names])
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    if title:
        ax.set_title(title)
    if c <= _MAX_ANNOTATED_CLASSES:
        size = 9 if c <= 8 else 7
        for i in range(c):
            for j in range(c):
                value = cm[i, j]
                if np.isnan(value):
                    continue
                text = f"{100 * value:.0f}%" if normalized else f"{value:,.0f}"
                if normalized and 0 < value < 0.005:
                    text = "<1%"
                dark = value > 0.55 * vmax
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=size,
                    color="white" if dark else "black",
                )
    return fig


def plot_roc_curves(
    y_true: Any,
    y_prob: Any,
    class_names: Sequence[str],
    *,
    sample_weight: Any = None,
) -> Figure:
    """One-vs-rest ROC curve of every class with the micro and macro averages.

    The macro curve averages the per-class true-positive rates on a common
    false-positive grid (classes absent from ``y_true`` have no curve and
    are skipped); the micro curve pools all (object, class) pairs.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    class_names : sequence of str
        C names.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> fig = plot_roc_curves(rng.integers(0, 3, 50), rng.dirichlet([1, 1, 1], 50), "abc")
    >>> fig.axes[0].get_xlabel()
    'False-positive rate'
    """
    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    c = p.shape[1]
    fig = new_figure(7.4 if c > 8 else 6.0, 5.0)
    ax = fig.add_subplot()
    grid = np.linspace(0.0, 1.0, 501)
    tprs = []
    for k, color in zip(range(c), _class_colors(c), strict=True):
        fpr, tpr, _ = binary_roc_curve(y == k, p[:, k], sample_weight=w)
        if np.isnan(fpr).any() or np.isnan(tpr).any():
            continue
        auc = np.trapezoid(tpr, fpr)
        tprs.append(np.interp(grid, fpr, tpr))
        ax.plot(
            *_thin(fpr, tpr), color=color, lw=1.2, label=f"{class_names[k]} ({auc:.3f})"
        )
    onehot = y[:, None] == np.arange(c)
    fpr, tpr, _ = binary_roc_curve(
        onehot.ravel(), p.ravel(), sample_weight=np.repeat(w, c)
    )
    ax.plot(
        *_thin(fpr, tpr), "k--", lw=2, label=f"micro ({np.trapezoid(tpr, fpr):.3f})"
    )
    if tprs:
        mean_tpr = np.mean(tprs, axis=0)
        ax.plot(
            grid,
            mean_tpr,
            ":",
            color="navy",
            lw=2.2,
            label=f"macro ({np.trapezoid(mean_tpr, grid):.3f})",
        )
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="False-positive rate",
        ylabel="True-positive rate (recall)",
        title="ROC curves (AUC in brackets)",
    )
    _legend(ax, c + 2)
    return fig


def plot_pr_curves(
    y_true: Any,
    y_prob: Any,
    class_names: Sequence[str],
    *,
    sample_weight: Any = None,
) -> Figure:
    """One-vs-rest precision-recall curve of every class with the micro average.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    class_names : sequence of str
        C names.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> fig = plot_pr_curves(rng.integers(0, 3, 50), rng.dirichlet([1, 1, 1], 50), "abc")
    >>> fig.axes[0].get_ylabel()
    'Precision (purity)'
    """
    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    c = p.shape[1]
    fig = new_figure(7.4 if c > 8 else 6.0, 5.0)
    ax = fig.add_subplot()
    for k, color in zip(range(c), _class_colors(c), strict=True):
        precision, recall, _ = binary_pr_curve(y == k, p[:, k], sample_weight=w)
        if np.isnan(recall).any():
            continue
        ap = np.sum(np.diff(np.r_[0.0, recall]) * precision)
        ax.step(
            *_thin(np.r_[0.0, recall], np.r_[precision[0], precision]),
            where="pre",
            color=color,
            lw=1.2,
            label=f"{class_names[k]} ({ap:.3f})",
        )
    onehot = y[:, None] == np.arange(c)
    precision, recall, _ = binary_pr_curve(
        onehot.ravel(), p.ravel(), sample_weight=np.repeat(w, c)
    )
    ap = np.sum(np.diff(np.r_[0.0, recall]) * precision)
    ax.step(
        *_thin(np.r_[0.0, recall], np.r_[precision[0], precision]),
        "k--",
        where="pre",
        lw=2,
        label=f"micro ({ap:.3f})",
    )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.02),
        xlabel="Recall",
        ylabel="Precision (purity)",
        title="Precision-recall curves (average precision in brackets)",
    )
    _legend(ax, c + 1)
    if c + 1 <= 8:
        ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    return fig


def _nines(confidence: np.ndarray) -> np.ndarray:
    """-log10(1 - p): 2 for 0.99, 5 for 0.99999; capped where p rounds to 1."""
    return -np.log10(np.clip(1.0 - confidence, 1e-16, 1.0))


def plot_confidence_histogram(
    y_true: Any,
    y_prob: Any,
    cuts: Sequence[float] = DEFAULT_CUTS,
    *,
    sample_weight: Any = None,
) -> Figure:
    """Histogram of the maximum class probability, right and wrong predictions stacked.

    The left panel uses the probability itself; the right panel uses
    ``-log10(1 - p_max)`` ("number of nines") so the ladder of cuts from
    0.9 to 0.99999997 (seed 000) is spread out, with each cut drawn as a
    vertical line.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    cuts : sequence of float, default :data:`~skysift.evaluation.metrics.DEFAULT_CUTS`
        Cuts to mark.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_confidence_histogram([0, 1], [[0.9, 0.1], [0.3, 0.7]])
    >>> len(fig.axes)
    2
    """
    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == y
    fig = new_figure(10.0, 3.8)
    left, right = fig.subplots(1, 2)
    c = p.shape[1]
    bins = np.linspace(1.0 / c, 1.0, 31)
    left.hist(
        [confidence[correct], confidence[~correct]],
        bins=bins,
        stacked=True,
        weights=[w[correct], w[~correct]],
        color=["tab:green", "tab:red"],
        label=["correct", "wrong"],
    )
    left.set(
        xlabel="Maximum class probability",
        ylabel="objects",
        title="Confidence of the predictions",
    )
    left.legend(fontsize=8, loc="upper left")
    nines = _nines(confidence)
    top = max(float(nines.max()), max(_nines(np.asarray(cuts, dtype=float))) + 0.5, 1.5)
    bins = np.linspace(0.0, top + 1e-9, 33)
    right.hist(
        [nines[correct], nines[~correct]],
        bins=bins,
        stacked=True,
        weights=[w[correct], w[~correct]],
        color=["tab:green", "tab:red"],
    )
    right.set_yscale("log")
    _plain_log_ticks(right.yaxis)
    for cut in cuts:
        x = float(_nines(np.asarray([cut]))[0])
        right.axvline(x, color="0.3", lw=0.8, ls="--")
        right.text(
            x,
            0.97,
            f"{cut:.10g}",
            transform=right.get_xaxis_transform(),
            rotation=90,
            va="top",
            ha="left",
            fontsize=8,
            color="0.15",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.0},
        )
    right.set(
        xlabel="-log10(1 - max probability)  (2 = 0.99, 5 = 0.99999)",
        ylabel="objects (log scale)",
        title="Near 1, with the confidence cuts",
    )
    return fig


def plot_coverage_accuracy(
    y_true: Any,
    y_prob: Any,
    cuts: Sequence[float] = DEFAULT_CUTS,
    *,
    sample_weight: Any = None,
) -> Figure:
    """Accuracy of the kept objects against the fraction kept, cuts marked.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True class indices.
    y_prob : array-like of shape (N, C)
        Class probabilities.
    cuts : sequence of float, default :data:`~skysift.evaluation.metrics.DEFAULT_CUTS`
        Cuts to mark on the curve.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_coverage_accuracy([0, 1, 1], [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    >>> fig.axes[0].get_ylabel()
    'Accuracy on the kept objects'
    """
    y, p, w = check_classification_inputs(y_true, y_prob, sample_weight=sample_weight)
    coverage, accuracy, _ = coverage_accuracy_curve(y, p, sample_weight=w)
    fig = new_figure(6.0, 4.4)
    ax = fig.add_subplot()
    ax.plot(*_thin(coverage, accuracy), color="tab:blue", lw=1.6)
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == y
    lowest = 1.0
    for i, cut in enumerate(sorted(cuts)):
        kept = confidence >= cut
        if w[kept].sum() == 0:
            continue
        x = w[kept].sum() / w.sum()
        acc = np.sum(w[kept] * correct[kept]) / w[kept].sum()
        lowest = min(lowest, x)
        ax.plot(x, acc, "o", color="tab:orange", ms=5)
        # Alternate the labels below and above the curve so neighbours don't collide.
        ax.annotate(
            f"{cut:.10g}",
            (x, acc),
            textcoords="offset points",
            xytext=(3, -12 if i % 2 == 0 else 6),
            fontsize=7,
        )
    xlabel = "Fraction of objects kept (coverage)"
    if lowest < 0.1:
        # The highest cuts keep a tiny fraction: a log axis keeps them apart.
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
        ax.set_xlim(max(lowest / 2, coverage[0] / 1.5), 1.05)
        xlabel += ", log scale"
    else:
        ax.set_xlim(0, 1.02)
    ax.set(
        xlabel=xlabel,
        ylabel="Accuracy on the kept objects",
        title="Keeping only confident predictions",
    )
    ax.grid(alpha=0.3)
    return fig


def plot_reliability_diagram(
    y_true: Any, y_prob: Any, *, n_bins: int = 15, sample_weight: Any = None
) -> Figure:
    """Reliability diagram: accuracy against confidence, with the bin populations.

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
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_reliability_diagram([0, 1], [[0.9, 0.1], [0.3, 0.7]], n_bins=5)
    >>> len(fig.axes)
    2
    """
    r = reliability_curve(y_true, y_prob, n_bins=n_bins, sample_weight=sample_weight)
    edges, filled = r["edges"], r["weight"] > 0
    centers, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    gap = np.abs(r["accuracy"][filled] - r["confidence"][filled])
    ece = float(np.sum(r["weight"][filled] * gap) / r["weight"].sum())
    fig = new_figure(5.6, 5.6)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.bar(
        centers[filled],
        r["accuracy"][filled],
        width=width,
        color="tab:blue",
        edgecolor="white",
        label="accuracy in bin",
    )
    top.bar(
        centers[filled],
        r["confidence"][filled] - r["accuracy"][filled],
        bottom=r["accuracy"][filled],
        width=width,
        color="tab:red",
        alpha=0.3,
        edgecolor="tab:red",
        label="gap to confidence",
    )
    top.plot([0, 1], [0, 1], color="0.3", ls="--", lw=1, label="perfect calibration")
    top.set(
        ylim=(0, 1), ylabel="Accuracy", title=f"Reliability diagram (ECE = {ece:.3f})"
    )
    top.legend(fontsize=8, loc="upper left")
    bottom.bar(centers, r["weight"], width=width, color="0.5", edgecolor="white")
    bottom.set(
        xlim=(0, 1), xlabel="Maximum class probability (confidence)", ylabel="objects"
    )
    return fig


def plot_binary_roc(
    y_true: Any,
    score: Any,
    *,
    positive: str = "positive",
    cuts: Sequence[float] = DEFAULT_CUTS,
    sample_weight: Any = None,
) -> Figure:
    """ROC curve of a binary view, with the operating points of probability cuts.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        1 for the positive group, 0 otherwise.
    score : array-like of shape (N,)
        Probability of the positive group.
    positive : str, default "positive"
        Name of the positive group, e.g. ``"Ia"``.
    cuts : sequence of float, default :data:`~skysift.evaluation.metrics.DEFAULT_CUTS`
        Thresholds on ``score`` to mark (as in seed 000's binary cuts); 0.5
        is always marked.
    sample_weight : array-like of shape (N,), optional
        Object weights.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_binary_roc([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.7], positive="Ia")
    >>> fig.axes[0].get_title()
    'Ia vs non-Ia: ROC (AUC = 0.750)'
    """
    y = np.asarray(y_true).astype(np.int64)
    s = np.asarray(score, dtype=np.float64)
    fpr, tpr, _ = binary_roc_curve(y, s, sample_weight=sample_weight)
    fig = new_figure(5.4, 5.0)
    ax = fig.add_subplot()
    title = f"{positive} vs non-{positive}: ROC"
    if not (np.isnan(fpr).any() or np.isnan(tpr).any()):
        title += f" (AUC = {np.trapezoid(tpr, fpr):.3f})"
        ax.plot(*_thin(fpr, tpr), color="tab:purple", lw=1.8)
        w = (
            np.ones(y.size)
            if sample_weight is None
            else np.asarray(sample_weight, float)
        )
        pos, neg = w[y == 1].sum(), w[y == 0].sum()
        for cut in sorted({0.5, *cuts}):
            sel = s >= cut
            x, t = w[sel & (y == 0)].sum() / neg, w[sel & (y == 1)].sum() / pos
            ax.plot(x, t, "o", color="tab:orange", ms=4)
            ax.annotate(
                f"{cut:.10g}",
                (x, t),
                textcoords="offset points",
                xytext=(5, -9),
                fontsize=7,
            )
    else:
        ax.text(0.5, 0.5, "undefined: only one side present", ha="center")
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8)
    ax.set(
        xlim=(-0.01, 1),
        ylim=(0, 1.01),
        title=title,
        xlabel=f"False-positive rate (non-{positive} kept)",
        ylabel=f"True-positive rate ({positive} recall)",
    )
    ax.grid(alpha=0.3)
    return fig


def plot_per_class_scores(
    per_class: Sequence[Mapping[str, Any]],
) -> Figure:
    """Horizontal bars of precision, recall and F1 per class.

    Parameters
    ----------
    per_class : sequence of mapping
        Rows with ``name``, ``precision``, ``recall``, ``f1`` and ``support``,
        as in ``evaluate_classification(...)["per_class"]``; ``None`` values
        are drawn as missing bars.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> rows = [{"name": "a", "precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 10}]
    >>> plot_per_class_scores(rows).axes[0].get_xlabel()
    'Score'
    """
    c = len(per_class)
    fig = new_figure(6.4, max(2.6, 0.5 * c + 1.4))
    ax = fig.add_subplot()
    positions = np.arange(c)
    height = 0.27
    for offset, key, color in (
        (-height, "precision", "tab:blue"),
        (0.0, "recall", "tab:orange"),
        (height, "f1", "tab:green"),
    ):
        values = [np.nan if r[key] is None else float(r[key]) for r in per_class]
        ax.barh(positions + offset, values, height=height, color=color, label=key)
    labels = [f"{r['name']} (n={r['support']:,.0f})" for r in per_class]
    ax.set_yticks(positions, labels, fontsize=8 if c <= 15 else 6)
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="Score", title="Per-class precision, recall and F1")
    ax.legend(
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=3,
        frameon=False,
    )
    ax.grid(axis="x", alpha=0.3)
    return fig


def plot_training_curves(
    history: Mapping[str, tuple[Any, Any]],
) -> Figure:
    """Loss (and accuracy, when recorded) per epoch for training and validation.

    Parameters
    ----------
    history : mapping of str to (epochs, values)
        Curves keyed by column name (``train_loss``, ``val_loss``,
        ``train_acc``, ``val_acc``; others are drawn too, in the loss panel
        unless their name ends in ``acc``).

    Returns
    -------
    matplotlib.figure.Figure
        One panel for losses, a second for accuracies when present; the
        epoch of the lowest validation loss is marked.

    Raises
    ------
    ValueError
        If ``history`` holds no curve.

    Examples
    --------
    >>> fig = plot_training_curves({"train_loss": ([0, 1, 2], [1.0, 0.6, 0.5])})
    >>> len(fig.axes)
    1
    """
    curves = {
        k: (np.asarray(e, float), np.asarray(v, float))
        for k, (e, v) in history.items()
        if len(e)
    }
    if not curves:
        raise ValueError("history holds no curve to draw; expected e.g. train_loss")
    acc_keys = [k for k in curves if k.endswith("acc") or k.endswith("accuracy")]
    loss_keys = [k for k in curves if k not in acc_keys]
    n_panels = int(bool(loss_keys)) + int(bool(acc_keys))
    fig = new_figure(5.2 * n_panels, 3.8)
    axes = list(np.atleast_1d(fig.subplots(1, n_panels)))
    styles = {"train": "-", "val": "--"}
    for ax, keys, label in (
        (axes[0], loss_keys, "Loss"),
        (axes[-1], acc_keys, "Accuracy"),
    ):
        if not keys:
            continue
        for k in keys:
            epochs, values = curves[k]
            ls = styles.get(k.split("_")[0], "-.")
            ax.plot(
                epochs,
                values,
                ls,
                marker="o" if epochs.size <= 30 else None,
                ms=3,
                label=k,
            )
        ax.set(xlabel="Epoch", ylabel=label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if "val_loss" in curves:
        epochs, values = curves["val_loss"]
        best = int(np.nanargmin(values))
        axes[0].axvline(epochs[best], color="0.5", lw=0.8, ls=":")
        axes[0].set_title(
            f"Best validation loss {values[best]:.4g} at epoch {epochs[best]:g}"
        )
    return fig


def plot_regression(
    y_true: Any, y_pred: Any, *, outlier_threshold: float = 0.15
) -> Figure:
    """Predicted against true redshift, and the histogram of normalised residuals.

    Parameters
    ----------
    y_true : array-like of shape (N,)
        True redshifts.
    y_pred : array-like of shape (N,) or (N, 1)
        Predicted redshifts.
    outlier_threshold : float, default 0.15
        Draws the outlier bounds ``|dz| / (1 + z) = threshold``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_regression([0.5, 1.0, 2.0], [0.5, 1.2, 2.9])
    >>> fig.axes[0].get_xlabel()
    'True z'
    """
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} values but y_pred has {p.size}")
    fig = new_figure(10.0, 4.4)
    left, right = fig.subplots(1, 2)
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    if t.size > 5000:
        image = left.hexbin(t, p, gridsize=60, bins="log", cmap="viridis", mincnt=1)
        fig.colorbar(image, ax=left, label="objects (log)")
    else:
        left.scatter(t, p, s=6, alpha=0.6, color="tab:blue", edgecolors="none")
    line = np.linspace(lo, hi, 50)
    left.plot(line, line, color="k", lw=1, label="z_pred = z_true")
    for sign in (-1, 1):
        left.plot(
            line,
            line + sign * outlier_threshold * (1 + line),
            color="tab:red",
            lw=0.8,
            ls="--",
            label="outlier bound" if sign > 0 else None,
        )
    left.set(xlabel="True z", ylabel="Predicted z", title="Predicted vs true")
    left.legend(fontsize=8, loc="upper left")
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (p - t) / (1 + t)
    e = e[np.isfinite(e)]
    if e.size:
        right.hist(e, bins=50, color="tab:blue")
    for sign in (-1, 1):
        right.axvline(sign * outlier_threshold, color="tab:red", ls="--", lw=0.8)
    right.set(
        xlabel="(z_pred - z_true) / (1 + z_true)",
        ylabel="objects",
        title="Normalised residuals",
    )
    return fig
