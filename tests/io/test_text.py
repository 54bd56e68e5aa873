"""Text readers: SNID .lnw templates and column text/CSV spectra."""

from pathlib import Path

import numpy as np
import pytest

from skysift.exceptions import DataFormatError
from skysift.io.registry import (
    estimate_noise,
    identify_format,
    read_spectra,
    read_spectrum,
)

DATA = Path(__file__).parents[1] / "data" / "spectra"
LNW = DATA / "sn2002hd.lnw"


# -- SNID .lnw -------------------------------------------------------------------


def test_lnw_real_epochs():
    spectra = read_spectra(LNW)
    assert [s.object_id for s in spectra] == ["sn2002hd:0", "sn2002hd:1", "sn2002hd:2"]
    assert [s.meta["age_days"] for s in spectra] == [1.4, 12.0, 15.8]
    assert {s.label for s in spectra} == {"Ia-norm"}
    assert {s.meta["group"] for s in spectra} == {"sn2002hd"}
    s = spectra[0]
    assert (s.meta["format"], s.meta["frame"], s.meta["ivar_source"]) == (
        "snid.lnw",
        "unknown",
        "unit",
    )
    assert (s.meta["snid_itype"], s.meta["snid_isubtype"]) == (1, 2)


def test_lnw_grid_is_snids_log_lambda_grid():
    # SNID bins: nw log-uniform bins between w0 and w1, values at bin centres
    # (SNID's rebinning), written with two decimals.
    s = read_spectra(LNW)[0]
    nw, w0, w1 = 1024, 2500.0, 10000.0
    dlog = np.log(w1 / w0) / nw
    centres = w0 * np.exp((np.arange(nw) + 0.5) * dlog)
    np.testing.assert_allclose(s.wavelength_aa, centres, atol=0.01)


def test_lnw_zero_padding_is_masked():
    for s in read_spectra(LNW):
        raw = s.flux.copy()
        covered = np.flatnonzero(raw != 0)
        assert s.mask[: covered[0]].all() and s.mask[covered[-1] + 1 :].all()
        assert not s.mask[covered[0] : covered[-1] + 1].any()
        assert (s.ivar[~s.mask] == 1).all() and (s.ivar[s.mask] == 0).all()


def _lnw_lines():
    return LNW.read_text().splitlines()


def test_lnw_truncated(tmp_path):
    path = tmp_path / "cut.lnw"
    path.write_text("\n".join(_lnw_lines()[:500]) + "\n")
    with pytest.raises(
        DataFormatError, match=r"cut\.lnw: truncated: .* the file has 500"
    ):
        read_spectra(path, format="snid.lnw")


def test_lnw_bad_number_names_the_line(tmp_path):
    lines = _lnw_lines()
    lines[100] = lines[100].replace(lines[100].split()[2], "x.yz", 1)
    path = tmp_path / "bad.lnw"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DataFormatError, match=r"bad\.lnw: line 101: expected 4 numbers"
    ):
        read_spectra(path)


def test_lnw_bad_header_and_empty_flux(tmp_path):
    lines = _lnw_lines()
    path = tmp_path / "head.lnw"
    path.write_text("\n".join(["3 1024 2500 10000", *lines[1:]]) + "\n")
    with pytest.raises(DataFormatError, match=r"line 1: not an SNID \.lnw header"):
        read_spectra(path, format="snid.lnw")
    block_start = 2 + 8 + 1  # header, counts, 8 knot lines, ages
    zeros = [f"{ln.split()[0]} 0.0 0.0 0.0" for ln in lines[block_start:]]
    path = tmp_path / "zero.lnw"
    path.write_text("\n".join(lines[:block_start] + zeros) + "\n")
    with pytest.raises(
        DataFormatError, match="every flux of every epoch is zero or NaN"
    ):
        read_spectra(path)


# -- column text ---------------------------------------------------------------


def test_text_real_slsn_cgs_is_rescaled():
    s = read_spectrum(DATA / "ptf09cnd.p31.dat")
    raw = np.loadtxt(DATA / "ptf09cnd.p31.dat")
    np.testing.assert_allclose(s.wavelength_aa, raw[:, 0])
    np.testing.assert_allclose(s.flux, raw[:, 1] * 1e17, rtol=1e-6)
    assert s.meta["flux_scale"] == 1e17 and s.meta["ivar_source"] == "der_snr"
    assert np.isfinite(s.ivar).all() and 0 < s.ivar.max() < np.finfo(np.float32).max
    assert (s.object_id, s.meta["group"], s.meta["age_days"]) == (
        "ptf09cnd.p31",
        "ptf09cnd",
        31.0,
    )


