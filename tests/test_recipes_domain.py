"""Recipe 3 (seed 001 domain adaptation), CI's reduced version on the real files.

``recipes/ondrejov_lamost.yaml --quick``: 240 synthetic H-alpha spectra, two
epochs of vgg1d, evaluated on the 25 real Ondrejov and 23 LAMOST spectra of
../shared/data (skipped when it is absent). Checks that it runs, learns
beyond chance, and that the real sets arrive whole and labelled.
"""

import json
from pathlib import Path

import pytest

from skysift.recipes import load_recipe, resolve_data_dir, run_recipe

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "ondrejov_lamost.yaml"


def _data_dir():
    try:
        data = resolve_data_dir(load_recipe(RECIPE))
    except FileNotFoundError:
        return None
    return (
        data if (data / "ondrejov_lamost_spectra" / "bt-spectraldl").is_dir() else None
    )


needs_data = pytest.mark.skipif(
    _data_dir() is None, reason="../shared/data/ondrejov_lamost_spectra is absent"
)


def test_recipe_loads_with_its_quick_block():
    full, quick = load_recipe(RECIPE), load_recipe(RECIPE, quick=True)
    assert (
        full["ingest"]["builder"] == "halpha_synthetic" and full["ingest"]["n"] == 3000
    )
    assert quick["ingest"]["n"] == 240 and [r["name"] for r in quick["runs"]] == [
        "vgg1d_synthetic"
    ]
    assert set(full["evaluate_on"]) == {"ondrejov", "lamost", "lamost_flagged_dropped"}
    steps = full["prepare"]["lamost_140"]["steps"]
    assert steps[0] == "air_to_vacuum" and steps[-1] == "standardize"
    assert steps[2] == {"regrid": {"start_aa": 6519.0, "stop_aa": 6732.0, "num": 140}}


@needs_data
@pytest.mark.slow
def test_quick_recipe_runs_and_learns(tmp_path):
    out = tmp_path / "out"
    summary = run_recipe(RECIPE, quick=True, out=out)
    rows = {r.get("on") or "test": r for r in summary["runs"]}
    assert set(rows) == {"test", "ondrejov", "lamost", "lamost_flagged_dropped"}
    # the real sets arrive whole: every labelled spectrum evaluated
    assert (rows["ondrejov"]["n_test"], rows["lamost"]["n_test"]) == (25, 23)
    assert rows["ondrejov"]["n_unknown"] == rows["lamost"]["n_unknown"] == 0
    # learns: chance is 1/3 on the balanced synthetic test split and an
    # AUC of 0.5 anywhere
    assert rows["test"]["accuracy"] > 0.5 and rows["test"]["roc_auc_macro"] > 0.8
    for name in ("ondrejov", "lamost"):
        assert rows[name]["roc_auc_micro"] > 0.8, rows[name]
    metrics = json.loads(
        (out / "runs" / "vgg1d_synthetic" / "on-lamost" / "metrics.json").read_text()
    )
    support = {c["name"]: c["support"] for c in metrics["per_class"]}
    assert support == {"absorption": 18, "double-peak": 1, "emission": 4}
    # the map of the three sets was drawn
    saved = json.loads((out / "results.json").read_text())
    figures = saved["after"][0]["figures"]
    assert figures == ["domain_map_pca.png", "domain_map_tsne.png"]
    assert all((out / f).stat().st_size > 10_000 for f in figures)
