"""Observed-frame training spectra from rest-frame supernova templates.

DASH (Muthukrishna et al. 2019) trains on SNID templates (Blondin & Tonry
2007): rest-frame, continuum-divided epoch spectra of 18 subtypes. Real
survey spectra are none of that: they are redshifted, noisy and carry light
of the host galaxy. :func:`augment_spectra` turns rest-frame templates into
such spectra, vectorised over rows, and :func:`build_dash_spectra` writes a
store of them from the DASH archives (issue 8, recipe 2; seed 000's task).

Per augmented copy of a template epoch:

1. **Redshift** ``z ~ U(z_range)``: the observed spectrum at ``lambda`` is the
   template at ``lambda / (1 + z)`` (linear interpolation), on a log-lambda
   grid over the spectrograph's window (default 3500-10000 AA). Pixels whose
   rest wavelength falls outside the template's coverage are missing:
   ``flux`` NaN, ``mask`` True, ``ivar`` 0 -- never zeros.
2. **Host galaxy**: a galaxy template (Superfit's set), redshifted by the same
   ``z``, scaled so that its flux summed over the valid observed pixels is
   ``host_fraction`` times the supernova's, and added.
3. **Noise**: white Gaussian noise of ``sigma = mean(signal) / snr`` over the
   valid pixels, with ``snr`` drawn log-uniformly from ``snr_range``;
   ``ivar = 1 / sigma**2``.

SNID templates are continuum-divided ("flattened", mean about 0), so the
supernova enters as ``flat + 1``: its continuum is set to 1 at every
wavelength and only the galaxy brings a continuum shape. The dilution of the
supernova's features by the host, and the galaxy's own features, are what
the mixing models; the supernova's colour is lost in the templates already.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from skysift.exceptions import DataFormatError
from skysift.io.rejects import REJECTED_FILE, write_rejects

__all__ = [
    "BROAD_TYPES",
    "augment_spectra",
    "broad_type",
    "build_dash_spectra",
    "normalize_sn_name",
    "read_galaxy_templates",
    "read_snid_templates",
    "redshift_rows",
]

#: SNID subtypes of each broad type, as DASH groups them (IIb with Ib: a
#: helium-rich stripped envelope; Ia-02cx is DASH's Iax).
BROAD_TYPES: dict[str, tuple[str, ...]] = {
    "Ia": ("Ia-norm", "Ia-91T", "Ia-91bg", "Ia-csm", "Ia-02cx", "Ia-pec", "Ia-99aa"),
    "Ib": ("Ib-norm", "Ibn", "IIb", "Ib-pec"),
    "Ic": ("Ic-norm", "Ic-broad", "Ic-pec"),
    "II": ("IIP", "IIL", "IIn", "II-pec"),
}
_SUBTYPE_TO_BROAD = {sub: broad for broad, subs in BROAD_TYPES.items() for sub in subs}
#: Superfit's galaxy set (``gal/gal.list``): Kinney et al. (1996) E-Sb and
#: starbursts SB1-6 (narrow lines removed, smoothed), a pegase Sc.
SUPERFIT_GALAXIES = ("E", "S0", "Sa", "Sb", "Sc", "SB1", "SB2", "SB3", "SB4", "SB5", "SB6")
REJECTED_NAME = REJECTED_FILE
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def broad_type(snid_type: str) -> str | None:
    """Return the broad type (Ia, Ib, Ic, II) of an SNID subtype, or None.

    Examples
    --------
    >>> broad_type("Ia-91bg"), broad_type("IIb"), broad_type("SLSN-I")
    ('Ia', 'Ib', None)
    """
    return _SUBTYPE_TO_BROAD.get(str(snid_type))


def normalize_sn_name(name: str) -> str:
    """One name per supernova: lower case, two-digit years expanded, suffixes cut.

    The DASH set holds some supernovae twice under different file names
    (``sn91bg.lnw``, ``sn1991bg.lnw``, ``sn91bg_bsnip.lnw``); a split grouped
    by the raw name would put one supernova in two splits.

    Examples
    --------
    >>> normalize_sn_name("sn91bg_bsnip"), normalize_sn_name("SN1991bg")
    ('sn1991bg', 'sn1991bg')
    >>> normalize_sn_name("sn02er"), normalize_sn_name("PTF10bzf")
    ('sn2002er', 'ptf10bzf')
    """
    n = str(name).strip().lower().split("_")[0]
    m = re.match(r"^sn(\d{2})([a-z]+)$", n)
    if m:
        year = int(m.group(1))
        n = f"sn{1900 + year if year >= 30 else 2000 + year}{m.group(2)}"
    return n


# -- interpolation -----------------------------------------------------------


def redshift_rows(
    rest_wavelength_aa: np.ndarray,
    flux: np.ndarray,
    covered: np.ndarray,
    z: np.ndarray,
    observed_wavelength_aa: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Shift rows sharing one rest-frame grid to the observed frame.

    The observed flux density at ``lambda`` is the rest-frame one at
    ``lambda / (1 + z)``, linearly interpolated; a pixel is valid when both
    rest-frame neighbours are covered. (Flux densities per unit wavelength
    also scale by ``1 / (1 + z)``; that common factor is dropped, as every
    spectrum is renormalised downstream.)

    Parameters
    ----------
    rest_wavelength_aa : numpy.ndarray, shape (L,)
        Increasing rest-frame grid shared by all rows.
    flux : numpy.ndarray, shape (N, L) or (1, L)
        Rest-frame flux (one row is broadcast over ``z``).
    covered : numpy.ndarray of bool, like ``flux``
        Pixels holding data.
    z : numpy.ndarray, shape (N,)
    observed_wavelength_aa : numpy.ndarray, shape (M,)

    Returns
    -------
    flux : numpy.ndarray, shape (N, M), float64
        NaN where not valid.
    valid : numpy.ndarray of bool, shape (N, M)

    Examples
    --------
    >>> rest = np.array([4000.0, 5000.0, 6000.0])
    >>> f, ok = redshift_rows(rest, np.array([[0.0, 1.0, 0.0]]),
    ...                       np.ones((1, 3), bool), np.array([0.2]),
    ...                       np.array([5400.0, 6000.0, 9000.0]))
    >>> f.round(3), ok
    (array([[0.5, 1. , nan]]), array([[ True,  True, False]]))
    """
    wl = np.asarray(rest_wavelength_aa, dtype=np.float64)
    flux = np.asarray(flux, dtype=np.float64)
    covered = np.asarray(covered, dtype=bool)
    z = np.asarray(z, dtype=np.float64).reshape(-1)
    obs = np.asarray(observed_wavelength_aa, dtype=np.float64)
    if wl.ndim != 1 or wl.size < 2 or np.any(np.diff(wl) <= 0):
        raise ValueError("redshift_rows: the rest grid must be 1-D and strictly increasing")
    if flux.shape[-1] != wl.size or covered.shape != flux.shape:
        raise ValueError(
            f"redshift_rows: flux {flux.shape} and covered {covered.shape} must be "
            f"(N, {wl.size})"
        )
    if np.any(z <= -1) or not np.all(np.isfinite(z)):
        raise ValueError(f"redshift_rows: need finite z > -1, got {z[~(z > -1)][:3]}")
    rest = obs[None, :] / (1.0 + z[:, None])  # (N, M) rest wavelength of each pixel
    inside = (rest >= wl[0]) & (rest <= wl[-1])
    hi = np.clip(np.searchsorted(wl, rest, side="right"), 1, wl.size - 1)
    lo = hi - 1
    t = (rest - wl[lo]) / (wl[hi] - wl[lo])
    rows = np.zeros((z.size, 1), dtype=np.intp) if flux.shape[0] == 1 else (
        np.arange(z.size)[:, None]
    )
    f_lo, f_hi = flux[rows, lo], flux[rows, hi]
    valid = inside & covered[rows, lo] & covered[rows, hi]
    # a pixel exactly on a covered grid point needs only that point
    valid |= inside & (t == 0) & covered[rows, lo]
    out = np.where(valid, f_lo * (1.0 - t) + f_hi * t, np.nan)
    return out, valid


