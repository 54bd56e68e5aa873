"""Recipes: the format's checks, a synthetic recipe end to end, and SNPCC's quick version."""

import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from skysift.exceptions import SkysiftError
from skysift.recipes import (
    load_recipe,
    resolve_data_dir,
    run_recipe,
    summarize_predictions,
)

REPO = Path(__file__).resolve().parents[1]
SNPCC_RECIPE = REPO / "recipes" / "snpcc_representative.yaml"
SNPCC_FULL = REPO / "recipes" / "snpcc.yaml"

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
    # each row carries the validation loss that chose its epoch / number of trees
    history = pd.read_csv(out / "runs" / "t2_z_ia" / "metrics.csv")
    assert rows["t2_z_ia"]["val_loss"] == pytest.approx(history["val_loss"].min(), rel=1e-6)
    trees = json.loads((out / "runs" / "baseline_z_ia" / "baseline.json").read_text())
    assert rows["baseline_z_ia"]["val_loss"] == trees["val_loss"] > 0
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
    # ... and the same once the output directory has been moved (its files record where
    # they were made): nothing is prepared or trained again
    import shutil

    moved = tmp_path / "elsewhere" / "out"
    shutil.copytree(out, moved)
    shutil.rmtree(out)
    markers = [moved / m.relative_to(out) for m in markers]
    before = [m.stat().st_mtime_ns for m in markers]
    builds = sorted(p.name for p in (moved / "work").glob("*/*"))
    again = run_recipe(recipe, quick=True, out=moved, runs=["baseline_z_ia", "t2_z_ia"])
    assert [m.stat().st_mtime_ns for m in markers] == before
    assert all(r["reused"] for r in again["runs"])
    assert sorted(p.name for p in (moved / "work").glob("*/*")) == builds  # no second build
    with pytest.raises(SkysiftError, match=r"no run\(s\) named \['atx'\]"):
        run_recipe(recipe, quick=True, out=out, runs=["atx"])


@pytest.mark.slow
def test_snpcc_quick_recipes_run_both_splits_and_learn(tmp_path):
    """Both recipe-1 files, quick; one output directory, so SNPCC is ingested once."""
    try:
        resolve_data_dir(load_recipe(SNPCC_FULL))
    except FileNotFoundError:
        pytest.skip("../shared/data (SNPCC) is absent")
    full = load_recipe(SNPCC_FULL)
    assert len(full["runs"]) == 71  # the matrix (28), twenty-six t2 runs to convergence, four ensembles, two asinh atx, eight re-weighted baselines, three ablations
    out = tmp_path / "snpcc"
    summary = run_recipe(SNPCC_FULL, quick=True, out=out)
    rows = {r["run"]: r for r in summary["runs"]}
    assert set(rows) == {"t2_norm_z_ia", "t2_asinh_z_ia_long_weighted", "baseline_z_ia",
                         "baseline_z_ia_biased"}
    # representative: the networks on peak-normalised and on arcsinh-compressed
    # curves, and the baseline, learn (chance: Ia AUC 0.5)
    assert rows["baseline_z_ia"]["ia_roc_auc"] > 0.75
    assert rows["t2_norm_z_ia"]["ia_roc_auc"] > 0.65
    assert rows["t2_asinh_z_ia_long_weighted"]["ia_roc_auc"] > 0.65
    # biased: the training pool is exactly the spectroscopically confirmed objects
    from skysift.io.store import open_store

    key = rows["baseline_z_ia_biased"]["split"]
    split = pd.read_csv(out / "splits" / f"{key}.csv", dtype=str)
    raw = open_store(out / "work" / "subset-400").read(["object_id", "spectro_confirmed"]).to_pandas()
    confirmed = set(raw.loc[raw["spectro_confirmed"], "object_id"].astype(str))
    assert set(split.loc[split["split"] != "test", "object_id"]) == confirmed
    assert set(split.loc[split["split"] == "test", "object_id"]) == set(raw["object_id"]) - confirmed
    assert len(confirmed) == 200  # quick subsets give each side of the split half
    assert rows["baseline_z_ia_biased"]["ia_roc_auc"] > 0.6

    # 1a's recipe, in the same directory: the ingest is reused
    mark = (out / "work" / "raw" / "_recipe_cache.json").stat().st_mtime_ns
    summary = run_recipe(SNPCC_RECIPE, quick=True, out=out)
    assert (out / "work" / "raw" / "_recipe_cache.json").stat().st_mtime_ns == mark
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


