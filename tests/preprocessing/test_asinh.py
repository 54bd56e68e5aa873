"""asinh: one fixed arcsinh compression of prepared light curves (brightness kept)."""

import numpy as np
import pytest

from skysift.preprocessing import Pipeline
from skysift.preprocessing.normalize import AsinhScaler, asinh_scale


def test_linear_below_and_logarithmic_above_the_softening():
    b = 10.0
    small = np.array([1e-3, -2e-3, 0.0])
    assert np.allclose(asinh_scale(small, b), small / b, rtol=1e-4)
    big = np.array([1e4, -1e5])
    assert np.allclose(asinh_scale(big, b), np.sign(big) * np.log(2 * np.abs(big) / b), rtol=1e-6)
    # monotonic and odd: order between objects and sign of fluctuations kept
    x = np.linspace(-500, 500, 101)
    y = asinh_scale(x, b)
    assert np.all(np.diff(y) > 0) and np.allclose(y, -y[::-1])
    # the inverse recovers the input (up to float32)
    assert np.allclose(b * np.sinh(y.astype(np.float64)), x, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_softening_must_be_positive_and_finite(bad):
    with pytest.raises(ValueError, match="softening must be a positive number"):
        asinh_scale(np.ones(3), bad)


def test_in_a_pipeline_after_the_gp_and_saved():
    from skysift.data.synthetic import generate_lightcurves

    batch = generate_lightcurves(3, survey="ztf", seed=0)
    steps = [{"gp": {"survey": "ztf", "num_points": 20}}]
    raw = Pipeline.from_config({"kind": "lightcurves", "steps": steps}).fit_transform(batch)
    pipe = Pipeline.from_config(
        {"kind": "lightcurves", "steps": [*steps, {"asinh": {"softening": 5.0}}]}
    )
    out = pipe.fit_transform(batch)
    assert out["x"].shape == raw["x"].shape and out["x"].dtype == np.float32
    assert np.allclose(out["x"], np.arcsinh(raw["x"] / 5.0), rtol=1e-5, atol=1e-6)
    again = Pipeline.from_dict(pipe.to_dict()).transform(batch)
    assert np.allclose(again["x"], out["x"])
    with pytest.raises(ValueError, match="no prepared array 'x'"):
        AsinhScaler().transform({"flux": np.ones((1, 3))})