def augment_spectra(
    rest_wavelength_aa: np.ndarray,
    flux: np.ndarray,
    covered: np.ndarray,
    *,
    z: np.ndarray,
    snr: np.ndarray,
    observed_wavelength_aa: np.ndarray,
    host_wavelength_aa: Sequence[np.ndarray] = (),
    host_flux: Sequence[np.ndarray] = (),
    host_index: np.ndarray | None = None,
    host_fraction: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    continuum: float = 1.0,
) -> dict[str, np.ndarray]:
    """Redshift, add host light and noise to rest-frame spectra (vectorised).

    Parameters
    ----------
    rest_wavelength_aa : numpy.ndarray, shape (L,)
        Rest-frame grid shared by the rows.
    flux : numpy.ndarray, shape (N, L)
        Rest-frame flux; SNID templates are continuum-divided, so
        ``continuum`` (default 1) is added to put them on a continuum of 1.
    covered : numpy.ndarray of bool, shape (N, L)
    z, snr : numpy.ndarray, shape (N,)
        Redshift and the signal-to-noise ratio per pixel:
        ``sigma = mean(signal) / snr`` over the valid pixels (``inf`` or
        ``<= 0``: no noise).
    observed_wavelength_aa : numpy.ndarray, shape (M,)
    host_wavelength_aa, host_flux : sequences of 1-D arrays
        Rest-frame galaxy templates (each covering the observed window at
        every ``z``; pixels it does not cover become invalid).
    host_index : numpy.ndarray of int, shape (N,), optional
        Galaxy per row; -1 for none.
    host_fraction : numpy.ndarray, shape (N,), optional
        Host flux summed over the valid pixels, as a fraction of the
        supernova's.
    rng : numpy.random.Generator, optional
        For the noise.
    continuum : float, default 1.0

    Returns
    -------
    dict
        ``flux`` (N, M) float32, NaN where invalid; ``ivar`` (N, M) float32,
        0 where invalid; ``mask`` (N, M) bool, True where invalid;
        ``sn_flux``, ``host_flux`` (N, M) float64, the noiseless parts
        (NaN where invalid); ``sigma`` (N,); ``n_valid`` (N,).

    Examples
    --------
    >>> rest = np.linspace(3000.0, 9000.0, 601)
    >>> line = 1.0 * np.exp(-0.5 * ((rest - 5000.0) / 20.0) ** 2)[None, :]
    >>> obs = np.linspace(4000.0, 8000.0, 4001)
    >>> out = augment_spectra(rest, line, np.ones_like(line, bool), z=np.array([0.3]),
    ...                       snr=np.array([np.inf]), observed_wavelength_aa=obs)
    >>> float(obs[np.nanargmax(out["flux"][0])])   # 5000 * 1.3
    6500.0
    """
    n = len(z)
    z = np.asarray(z, dtype=np.float64)
    snr = np.asarray(snr, dtype=np.float64)
    rng = rng if rng is not None else np.random.default_rng()
    sn, valid = redshift_rows(
        rest_wavelength_aa, np.asarray(flux, np.float64) + continuum, covered, z,
        observed_wavelength_aa,
    )
    host = np.zeros_like(sn)
    if host_index is not None and host_fraction is not None and len(host_flux):
        host_index = np.asarray(host_index, dtype=np.intp)
        fraction = np.asarray(host_fraction, dtype=np.float64)
        for h in np.unique(host_index[host_index >= 0]):
            rows = np.flatnonzero(host_index == h)
            g_wl = np.asarray(host_wavelength_aa[h], np.float64)
            g_fl = np.asarray(host_flux[h], np.float64)[None, :]
            g, g_ok = redshift_rows(
                g_wl, g_fl, np.isfinite(g_fl), z[rows], observed_wavelength_aa
            )
            valid[rows] &= g_ok
            host[rows] = np.where(g_ok, g, 0.0)
        ok = valid & (host_index >= 0)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            sn_sum = np.where(valid, sn, 0.0).sum(axis=1)
            g_sum = np.where(ok, host, 0.0).sum(axis=1)
            scale = np.where(g_sum > 0, fraction * sn_sum / g_sum, 0.0)
        host = host * scale[:, None]
    host = np.where(valid, host, np.nan)
    sn = np.where(valid, sn, np.nan)
    signal = sn + host
    n_valid = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.where(n_valid > 0, np.nansum(np.abs(signal), axis=1) / n_valid, 0.0)
        sigma = np.where((snr > 0) & np.isfinite(snr), level / snr, 0.0)
    noisy = signal + sigma[:, None] * rng.standard_normal((n, signal.shape[1]))
    with np.errstate(divide="ignore"):
        ivar = np.where(valid, np.where(sigma > 0, 1.0 / sigma**2, 1.0)[:, None], 0.0)
    return {
        "flux": noisy.astype(np.float32),
        "ivar": ivar.astype(np.float32),
        "mask": ~valid,
        "sn_flux": sn,
        "host_flux": host,
        "sigma": sigma,
        "n_valid": n_valid,
    }