NO_DATA = """
    name: x
    ingest: {kind: lightcurves, paths: [snpcc/a.tar.gz], data_dir: no_such_dir}
    prepare: {gp: {kind: lightcurves, steps: [gp]}}
    tasks: {all: {}}
    runs: [{name: a, model: t2, prepare: gp, task: all}]
"""


def test_absent_data_directory_is_a_clear_error(tmp_path):
    recipe = _write(tmp_path, NO_DATA)
    with pytest.raises(FileNotFoundError, match="shared data directory is absent"):
        run_recipe(recipe, out=tmp_path / "out")


def test_a_second_run_into_the_same_output_directory_is_refused(tmp_path):
    from skysift.recipes import _exclusive

    recipe = _write(tmp_path, NO_DATA)
    out = tmp_path / "out"
    with _exclusive(out):  # as another invocation holding OUT would
        with pytest.raises(SkysiftError, match=r"another `skysift run` is using this output "
                           r"directory \(pid \d+, since .* UTC\)"):
            run_recipe(recipe, out=out)
        with pytest.raises(SkysiftError, match="another"):  # still held
            run_recipe(recipe, out=out)
    for _ in range(2):  # released, also after a run that failed while holding it
        with pytest.raises(FileNotFoundError, match="shared data directory is absent"):
            run_recipe(recipe, out=out)


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


# --- the framework: builders, predefined splits, regression, evaluate_on, after-hooks ---


def _fake_prepared(out, *, data_dir, seed, n=160, classes=("A", "B"), shift=0, **options):
    """A fake builder: a prepared 'spectra' store whose class (and z) a small model can learn.

    Class c has a bump at pixel 16 + 24 c; the bump's width grows with the
    redshift. Rows carry ``split`` (TRAIN for the first 75%), ``group``
    (pairs of rows) and ``spectro_confirmed`` columns.
    """
    from skysift.io.store import write_store

    rng = np.random.default_rng(seed + shift)
    pix = np.arange(64)
    labels = np.array([classes[i % len(classes)] for i in range(n)])
    z = rng.uniform(0.1, 0.9, n)
    centre = np.array([16 + 24 * (classes.index(c) % 2) for c in labels])
    x = np.exp(-0.5 * ((pix[None, :] - centre[:, None]) / (2 + 6 * z[:, None])) ** 2)
    x = (x + rng.normal(0, 0.05, x.shape)).astype(np.float32)
    table = {
        "object_id": [f"{options.get('prefix', 'o')}{i}" for i in range(n)],
        "label": labels.tolist(),
        "redshift": z,
        "split": np.where(np.arange(n) < int(0.75 * n), "TRAIN", "TEST").tolist(),
        "spectro_confirmed": (np.arange(n) % 4 != 0).tolist(),
        "group": [f"g{i // 2}" for i in range(n)],
        "x": x,
        "extra": np.zeros((n, 0), np.float32),
    }
    attrs = {"input_shape": [1, 64], "n_extra": 0, "source_kind": "spectra",
             "pipeline": {"format_version": 1, "kind": "spectra", "steps": []}}
    write_store(out, table, kind="prepared", attrs=attrs)
    return {"n_in": n, "n_out": n, "n_rejected": 0, "options": sorted(options)}


FRAMEWORK = """
name: framework
seed: 5
ingest: {builder: fake, prefix: o}
prepare: {as_is: {kind: prepared}}
tasks:
  ab: {}
  z: {target: redshift}
data: {split: representative, test_size: 0.25, val_size: 0.15}
train: {epochs: 6, batch_size: 32, lr: 0.01, accelerator: cpu, patience: 20}
runs:
  - {name: mlp_ab, model: mlp, prepare: as_is, task: ab,
     params: {hidden_dims: [32], drop_rate: 0.0}}
  - {name: mlp_ab_column, model: mlp, prepare: as_is, task: ab,
     params: {hidden_dims: [32], drop_rate: 0.0},
     data: {split: column, split_column: split, train_values: [TRAIN], val_size: 0.2}}
  - {name: mlp_ab_grouped, model: mlp, prepare: as_is, task: ab,
     params: {hidden_dims: [32], drop_rate: 0.0}, data: {split: grouped}}
  - {name: cnn_z, model: cnn1d_strided_regressor, prepare: as_is, task: z,
     params: {conv_channels: [8, 8], fc_dims: [16], kernel_size: 5}}
evaluate_on:
  other: {builder: fake, prefix: x, n: 40, classes: [A, B, C], shift: 1}
after:
  - {call: "tests_recipe_hooks:hook", title: demo}
"""


