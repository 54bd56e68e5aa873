"""Metrics against scikit-learn and against hand computations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from skysift.evaluation import (
    DEFAULT_CUTS,
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    binary_pr_curve,
    binary_roc_curve,
    confidence_cut_table,
    confusion_matrix,
    contamination_loss,
    coverage_accuracy_curve,
    coverage_at_cut,
    evaluate_classification,
    evaluate_regression,
    expected_calibration_loss,
    f1_score,
    group_probabilities,
    match_supernova_classes,
    per_class_scores,
    purity_score,
    reliability_curve,
    roc_auc_score,
    weighted_log_loss,
)

C = 5


@pytest.fixture(params=[0, 1, 2])
def random_predictions(request):
    """Random labels and somewhat informative probabilities, with weights."""
    rng = np.random.default_rng(request.param)
    n = 400
    y = rng.integers(0, C, n)
    logits = rng.normal(size=(n, C))
    logits[np.arange(n), y] += rng.uniform(0, 2.5, n)
    # Round the logits so that some probabilities tie (exercises tie handling).
    logits = np.round(logits, 1)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    w = rng.uniform(0.2, 3.0, n)
    return y, p, w


@pytest.mark.parametrize("weighted", [False, True])
def test_label_metrics_match_sklearn(random_predictions, weighted):
    y, p, w = random_predictions
    sw = w if weighted else None
    pred = p.argmax(axis=1)
    assert accuracy_score(y, p, sample_weight=sw) == pytest.approx(
        skm.accuracy_score(y, pred, sample_weight=sw)
    )
    assert balanced_accuracy_score(y, p, sample_weight=sw) == pytest.approx(
        skm.balanced_accuracy_score(y, pred, sample_weight=sw)
    )
    ref = skm.precision_recall_fscore_support(
        y, pred, labels=range(C), sample_weight=sw, zero_division=0
    )
    ours = per_class_scores(y, p, sample_weight=sw)
    for key, expected in zip(
        ("precision", "recall", "f1", "support"), ref, strict=True
    ):
        np.testing.assert_allclose(ours[key], expected, rtol=1e-12, atol=1e-12)
    for average in ("macro", "weighted", "micro"):
        assert f1_score(y, p, average=average, sample_weight=sw) == pytest.approx(
            skm.f1_score(y, pred, average=average, sample_weight=sw)
        )
    np.testing.assert_allclose(
        confusion_matrix(y, p, sample_weight=sw),
        skm.confusion_matrix(y, pred, labels=range(C), sample_weight=sw),
    )
    np.testing.assert_allclose(
        confusion_matrix(y, p, normalize="true", sample_weight=sw),
        skm.confusion_matrix(
            y, pred, labels=range(C), sample_weight=sw, normalize="true"
        ),
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_ranking_metrics_match_sklearn(random_predictions, weighted):
    y, p, w = random_predictions
    sw = w if weighted else None
    onehot = np.eye(C)[y]
    assert roc_auc_score(y, p, average="macro", sample_weight=sw) == pytest.approx(
        skm.roc_auc_score(y, p, multi_class="ovr", average="macro", sample_weight=sw)
    )
    assert roc_auc_score(y, p, average="micro", sample_weight=sw) == pytest.approx(
        skm.roc_auc_score(onehot, p, average="micro", sample_weight=sw)
    )
    np.testing.assert_allclose(
        roc_auc_score(y, p, average=None, sample_weight=sw),
        skm.roc_auc_score(onehot, p, average=None, sample_weight=sw),
    )
    for average in ("macro", "micro", None):
        np.testing.assert_allclose(
            average_precision_score(y, p, average=average, sample_weight=sw),
            skm.average_precision_score(onehot, p, average=average, sample_weight=sw),
        )


def test_binary_curves_match_sklearn_with_ties():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    score = np.round(rng.uniform(size=300) + 0.3 * y, 2)  # many ties
    fpr, tpr, thr = binary_roc_curve(y, score)
    ref_fpr, ref_tpr, ref_thr = skm.roc_curve(y, score, drop_intermediate=False)
    np.testing.assert_allclose(fpr, ref_fpr)
    np.testing.assert_allclose(tpr, ref_tpr)
    np.testing.assert_allclose(thr[1:], ref_thr[1:])
    precision, recall, _ = binary_pr_curve(y, score)
    ref_p, ref_r, _ = skm.precision_recall_curve(y, score)
    # sklearn lists thresholds loosest first and appends (P=1, R=0).
    np.testing.assert_allclose(precision, ref_p[:-1][::-1])
    np.testing.assert_allclose(recall, ref_r[:-1][::-1])


def test_weighted_log_loss_by_hand():
    y = [0, 0, 1, 2, 2, 2]
    p = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.6, 0.2, 0.2],
            [0.3, 0.3, 0.4],
            [0.1, 0.1, 0.8],
            [0.2, 0.2, 0.6],
            [0.25, 0.25, 0.5],
        ]
    )
    class_means = [
        (np.log(0.8) + np.log(0.6)) / 2,
        np.log(0.3),
        (np.log(0.8) + np.log(0.6) + np.log(0.5)) / 3,
    ]
    assert weighted_log_loss(y, p) == pytest.approx(-sum(class_means) / 3)
    # eq. 3.20 with non-flat weights w_i
    w = np.array([2.0, 1.0, 0.5])
    expected = -np.dot(w, class_means) / w.sum()
    assert weighted_log_loss(y, p, class_weights=w) == pytest.approx(expected)
    # A class absent from y_true drops out of both sums.
    p4 = np.column_stack([p * 0.9, np.full(6, 0.1)])
    assert weighted_log_loss(y, p4) == pytest.approx(
        -sum(m + np.log(0.9) for m in class_means) / 3
    )


def test_flat_log_loss_equals_sklearn_with_inverse_class_frequency_weights(
    random_predictions,
):
    y, p, _ = random_predictions
    counts = np.bincount(y, minlength=C)
    ref = skm.log_loss(y, p, sample_weight=1.0 / counts[y], labels=range(C))
    assert weighted_log_loss(y, p) == pytest.approx(ref)


def test_log_loss_clips_zero_probability():
    assert weighted_log_loss([0], [[0.0, 1.0]]) == pytest.approx(-np.log(1e-15))


def test_purity_and_contamination_by_hand():
    # classes: 0 = SNIa, 1 = SNIbc, 2 = SNII, 3 = KN
    y_true = np.array([0, 0, 0, 1, 2, 3, 1, 2])
    pred = np.array([0, 0, 1, 0, 0, 0, 1, 2])
    p = np.eye(4)[pred] * 0.7 + 0.075
    # Predicted Ia: objects 0, 1, 3, 4, 5 -> 2 true Ia, 2 core-collapse, 1 KN.
    assert purity_score(y_true, p, target=0) == pytest.approx(2 / 5)
    assert contamination_loss(y_true, p, target=0, contaminants=[1, 2]) == (
        pytest.approx(2 / 5)
    )
    w = np.array([1, 1, 1, 3, 1, 1, 1, 1.0])
    assert purity_score(y_true, p, target=0, sample_weight=w) == pytest.approx(2 / 7)
    assert contamination_loss(
        y_true, p, target=0, contaminants=[1, 2], sample_weight=w
    ) == pytest.approx(4 / 7)
    # Nothing predicted as KN: purity undefined, not zero.
    assert np.isnan(purity_score(y_true, p, target=3))


def test_purity_equals_sklearn_precision(random_predictions):
    y, p, w = random_predictions
    ref = skm.precision_score(y, p.argmax(1), labels=[2], average=None, sample_weight=w)
    assert purity_score(y, p, target=2, sample_weight=w) == pytest.approx(ref[0])


def test_coverage_at_cut_and_cut_table_by_hand():
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([[0.999, 0.001], [0.6, 0.4], [0.05, 0.95], [0.0, 1.0], [0.1, 0.9]])
    assert coverage_at_cut(p, 0.9) == pytest.approx(4 / 5)  # 0.9 itself is kept
    assert coverage_at_cut(p, 0.99) == pytest.approx(2 / 5)
    assert coverage_at_cut(p, 0.99, sample_weight=[3, 1, 1, 1, 1]) == pytest.approx(
        4 / 7
    )
    rows = confidence_cut_table(y, p, [0.9, 0.99, 1.0])
    assert [r["n_kept"] for r in rows] == [4, 2, 1]
    assert rows[0]["accuracy"] == pytest.approx(3 / 4)
    assert rows[1]["accuracy"] == pytest.approx(1 / 2)
    assert rows[2]["accuracy"] == 0.0
    nothing = confidence_cut_table(y, p * 0 + 0.5, [0.9])[0]
    assert nothing["n_kept"] == 0 and np.isnan(nothing["accuracy"])


def test_cut_table_scores_match_sklearn_on_kept_objects(random_predictions):
    y, p, _ = random_predictions
    for row in confidence_cut_table(y, p, [0.5, 0.8]):
        kept = p.max(axis=1) >= row["cut"]
        assert row["n_kept"] == kept.sum()
        pred = p[kept].argmax(1)
        assert row["accuracy"] == pytest.approx(skm.accuracy_score(y[kept], pred))
        assert row["macro_f1"] == pytest.approx(
            skm.f1_score(y[kept], pred, average="macro")
        )


def test_coverage_accuracy_curve_against_brute_force(random_predictions):
    y, p, w = random_predictions
    coverage, accuracy, thresholds = coverage_accuracy_curve(y, p, sample_weight=w)
    conf = p.max(1)
    correct = p.argmax(1) == y
    for c, a, t in zip(coverage[::17], accuracy[::17], thresholds[::17], strict=True):
        kept = conf >= t
        assert c == pytest.approx(w[kept].sum() / w.sum())
        assert a == pytest.approx(np.sum(w[kept] * correct[kept]) / w[kept].sum())
    assert coverage[-1] == pytest.approx(1.0)


def test_ece_by_hand():
    # 5 bins of width 0.2; confidences 0.9, 0.85 (bin 4), 0.7 (bin 3), 0.5 (bin 2)
    y = [0, 1, 0, 1]
    p = [[0.9, 0.1], [0.85, 0.15], [0.3, 0.7], [0.5, 0.5]]
    # bin 4: conf 0.875, acc 0.5; bin 3: conf 0.7, acc 0; bin 2: conf 0.5, acc 0
    # (ties go to the first class, so object 3 is predicted 0 and wrong)
    expected = (2 * abs(0.875 - 0.5) + abs(0.7 - 0) + abs(0.5 - 0)) / 4
    assert expected_calibration_loss(y, p, n_bins=5) == pytest.approx(expected)
    r = reliability_curve(y, p, n_bins=5)
    np.testing.assert_allclose(r["weight"], [0, 0, 1, 1, 2])
    assert expected_calibration_loss([0, 1], [[1.0, 0.0], [0.0, 1.0]]) == 0.0


def test_supernova_name_matching():
    names = [
        "SN Ia",
        "SNIb/c",
        "SNII-P",
        "SNIIn",
        "SNIa-91bg",
        "SNIax",
        "SLSN-I",
        "Ic",
        "TDE",
        "ii",
    ]
    assert match_supernova_classes(names) == {
        "ia": [0],
        "ibc": [1, 7],
        "ii": [2, 3, 9],
    }


def test_group_probabilities_sums_columns():
    p = np.array([[0.5, 0.2, 0.3], [0.1, 0.1, 0.8]])
    yb, pb = group_probabilities([1, 2], p, [0, 1])
    np.testing.assert_array_equal(yb, [1, 0])
    np.testing.assert_allclose(pb, [[0.3, 0.7], [0.8, 0.2]])


def test_evaluate_classification_is_json_ready_and_consistent(random_predictions):
    y, p, _ = random_predictions
    names = ["SNIa", "SNIbc", "SNII", "SNIa-91bg", "KN"]
    m = evaluate_classification(
        y, p, names, cuts=[0.5], binary_groups={"Ia": ["SNIa", "SNIa-91bg"]}
    )
    assert json.loads(json.dumps(m, allow_nan=False)) == m
    h = m["headline"]
    pred = p.argmax(1)
    assert h["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert h["snia_purity"] == pytest.approx(purity_score(y, p, target=0))
    assert h["cc_contamination"] == pytest.approx(
        contamination_loss(y, p, target=0, contaminants=[1, 2])
    )
    assert [r["cut"] for r in m["confidence"]["cuts"]] == sorted({0.5, *DEFAULT_CUTS})
    yb = np.isin(y, [0, 3])
    assert m["binary"]["Ia"]["roc_auc"] == pytest.approx(
        skm.roc_auc_score(yb, p[:, 0] + p[:, 3])
    )
    assert m["supernova"]["cc_classes"] == ["SNIbc", "SNII"]
    assert sum(map(sum, m["confusion_matrix"]["counts"])) == len(y)


def test_absent_class_gives_null_auc_with_a_note():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50)  # class 2 never occurs
    p = rng.dirichlet([1, 1, 1], 50)
    m = evaluate_classification(y, p, ["a", "b", "c"])
    row = m["per_class"][2]
    assert row["roc_auc"] is None and row["recall"] is None
    assert row["support"] == 0
    assert any("'c'" in n or "(c)" in n for n in m["notes"])
    present = roc_auc_score(y, p, average=None)[:2]
    assert m["roc_auc"]["macro"] == pytest.approx(present.mean())
    assert m["confusion_matrix"]["normalized_by_true"][2] == [None, None, None]


@pytest.mark.parametrize(
    ("y", "p", "match"),
    [
        ([0, 1, 1], [[0.5, 0.5], [0.5, 0.5]], r"y_true has shape \(3,\).*\(2, 2\)"),
        ([0, 1], [[0.5, np.nan], [0.5, 0.5]], "NaN"),
        ([0, 1], [[0.5, np.inf], [0.5, 0.5]], "infinite"),
        ([0, 3], [[0.5, 0.5], [0.5, 0.5]], "out of range.*0..1"),
        ([0, -1], [[0.5, 0.5], [0.5, 0.5]], "out of range"),
        ([0, 1], [[2.0, -1.0], [0.5, 0.5]], "logits"),
        ([0, 1], [[0.5, 0.2], [0.5, 0.5]], "sum to 1"),
        ([0, 0.5], [[0.5, 0.5], [0.5, 0.5]], "integer"),
        ([0, 1], [0.5, 0.5], r"shape \(N, C\)"),
        ([], np.zeros((0, 2)), "empty"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(y, p, match):
    with pytest.raises(ValueError, match=match):
        evaluate_classification(y, p, ["a", "b"])
    with pytest.raises(ValueError, match=match):
        accuracy_score(y, p)


def test_bad_names_groups_and_weights():
    p = [[0.5, 0.5], [0.2, 0.8]]
    with pytest.raises(ValueError, match="3 class names but y_prob has 2 columns"):
        evaluate_classification([0, 1], p, ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"unknown class\(es\) \['z'\].*\['a', 'b'\]"):
        evaluate_classification([0, 1], p, ["a", "b"], binary_groups={"g": ["z"]})
    with pytest.raises(ValueError, match="sample_weight has shape"):
        accuracy_score([0, 1], p, sample_weight=[1.0])
    with pytest.raises(ValueError, match="cut must lie in"):
        evaluate_classification([0, 1], p, ["a", "b"], cuts=[1.5])


def test_regression_scores_match_sklearn_and_hand():
    rng = np.random.default_rng(0)
    z = rng.uniform(0, 3, 200)
    zp = z + rng.normal(0, 0.1, 200)
    zp[:10] += 2.0  # gross outliers
    m = evaluate_regression(z, zp)
    h = m["headline"]
    assert h["mse"] == pytest.approx(skm.mean_squared_error(z, zp))
    assert h["mae"] == pytest.approx(skm.mean_absolute_error(z, zp))
    assert h["outlier_fraction"] == pytest.approx(
        np.mean(np.abs(zp - z) / (1 + z) > 0.15)
    )
    assert h["outlier_fraction"] >= 10 / 200
    assert evaluate_regression([1.0], [[1.29]])["headline"]["outlier_fraction"] == 0.0
    assert evaluate_regression([1.0], [1.31])["headline"]["outlier_fraction"] == 1.0
    assert json.loads(json.dumps(m, allow_nan=False)) == m


def test_regression_bad_input():
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(2,\)"):
        evaluate_regression([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="y_pred contains 1 NaN"):
        evaluate_regression([1, 2], [1, np.nan])
    m = evaluate_regression([-2.0, 1.0], [0.0, 1.0])
    assert m["headline"]["outlier_fraction"] is None and m["notes"]
