"""FITS spectrum readers: SDSS, LAMOST, DESI, IVOA spectral tables, 1-D WCS images.

Each reader returns a list of :class:`~skysift.data.Spectrum` (wavelength in
Angstrom, flux, ivar, mask) and registers itself in
:mod:`skysift.io.registry` with an identifier that looks at HDU names,
header keywords and column names, never at the file name.

Wavelength frames, and what each reader relies on:

==============  =======  ======================================================
format          frame    evidence
==============  =======  ======================================================
sdss.fits       vacuum   ``VACUUM = T`` in the primary header (SDSS data model)
lamost.fits     vacuum   ``VACUUM = T`` in the primary header (LAMOST data model)
desi.fits       vacuum   DESI spectra are vacuum by definition; the files carry
                         no keyword, so the reader records "vacuum" always
vo-sdm.fits     air      the comment of the ``spectral`` column says "Air
                         wavelength" in the Ondrejov SSA files; a "vacuum"
                         comment gives vacuum, none gives "unknown"
wcs1d.fits      air      only when the header says so (``AIRORVAC``,
                         ``VACUUM``, ``CTYPE1 = 'AWAV'``), or for Ondrejov 2-m
                         Coude files (``OBSERVAT = 'ONDREJOV'``): IRAF
                         calibrates them against ThAr air wavelengths, the
                         same archive that labels its VO tables "Air
                         wavelength"; otherwise "unknown"
==============  =======  ======================================================

Checked on the real files: LAMOST stellar H-alpha absorption, corrected by
the header redshift, sits at 6564.6 A (vacuum); SDSS sky [O I] 5577/6300 in
the COADD ``sky`` column sits at 5578.9/6302.0 (vacuum); telluric H2O lines
in Ondrejov spectra sit at their air wavelengths shifted by the heliocentric
correction (raw ``oe270005``: +0.21 A, the header's VHELIO = 9.8 km/s), so
Ondrejov wavelengths are air and heliocentric.

Files without uncertainties (Ondrejov VO tables and raw 1-D images) get a
constant ivar from the DER_SNR noise estimate
(:func:`skysift.io.registry.estimate_noise`), recorded as
``meta["ivar_source"] = "der_snr"``.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from astropy import units as u
from astropy.io import fits

from skysift.data.containers import Spectrum
from skysift.exceptions import DataFormatError
from skysift.io.registry import (
    FileProbe,
    column_lookup,
    finish_spectrum,
    register_reader,
)

__all__ = [
    "merge_arms",
    "read_desi",
    "read_lamost",
    "read_sdss",
    "read_vo_sdm",
    "read_wcs1d",
]


# -- shared helpers ------------------------------------------------------------


@contextmanager
def _open_fits(path: Path) -> Iterator[fits.HDUList]:
    """Open a FITS file, turning unreadable or truncated files into DataFormatError."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hdul = fits.open(path, memmap=False)
            try:
                hdul.readall()
            except Exception:
                hdul.close()
                raise
    except (OSError, ValueError, TypeError, IndexError, EOFError) as e:
        raise DataFormatError(f"{path}: not a readable FITS file ({e})") from e
    for w in caught:
        if "truncated" in str(w.message).lower():
            hdul.close()
            raise DataFormatError(f"{path}: truncated FITS file ({w.message})")
    try:
        yield hdul
    finally:
        hdul.close()


def _hdu_label(hdu, index: int) -> str:
    name = str(hdu.header.get("EXTNAME", "")).strip()
    return f"HDU {index} ({name})" if name else f"HDU {index}"


def _data(hdul: fits.HDUList, key: int | str, path: Path) -> Any:
    """Return the data of one HDU; a missing or unreadable HDU raises, naming it."""
    try:
        hdu = hdul[key]
    except (KeyError, IndexError) as e:
        raise DataFormatError(f"{path}: no HDU {key!r}") from e
    index = hdul.index_of(key) if not isinstance(key, int) else key
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = hdu.data
    except (OSError, ValueError, TypeError, IndexError) as e:
        raise DataFormatError(
            f"{path}: {_hdu_label(hdu, index)}: data unreadable ({e}); truncated?"
        ) from e
    if data is None:
        raise DataFormatError(f"{path}: {_hdu_label(hdu, index)}: holds no data")
    return data


def _column(
    table, names: dict[str, str], want: str, path: Path, where: str
) -> np.ndarray:
    """Return a table column by case-insensitive name as an ndarray."""
    actual = names.get(want.lower())
    if actual is None:
        raise DataFormatError(
            f"{path}: {where}: no column {want!r}; columns are {sorted(names.values())}"
        )
    try:
        return np.asarray(table[actual])
    except (OSError, ValueError, TypeError, IndexError) as e:
        raise DataFormatError(
            f"{path}: {where} column {actual!r}: unreadable ({e})"
        ) from e


