"""Paired bootstrap of a metric difference, and comparing runs on one test set."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from skysift.cli.main import main
from skysift.evaluation.evaluate import compare_runs, write_test_predictions
from skysift.evaluation.metrics import (
    accuracy_score,
    paired_bootstrap,
    weighted_log_loss,
)
from skysift.exceptions import DataFormatError


def _probs(rng, y, sharpness):
    """Probabilities that put ``sharpness`` on the true class (plus noise)."""
    p = rng.uniform(0.0, 1.0, (y.size, 3))
    p[np.arange(y.size), y] += sharpness
    return p / p.sum(1, keepdims=True)


def test_bootstrap_weights_are_resampled_rows():
    # one resample as multinomial weights scores like the rows drawn with replacement
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    p = _probs(rng, y, 1.0)
    idx = rng.integers(0, 300, 300)
    w = np.bincount(idx, minlength=300).astype(float)
    assert accuracy_score(y, p, sample_weight=w) == pytest.approx(
        skm.accuracy_score(y[idx], p[idx].argmax(1)))
    assert weighted_log_loss(y, p, sample_weight=w) == pytest.approx(
        weighted_log_loss(y[idx], p[idx]), rel=1e-12)


def test_interval_separates_a_better_model_and_not_a_copy():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 600)
    good, poor = _probs(rng, y, 2.0), _probs(rng, y, 0.3)
    r = paired_bootstrap(weighted_log_loss, y, good, poor, n_boot=300)
    assert r["a"] == pytest.approx(weighted_log_loss(y, good))
    assert r["difference"] == pytest.approx(r["a"] - r["b"])
    assert r["low"] < r["difference"] < r["high"] < 0 and r["p_not_below"] == 0.0
    same = paired_bootstrap(weighted_log_loss, y, good, good.copy(), n_boot=50)
    assert same["difference"] == same["low"] == same["high"] == 0.0
    # a near-copy: the interval straddles 0
    jitter = good * rng.uniform(0.99, 1.01, good.shape)
    near = paired_bootstrap(weighted_log_loss, y, jitter / jitter.sum(1, keepdims=True), good,
                            n_boot=300)
    assert near["low"] < 0 < near["high"]
    with pytest.raises(ValueError, match="prob_a has shape"):
        paired_bootstrap(weighted_log_loss, y, np.hstack([good, np.zeros((600, 1))]), good)


def _run(tmp_path, name, ids, y, prob, classes=("a", "b", "c")):
    run = tmp_path / name
    run.mkdir()
    order = np.random.default_rng(len(name)).permutation(len(ids))  # files need not be sorted
    write_test_predictions(run / "test_predictions.parquet", np.asarray(ids)[order], prob[order],
                           y[order], class_names=list(classes))
    return run


def test_compare_runs_and_the_command(tmp_path, capsys):
    rng = np.random.default_rng(3)
    ids = [f"o{i:03d}" for i in range(500)]
    y = rng.integers(0, 3, 500)
    good, poor = _probs(rng, y, 2.0), _probs(rng, y, 0.3)
    a, b = _run(tmp_path, "a", ids, y, poor), _run(tmp_path, "bb", ids, y, good)
    rows = compare_runs([a, b], n_boot=200)
    assert rows[0]["value"] == pytest.approx(weighted_log_loss(y, poor))
    assert rows[1]["value"] == pytest.approx(weighted_log_loss(y, good))
    assert rows[1]["high"] < 0  # b is better than the reference a
    code = main(["compare", str(a), str(b), "--n-boot", "200"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"{b}: better than {a} beyond the resampling noise" in out
    code = main(["compare", str(a), str(b), "--metric", "accuracy", "--n-boot", "200", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert rows[1]["value"] == pytest.approx(skm.accuracy_score(y, good.argmax(1)))
    assert rows[1]["low"] > 0  # higher accuracy


def test_runs_on_other_objects_or_tasks_are_refused(tmp_path, capsys):
    rng = np.random.default_rng(4)
    ids = [f"o{i}" for i in range(50)]
    y = rng.integers(0, 3, 50)
    p = _probs(rng, y, 1.0)
    a = _run(tmp_path, "a", ids, y, p)
    fewer = _run(tmp_path, "fewer", ids[:40], y[:40], p[:40])
    with pytest.raises(DataFormatError, match=r"fewer/test_predictions.parquet: predicted other objects"):
        compare_runs([a, fewer])
    other = _run(tmp_path, "other", ids, y, p, classes=("a", "b", "x"))
    with pytest.raises(DataFormatError, match=r"classes \['a', 'b', 'x'\], not classes \['a', 'b', 'c'\]"):
        compare_runs([a, other])
    reg = tmp_path / "reg"
    reg.mkdir()
    pd.DataFrame({"object_id": ids, "true_redshift": 0.1, "pred_redshift": 0.2}).to_parquet(
        reg / "test_predictions.parquet")
    code = main(["compare", str(a), str(reg)])
    assert code == 1 and "not a classifier's test predictions" in capsys.readouterr().err
    with pytest.raises(ValueError, match="at least two runs"):
        compare_runs([a])


def test_average_of_regressors_and_a_mixed_pair_is_refused(tmp_path):
    from skysift.evaluation.evaluate import average_test_predictions

    ids = np.array([f"o{i}" for i in range(10)])
    z = np.linspace(0.1, 1.0, 10)
    runs = []
    for name, shift in (("r1", 0.02), ("r2", -0.04)):
        (tmp_path / name).mkdir()
        pd.DataFrame({"object_id": ids, "true_redshift": z, "pred_redshift": z + shift}) \
            .to_parquet(tmp_path / name / "test_predictions.parquet")
        runs.append(tmp_path / name)
    mean = average_test_predictions(runs, tmp_path / "mean.parquet")
    np.testing.assert_allclose(mean["pred"], z - 0.01)
    back = pd.read_parquet(tmp_path / "mean.parquet")
    assert list(back.columns) == ["object_id", "true_redshift", "pred_redshift"]
    np.testing.assert_allclose(back["pred_redshift"], z - 0.01)
    rng = np.random.default_rng(1)
    cls = _run(tmp_path, "cls", ids, rng.integers(0, 3, 10), rng.dirichlet(np.ones(3), 10))
    with pytest.raises(DataFormatError, match=r"classes \['a', 'b', 'c'\], not target redshift"):
        average_test_predictions([runs[0], cls], tmp_path / "mixed.parquet")