@pytest.fixture
def fake_builder(monkeypatch, tmp_path):
    import sys
    import types

    from skysift import recipes

    module = types.ModuleType("tests_recipe_fake")
    module.build = _fake_prepared
    calls = []

    def hook(out, *, stores, seed, title):
        calls.append({"stores": dict(stores), "seed": seed, "title": title})
        (out / "map.png").write_bytes(b"png")
        return {"figures": ["map.png"], "n": len(stores)}

    hooks = types.ModuleType("tests_recipe_hooks")
    hooks.hook = hook
    monkeypatch.setitem(sys.modules, "tests_recipe_fake", module)
    monkeypatch.setitem(sys.modules, "tests_recipe_hooks", hooks)
    monkeypatch.setitem(recipes.BUILDERS, "fake", "tests_recipe_fake:build")
    return calls


def test_builtin_builders_are_registered_lazily():
    from skysift.recipes import BUILDERS

    assert BUILDERS["uea"] == "skysift.io.uea:build_uea_store"
    assert BUILDERS["dash_spectra"] == "skysift.data.augment:build_dash_spectra"
    assert set(BUILDERS) >= {"halpha_synthetic", "ondrejov_real", "lamost_real"}
    assert all(":" in v for v in BUILDERS.values())


def test_unknown_builder_names_the_file_and_the_known_ones(tmp_path):
    recipe = _write(tmp_path, FRAMEWORK.replace("builder: fake, prefix: o", "builder: nope"))
    with pytest.raises(SkysiftError, match=r"r\.yaml.*unknown builder 'nope'; known builders: "
                                           r"\['dash_spectra'"):
        load_recipe(recipe)


def test_column_split_needs_its_column_and_values(tmp_path, fake_builder):
    text = textwrap.dedent(FRAMEWORK).replace(
        "data: {split: representative,", "data: {split: column, split_column: split,")
    with pytest.raises(SkysiftError, match=r"needs split_column .* and train_values"):
        load_recipe(_write(tmp_path, text))
    text = textwrap.dedent(FRAMEWORK).replace("split: grouped", "split: biased")
    with pytest.raises(SkysiftError, match="split_column: spectro_confirmed"):
        load_recipe(_write(tmp_path, text, "b.yaml"))
    text = textwrap.dedent(FRAMEWORK).replace(
        "task: ab,\n     params: {hidden_dims: [32], drop_rate: 0.0}}",
        "task: z,\n     params: {hidden_dims: [32], drop_rate: 0.0}}", 1).replace(
        "model: mlp,", "model: baseline,", 1)
    with pytest.raises(SkysiftError, match="baseline is a classifier only"):
        load_recipe(_write(tmp_path, text, "c.yaml"))


