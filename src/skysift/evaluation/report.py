"""The run report: one self-contained HTML page and a metrics.json beside it.

:func:`write_report` computes the numbers with
:func:`~skysift.evaluation.metrics.evaluate_classification` (or
:func:`~skysift.evaluation.metrics.evaluate_regression`), draws the figures
of :mod:`skysift.evaluation.plots`, and writes

* ``report.html`` -- headline numbers first, then each figure with its
  numbers beside it; figures are embedded as base64 PNG, so the file can be
  mailed or archived alone;
* ``metrics.json`` -- the same numbers, machine-readable (``null`` where a
  value is undefined, with the reason under ``notes``).

:func:`format_summary_table` prints the short version for a terminal.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from skysift.evaluation import plots
from skysift.evaluation.metrics import (
    check_classification_inputs,
    evaluate_classification,
    evaluate_regression,
    group_probabilities,
)

__all__ = ["format_summary_table", "read_history_csv", "write_report"]

_HISTORY_COLUMNS = ("train_loss", "val_loss", "train_acc", "val_acc")


# --------------------------------------------------------------------------
# training history


def read_history_csv(
    path: str | os.PathLike[str],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    r"""Read per-epoch training curves from a CSV file.

    Parameters
    ----------
    path : str or path-like
        CSV with an ``epoch`` column and any of ``train_loss``, ``val_loss``,
        ``train_acc``, ``val_acc`` (other columns whose name contains
        ``loss`` or ``acc`` are read too). Empty cells are skipped, and when
        an epoch has several rows (Lightning's CSV logger writes training
        and validation values on separate rows) the last value wins. Without
        an ``epoch`` column the row number is used.

    Returns
    -------
    dict of str to (epochs, values)
        One entry per column that holds at least one number.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file has no loss or accuracy column with numbers in it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "history.csv"
    >>> _ = path.write_text("epoch,train_loss,val_loss\n0,1.0,\n0,,1.2\n1,0.5,0.9\n")
    >>> h = read_history_csv(path)
    >>> h["val_loss"][0].tolist(), h["val_loss"][1].tolist()
    ([0.0, 1.0], [1.2, 0.9])
    """
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        columns = [f for f in fields if f != "epoch" and ("loss" in f or "acc" in f)]
        values: dict[str, dict[float, float]] = {f: {} for f in columns}
        for i, row in enumerate(reader):
            epoch = _to_float(row.get("epoch")) if "epoch" in fields else float(i)
            if epoch is None:
                continue
            for f in columns:
                v = _to_float(row.get(f))
                if v is not None:
                    values[f][epoch] = v
    curves = {
        f: (np.array(sorted(v)), np.array([v[e] for e in sorted(v)]))
        for f, v in values.items()
        if v
    }
    if not curves:
        raise ValueError(
            f"{path} has no loss or accuracy column with numbers; found columns "
            f"{fields}, expected some of {list(_HISTORY_COLUMNS)}"
        )
    return curves


def _to_float(text: str | None) -> float | None:
    """Parse a CSV cell; None for an empty or non-numeric one."""
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _training_summary(
    history: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> dict[str, Any]:
    """Return the final value of every curve and the epoch of the lowest val_loss."""
    summary: dict[str, Any] = {
        "final": {k: float(v[-1]) for k, (_, v) in history.items()},
        "n_epochs": int(max(len(e) for e, _ in history.values())),
    }
    if "val_loss" in history:
        epochs, values = history["val_loss"]
        best = int(np.argmin(values))
        summary["best_epoch"] = float(epochs[best])
        summary["best_val_loss"] = float(values[best])
    return summary


# --------------------------------------------------------------------------
# text summary


def _fmt(value: Any, digits: int = 3, *, percent: bool = False) -> str:
    """Format a number for a table; 'n/a' for undefined values."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    if isinstance(value, int | np.integer) and not percent:
        return f"{value:,}"
    if percent:
        return f"{100 * float(value):.{max(digits - 2, 1)}f} %"
    return f"{float(value):.{digits}f}"


