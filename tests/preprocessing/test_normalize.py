"""Per-spectrum normalisations against independent computations."""

import numpy as np
import pytest
from sklearn.preprocessing import minmax_scale, scale

from skysift.preprocessing import Pipeline
from skysift.preprocessing.normalize import (
    MinMaxScaler,
    Standardizer,
    WeightedStandardizer,
    min_max_scale,
    standardize,
    weighted_standardize,
)

rng = np.random.default_rng(0)
FLUX = (rng.gamma(2.0, 3.0, (20, 140)) + rng.normal(0, 1, (20, 1))).astype(np.float32)


def test_standardize_is_sklearn_scale_per_row():
    # seed 001: sklearn.preprocessing.scale(X, axis=1)
    np.testing.assert_allclose(
        standardize(FLUX), scale(FLUX.astype(float), axis=1), atol=2e-5
    )
    assert standardize(np.full((1, 5), 3.0)).tolist() == [[0.0] * 5]


def test_min_max_is_sklearn_minmax_scale_per_row():
    np.testing.assert_allclose(
        min_max_scale(FLUX), minmax_scale(FLUX, axis=1), atol=1e-6
    )
    out = min_max_scale(FLUX)
    assert out.min(axis=1).max() == 0.0 and out.max(axis=1).min() == pytest.approx(1.0)


def test_weighted_standardize_matches_np_average():
    ivar = rng.uniform(0.0, 2.0, FLUX.shape).astype(np.float32)
    ivar[:, :10] = 0.0
    mask = rng.random(FLUX.shape) < 0.1
    flux = FLUX.copy()
    flux[0, 3] = np.nan  # zero weight: ignored
    out = weighted_standardize(flux, ivar, mask)
    for f, w, m, o in zip(flux, ivar, mask, out, strict=True):
        use = (w > 0) & ~m & np.isfinite(f)
        mean = np.average(f[use], weights=w[use])
        rms = np.sqrt(np.average((f[use] - mean) ** 2, weights=w[use]))
        np.testing.assert_allclose(o[use], (f[use] - mean) / rms, rtol=1e-4, atol=1e-5)
    assert weighted_standardize(FLUX[:1], np.zeros((1, 140))).tolist() == [[0.0] * 140]


def test_weighted_equals_plain_with_equal_weights():
    np.testing.assert_allclose(
        weighted_standardize(FLUX, np.ones(FLUX.shape)), standardize(FLUX), atol=2e-5
    )


@pytest.mark.parametrize(
    ("step", "function"),
    [("standardize", standardize), ("min_max", min_max_scale)],
)
def test_steps_are_their_functions(step, function):
    pipe = Pipeline.from_config({"kind": "spectra", "steps": [step]})
    out = pipe.transform({"flux": FLUX})
    np.testing.assert_array_equal(out["x"][:, 0], function(FLUX))


def test_weighted_step_reads_ivar_and_mask():
    ivar = rng.uniform(0.5, 2.0, FLUX.shape)
    mask = np.zeros(FLUX.shape, bool)
    mask[:, :5] = True
    out = WeightedStandardizer().transform({"flux": FLUX, "ivar": ivar, "mask": mask})
    np.testing.assert_array_equal(out["flux"], weighted_standardize(FLUX, ivar, mask))
    assert Standardizer().get_params() == {} and MinMaxScaler().get_params() == {}
