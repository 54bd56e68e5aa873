"""The ``extra_features`` step: redshift columns into ``extra``, missing values."""

import copy

import numpy as np
import pytest

from skysift.exceptions import DataFormatError, NotFittedError
from skysift.preprocessing import Pipeline, load_pipeline
from skysift.preprocessing.features import ExtraFeatures


def batch():
    return {
        "object_id": np.array(["a", "b", "c", "d"]),
        "redshift": np.array([0.1, np.nan, 0.5, -9.0]),
        "redshift_err": np.array([0.01, np.nan, 0.03, 0.02]),
        "hostgal_photoz": np.array([0.2, 0.3, np.inf, 0.4]),
    }


def test_default_puts_redshift_and_error_into_extra():
    b = batch()
    before = copy.deepcopy(b)
    step = ExtraFeatures()
    assert step.fit(b) is step
    out = step.transform(b)
    assert out["extra"].dtype == np.float32 and out["extra"].shape == (4, 2)
    np.testing.assert_array_equal(
        out["extra"],
        np.array([[0.1, 0.01], [-1, -1], [0.5, 0.03], [-9, 0.02]], dtype=np.float32),
    )
    assert step.feature_names_ == ["redshift", "redshift_err"]
    for key, value in before.items():  # input left alone
        np.testing.assert_array_equal(b[key], value)


def test_sentinels_infinities_and_median():
    step = ExtraFeatures(
        columns=["redshift", "hostgal_photoz"], missing="median", missing_values=[-9]
    ).fit(batch())
    # Medians of the present training values: (0.1, 0.5) and (0.2, 0.3, 0.4).
    np.testing.assert_allclose(step.fill_values_, [0.3, 0.3])
    extra = step.transform(batch())["extra"]
    np.testing.assert_allclose(
        extra, [[0.1, 0.2], [0.3, 0.3], [0.5, 0.3], [0.3, 0.4]], rtol=1e-6
    )


def test_indicator_columns_mark_filled_values():
    step = ExtraFeatures(add_indicator=True, fill_value=0.0).fit(batch())
    extra = step.transform(batch())["extra"]
    assert step.feature_names_[2:] == ["redshift_missing", "redshift_err_missing"]
    np.testing.assert_array_equal(extra[:, 2:], [[0, 0], [1, 1], [0, 0], [0, 0]])
    assert extra[1, 0] == 0.0


def test_median_of_a_column_without_values_falls_back_to_fill_value():
    b = {"redshift": np.full(3, np.nan), "redshift_err": np.array([1.0, 2.0, 3.0])}
    step = ExtraFeatures(missing="median", fill_value=-5.0).fit(b)
    np.testing.assert_array_equal(step.fill_values_, [-5.0, 2.0])


def test_none_in_an_object_column_is_missing():
    b = {"redshift": np.array([0.3, None], dtype=object), "redshift_err": np.ones(2)}
    extra = ExtraFeatures().fit(b).transform(b)["extra"]
    np.testing.assert_array_equal(extra, np.array([[0.3, 1], [-1, 1]], np.float32))


def test_error_strategy_names_the_objects():
    step = ExtraFeatures(missing="error").fit(batch())
    with pytest.raises(DataFormatError, match=r"1 object\(s\).*\['b'\]"):
        step.transform(batch())


def test_reject_strategy_lets_the_pipeline_list_the_objects():
    data = batch()
    data["x"] = np.zeros((4, 3, 2), dtype=np.float32)  # as a gp step would leave
    pipe = Pipeline([ExtraFeatures(missing="reject")], kind="lightcurves")
    out = pipe.fit_transform(data, drop_bad=True)
    assert out["object_id"].tolist() == ["a", "c", "d"]
    assert [oid for oid, _ in out["rejected"]] == ["b"]
    with pytest.raises(DataFormatError, match="non-finite"):
        pipe.transform(data)


def test_appends_to_existing_extra():
    data = {**batch(), "extra": np.ones((4, 1), dtype=np.float32)}
    out = ExtraFeatures(columns=["redshift_err"]).fit(data).transform(data)
    assert out["extra"].shape == (4, 2) and np.all(out["extra"][:, 0] == 1)