# -- reading the archives ----------------------------------------------------


def _is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(_TAR_SUFFIXES)


def _members(path: Path, suffix: str | None, names: set[str] | None) -> Iterator[
    tuple[str, Path | None, str | None]
]:
    """(display name, file on disk, None) per wanted file, or (name, None, why).

    A directory is walked; a tar archive is streamed one member at a time
    through a temporary file (:func:`skysift.io.ingest.iter_archive_members`).
    ``suffix`` or ``names`` select the files.
    """

    def wanted(name: str) -> bool:
        base = PurePosixPath(name).name
        if names is not None:
            return base in names
        return suffix is None or base.lower().endswith(suffix)

    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and wanted(p.name):
                yield str(p), p, None
        return
    from skysift.io.ingest import iter_archive_members

    with tempfile.TemporaryDirectory(prefix="skysift-augment-") as tmp:
        yield from iter_archive_members(path, Path(tmp), wanted)


def _check_source(path: Path, what: str) -> None:
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    if not (path.is_dir() or _is_archive(path)):
        raise DataFormatError(
            f"{what} {path}: expected a directory or a tar archive "
            f"({', '.join(_TAR_SUFFIXES)})"
        )


def read_snid_templates(path: str | os.PathLike) -> tuple[list, list[tuple[str, str]]]:
    """Read every ``.lnw`` template of a directory or tar archive.

    Parameters
    ----------
    path : path-like
        A directory (searched recursively) or a tar archive such as DASH's
        ``dash_training_set_snid_templates.tar.gz``.

    Returns
    -------
    spectra : list of Spectrum
        Every epoch, as :func:`skysift.io.text.read_snid_lnw` reads it.
    rejected_files : list of (file, reason)
        Files that could not be read.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        If it is neither a directory nor a tar archive, or holds no ``.lnw``
        file at all.
    """
    from skysift.io.text import read_snid_lnw

    path = Path(path)
    _check_source(path, "SNID templates")
    spectra, rejected, n_files = [], [], 0
    for display, file, why in _members(path, ".lnw", None):
        n_files += 1
        if file is None:
            rejected.append((display, why))
            continue
        try:
            spectra += read_snid_lnw(file)
        except DataFormatError as e:
            rejected.append((display, str(e).replace(str(file), "").lstrip(": ")))
    if n_files == 0:
        raise DataFormatError(f"SNID templates {path}: no .lnw file found")
    return spectra, rejected


