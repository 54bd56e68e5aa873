"""Recipe 3's data-set builders (skysift.data.domain) on hand-made files.

A small folder laid out like ``bt-spectraldl`` is written here: Ondrejov
IVOA spectral tables (air wavelengths, publisher ids), LAMOST image-layout
files (log-linear vacuum grid, ivar zeroed over an H-alpha emission peak as
LAMOST does), the label catalogue and the cross-match list, plus files that
must be rejected (corrupt, unlabelled, label "unknown", no partner).
"""

import csv
import math

import numpy as np
import pytest
from astropy.io import fits

from skysift.data.domain import (
    REJECTED_NAME,
    build_halpha_synthetic,
    build_lamost_real,
    build_ondrejov_real,
    map_domains,
)
from skysift.data.synthetic import HALPHA_AIR_AA, HALPHA_VACUUM_AA
from skysift.exceptions import DataFormatError
from skysift.io.store import open_store
from skysift.preprocessing.pipeline import Pipeline

DIR = "ondrejov_lamost_spectra/bt-spectraldl"
PREPARE = {
    "kind": "spectra",
    "steps": [
        "air_to_vacuum",
        {"blur_to_resolution": {"resolving_power": 1800.0}},
        {"regrid": {"start_aa": 6519.0, "stop_aa": 6732.0, "num": 140}},
        "standardize",
    ],
}


def _profile(wl, centre, kind, rng):
    g = np.exp(-0.5 * ((wl - centre) / 2.0) ** 2)
    line = {"emission": 2.0 * g, "absorption": -0.5 * g, "flat": 0.0 * g}[kind]
    return 1.0 + line + rng.normal(0, 0.01, wl.size)


def _ondrejov(path, stem, kind, rng):
    wl = np.linspace(6282.0, 6733.0, 1953)
    cols = [
        fits.Column(name="spectral", format="D", unit="Angstrom", array=wl),
        fits.Column(
            name="flux", format="D", array=_profile(wl, HALPHA_AIR_AA, kind, rng)
        ),
    ]
    hdu = fits.BinTableHDU.from_columns(cols)
    hdu.header.comments["TTYPE1"] = "Air wavelength"
    hdu.header["DS_IDPUB"] = f"ivo://asu.cas.cz/stel/ccd700/{stem}"
    hdu.header["OBJECT"] = f"star {stem}"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)


LAMOST_WL = 10 ** (math.log10(3700.0) + 1e-4 * np.arange(3900))
#: pixels the LAMOST emission file has ivar = 0 on, all inside 6519-6732 A
ZEROED = int((np.abs(LAMOST_WL - HALPHA_VACUUM_AA) < 4.0).sum())


def _lamost(path, kind, rng, zero_peak=False):
    n = 3900
    coeff0, coeff1 = math.log10(3700.0), 1e-4
    wl = LAMOST_WL
    flux = 1000.0 * _profile(wl, HALPHA_VACUUM_AA, kind, rng)
    ivar = np.full(n, 1e-3)
    if zero_peak:  # LAMOST's flags over strong emission
        ivar[np.abs(wl - HALPHA_VACUUM_AA) < 4.0] = 0.0
    image = np.vstack([flux, ivar, flux, np.zeros(n), np.zeros(n)]).astype(np.float32)
    hdu = fits.PrimaryHDU(image)
    hdu.header.update(
        TELESCOP="LAMOST", COEFF0=coeff0, COEFF1=coeff1, VACUUM=True,
        EXTEN0="Flux Inverse Subcontinuum Andmask Ormask", CLASS="STAR",
        FILENAME=path.name,
    )  # fmt: skip
    hdu.writeto(path)


