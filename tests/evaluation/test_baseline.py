"""The GP-feature baseline: features against closed forms, learning on synthetic light curves."""

import numpy as np
import pytest

from skysift.evaluation.baseline import (
    GradientBoostedBaseline,
    gp_features,
    train_baseline,
)
from skysift.exceptions import NotFittedError


def _gaussian_bands(sigma_days, shift_days=0.0, scale=(1.0, 2.0), length=301):
    """Gaussian pulses on a 0..300 d grid (1 d steps) peaking at t = 100 (+ shift in band 1)."""
    t = np.linspace(0.0, 300.0, length)
    g = scale[0] * np.exp(-0.5 * ((t - 100.0) / sigma_days) ** 2)
    r = scale[1] * np.exp(-0.5 * ((t - 100.0 - shift_days) / sigma_days) ** 2)
    return np.stack([g, r], axis=-1)[None], np.array([0.0]), np.array([300.0])


@pytest.mark.parametrize("sigma", [5.0, 12.5, 30.0])
def test_rise_fall_match_the_half_width_of_a_gaussian(sigma):
    x, start, stop = _gaussian_bands(sigma)
    f, names = gp_features(x, time_start_mjd=start, time_stop_mjd=stop, band_names="gr")
    d = dict(zip(names, f[0], strict=True))
    half_width = sigma * np.sqrt(2 * np.log(2))  # closed form, half maximum
    for band in "gr":
        # the grid point below half maximum lies within one step (1 d) outside
        assert half_width <= d[f"rise_days_{band}"] <= half_width + 1.0
        assert half_width <= d[f"fall_days_{band}"] <= half_width + 1.0
    # colour g - r at peak is -2.5 log10(1/2)
    assert d["colour_g_r"] == pytest.approx(2.5 * np.log10(2.0))
    assert d["peak_flux_r"] == pytest.approx(2.0)
    decline = np.exp(-0.5 * (30.0 / sigma) ** 2)
    assert d["decline_30d_g"] == pytest.approx(decline, abs=1e-12)


def test_peak_time_is_relative_to_the_brightest_band():
    x, start, stop = _gaussian_bands(10.0, shift_days=7.0)
    f, names = gp_features(x, time_start_mjd=start, time_stop_mjd=stop, band_names="gr")
    d = dict(zip(names, f[0], strict=True))
    assert d["peak_time_days_r"] == pytest.approx(0.0)
    assert d["peak_time_days_g"] == pytest.approx(-7.0)


def test_undefined_features_are_nan_and_redshift_is_cleaned():
    t = np.linspace(0.0, 100.0, 101)
    rising = np.stack([t, t], axis=-1)[None]  # peak at the last point: no fall
    negative = -np.ones((1, 101, 2))
    f, names = gp_features(
        np.concatenate([rising, negative]),
        time_start_mjd=np.zeros(2),
        time_stop_mjd=np.full(2, 100.0),
        band_names="gr",
        gp_amplitude=np.array([10.0, np.nan]),
        gp_length_scale_days=np.array([20.0, 20.0]),
        redshift=np.array([0.3, -9.0]),
        redshift_err=np.array([0.01, -9.0]),
    )
    d = {n: f[:, i] for i, n in enumerate(names)}
    # half maximum (50) is crossed at t = 50; the last point below it is t = 49
    assert np.isnan(d["fall_days_g"][0]) and d["rise_days_g"][0] == pytest.approx(51.0)
    assert np.isnan(d["colour_g_r"][1])  # non-positive flux has no colour
    assert d["log10_gp_amplitude"][0] == pytest.approx(1.0)
    assert np.isnan(d["log10_gp_amplitude"][1])
    assert d["redshift"].tolist()[0] == 0.3 and np.isnan(d["redshift"][1])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"shape \(N, L, M\)"):
        gp_features(np.zeros((3, 4)), time_start_mjd=0, time_stop_mjd=1, band_names="g")
    with pytest.raises(ValueError, match="band_names has 1"):
        gp_features(np.zeros((1, 4, 2)), time_start_mjd=[0], time_stop_mjd=[1], band_names="g")


def test_unfitted_baseline_raises():
    with pytest.raises(NotFittedError, match="not fitted"):
        GradientBoostedBaseline().predict_proba(np.zeros((2, 3)))


