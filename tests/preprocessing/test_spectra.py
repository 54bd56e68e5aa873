"""Spectral preparation steps against independent references.

References: the Ciddor (1996) and Edlen (1966) refractive indices and the
SDSS line list for air -> vacuum; astropy.convolution for blurs; np.interp
(seed 001's own call) for regridding; brute-force supersampled integrals
for rebinning; Monte Carlo noise for every propagated ivar; the 2D CNN's own
fold for the square reshape.
"""

import itertools

import numpy as np
import pytest
from astropy.convolution import Gaussian1DKernel, convolve

from skysift.exceptions import DataFormatError, SkysiftWarning
from skysift.preprocessing import Pipeline
from skysift.preprocessing.spectra import (
    AirToVacuum,
    BlurToResolution,
    Crop,
    MaskBadPixels,
    Rebin,
    Regrid,
    ReshapeSquare,
    RestFrame,
    air_to_vacuum,
    blur,
    blur_to_resolution,
    crop,
    mask_bad_pixels,
    rebin,
    regrid,
    reshape_square,
    rest_frame,
)

GRID = np.linspace(6519.0, 6732.0, 140)


def ragged_spectra(n=6, seed=0, lo=6400.0, hi=6850.0, bad=0.05):
    """n spectra with their own sorted wavelengths and lengths, some bad pixels."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(300, 500, n)
    wl = [np.sort(rng.uniform(lo, hi, k)) for k in lengths]
    flux = [
        (1 + 0.1 * np.sin(w / 7.0) + rng.normal(0, 0.05, w.size)).astype(np.float32)
        for w in wl
    ]
    ivar = [rng.uniform(50, 150, k).astype(np.float32) for k in lengths]
    mask = [rng.random(k) < bad for k in lengths]
    return wl, flux, ivar, mask


# --------------------------------------------------------------------------
# air -> vacuum
# --------------------------------------------------------------------------

# (air, vacuum) pairs of the SDSS line list (idlspec2d linelist), Angstrom.
SDSS_LINES = [
    (4861.33, 4862.68),  # H-beta
    (5006.84, 5008.24),  # [O III]
    (6562.80, 6564.61),  # H-alpha
    (6583.45, 6585.27),  # [N II]
    (6716.44, 6718.29),  # [S II]
    (8542.09, 8544.44),  # Ca II
]


@pytest.mark.parametrize(("air", "vacuum"), SDSS_LINES)
def test_air_to_vacuum_known_lines(air, vacuum):
    assert abs(float(air_to_vacuum(air)) - vacuum) < 0.01


def _iterate_air_to_vacuum(air, index):
    """lambda_vac = n(lambda_vac) * lambda_air, n from the vacuum wavenumber."""
    vac = air.copy()
    for _ in range(20):
        vac = air * index(1e4 / vac)
    return vac


def test_air_to_vacuum_matches_ciddor_and_edlen():
    air = np.linspace(2000.0, 25000.0, 3001)
    ciddor = _iterate_air_to_vacuum(  # Ciddor (1996), Appl. Opt. 35, 1566
        air, lambda s: 1 + 0.05792105 / (238.0185 - s**2) + 0.00167917 / (57.362 - s**2)
    )
    edlen = _iterate_air_to_vacuum(  # Edlen (1966), as in Morton (1991)
        air,
        lambda s: 1 + 1e-8 * (6432.8 + 2949810 / (146 - s**2) + 25540 / (41 - s**2)),
    )
    ours = air_to_vacuum(air)
    assert np.abs(ours - ciddor).max() < 0.01
    assert np.abs(ours - edlen).max() < 0.01
    assert np.all(ours > air)


def test_air_to_vacuum_keeps_the_layout():
    wl = np.array([[6562.80, 6583.45]])
    assert air_to_vacuum(wl).shape == (1, 2)
    rows = air_to_vacuum([np.array([6562.80]), np.array([4861.33, 5006.84])])
    assert [len(r) for r in rows] == [1, 2]
    np.testing.assert_allclose(rows[1], [4862.68, 5008.24], atol=0.01)


def test_air_to_vacuum_rejects_ultraviolet():
    with pytest.raises(ValueError, match=r"1500\.0 AA"):
        air_to_vacuum(np.array([1500.0, 6000.0]))


def test_air_to_vacuum_step_follows_the_frame_column():
    wl = np.array([[6562.80, 6600.0], [6564.61, 6601.8], [6562.80, 6600.0]])
    batch = {
        "object_id": np.array(["a", "b", "c"]),
        "wavelength_aa": wl,
        "flux": np.ones((3, 2), np.float32),
        "frame": np.array(["air", "vacuum", None], dtype=object),
    }
    out = AirToVacuum().transform(batch)
    np.testing.assert_allclose(out["wavelength_aa"][0], air_to_vacuum(wl[0]))
    np.testing.assert_array_equal(out["wavelength_aa"][1], wl[1])  # untouched
    np.testing.assert_allclose(out["wavelength_aa"][2], air_to_vacuum(wl[2]))
    assert out["frame"].tolist() == ["vacuum"] * 3
    np.testing.assert_array_equal(batch["wavelength_aa"], wl)  # input unchanged
    no_frame = AirToVacuum().transform({"wavelength_aa": wl, "flux": batch["flux"]})
    assert "frame" not in no_frame
    np.testing.assert_allclose(no_frame["wavelength_aa"], air_to_vacuum(wl))
    ragged = AirToVacuum().transform(
        {**batch, "wavelength_aa": [wl[0], wl[1][:1], wl[2]], "flux": [wl[0]] * 3}
    )
    np.testing.assert_array_equal(ragged["wavelength_aa"][1], wl[1][:1])
    with pytest.raises(DataFormatError, match=r"\['b'\].*'heliocentric'"):
        AirToVacuum().transform(
            {**batch, "frame": np.array(["air", "heliocentric", "air"], dtype=object)}
        )


# --------------------------------------------------------------------------
# rest frame
# --------------------------------------------------------------------------


def test_rest_frame_divides_by_one_plus_z():
    wl = [np.array([4000.0, 5000.0]), np.array([3000.0])]
    out = rest_frame(wl, [0.25, 2.0])
    np.testing.assert_allclose(out[0], [3200.0, 4000.0])
    np.testing.assert_allclose(out[1], [1000.0])
    with pytest.raises(ValueError, match="row"):
        rest_frame(wl, [0.1, np.nan])
    with pytest.raises(ValueError, match="2 spectra but 1"):
        rest_frame(wl, [0.1])


def _z_batch():
    return {
        "object_id": np.array(["a", "b", "c"]),
        "label": np.array(["Ia", "II", "Ia"]),
        "redshift": np.array([0.1, np.nan, -1.5]),
        "wavelength_aa": np.tile(np.linspace(4000.0, 8000.0, 50), (3, 1)),
        "flux": np.random.default_rng(0).random((3, 50)).astype(np.float32),
        "ivar": np.ones((3, 50), np.float32),
        "mask": np.zeros((3, 50), bool),
    }


def test_rest_frame_missing_redshift_reject_raise_keep():
    batch = _z_batch()
    out = RestFrame().transform(batch)
    assert out["object_id"].tolist() == ["a"] and out["label"].tolist() == ["Ia"]
    np.testing.assert_allclose(out["wavelength_aa"][0], batch["wavelength_aa"][0] / 1.1)
    assert [r[0] for r in out["rejected"]] == ["b", "c"]
    assert "redshift" in out["rejected"][0][1]
    with pytest.raises(DataFormatError, match=r"2 object\(s\).*\['b', 'c'\]"):
        RestFrame(on_missing="raise").transform(batch)
    kept = RestFrame(on_missing="keep").transform(batch)
    np.testing.assert_array_equal(kept["wavelength_aa"][1:], batch["wavelength_aa"][1:])
    with pytest.raises(ValueError, match="on_missing"):
        RestFrame(on_missing="drop").transform(batch)
    with pytest.raises(DataFormatError, match="no 'redshift' column"):
        RestFrame().transform({k: v for k, v in batch.items() if k != "redshift"})


def test_rest_frame_rejections_reach_the_pipeline_output():
    pipe = Pipeline.from_config(
        {
            "kind": "spectra",
            "steps": [
                "rest_frame",
                {"rebin": {"start_aa": 3700, "stop_aa": 7200, "num": 90}},
            ],
        }
    )
    out = pipe.fit_transform(_z_batch())
    assert out["x"].shape == (1, 1, 90)
    assert len(out["x"]) + len(out["rejected"]) == 3


# --------------------------------------------------------------------------
# bad pixels
# --------------------------------------------------------------------------


def test_mask_bad_pixels_interpolates_short_gaps_only():
    wl, flux, ivar, _ = ragged_spectra(3, seed=1, bad=0.0)
    rng = np.random.default_rng(2)
    bits = [np.zeros(len(w), np.int32) for w in wl]
    for b in bits:
        b[rng.integers(5, len(b) - 20, 6)] = 4  # single bad pixels (bit 2)
        b[100:104] = 1  # a 4-pixel gap (bit 0)
        b[0] = 4  # the first pixel
    flux[0][50] = np.nan
    out_f, out_iv, out_m = mask_bad_pixels(
        flux, ivar=ivar, mask=bits, wavelength_aa=wl, max_gap=3
    )
    for w, f, iv, b, of, oiv, om in zip(
        wl, flux, ivar, bits, out_f, out_iv, out_m, strict=True
    ):
        bad = (b != 0) | ~np.isfinite(f)
        good = ~bad
        long_gap = np.zeros_like(bad)
        long_gap[100:104] = True
        long_gap[0] = True
        short = bad & ~long_gap
        # independent reference: seed 001's np.interp over the good pixels
        np.testing.assert_allclose(
            of[short], np.interp(w[short], w[good], f[good]), rtol=1e-6
        )
        np.testing.assert_array_equal(of[good], f[good])
        assert np.all(np.isnan(of[long_gap])) and np.all(om == long_gap)
        assert np.all(oiv[long_gap] == 0) and np.all(oiv[good] == iv[good])
        assert np.all(oiv[short] > 0)
    # only bit 0 counts: single bad pixels (bit 2) are good
    _, _, m = mask_bad_pixels(flux[1:], mask=bits[1:], bits=1)
    assert [np.flatnonzero(r).tolist() for r in m] == [list(range(100, 104))] * 2
    with pytest.raises(ValueError, match="max_gap"):
        mask_bad_pixels(flux, max_gap=-1)


def test_mask_bad_pixels_step_marks_zero_ivar():
    batch = {
        "wavelength_aa": np.arange(6.0)[None, :] + 6500,
        "flux": np.array([[1.0, 2.0, 9.0, 4.0, 5.0, 6.0]], np.float32),
        "ivar": np.array([[1.0, 1.0, 0.0, 1.0, 1.0, 1.0]], np.float32),
        "mask": np.zeros((1, 6), bool),
    }
    out = MaskBadPixels(max_gap=1).transform(batch)
    np.testing.assert_allclose(out["flux"], [[1, 2, 3, 4, 5, 6]])
    assert not out["mask"].any() and out["ivar"][0, 2] == 1.0
    out = MaskBadPixels(max_gap=0).transform(batch)
    assert np.isnan(out["flux"][0, 2]) and out["mask"][0, 2]


# --------------------------------------------------------------------------
# crop
# --------------------------------------------------------------------------


def test_crop_leaves_regrid_unchanged():
    wl, flux, ivar, mask = ragged_spectra(8, seed=3)
    full = regrid(wl, flux, GRID, ivar=ivar, mask=mask)
    cw, cf, ci, cm = crop(
        wl, flux, ivar=ivar, mask=mask, start_aa=GRID[0], stop_aa=GRID[-1]
    )
    assert cf.shape[0] == 8 and cf.shape[1] < min(len(f) for f in flux)
    for a, b in zip(full, regrid(cw, cf, GRID, ivar=ci, mask=cm), strict=True):
        np.testing.assert_array_equal(a, b)


def test_crop_with_margin_leaves_blur_then_regrid_unchanged():
    rng = np.random.default_rng(4)
    wl = 6300.0 + np.cumsum(rng.uniform(0.2, 0.3, (5, 2000)), axis=1)
    flux = rng.normal(1, 0.1, wl.shape).astype(np.float32)
    ivar = np.full(wl.shape, 100.0, np.float32)

    def prepared(margin_px, cut):
        steps = [{"blur": {"sigma_px": 7}}, {"regrid": {}}]
        if cut:
            steps.insert(0, {"crop": {"margin_px": margin_px}})
        pipe = Pipeline.from_config({"kind": "spectra", "steps": steps})
        return pipe.transform({"wavelength_aa": wl, "flux": flux, "ivar": ivar})

    ref = prepared(0, cut=False)
    out = prepared(28, cut=True)  # half-width of the sigma-7 kernel
    np.testing.assert_allclose(out["x"], ref["x"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(out["ivar"], ref["ivar"], rtol=1e-4)
    short = prepared(5, cut=True)  # too small: the blur sees the cut
    assert np.abs(short["x"] - ref["x"]).max() > 1e-3


def test_crop_pads_short_spectra_with_masked_pixels():
    wl = [np.linspace(6500.0, 6750.0, 60), np.linspace(6510.0, 6560.0, 11)]
    flux = [np.ones(60, np.float32), np.ones(11, np.float32)]
    cw, cf, ci, cm = crop(wl, flux, start_aa=6519.0, stop_aa=6732.0)
    assert cw.shape == cf.shape == cm.shape and ci is None
    assert np.all(np.diff(cw, axis=1) > 0)
    assert not cm[0].any() and cm[1].sum() == cw.shape[1] - 11
    assert np.all(cf[1][cm[1]] == 0)


def test_crop_names_objects_with_decreasing_wavelengths():
    wl = np.tile(np.linspace(6400.0, 6800.0, 100), (2, 1))
    wl[1, 50], wl[1, 51] = wl[1, 51], wl[1, 50]
    batch = {"object_id": np.array(["ok", "swapped"]), "wavelength_aa": wl, "flux": wl}
    with pytest.raises(DataFormatError, match=r"decreases in 1 object\(s\).*swapped"):
        Crop().transform(batch)
    with pytest.raises(ValueError, match="stop_aa > start_aa"):
        Crop(start_aa=7000.0).transform(batch)


# --------------------------------------------------------------------------
# Gaussian blur
# --------------------------------------------------------------------------


@pytest.mark.parametrize("boundary", ["extend", "fill"])
@pytest.mark.parametrize("sigma", [7.0, 2.5])
@pytest.mark.parametrize("masked", [False, True])
def test_blur_matches_astropy(boundary, sigma, masked):
    rng = np.random.default_rng(5)
    flux = rng.normal(1.0, 0.3, (4, 300)).astype(np.float32)
    mask = rng.random(flux.shape) < (0.05 if masked else 0.0)
    mask[0, 100:104] = masked  # a gap
    out, _ = blur(flux, sigma_px=sigma, mask=mask, boundary=boundary)
    kernel = Gaussian1DKernel(stddev=sigma)
    for row, m, o in zip(flux, mask, out, strict=True):
        ref = convolve(
            np.where(m, np.nan, row.astype(float)),
            kernel,
            boundary=boundary,
            nan_treatment="interpolate",
        )
        np.testing.assert_allclose(o, ref, rtol=0, atol=2e-6)


def test_blur_fill_is_seed_001s_call():
    flux = np.random.default_rng(6).normal(5.0, 1.0, (1, 500))
    seed = convolve(flux[0], Gaussian1DKernel(stddev=7))  # seed 001 sec. 7.1.2
    np.testing.assert_allclose(blur(flux, boundary="fill")[0][0], seed, atol=5e-6)


@pytest.mark.parametrize("boundary", ["extend", "fill"])
@pytest.mark.parametrize("bad", [0.0, 0.05])
def test_blur_ragged_rows_match_astropy(boundary, bad):
    _, flux, _, mask = ragged_spectra(5, seed=7, bad=bad)
    out, _ = blur(flux, sigma_px=3.0, mask=mask, boundary=boundary)
    assert isinstance(out, list)
    for row, m, o in zip(flux, mask, out, strict=True):
        ref = convolve(
            np.where(m, np.nan, row.astype(float)),
            Gaussian1DKernel(3.0),
            boundary=boundary,
            nan_treatment="interpolate",
        )
        np.testing.assert_allclose(o, ref, atol=2e-6)


def test_blur_ivar_matches_monte_carlo_noise():
    rng = np.random.default_rng(8)
    sigma_noise = rng.uniform(0.5, 2.0, 200).astype(np.float32)
    ivar = np.tile(1.0 / sigma_noise**2, (1, 1))
    noise = rng.normal(0.0, 1.0, (4000, 200)).astype(np.float32) * sigma_noise
    blurred, out_ivar = blur(
        noise, sigma_px=4.0, ivar=np.broadcast_to(ivar, noise.shape)
    )
    empirical = blurred[:, 30:170].var(axis=0)
    np.testing.assert_allclose(1.0 / out_ivar[0, 30:170], empirical, rtol=0.1)
    # constant ivar: the textbook sum(k**2) / ivar
    _, const = blur(np.zeros((1, 200)), sigma_px=4.0, ivar=np.full((1, 200), 2.0))
    k = Gaussian1DKernel(4.0).array
    np.testing.assert_allclose(const[0, 100], 2.0 / np.sum(k**2), rtol=1e-4)


def test_blur_parameters_are_checked():
    assert blur(np.ones((1, 5)), sigma_px=0)[0].tolist() == [[1.0] * 5]
    with pytest.raises(ValueError, match="sigma_px"):
        blur(np.ones((1, 5)), sigma_px=-1)
    with pytest.raises(ValueError, match="boundary"):
        blur(np.ones((1, 5)), boundary="wrap")


def test_blur_to_resolution_on_log_grid_matches_astropy():
    # A log-uniform grid makes the resolving-power kernel constant in pixels.
    step = 1e-4  # d ln(lambda) per pixel
    wl = 6000.0 * np.exp(step * np.arange(400))
    flux = np.random.default_rng(9).normal(1, 0.2, (2, 400)).astype(np.float32)
    r = 1800.0
    sigma_px = 1.0 / (r * 2.0 * np.sqrt(2.0 * np.log(2.0))) / step
    out, _ = blur_to_resolution(np.tile(wl, (2, 1)), flux, resolving_power=r)
    for row, o in zip(flux, out, strict=True):
        ref = convolve(row.astype(float), Gaussian1DKernel(sigma_px), boundary="extend")
        np.testing.assert_allclose(o, ref, atol=2e-6)


def test_blur_to_resolution_widths_add_in_quadrature():
    wl = np.linspace(6500.0, 6630.0, 1300)
    sigma0 = 0.4
    line = np.exp(-0.5 * ((wl - 6565.0) / sigma0) ** 2)[None, :]
    r, r_in = 2000.0, 20000.0
    out, _ = blur_to_resolution(
        wl[None, :], line, resolving_power=r, input_resolving_power=r_in
    )
    weights = out[0] / out[0].sum()
    mean = (weights * wl).sum()
    sigma = np.sqrt((weights * (wl - mean) ** 2).sum())
    fwhm = 2.0 * np.sqrt(2.0 * np.log(2.0))
    kernel = 6565.0 * np.sqrt(1 / r**2 - 1 / r_in**2) / fwhm
    assert sigma == pytest.approx(np.hypot(sigma0, kernel), rel=0.01)
    assert out[0].sum() == pytest.approx(line[0].sum(), rel=1e-4)  # flux kept


def test_blur_to_resolution_step_skips_coarser_spectra():
    wl = np.tile(np.linspace(6500.0, 6630.0, 300), (2, 1))
    flux = np.random.default_rng(10).normal(1, 0.1, wl.shape).astype(np.float32)
    batch = {
        "object_id": np.array(["sharp", "coarse"]),
        "wavelength_aa": wl,
        "flux": flux,
        "resolving_power": np.array([13000.0, 1000.0]),
    }
    with pytest.warns(SkysiftWarning, match="coarse"):
        out = BlurToResolution(resolving_power=1800.0).transform(batch)
    np.testing.assert_array_equal(out["flux"][1], flux[1])
    assert not np.allclose(out["flux"][0], flux[0])
    assert out["resolving_power"].tolist() == [1800.0, 1000.0]


# --------------------------------------------------------------------------
# regrid
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dirty", [0, 1, 9, 10])  # rows of 10 with bad pixels
@pytest.mark.parametrize("uniform", [True, False])
def test_regrid_matches_np_interp_over_usable_pixels(dirty, uniform):
    rng = np.random.default_rng(11)
    grid = GRID if uniform else np.sort(rng.uniform(6450.0, 6800.0, 90))
    wl, flux, ivar, mask = ragged_spectra(10, seed=12, lo=6500.0, hi=6700.0)
    for k in range(10):
        mask[k][:] = False
    for k in range(dirty):
        mask[k][rng.integers(0, len(mask[k]), 20)] = True
    if dirty:
        ivar[0][10:20] = 0.0
        flux[dirty - 1][5] = np.nan
    out, out_iv, out_m = regrid(wl, flux, grid, ivar=ivar, mask=mask)
    for w, f, iv, m, o, om, oiv in zip(
        wl, flux, ivar, mask, out, out_m, out_iv, strict=True
    ):
        good = ~m & (iv > 0) & np.isfinite(f)
        ref = np.interp(grid, w[good], f[good])  # seed 001's call
        np.testing.assert_allclose(o, ref, rtol=1e-6)
        outside = (grid < w[good][0]) | (grid > w[good][-1])
        np.testing.assert_array_equal(om, outside)
        assert np.all(oiv[outside] == 0) and np.all(oiv[~outside] > 0)


def test_regrid_ivar_matches_monte_carlo_noise():
    rng = np.random.default_rng(13)
    wl = np.linspace(6500.0, 6750.0, 51)
    sig = rng.uniform(0.5, 2.0, wl.size)
    noise = rng.normal(0, 1, (20000, wl.size)) * sig
    grid = np.linspace(6510.0, 6740.0, 37)
    out, out_iv, _ = regrid(
        np.broadcast_to(wl, noise.shape),
        noise,
        grid,
        ivar=np.broadcast_to(1 / sig**2, noise.shape),
    )
    np.testing.assert_allclose(1 / out_iv[0], out.var(axis=0), rtol=0.05)


def test_regrid_marks_hopeless_spectra_with_nan():
    wl = np.tile(np.linspace(6500.0, 6750.0, 10), (2, 1))
    mask = np.zeros(wl.shape, bool)
    mask[1, 1:] = True  # one usable pixel left
    flux, ivar, m = regrid(wl, np.ones(wl.shape), GRID, mask=mask)
    assert np.isfinite(flux[0]).all() and np.isnan(flux[1]).all()
    assert m[1].all() and not ivar[1].any()
    pipe = Pipeline.from_config({"kind": "spectra", "steps": ["regrid"]})
    out = pipe.transform(
        {
            "object_id": np.array(["fine", "empty"]),
            "wavelength_aa": wl,
            "flux": np.ones(wl.shape),
            "mask": mask,
        },
        drop_bad=True,
    )
    assert len(out["x"]) == 1 and out["rejected"][0][0] == "empty"


def test_regrid_step_grid_and_errors():
    step = Regrid(start_aa=6500.0, stop_aa=6600.0, num=11)
    wl = np.linspace(6400.0, 6700.0, 50)
    out = step.transform({"wavelength_aa": wl[None, :], "flux": np.ones((1, 50))})
    assert out["flux"].shape == (1, 11) and out["wavelength_aa"][0, 1] == 6510.0
    with pytest.raises(ValueError, match="num >= 2"):
        Regrid(num=1).grid()
    with pytest.raises(DataFormatError, match="decreases"):
        regrid([wl[::-1]], [np.ones(50)], GRID)


# --------------------------------------------------------------------------
# flux-conserving rebin
# --------------------------------------------------------------------------


def _supersampled_rebin(wl, flux, edges, factor=2000):
    """Reference: average the piecewise-constant density on a fine grid."""
    mids = 0.5 * (wl[1:] + wl[:-1])
    pixel_edges = np.concatenate(
        [[wl[0] - (wl[1] - wl[0]) / 2], mids, [wl[-1] + (wl[-1] - wl[-2]) / 2]]
    )
    out = []
    for a, b in itertools.pairwise(edges):
        x = a + (np.arange(factor) + 0.5) * (b - a) / factor
        j = np.searchsorted(pixel_edges, x, side="right") - 1
        out.append(flux[j].mean())
    return np.array(out)


@pytest.mark.parametrize("num", [900, 1800, 3600])
def test_rebin_conserves_total_flux(num):
    rng = np.random.default_rng(14)
    wl = np.sort(rng.uniform(3600.0, 9800.0, 7001))
    wl = np.linspace(3600.0, 9800.0, 7001) + rng.uniform(-0.3, 0.3, 7001)
    flux = rng.gamma(2.0, 1.0, wl.size).astype(np.float32)
    mids = 0.5 * (wl[1:] + wl[:-1])
    pixel_edges = np.concatenate(
        [[wl[0] - (wl[1] - wl[0]) / 2], mids, [wl[-1] + (wl[-1] - wl[-2]) / 2]]
    )
    total_in = float(np.sum(flux * np.diff(pixel_edges)))
    edges = np.linspace(pixel_edges[0], pixel_edges[-1], num + 1)
    out, _, mask = rebin(wl[None, :], flux[None, :], edges)
    assert out.shape == (1, num) and not mask.any()
    assert float(np.sum(out[0] * np.diff(edges))) == pytest.approx(total_in, rel=1e-6)


def test_rebin_matches_supersampled_reference_on_ragged_rows():
    wl, flux, _, _ = ragged_spectra(3, seed=15, lo=6500.0, hi=6700.0, bad=0.0)
    edges = np.linspace(6510.0, 6690.0, 31)
    out, _, mask = rebin(wl, flux, edges)
    assert not mask.any()
    for w, f, o in zip(wl, flux, out, strict=True):
        np.testing.assert_allclose(o, _supersampled_rebin(w, f, edges), rtol=2e-3)


def test_rebin_skips_masked_pixels_and_marks_empty_bins():
    wl = np.arange(1.0, 21.0)[None, :]  # pixels of width 1, edges 0.5 .. 20.5
    flux = np.arange(20.0, dtype=np.float32)[None, :]
    mask = np.zeros((1, 20), bool)
    mask[0, 4:6] = True  # pixels 5 and 6 (wavelengths) bad
    edges = np.array([0.5, 4.5, 6.5, 8.5, 20.5, 24.5])
    out, ivar, m = rebin(wl, flux, edges, ivar=np.ones((1, 20)), mask=mask)
    # bin [4.5, 6.5] holds only the masked pixels; bin [20.5, 24.5] none
    np.testing.assert_array_equal(m[0], [False, True, False, False, True])
    assert out[0, 0] == pytest.approx(1.5) and out[0, 2] == pytest.approx(6.5)
    # interpolated between the neighbouring bins' centres (2.5 and 7.5)
    assert out[0, 1] == pytest.approx(1.5 + (5.5 - 2.5) / (7.5 - 2.5) * (6.5 - 1.5))
    assert out[0, 4] == pytest.approx(out[0, 3])  # constant beyond the end
    np.testing.assert_allclose(ivar[0], [4.0, 0.0, 2.0, 12.0, 0.0])  # sum of ivar


def test_rebin_ivar_matches_monte_carlo_noise():
    rng = np.random.default_rng(16)
    wl = np.linspace(4000.0, 4100.0, 101) + rng.uniform(-0.2, 0.2, 101)
    sig = rng.uniform(0.5, 2.0, wl.size)
    noise = rng.normal(0, 1, (20000, wl.size)) * sig
    edges = np.linspace(4003.0, 4097.0, 13)
    out, ivar, _ = rebin(
        np.broadcast_to(wl, noise.shape),
        noise,
        edges,
        ivar=np.broadcast_to(1 / sig**2, noise.shape),
    )
    np.testing.assert_allclose(1 / ivar[0], out.var(axis=0), rtol=0.05)


def test_rebin_step_log_bins():
    step = Rebin(start_aa=4000.0, stop_aa=8000.0, num=100, log=True)
    edges = step.edges()
    np.testing.assert_allclose(np.diff(np.log(edges)), np.log(2) / 100)
    wl = np.linspace(3900.0, 8100.0, 5000)
    out = step.transform({"wavelength_aa": wl[None, :], "flux": np.ones((1, 5000))})
    np.testing.assert_allclose(out["flux"], 1.0, rtol=1e-6)
    np.testing.assert_allclose(out["wavelength_aa"][0], np.sqrt(edges[1:] * edges[:-1]))
    with pytest.raises(ValueError, match="num >= 1"):
        Rebin(num=0).edges()


# --------------------------------------------------------------------------
# square images
# --------------------------------------------------------------------------


def test_reshape_square_matches_the_cnn2d_fold():
    torch = pytest.importorskip("torch")
    from skysift.models.cnn2d import fold_to_square

    flux = np.random.default_rng(17).random((3, 3600)).astype(np.float32)
    ours = reshape_square(flux)
    assert ours.shape == (3, 1, 60, 60)
    np.testing.assert_array_equal(
        ours, fold_to_square(torch.from_numpy(flux)[:, None]).numpy()
    )
    odd = reshape_square(flux[:, :3500])
    np.testing.assert_array_equal(
        odd, fold_to_square(torch.from_numpy(flux[:, None, :3500])).numpy()
    )
    cropped = reshape_square(flux, side=59)
    np.testing.assert_array_equal(cropped.reshape(3, -1), flux[:, : 59 * 59])
    with pytest.raises(ValueError, match="side"):
        reshape_square(flux, side=0)


def test_reshape_square_step_gives_the_model_input():
    pipe = Pipeline.from_config(
        {
            "kind": "spectra",
            "steps": [{"rebin": {"num": 900}}, "min_max", "reshape_square"],
        }
    )
    wl = np.linspace(3500.0, 9900.0, 4000)
    flux = np.random.default_rng(18).random((2, 4000))
    out = pipe.transform({"wavelength_aa": np.tile(wl, (2, 1)), "flux": flux})
    assert out["x"].shape == (2, 1, 30, 30) and out["x"].dtype == np.float32
    assert ReshapeSquare(side=31).transform({"flux": out["flux"]})["x"].shape == (
        2,
        1,
        31,
        31,
    )


def test_rows_that_are_views_of_one_buffer_are_read_in_place():
    # As list_column_to_numpy hands over a store's ragged rows.
    wl_all = np.linspace(6400.0, 6800.0, 900)
    flux_all = np.sin(wl_all / 9.0).astype(np.float32)
    cuts = [0, 300, 650, 900]
    wl = [wl_all[a:b] for a, b in itertools.pairwise(cuts)]
    flux = [flux_all[a:b] for a, b in itertools.pairwise(cuts)]
    out, _, _ = regrid(wl, flux, GRID)
    for w, f, o in zip(wl, flux, out, strict=True):
        np.testing.assert_allclose(o, np.interp(GRID, w, f), rtol=1e-6)
    # views that are reversed, strided or out of order are copied instead
    shuffled = [wl_all[300:650], wl_all[0:300]]
    out, _, _ = regrid(shuffled, [flux_all[300:650], flux_all[0:300]], GRID)
    np.testing.assert_allclose(
        out[1], np.interp(GRID, wl_all[:300], flux_all[:300]), rtol=1e-6
    )
    stepped = [wl_all[::2], wl_all[1::2]]
    out, _, _ = regrid(stepped, [flux_all[::2], flux_all[1::2]], GRID)
    np.testing.assert_allclose(
        out[0], np.interp(GRID, wl_all[::2], flux_all[::2]), rtol=1e-6
    )
    with pytest.raises(DataFormatError, match="decreases"):
        regrid([wl_all[::-1]], [flux_all[::-1]], GRID)
