"""FITS readers: real files (fixtures and ../shared/data) and crafted bad files."""

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from skysift.exceptions import DataFormatError
from skysift.io.fits import _lamost_wcs, merge_arms
from skysift.io.registry import (
    FileProbe,
    identify_format,
    list_formats,
    read_spectra,
    read_spectrum,
    register_reader,
    unregister_reader,
)

DATA = Path(__file__).parents[1] / "data" / "spectra"
SHARED = Path(__file__).parents[2].parent / "shared" / "data"
HA_AIR, HA_VAC = 6562.80, 6564.61  # H-alpha, NIST


def shared(rel):
    path = SHARED / rel
    if not path.exists():
        pytest.skip(f"{path} not available (../shared/data holds GPL data)")
    return path


# -- registry ------------------------------------------------------------------


def test_builtin_formats_listed():
    assert set(list_formats()) >= {
        "sdss.fits",
        "lamost.fits",
        "desi.fits",
        "vo-sdm.fits",
        "wcs1d.fits",
        "snid.lnw",
        "text",
    }


def test_register_twice_is_an_error_and_unknown_format_lists_known():
    register_reader("dummy.x", lambda path: [], None)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_reader("dummy.x", lambda path: [], None)
    finally:
        unregister_reader("dummy.x")
    with pytest.raises(DataFormatError, match=r"unknown format 'nope'.*sdss\.fits"):
        read_spectra(DATA / "oe270005.fits", format="nope")


def test_ambiguous_identification_is_an_error(tmp_path):
    register_reader("always-a", lambda p: [], lambda probe: True, priority=99)
    register_reader("always-b", lambda p: [], lambda probe: True, priority=99)
    try:
        with pytest.raises(DataFormatError, match=r"ambiguous.*always-a.*always-b"):
            identify_format(DATA / "oe270005.fits")
    finally:
        unregister_reader("always-a")
        unregister_reader("always-b")


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("oe270005.fits", "wcs1d.fits"),
        ("spec-55939-B5593905_sp01-018.fits", "lamost.fits"),
        ("spec-55916-B5591606_sp01-001.fits", "lamost.fits"),
        ("desi_coadd_3rows.fits", "desi.fits"),
        ("sn2002hd.lnw", "snid.lnw"),
        ("sn2005ap.p36.dat", "text"),
    ],
)
def test_identified_by_content_not_name(tmp_path, name, fmt):
    renamed = tmp_path / "renamed.bin"
    shutil.copy(DATA / name, renamed)
    assert identify_format(renamed) == fmt


def test_read_spectrum_refuses_multi_spectrum_files():
    with pytest.raises(DataFormatError, match="holds 3 spectra"):
        read_spectrum(DATA / "desi_coadd_3rows.fits")


# -- raw Ondrejov: 1-D linear WCS --------------------------------------------------


def test_wcs1d_real_ondrejov_against_astropy_wcs():
    s = read_spectrum(DATA / "oe270005.fits")
    header = fits.getheader(DATA / "oe270005.fits")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = WCS(header, naxis=1).pixel_to_world_values(np.arange(1997))
    np.testing.assert_allclose(s.wavelength_aa, reference, rtol=0, atol=1e-6)
    assert s.object_id == "oe270005" and s.meta["group"] == "HD 208905"
    assert s.meta["frame"] == "air" and s.meta["ivar_source"] == "der_snr"
    assert s.meta["format"] == "wcs1d.fits"


def test_wcs1d_ondrejov_tellurics_sit_at_air_wavelengths():
    # Telluric H2O lines are fixed in the observatory frame; HITRAN air
    # wavelengths, shifted by the header's heliocentric correction VHELIO.
    # A vacuum scale would put them 1.8 A redder.
    s = read_spectrum(DATA / "oe270005.fits")
    vhelio = fits.getheader(DATA / "oe270005.fits")["VHELIO"]
    flux = s.flux / np.median(s.flux)
    for line in (6543.907, 6548.622, 6552.629, 6572.086):
        expected = line * (1 + vhelio / 299792.458)
        near = np.abs(s.wavelength_aa - expected) < 0.6
        found = s.wavelength_aa[near][np.argmin(flux[near])]
        assert abs(found - expected) < 0.26  # one pixel is 0.257 A


