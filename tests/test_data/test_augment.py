"""Augmentation of rest-frame SN templates into observed-frame spectra (issue 8, recipe 2)."""

import csv
import tarfile
from pathlib import Path

import numpy as np
import pytest

from skysift.data.augment import (
    REJECTED_NAME,
    augment_spectra,
    broad_type,
    build_dash_spectra,
    normalize_sn_name,
    redshift_rows,
)
from skysift.exceptions import DataFormatError
from skysift.io.store import list_column_to_numpy, open_store

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "astrodash_sn_spectra"
TARBALL = SHARED / "dash_training_set_snid_templates.tar.gz"
REST = np.geomspace(2500.0, 10000.0, 1024)  # DASH's log-lambda rest grid
OBS = np.geomspace(3500.0, 10000.0, 1024)


def gaussian(wl, centre, sigma=15.0, depth=0.8):
    return depth * np.exp(-0.5 * ((wl - centre) / sigma) ** 2)


def lnw_text(name, sn_type, fluxes, wl=REST, ages=None):
    """An SNID .lnw file: header, spline counts, one knot line, ages, rows."""
    n = len(fluxes)
    ages = ages if ages is not None else [float(i) for i in range(n)]
    head = f"{n:5d} {wl.size:5d} {wl[0]:9.2f} {wl[-1]:9.2f}     1  {name}  0.0  {sn_type}  1  1\n"
    knots = "     1" + "  1" * n + "\n" + "     1" + "  3.5  0.1" * n + "\n"
    age_line = "       0" + "".join(f" {a:8.3f}" for a in ages) + "\n"
    rows = "".join(
        f"{w:9.2f}" + "".join(f" {f[i]:9.5f}" for f in fluxes) + "\n" for i, w in enumerate(wl)
    )
    return head + knots + age_line + rows


def write_inputs(tmp_path, *, corrupt=False, zero_epoch=False):
    """Crafted templates (two SNe, one filed under two names) and one galaxy."""
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    line_ia = gaussian(REST, 6150.0, 40.0, -0.5) + 0.02  # SNID pads only outside
    line_ib = gaussian(REST, 5876.0, 40.0, -0.5) + 0.02
    epochs_ia = [line_ia * (1 + 0.1 * k) for k in range(3)]
    if zero_epoch:
        epochs_ia.append(np.zeros_like(REST))
    (tpl / "sn91bg.lnw").write_text(lnw_text("sn91bg", "Ia-91bg", epochs_ia))
    (tpl / "sn1991bg.lnw").write_text(lnw_text("sn1991bg", "Ia-91bg", epochs_ia[:2]))
    (tpl / "sn1999by.lnw").write_text(lnw_text("sn1999by", "Ia-91bg", epochs_ia[:2]))
    (tpl / "sn2008ax.lnw").write_text(lnw_text("sn2008ax", "IIb", [line_ib, line_ib * 0.9]))
    if corrupt:
        (tpl / "broken.lnw").write_text("this is not a template\n1 2 3\n")
    gal = tmp_path / "gal"
    gal.mkdir()
    wl = np.arange(1100.0, 12001.0, 4.0)
    (gal / "E").write_text("".join(f"{w:.1f} {1e-14 * (w / 5000.0):.6e}\n" for w in wl))
    return tpl, gal


def build(tmp_path, name="store", **kw):
    options = {"templates": "tpl", "hosts": "gal", "host_names": ["E"], "min_per_class": 1,
               "copies": 3, "seed": 1}
    options.update(kw)
    return build_dash_spectra(tmp_path / name, data_dir=tmp_path, **options)


# -- physics -------------------------------------------------------------------


@pytest.mark.parametrize("z", [0.0, 0.1, 0.37, 0.8])
def test_line_moves_to_rest_times_one_plus_z(z):
    flux = gaussian(REST, 5000.0, 10.0, 1.0)[None, :]
    fine = np.linspace(3500.0, 10000.0, 65001)  # 0.1 AA pixels
    out = augment_spectra(REST, flux, np.ones_like(flux, bool), z=np.array([z]),
                          snr=np.array([np.inf]), observed_wavelength_aa=fine)
    peak = fine[np.nanargmax(out["flux"][0])]
    # the grid is log-lambda with 1.35e-3 steps: the peak lands within a pixel
    assert peak == pytest.approx(5000.0 * (1 + z), abs=5000.0 * (1 + z) * 1.4e-3)
    # and the shape matches the template read at lambda / (1 + z)
    ref = np.interp(fine / (1 + z), REST, flux[0] + 1.0, left=np.nan, right=np.nan)
    ok = np.isfinite(ref)
    np.testing.assert_allclose(out["flux"][0][ok], ref[ok], atol=1e-5)