_HEADLINE_LABELS = {
    "accuracy": ("Accuracy", False, "higher is better"),
    "balanced_accuracy": ("Balanced accuracy", False, "mean recall over classes"),
    "macro_f1": ("Macro F1", False, "higher is better"),
    "log_loss": (
        "Log-loss (flat-weighted)",
        False,
        "seed 003 eq. 3.20; lower is better",
    ),
    "roc_auc_micro": ("ROC AUC (micro)", False, "all object-class pairs"),
    "roc_auc_macro": ("ROC AUC (macro)", False, "mean over classes"),
    "ece": ("Calibration error (ECE)", False, "0 = probabilities are honest"),
    "snia_purity": ("SNIa purity", False, "precision of the Ia sample"),
    "cc_contamination": (
        "Core-collapse contamination",
        True,
        "Ibc + II among predicted Ia",
    ),
    "mse": ("MSE", False, "mean squared error"),
    "mae": ("MAE", False, "mean absolute error"),
    "rmse": ("RMSE", False, "root mean squared error"),
    "bias": ("Bias", False, "mean of z_pred - z_true"),
    "nmad": ("NMAD", False, "robust scatter of dz / (1 + z)"),
    "outlier_fraction": ("Outlier fraction", True, "|dz| / (1 + z) > threshold"),
}


