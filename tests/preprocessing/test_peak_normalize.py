"""peak_normalize: per-object scaling of GP light curves, brightness kept as a feature."""

import numpy as np
import pytest

from skysift.preprocessing import Pipeline
from skysift.preprocessing.normalize import PeakNormalizer, peak_normalize


def test_each_object_peaks_at_one_and_shapes_are_kept():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 20, 4)) * np.array([1, 10, 1e3, 1e5, 0.01])[:, None, None]
    scaled, peak = peak_normalize(x)
    assert np.allclose(np.abs(scaled).reshape(5, -1).max(1), 1.0)
    assert np.allclose(peak, np.abs(x).reshape(5, -1).max(1))
    assert np.allclose(scaled * peak[:, None, None], x, rtol=1e-5)  # ratios between bands kept


def test_zero_object_is_left_alone_and_scale_feature_appended():
    x = np.zeros((2, 3, 2))
    x[1, 1, 0] = 250.0
    out = PeakNormalizer().transform({"x": x, "extra": np.array([[0.1], [0.2]])})
    assert np.array_equal(out["x"][0], np.zeros((3, 2)))
    assert out["x"][1, 1, 0] == 1.0
    assert out["extra"][:, 0].tolist() == pytest.approx([0.1, 0.2])
    assert out["extra"][:, 1].tolist() == pytest.approx([0.0, np.log10(250.0)])
    assert "extra" not in PeakNormalizer(scale_feature=False).transform({"x": x})


def test_in_a_pipeline_after_the_gp_and_saved():
    from skysift.data.synthetic import generate_lightcurves

    batch = generate_lightcurves(3, survey="ztf", seed=0)
    pipe = Pipeline.from_config({"kind": "lightcurves", "steps": [
        {"gp": {"survey": "ztf", "num_points": 20}}, "peak_normalize"]})
    out = pipe.fit_transform(batch)
    assert np.allclose(np.abs(out["x"]).reshape(3, -1).max(1), 1.0)
    again = Pipeline.from_dict(pipe.to_dict()).transform(batch)
    assert np.allclose(again["x"], out["x"]) and again["extra"].shape == (3, 1)
    with pytest.raises(ValueError, match="no prepared array 'x'"):
        PeakNormalizer().transform({"flux": np.ones((1, 3))})