def _wcs_file(tmp_path, data, name="wcs.fits", **keys):
    hdu = fits.PrimaryHDU(np.asarray(data, dtype=np.float32))
    hdu.header.update(keys)
    path = tmp_path / name
    hdu.writeto(path)
    return path


def test_wcs1d_cd_crpix_units_and_log_dispersion(tmp_path):
    flux = np.linspace(1, 2, 50)
    p = _wcs_file(tmp_path, flux, CRVAL1=650.0, CD1_1=0.01, CRPIX1=11.0, CUNIT1="nm")
    s = read_spectrum(p)
    np.testing.assert_allclose(s.wavelength_aa, 6500.0 + 0.1 * (np.arange(1, 51) - 11))
    assert s.meta["frame"] == "unknown"
    p = _wcs_file(tmp_path, flux, "log.fits", CRVAL1=3.8, CDELT1=1e-4, **{"DC-FLAG": 1})
    np.testing.assert_allclose(
        read_spectrum(p).wavelength_aa, 10 ** (3.8 + 1e-4 * np.arange(50))
    )
    p = _wcs_file(tmp_path, flux, "awav.fits", CRVAL1=6500.0, CDELT1=1.0, CTYPE1="AWAV")
    assert read_spectrum(p).meta["frame"] == "air"
    p = _wcs_file(tmp_path, flux, "vac.fits", CRVAL1=6500.0, CDELT1=1.0, VACUUM=True)
    assert read_spectrum(p, frame="air").meta["frame"] == "air"  # override wins


def test_wcs1d_bad_files(tmp_path):
    p = _wcs_file(tmp_path, np.full(50, np.nan), "nan.fits", CRVAL1=6500.0, CDELT1=1.0)
    with pytest.raises(
        DataFormatError, match=r"nan\.fits: HDU 0: flux is all NaN/inf \(50 values\)"
    ):
        read_spectra(p)
    p = _wcs_file(tmp_path, np.ones(50), "units.fits", CRVAL1=1.0, CDELT1=1.0)
    with pytest.raises(DataFormatError, match="1-50 are not plausible Angstrom values"):
        read_spectra(p)
    p = _wcs_file(tmp_path, np.ones(50), "nowcs.fits", CRVAL1=6500.0)
    with pytest.raises(DataFormatError, match="unrecognised spectrum format"):
        read_spectra(p)
    with pytest.raises(DataFormatError, match=r"HDU 0: no linear wavelength WCS"):
        read_spectra(p, format="wcs1d.fits")


def test_gzipped_fits_is_read(tmp_path):
    import gzip

    path = tmp_path / "spec.fits.gz"
    path.write_bytes(
        gzip.compress((DATA / "spec-55939-B5593905_sp01-018.fits").read_bytes())
    )
    assert identify_format(path) == "lamost.fits"
    assert read_spectrum(path).object_id == "spec-55939-B5593905_sp01-018"


def test_wcs1d_iraf_bands_give_sigma(tmp_path):
    bands = np.stack(
        [np.full(40, 10.0), np.full(40, 11.0), np.full(40, 1.0), np.full(40, 0.5)]
    )
    p = _wcs_file(
        tmp_path,
        bands[:, None, :],
        CRVAL1=6500.0,
        CDELT1=1.0,
        BANDID1="spectrum",
        BANDID2="raw",
        BANDID3="background",
        BANDID4="sigma - clean no",
    )
    s = read_spectrum(p)
    np.testing.assert_allclose(s.ivar, 4.0)
    assert s.meta["ivar_source"] == "file"


# -- LAMOST ----------------------------------------------------------------------


def test_lamost_dr2_image_layout():
    s = read_spectrum(DATA / "spec-55916-B5591606_sp01-001.fits")
    image = fits.getdata(DATA / "spec-55916-B5591606_sp01-001.fits")
    np.testing.assert_array_equal(s.wavelength_aa, image[2])
    assert s.object_id == "spec-55916-B5591606_sp01-001"
    assert (s.label, s.meta["subclass"], s.meta["frame"]) == ("STAR", "K5", "vacuum")
    assert s.redshift == pytest.approx(-0.00017148)
    assert s.meta["group"] == "LAMOST J095249.16+291008.7"
    np.testing.assert_array_equal(s.mask, (image[1] == 0) | (image[3] != 0))


