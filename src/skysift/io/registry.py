"""The spectrum format registry: register readers, identify files by content.

Modelled on :mod:`astropy.io.registry`: each format is a name bound to a
reader function and an identifier. :func:`identify_format` opens a file
once, summarises its content in a :class:`FileProbe` (FITS HDU names,
headers and column names; or the first lines of a text file) and asks every
identifier whether the file is theirs. File names are never consulted, so a
renamed file is still recognised.

Built-in formats (registered by :mod:`skysift.io.fits` and
:mod:`skysift.io.text`)::

    sdss.fits       SDSS spec-*.fits (COADD loglam/flux/ivar/and_mask)
    lamost.fits     LAMOST DR low-resolution spectra, image or table layout
    desi.fits       DESI coadd/spectra files, B/R/Z arms merged
    vo-sdm.fits     IVOA spectral BinTable (spectral, flux), e.g. Ondrejov SSA
    wcs1d.fits      plain 1-D FITS image with a linear (or log-linear) WCS
    snid.lnw        SNID .lnw templates, one spectrum per epoch
    text            two/three-column text or CSV (wavelength, flux[, error])

Every reader returns a list of :class:`~skysift.data.Spectrum` with
wavelengths in Angstrom, the frame (``"air"``, ``"vacuum"`` or
``"unknown"``) in ``meta["frame"]``, and ``meta["ivar_source"]`` saying
where the inverse variance came from (``"file"``, ``"der_snr"`` or
``"unit"``).
"""

from __future__ import annotations

import gzip
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from skysift.data.containers import Spectrum
from skysift.exceptions import DataFormatError

__all__ = [
    "FileProbe",
    "HDUSummary",
    "estimate_noise",
    "finish_spectrum",
    "identify_format",
    "list_formats",
    "read_spectra",
    "read_spectrum",
    "register_reader",
    "unregister_reader",
]

#: Frames a reader may record in ``meta["frame"]``.
FRAMES = ("air", "vacuum", "unknown")

# Wavelengths outside this range (Angstrom) mean a unit or WCS was misread:
# 100 A is far-UV, 1e6 A = 100 micron is far-IR.
_PLAUSIBLE_AA = (100.0, 1.0e6)
_MAX_HDUS = 64
_TEXT_PROBE_BYTES = 65536


@dataclass(frozen=True)
class HDUSummary:
    """What :class:`FileProbe` knows about one FITS HDU (header only, no data).

    Attributes
    ----------
    index : int
        Position in the file, 0 for the primary HDU.
    name : str
        ``EXTNAME`` in upper case (``"PRIMARY"`` for the primary HDU).
    kind : {"image", "bintable", "table"}
        Image (primary or IMAGE extension) or table HDU.
    header : astropy.io.fits.Header
        The HDU header.
    shape : tuple of int
        Data shape in NumPy order (empty for a header-only HDU).
    columns : tuple of str
        Table column names (``TTYPEn``), empty for images.
    """

    index: int
    name: str
    kind: str
    header: Any
    shape: tuple[int, ...]
    columns: tuple[str, ...] = ()

    @property
    def columns_lower(self) -> set[str]:
        """Column names in lower case, for case-insensitive checks."""
        return {c.lower() for c in self.columns}