@pytest.fixture
def data_dir(tmp_path):
    """A shared-data folder with 6 Ondrejov and 5 LAMOST files."""
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    base = root / DIR
    (base / "cross-matched" / "ondrejov").mkdir(parents=True)
    (base / "cross-matched" / "lamost").mkdir(parents=True)
    ond = base / "cross-matched" / "ondrejov"
    for stem, kind in [
        ("em01", "emission"),
        ("ab01", "absorption"),
        ("ab02", "absorption"),
        ("un01", "flat"),
        ("nolab", "flat"),
    ]:
        _ondrejov(ond / f"{stem}.fits", stem, kind, rng)
    (ond / "broken.fits").write_bytes(b"SIMPLE  =  T / not really FITS\n")
    # the catalogue: 0 emission, 1 absorption, 2 unknown, 3 double-peak
    (base / "ondrejov-dataset.csv").write_text(
        "id,label\n"
        "ivo://asu.cas.cz/stel/ccd700/em01,0\n"
        "ivo://asu.cas.cz/stel/ccd700/ab01,1\n"
        "ivo://asu.cas.cz/stel/ccd700/ab02,1\n"
        "ivo://asu.cas.cz/stel/ccd700/un01,2\n"
        "ivo://asu.cas.cz/stel/ccd700/other,3\n"
    )
    lam = base / "cross-matched" / "lamost"
    _lamost(lam / "spec-em.fits", "emission", rng, zero_peak=True)
    _lamost(lam / "spec-ab.fits", "absorption", rng)
    _lamost(lam / "spec-un.fits", "flat", rng)
    _lamost(lam / "spec-alone.fits", "flat", rng)
    (lam / "spec-broken.fits").write_bytes(b"\x00" * 100)
    (base / "cross-matched.csv").write_text(
        "data/cross-matched/ondrejov/em01.fits,data/cross-matched/lamost/spec-em.fits\n"
        "data/cross-matched/ondrejov/ab01.fits,data/cross-matched/lamost/spec-ab.fits\n"
        "data/cross-matched/ondrejov/un01.fits,data/cross-matched/lamost/spec-un.fits\n"
    )
    return root


def _rejected(store):
    with open(store / REJECTED_NAME, newline="") as f:
        return {r["file"].split("/")[-1]: r["reason"] for r in csv.DictReader(f)}


def test_halpha_synthetic_builder(tmp_path):
    a = build_halpha_synthetic(tmp_path / "a", seed=3, n=30, snr=20.0)
    assert (a["n_in"], a["n_out"], a["n_rejected"]) == (30, 30, 0)
    assert a["classes"] == {"absorption": 10, "double-peak": 10, "emission": 10}
    store = open_store(tmp_path / "a").read().to_pandas()
    assert set(store["frame"]) == {"air"} and set(store["resolving_power"]) == {13000.0}
    # reproducible from the seed, different for another seed
    build_halpha_synthetic(tmp_path / "b", seed=3, n=30, snr=20.0)
    build_halpha_synthetic(tmp_path / "c", seed=4, n=30, snr=20.0)
    flux = [np.stack(open_store(tmp_path / s).read(["flux"]).column(0).to_pylist())
            for s in "abc"]  # fmt: skip
    assert np.array_equal(flux[0], flux[1]) and not np.allclose(flux[0], flux[2])
    # YAML gives lists; the range is a tuple for the generator
    build_halpha_synthetic(tmp_path / "d", n=3, wavelength_range_aa=[6500.0, 6750.0])
    wl = open_store(tmp_path / "d").read(["wavelength_aa"]).column(0).to_pylist()[0]
    assert wl[0] == 6500.0 and wl[-1] == 6750.0
    with pytest.raises(ValueError, match="n must be >= 1"):
        build_halpha_synthetic(tmp_path / "e", n=0)


def test_ondrejov_builder_counts_labels_and_reasons(data_dir, tmp_path):
    info = build_ondrejov_real(
        tmp_path / "ond", data_dir=data_dir, files=["cross-matched/ondrejov"]
    )
    assert info["n_in"] == 6 == info["n_out"] + info["n_rejected"]
    assert info["classes"] == {"absorption": 2, "emission": 1}
    store = open_store(tmp_path / "ond").read().to_pandas()
    labels = dict(zip(store["object_id"], store["label"], strict=True))
    assert labels == {
        "ivo://asu.cas.cz/stel/ccd700/em01": "emission",
        "ivo://asu.cas.cz/stel/ccd700/ab01": "absorption",
        "ivo://asu.cas.cz/stel/ccd700/ab02": "absorption",
    }
    assert set(store["frame"]) == {"air"} and set(store["resolving_power"]) == {13000.0}
    reasons = _rejected(tmp_path / "ond")
    assert set(reasons) == {"un01.fits", "nolab.fits", "broken.fits"}
    assert "'unknown' is not one of" in reasons["un01.fits"]
    assert "not in ondrejov-dataset.csv" in reasons["nolab.fits"]
    assert reasons["broken.fits"]  # the reader's reason, whatever it is
    assert len(info["rejected"]) == 3