def test_lamost_log_linear_wcs_matches_the_pipeline_wavelength_row():
    # The DR2 file carries both: its header WCS must reproduce its own row.
    header = fits.getheader(DATA / "spec-55916-B5591606_sp01-001.fits")
    image = fits.getdata(DATA / "spec-55916-B5591606_sp01-001.fits")
    computed = _lamost_wcs(header, image.shape[1], Path("x"), "HDU 0")
    np.testing.assert_allclose(computed, image[2], rtol=1e-9)


def test_lamost_dr1_layout_uses_the_wcs():
    s = read_spectrum(DATA / "spec-55939-B5593905_sp01-018.fits")
    assert s.meta["format"] == "lamost.fits" and len(s) == 3909
    assert s.wavelength_aa[0] == pytest.approx(10**3.5682)
    assert (s.label, s.meta["subclass"]) == ("STAR", "G5")


def _lamost_table_file(tmp_path, flux):
    n = len(flux)
    wave = 10 ** (3.5682 + 1e-4 * np.arange(n))
    primary = fits.PrimaryHDU()
    primary.header.update(
        TELESCOP="LAMOST",
        CLASS="QSO",
        SUBCLASS="",
        Z=1.5,
        Z_ERR=-9999.0,
        VACUUM=True,
        FILENAME="spec-58000-test_sp01-001.fits",
        DESIG="J000000+000000",
        OBSID=123,
    )
    cols = [
        fits.Column("WAVELENGTH", f"{n}E", array=wave[None]),
        fits.Column("FLUX", f"{n}E", array=np.asarray(flux)[None]),
        fits.Column("IVAR", f"{n}E", array=np.ones((1, n))),
        fits.Column("ANDMASK", f"{n}J", array=(np.arange(n) == 3)[None].astype(int)),
    ]
    path = tmp_path / "lamost_table.fits"
    fits.HDUList([primary, fits.BinTableHDU.from_columns(cols, name="COADD")]).writeto(
        path
    )
    return path, wave


def test_lamost_table_layout(tmp_path):
    path, wave = _lamost_table_file(tmp_path, np.arange(1.0, 101.0))
    assert identify_format(path) == "lamost.fits"
    s = read_spectrum(path)
    np.testing.assert_allclose(s.wavelength_aa, wave, rtol=1e-6)
    assert s.object_id == "spec-58000-test_sp01-001"
    assert (s.label, s.redshift, s.redshift_err) == ("QSO", 1.5, None)
    assert s.mask.tolist() == (np.arange(100) == 3).tolist()


def test_lamost_nan_only_names_file_and_hdu(tmp_path):
    path, _ = _lamost_table_file(tmp_path, np.full(100, np.nan))
    with pytest.raises(
        DataFormatError, match=r"lamost_table\.fits: HDU 1 \(COADD\): flux is all NaN"
    ):
        read_spectra(path)


def test_truncated_lamost_is_reported(tmp_path):
    data = (DATA / "spec-55916-B5591606_sp01-001.fits").read_bytes()
    path = tmp_path / "cut.fits"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=r"cut\.fits: truncated FITS file"):
        read_spectra(path)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty file"),
        (
            b"SIMPLE  =                    T" + b"\x00" * 100,
            "unrecognised spectrum format",
        ),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "binary file that is not FITS"),
        (b"hello world\nnot a spectrum\n", "text file without wavelength/flux"),
    ],
)
def test_junk_files_are_unrecognised_with_reason(tmp_path, content, match):
    path = tmp_path / "junk.fits"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=rf"junk\.fits: .*{match}"):
        read_spectra(path)


# -- SDSS ------------------------------------------------------------------------


