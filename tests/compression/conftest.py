"""A small H-alpha store and an untrained model file with its fitted pipeline."""

import pytest
import torch

from skysift.data.synthetic import synthesize_store
from skysift.models import create_model
from skysift.preprocessing.pipeline import Pipeline, batch_from_arrow
from skysift.training.checkpoint import save_model


@pytest.fixture(scope="module")
def halpha(tmp_path_factory):
    """(store, model.pt) of 240 synthetic H-alpha spectra and an MLP over 140 px."""
    root = tmp_path_factory.mktemp("halpha")
    store = synthesize_store(root / "store", "halpha", 240, seed=0)
    pipe = Pipeline.from_config(
        {"kind": "spectra", "steps": [{"regrid": {"start_aa": 6520.0, "stop_aa": 6730.0, "num": 140}}, "standardize"]}
    )
    pipe.fit_transform(batch_from_arrow(store.read()))
    kwargs = {"num_classes": 3, "input_length": 140, "hidden_dims": [64]}
    torch.manual_seed(0)
    model = create_model("mlp", **kwargs).eval()
    path = save_model(
        root / "model.pt", model, model_name="mlp", model_kwargs=kwargs, pipeline=pipe,
        class_names=["absorption", "double-peak", "emission"], input_shape=(1, 140),
    )
    return store, path