def _text(header, key: str) -> str | None:
    value = header.get(key)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _number(value: Any, missing: Sequence[float] = ()) -> float | None:
    """Return a finite float, or None for blanks, NaN and missing markers."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(x) or any(np.isclose(x, m) for m in missing):
        return None
    return x


_UNIT_ALIASES = {
    "angstrom": u.AA,
    "angstroms": u.AA,
    "a": u.AA,
    "aa": u.AA,
    "å": u.AA,
    "0.1nm": u.AA,
    "nanometers": u.nm,
    "nanometer": u.nm,
    "microns": u.um,
    "micron": u.um,
}


def parse_wavelength_unit(text: str | None, path: Path, where: str) -> u.UnitBase:
    """Parse a header/column unit string into an astropy unit (None: Angstrom)."""
    if text is None or not str(text).strip():
        return u.AA
    key = str(text).strip()
    unit = _UNIT_ALIASES.get(key.lower())
    if unit is not None:
        return unit
    try:
        unit = u.Unit(key, parse_strict="raise")
    except ValueError as e:
        raise DataFormatError(
            f"{path}: {where}: unknown wavelength unit {key!r}"
        ) from e
    if not unit.is_equivalent(u.AA, equivalencies=u.spectral()):
        raise DataFormatError(
            f"{path}: {where}: unit {key!r} is not a wavelength, frequency or energy"
        )
    return unit


def to_angstrom(values: np.ndarray, unit: u.UnitBase) -> np.ndarray:
    """Convert spectral coordinates in ``unit`` to Angstrom (frequency/energy allowed)."""
    values = np.asarray(values, dtype=np.float64)
    if unit == u.AA:
        return values
    return (values * unit).to_value(u.AA, equivalencies=u.spectral())


def _frame_keywords(header) -> str | None:
    """Return the frame stated by standard keywords, or None if the header is silent."""
    airorvac = _text(header, "AIRORVAC")
    if airorvac:
        low = airorvac.lower()
        if low.startswith("vac"):
            return "vacuum"
        if low.startswith("air"):
            return "air"
    if "VACUUM" in header and isinstance(header["VACUUM"], bool):
        return "vacuum" if header["VACUUM"] else "air"
    ctype = (_text(header, "CTYPE1") or "").upper()
    if ctype.startswith("AWAV"):
        return "air"
    if ctype.startswith("WAVE"):
        return "vacuum"
    return None


def _wcs_wavelengths(header, n: int, path: Path, where: str) -> np.ndarray:
    """Wavelengths of ``n`` pixels from a linear or IRAF log-linear 1-D WCS.

    ``lambda = CRVAL1 + CDELT1 * (p - CRPIX1)`` for 1-based pixel p (CD1_1
    when CDELT1 is absent); with ``DC-FLAG = 1`` (IRAF, LAMOST) that value
    is log10(lambda).
    """
    crval = _number(header.get("CRVAL1"))
    step = _number(header.get("CDELT1"))
    if step is None or step == 0:
        step = _number(header.get("CD1_1"))
    if crval is None or step is None or step == 0:
        raise DataFormatError(
            f"{path}: {where}: no linear wavelength WCS (need CRVAL1 and CDELT1 or "
            f"CD1_1; got CRVAL1={header.get('CRVAL1')!r}, CDELT1="
            f"{header.get('CDELT1')!r}, CD1_1={header.get('CD1_1')!r})"
        )
    crpix = _number(header.get("CRPIX1"))
    crpix = 1.0 if crpix is None else crpix
    world = crval + step * (np.arange(1, n + 1, dtype=np.float64) - crpix)
    dc_flag = _number(header.get("DC-FLAG"))
    if dc_flag == 1:
        return 10.0**world
    unit_text = _text(header, "CUNIT1")
    if unit_text is None:
        wat = _text(header, "WAT1_001") or ""
        match = re.search(r"units=(\S+)", wat)
        unit_text = match.group(1) if match else None
    return to_angstrom(world, parse_wavelength_unit(unit_text, path, where))


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".fits.gz", ".fit.gz", ".fts.gz", ".fits", ".fit", ".fts", ".gz"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return path.stem


# -- SDSS ----------------------------------------------------------------------


def _is_sdss(probe: FileProbe) -> bool:
    coadd = probe.hdu("COADD")
    return (
        coadd is not None
        and coadd.kind == "bintable"
        and {"loglam", "flux"} <= coadd.columns_lower
    )


def read_sdss(
    path: str | os.PathLike, *, mask_bits: int | None = None
) -> list[Spectrum]:
    """Read an SDSS/BOSS/eBOSS ``spec-PLATE-MJD-FIBER.fits`` file.

    Wavelengths are ``10**loglam`` (vacuum, per ``VACUUM = T``); flux in
    1e-17 erg/s/cm2/A; ivar as in the file. Class, subclass, redshift and
    its error come from the SPECOBJ (DR8-DR16) or SPALL (eBOSS) HDU.

    Parameters
    ----------
    path : str or path-like
        The ``spec-*.fits`` file.
    mask_bits : int, optional
        Which ``and_mask`` bits make a pixel bad. Default: any bit
        (``and_mask != 0``). Old SDSS plates set MANYBADCOLUMNS (bit 4) on
        whole fibres; ``mask_bits=~(1 << 4)`` ignores it.

    Returns
    -------
    list of Spectrum
        One spectrum; ``object_id`` is ``spec-PPPP-MMMMM-FFFF`` from the
        header (not the file name), ``group`` the photometric object
        (``THING_ID``/``BESTOBJID``) when known.

    Raises
    ------
    DataFormatError
        Without a COADD table with loglam/flux/ivar, on unreadable data, an
        all-NaN flux or no usable pixel.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from astropy.io import fits
    >>> loglam = np.arange(3.58, 3.96, 1e-4)
    >>> coadd = fits.BinTableHDU.from_columns([
    ...     fits.Column("flux", "E", array=np.ones(loglam.size)),
    ...     fits.Column("loglam", "E", array=loglam),
    ...     fits.Column("ivar", "E", array=np.ones(loglam.size)),
    ...     fits.Column("and_mask", "J", array=np.zeros(loglam.size))], name="COADD")
    >>> primary = fits.PrimaryHDU()
    >>> primary.header.update(PLATEID=266, MJD=51602, FIBERID=13, VACUUM=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "x.fits")
    >>> fits.HDUList([primary, coadd]).writeto(path)
    >>> [s] = read_sdss(path)
    >>> s.object_id, s.meta["frame"], round(float(s.wavelength_aa[0]), 1)
    ('spec-0266-51602-0013', 'vacuum', 3801.9)
    """
    path = Path(path)
    with _open_fits(path) as hdul:
        if "COADD" not in hdul:
            raise DataFormatError(f"{path}: no COADD HDU (not an SDSS spec file)")
        index = hdul.index_of("COADD")
        where = _hdu_label(hdul[index], index)
        table = _data(hdul, "COADD", path)
        names = column_lookup(table.columns.names)
        loglam = _column(table, names, "loglam", path, where).astype(np.float64)
        flux = _column(table, names, "flux", path, where)
        ivar = _column(table, names, "ivar", path, where)
        if "and_mask" in names:
            and_mask = _column(table, names, "and_mask", path, where).astype(np.int64)
            bits = -1 if mask_bits is None else int(mask_bits)
            mask = (and_mask & bits) != 0
        else:
            mask = None
        h0 = hdul[0].header
        info: dict[str, Any] = {}
        for name in ("SPECOBJ", "SPALL"):
            if name in hdul:
                rows = _data(hdul, name, path)
                if len(rows):
                    info = {c.upper(): rows[c][0] for c in rows.columns.names}
                break
    plate = h0.get("PLATEID", info.get("PLATE"))
    mjd = h0.get("MJD", info.get("MJD"))
    fiber = h0.get("FIBERID", info.get("FIBERID"))
    try:
        object_id = f"spec-{int(plate):04d}-{int(mjd):05d}-{int(fiber):04d}"
    except (TypeError, ValueError):
        object_id = _stem(path)
    label = str(info.get("CLASS", "")).strip() or None
    group = None
    for key in ("THING_ID", "BESTOBJID"):
        value = str(info.get(key, "")).strip()
        if value and value not in ("0", "-1"):
            group = f"sdss-{key.lower()}-{value}"
            break
    meta = {
        "group": group or object_id,
        "subclass": str(info.get("SUBCLASS", "")).strip() or None,
        "ra_deg": _number(info.get("PLUG_RA", h0.get("PLUG_RA"))),
        "dec_deg": _number(info.get("PLUG_DEC", h0.get("PLUG_DEC"))),
        "mjd": _number(mjd),
        "zwarning": int(info["ZWARNING"]) if "ZWARNING" in info else None,
    }
    frame = _frame_keywords(h0) or "vacuum"
    return [
        finish_spectrum(
            path,
            where,
            object_id,
            10.0**loglam,
            flux,
            ivar,
            mask,
            frame=frame,
            label=label,
            redshift=_number(info.get("Z")),
            redshift_err=_number(info.get("Z_ERR")),
            meta=meta,
        )
    ]


# -- LAMOST --------------------------------------------------------------------


def _is_lamost(probe: FileProbe) -> bool:
    if not probe.hdus:
        return False
    h0 = probe.hdus[0].header
    origin = f"{h0.get('TELESCOP', '')} {h0.get('ORIGIN', '')}".upper()
    if "LAMOST" not in origin:
        return False
    shape = probe.hdus[0].shape
    if len(shape) == 2 and 3 <= shape[0] <= 8 and shape[1] > 100:
        return True
    return any(
        h.kind == "bintable" and {"flux", "wavelength"} <= h.columns_lower
        for h in probe.hdus[1:]
    )


# Row order of the old image layout when EXTEN0 does not name the rows.
_LAMOST_DEFAULT_ROWS = ("flux", "inverse", "subcontinuum", "andmask", "ormask")
_LAMOST_MISSING = (-9999.0, -999.0)


def read_lamost(path: str | os.PathLike) -> list[Spectrum]:
    """Read a LAMOST low-resolution spectrum, image or table layout.

    *Image layout* (DR1-DR4): the primary HDU is a (rows, pixels) image whose
    rows ``EXTEN0`` names, e.g. ``Flux Inverse Wavelength Andmask Ormask``
    (DR2) or ``Flux Inverse Subcontinuum Andmask Ormask`` (DR1). A
    ``Wavelength`` row is used when present, otherwise the log-linear WCS
    (``CRVAL1``/``COEFF0`` = log10 of the first pixel, ``CD1_1``/``COEFF1``
    per pixel, ``DC-FLAG = 1``).
    *Table layout* (DR5 on): a binary-table HDU with ``FLUX, IVAR,
    WAVELENGTH, ANDMASK`` array columns in one row.

    Wavelengths are vacuum (``VACUUM = T``); the mask is ``andmask != 0`` or
    ``ivar == 0``. ``CLASS`` becomes the label (``Unknown`` is no label),
    ``Z``/``Z_ERR`` the redshift (-9999 is none), ``DESIG`` the group.

    Parameters
    ----------
    path : str or path-like
        The ``spec-*.fits`` file.

    Returns
    -------
    list of Spectrum
        One spectrum; ``object_id`` is the header ``FILENAME`` without its
        extension (the file name when absent).

    Raises
    ------
    DataFormatError
        On a layout that is neither, unreadable data, an all-NaN flux or no
        usable pixel.
    """
    path = Path(path)
    with _open_fits(path) as hdul:
        h0 = hdul[0].header
        if h0.get("NAXIS", 0) == 2:
            where = _hdu_label(hdul[0], 0)
            image = np.asarray(_data(hdul, 0, path), dtype=np.float64)
            rows = [r.lower() for r in str(h0.get("EXTEN0", "")).split()]
            if len(rows) != image.shape[0]:
                rows = list(_LAMOST_DEFAULT_ROWS[: image.shape[0]])
            named = dict(zip(rows, image, strict=True))
            if "flux" not in named or "inverse" not in named:
                raise DataFormatError(
                    f"{path}: {where}: rows are {rows}; expected Flux and Inverse rows"
                )
            flux, ivar = named["flux"], named["inverse"]
            if "wavelength" in named:
                wavelength = named["wavelength"]
            else:
                wavelength = _lamost_wcs(h0, flux.size, path, where)
            andmask = named.get("andmask")
        else:
            index = next(
                (
                    i
                    for i, h in enumerate(hdul[1:], start=1)
                    if isinstance(h, fits.BinTableHDU)
                    and {"flux", "wavelength"} <= {c.lower() for c in h.columns.names}
                ),
                None,
            )
            if index is None:
                raise DataFormatError(
                    f"{path}: no 2-D primary image and no table HDU with FLUX and "
                    "WAVELENGTH columns (not a LAMOST spectrum)"
                )
            where = _hdu_label(hdul[index], index)
            table = _data(hdul, index, path)
            names = column_lookup(table.columns.names)

            def col(name: str) -> np.ndarray:
                values = _column(table, names, name, path, where)
                return values[0] if values.ndim == 2 else values

            wavelength, flux, ivar = col("wavelength"), col("flux"), col("ivar")
            andmask = col("andmask") if "andmask" in names else None
    mask = None if andmask is None else np.asarray(andmask) != 0
    klass = _text(h0, "CLASS")
    label = None if klass is None or klass.lower() == "unknown" else klass
    filename = _text(h0, "FILENAME")
    object_id = _stem(Path(filename)) if filename else _stem(path)
    meta = {
        "group": _text(h0, "DESIG") or object_id,
        "subclass": _text(h0, "SUBCLASS"),
        "ra_deg": _number(h0.get("RA")),
        "dec_deg": _number(h0.get("DEC")),
        "mjd": _number(h0.get("MJD")),
        "obsid": _text(h0, "OBSID"),
    }
    return [
        finish_spectrum(
            path,
            where,
            object_id,
            wavelength,
            flux,
            ivar,
            mask,
            frame=_frame_keywords(h0) or "vacuum",
            label=label,
            redshift=_number(h0.get("Z"), _LAMOST_MISSING),
            redshift_err=_number(h0.get("Z_ERR"), _LAMOST_MISSING),
            meta=meta,
        )
    ]


def _lamost_wcs(h0, n: int, path: Path, where: str) -> np.ndarray:
    header = h0.copy()
    if "CRVAL1" not in header and "COEFF0" in header:
        header["CRVAL1"], header["CD1_1"] = header["COEFF0"], header.get("COEFF1")
    header.setdefault("DC-FLAG", 1)  # LAMOST dispersion is always log-linear
    return _wcs_wavelengths(header, n, path, where)


# -- DESI ----------------------------------------------------------------------


def _desi_arms(names: Sequence[str]) -> list[str]:
    arms = []
    for name in names:
        match = re.fullmatch(r"([A-Z]+)_FLUX", name)
        if match and f"{match.group(1)}_IVAR" in names:
            arms.append(match.group(1))
    return arms


def _is_desi(probe: FileProbe) -> bool:
    return bool(_desi_arms([h.name for h in probe.hdus if h.kind == "image"]))


def merge_arms(
    wavelengths: Sequence[np.ndarray],
    fluxes: Sequence[np.ndarray],
    ivars: Sequence[np.ndarray],
    masks: Sequence[np.ndarray | None] | None = None,
    *,
    tolerance_aa: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge spectrograph arms (DESI B/R/Z) onto one wavelength grid.

    Where arms overlap, each pixel is the inverse-variance-weighted mean of
    the arms' good pixels (``ivar > 0``, not masked, finite), and its ivar
    the sum of their ivars: the maximum-likelihood combination of
    independent Gaussian measurements.

    When the arms sample one common lattice (DESI: 0.8 A steps from 3600 A
    in every arm) the grid is the union of their pixels and no value is
    interpolated. Otherwise every arm is linearly interpolated onto a
    uniform grid with the finest arm's step; a grid pixel next to a bad
    source pixel gets ivar 0.

    Parameters
    ----------
    wavelengths : sequence of numpy.ndarray, shape (L_k,)
        Increasing wavelengths of each arm.
    fluxes, ivars : sequence of numpy.ndarray, shape (N, L_k) or (L_k,)
        Flux and inverse variance of N spectra in each arm.
    masks : sequence of numpy.ndarray of bool or None, optional
        True marks a bad pixel in an arm.
    tolerance_aa : float, optional
        Wavelengths closer than this are the same pixel; default 1% of the
        smallest median pixel step.

    Returns
    -------
    grid : numpy.ndarray, shape (G,)
    flux, ivar : numpy.ndarray, shape (N, G)
        Where no arm has a good pixel: ivar 0 and the plain mean of the
        arms' finite fluxes (0 if none).
    mask : numpy.ndarray of bool, shape (N, G)
        True where ivar is 0.

    Examples
    --------
    >>> grid, f, iv, m = merge_arms(
    ...     [np.array([1.0, 2.0, 3.0]), np.array([3.0, 4.0])],
    ...     [np.array([1.0, 1.0, 2.0]), np.array([5.0, 6.0])],
    ...     [np.array([1.0, 1.0, 1.0]), np.array([3.0, 1.0])])
    >>> grid.tolist(), f.tolist(), iv.tolist()
    ([1.0, 2.0, 3.0, 4.0], [[1.0, 1.0, 4.25, 6.0]], [[1.0, 1.0, 4.0, 1.0]])
    """
    waves = [np.asarray(w, dtype=np.float64) for w in wavelengths]
    if not waves or len(fluxes) != len(waves) or len(ivars) != len(waves):
        raise ValueError("give one wavelength, flux and ivar array per arm")
    fl = [np.atleast_2d(np.asarray(f, dtype=np.float64)) for f in fluxes]
    iv = [np.atleast_2d(np.asarray(v, dtype=np.float64)) for v in ivars]
    mk = [
        np.zeros_like(f, dtype=bool)
        if m is None
        else np.atleast_2d(np.asarray(m, bool))
        for f, m in zip(fl, masks or [None] * len(waves), strict=True)
    ]
    n = fl[0].shape[0]
    for k, (w, f, v, m) in enumerate(zip(waves, fl, iv, mk, strict=True)):
        if f.shape != (n, w.size) or v.shape != f.shape or m.shape != f.shape:
            raise ValueError(
                f"arm {k}: flux {f.shape}, ivar {v.shape}, mask {m.shape} do not match "
                f"({n} spectra x {w.size} wavelengths)"
            )
    steps = [np.median(np.diff(w)) for w in waves if w.size > 1]
    step = min(steps) if steps else 1.0
    tol = 0.01 * step if tolerance_aa is None else tolerance_aa
    allw = np.sort(np.concatenate(waves))
    keep = np.concatenate([[True], np.diff(allw) > tol])
    grid = allw[keep]
    positions = []
    for w in waves:
        idx = np.clip(np.searchsorted(grid, w - tol), 0, grid.size - 1)
        inside = np.count_nonzero((grid >= w[0] - tol) & (grid <= w[-1] + tol))
        if np.all(np.abs(grid[idx] - w) <= tol) and inside == w.size:
            positions.append(idx)
        else:
            positions = []
            break
    if not positions:  # arms on different lattices: interpolate onto one
        grid = np.arange(allw[0], allw[-1] + 0.5 * step, step)
    num = np.zeros((n, grid.size))
    den = np.zeros((n, grid.size))
    fsum = np.zeros((n, grid.size))
    fcount = np.zeros((n, grid.size))
    for k, (w, f, v, m) in enumerate(zip(waves, fl, iv, mk, strict=True)):
        good = ~m & (v > 0) & np.isfinite(f) & np.isfinite(v)
        if positions:
            idx = positions[k]
            fk, vk, gk = f, v, good
        else:
            idx = np.flatnonzero((grid >= w[0]) & (grid <= w[-1]))
            fk = np.empty((n, idx.size))
            vk = np.empty((n, idx.size))
            gk = np.empty((n, idx.size), dtype=bool)
            for i in range(n):
                fk[i] = np.interp(grid[idx], w, np.where(np.isfinite(f[i]), f[i], 0.0))
                vk[i] = np.interp(grid[idx], w, np.where(good[i], v[i], 0.0))
                # a grid pixel touching a bad source pixel is bad
                gk[i] = np.interp(grid[idx], w, good[i].astype(float)) > 1 - 1e-9
        weight = np.where(gk, vk, 0.0)
        num[:, idx] += weight * np.where(gk, fk, 0.0)
        den[:, idx] += weight
        finite = np.isfinite(fk)
        fsum[:, idx] += np.where(finite, fk, 0.0)
        fcount[:, idx] += finite
    with np.errstate(invalid="ignore", divide="ignore"):
        flux = np.where(
            den > 0, num / den, np.where(fcount > 0, fsum / np.maximum(fcount, 1), 0.0)
        )
    return grid, flux, den, den == 0


