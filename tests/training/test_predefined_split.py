"""Predefined (column) splits: SNPCC's spectro_confirmed flag, UEA's TRAIN/TEST column."""

import numpy as np
import pytest

from skysift.exceptions import DataFormatError
from skysift.training.data import load_training_data, predefined_split


def test_boolean_column_pool_and_stratified_validation():
    flag = np.array([True] * 40 + [False] * 60)
    strata = np.tile([0, 1, 1, 1], 25)
    train, val, test = predefined_split(flag, [True], strata, val_size=0.25, seed=1)
    assert np.array_equal(test, np.arange(40, 100))
    assert len(val) == 10 and len(train) == 30
    assert not set(train) & set(val) and set(train) | set(val) == set(range(40))
    # stratified: the pool has 10 of class 0, so about 2-3 land in validation
    assert 2 <= (strata[val] == 0).sum() <= 3
    # YAML's `true` also selects a text column's "true"
    text = np.array(["true"] * 40 + ["no"] * 60)
    assert np.array_equal(predefined_split(text, [True], strata, val_size=0.25, seed=1)[2], test)


def test_empty_pool_or_empty_test_is_an_error():
    with pytest.raises(DataFormatError, match=r"select 0 training and 4 test rows"):
        predefined_split(["TEST"] * 4, ["TRAIN"], np.zeros(4), val_size=0.1, where="s.csv")
    with pytest.raises(DataFormatError, match="non-empty list"):
        predefined_split(["TRAIN"] * 4, "TRAIN", np.zeros(4), val_size=0.1)


def test_load_training_data_honours_the_split_column(tmp_path):
    from skysift.io.store import write_store

    n = 50
    rng = np.random.default_rng(0)
    write_store(tmp_path / "s", {
        "object_id": [f"o{i}" for i in range(n)],
        "label": ["a" if i % 2 else "b" for i in range(n)],
        "split": ["TRAIN" if i < 30 else "TEST" for i in range(n)],
        "x": rng.normal(size=(n, 8)).astype(np.float32),
        "extra": np.zeros((n, 0), np.float32),
    }, kind="prepared", attrs={"input_shape": [1, 8], "n_extra": 0, "source_kind": "spectra",
                               "pipeline": {"format_version": 1, "kind": "spectra", "steps": []}})
    data = load_training_data(tmp_path / "s", split_column="split", train_values=["TRAIN"],
                              val_size=0.2, test_size=0.9, seed=3)
    assert sorted(data.ids[data.splits["test"]]) == sorted(f"o{i}" for i in range(30, 50))
    assert len(data.splits["val"]) == 6 and len(data.splits["train"]) == 24
    with pytest.raises(DataFormatError, match=r"split column 'spectro_confirmed' not in the store"):
        load_training_data(tmp_path / "s", split_column="spectro_confirmed", train_values=[True])
