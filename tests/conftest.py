"""Shared fixtures: small synthetic columns and stores."""

import numpy as np
import pytest

from skysift.io.store import write_store


def spectra_columns(n=50, length=40, seed=0, ragged=False):
    """Columns of n labelled spectra; ragged gives each its own length."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(length // 2, length, n) if ragged else np.full(n, length)
    wl = [np.sort(rng.uniform(4000, 9000, k)) for k in lengths]
    return {
        "object_id": [f"obj{i:04d}" for i in range(n)],
        "label": np.array(["star", "galaxy", "qso"])[rng.integers(0, 3, n)],
        "redshift": rng.uniform(0, 3, n),
        "redshift_err": rng.uniform(0, 0.1, n),
        "mjd": rng.integers(55000, 58000, n),
        "wavelength_aa": wl,
        "flux": [rng.normal(size=k).astype(np.float32) for k in lengths],
        "ivar": [rng.uniform(0.1, 2, k).astype(np.float32) for k in lengths],
        "mask": [rng.uniform(size=k) < 0.1 for k in lengths],
    }


@pytest.fixture
def make_spectra_columns():
    return spectra_columns


@pytest.fixture
def spectra_store(tmp_path):
    cols = spectra_columns(n=200, ragged=True)
    store = write_store(tmp_path / "spec", cols, kind="spectra", row_group_size=32)
    return store, cols