def read_desi(path: str | os.PathLike) -> list[Spectrum]:
    """Read a DESI coadd or spectra file: every spectrum, arms merged.

    Arms are the image HDUs ``<ARM>_WAVELENGTH``, ``<ARM>_FLUX``,
    ``<ARM>_IVAR`` and, when present, ``<ARM>_MASK`` (non-zero is bad), for
    every ARM in the file (B, R, Z; or BRZ). They are merged with
    :func:`merge_arms`. Wavelengths are vacuum (DESI convention; the files
    carry no keyword). ``FIBERMAP`` gives ``TARGETID`` (the object id and
    group) and coordinates; a ``REDSHIFTS``/``ZBEST`` table in the same file
    gives ``SPECTYPE`` and ``Z``.

    Parameters
    ----------
    path : str or path-like
        The coadd/spectra file.

    Returns
    -------
    list of Spectrum
        One per row. Without a FIBERMAP the ids are ``<file stem>:<row>``.
        A row with no usable pixel is returned with every pixel masked.

    Raises
    ------
    DataFormatError
        If an arm lacks its WAVELENGTH HDU, arms disagree in the number of
        spectra, shapes do not match, or no row holds any finite flux.
    """
    path = Path(path)
    with _open_fits(path) as hdul:
        names = [str(h.header.get("EXTNAME", "")).strip().upper() for h in hdul]
        arms = _desi_arms(names)
        if not arms:
            raise DataFormatError(f"{path}: no <ARM>_FLUX/<ARM>_IVAR HDUs (not DESI)")
        waves, fluxes, ivars, masks = [], [], [], []
        n_spec = None
        for arm in arms:
            if f"{arm}_WAVELENGTH" not in names:
                raise DataFormatError(
                    f"{path}: HDU {arm}_FLUX has no {arm}_WAVELENGTH HDU; cannot place "
                    "its pixels (a rebinned file without wavelengths?)"
                )
            wave_hdu = hdul[f"{arm}_WAVELENGTH"]
            unit = parse_wavelength_unit(
                _text(wave_hdu.header, "BUNIT"), path, f"HDU {arm}_WAVELENGTH"
            )
            wave = to_angstrom(np.ravel(_data(hdul, f"{arm}_WAVELENGTH", path)), unit)
            flux = np.atleast_2d(
                np.asarray(_data(hdul, f"{arm}_FLUX", path), np.float64)
            )
            ivar = np.atleast_2d(
                np.asarray(_data(hdul, f"{arm}_IVAR", path), np.float64)
            )
            mask = (
                np.atleast_2d(np.asarray(_data(hdul, f"{arm}_MASK", path)) != 0)
                if f"{arm}_MASK" in names
                else None
            )
            for what, arr in (("FLUX", flux), ("IVAR", ivar), ("MASK", mask)):
                if arr is not None and arr.shape[1] != wave.size:
                    raise DataFormatError(
                        f"{path}: HDU {arm}_{what} has {arr.shape[1]} pixels per "
                        f"spectrum, {arm}_WAVELENGTH has {wave.size}"
                    )
            if n_spec is None:
                n_spec = flux.shape[0]
            if flux.shape[0] != n_spec or ivar.shape[0] != n_spec:
                raise DataFormatError(
                    f"{path}: HDU {arm}_FLUX/IVAR hold {flux.shape[0]}/{ivar.shape[0]} "
                    f"spectra, {arms[0]}_FLUX holds {n_spec}"
                )
            if np.any(np.diff(wave) <= 0):
                raise DataFormatError(
                    f"{path}: HDU {arm}_WAVELENGTH is not strictly increasing"
                )
            waves.append(wave)
            fluxes.append(flux)
            ivars.append(ivar)
            masks.append(mask)
        fibermap = _optional_table(hdul, "FIBERMAP", path)
        redshifts = _optional_table(hdul, "REDSHIFTS", path)
        if redshifts is None:
            redshifts = _optional_table(hdul, "ZBEST", path)
    if not any(np.isfinite(f).any() for f in fluxes):
        raise DataFormatError(
            f"{path}: HDUs {', '.join(a + '_FLUX' for a in arms)}: flux is all NaN/inf"
        )
    grid, flux, ivar, mask = merge_arms(waves, fluxes, ivars, masks)
    ids = [f"{_stem(path)}:{i}" for i in range(n_spec)]
    extra: list[dict[str, Any]] = [{} for _ in range(n_spec)]
    if (
        fibermap is not None
        and "TARGETID" in fibermap
        and len(fibermap["TARGETID"]) == n_spec
    ):
        ids = [str(int(t)) for t in fibermap["TARGETID"]]
        for i in range(n_spec):
            extra[i]["ra_deg"] = _number(fibermap.get("TARGET_RA", [None] * n_spec)[i])
            extra[i]["dec_deg"] = _number(
                fibermap.get("TARGET_DEC", [None] * n_spec)[i]
            )
    if len(set(ids)) != len(ids):
        ids = [f"{_stem(path)}:{i}" for i in range(n_spec)]
    labels: dict[str, tuple] = {}
    if redshifts is not None and "TARGETID" in redshifts:
        for i, target in enumerate(redshifts["TARGETID"]):
            labels[str(int(target))] = (
                str(redshifts["SPECTYPE"][i]).strip()
                if "SPECTYPE" in redshifts
                else None,
                _number(redshifts["Z"][i]) if "Z" in redshifts else None,
                _number(redshifts["ZERR"][i]) if "ZERR" in redshifts else None,
            )
    where = "HDUs " + "/".join(arms)
    out = []
    for i, oid in enumerate(ids):
        label, z, zerr = labels.get(oid, (None, None, None))
        meta = {"group": oid, **extra[i]}
        out.append(
            finish_spectrum(
                path,
                f"{where} row {i}",
                oid,
                grid,
                flux[i],
                ivar[i],
                mask[i],
                frame="vacuum",
                label=label or None,
                redshift=z,
                redshift_err=zerr,
                meta=meta,
                require_usable=False,
            )
        )
    return out


