"""The Examples sections of the model modules run as doctests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "skysift.models",
    "skysift.models._base",
    "skysift.models._registry",
    "skysift.models.atx",
    "skysift.models.cnn1d",
    "skysift.models.cnn2d",
    "skysift.models.layers.attention",
    "skysift.models.layers.conv",
    "skysift.models.layers.embed",
    "skysift.models.layers.heads",
    "skysift.models.mlp",
    "skysift.models.spectral_vit",
    "skysift.models.t2",
]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {module_name}"