@pytest.mark.slow
def test_baseline_beats_chance_on_synthetic_light_curves():
    from skysift.data.splits import stratified_split
    from skysift.data.synthetic import generate_lightcurves
    from skysift.evaluation.metrics import roc_auc_score
    from skysift.preprocessing import Pipeline

    classes = ["SNIa", "SNIbc", "SNII", "periodic"]
    batch = generate_lightcurves(320, survey="ztf", classes=classes, seed=1)
    pipe = Pipeline.from_config(
        {"kind": "lightcurves", "steps": [{"gp": {"survey": "ztf", "num_points": 40}}]}
    )
    out = pipe.fit_transform(batch)
    f, _ = gp_features(
        out["x"],
        time_start_mjd=out["gp_time_start"],
        time_stop_mjd=out["gp_time_stop"],
        band_names="gr",
        gp_amplitude=out["gp_amplitude"],
        gp_length_scale_days=out["gp_length_scale_days"],
        redshift=batch["redshift"],
        redshift_err=batch["redshift_err"],
    )
    y = np.searchsorted(sorted(classes), np.asarray(batch["label"]))
    train, val, test = stratified_split(y, test_size=0.3, val_size=0.1, seed=0)
    model = GradientBoostedBaseline(max_iter=100, random_state=0).fit(
        f[train], y[train], X_val=f[val], y_val=y[val]
    )
    p = model.predict_proba(f[test])
    assert 1 <= model.n_iter_ <= 100
    accuracy = (p.argmax(1) == y[test]).mean()
    assert accuracy > 0.25 + 0.3, accuracy  # chance is 0.25 for four balanced classes
    assert roc_auc_score(y[test], p, average="macro") > 0.85


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_rounds_are_chosen_by_the_matching_validation_log_loss(class_weight):
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(3)
    n = 900
    y = (rng.random(n) < 0.15).astype(int)  # imbalanced: 15% positives
    X = rng.normal(size=(n, 4)) + 0.8 * y[:, None] * np.array([1.0, 0.5, 0.0, 0.0])
    model = GradientBoostedBaseline(max_iter=80, learning_rate=0.2,
                                    class_weight=class_weight, random_state=0)
    model.fit(X[:600], y[:600], X_val=X[600:], y_val=y[600:])
    yv = y[600:]
    w = None if class_weight is None else 1.0 / np.bincount(yv)[yv]  # flat: each class counts 1
    losses = [log_loss(yv, p, sample_weight=w, labels=[0, 1])
              for p in model.estimator_.staged_predict_proba(X[600:])]
    assert model.n_iter_ == int(np.argmin(losses)) + 1
    # the loss it reached there, to compare configurations on validation data
    assert model.val_loss_ == pytest.approx(min(losses), rel=1e-9)
    assert GradientBoostedBaseline(max_iter=5).fit(X[:600], y[:600]).val_loss_ is None


def test_balanced_class_weight_raises_the_minority_probabilities():
    rng = np.random.default_rng(4)
    y = (rng.random(1200) < 0.1).astype(int)
    X = rng.normal(size=(1200, 3)) + 0.7 * y[:, None]
    kw = {"max_iter": 40, "random_state": 0}
    plain = GradientBoostedBaseline(**kw).fit(X[:800], y[:800])
    balanced = GradientBoostedBaseline(class_weight="balanced", **kw).fit(X[:800], y[:800])
    # trained to count both classes equally, the minority gets ~half the probability mass
    assert balanced.predict_proba(X[800:])[:, 1].mean() > 2 * plain.predict_proba(X[800:])[:, 1].mean()
    with pytest.raises(ValueError, match="class_weight must be None, 'balanced' or 'prior_shift'"):
        GradientBoostedBaseline(class_weight="auto")


def test_prior_shift_divides_the_training_prior_out():
    rng = np.random.default_rng(5)
    y = (rng.random(1200) < 0.2).astype(int)
    X = rng.normal(size=(1200, 3)) + 0.7 * y[:, None]
    kw = {"max_iter": 40, "random_state": 0}
    plain = GradientBoostedBaseline(**kw).fit(X[:800], y[:800], X_val=X[800:1000], y_val=y[800:1000])
    shifted = GradientBoostedBaseline(class_weight="prior_shift", **kw).fit(
        X[:800], y[:800], X_val=X[800:1000], y_val=y[800:1000])
    assert shifted.n_iter_ == plain.n_iter_  # same trees, same rounds
    prior = np.bincount(y[:800]) / 800
    expected = plain.predict_proba(X[1000:]) / prior
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(shifted.predict_proba(X[1000:]), expected, rtol=1e-12)


@pytest.mark.slow
def test_train_baseline_leaves_out_excluded_features(tmp_path):
    import json

    from skysift.data.synthetic import synthesize_store
    from skysift.io.store import open_store
    from skysift.preprocessing import Pipeline
    from skysift.preprocessing.prepare import prepare_store

    synthesize_store(tmp_path / "lc", "lightcurves", 120, survey="ztf",
                     classes=["SNIa", "SNII"], seed=2)
    pipe = Pipeline.from_config({"kind": "lightcurves", "steps": [{"gp": {"survey": "ztf", "num_points": 24}}]})
    prepare_store(tmp_path / "lc", tmp_path / "prep", pipe, batch_size=64)
    ids = open_store(tmp_path / "prep").read(["object_id"]).column(0).to_pylist()
    split = {"train_ids": ids[:70], "val_ids": ids[70:90], "test_ids": ids[90:]}
    full = train_baseline(tmp_path / "prep", out=tmp_path / "full", params={"max_iter": 20}, **split)
    less = train_baseline(tmp_path / "prep", out=tmp_path / "less", params={"max_iter": 20},
                          exclude_features=["rise_days_*", "colour_g_r"], **split)
    dropped = set(full["feature_names"]) - set(less["feature_names"])
    assert dropped == {"rise_days_g", "rise_days_r", "colour_g_r"}
    saved = json.loads((tmp_path / "less" / "baseline.json").read_text())
    assert saved["features"] == less["feature_names"]
    assert saved["exclude_features"] == ["rise_days_*", "colour_g_r"]
    with pytest.raises(ValueError, match=r"\['nope_\*'\] match no feature"):
        train_baseline(tmp_path / "prep", out=tmp_path / "bad", exclude_features=["nope_*"], **split)