def _optional_table(hdul: fits.HDUList, name: str, path: Path) -> dict | None:
    if name not in hdul:
        return None
    data = _data(hdul, name, path)
    return {c.upper(): np.asarray(data[c]) for c in data.columns.names}


# -- IVOA spectral data model tables (Ondrejov SSA) ---------------------------------


def _sdm_hdu(probe_hdus) -> Any:
    return next(
        (
            h
            for h in probe_hdus
            if h.kind == "bintable" and {"spectral", "flux"} <= h.columns_lower
        ),
        None,
    )


def _is_vo_sdm(probe: FileProbe) -> bool:
    return _sdm_hdu(probe.hdus) is not None


def read_vo_sdm(path: str | os.PathLike) -> list[Spectrum]:
    """Read an IVOA spectral data model BinTable (``spectral``, ``flux`` columns).

    This is what the Ondrejov archive's SSA service (DaCHS) delivers for
    CCD700 spectra: one row per pixel, ``spectral`` in ``TUNITn`` units
    (Angstrom), ``flux`` relative, no errors. The frame is read from the
    comment of the ``spectral`` column ("Air wavelength" at Ondrejov), then
    from standard keywords, else "unknown". A ``flux_error`` column, when
    present, gives ``ivar = 1 / error**2``; otherwise the DER_SNR noise gives
    a constant ivar.

    Parameters
    ----------
    path : str or path-like
        The FITS file.

    Returns
    -------
    list of Spectrum
        One spectrum; ``object_id`` is the publisher DID (``DS_IDPUB``, e.g.
        ``ivo://asu.cas.cz/stel/ccd700/uk220017``) when present, else the
        file stem; ``group`` the ``OBJECT`` name.

    Raises
    ------
    DataFormatError
        On a missing column, unreadable data, an all-NaN flux or no usable
        pixel.
    """
    path = Path(path)
    with _open_fits(path) as hdul:
        index = next(
            (
                i
                for i, h in enumerate(hdul)
                if isinstance(h, fits.BinTableHDU)
                and {"spectral", "flux"} <= {c.lower() for c in h.columns.names}
            ),
            None,
        )
        if index is None:
            raise DataFormatError(
                f"{path}: no table HDU with 'spectral' and 'flux' columns"
            )
        hdu = hdul[index]
        where = _hdu_label(hdu, index)
        header = hdu.header
        table = _data(hdul, index, path)
        names = column_lookup(table.columns.names)
        spectral_name = names["spectral"]
        col = table.columns[spectral_name]
        unit = parse_wavelength_unit(
            col.unit, path, f"{where} column {spectral_name!r}"
        )
        wavelength = to_angstrom(_column(table, names, "spectral", path, where), unit)
        flux = _column(table, names, "flux", path, where)
        error = None
        for candidate in ("flux_error", "flux_err", "fluxerr", "error"):
            if candidate in names:
                error = _column(table, names, candidate, path, where).astype(np.float64)
                break
        k = table.columns.names.index(spectral_name) + 1
        comment = str(header.comments[f"TTYPE{k}"]).lower()
        h0 = hdul[0].header
    if "vacuum" in comment or "vac " in f"{comment} ":
        frame = "vacuum"
    elif "air" in comment:
        frame = "air"
    else:
        frame = _frame_keywords(header) or _frame_keywords(h0) or "unknown"
    ivar = None
    if error is not None:
        with np.errstate(divide="ignore"):
            ivar = np.where(error > 0, 1.0 / error**2, 0.0)
    object_id = _text(header, "DS_IDPUB") or _stem(path)
    meta = {
        "group": _text(header, "OBJECT") or object_id,
        "ra_deg": _number(header.get("RA")),
        "dec_deg": _number(header.get("DEC")),
        "mjd": _number(header.get("TMID")),
    }
    return [
        finish_spectrum(
            path, where, object_id, wavelength, flux, ivar, frame=frame, meta=meta
        )
    ]