def test_lamost_builder_labels_from_partner_and_keeps_emission(data_dir, tmp_path):
    kept = build_lamost_real(
        tmp_path / "keep",
        data_dir=data_dir,
        files=["cross-matched/lamost"],
        extra_pairs=[],
    )
    assert kept["n_in"] == 5 == kept["n_out"] + kept["n_rejected"]
    assert kept["classes"] == {"absorption": 1, "emission": 1}
    store = open_store(tmp_path / "keep").read().to_pandas()
    assert dict(zip(store["object_id"], store["label"], strict=True)) == {
        "spec-em": "emission", "spec-ab": "absorption"}  # fmt: skip
    assert set(store["resolving_power"]) == {1800.0} and set(store["frame"]) == {
        "vacuum"
    }
    reasons = _rejected(tmp_path / "keep")
    assert set(reasons) == {"spec-un.fits", "spec-alone.fits", "spec-broken.fits"}
    assert "no Ondrejov partner" in reasons["spec-alone.fits"]
    assert "'unknown'" in reasons["spec-un.fits"]
    # every zeroed pixel of the window is restored, with a positive ivar
    assert kept["pixels_restored"] == {"spec-em": ZEROED} and ZEROED > 3
    em = store.set_index("object_id").loc["spec-em"]
    assert (np.asarray(em["ivar"]) > 0).all() and not np.asarray(em["mask"]).any()

    dropped = build_lamost_real(
        tmp_path / "drop", data_dir=data_dir, files=["cross-matched/lamost"],
        extra_pairs=[], flagged_pixels="drop",
    )  # fmt: skip
    assert dropped["classes"] == kept["classes"] and dropped["pixels_restored"] == {}

    # what the preparation makes of it: with the flags left (drop), blur and
    # regrid skip the zeroed pixels and draw a straight line under the peak
    steps = {**PREPARE, "steps": PREPARE["steps"][:-1]}  # without standardize
    excess = {}
    for name in ("keep", "drop"):
        batch = open_store(tmp_path / name).take(["spec-em"]).to_pydict()
        batch = {k: [np.asarray(v[0])] if isinstance(v[0], list) else v
                 for k, v in batch.items()}  # fmt: skip
        x = Pipeline.from_config(steps).fit_transform(batch)["x"].ravel()
        excess[name] = float(
            np.sum(x - np.median(x))
        )  # the line flux, in pixels x flux
    # keep: the Gaussian's flux, 1000 * 2 * sqrt(2 pi) * 2 A over 1.53 A pixels
    assert excess["keep"] == pytest.approx(
        1000 * 2 * np.sqrt(2 * np.pi) * 2 / (213 / 139), rel=0.1
    )
    assert excess["drop"] < 0.3 * excess["keep"]


def test_builders_fail_clearly(data_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        build_ondrejov_real(tmp_path / "x", data_dir=data_dir, files=["nowhere"])
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        build_ondrejov_real(
            tmp_path / "x",
            data_dir=data_dir,
            files=["cross-matched"],
            labels="nope.csv",
        )
    with pytest.raises(ValueError, match="flagged_pixels"):
        build_lamost_real(tmp_path / "x", data_dir=data_dir, flagged_pixels="maybe")
    with pytest.raises(DataFormatError, match="none of the 1 spectra"):
        build_ondrejov_real(
            tmp_path / "x",
            data_dir=data_dir,
            files=["cross-matched/ondrejov/nolab.fits"],
        )
    (data_dir / DIR / "bad-pairs.csv").write_text("a.fits,b.fits,c.fits\n")
    with pytest.raises(DataFormatError, match="line 1"):
        build_lamost_real(
            tmp_path / "x", data_dir=data_dir, files=["cross-matched/lamost"],
            pairs="bad-pairs.csv",
        )  # fmt: skip


def test_map_domains_draws_the_map(data_dir, tmp_path):
    build_halpha_synthetic(tmp_path / "syn", n=30, seed=0)
    build_ondrejov_real(
        tmp_path / "ond", data_dir=data_dir, files=["cross-matched/ondrejov"]
    )
    stores = {}
    from skysift.preprocessing.prepare import prepare_store

    for name in ("syn", "ond"):
        prepare_store(
            tmp_path / name, tmp_path / f"p_{name}", Pipeline.from_config(PREPARE)
        )
        stores[name] = tmp_path / f"p_{name}"
    stores["train"] = stores.pop("syn")
    res = map_domains(
        tmp_path / "figs",
        stores=stores,
        seed=0,
        methods=["pca"],
        names={"train": "synthetic"},
    )
    assert res["figures"] == ["domain_map_pca.png"]
    assert all((tmp_path / "figs" / p).stat().st_size > 10_000
               for p in res["figures"])  # fmt: skip
    assert res["counts"] == {"train": 30, "ond": 3}
    with pytest.raises(KeyError, match="lamost"):
        map_domains(tmp_path / "figs", stores=stores, sets=["train", "lamost"])
