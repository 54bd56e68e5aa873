"""Shared fixtures for the model tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    """Make weight initialisation and dropout reproducible in every test."""
    torch.manual_seed(1234)