@pytest.mark.slow
def test_builder_splits_regression_evaluate_on_and_hooks(tmp_path, fake_builder):
    recipe = _write(tmp_path, FRAMEWORK)
    out = tmp_path / "out"
    summary = run_recipe(recipe, out=out)
    rows = [r for r in summary["runs"] if "on" not in r]
    by_name = {r["run"]: r for r in rows}
    # the builder's store was used and cached with its info
    cache = json.loads((out / "work" / "raw" / "_recipe_cache.json").read_text())
    assert cache["n_out"] == 160 and cache["spec"]["builder"] == "fake"

    # representative: 25% test of 160, stratified
    rep = pd.read_csv(out / "splits" / "ab.csv", dtype=str)
    assert (rep["split"] == "test").sum() == 40
    # column: TRAIN rows (first 120) are the pool, 20% of it validation; TEST rows are test
    col_key = by_name["mlp_ab_column"]["split"]
    col = pd.read_csv(out / "splits" / f"{col_key}.csv", dtype=str)
    test_ids = set(col.loc[col["split"] == "test", "object_id"])
    assert test_ids == {f"o{i}" for i in range(120, 160)}
    assert (col["split"] == "val").sum() == 24 and (col["split"] == "train").sum() == 96
    pred = pd.read_parquet(out / "runs" / "mlp_ab_column" / "test_predictions.parquet")
    assert set(pred["object_id"]) == test_ids
    # grouped: the two rows of a group never straddle splits
    grp_key = by_name["mlp_ab_grouped"]["split"]
    grp = pd.read_csv(out / "splits" / f"{grp_key}.csv", dtype=str)
    grp["group"] = grp["object_id"].str[1:].astype(int) // 2
    assert grp.groupby("group")["split"].nunique().max() == 1
    assert len({"ab", col_key, grp_key}) == 3

    # the classifiers learn (chance: 0.5)
    for name in ("mlp_ab", "mlp_ab_column", "mlp_ab_grouped"):
        assert by_name[name]["accuracy"] > 0.85, name
    # regression row: metrics recomputed from the saved predictions by formula
    z = by_name["cnn_z"]
    zp = pd.read_parquet(out / "runs" / "cnn_z" / "test_predictions.parquet")
    dz = zp["pred_redshift"] - zp["true_redshift"]
    assert z["mae"] == pytest.approx(np.abs(dz).mean(), rel=1e-6)
    assert z["rmse"] == pytest.approx(np.sqrt((dz**2).mean()), rel=1e-6)
    assert z["outlier_fraction"] == pytest.approx((np.abs(dz / (1 + zp["true_redshift"])) > 0.15).mean())
    assert z["regression"] and "log_loss" not in z

    # evaluate_on: a row per trained model; class C is unknown to the models, counted
    on = [r for r in summary["runs"] if r.get("on") == "other"]
    assert {r["run"] for r in on} == {"mlp_ab", "mlp_ab_column", "mlp_ab_grouped", "cnn_z"}
    ab_on = next(r for r in on if r["run"] == "mlp_ab")
    n_c = sum(1 for i in range(40) if i % 3 == 2)
    assert ab_on["n_unknown"] == n_c and ab_on["n_test"] == 40 - n_c
    assert ab_on["unknown_reasons"] == {"class 'C' unknown to the model": n_c}
    assert (out / "runs" / "mlp_ab" / "on-other" / "report.html").exists()
    assert ab_on["accuracy"] > 0.6
    z_on = next(r for r in on if r["run"] == "cnn_z")
    assert z_on["n_test"] == 40 and "mae" in z_on

    # after-hook: called once with the prepared stores; its figure is linked
    assert len(fake_builder) == 1 and fake_builder[0]["seed"] == 5
    assert set(fake_builder[0]["stores"]) == {"train", "other"}
    table = (out / "results.md").read_text()
    assert "[map.png](map.png)" in table and "| cnn_z |" in table and "NMAD" in table
    assert summary["after"][0]["figures"] == ["map.png"]


ENSEMBLE = SYNTHETIC.replace("""quick: {train: {epochs: 4}}""", """\
  - {name: t2_z_ia_seed11, model: t2, prepare: gp_z, task: ia_vs_non_ia,
     params: {d_model: 16, num_heads: 2, ff_dim: 32}, train: {seed: 11}}
  - {name: t2_mean, model: ensemble, members: [t2_z_ia, t2_z_ia_seed11]}
quick: {train: {epochs: 3}}""")