def _headline_items(metrics: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(label, formatted value, hint) for every headline number."""
    items = []
    for key, value in metrics.get("headline", {}).items():
        if key in _HEADLINE_LABELS:
            label, percent, hint = _HEADLINE_LABELS[key]
        elif key.endswith("_roc_auc"):
            group = key[: -len("_roc_auc")]
            label, percent, hint = f"{group} vs non-{group} AUC", False, "binary view"
        else:
            label, percent, hint = key, False, ""
        items.append(
            (
                label,
                _fmt(value, 4 if key in {"mse", "bias"} else 3, percent=percent),
                hint,
            )
        )
    return items


def format_summary_table(metrics: Mapping[str, Any]) -> str:
    """Format the result of ``evaluate_classification`` / ``evaluate_regression`` for a terminal.

    Parameters
    ----------
    metrics : mapping
        The dictionary returned by
        :func:`~skysift.evaluation.metrics.evaluate_classification` or
        :func:`~skysift.evaluation.metrics.evaluate_regression` (or read back
        from ``metrics.json``).

    Returns
    -------
    str
        Headline numbers, then for classification a per-class table and the
        confidence-cut ladder, then any notes; no trailing newline.

    Examples
    --------
    >>> from skysift.evaluation.metrics import evaluate_regression
    >>> print(format_summary_table(evaluate_regression([0.5, 1.0], [0.5, 1.1])))
    regression: 2 objects
      MSE                          0.0050
      MAE                          0.050
      RMSE                         0.071
      Bias                         0.0500
      NMAD                         0.037
      Outlier fraction             0.0 %
    """
    lines = []
    if metrics.get("task") == "classification":
        lines.append(
            f"classification: {metrics['n_samples']:,} objects, "
            f"{metrics['n_classes']} classes"
        )
    else:
        lines.append(
            f"{metrics.get('task', 'evaluation')}: {metrics['n_samples']:,} objects"
        )
    for label, value, _ in _headline_items(metrics):
        lines.append(f"  {label:<28} {value}")
    if metrics.get("task") == "classification":
        width = max(9, *(len(r["name"]) for r in metrics["per_class"]))
        lines.append("")
        lines.append(
            f"  {'class':<{width}}  {'precision':>9}  {'recall':>7}  {'F1':>6}  "
            f"{'support':>8}  {'ROC AUC':>7}"
        )
        for r in metrics["per_class"]:
            lines.append(
                f"  {r['name']:<{width}}  {_fmt(r['precision']):>9}  "
                f"{_fmt(r['recall']):>7}  {_fmt(r['f1']):>6}  "
                f"{_fmt(r['support'], 1):>8}  {_fmt(r['roc_auc']):>7}"
            )
        lines.append("")
        lines.append(f"  {'cut':<12}  {'kept':>8}  {'accuracy':>8}  {'macro F1':>8}")
        for r in metrics["confidence"]["cuts"]:
            lines.append(
                f"  {r['cut']:<12.10g}  {_fmt(r['fraction_kept'], 3, percent=True):>8}  "
                f"{_fmt(r['accuracy']):>8}  {_fmt(r['macro_f1']):>8}"
            )
    for note in metrics.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# HTML


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1250px; padding: 1.5em 2em; color: #1d232a;
       background: #fafbfc; }
h1 { margin-bottom: 0.1em; }
.meta { color: #5b6570; margin-top: 0; }
h2 { border-bottom: 2px solid #d9dee3; padding-bottom: 0.2em; margin-top: 2em; }
h3 { margin-bottom: 0.3em; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8em; margin: 1em 0; }
.card { background: white; border: 1px solid #d9dee3; border-radius: 8px;
        padding: 0.7em 1.1em; min-width: 150px; }
.card .value { font-size: 1.8em; font-weight: 600; }
.card .label { font-weight: 600; color: #2d3a46; }
.card .hint { font-size: 0.8em; color: #6b7580; }
.notes { background: #fff8e1; border: 1px solid #f0d77b; border-radius: 6px;
         padding: 0.5em 1.2em; }
.pair { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start;
        margin: 1em 0; }
.pair figure { margin: 0; flex: 0 1 auto; }
.pair img { max-width: 100%; height: auto; border: 1px solid #e3e7eb;
            background: white; }
.side { flex: 1 1 300px; min-width: 280px; }
table { border-collapse: collapse; font-size: 0.9em; background: white; }
th, td { padding: 0.25em 0.6em; border-bottom: 1px solid #e3e7eb; text-align: right; }
th { background: #eef1f4; }
td:first-child, th:first-child { text-align: left; }
pre { background: #f0f2f4; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
figcaption { font-size: 0.85em; color: #5b6570; max-width: 700px; }
footer { margin-top: 3em; font-size: 0.8em; color: #8a939c; }
"""


def _png(fig: Figure, dpi: int = 100) -> str:
    """Encode a figure as a base64 PNG data URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode(
        "ascii"
    )


def _figure(fig: Figure, caption: str, alt: str) -> str:
    """Return an HTML <figure> with the embedded image."""
    return (
        f'<figure><img src="{_png(fig)}" alt="{html.escape(alt)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return a plain HTML table; cells are escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pair(figure_html: str, side_html: str = "") -> str:
    """Return a figure with its numbers beside it."""
    return f'<div class="pair">{figure_html}<div class="side">{side_html}</div></div>'


def _cards(metrics: Mapping[str, Any]) -> str:
    """Return the headline numbers as cards."""
    cards = "".join(
        f'<div class="card"><div class="label">{html.escape(label)}</div>'
        f'<div class="value">{html.escape(value)}</div>'
        f'<div class="hint">{html.escape(hint)}</div></div>'
        for label, value, hint in _headline_items(metrics)
    )
    return f'<section class="cards">{cards}</section>'


def _cut_rows(rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Table rows of a confidence-cut ladder."""
    return [
        [
            f"{r['cut']:.10g}",
            f"{r['n_kept']:,}",
            _fmt(r["fraction_kept"], 3, percent=True),
            _fmt(r["accuracy"]),
            _fmt(r["macro_f1"]),
        ]
        for r in rows
    ]


def _classification_sections(
    metrics: Mapping[str, Any],
    y: np.ndarray,
    p: np.ndarray,
    names: list[str],
    binary_groups: Mapping[str, Sequence[str]] | None,
) -> list[str]:
    """HTML sections of a classification report."""
    out = []
    ladder = [r["cut"] for r in metrics["confidence"]["cuts"]]
    per_class = metrics["per_class"]
    table = _table(
        ["class", "precision", "recall", "F1", "support", "ROC AUC", "avg. precision"],
        [
            [
                r["name"],
                _fmt(r["precision"]),
                _fmt(r["recall"]),
                _fmt(r["f1"]),
                _fmt(r["support"], 1),
                _fmt(r["roc_auc"]),
                _fmt(r["average_precision"]),
            ]
            for r in per_class
        ],
    )
    out.append("<h2>Per-class scores</h2>")
    out.append(
        _pair(
            _figure(
                plots.plot_per_class_scores(per_class),
                "Precision (purity), recall and F1 of each class.",
                "per-class scores",
            ),
            table,
        )
    )

    cm = metrics["confusion_matrix"]
    out.append("<h2>Confusion matrices</h2>")
    out.append(
        _pair(
            _figure(
                plots.plot_confusion_matrix(cm["counts"], names, title="Counts"),
                "Rows: true class; columns: predicted class.",
                "confusion matrix",
            ),
            _figure(
                plots.plot_confusion_matrix(
                    np.array(cm["normalized_by_true"], dtype=float),
                    names,
                    normalized=True,
                    title="Normalised by true class",
                ),
                "Each row sums to 100 %: the diagonal is the recall of each class.",
                "normalised confusion matrix",
            ),
        )
    )

    roc, ap = metrics["roc_auc"], metrics["average_precision"]
    out.append("<h2>ROC and precision-recall curves</h2>")
    out.append(
        _pair(
            _figure(
                plots.plot_roc_curves(y, p, names),
                "One-vs-rest ROC curve of each class; dashed: micro average, "
                "dotted: macro average.",
                "ROC curves",
            ),
            _table(
                ["average", "ROC AUC", "avg. precision"],
                [
                    ["micro", _fmt(roc["micro"]), _fmt(ap["micro"])],
                    ["macro", _fmt(roc["macro"]), _fmt(ap["macro"])],
                ],
            ),
        )
    )
    out.append(
        _pair(
            _figure(
                plots.plot_pr_curves(y, p, names),
                "One-vs-rest precision-recall curve of each class; dashed: micro "
                "average.",
                "precision-recall curves",
            ),
            _table(
                ["class", "avg. precision", "support"],
                [
                    [r["name"], _fmt(r["average_precision"]), _fmt(r["support"], 1)]
                    for r in per_class
                ]
                + [["micro", _fmt(ap["micro"]), ""], ["macro", _fmt(ap["macro"]), ""]],
            ),
        )
    )

    conf = metrics["confidence"]
    out.append("<h2>Confidence cuts</h2>")
    out.append(
        _pair(
            _figure(
                plots.plot_confidence_histogram(y, p, ladder),
                "Maximum class probability of each object, correct (green) and wrong "
                "(red). Right: the same near 1, on a 'number of nines' axis.",
                "confidence histogram",
            ),
            "<p>Objects are kept when their maximum probability is at least the cut.</p>"
            + _table(
                ["cut", "kept", "kept %", "accuracy", "macro F1"],
                _cut_rows(conf["cuts"]),
            ),
        )
    )
    out.append(
        _pair(
            _figure(
                plots.plot_coverage_accuracy(y, p, ladder),
                "Accuracy on the most confident objects against the fraction kept; "
                "dots mark the cuts.",
                "coverage against accuracy",
            ),
            _figure(
                plots.plot_confusion_matrix(
                    conf["matrix_at_cut"],
                    names,
                    title=f"Max probability >= {conf['matrix_cut']:.10g} "
                    f"({conf['n_kept_at_matrix_cut']:,} objects)",
                ),
                "Confusion matrix of the objects kept by the cut.",
                "confusion matrix above the cut",
            ),
        )
    )

    sn = metrics.get("supernova")
    if sn:
        out.append("<h2>Supernova sample</h2>")
        rows = [
            ["SNIa classes", ", ".join(sn["ia_classes"])],
            ["SNIa purity", _fmt(sn["snia_purity"])],
        ]
        if "cc_contamination" in sn:
            rows += [
                ["core-collapse classes", ", ".join(sn["cc_classes"])],
                [
                    "core-collapse contamination",
                    _fmt(sn["cc_contamination"], 3, percent=True),
                ],
            ]
        out.append(
            "<p>Among the objects classified as SNIa: the fraction that are SNIa "
            "(purity) and the fraction that are core-collapse supernovae "
            "(contamination).</p>" + _table(["quantity", "value"], rows)
        )

    for group, entry in (metrics.get("binary") or {}).items():
        members = (binary_groups or {}).get(group, entry["classes"])
        if isinstance(members, str):
            members = [members]
        yb, pb = group_probabilities(y, p, [names.index(m) for m in members])
        out.append(
            f"<h2>Binary view: {html.escape(group)} vs non-{html.escape(group)}</h2>"
        )
        summary = _table(
            ["quantity", "value"],
            [
                ["positive classes", ", ".join(entry["classes"])],
                [f"{group} objects", f"{entry['n_positive']:,}"],
                ["ROC AUC", _fmt(entry["roc_auc"])],
                ["average precision", _fmt(entry["average_precision"])],
                [f"{group} purity (p >= 0.5)", _fmt(entry["purity"])],
                [f"{group} recall (p >= 0.5)", _fmt(entry["recall"])],
                ["accuracy", _fmt(entry["accuracy"])],
            ],
        )
        ladder_table = _table(
            ["cut", "kept", "kept %", "accuracy", "macro F1"], _cut_rows(entry["cuts"])
        )
        out.append(
            _pair(
                _figure(
                    plots.plot_binary_roc(yb, pb[:, 1], positive=group, cuts=ladder),
                    f"Probability of {group} = sum of its classes' probabilities; "
                    "dots mark thresholds on it.",
                    f"{group} ROC",
                ),
                summary + "<h3>Confidence cuts</h3>" + ladder_table,
            )
        )

    cal = metrics["calibration"]
    filled = [b for b in cal["bins"] if b["weight"]]
    out.append("<h2>Calibration</h2>")
    out.append(
        _pair(
            _figure(
                plots.plot_reliability_diagram(y, p, n_bins=cal["n_bins"]),
                "Accuracy of the objects in each confidence bin; bars on the diagonal "
                "mean a probability can be taken at face value.",
                "reliability diagram",
            ),
            f"<p>Expected calibration error: <b>{_fmt(cal['ece'])}</b> "
            f"({cal['n_bins']} equal-width bins).</p>"
            + _table(
                ["bin", "objects", "confidence", "accuracy"],
                [
                    [
                        f"{b['low']:.2f}-{b['high']:.2f}",
                        _fmt(b["weight"], 1),
                        _fmt(b["confidence"]),
                        _fmt(b["accuracy"]),
                    ]
                    for b in filled
                ],
            ),
        )
    )
    return out


def _regression_sections(
    metrics: Mapping[str, Any], t: np.ndarray, z: np.ndarray, threshold: float
) -> list[str]:
    """HTML sections of a regression report."""
    h = metrics["headline"]
    rows = [[key, _fmt(h[key], 4)] for key in ("mse", "mae", "rmse", "bias", "nmad")]
    rows.append(["outlier fraction", _fmt(h["outlier_fraction"], 3, percent=True)])
    return [
        "<h2>Predicted against true</h2>",
        _pair(
            _figure(
                plots.plot_regression(t, z, outlier_threshold=threshold),
                "Left: each object; dashed red lines are the outlier bounds. "
                "Right: normalised residuals.",
                "regression",
            ),
            _table(["quantity", "value"], rows)
            + f"<p>Outlier: {html.escape(metrics['outlier_definition'])}.</p>",
        ),
    ]


def write_report(
    out_dir: str | os.PathLike[str],
    *,
    y_true: Any,
    y_prob: Any = None,
    y_pred: Any = None,
    class_names: Sequence[str] | None = None,
    task: str = "classification",
    history_csv: str | os.PathLike[str] | None = None,
    title: str = "skysift evaluation report",
    config: Mapping[str, Any] | None = None,
    cuts: Sequence[float] | None = None,
    binary_groups: Mapping[str, Sequence[str]] | None = None,
    extra_figures: Mapping[str, Figure] | None = None,
    matrix_cut: float | None = None,
    outlier_threshold: float = 0.15,
) -> Path:
    """Write ``report.html`` and ``metrics.json`` for one evaluated model.

    Parameters
    ----------
    out_dir : str or path-like
        Directory to write into (created if missing).
    y_true : array-like of shape (N,)
        True class indices (classification) or true values (regression).
    y_prob : array-like of shape (N, C), optional
        Class probabilities; required for classification.
    y_pred : array-like of shape (N,), optional
        Predicted values; required for regression.
    class_names : sequence of str, optional
        C class names; ``"class 0"``, ``"class 1"``, ... when omitted.
    task : {"classification", "regression"}, default "classification"
        Which report to write.
    history_csv : str or path-like, optional
        Training history (see :func:`read_history_csv`); adds training curves.
    title : str, default "skysift evaluation report"
        Page title.
    config : mapping, optional
        Run configuration, shown at the end of the page as JSON.
    cuts : sequence of float, optional
        Extra confidence cuts besides the default ladder.
    binary_groups : mapping of str to sequence of str, optional
        Binary views, e.g. ``{"Ia": ["SNIa", "SNIa-91bg"]}``.
    extra_figures : mapping of str to Figure, optional
        More figures (e.g. class activation maps) appended under their
        captions.
    matrix_cut : float, optional
        Cut of the "confusion matrix above a cut" (see
        :func:`~skysift.evaluation.metrics.evaluate_classification`).
    outlier_threshold : float, default 0.15
        Regression outlier threshold on ``|dz| / (1 + z)``.

    Returns
    -------
    pathlib.Path
        Path of ``report.html``.

    Raises
    ------
    ValueError
        For an unknown ``task``, a missing ``y_prob`` / ``y_pred``, or invalid
        inputs (see the ``evaluate_*`` functions).

    Examples
    --------
    A classification report takes ``y_prob`` and ``class_names``; this
    regression report is the quickest to draw:

    >>> import json, tempfile
    >>> out = tempfile.mkdtemp()
    >>> path = write_report(out, y_true=[0.5, 1.0, 2.0, 2.5], y_pred=[0.6, 1.0, 2.9, 2.4],
    ...                     task="regression", title="QSO redshifts")
    >>> path.name, "<img" in path.read_text()
    ('report.html', True)
    >>> json.loads((path.parent / "metrics.json").read_text())["headline"]["mae"]
    0.275
    """
    out = Path(out_dir)
    extra_figures = dict(extra_figures or {})
    if task == "classification":
        if y_prob is None:
            raise ValueError("a classification report needs y_prob of shape (N, C)")
        y, p, _ = check_classification_inputs(y_true, y_prob)
        names = (
            [f"class {k}" for k in range(p.shape[1])]
            if class_names is None
            else [str(n) for n in class_names]
        )
        metrics = evaluate_classification(
            y, p, names, cuts=cuts, binary_groups=binary_groups, matrix_cut=matrix_cut
        )
        sections = _classification_sections(metrics, y, p, names, binary_groups)
        subtitle = f"{metrics['n_samples']:,} objects, {metrics['n_classes']} classes"
    elif task == "regression":
        if y_pred is None:
            raise ValueError("a regression report needs y_pred of shape (N,)")
        metrics = evaluate_regression(
            y_true, y_pred, outlier_threshold=outlier_threshold
        )
        t = np.asarray(y_true, dtype=np.float64).ravel()
        z = np.asarray(y_pred, dtype=np.float64).ravel()
        sections = _regression_sections(metrics, t, z, outlier_threshold)
        subtitle = f"{metrics['n_samples']:,} objects, regression"
    else:
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")

    if history_csv is not None:
        history = read_history_csv(history_csv)
        metrics["training"] = _training_summary(history)
        tr = metrics["training"]
        rows = [[f"final {k}", _fmt(v, 4)] for k, v in tr["final"].items()]
        if "best_epoch" in tr:
            rows.insert(
                0,
                [
                    "lowest val_loss",
                    f"{tr['best_val_loss']:.4f} (epoch {tr['best_epoch']:g})",
                ],
            )
        sections.append("<h2>Training curves</h2>")
        sections.append(
            _pair(
                _figure(
                    plots.plot_training_curves(history),
                    "Per-epoch training (solid) and validation (dashed) curves.",
                    "training curves",
                ),
                _table(["quantity", "value"], [["epochs", str(tr["n_epochs"])], *rows]),
            )
        )

    if extra_figures:
        sections.append("<h2>More figures</h2>")
        for caption, fig in extra_figures.items():
            sections.append(_pair(_figure(fig, caption, caption)))

    if config:
        sections.append(
            "<h2>Configuration</h2><pre>"
            + html.escape(json.dumps(config, indent=2, sort_keys=True, default=str))
            + "</pre>"
        )

    notes = metrics.get("notes") or []
    notes_html = (
        '<section class="notes"><b>Notes</b><ul>'
        + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        + "</ul></section>"
        if notes
        else ""
    )
    from skysift import __version__

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{html.escape(title)}</h1><p class="meta">{html.escape(subtitle)}</p>'
        + _cards(metrics)
        + notes_html
        + "".join(sections)
        + f"<footer>Written by skysift {html.escape(__version__)} on {now}. "
        "Numbers are also in metrics.json.</footer></body></html>\n"
    )

    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(
        out / "metrics.json", json.dumps(metrics, indent=2, allow_nan=False) + "\n"
    )
    report = out / "report.html"
    _write_atomic(report, page)
    return report


def _write_atomic(path: Path, text: str) -> None:
    """Write text to a temporary file and rename it, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
