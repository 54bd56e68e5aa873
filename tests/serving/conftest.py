"""Shared fixtures for serving: a small H-alpha store and an untrained model file."""

import numpy as np
import pytest
import torch

from skysift.data.synthetic import synthesize_store
from skysift.io.store import StoreWriter, open_store
from skysift.models import create_model
from skysift.preprocessing.pipeline import Pipeline, batch_from_arrow
from skysift.training.checkpoint import save_model

#: Objects whose flux is all NaN: the pipeline rejects them.
BAD_IDS = ("bad-0", "bad-1")


def write_halpha_store(path, n=300, *, seed=0, bad=BAD_IDS):
    """A seed-001-like H-alpha store in several parts and row groups, plus bad objects."""
    raw = synthesize_store(path.with_name(path.name + "-raw"), "halpha", n, seed=seed)
    table = raw.read()
    with StoreWriter(
        path, kind="spectra", rows_per_part=n // 3, row_group_size=40
    ) as w:
        w.write(table)
        if bad:
            rows = table.slice(0, len(bad)).to_pydict()
            rows["object_id"] = list(bad)
            rows["flux"] = [np.full(len(f), np.nan, np.float32) for f in rows["flux"]]
            w.write({k: v for k, v in rows.items()})
    return open_store(path)


def write_model(path, store, *, seed=0):
    """An untrained MLP with a fitted regrid + standardise pipeline, as model.pt."""
    pipe = Pipeline.from_config(
        {
            "kind": "spectra",
            "steps": [
                {"regrid": {"start_aa": 6520.0, "stop_aa": 6730.0, "num": 140}},
                "standardize",
            ],
        }
    )
    pipe.fit_transform(batch_from_arrow(store.read()), drop_bad=True)
    kwargs = {
        "num_classes": 3,
        "in_channels": 1,
        "input_length": 140,
        "hidden_dims": [64],
    }
    torch.manual_seed(seed)
    model = create_model("mlp", **kwargs)
    return save_model(
        path,
        model.eval(),
        model_name="mlp",
        model_kwargs=kwargs,
        pipeline=pipe,
        class_names=["absorption", "double-peak", "emission"],
        input_shape=(1, 140),
    )


@pytest.fixture(scope="module")
def halpha(tmp_path_factory):
    """(store, model path) of 300 H-alpha spectra + 2 unpreparable ones."""
    root = tmp_path_factory.mktemp("halpha")
    store = write_halpha_store(root / "store")
    return store, write_model(root / "model.pt", store)