# -- plain 1-D images with a linear WCS (raw Ondrejov CCD700) -----------------------


def _first_image(hdus) -> Any:
    return next((h for h in hdus if h.kind == "image" and h.shape), None)


def _band_rows(header, shape: tuple[int, ...]) -> bool:
    # IRAF multispec "bands": (bands, 1, pixels) or (bands, pixels) with BANDIDn
    return len(shape) >= 2 and all(s == 1 for s in shape[1:-1]) and "BANDID1" in header


def _is_wcs1d(probe: FileProbe) -> bool:
    hdu = _first_image(probe.hdus)
    if hdu is None or hdu.shape[-1] < 2:
        return False
    h = hdu.header
    one_d = all(s == 1 for s in hdu.shape[:-1]) or _band_rows(h, hdu.shape)
    has_wcs = "CRVAL1" in h and ("CDELT1" in h or "CD1_1" in h)
    ctype = str(h.get("CTYPE1", "")).upper()
    return one_d and has_wcs and not ctype.startswith(("RA", "DEC", "GLON", "GLAT"))


def _is_ondrejov(header) -> bool:
    where = f"{header.get('OBSERVAT', '')} {header.get('TELESCOP', '')}".upper()
    return "ONDREJOV" in where or "ZEISS-2M" in where


def read_wcs1d(path: str | os.PathLike, *, frame: str | None = None) -> list[Spectrum]:
    """Read a 1-D FITS image whose wavelengths follow a linear WCS.

    ``lambda = CRVAL1 + CDELT1 * (p - CRPIX1)`` (``CD1_1`` when ``CDELT1`` is
    absent, CRPIX1 default 1), in ``CUNIT1`` or the IRAF ``WAT1_001 units=``
    unit (Angstrom when neither); IRAF ``DC-FLAG = 1`` means the WCS gives
    log10(lambda). IRAF band images (``BANDID1..n``) use band 1 as flux and
    a band whose BANDID mentions "sigma" as the error. This is the format of
    raw Ondrejov 2-m Coude (CCD700) spectra.

    Parameters
    ----------
    path : str or path-like
        The FITS file.
    frame : {"air", "vacuum", "unknown"}, optional
        Override the frame. By default it comes from ``AIRORVAC``,
        ``VACUUM`` or ``CTYPE1`` (AWAV/WAVE); Ondrejov files
        (``OBSERVAT = 'ONDREJOV'``) are air; anything else "unknown".

    Returns
    -------
    list of Spectrum
        One spectrum; ``object_id`` is the file stem and ``group`` the
        ``OBJECT`` name. Without a sigma band, ivar is the constant DER_SNR
        estimate.

    Raises
    ------
    DataFormatError
        Without a usable WCS, on unreadable data, an all-NaN flux or no
        usable pixel.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from astropy.io import fits
    >>> hdu = fits.PrimaryHDU(np.ones(100, dtype=np.float32))
    >>> hdu.header.update(CRVAL1=6500.0, CDELT1=0.25, CRPIX1=1.0, OBSERVAT="ONDREJOV")
    >>> path = os.path.join(tempfile.mkdtemp(), "oe.fits")
    >>> hdu.writeto(path)
    >>> [s] = read_wcs1d(path)
    >>> float(s.wavelength_aa[4]), s.meta["frame"]
    (6501.0, 'air')
    """
    path = Path(path)
    with _open_fits(path) as hdul:
        index = next(
            (
                i
                for i, h in enumerate(hdul)
                if h.is_image and h.header.get("NAXIS", 0) >= 1
            ),
            None,
        )
        if index is None:
            raise DataFormatError(f"{path}: no image HDU with data")
        hdu = hdul[index]
        where = _hdu_label(hdu, index)
        header = hdu.header
        data = np.asarray(_data(hdul, index, path), dtype=np.float64)
        h0 = hdul[0].header
    error = None
    if data.ndim > 1 and _band_rows(header, data.shape):
        bands = data.reshape(data.shape[0], data.shape[-1])
        flux = bands[0]
        for k in range(1, bands.shape[0]):
            if "sigma" in str(header.get(f"BANDID{k + 1}", "")).lower():
                error = bands[k]
    elif data.size == data.shape[-1]:
        flux = data.reshape(-1)
    else:
        raise DataFormatError(
            f"{path}: {where}: image of shape {data.shape} is not a 1-D spectrum"
        )
    wavelength = _wcs_wavelengths(header, flux.size, path, where)
    if frame is None:
        frame = _frame_keywords(header)
    if frame is None:
        frame = "air" if _is_ondrejov(header) or _is_ondrejov(h0) else "unknown"
    ivar = None
    if error is not None:
        with np.errstate(divide="ignore"):
            ivar = np.where(error > 0, 1.0 / error**2, 0.0)
    meta = {
        "group": _text(header, "OBJECT") or _stem(path),
        "mjd": _mjd_from_header(header),
    }
    return [
        finish_spectrum(
            path, where, _stem(path), wavelength, flux, ivar, frame=frame, meta=meta
        )
    ]


