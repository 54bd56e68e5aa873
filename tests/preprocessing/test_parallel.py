"""Worker processes for preparation: order, bounded work, failures named."""

import os

import pytest

from skysift.exceptions import SkysiftError
from skysift.preprocessing.parallel import imap_ordered, one_torch_thread


def test_results_come_back_in_item_order():
    items = [-(i % 7) * 10**i for i in range(12)]  # uneven work, any completion order
    assert list(imap_ordered(abs, items, workers=3)) == [abs(i) for i in items]


def test_a_dead_worker_is_an_error_naming_the_job():
    with pytest.raises(SkysiftError, match="a test worker process died"):
        list(imap_ordered(os._exit, [3], workers=1, what="a test worker"))


def test_bad_worker_counts_are_refused():
    with pytest.raises(ValueError, match="workers must be >= 1"):
        list(imap_ordered(abs, [1], workers=0))


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
