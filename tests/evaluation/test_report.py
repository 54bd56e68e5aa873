"""The HTML report, metrics.json, the terminal summary and the figures."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser

import numpy as np
import pytest
from matplotlib.figure import Figure

from skysift.evaluation import (
    evaluate_classification,
    evaluate_regression,
    format_summary_table,
    plots,
    read_history_csv,
    write_report,
)

NAMES = ["SNIa", "SNIbc", "SNII", "SNIa-91bg"]


class _Page(HTMLParser):
    """Collect images, headings and text of a page; fail on unbalanced tags."""

    def __init__(self):
        super().__init__()
        self.images, self.headings, self.text, self.stack = [], [], [], []
        self._in_heading = False

    def handle_starttag(self, tag, attrs):
        if tag not in {"img", "meta", "br"}:
            self.stack.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))
        self._in_heading = tag in {"h1", "h2", "h3"}

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}>"
        self.stack.pop()
        self._in_heading = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_heading:
            self.headings.append(data)


def _parse(path):
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    assert page.stack == [], f"unclosed tags {page.stack}"
    return page


@pytest.fixture
def run(tmp_path):
    rng = np.random.default_rng(3)
    n = 150
    y = rng.integers(0, 4, n)
    logits = rng.normal(size=(n, 4))
    logits[np.arange(n), y] += 2.0
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    history = tmp_path / "history.csv"
    # Lightning-style: training and validation values on separate rows.
    lines = ["epoch,step,train_loss,val_loss,train_acc,val_acc"]
    for e in range(4):
        lines.append(f"{e},{10 * e},{1 / (e + 1)},,{0.5 + 0.1 * e},")
        lines.append(f"{e},{10 * e},,{1.2 / (e + 1)},,{0.4 + 0.1 * e}")
    history.write_text("\n".join(lines) + "\n")
    return y, p, history


def test_classification_report_has_every_figure_and_the_headline(run, tmp_path):
    y, p, history = run
    extra = Figure()
    extra.add_subplot().plot([0, 1])
    path = write_report(
        tmp_path / "out",
        y_true=y,
        y_prob=p,
        class_names=NAMES,
        history_csv=history,
        title="Tiny run",
        config={"model": "t2", "lr": 0.001},
        binary_groups={"Ia": ["SNIa", "SNIa-91bg"]},
        extra_figures={"class activation map": extra},
    )
    assert path == tmp_path / "out" / "report.html"
    page = _parse(path)
    assert [img["alt"] for img in page.images] == [
        "per-class scores",
        "confusion matrix",
        "normalised confusion matrix",
        "ROC curves",
        "precision-recall curves",
        "confidence histogram",
        "coverage against accuracy",
        "confusion matrix above the cut",
        "Ia ROC",
        "reliability diagram",
        "training curves",
        "class activation map",
    ]
    for img in page.images:
        assert img["src"].startswith("data:image/png;base64,")
        png = base64.b64decode(img["src"].split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    html_text = path.read_text()
    assert "http" not in html_text.replace("http-equiv", "")  # self-contained
    metrics = json.loads((path.parent / "metrics.json").read_text())
    assert metrics == evaluate_classification(
        y, p, NAMES, binary_groups={"Ia": ["SNIa", "SNIa-91bg"]}
    ) | {"training": metrics["training"]}
    text = " ".join(page.text)
    assert f"{metrics['headline']['accuracy']:.3f}" in text
    assert f"{metrics['headline']['log_loss']:.3f}" in text
    assert "SNIa purity" in text and "Core-collapse contamination" in text
    assert "0.99999997" in text
    for heading in (
        "Confusion matrices",
        "Calibration",
        "Training curves",
        "Binary view: Ia vs non-Ia",
        "Configuration",
    ):
        assert heading in page.headings
    # The headline cards come before the first figure.
    assert html_text.index("Accuracy") < html_text.index("<img")
    assert metrics["training"]["best_epoch"] == 3.0
    assert metrics["training"]["final"]["val_acc"] == pytest.approx(0.7)


def test_regression_report(tmp_path):
    rng = np.random.default_rng(0)
    z = rng.uniform(0, 3, 100)
    zp = z + rng.normal(0, 0.05, 100)
    history = tmp_path / "h.csv"
    history.write_text("epoch,train_loss,val_loss\n0,1.0,1.1\n1,0.5,0.7\n")
    path = write_report(
        tmp_path, y_true=z, y_pred=zp, task="regression", history_csv=history
    )
    page = _parse(path)
    assert len(page.images) == 2
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["headline"] == evaluate_regression(z, zp)["headline"]
    assert f"{metrics['headline']['mae']:.3f}" in " ".join(page.text)


def test_write_report_rejects_bad_calls(tmp_path, run):
    y, p, _ = run
    with pytest.raises(ValueError, match="task must be"):
        write_report(tmp_path, y_true=y, y_prob=p, task="ranking")
    with pytest.raises(ValueError, match="needs y_prob"):
        write_report(tmp_path, y_true=y)
    with pytest.raises(ValueError, match="needs y_pred"):
        write_report(tmp_path, y_true=y, task="regression")
    bad = p.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        write_report(tmp_path, y_true=y, y_prob=bad)
    assert not (tmp_path / "report.html").exists()


def test_read_history_csv_handles_missing_columns(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("epoch,train_loss,val_loss,lr\n0,1.0,,0.1\n1,0.8,0.9,0.1\n")
    h = read_history_csv(path)
    assert set(h) == {"train_loss", "val_loss"}  # lr is not a curve we draw
    np.testing.assert_array_equal(h["val_loss"][0], [1.0])
    path.write_text("epoch,lr\n0,0.1\n")
    with pytest.raises(ValueError, match="no loss or accuracy column"):
        read_history_csv(path)


def test_summary_table(run):
    y, p, _ = run
    m = evaluate_classification(y, p, NAMES)
    text = format_summary_table(m)
    assert text.splitlines()[0] == "classification: 150 objects, 4 classes"
    assert f"{m['headline']['accuracy']:.3f}" in text
    for name in NAMES:
        assert name in text
    assert "0.99999997" in text
    round_trip = format_summary_table(json.loads(json.dumps(m)))
    assert round_trip == text


def test_figures_are_legible_sizes_and_cope_with_many_classes():
    rng = np.random.default_rng(1)
    c = 24
    y = rng.integers(0, c, 300)
    p = rng.dirichlet(np.ones(c), 300)
    names = [f"class-{k}" for k in range(c)]
    for fig in (
        plots.plot_roc_curves(y, p, names),
        plots.plot_pr_curves(y, p, names),
        plots.plot_confusion_matrix(np.ones((c, c)), names),
    ):
        width, height = fig.get_size_inches()
        assert 4 <= width <= 14 and 3 <= height <= 13
    with pytest.raises(ValueError, match="shape"):
        plots.plot_confusion_matrix(np.ones((3, 3)), ["a", "b"])