def test_unfitted_step_refuses_to_transform():
    with pytest.raises(NotFittedError, match="extra_features"):
        ExtraFeatures().transform(batch())


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"columns": ["redshift", "no_such"]}, DataFormatError, "no_such"),
        ({"columns": "redshift"}, ValueError, "list of column names"),
        ({"columns": []}, ValueError, "list of column names"),
        ({"missing": "drop"}, ValueError, "missing must be one of"),
        ({"fill_value": float("nan")}, ValueError, "fill_value must be finite"),
        ({"log10": ["no_such"]}, ValueError, "not among columns"),
        ({"log10": "redshift"}, ValueError, "log10 must be a list"),
        ({"columns": ["span"], "differences": {"span": ["redshift"]}}, ValueError, "two column names"),
        ({"columns": ["span"], "differences": {"span": ["t1", "t0"]}}, DataFormatError,
         r"no column\(s\) \['t1', 't0'\]"),
    ],
)
def test_bad_parameters_and_columns(kwargs, error, message):
    with pytest.raises(error, match=message):
        ExtraFeatures(**kwargs).fit(batch())


def test_log10_columns_and_non_positive_values_as_missing():
    b = {"scale": np.array([1.0, 1000.0, 0.0, -5.0, 40.0]), "z": np.array([0.1, 0.2, 0.3, 0.4, 0.5])}
    step = ExtraFeatures(columns=["scale", "z"], log10=["scale"], add_indicator=True).fit(b)
    extra = step.transform(b)["extra"]
    np.testing.assert_allclose(extra[:, 0], [0.0, 3.0, -1.0, -1.0, np.log10(40.0)], rtol=1e-6)
    np.testing.assert_allclose(extra[:, 1], b["z"], rtol=1e-6)  # not logged
    assert extra[:, 2].tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]


def test_non_numeric_and_array_columns_are_rejected():
    b = {**batch(), "redshift": np.array(["x", "y", "z", "w"])}
    with pytest.raises(DataFormatError, match="not numeric"):
        ExtraFeatures().fit(b)
    b = {**batch(), "redshift": np.zeros((4, 2))}
    with pytest.raises(DataFormatError, match="one value per object"):
        ExtraFeatures().fit(b)


def test_init_stores_only_parameters_and_round_trips_json(tmp_path):
    step = ExtraFeatures(missing="median", missing_values=[-9.0], add_indicator=True)
    assert set(vars(step)) == set(step.get_params())
    data = batch()
    data["x"] = np.zeros((4, 3, 2), dtype=np.float32)
    pipe = Pipeline([step], kind="lightcurves")
    first = pipe.fit_transform(data)
    loaded = load_pipeline(pipe.save(tmp_path / "p.json"))
    params = {**step.get_params(), "columns": list(step.columns), "log10": list(step.log10)}  # JSON: lists
    assert loaded.steps[0].get_params() == params
    np.testing.assert_array_equal(loaded.steps[0].fill_values_, step.fill_values_)
    np.testing.assert_array_equal(loaded.transform(data)["extra"], first["extra"])


def test_is_a_light_curve_step():
    with pytest.raises(ValueError, match="not on spectra"):
        Pipeline([ExtraFeatures()], kind="spectra")


def test_difference_columns_give_the_grid_span_in_days(tmp_path):
    b = {"gp_time_start": np.array([55000.0, 55100.0, np.nan]),
         "gp_time_stop": np.array([55100.0, 55110.0, 55200.0]),
         "redshift": np.array([0.1, 0.2, 0.3])}
    kw = {"columns": ["redshift", "span"], "log10": ["span"],
          "differences": {"span": ["gp_time_stop", "gp_time_start"]}, "add_indicator": True}
    step = ExtraFeatures(**kw).fit(b)
    extra = step.transform(b)["extra"]
    np.testing.assert_allclose(extra[:, 1], [2.0, 1.0, -1.0], rtol=1e-6)  # log10 100, 10; missing
    assert extra[:, 3].tolist() == [0.0, 0.0, 1.0]
    assert step.feature_names_ == ["redshift", "span", "redshift_missing", "span_missing"]
    # saved and loaded with a pipeline, it computes the same
    b["x"] = np.zeros((3, 4, 2), dtype=np.float32)
    pipe = Pipeline([ExtraFeatures(**kw)], kind="lightcurves")
    first = pipe.fit_transform(b)
    loaded = load_pipeline(pipe.save(tmp_path / "p.json"))
    np.testing.assert_array_equal(loaded.transform(b)["extra"], first["extra"])
    np.testing.assert_array_equal(first["extra"], extra)
