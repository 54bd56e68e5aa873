"""Recipe 4 (issue 8): the UEA recipes' quick versions run, keep the archive's split, and learn."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skysift.io.store import open_store
from skysift.recipes import load_recipe, run_recipe

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("uea_*.yaml"))
SHARED_UEA = REPO.parent / "shared" / "data" / "uea_ucr_ts"
needs_data = pytest.mark.skipif(
    not SHARED_UEA.is_dir(), reason="needs ../shared/data/uea_ucr_ts"
)


@pytest.fixture
def one_thread():
    """The recipes' models are tiny: one torch thread is faster on a shared 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_every_uea_recipe_is_valid_and_uses_the_archive_split():
    assert {p.stem for p in RECIPES} >= {
        "uea_japanese_vowels",
        "uea_basic_motions",
        "uea_arrowhead",
        "uea_gunpoint",
    }
    for path in RECIPES:
        for quick in (False, True):
            recipe = load_recipe(path, quick=quick)
            assert recipe["ingest"]["builder"] == "uea"
            assert recipe["data"]["split"] == "column"
            assert recipe["data"]["split_column"] == "split"
            assert recipe["data"]["train_values"] == ["TRAIN"]
        full = load_recipe(path)
        assert {r["model"] for r in full["runs"]} == {"t2", "atx"}


@needs_data
@pytest.mark.parametrize(
    "name",
    [
        "uea_japanese_vowels",
        pytest.param("uea_basic_motions", marks=pytest.mark.slow),
        pytest.param("uea_arrowhead", marks=pytest.mark.slow),
        pytest.param("uea_gunpoint", marks=pytest.mark.slow),
    ],
)
def test_quick_recipe_keeps_the_split_and_beats_chance(name, tmp_path, one_thread):
    out = tmp_path / name
    summary = run_recipe(REPO / "recipes" / f"{name}.yaml", quick=True, out=out)

    # every case of the two files is accounted for: in = out + rejected
    raw = open_store(out / "work" / "raw")
    attrs = raw.info()["attrs"]
    assert attrs["n_in"] == len(raw) + attrs["n_rejected"]
    table = raw.read(["object_id", "split"]).to_pandas()
    train_ids = set(table.loc[table["split"] == "TRAIN", "object_id"])
    test_ids = set(table.loc[table["split"] == "TEST", "object_id"])

    # the recorded split is the archive's: test = the TEST file, train + val = TRAIN
    (split_file,) = (out / "splits").glob("*.csv")
    split = pd.read_csv(split_file, dtype=str)
    assert set(split.loc[split["split"] == "test", "object_id"]) == test_ids
    pool = split.loc[split["split"].isin(["train", "val"])]
    assert (
        set(pool["object_id"]) == train_ids and not pool["object_id"].duplicated().any()
    )
    assert (split["split"] == "val").sum() > 0

    (row,) = summary["runs"]
    assert row["model"] == "t2" and row["n_test"] == len(test_ids)
    pred = pd.read_parquet(Path(row["run_dir"]) / "test_predictions.parquet")
    assert set(pred["object_id"].astype(str)) == test_ids
    # learns: ranks the classes far better than chance (macro AUC 0.5), and is
    # more accurate than always answering the most common test class (the
    # quick runs reach AUC 0.86-1.0 and 0.12-0.73 above that share)
    chance = pred["true_class"].value_counts(normalize=True).max()
    assert row["roc_auc_macro"] >= 0.75, row["roc_auc_macro"]
    assert row["accuracy"] >= chance + 0.05, (row["accuracy"], chance)
    assert np.isfinite(row["log_loss"])
