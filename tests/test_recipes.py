"""Recipes: the format's checks, a synthetic recipe end to end, and SNPCC's quick version."""

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skysift.exceptions import SkysiftError
from skysift.recipes import (
    load_recipe,
    resolve_data_dir,
    run_recipe,
    summarize_predictions,
)

REPO = Path(__file__).resolve().parents[1]
SNPCC_RECIPE = REPO / "recipes" / "snpcc_representative.yaml"

SYNTHETIC = """
name: synthetic_lightcurves
seed: 7
ingest: {synthetic: lightcurves, n: 240, survey: ztf, seed: 0,
         classes: [SNIa, SNIbc, SNII, periodic]}
prepare:
  gp_z: {kind: lightcurves, steps: [{gp: {survey: ztf, num_points: 32}},
                                    {extra_features: {columns: [redshift, redshift_err]}}]}
tasks:
  ia_vs_non_ia: {label_map: {SNIa: SNIa, "*": non-Ia}}
data: {split: representative, test_size: 0.3, val_size: 0.1}
train: {epochs: 30, batch_size: 32, lr: 0.003, accelerator: cpu}
runs:
  - {name: t2_z_ia, model: t2, prepare: gp_z, task: ia_vs_non_ia,
     params: {d_model: 16, num_heads: 2, ff_dim: 32}}
  - {name: baseline_z_ia, model: baseline, prepare: gp_z, task: ia_vs_non_ia,
     params: {max_iter: 60}}
quick: {train: {epochs: 4}}
"""


def _write(tmp_path, text, name="r.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.slow
def test_synthetic_recipe_runs_and_learns(tmp_path):
    recipe = _write(tmp_path, SYNTHETIC)
    out = tmp_path / "out"
    summary = run_recipe(recipe, quick=True, out=out)

    rows = {r["run"]: r for r in summary["runs"]}
    assert set(rows) == {"t2_z_ia", "baseline_z_ia"}
    assert rows["t2_z_ia"]["epochs"].endswith("/4")  # the quick override applied
    # both learn: chance is an Ia AUC of 0.5 (a quarter of the objects are SNIa)
    assert rows["baseline_z_ia"]["ia_roc_auc"] > 0.85
    assert rows["t2_z_ia"]["ia_roc_auc"] > 0.65
    # the split is fixed, recorded, disjoint, and is what both runs were tested on
    split = pd.read_csv(out / "splits" / "ia_vs_non_ia.csv", dtype=str)
    assert split["object_id"].is_unique and len(split) == 240
    test_ids = set(split.loc[split["split"] == "test", "object_id"])
    assert len(test_ids) == 72
    for run in rows:
        pred = pd.read_parquet(out / "runs" / run / "test_predictions.parquet")
        assert set(pred["object_id"]) == test_ids
        assert (out / "runs" / run / "report.html").exists()
    assert (out / "runs" / "t2_z_ia" / "model.pt").exists()
    saved = json.loads((out / "results.json").read_text())
    assert saved["seed"] == 7 and saved["split"]["sizes"] == {"train": 144, "val": 24, "test": 72}
    table = (out / "results.md").read_text()
    assert f"skysift run {recipe} --quick --out {out}" in table
    assert "| t2_z_ia | t2 | yes | ia_vs_non_ia |" in table
    # asked again, nothing is rebuilt or retrained: ingest, preparation and
    # the finished runs are reused, with the same numbers
    markers = [out / "work" / "raw" / "_recipe_cache.json",
               next((out / "work" / "prepared").glob("*/_recipe_cache.json")),
               out / "runs" / "t2_z_ia" / "model.pt"]
    before = [m.stat().st_mtime_ns for m in markers]
    again = run_recipe(recipe, quick=True, out=out, runs=["baseline_z_ia", "t2_z_ia"])
    assert [m.stat().st_mtime_ns for m in markers] == before
    assert all(r["reused"] for r in again["runs"])
    assert again["runs"][0]["log_loss"] == rows["t2_z_ia"]["log_loss"]
    assert "--runs baseline_z_ia,t2_z_ia" in again["command"]
    with pytest.raises(SkysiftError, match=r"no run\(s\) named \['atx'\]"):
        run_recipe(recipe, quick=True, out=out, runs=["atx"])


@pytest.mark.slow
def test_snpcc_quick_recipe_runs_and_beats_chance(tmp_path):
    try:
        resolve_data_dir(load_recipe(SNPCC_RECIPE))
    except FileNotFoundError:
        pytest.skip("../shared/data (SNPCC) is absent")
    summary = run_recipe(SNPCC_RECIPE, quick=True, out=tmp_path / "snpcc")
    assert summary["max_objects"] == 300
    rows = {r["run"]: r for r in summary["runs"]}
    assert rows["baseline_z_ia"]["ia_roc_auc"] > 0.75
    assert rows["t2_z_ia"]["ia_roc_auc"] > 0.65
    assert sum(summary["split"]["sizes"].values()) == 300


def test_recipe_errors_name_the_problem(tmp_path):
    good = textwrap.dedent(SYNTHETIC)
    bad = _write(tmp_path, good.replace("data: {", "dat: {"), "a.yaml")
    with pytest.raises(SkysiftError, match=r"unknown key\(s\) \['dat'\]"):
        load_recipe(bad)
    bad = _write(tmp_path, good.replace("task: ia_vs_non_ia,\n     params: {max", "task: all,\n     params: {max"), "b.yaml")
    with pytest.raises(SkysiftError, match="unknown task 'all'; defined: \\['ia_vs_non_ia'\\]"):
        load_recipe(bad)
    bad = _write(tmp_path, good.replace("split: representative", "split: random"), "c.yaml")
    with pytest.raises(SkysiftError, match=r"data\.split must be one of"):
        load_recipe(bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")


def test_absent_data_directory_is_a_clear_error(tmp_path):
    recipe = _write(tmp_path, """
        name: x
        ingest: {kind: lightcurves, paths: [snpcc/a.tar.gz], data_dir: no_such_dir}
        prepare: {gp: {kind: lightcurves, steps: [gp]}}
        tasks: {all: {}}
        runs: [{name: a, model: t2, prepare: gp, task: all}]
    """)
    with pytest.raises(FileNotFoundError, match="shared data directory is absent"):
        run_recipe(recipe, out=tmp_path / "out")


def test_quick_block_selects_runs_and_overrides_training(tmp_path):
    text = textwrap.dedent(SYNTHETIC).replace(
        "quick: {train: {epochs: 4}}", "quick: {max_objects: 50, runs: [t2_z_ia], train: {epochs: 1}}"
    )
    recipe = load_recipe(_write(tmp_path, text), quick=True)
    assert [r["name"] for r in recipe["runs"]] == ["t2_z_ia"]
    assert recipe["runs"][0]["train"]["epochs"] == 1 and recipe["data"]["max_objects"] == 50
    full = load_recipe(_write(tmp_path, text, "full.yaml"))
    assert len(full["runs"]) == 2 and full["train"]["epochs"] == 30


def test_summary_counts_core_collapse_contamination_from_the_subtypes():
    prob = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.1, 0.9]])
    s = summarize_predictions(
        ["Ia", "non-Ia", "non-Ia", "non-Ia"], prob, ["Ia", "non-Ia"],
        original_labels=["Ia", "IIP", "Ibc", "II"],
    )
    assert s["ia_purity"] == pytest.approx(1 / 3)
    assert s["cc_contamination"] == pytest.approx(2 / 3)
    assert s["ia_efficiency"] == 1.0
    assert s["ia_roc_auc"] == pytest.approx(1.0)