def test_text_real_slsn_relative_flux_is_kept():
    s = read_spectrum(DATA / "sn2005ap.p36.dat")
    raw = np.loadtxt(DATA / "sn2005ap.p36.dat")
    np.testing.assert_allclose(s.flux, raw[:, 1], rtol=1e-6)
    assert "flux_scale" not in s.meta
    assert (s.meta["group"], s.meta["age_days"]) == ("sn2005ap", 36.0)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def _rows(n=40, fmt="{w} {f}", **extra):
    return "".join(
        fmt.format(w=4000 + 2 * i, f=1 + 0.1 * (i % 3), **extra) + "\n"
        for i in range(n)
    )


def test_text_csv_with_header_and_error_column(tmp_path):
    p = _write(
        tmp_path, "a.csv", "wavelength,flux,flux_err\n" + _rows(fmt="{w},{f},0.5")
    )
    s = read_spectrum(p)
    assert np.allclose(s.ivar, 4.0) and s.meta["ivar_source"] == "file"


@pytest.mark.parametrize(
    ("header", "value", "ivar"),
    [
        ("wave flux var", "0.25", 4.0),
        ("wave flux ivar", "4", 4.0),
        ("wave flux sigma", "2", 0.25),
    ],
)
def test_text_third_column_kinds(tmp_path, header, value, ivar):
    p = _write(tmp_path, "b.txt", header + "\n" + _rows(fmt="{w} {f} " + value))
    assert np.allclose(read_spectrum(p).ivar, ivar)


def test_text_units_comments_and_frame(tmp_path):
    text = "# z = 0.123\n# type: II\n# frame: vacuum\nwavelength[nm] flux\n" + "".join(
        f"{400 + 0.2 * i} {1 + 0.1 * (i % 2)}\n" for i in range(40)
    )
    s = read_spectrum(_write(tmp_path, "c.txt", text))
    assert s.wavelength_aa[0] == pytest.approx(4000.0) and s.wavelength_aa[
        1
    ] == pytest.approx(4002.0)
    assert (s.redshift, s.label, s.meta["frame"]) == (0.123, "II", "vacuum")
    s = read_spectrum(_write(tmp_path, "d.txt", "# air wavelengths\n" + _rows()))
    assert s.meta["frame"] == "air"
    assert (
        read_spectrum(_write(tmp_path, "e.txt", _rows()), frame="vacuum").meta["frame"]
        == "vacuum"
    )


def test_text_descending_wavelengths_are_sorted(tmp_path):
    rows = "".join(f"{5000 - i} {i % 3 + 1}\n" for i in range(40))
    s = read_spectrum(_write(tmp_path, "f.txt", rows))
    assert (np.diff(s.wavelength_aa) > 0).all() and s.flux[0] == (39 % 3 + 1)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("# only a comment\n", "no data lines"),
        ("4000 1\n", "fewer than two data lines"),
        (_rows(fmt="{w} {f} 1 2"), r"4 columns; expected wavelength, flux"),
        ("w,f\n4000,1\n4001,x\n4002,1\n", r"line 3, 'f': 'x' is not a number"),
        ("4000 1\n4001 1 2\n", "line 2: 3 values, expected 2"),
        ("4000 nan\n4001 nan\n4002 nan\n", "flux is all NaN"),
        (
            "".join(f"{0.4 + 0.001 * i} {1 + i % 2}\n" for i in range(40)),
            "not plausible Angstrom",
        ),
    ],
)
def test_text_bad_files(tmp_path, text, match):
    with pytest.raises(DataFormatError, match=match):
        read_spectra(_write(tmp_path, "bad.txt", text), format="text")


@pytest.mark.parametrize(
    "text",
    [
        "id,label\nivo://a/b,1\nivo://a/c,0\n" * 5,  # a label catalogue
        "".join(f"{i},{i * 2}\n" for i in range(40)),  # numbers, not wavelengths
        "".join(f"{4000 + (i * 7919) % 40},{i}\n" for i in range(40)),  # not monotonic
    ],
)
def test_text_identifier_rejects_non_spectra(tmp_path, text):
    with pytest.raises(DataFormatError, match="unrecognised spectrum format"):
        identify_format(_write(tmp_path, "table.csv", text))


def test_der_snr_matches_known_noise():
    rng = np.random.default_rng(1)
    w = np.linspace(4000, 7000, 5000)
    smooth = 5 + np.sin(w / 300) + 2 * np.exp(-0.5 * ((w - 6563) / 20) ** 2)
    for sigma in (0.05, 0.3):
        assert estimate_noise(smooth + rng.normal(0, sigma, w.size)) == pytest.approx(
            sigma, rel=0.05
        )
    assert estimate_noise(np.ones(3)) == 0.0