@dataclass
class FileProbe:
    """A cheap summary of a file's content, shared by every identifier.

    Create one with :meth:`FileProbe.from_path`. Identifiers look at
    :attr:`kind`, then at :attr:`hdus` (FITS) or :attr:`lines` (text).

    Attributes
    ----------
    path : pathlib.Path
        The file.
    kind : {"fits", "text", "binary", "empty"}
        What the first bytes say the file is.
    hdus : list of HDUSummary
        FITS headers (first 64 HDUs), empty unless ``kind == "fits"``.
    lines : list of str
        Up to the first 64 kB of a text file split into lines (the last,
        possibly cut, line dropped), empty unless ``kind == "text"``.
    error : str or None
        Why the FITS headers could not be read, if they could not.
    """

    path: Path
    kind: str
    hdus: list[HDUSummary] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    error: str | None = None

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> FileProbe:
        """Summarise ``path``; never raises for bad content, only for I/O.

        Parameters
        ----------
        path : str or path-like
            The file to look at.

        Returns
        -------
        FileProbe

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist or is a directory.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        with open(path, "rb") as f:
            head = f.read(_TEXT_PROBE_BYTES)
        if not head:
            return cls(path, "empty")
        if head[:2] == b"\x1f\x8b":  # gzip: look inside for FITS
            try:
                with gzip.open(path, "rb") as g:
                    inner = g.read(80)
            except (OSError, EOFError):
                inner = b""
            if inner.startswith(b"SIMPLE  ="):
                return cls._fits(path)
            return cls(path, "binary")
        if head.startswith(b"SIMPLE  ="):
            return cls._fits(path)
        if b"\x00" in head:
            return cls(path, "binary")
        text = head.decode("utf-8", errors="replace")
        lines = text.splitlines()
        if len(head) == _TEXT_PROBE_BYTES and len(lines) > 1:
            lines = lines[:-1]
        return cls(path, "text", lines=lines)

    @classmethod
    def _fits(cls, path: Path) -> FileProbe:
        from astropy.io import fits

        hdus: list[HDUSummary] = []
        error = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                    for i, hdu in enumerate(hdul):
                        if i >= _MAX_HDUS:
                            break
                        hdus.append(_summarise_hdu(i, hdu))
        except (OSError, ValueError, TypeError, IndexError, KeyError) as e:
            error = f"{type(e).__name__}: {e}"
        return cls(path, "fits", hdus=hdus, error=error)

    def hdu(self, name: str) -> HDUSummary | None:
        """Return the first HDU whose EXTNAME is ``name`` (any case), or None."""
        name = name.upper()
        return next((h for h in self.hdus if h.name == name), None)

    @cached_property
    def data_lines(self) -> list[str]:
        """Text lines that are neither blank nor comments (``#``, ``%``, ``;``, ``!``)."""
        return [ln for ln in self.lines if ln.strip() and ln.lstrip()[0] not in "#%;!"]


def _summarise_hdu(index: int, hdu) -> HDUSummary:
    header = hdu.header
    name = str(header.get("EXTNAME", "PRIMARY" if index == 0 else "")).strip()
    xtension = str(header.get("XTENSION", "")).strip().upper()
    kind = {"BINTABLE": "bintable", "TABLE": "table"}.get(xtension, "image")
    naxis = int(header.get("NAXIS", 0) or 0)
    shape = tuple(int(header.get(f"NAXIS{k}", 0) or 0) for k in range(naxis, 0, -1))
    columns: tuple[str, ...] = ()
    if kind != "image":
        n = int(header.get("TFIELDS", 0) or 0)
        columns = tuple(
            str(header.get(f"TTYPE{k}", "")).strip() for k in range(1, n + 1)
        )
    return HDUSummary(index, name.upper(), kind, header, shape, columns)


Reader = Callable[..., list[Spectrum]]
Identifier = Callable[[FileProbe], bool]


@dataclass(frozen=True)
class _Entry:
    name: str
    reader: Reader
    identifier: Identifier | None
    priority: int
    description: str


_REGISTRY: dict[str, _Entry] = {}
_BUILTINS_LOADED = False


def _load_builtins() -> None:
    """Import the modules that register the built-in formats (once)."""
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        import skysift.io.fits
        import skysift.io.text  # noqa: F401


def register_reader(
    name: str,
    reader: Reader,
    identifier: Identifier | None = None,
    *,
    priority: int = 0,
    description: str = "",
    force: bool = False,
) -> None:
    """Register a spectrum reader under a format name.

    Parameters
    ----------
    name : str
        Format name, e.g. ``"sdss.fits"``.
    reader : callable
        ``reader(path, **kwargs) -> list[Spectrum]``. It raises
        :class:`~skysift.exceptions.DataFormatError` naming the file and the
        HDU/column on bad content.
    identifier : callable, optional
        ``identifier(probe: FileProbe) -> bool``; True when the file is in
        this format. Without one the format is used only when asked by name.
    priority : int, default 0
        When several identifiers accept a file, the highest priority wins;
        a tie is an error. Generic formats (plain 1-D WCS, text) register
        with a negative priority so specific survey formats win.
    description : str, optional
        One line shown by :func:`list_formats`.
    force : bool, default False
        Replace an existing registration instead of raising.

    Raises
    ------
    ValueError
        If ``name`` is already registered and ``force`` is False.

    Examples
    --------
    >>> from skysift.io.registry import register_reader, unregister_reader
    >>> def read_mine(path, **kwargs):
    ...     return []
    >>> register_reader("mine.txt", read_mine, lambda probe: False)
    >>> "mine.txt" in list_formats()
    True
    >>> unregister_reader("mine.txt")
    """
    if name in _REGISTRY and not force:
        raise ValueError(
            f"spectrum format {name!r} is already registered; pass force=True "
            "to replace it"
        )
    _REGISTRY[name] = _Entry(name, reader, identifier, priority, description)


def unregister_reader(name: str) -> None:
    """Remove a registered format.

    Parameters
    ----------
    name : str
        A registered format name.

    Raises
    ------
    KeyError
        If ``name`` is not registered.
    """
    if name not in _REGISTRY:
        raise KeyError(f"no spectrum format {name!r}; registered: {sorted(_REGISTRY)}")
    del _REGISTRY[name]


def list_formats() -> dict[str, str]:
    """List the registered spectrum formats with one-line descriptions.

    Returns
    -------
    dict of str to str
        Format name to description, sorted by name.

    Examples
    --------
    >>> sorted(list_formats())[:3]
    ['desi.fits', 'lamost.fits', 'sdss.fits']
    """
    _load_builtins()
    return {n: _REGISTRY[n].description for n in sorted(_REGISTRY)}


def identify_format(path: str | os.PathLike, probe: FileProbe | None = None) -> str:
    r"""Name the format of a spectrum file from its content.

    Parameters
    ----------
    path : str or path-like
        The file.
    probe : FileProbe, optional
        An existing probe of the same file, to avoid reading it twice.

    Returns
    -------
    str
        The registered format name.

    Raises
    ------
    DataFormatError
        If no registered format recognises the file (the message says what
        the file looks like and lists the formats), or if several formats
        of equal priority do.
    FileNotFoundError
        If ``path`` does not exist.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "renamed.bin")
    >>> with open(path, "w") as f:
    ...     _ = f.write("".join(f"{4000 + i} {1.0 + i % 3}\n" for i in range(20)))
    >>> identify_format(path)
    'text'
    """
    _load_builtins()
    probe = probe or FileProbe.from_path(path)
    hits = []
    for entry in _REGISTRY.values():
        if entry.identifier is None:
            continue
        try:
            ok = entry.identifier(probe)
        except (KeyError, ValueError, TypeError, IndexError, AttributeError):
            ok = False  # an identifier that trips on odd content says "not mine"
        if ok:
            hits.append(entry)
    if not hits:
        what = {
            "empty": "an empty file",
            "binary": "a binary file that is not FITS",
            "text": "a text file without wavelength/flux columns",
            "fits": "a FITS file",
        }[probe.kind]
        if probe.kind == "fits" and probe.error:
            what = f"a FITS file whose headers cannot be read ({probe.error})"
        elif probe.kind == "fits":
            names = ", ".join(h.name or str(h.index) for h in probe.hdus[:8])
            what = f"a FITS file with HDUs [{names}] that no reader recognises"
        raise DataFormatError(
            f"{probe.path}: unrecognised spectrum format: {what}; known formats: "
            f"{', '.join(sorted(_REGISTRY))} (pass format=... to force one)"
        )
    best = max(e.priority for e in hits)
    top = sorted(e.name for e in hits if e.priority == best)
    if len(top) > 1:
        raise DataFormatError(
            f"{probe.path}: ambiguous spectrum format, matches {top}; pass "
            "format=... to choose"
        )
    return top[0]


def read_spectra(
    path: str | os.PathLike, format: str = "auto", **kwargs: Any
) -> list[Spectrum]:
    r"""Read every spectrum in a file.

    Parameters
    ----------
    path : str or path-like
        The file (FITS, possibly gzipped, or text).
    format : str, default "auto"
        A registered format name, or ``"auto"`` to identify it by content.
    **kwargs
        Passed to the reader (for example ``frame="air"`` for text files).

    Returns
    -------
    list of Spectrum
        One per spectrum in the file (a DESI coadd holds many, an SNID
        ``.lnw`` file one per epoch). ``meta["format"]`` names the reader
        and ``meta["source_file"]`` the path.

    Raises
    ------
    DataFormatError
        If the file is not in the format, is truncated, empty or holds no
        finite data; the message names the file and the HDU or column.
    FileNotFoundError
        If ``path`` does not exist.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "sn.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("wavelength,flux,flux_err\n")
    ...     _ = f.write("".join(f"{6500 + i},{1 + i % 2},0.1\n" for i in range(50)))
    >>> [s] = read_spectra(path)
    >>> s.object_id, s.meta["format"], float(s.ivar[0])
    ('sn', 'text', 100.0)
    """
    _load_builtins()
    path = Path(path)
    if format == "auto":
        format = identify_format(path)
    elif format not in _REGISTRY:
        raise DataFormatError(
            f"{path}: unknown format {format!r}; known formats: "
            f"{', '.join(sorted(_REGISTRY))} or 'auto'"
        )
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    spectra = _REGISTRY[format].reader(path, **kwargs)
    for s in spectra:
        s.meta.setdefault("format", format)
        s.meta.setdefault("source_file", str(path))
    return spectra


def read_spectrum(
    path: str | os.PathLike, format: str = "auto", **kwargs: Any
) -> Spectrum:
    """Read a file that holds exactly one spectrum.

    Parameters
    ----------
    path : str or path-like
        The file.
    format : str, default "auto"
        A registered format name or ``"auto"``.
    **kwargs
        Passed to the reader.

    Returns
    -------
    Spectrum

    Raises
    ------
    DataFormatError
        As :func:`read_spectra`, or if the file holds more than one
        spectrum (use :func:`read_spectra` for those).
    """
    spectra = read_spectra(path, format=format, **kwargs)
    if len(spectra) != 1:
        raise DataFormatError(
            f"{path}: holds {len(spectra)} spectra; use read_spectra() to read "
            "all of them"
        )
    return spectra[0]


# -- helpers for reader authors ------------------------------------------------


def estimate_noise(flux: np.ndarray, good: np.ndarray | None = None) -> float:
    """Estimate the per-pixel noise of a spectrum with DER_SNR.

    DER_SNR (Stoehr et al. 2008, ASP Conf. Ser. 394, 505) takes the median
    of ``|2 f[i] - f[i-2] - f[i+2]|``: a smooth continuum and lines wider
    than a few pixels cancel, white noise does not, and the factor
    1.482602 / sqrt(6) turns the median into a Gaussian sigma. It is the
    substitute for files that carry no errors.

    Parameters
    ----------
    flux : numpy.ndarray, shape (L,)
        Flux values.
    good : numpy.ndarray of bool, shape (L,), optional
        Pixels to use (default: the finite ones).

    Returns
    -------
    float
        The noise sigma in flux units; 0.0 when fewer than 5 usable pixels
        or a noiseless spectrum.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> flux = 10 + np.sin(np.linspace(0, 3, 4000)) + rng.normal(0, 0.5, 4000)
    >>> round(estimate_noise(flux), 1)
    0.5
    """
    flux = np.asarray(flux, dtype=np.float64)
    keep = np.isfinite(flux) if good is None else (np.asarray(good) & np.isfinite(flux))
    f = flux[keep]
    if f.size < 5:
        return 0.0
    return float(
        1.482602 / np.sqrt(6.0) * np.median(np.abs(2.0 * f[2:-2] - f[:-4] - f[4:]))
    )


def finish_spectrum(
    path: str | os.PathLike,
    where: str,
    object_id: str,
    wavelength_aa: np.ndarray,
    flux: np.ndarray,
    ivar: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    *,
    frame: str,
    label: str | None = None,
    redshift: float | None = None,
    redshift_err: float | None = None,
    meta: dict[str, Any] | None = None,
    require_usable: bool = True,
) -> Spectrum:
    """Validate reader output and build a :class:`~skysift.data.Spectrum`.

    Checks lengths, sorts wavelengths into increasing order, checks they are
    plausible Angstrom values, and turns every non-finite flux or ivar, and
    every negative ivar, into a masked pixel (flux 0, ivar 0, mask True).
    Pixels with ``ivar == 0`` are masked too; pixels masked by the file keep
    their ivar. Fluxes in cgs units (median ``|flux| < 1e-10``, whose
    variances would underflow the store's float32) are multiplied by 1e17
    (ivar divided by 1e34), recorded as ``meta["flux_scale"] = 1e17``.
    Without ``ivar`` the DER_SNR noise (:func:`estimate_noise`) gives one
    constant inverse variance (``meta["ivar_source"] = "der_snr"``).

    Parameters
    ----------
    path : str or path-like
        The source file, for messages.
    where : str
        The HDU / column / line the arrays came from, for messages.
    object_id : str
        Id of the spectrum.
    wavelength_aa, flux : numpy.ndarray, shape (L,)
        Wavelengths (Angstrom) and flux.
    ivar : numpy.ndarray, shape (L,), optional
        Inverse variance; None when the file has no errors.
    mask : numpy.ndarray of bool, shape (L,), optional
        Bad pixels flagged by the file.
    frame : {"air", "vacuum", "unknown"}
        Wavelength frame.
    label : str, optional
        Class from the file.
    redshift, redshift_err : float, optional
        Redshift from the file.
    meta : dict, optional
        Other scalar metadata.
    require_usable : bool, default True
        Raise when no pixel is usable; multi-spectrum readers pass False and
        leave single bad spectra to the caller.

    Returns
    -------
    Spectrum

    Raises
    ------
    DataFormatError
        On empty or mismatched arrays, non-finite or implausible wavelengths,
        an all-NaN flux, or (with ``require_usable``) no usable pixel.
    """
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    wl = np.asarray(wavelength_aa, dtype=np.float64).ravel()
    fl = np.asarray(flux, dtype=np.float64).ravel()
    n = fl.size
    if n == 0:
        raise DataFormatError(f"{path}: {where}: no flux values (empty spectrum)")
    iv = None if ivar is None else np.asarray(ivar, dtype=np.float64).ravel()
    mk = (
        np.zeros(n, dtype=bool)
        if mask is None
        else np.asarray(mask, dtype=bool).ravel()
    )
    sizes = {"wavelength": wl.size, "flux": n, "mask": mk.size}
    if iv is not None:
        sizes["ivar"] = iv.size
    if len(set(sizes.values())) > 1:
        raise DataFormatError(f"{path}: {where}: arrays differ in length: {sizes}")
    if not np.isfinite(wl).all():
        bad = int((~np.isfinite(wl)).sum())
        raise DataFormatError(
            f"{path}: {where}: {bad} of {n} wavelengths are not finite"
        )
    finite_flux = np.isfinite(fl)
    if not finite_flux.any():
        raise DataFormatError(f"{path}: {where}: flux is all NaN/inf ({n} values)")
    lo, hi = float(wl.min()), float(wl.max())
    if lo < _PLAUSIBLE_AA[0] or hi > _PLAUSIBLE_AA[1]:
        raise DataFormatError(
            f"{path}: {where}: wavelengths {lo:.6g}-{hi:.6g} are not plausible "
            f"Angstrom values (expected within {_PLAUSIBLE_AA[0]:g}-{_PLAUSIBLE_AA[1]:g}); "
            "wrong unit or WCS?"
        )
    step = np.diff(wl)
    if not (step > 0).all():
        if (step < 0).all():
            order = slice(None, None, -1)
        else:
            order = np.argsort(wl, kind="stable")
        wl, fl, mk = wl[order], fl[order], mk[order]
        finite_flux = finite_flux[order]
        if iv is not None:
            iv = iv[order]
    meta = dict(meta or {})
    scale = _flux_scale(fl[finite_flux])
    if scale != 1.0:
        # cgs fluxes (~1e-17) have variances near 1e-40, below float32's range:
        # store them in units of 1e-17 erg/s/cm2/A, as SDSS does.
        fl = fl * scale
        if iv is not None:
            iv = iv / scale**2
        meta["flux_scale"] = scale
    if iv is None:
        sigma = estimate_noise(fl, finite_flux & ~mk)
        if sigma > 0:
            iv = np.full(n, 1.0 / sigma**2)
            meta["ivar_source"] = "der_snr"
        else:
            iv = np.ones(n)
            meta["ivar_source"] = "unit"
    else:
        meta.setdefault("ivar_source", "file")
    bad = ~finite_flux | ~np.isfinite(iv) | (iv < 0)
    # A file's own mask flags are kept separate from ivar (SDSS and_mask bits
    # differ in severity); only unusable numbers are zeroed.
    fl = np.where(bad, 0.0, fl)
    iv = np.where(bad, 0.0, iv)
    mk = mk | bad | (iv == 0)
    if np.nanmax(iv) > np.finfo(np.float32).max:
        raise DataFormatError(
            f"{path}: {where}: inverse variance up to {np.nanmax(iv):.3g} overflows "
            "float32; the flux unit is too small (rescale the flux, e.g. to 1e-17 cgs)"
        )
    if require_usable and mk.all():
        raise DataFormatError(
            f"{path}: {where}: no usable pixel (all {n} masked, ivar == 0 or NaN)"
        )
    meta["frame"] = frame
    return Spectrum(
        object_id=str(object_id),
        wavelength_aa=wl,
        flux=fl,
        ivar=iv,
        mask=mk,
        label=label,
        redshift=redshift,
        redshift_err=redshift_err,
        meta=meta,
    )


def _flux_scale(flux: np.ndarray) -> float:
    """Return 1e17 for fluxes in cgs units (median non-zero below 1e-10), else 1."""
    nonzero = np.abs(flux[flux != 0])
    if nonzero.size and np.median(nonzero) < 1e-10:
        return 1e17
    return 1.0


def column_lookup(names: Sequence[str]) -> dict[str, str]:
    """Map lower-case column names to the file's spelling."""
    return {n.lower(): n for n in names}