def _sdss_file(tmp_path, *, ivar=None, flux=None, drop=None):
    loglam = 3.58 + 1e-4 * np.arange(200)
    n = loglam.size
    and_mask = np.zeros(n, dtype=np.int32)
    and_mask[5] = 1 << 4  # MANYBADCOLUMNS
    and_mask[6] = 1 << 23  # BRIGHTSKY
    columns = {
        "flux": np.ones(n) if flux is None else flux,
        "loglam": loglam,
        "ivar": np.full(n, 4.0) if ivar is None else ivar,
        "and_mask": and_mask,
    }
    cols = [
        fits.Column(k, "J" if k == "and_mask" else "E", array=v)
        for k, v in columns.items()
        if k != drop
    ]
    primary = fits.PrimaryHDU()
    primary.header.update(
        PLATEID=1, MJD=51000, FIBERID=7, VACUUM=True, TELESCOP="SDSS 2.5-M"
    )
    specobj = fits.BinTableHDU.from_columns(
        [
            fits.Column("CLASS", "6A", array=["QSO"]),
            fits.Column("SUBCLASS", "21A", array=["BROADLINE"]),
            fits.Column("Z", "E", array=[2.5]),
            fits.Column("Z_ERR", "E", array=[0.001]),
            fits.Column("ZWARNING", "J", array=[0]),
            fits.Column("PLUG_RA", "D", array=[10.0]),
            fits.Column("PLUG_DEC", "D", array=[-1.0]),
        ],
        name="SPECOBJ",
    )
    path = tmp_path / "spec-synthetic.fits"
    fits.HDUList(
        [primary, fits.BinTableHDU.from_columns(cols, name="COADD"), specobj]
    ).writeto(path, overwrite=True)
    return path, loglam


def test_sdss_synthetic(tmp_path):
    path, loglam = _sdss_file(tmp_path)
    s = read_spectrum(path)
    np.testing.assert_allclose(
        s.wavelength_aa, 10 ** loglam.astype(np.float32), rtol=1e-7
    )
    assert s.object_id == "spec-0001-51000-0007"
    assert (s.label, s.meta["subclass"], s.meta["frame"]) == (
        "QSO",
        "BROADLINE",
        "vacuum",
    )
    assert s.redshift == pytest.approx(2.5) and s.meta["ra_deg"] == 10.0
    assert np.flatnonzero(s.mask).tolist() == [5, 6]  # and_mask != 0
    assert s.ivar[5] == 4.0  # the file's mask does not zero ivar
    only_sky = read_spectrum(path, mask_bits=~(1 << 4))
    assert np.flatnonzero(only_sky.mask).tolist() == [6]


def test_sdss_bad_files(tmp_path):
    path, _ = _sdss_file(tmp_path, drop="ivar")
    with pytest.raises(DataFormatError, match=r"HDU 1 \(COADD\): no column 'ivar'"):
        read_spectra(path)
    path, _loglam = _sdss_file(tmp_path, ivar=np.zeros(200))
    with pytest.raises(DataFormatError, match="no usable pixel"):
        read_spectra(path)
    path, _ = _sdss_file(tmp_path, flux=np.full(200, np.nan))
    with pytest.raises(DataFormatError, match=r"COADD\): flux is all NaN"):
        read_spectra(path)


def test_sdss_partial_nan_becomes_masked(tmp_path):
    flux = np.ones(200)
    flux[10] = np.nan
    path, _ = _sdss_file(tmp_path, flux=flux)
    s = read_spectrum(path)
    assert s.mask[10] and s.ivar[10] == 0 and s.flux[10] == 0


def test_sdss_real_galaxy():
    s = read_spectrum(
        shared("sdss_desi_spectra/pyqsofit_sdss/spec-0266-51602-0013.fits")
    )
    assert (s.object_id, s.label) == ("spec-0266-51602-0013", "GALAXY")
    assert s.redshift == pytest.approx(0.12131637, rel=1e-6)
    assert s.meta["frame"] == "vacuum" and 3800 < s.wavelength_aa[0] < 3810
    assert s.meta["group"] == "sdss-bestobjid-1237650795146576091"


def test_sdss_real_sky_lines_at_vacuum_wavelengths():
    # The COADD sky column shows [O I] 5577 and 6300 at their vacuum
    # wavelengths (NIST) on the reader's grid; air would be 1.5-1.7 A bluer.
    path = shared("sdss_desi_spectra/pyqsofit_sdss/spec-0266-51602-0013.fits")
    w = read_spectrum(path).wavelength_aa
    sky = fits.getdata(path, "COADD")["sky"]
    for air, vac in ((5577.338, 5578.887), (6300.304, 6302.046)):
        near = np.flatnonzero(np.abs(w - vac) < 4)
        k = near[np.argmax(sky[near])]
        y0, y1, y2 = sky[k - 1 : k + 2]
        center = w[k] + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) * (w[k + 1] - w[k])
        assert abs(center - vac) < 0.3 and abs(center - air) > 1.2


