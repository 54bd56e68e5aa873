"""Worker processes for preparation: order, bounded work, failures named."""

import os

import pytest

from skysift.exceptions import SkysiftError
from skysift.preprocessing.parallel import imap_workers, one_torch_thread


def test_results_come_back_in_item_order():
    items = [-(i % 7) * 10**i for i in range(12)]  # uneven work, any completion order
    assert list(imap_workers(abs, items, workers=3)) == [abs(i) for i in items]


def test_unordered_results_are_all_there_once():
    items = list(range(-20, 0))
    got = list(imap_workers(abs, items, workers=2, ordered=False))
    assert sorted(got) == sorted(abs(i) for i in items)


def test_a_dead_worker_is_an_error_naming_the_job():
    with pytest.raises(SkysiftError, match=r"a test worker process died .*; rerun"):
        list(imap_workers(os._exit, [3], workers=1, what="a test worker", advice="rerun"))


def test_bad_worker_counts_are_refused():
    with pytest.raises(ValueError, match="workers must be >= 1"):
        list(imap_workers(abs, [1], workers=0))


def test_one_torch_thread_restores_the_setting():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with one_torch_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_transform_in_workers_equals_one_process():
    import numpy as np

    from skysift.data.synthetic import generate_lightcurves
    from skysift.preprocessing.pipeline import Pipeline, take_rows
    from skysift.preprocessing.prepare import transform_batches

    data = generate_lightcurves(40, survey="ztf", seed=5)
    pipe = Pipeline.from_config({"kind": "lightcurves", "steps": [
        {"gp": {"survey": "ztf", "num_points": 20}},
        {"extra_features": {"columns": ["redshift", "redshift_err"]}}]})
    pipe.fit(data)
    batches = [take_rows(data, np.arange(i, min(i + 16, 40))) for i in range(0, 40, 16)]
    one = list(transform_batches(pipe, iter(batches), workers=1))
    two = list(transform_batches(pipe, iter(batches), workers=2))
    assert len(one) == len(two) == 3
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a["x"], b["x"])
        np.testing.assert_array_equal(a["extra"], b["extra"])
        assert list(a["object_id"]) == list(b["object_id"]) and a["rejected"] == b["rejected"]