def test_uncovered_pixels_are_missing_not_zero():
    flux = np.where(REST < 6000.0, 0.2, 0.0)[None, :]
    covered = (REST < 6000.0)[None, :]
    out = augment_spectra(REST, flux, covered, z=np.array([0.5]), snr=np.array([20.0]),
                          observed_wavelength_aa=OBS, rng=np.random.default_rng(0))
    beyond = OBS > 6000.0 * 1.5 + 10
    before = OBS < 2500.0 * 1.5 - 10
    inside = (OBS > 2500.0 * 1.5 + 10) & (OBS < 6000.0 * 1.5 - 10)
    for region in (beyond, before):
        assert np.isnan(out["flux"][0][region]).all()
        assert out["mask"][0][region].all() and (out["ivar"][0][region] == 0).all()
    assert np.isfinite(out["flux"][0][inside]).all() and not out["mask"][0][inside].any()
    assert out["n_valid"][0] == (~out["mask"][0]).sum()


def test_noise_has_the_requested_snr():
    n = 40
    flux = np.zeros((n, REST.size))  # continuum 1 after the offset
    snr = np.linspace(3.0, 30.0, n)
    out = augment_spectra(REST, flux, np.ones_like(flux, bool), z=np.full(n, 0.2),
                          snr=snr, observed_wavelength_aa=OBS, rng=np.random.default_rng(3))
    noise = out["flux"] - out["sn_flux"]
    measured = np.nanmean(out["sn_flux"], axis=1) / np.nanstd(noise, axis=1)
    # ~800 valid pixels per row: the sample std is good to ~2.5% (1 sigma)
    np.testing.assert_allclose(measured / snr, 1.0, atol=0.12)
    assert abs(np.mean(measured / snr) - 1.0) < 0.02
    valid = ~out["mask"]
    np.testing.assert_allclose(out["ivar"][0][valid[0]], 1.0 / out["sigma"][0] ** 2, rtol=1e-5)


def test_host_fraction_is_the_requested_share_of_flux():
    n = 5
    flux = np.tile(gaussian(REST, 6000.0, 50.0, -0.3), (n, 1))
    g_wl = np.arange(1100.0, 12000.0, 4.0)
    g_fl = 1.0 + 0.5 * (g_wl > 4000.0)  # a 4000 AA break
    fraction = np.array([0.0, 0.1, 0.25, 0.4, 0.5])
    z = np.array([0.05, 0.2, 0.4, 0.6, 0.79])
    out = augment_spectra(REST, flux, np.ones_like(flux, bool), z=z, snr=np.full(n, np.inf),
                          observed_wavelength_aa=OBS, host_wavelength_aa=[g_wl],
                          host_flux=[g_fl], host_index=np.zeros(n, int),
                          host_fraction=fraction)
    ratio = np.nansum(out["host_flux"], axis=1) / np.nansum(out["sn_flux"], axis=1)
    np.testing.assert_allclose(ratio, fraction, atol=1e-12)
    # the galaxy's break sits at 4000 (1 + z) in the observed frame
    host = out["host_flux"][3]
    jump = OBS[np.nanargmax(np.diff(host))]
    assert jump == pytest.approx(4000.0 * 1.6, rel=2e-3)
    # no noise: the observed flux is exactly supernova + host
    np.testing.assert_allclose(out["flux"], out["sn_flux"] + out["host_flux"], rtol=1e-6)


def test_redshift_rows_checks_its_input():
    with pytest.raises(ValueError, match="strictly increasing"):
        redshift_rows(REST[::-1], np.ones((1, REST.size)), np.ones((1, REST.size), bool),
                      np.array([0.1]), OBS)
    with pytest.raises(ValueError, match="z > -1"):
        redshift_rows(REST, np.ones((1, REST.size)), np.ones((1, REST.size), bool),
                      np.array([-1.0]), OBS)


def test_names_and_types():
    assert normalize_sn_name("sn91bg_bsnip") == normalize_sn_name("SN1991bg") == "sn1991bg"
    assert normalize_sn_name("sn07qe") == "sn2007qe"
    assert broad_type("IIb") == "Ib" and broad_type("IIP") == "II" and broad_type("x") is None


# -- the store ---------------------------------------------------------------------


def test_build_groups_copies_and_counts(tmp_path):
    write_inputs(tmp_path)
    info = build(tmp_path, z_range=(0.0, 0.3))
    assert info["n_in"] == (3 + 2 + 2 + 2) * 3 == info["n_out"] + info["n_rejected"]
    store = open_store(tmp_path / "store")
    table = store.read().to_pandas()
    assert len(table) == info["n_out"]
    # one supernova filed twice (sn91bg, sn1991bg) is one group
    assert set(table["group"]) == {"sn1991bg", "sn1999by", "sn2008ax"}
    assert info["n_supernovae"] == 3
    for template, rows in table.groupby(table["object_id"].str.rsplit(":", n=1).str[0]):
        assert rows["group"].nunique() == 1, template
        assert sorted(rows["copy"]) == list(range(3))
    assert set(table["label"]) == {"Ia", "Ib"}  # IIb is a broad Ib
    assert set(table["snid_type"]) == {"Ia-91bg", "IIb"}
    assert (table["redshift"].between(0.0, 0.3)).all()
    assert (table["host"] == "E").all() and table["host_fraction"].between(0, 0.5).all()
    flux = list_column_to_numpy(store.read(["flux"]).column("flux"))
    mask = list_column_to_numpy(store.read(["mask"]).column("mask"))
    assert np.array_equal(np.isnan(flux), mask)