@pytest.mark.slow
def test_seeded_members_share_the_split_and_the_ensemble_averages_them(tmp_path):
    out = tmp_path / "out"
    summary = run_recipe(_write(tmp_path, ENSEMBLE), quick=True, out=out,
                         runs=["t2_z_ia", "t2_z_ia_seed11", "t2_mean"])
    rows = {r["run"]: r for r in summary["runs"]}
    assert rows["t2_mean"]["epochs"] == "mean of 2" and rows["t2_mean"]["redshift"]
    preds = {r: pd.read_parquet(out / "runs" / r / "test_predictions.parquet")
             .sort_values("object_id").reset_index(drop=True) for r in rows}
    cols = ["prob_SNIa", "prob_non-Ia"]
    a, b = preds["t2_z_ia"][cols].to_numpy(), preds["t2_z_ia_seed11"][cols].to_numpy()
    assert np.abs(a - b).max() > 1e-3  # another seed: other weights ...
    # ... on the same split (run_recipe checks every run's test ids against it)
    assert list(preds["t2_z_ia"]["object_id"]) == list(preds["t2_z_ia_seed11"]["object_id"])
    np.testing.assert_allclose(preds["t2_mean"][cols].to_numpy(), (a + b) / 2, rtol=1e-12)
    assert (out / "runs" / "t2_mean" / "report.html").exists()
    # the row's metrics are those of the averaged probabilities
    y = (preds["t2_mean"]["true_class"] == "SNIa").to_numpy()
    from skysift.evaluation.metrics import weighted_log_loss
    expected = weighted_log_loss((~y).astype(int), (a + b) / 2)
    assert rows["t2_mean"]["log_loss"] == pytest.approx(expected, rel=1e-9)
    # saved as one model (for predict / export) that gives the same mean
    from skysift.training.checkpoint import load_model

    ens = load_model(out / "runs" / "t2_mean")
    assert [Path(p).parent.name for p in ens.metadata["members"]] == ["t2_z_ia", "t2_z_ia_seed11"]
    assert ens.metadata["test_metrics"]["log_loss"] == pytest.approx(expected, rel=1e-9)
    members = [load_model(out / "runs" / r) for r in ("t2_z_ia", "t2_z_ia_seed11")]
    x, extra = torch.randn(6, *ens.input_shape), torch.randn(6, ens.num_extra_features)
    with torch.inference_mode():
        mean = sum(m.model(x, extra).double().softmax(1) for m in members) / 2
        torch.testing.assert_close(ens.model(x, extra).double().softmax(1), mean, atol=1e-6, rtol=0)


def test_ensemble_runs_are_checked(tmp_path):
    bad = ENSEMBLE.replace("members: [t2_z_ia, t2_z_ia_seed11]", "members: [t2_z_ia, nope]")
    with pytest.raises(SkysiftError, match=r"members \['nope'\] are not runs listed before it"):
        load_recipe(_write(tmp_path, bad))
    one = ENSEMBLE.replace("members: [t2_z_ia, t2_z_ia_seed11]", "members: [t2_z_ia]")
    with pytest.raises(SkysiftError, match="needs members"):
        load_recipe(_write(tmp_path, one))
    out = tmp_path / "o"
    with pytest.raises(SkysiftError, match="member 't2_z_ia' has no"):
        run_recipe(_write(tmp_path, ENSEMBLE), quick=True, out=out, runs=["t2_mean"])


def test_ensemble_of_regressors_averages_their_predictions(tmp_path):
    import json

    from skysift.recipes import _ensemble

    rng = np.random.default_rng(0)
    ids = [f"o{i}" for i in range(20)]
    z = rng.uniform(0.0, 0.8, 20)
    preds = [z + rng.normal(0.0, 0.05, 20) for _ in range(2)]
    for name, pred in zip(["a", "b"], preds, strict=True):
        (tmp_path / "runs" / name).mkdir(parents=True)
        pd.DataFrame({"object_id": ids, "true_redshift": z, "pred_redshift": pred}).iloc[::-1] \
            .to_parquet(tmp_path / "runs" / name / "test_predictions.parquet", index=False)
    run = {"name": "mean", "members": ["a", "b"]}
    _ensemble(run, tmp_path, None, {}, True, "r")
    out = pd.read_parquet(tmp_path / "runs" / "mean" / "test_predictions.parquet")
    assert list(out.columns) == ["object_id", "true_redshift", "pred_redshift"]
    assert list(out["object_id"]) == sorted(ids)  # members were stored in another order
    order = np.argsort(ids)
    np.testing.assert_allclose(out["pred_redshift"], ((preds[0] + preds[1]) / 2)[order])
    np.testing.assert_allclose(out["true_redshift"], z[order])
    metrics = json.loads((tmp_path / "runs" / "mean" / "metrics.json").read_text())
    assert metrics  # the regression report was written