# -- DESI ------------------------------------------------------------------------


def test_desi_arms_merged_ivar_weighted_against_raw_hdus():
    path = DATA / "desi_coadd_3rows.fits"
    spectra = read_spectra(path)
    assert [s.object_id for s in spectra] == [f"desi_coadd_3rows:{i}" for i in range(3)]
    s = spectra[1]
    assert s.meta["frame"] == "vacuum" and len(s) == 7781
    np.testing.assert_allclose(np.diff(s.wavelength_aa), 0.8, atol=1e-6)
    with fits.open(path) as h:
        bw, bf, bi = h["B_WAVELENGTH"].data, h["B_FLUX"].data[1], h["B_IVAR"].data[1]
        rw, rf, ri = h["R_WAVELENGTH"].data, h["R_FLUX"].data[1], h["R_IVAR"].data[1]
    overlap = np.flatnonzero((bw >= rw[0] - 1e-6) & (bi > 0))
    for k in overlap[:: max(1, overlap.size // 5)]:
        j = np.argmin(np.abs(rw - bw[k]))
        i = np.argmin(np.abs(s.wavelength_aa - bw[k]))
        weighted = (bf[k] * bi[k] + rf[j] * ri[j]) / (bi[k] + ri[j])
        assert s.flux[i] == pytest.approx(weighted, rel=1e-5)
        assert s.ivar[i] == pytest.approx(bi[k] + ri[j], rel=1e-5)
    blue_only = np.argmin(np.abs(s.wavelength_aa - 4000.0))
    k = np.argmin(np.abs(bw - 4000.0))
    assert s.flux[blue_only] == pytest.approx(bf[k])


def test_desi_without_wavelength_hdus_is_refused():
    with pytest.raises(DataFormatError, match="HDU B_FLUX has no B_WAVELENGTH HDU"):
        read_spectra(DATA / "desi_rebinned_no_wavelength.fits")


def test_desi_fibermap_mask_and_redshifts(tmp_path):
    w_b, w_r = np.arange(3600.0, 3700.0, 1.0), np.arange(3690.0, 3800.0, 1.0)
    hdus = [fits.PrimaryHDU()]
    for arm, w in (("B", w_b), ("R", w_r)):
        mask = np.zeros((2, w.size), dtype=np.int32)
        mask[0, 0] = 1
        hdus += [
            fits.ImageHDU(w, name=f"{arm}_WAVELENGTH"),
            fits.ImageHDU(np.ones((2, w.size), np.float32), name=f"{arm}_FLUX"),
            fits.ImageHDU(np.ones((2, w.size), np.float32), name=f"{arm}_IVAR"),
            fits.ImageHDU(mask, name=f"{arm}_MASK"),
        ]
    hdus.append(
        fits.BinTableHDU.from_columns(
            [
                fits.Column("TARGETID", "K", array=[39627000000001, 39627000000002]),
                fits.Column("TARGET_RA", "D", array=[1.0, 2.0]),
                fits.Column("TARGET_DEC", "D", array=[3.0, 4.0]),
            ],
            name="FIBERMAP",
        )
    )
    hdus.append(
        fits.BinTableHDU.from_columns(
            [
                fits.Column("TARGETID", "K", array=[39627000000002]),
                fits.Column("SPECTYPE", "6A", array=["GALAXY"]),
                fits.Column("Z", "D", array=[0.3]),
                fits.Column("ZERR", "D", array=[1e-4]),
            ],
            name="REDSHIFTS",
        )
    )
    path = tmp_path / "coadd-sv3-dark-1.fits"
    fits.HDUList(hdus).writeto(path)
    a, b = read_spectra(path)
    assert (a.object_id, b.object_id) == ("39627000000001", "39627000000002")
    assert a.mask[0] and not b.mask[0] and a.meta["ra_deg"] == 1.0
    assert (a.label, b.label, b.redshift) == (None, "GALAXY", 0.3)
    assert len(a) == 200 and a.ivar[95] == 2.0  # 3695: both arms


def test_merge_arms_off_lattice_interpolates_onto_uniform_grid():
    # Arms offset by half a pixel: a linear flux must come back exactly,
    # and the overlap must be the ivar-weighted mean of the two arms.
    w1 = np.arange(100.0, 110.0, 1.0)
    w2 = np.arange(105.5, 120.0, 1.0)
    grid, f, iv, m = merge_arms(
        [w1, w2], [w1 * 2, w2 * 2 + 1], [np.ones(10), np.full(15, 3.0)]
    )
    np.testing.assert_allclose(np.diff(grid), 1.0)
    inside = (grid >= 106) & (grid <= 109)
    np.testing.assert_allclose(
        f[0][inside], (grid[inside] * 2 + 3 * (grid[inside] * 2 + 1)) / 4
    )
    np.testing.assert_allclose(f[0][grid < 105], grid[grid < 105] * 2)
    assert not m.any() and iv[0][inside].tolist() == [4.0] * inside.sum()


def test_merge_arms_all_bad_pixel_is_masked_with_plain_mean():
    w = np.array([1.0, 2.0])
    _grid, f, iv, m = merge_arms(
        [w, w],
        [np.array([1.0, 5.0]), np.array([3.0, 7.0])],
        [np.zeros(2), np.array([0.0, 1.0])],
    )
    assert f.tolist() == [[2.0, 7.0]] and iv.tolist() == [[0.0, 1.0]]
    assert m.tolist() == [[True, False]]


# -- IVOA spectral table (Ondrejov SSA) ----------------------------------------------


def _vo_file(tmp_path, comment="Air wavelength", error=False, unit="Angstrom"):
    w = np.linspace(6500, 6600, 300)
    noise = np.random.default_rng(0).normal(0, 0.01, w.size)
    flux = 1 + np.exp(-0.5 * ((w - HA_AIR) / 2) ** 2) + noise
    cols = [
        fits.Column("spectral", "D", unit=unit, array=w),
        fits.Column("flux", "D", array=flux),
    ]
    if error:
        cols.append(fits.Column("flux_error", "D", array=np.full(300, 0.1)))
    table = fits.BinTableHDU.from_columns(cols)
    table.header.comments["TTYPE1"] = comment
    table.header.update(
        DS_IDPUB="ivo://asu.cas.cz/stel/ccd700/xx010001", OBJECT="HD 1", TMID=55000.5
    )
    path = tmp_path / "vo.fits"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path, overwrite=True)
    return path


def test_vo_sdm_synthetic(tmp_path):
    s = read_spectrum(_vo_file(tmp_path))
    assert s.object_id == "ivo://asu.cas.cz/stel/ccd700/xx010001"
    assert (s.meta["frame"], s.meta["group"], s.meta["mjd"]) == ("air", "HD 1", 55000.5)
    assert s.meta["ivar_source"] == "der_snr"
    s = read_spectrum(_vo_file(tmp_path, comment="Vacuum wavelength", error=True))
    assert s.meta["frame"] == "vacuum" and np.allclose(s.ivar, 100.0)
    s = read_spectrum(_vo_file(tmp_path, comment="", unit="nm"))
    assert s.meta["frame"] == "unknown" and s.wavelength_aa[0] == pytest.approx(65000.0)
    with pytest.raises(DataFormatError, match="unknown wavelength unit 'furlong'"):
        read_spectra(_vo_file(tmp_path, unit="furlong"))


def test_vo_sdm_real_gamma_cas_emission_at_air_halpha():
    s = read_spectrum(
        shared("ondrejov_lamost_spectra/bt-spectraldl/gamma-cas-emission.fits")
    )
    assert s.object_id == "ivo://asu.cas.cz/stel/ccd700/uk220017"
    assert (s.meta["frame"], s.meta["group"]) == ("air", "gamma Cas")
    near = np.abs(s.wavelength_aa - HA_AIR) < 20
    continuum = np.median(s.flux)
    assert s.flux[near].max() > 3 * continuum  # strong emission
    peak = s.wavelength_aa[near][np.argmax(s.flux[near])]
    assert abs(peak - HA_AIR) < 1.0 and abs(peak - HA_VAC) > 1.0


def test_probe_reads_headers_without_data():
    probe = FileProbe.from_path(DATA / "desi_coadd_3rows.fits")
    assert probe.kind == "fits" and probe.hdu("B_FLUX").shape == (3, 2751)
