"""``skysift plot lightcurve`` and :func:`plot_lightcurve`."""

import json

import numpy as np
import pytest
import yaml

from skysift.cli.main import main
from skysift.data import LightCurve
from skysift.data.lightcurve_plot import BAND_COLORS, plot_lightcurve
from skysift.data.synthetic import synthesize_store
from skysift.preprocessing.gp import fit_gaussian_process


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batched ops: threads cost more than they gain
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def lc_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("plot") / "lc"
    synthesize_store(path, "lightcurves", 12, survey="ztf", seed=3)
    return str(path)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def read_png(path):
    import matplotlib.image as mpimg

    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
    assert image[..., :3].std() > 0.05  # not a blank canvas
    return image


def test_plot_lightcurve_with_gp(lc_store, tmp_path, capsys):
    out = tmp_path / "lc.png"
    code, text, err = run(
        capsys, "plot", "lightcurve", lc_store, "lc-00000002", "--out", str(out)
    )
    assert code == 0, err
    assert f"wrote {out}" in text and "GP: amplitude" in text and "flags:" in text
    read_png(out)


def test_plot_lightcurve_without_gp_and_default_name(
    lc_store, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    code, text, _ = run(
        capsys, "plot", "lightcurve", lc_store, "lc-00000001", "--no-gp"
    )
    assert code == 0 and "GP:" not in text
    read_png(tmp_path / "lc-00000001.png")


@pytest.mark.parametrize("form", ["params", "pipeline", "saved"])
def test_gp_config_forms(lc_store, tmp_path, capsys, form):
    from skysift.preprocessing import Pipeline

    params = {"survey": "ztf", "num_points": 30, "time_range": "peak"}
    pipeline = {"kind": "lightcurves", "steps": [{"gp": params}, "extra_features"]}
    if form == "params":
        config = tmp_path / "gp.yaml"
        config.write_text(yaml.safe_dump(params))
    elif form == "pipeline":
        config = tmp_path / "prep.yaml"
        config.write_text(yaml.safe_dump(pipeline))
    else:
        config = tmp_path / "_pipeline.json"
        config.write_text(json.dumps(Pipeline.from_config(pipeline).to_dict()))
    out = tmp_path / f"{form}.png"
    code, _, err = run(
        capsys, "plot", "lightcurve", lc_store, "lc-00000000", "--out", str(out),
        "--gp-config", str(config),
    )  # fmt: skip
    assert code == 0, err
    read_png(out)


def test_errors_are_readable(lc_store, tmp_path, capsys):
    code, _, err = run(capsys, "plot", "lightcurve", lc_store, "no-such-object")
    assert code == 1 and "no-such-object" in err
    config = tmp_path / "spectra.yaml"
    config.write_text(yaml.safe_dump({"kind": "spectra", "steps": ["standardize"]}))
    code, _, err = run(
        capsys, "plot", "lightcurve", lc_store, "lc-00000000", "--gp-config",
        str(config), "--out", str(tmp_path / "x.png"),
    )  # fmt: skip
    assert code == 2 and "no 'gp' step" in err


def test_spectra_store_is_refused(tmp_path, capsys):
    spec = tmp_path / "spec"
    synthesize_store(spec, "gaussian-lines", 4, seed=0)
    code, _, err = run(capsys, "plot", "lightcurve", str(spec), "x")
    assert code == 2 and "not light curves" in err


def test_plot_lightcurve_draws_points_mean_and_band_per_band():
    lc = LightCurve(
        "sn7",
        [0.0, 5, 10, 15, 20, 8, 14],
        list("gggggrr"),
        [1.0, 6, 9, 7, 4, 8, 6],
        [0.4] * 7,
        label="SNIa",
        redshift=0.12,
        redshift_err=0.01,
    )
    bands = {"g": 4827.0, "r": 6223.0, "i": 7546.0}
    gp = fit_gaussian_process(
        [lc.time_mjd], [lc.band], [lc.flux], [lc.flux_err], band_wavelengths=bands,
        return_var=True,
    )  # fmt: skip
    fig = plot_lightcurve(lc, gp, flux_unit="FLUXCAL")
    ax = fig.axes[0]
    assert ax.get_title() == "sn7  label=SNIa  z=0.120±0.010"
    assert ax.get_ylabel() == "flux (FLUXCAL)" and "days since MJD" in ax.get_xlabel()
    assert len(ax.containers) == 2  # error bars for the observed g and r
    assert len(ax.collections) >= 3  # a 1-sigma band for each of g, r, i
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 100]
    assert len(lines) == 3
    assert lines[2].get_linestyle() == "--"  # i: no observations
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["g", "r", "i (GP only, no data)"]
    colors = {c.get_label(): c.lines[0].get_color() for c in ax.containers}
    assert colors["g"] == BAND_COLORS["g"]


def test_plot_lightcurve_shows_flags_and_works_without_variance():
    lc = LightCurve("one", [3.0], ["g"], [10.0], [1.0])
    gp = fit_gaussian_process(
        [lc.time_mjd], [lc.band], [lc.flux], [lc.flux_err],
        band_wavelengths={"g": 4800.0},
    )  # fmt: skip
    fig = plot_lightcurve(lc, gp)
    assert "GP flags: one_point" in fig.axes[0].get_title()
    assert np.isfinite(fig.axes[0].get_ylim()).all()