def read_galaxy_templates(
    path: str | os.PathLike, names: Sequence[str] = SUPERFIT_GALAXIES
) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """Read two-column galaxy templates (Superfit's ``gal/``) by file name.

    Parameters
    ----------
    path : path-like
        A directory or a tar archive (e.g. ``superfit_templates.tar.gz``).
    names : sequence of str
        File names to read (default: Superfit's ``gal.list`` set).

    Returns
    -------
    names, wavelength_aa, flux : lists
        In the order given; pixels with zero or negative flux (the
        templates' padding) are NaN.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or a named template is absent.
    DataFormatError
        If a template cannot be read.
    """
    from skysift.io.text import read_text

    path = Path(path)
    _check_source(path, "galaxy templates")
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for display, file, why in _members(path, None, set(names)):
        name = PurePosixPath(display).name
        if file is None:
            raise DataFormatError(f"galaxy template {display}: {why}")
        if name in found:  # first one wins (e.g. gal/E before kinney/E)
            continue
        try:
            spectrum = read_text(file)[0]
        except DataFormatError as e:
            raise DataFormatError(
                f"galaxy template {display}: {str(e).replace(str(file), '').lstrip(': ')}"
            ) from e
        wl = np.asarray(spectrum.wavelength_aa, np.float64)
        fl = np.asarray(spectrum.flux, np.float64)
        fl = np.where(np.isfinite(fl) & (fl > 0), fl, np.nan)
        if not np.isfinite(fl).any():
            raise DataFormatError(f"galaxy template {display}: no positive flux")
        found[name] = (wl, fl / np.nanmedian(fl))
    absent = [n for n in names if n not in found]
    if absent:
        raise FileNotFoundError(f"galaxy templates {path}: not found: {absent}")
    return list(names), [found[n][0] for n in names], [found[n][1] for n in names]