def test_build_is_deterministic_by_seed(tmp_path):
    write_inputs(tmp_path)
    build(tmp_path, "a", seed=7)
    build(tmp_path, "b", seed=7)
    build(tmp_path, "c", seed=8)
    a, b, c = (open_store(tmp_path / n).read().to_pandas() for n in "abc")
    assert a.drop(columns=["flux"]).equals(b.drop(columns=["flux"]))
    np.testing.assert_array_equal(np.stack(a["flux"]), np.stack(b["flux"]))
    assert not np.allclose(a["redshift"], c["redshift"])


def test_build_rejects_with_reasons(tmp_path):
    write_inputs(tmp_path, corrupt=True, zero_epoch=True)
    info = build(tmp_path, labels="subtypes", min_per_class=2)
    assert info["n_files_rejected"] == 1
    assert info["n_in"] == info["n_out"] + info["n_rejected"]
    # the empty epoch, and the subtype with one supernova (IIb), are rejected
    assert info["rejected"]["no flux in the template epoch"] == 3
    assert info["rejected"]["class IIb has 1 supernovae < min_per_class=2"] == 2 * 3
    with open(tmp_path / "store" / REJECTED_NAME) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == info["n_rejected"] + 1
    broken = [r for r in rows if r["source"].endswith("broken.lnw")]
    assert len(broken) == 1 and "not an SNID .lnw header" in broken[0]["reason"]
    assert info["classes"] == {"Ia-91bg": info["n_out"]}


def test_build_rejects_spectra_shifted_out_of_the_window(tmp_path):
    write_inputs(tmp_path)
    # templates cover rest 2500-10000 AA: 90% of the log-lambda window
    # 3500-10000 stays covered while 2500 (1 + z) <= 10000**0.1 * 3500**0.9
    z_max = 10000**0.1 * 3500**0.9 / 2500 - 1  # 0.555
    info = build(tmp_path, z_range=(0.0, 0.8), min_valid_fraction=0.9, copies=8)
    assert info["n_out"] > 0 and info["n_rejected"] > 0
    assert info["n_in"] == info["n_out"] + info["n_rejected"]
    kept = open_store(tmp_path / "store").read(["redshift"]).column("redshift").to_numpy()
    assert kept.max() <= z_max + 0.01
    with open(tmp_path / "store" / REJECTED_NAME) as f:
        reasons = [r["reason"] for r in csv.DictReader(f)]
    zs = [float(r.split("z=")[1].split(":")[0]) for r in reasons]
    assert len(zs) == info["n_rejected"] and min(zs) >= z_max - 0.01
    with pytest.raises(DataFormatError, match="no row survived"):
        build(tmp_path, "none", z_range=(0.79, 0.8), min_valid_fraction=0.9)


def test_build_bad_input(tmp_path):
    write_inputs(tmp_path)
    with pytest.raises(FileNotFoundError, match="nope"):
        build(tmp_path, templates="nope")
    with pytest.raises(FileNotFoundError, match=r"not found: \['Sc'\]"):
        build(tmp_path, host_names=["Sc"])
    with pytest.raises(ValueError, match="labels must be"):
        build(tmp_path, labels="colour")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataFormatError, match=r"no \.lnw file"):
        build(tmp_path, templates="empty")
    (tmp_path / "junk.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataFormatError, match="archive unreadable"):
        build(tmp_path, templates="junk.tar.gz")


def test_build_reads_tar_archives(tmp_path):
    tpl, gal = write_inputs(tmp_path)
    with tarfile.open(tmp_path / "tpl.tar.gz", "w:gz") as tar:
        tar.add(tpl, arcname="training_set")
    with tarfile.open(tmp_path / "gal.tar.gz", "w:gz") as tar:
        tar.add(gal, arcname="superfit_templates/gal")
    from_tar = build(tmp_path, "t", templates="tpl.tar.gz", hosts="gal.tar.gz")
    from_dir = build(tmp_path, "d")
    assert from_tar["n_out"] == from_dir["n_out"]
    a = open_store(tmp_path / "t").read().to_pandas().sort_values("object_id")
    b = open_store(tmp_path / "d").read().to_pandas().sort_values("object_id")
    assert list(a["object_id"]) == list(b["object_id"])


@pytest.mark.slow
@pytest.mark.skipif(not TARBALL.exists(), reason="../shared/data/astrodash_sn_spectra absent")
def test_real_dash_archive(tmp_path):
    info = build_dash_spectra(tmp_path / "dash", data_dir=SHARED.parent, seed=0, copies=1,
                              max_epochs_per_sn=1)
    # 514 template files of 402 supernovae once names are normalised
    assert info["n_files"] == 514 and info["n_files_rejected"] == 0
    assert info["n_epochs_read"] == 4813
    assert info["n_in"] == 4813 - info["n_epochs_unselected"] == 402
    assert info["n_in"] == info["n_out"] + info["n_rejected"]
    assert set(info["classes"]) == {"Ia", "Ib", "Ic", "II"}
    table = open_store(tmp_path / "dash").read(["group", "label"]).to_pandas()
    assert table.groupby("group")["label"].nunique().max() == 1