def _mjd_from_header(header) -> float | None:
    mjd = _number(header.get("MJD-OBS"))
    if mjd is None:
        jd = _number(header.get("JD"))
        mjd = None if jd is None else jd - 2400000.5
    return mjd


register_reader(
    "sdss.fits",
    read_sdss,
    _is_sdss,
    priority=10,
    description="SDSS/BOSS spec-*.fits: COADD loglam/flux/ivar/and_mask, SPECOBJ class and z (vacuum)",
)
register_reader(
    "lamost.fits",
    read_lamost,
    _is_lamost,
    priority=10,
    description="LAMOST low-resolution spec-*.fits, image (DR1-4) or table (DR5+) layout (vacuum)",
)
register_reader(
    "desi.fits",
    read_desi,
    _is_desi,
    priority=10,
    description="DESI coadd/spectra: <ARM>_WAVELENGTH/FLUX/IVAR[/MASK], arms merged (vacuum)",
)
register_reader(
    "vo-sdm.fits",
    read_vo_sdm,
    _is_vo_sdm,
    priority=5,
    description="IVOA spectral BinTable with 'spectral' and 'flux' columns (Ondrejov SSA; air)",
)
register_reader(
    "wcs1d.fits",
    read_wcs1d,
    _is_wcs1d,
    priority=-10,
    description="1-D FITS image with a linear WCS: CRVAL1, CDELT1/CD1_1, CRPIX1 (raw Ondrejov)",
)
