"""Checks every registered spectra step must pass (scikit-learn's common tests).

For each step: ``__init__`` stores its parameters and nothing else,
``get_params`` round-trips, ``fit`` returns the step, ``transform`` leaves its
input alone and is deterministic, a pipeline holding it saves to JSON and
loads back with identical outputs, and stateful steps refuse to transform
before they are fitted.
"""

import copy
import inspect

import numpy as np
import pytest

from skysift.exceptions import NotFittedError
from skysift.preprocessing import Pipeline, list_steps, load_pipeline
from skysift.preprocessing.pipeline import _step_class

SPECTRA_STEPS = [n for n in list_steps() if "spectra" in _step_class(n).kinds]

# Non-default parameters, so that round trips see real values.
PARAMS = {
    "blur": {"sigma_px": 3.0, "boundary": "fill"},
    "blur_to_resolution": {"resolving_power": 2500.0},
    "crop": {"start_aa": 6519.0, "stop_aa": 6732.0, "margin_px": 10, "margin_aa": 3.0},
    "mask_bad_pixels": {"max_gap": 2},
    "rebin": {"start_aa": 6450.0, "stop_aa": 6750.0, "num": 64, "log": True},
    "regrid": {"start_aa": 6520.0, "stop_aa": 6700.0, "num": 50},
    "reshape_square": {"side": 19},
    "rest_frame": {"on_missing": "keep"},
}


def spectra_batch(n=6, length=300, seed=0):
    rng = np.random.default_rng(seed)
    wl = 6400.0 + np.cumsum(rng.uniform(1.2, 1.4, (n, length)), axis=1)
    flux = (
        1 + 0.3 * np.exp(-0.5 * ((wl - 6563) / 3) ** 2) + rng.normal(0, 0.02, wl.shape)
    )
    mask = rng.random(wl.shape) < 0.01
    mask[:, :2] = False
    return {
        "object_id": np.array([f"s{i}" for i in range(n)]),
        "label": np.array(["emission", "absorption"] * (n // 2)),
        "redshift": rng.uniform(0.0, 0.01, n),
        "frame": np.array(["air"] * n, dtype=object),
        "resolving_power": np.full(n, 13000.0),
        "wavelength_aa": wl,
        "flux": flux.astype(np.float32),
        "ivar": rng.uniform(500, 3000, wl.shape).astype(np.float32),
        "mask": mask,
    }


def make(name):
    return _step_class(name)(**PARAMS.get(name, {}))


def test_every_spectra_step_is_covered():
    assert {"air_to_vacuum", "blur", "regrid", "rebin", "standardize"} <= set(
        SPECTRA_STEPS
    )


@pytest.mark.parametrize("name", SPECTRA_STEPS)
def test_init_sets_only_the_parameters(name):
    step = make(name)
    params = step.get_params()
    assert set(vars(step)) == set(params)
    for key, value in PARAMS.get(name, {}).items():
        assert params[key] == value
    signature = inspect.signature(type(step).__init__)
    assert all(
        p.kind is p.KEYWORD_ONLY and p.default is not p.empty
        for p in list(signature.parameters.values())[1:]
    ), "parameters are keyword-only with defaults"


@pytest.mark.parametrize("name", SPECTRA_STEPS)
def test_get_params_round_trips(name):
    step = make(name)
    clone = type(step)(**step.get_params())
    assert clone.get_params() == step.get_params()
    assert repr(clone) == repr(step)
    via_config = Pipeline.from_config(
        {"kind": "spectra", "steps": [{name: step.get_params()}]}
    ).steps[0]
    assert via_config.get_params() == step.get_params()
    with pytest.raises(ValueError, match="accepted parameters"):
        Pipeline.from_config({"kind": "spectra", "steps": [{name: {"no_such": 1}}]})


@pytest.mark.parametrize("name", SPECTRA_STEPS)
def test_fit_returns_self_and_input_is_left_alone(name):
    step = make(name)
    batch = spectra_batch()
    before = copy.deepcopy(batch)
    assert step.fit(batch) is step
    first = step.transform(batch)
    second = step.transform(batch)
    for key, value in before.items():
        np.testing.assert_array_equal(batch[key], value)
    assert first.keys() == second.keys()
    for key in first:
        if isinstance(first[key], np.ndarray):
            np.testing.assert_array_equal(first[key], second[key])


@pytest.mark.parametrize("name", SPECTRA_STEPS)
def test_pipeline_save_load_gives_identical_outputs(name, tmp_path):
    steps = [make(name)]
    if name not in ("regrid", "rebin", "crop", "reshape_square"):
        steps.insert(0, make("crop"))  # equal lengths for the model input
    pipe = Pipeline(steps, kind="spectra")
    batch = spectra_batch()
    fitted = pipe.fit_transform(batch, drop_bad=True)
    path = pipe.save(tmp_path / "pipe.json")
    loaded = load_pipeline(path)
    assert [s.get_params() for s in loaded.steps] == [
        s.get_params() for s in pipe.steps
    ]
    again = loaded.transform(batch, drop_bad=True)
    np.testing.assert_array_equal(again["x"], fitted["x"])
    assert again["rejected"] == fitted["rejected"]
    assert len(again["x"]) + len(again["rejected"]) == len(batch["flux"])


@pytest.mark.parametrize("name", SPECTRA_STEPS)
def test_stateful_steps_refuse_to_transform_unfitted(name):
    step = make(name)
    pipe = Pipeline([step], kind="spectra")
    if step.stateful:
        with pytest.raises(NotFittedError, match=name):
            pipe.transform(spectra_batch())
    else:
        step.check_is_fitted()  # stateless steps are always ready
        assert step.get_state() == {}