# -- the DASH store ----------------------------------------------------------


def _pick_epochs(idx: np.ndarray, k: int) -> np.ndarray:
    """Return k evenly spaced entries of idx (all when it has at most k)."""
    if k is None or len(idx) <= k:
        return idx
    return idx[np.round(np.linspace(0, len(idx) - 1, k)).astype(int)]


def build_dash_spectra(
    out: str | os.PathLike,
    *,
    data_dir: str | os.PathLike,
    seed: int = 0,
    templates: str = "astrodash_sn_spectra/dash_training_set_snid_templates.tar.gz",
    hosts: str | None = "astrodash_sn_spectra/superfit_templates.tar.gz",
    host_names: Sequence[str] = SUPERFIT_GALAXIES,
    labels: str = "broad",
    min_per_class: int = 10,
    copies: int = 2,
    max_epochs_per_sn: int | None = None,
    z_range: Sequence[float] = (0.0, 0.8),
    snr_range: Sequence[float] = (3.0, 30.0),
    host_fraction_range: Sequence[float] = (0.0, 0.5),
    wavelength_range_aa: Sequence[float] = (3500.0, 10000.0),
    num_pixels: int = 1024,
    min_valid_fraction: float = 0.3,
    chunk_size: int = 1024,
    overwrite: bool = True,
) -> dict[str, Any]:
    """Write a store of augmented observed-frame spectra from the DASH templates.

    Every selected template epoch gives ``copies`` rows, each with its own
    redshift, host galaxy, host fraction and S/N (see the module docstring
    and :func:`augment_spectra`), on ``num_pixels`` log-lambda pixels over
    ``wavelength_range_aa``.

    Parameters
    ----------
    out : path-like
        The store to write (kind ``spectra``).
    data_dir : path-like
        The directory ``templates`` and ``hosts`` are relative to.
    seed : int, default 0
        Everything random (parameters and noise) follows from it.
    templates : str
        SNID ``.lnw`` templates: a tar archive or a directory.
    hosts : str or None
        Galaxy templates (archive or directory) holding ``host_names``;
        None for no host light.
    host_names : sequence of str
        Galaxy template file names (default Superfit's ``gal.list``).
    labels : {"broad", "subtypes"}
        Ia / Ib / Ic / II (:data:`BROAD_TYPES`), or the SNID subtypes.
    min_per_class : int, default 10
        Classes with fewer *supernovae* are dropped (rejected with the
        reason): a split grouped by supernova needs several per class.
    copies : int, default 2
        Augmented rows per template epoch.
    max_epochs_per_sn : int, optional
        Keep at most this many epochs per supernova (evenly spaced in file
        order); the rest are not selected (counted in ``n_epochs_unselected``).
    z_range, host_fraction_range : (low, high)
        Uniform ranges.
    snr_range : (low, high)
        Log-uniform range of the S/N per pixel.
    wavelength_range_aa : (low, high)
        Observed-frame window of the spectrograph.
    num_pixels : int, default 1024
        Log-lambda pixels over the window (1024 is about DASH's own sampling).
    min_valid_fraction : float, default 0.3
        A copy whose template covers less of the window after redshifting is
        rejected.
    chunk_size : int, default 1024
        Rows augmented and written at a time (bounds the memory).
    overwrite : bool, default True

    Returns
    -------
    dict
        ``n_in`` (selected epochs x copies) ``= n_out + n_rejected``;
        ``rejected`` (reason -> count; every row in ``<out>/_rejected.csv``);
        ``n_files``, ``n_files_rejected`` (unreadable templates, also listed
        there); ``n_epochs_read``, ``n_epochs_unselected``; ``classes``;
        ``n_supernovae``; ``seconds``; and the options used.

    Raises
    ------
    FileNotFoundError
        If the templates or the host galaxies are missing.
    DataFormatError
        If nothing readable is found, or no row survives.
    ValueError
        For an unknown label scheme or an empty range.
    """
    from skysift.io.store import StoreWriter, table_from_columns

    t0 = time.perf_counter()
    if labels not in ("broad", "subtypes"):
        raise ValueError(f"labels must be 'broad' or 'subtypes', got {labels!r}")
    for name, rng_ in (("z_range", z_range), ("snr_range", snr_range),
                       ("host_fraction_range", host_fraction_range),
                       ("wavelength_range_aa", wavelength_range_aa)):
        if len(rng_) != 2 or not rng_[0] <= rng_[1]:
            raise ValueError(f"{name} must be (low, high) with low <= high, got {rng_}")
    if snr_range[0] <= 0 or wavelength_range_aa[0] <= 0 or z_range[0] <= -1:
        raise ValueError("snr_range and wavelength_range_aa must be positive, z > -1")
    if copies < 1 or num_pixels < 2 or chunk_size < 1:
        raise ValueError(
            f"need copies >= 1, num_pixels >= 2, chunk_size >= 1; got {copies}, "
            f"{num_pixels}, {chunk_size}"
        )
    data_dir = Path(data_dir)
    spectra, bad_files = read_snid_templates(data_dir / templates)
    if hosts is not None:
        g_names, g_wl, g_fl = read_galaxy_templates(data_dir / hosts, host_names)
    else:
        g_names, g_wl, g_fl = [], [], []
    if not spectra:
        raise DataFormatError(
            f"SNID templates {data_dir / templates}: no template could be read "
            f"({len(bad_files)} rejected: {bad_files[:3]})"
        )

    # -- labels and selection, per epoch --
    n_read = len(spectra)
    group = np.array([normalize_sn_name(s.meta.get("group") or s.object_id) for s in spectra])
    subtype = np.array([str(s.label) for s in spectra])
    label = subtype.copy() if labels == "subtypes" else np.array(
        [broad_type(t) or "" for t in subtype]
    )
    reason = np.full(n_read, "", dtype=object)
    has_flux = np.array([bool((~s.mask).any()) for s in spectra])
    reason[~has_flux] = "no flux in the template epoch"
    reason[(reason == "") & (label == "")] = "type not in the broad scheme (Ia, Ib, Ic, II)"
    sn_per_class: dict[str, set[str]] = defaultdict(set)
    for lab, g, r in zip(label, group, reason, strict=True):
        if not r:
            sn_per_class[lab].add(g)
    small = {c for c, sns in sn_per_class.items() if len(sns) < min_per_class}
    for i in np.flatnonzero(reason == ""):
        if label[i] in small:
            reason[i] = (
                f"class {label[i]} has {len(sn_per_class[label[i]])} supernovae "
                f"< min_per_class={min_per_class}"
            )
    selected = np.ones(n_read, bool)
    if max_epochs_per_sn is not None:
        selected[:] = False
        order = defaultdict(list)
        for i, g in enumerate(group):
            order[g].append(i)
        for idx in order.values():
            selected[_pick_epochs(np.array(idx), int(max_epochs_per_sn))] = True
    epochs = np.flatnonzero(selected)

    # -- parameters per row (epoch x copy), all drawn up front --
    rng = np.random.default_rng(seed)
    n_rows = len(epochs) * copies
    row_epoch = np.repeat(epochs, copies)
    row_copy = np.tile(np.arange(copies), len(epochs))
    z = rng.uniform(z_range[0], z_range[1], n_rows)
    snr = np.exp(rng.uniform(np.log(snr_range[0]), np.log(snr_range[1]), n_rows))
    if g_names:
        host_index = rng.integers(0, len(g_names), n_rows)
        host_fraction = rng.uniform(host_fraction_range[0], host_fraction_range[1], n_rows)
    else:
        host_index = np.full(n_rows, -1)
        host_fraction = np.zeros(n_rows)
    obs_wl = np.geomspace(wavelength_range_aa[0], wavelength_range_aa[1], int(num_pixels))
    min_valid = math.ceil(min_valid_fraction * num_pixels)

    out = Path(out)
    rejected_rows: list[tuple[str, str, str]] = [(f, "", why) for f, why in bad_files]
    reasons: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    n_out = 0
    attrs = {
        "builder": "skysift.data.augment.build_dash_spectra",
        "seed": seed,
        "templates": templates,
        "hosts": hosts,
        "options": {
            "labels": labels, "min_per_class": min_per_class, "copies": copies,
            "max_epochs_per_sn": max_epochs_per_sn, "z_range": list(z_range),
            "snr_range": list(snr_range), "host_fraction_range": list(host_fraction_range),
            "wavelength_range_aa": list(wavelength_range_aa), "num_pixels": num_pixels,
            "min_valid_fraction": min_valid_fraction, "host_names": list(g_names),
        },
    }
    with StoreWriter(out, kind="spectra", overwrite=overwrite, attrs=attrs) as writer:
        for c, start in enumerate(range(0, n_rows, chunk_size)):
            rows = np.arange(start, min(start + chunk_size, n_rows))
            ep = row_epoch[rows]
            keep = reason[ep] == ""
            for r in rows[~keep]:
                s = spectra[row_epoch[r]]
                rejected_rows.append((s.object_id, f"{s.object_id}:{row_copy[r]}",
                                      reason[row_epoch[r]]))
                reasons[reason[row_epoch[r]]] += 1
            rows = rows[keep]
            if not rows.size:
                continue
            result = _augment_chunk(
                spectra, row_epoch[rows], z[rows], snr[rows], host_index[rows],
                host_fraction[rows], obs_wl, g_wl, g_fl,
                np.random.default_rng([seed, c]),
            )
            ok = result["n_valid"] >= min_valid
            for k in np.flatnonzero(~ok):
                r = rows[k]
                s = spectra[row_epoch[r]]
                why = (
                    f"under {min_valid_fraction:.0%} of {wavelength_range_aa[0]:.0f}-"
                    f"{wavelength_range_aa[1]:.0f} AA covered at this redshift"
                )
                rejected_rows.append((
                    s.object_id, f"{s.object_id}:{row_copy[r]}",
                    f"{why} (z={z[r]:.3f}: {result['n_valid'][k]} of {num_pixels} pixels)",
                ))
                reasons[why] += 1
            if not ok.any():
                continue
            sel = rows[ok]
            ep = row_epoch[sel]
            n_ok = int(ok.sum())
            columns = {
                "object_id": [f"{spectra[e].object_id}:{cp}" for e, cp in
                              zip(ep, row_copy[sel], strict=True)],
                "label": label[ep].tolist(),
                "redshift": z[sel],
                "wavelength_aa": np.broadcast_to(obs_wl, (n_ok, obs_wl.size)),
                "flux": result["flux"][ok],
                "ivar": result["ivar"][ok],
                "mask": result["mask"][ok],
                "group": group[ep].tolist(),
                "snid_type": subtype[ep].tolist(),
                "template": [spectra[e].object_id.rsplit(":", 1)[0] for e in ep],
                "age_days": [_float(spectra[e].meta.get("age_days")) for e in ep],
                "copy": row_copy[sel].astype(np.int32),
                "snr": snr[sel],
                "host": [g_names[h] if h >= 0 else "" for h in host_index[sel]],
                "host_fraction": host_fraction[sel],
                "noise_sigma": result["sigma"][ok],
            }
            writer.write(table_from_columns("spectra", columns))
            classes.update(columns["label"])
            n_out += n_ok
        if n_out == 0:
            raise DataFormatError(
                f"DASH store {out}: no row survived ({dict(reasons) or 'no template'}); "
                "check min_per_class, labels and wavelength_range_aa"
            )
    write_rejects(out / REJECTED_NAME, rejected_rows, ("source", "object_id", "reason"))
    info = {
        "n_in": int(n_rows),
        "n_out": int(n_out),
        "n_rejected": int(sum(reasons.values())),
        "rejected": dict(reasons),
        "n_files": None,
        "n_files_rejected": len(bad_files),
        "n_epochs_read": int(n_read),
        "n_epochs_unselected": int(n_read - len(epochs)),
        "n_supernovae": len(set(group[epochs][reason[epochs] == ""])),
        "classes": dict(sorted(classes.items())),
        "seconds": round(time.perf_counter() - t0, 1),
        **attrs["options"],
    }
    info["n_files"] = len({s.object_id.rsplit(":", 1)[0] for s in spectra}) + len(bad_files)
    return info


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _augment_chunk(spectra, epochs, z, snr, host_index, host_fraction, obs_wl,
                   g_wl, g_fl, rng) -> dict[str, np.ndarray]:
    """Augment the rows of one chunk, grouped by their template's rest grid."""
    n, m = len(epochs), obs_wl.size
    out = {
        "flux": np.empty((n, m), np.float32),
        "ivar": np.empty((n, m), np.float32),
        "mask": np.empty((n, m), bool),
        "sigma": np.empty(n),
        "n_valid": np.empty(n, np.int64),
    }
    by_grid: dict[bytes, list[int]] = defaultdict(list)
    for k, e in enumerate(epochs):
        by_grid[np.asarray(spectra[e].wavelength_aa, np.float64).tobytes()].append(k)
    for ks in by_grid.values():
        ks = np.asarray(ks)
        wl = np.asarray(spectra[epochs[ks[0]]].wavelength_aa, np.float64)
        flux = np.stack([np.asarray(spectra[e].flux, np.float64) for e in epochs[ks]])
        covered = np.stack([~np.asarray(spectra[e].mask, bool) for e in epochs[ks]])
        covered &= np.isfinite(flux)
        res = augment_spectra(
            wl, np.where(covered, flux, 0.0), covered, z=z[ks], snr=snr[ks],
            observed_wavelength_aa=obs_wl, host_wavelength_aa=g_wl, host_flux=g_fl,
            host_index=host_index[ks], host_fraction=host_fraction[ks], rng=rng,
        )
        for key in out:
            out[key][ks] = res[key]
    return out
