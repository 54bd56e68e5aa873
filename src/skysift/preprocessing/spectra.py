"""Spectral preparation steps: frames, masks, resolution and grids (SPEC B1-B4, B6).

Each operation is a plain function on a whole batch of spectra and has a
registered :class:`~skysift.preprocessing.pipeline.Step` twin:

=====================  ================================  ========================
step name              function                          seed
=====================  ================================  ========================
``air_to_vacuum``      :func:`air_to_vacuum`             001 eq. 7.1-7.3
``rest_frame``         :func:`rest_frame`                000 (z correction)
``mask_bad_pixels``    :func:`mask_bad_pixels`           000 (bad-pixel removal)
``crop``               :func:`crop`                      001 (cut to the window)
``blur``               :func:`blur`                      001 (sigma = 7 px)
``blur_to_resolution`` :func:`blur_to_resolution`        001 (Ondrejov -> LAMOST)
``regrid``             :func:`regrid`                    001 (140 px, 6519-6732)
``rebin``              :func:`rebin`                     000 (3600 / 1800 / 900)
``reshape_square``     :func:`reshape_square`            000 (2D CNN input)
=====================  ================================  ========================

Wavelengths are in Angstrom (``wavelength_aa``, float64); fluxes and inverse
variances are float32; ``mask`` is True on bad pixels. Array arguments are
(N, L) arrays or sequences of N 1-D arrays of different lengths; every
function is vectorised over the batch: a ragged batch becomes one flat
buffer with row offsets (the store's own buffer when the rows are its
consecutive views, as ``batch_from_arrow`` hands them over), and all the
arithmetic runs on that buffer, never in a Python loop per spectrum.
Functions and steps never modify their inputs.

A spectrum's *usable* pixels are those with finite wavelength and flux,
``ivar > 0`` (when ivar is given) and ``mask`` False; the other pixels never
influence a result.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from skysift.exceptions import DataFormatError, SkysiftWarning
from skysift.preprocessing.pipeline import Batch, Step, register_step, stack_rows

__all__ = [
    "AirToVacuum",
    "Blur",
    "BlurToResolution",
    "Crop",
    "MaskBadPixels",
    "Rebin",
    "Regrid",
    "ReshapeSquare",
    "RestFrame",
    "air_to_vacuum",
    "blur",
    "blur_to_resolution",
    "crop",
    "mask_bad_pixels",
    "rebin",
    "regrid",
    "reshape_square",
    "rest_frame",
]

ArrayRows = np.ndarray | Sequence[np.ndarray]

_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_BOUNDARIES = ("extend", "fill")
#: Values per temporary array when work is split into blocks of rows: small
#: enough for a core's L2 cache, large enough to amortise NumPy's call cost.
_CACHE_ELEMENTS = 32_768


# --------------------------------------------------------------------------
# Flat layout of a batch: one buffer of values and N + 1 row offsets
# --------------------------------------------------------------------------


def _flat(values: Any, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return (values as one 1-D buffer, row offsets) of an array column."""
    if isinstance(values, np.ndarray) and values.ndim == 2:
        n, length = values.shape
        flat = np.ascontiguousarray(values, dtype=dtype).reshape(-1)
        return flat, np.arange(n + 1, dtype=np.int64) * length
    rows = list(values)
    if not all(type(r) is np.ndarray and r.ndim == 1 for r in rows):
        rows = [np.asarray(r).reshape(-1) for r in rows]
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if not rows:
        return np.zeros(0, dtype=dtype), offsets
    joined = _joined_view(rows, offsets)
    if joined is not None:  # rows read from a store: one buffer already
        if dtype is not None:
            joined = joined.astype(dtype, copy=False, casting="unsafe")
        return joined, offsets
    return np.concatenate(rows, dtype=dtype, casting="unsafe"), offsets


def _joined_view(rows: list[np.ndarray], offsets: np.ndarray) -> np.ndarray | None:
    """Return the buffer the rows are consecutive slices of, or None.

    ``list_column_to_numpy`` returns a store's ragged rows as views into the
    Arrow values buffer; reusing it saves copying every pixel.
    """
    base = rows[0].base
    if not isinstance(base, np.ndarray) or not base.flags.c_contiguous:
        return None
    if not all(r.base is base and r.flags.c_contiguous for r in rows):
        return None
    if rows[0].dtype != base.dtype:
        return None
    item = base.itemsize
    origin = base.__array_interface__["data"][0]
    starts = np.fromiter(
        (r.__array_interface__["data"][0] - origin for r in rows),
        dtype=np.int64,
        count=len(rows),
    )
    if starts[0] % item or np.any(starts != starts[0] + offsets[:-1] * item):
        return None
    first = int(starts[0] // item)
    return base.reshape(-1)[first : first + int(offsets[-1])]


def _unflat(flat: np.ndarray, offsets: np.ndarray) -> np.ndarray | list[np.ndarray]:
    """Inverse of :func:`_flat`: an (N, L) array when all rows share L."""
    lengths = np.diff(offsets)
    if len(lengths) == 0:
        return flat.reshape(0, 0)
    if np.all(lengths == lengths[0]):
        return flat.reshape(len(lengths), int(lengths[0]))
    return [flat[a:b] for a, b in itertools.pairwise(offsets)]


def _same_layout(name: str, offsets: np.ndarray, ref: np.ndarray) -> None:
    if offsets.shape != ref.shape or np.any(offsets != ref):
        raise DataFormatError(
            f"column {name!r}: row lengths differ from those of 'flux' "
            "(every array column of a spectrum needs one value per pixel)"
        )


def _columns(
    flux: Any,
    wavelength_aa: Any = None,
    ivar: Any = None,
    mask: Any = None,
    bits: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
    """Flatten the columns of one batch; return (wl, flux, ivar, mask, offsets)."""
    fl, offsets = _flat(flux, np.float32)
    wl = iv = mk = None
    if wavelength_aa is not None:
        wl, o = _flat(wavelength_aa, np.float64)
        _same_layout("wavelength_aa", o, offsets)
    if ivar is not None:
        iv, o = _flat(ivar, np.float32)
        _same_layout("ivar", o, offsets)
    if mask is not None:
        raw, o = _flat(mask, None)
        _same_layout("mask", o, offsets)
        if raw.dtype == bool:
            mk = raw
        elif np.issubdtype(raw.dtype, np.integer):
            # An integer mask holds flag bits (SDSS and_mask, LAMOST pixel flags).
            mk = (raw & (-1 if bits is None else int(bits))) != 0
        else:
            mk = raw.astype(bool)
    return wl, fl, iv, mk, offsets


def _usable(
    fl: np.ndarray, wl: np.ndarray | None, iv: np.ndarray | None, mk: np.ndarray | None
) -> np.ndarray:
    good = np.isfinite(fl)
    if wl is not None:
        good &= np.isfinite(wl)
    if iv is not None:
        good &= iv > 0
    if mk is not None:
        good &= ~mk
    return good


def _row_ids(offsets: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))


def _check_increasing(wl: np.ndarray, offsets: np.ndarray, ids: Any = None) -> None:
    """Raise DataFormatError naming the rows whose wavelengths decrease."""
    if wl.size < 2:
        return
    down = np.less(wl[1:], wl[:-1])
    inner = offsets[1:-1]
    down[inner[(inner > 0) & (inner < wl.size)] - 1] = False  # row boundaries
    if not down.any():
        return
    rows = np.unique(np.searchsorted(offsets, np.flatnonzero(down), side="right") - 1)
    names = rows if ids is None else np.asarray(ids)[rows].astype(str)
    raise DataFormatError(
        f"wavelength_aa must increase within each spectrum; it decreases in "
        f"{len(rows)} object(s), e.g. {list(names[:5])} (sort the pixels, or "
        "fix the reader)"
    )


def _bisect_rows(
    flat: np.ndarray, offsets: np.ndarray, values: np.ndarray, side: str = "left"
) -> np.ndarray:
    """``np.searchsorted`` of one value per row in that row's sorted segment.

    A bisection run on all rows at once (log2(L) vectorised steps of O(N)),
    started from a bracket around the position a linear grid would give,
    so on the usual linear or log-linear grids only a few pixels of each
    spectrum are read. Returns positions within the row, in ``[0, L_k]``.
    """
    values = np.asarray(values, dtype=np.float64)
    lo = offsets[:-1].copy()
    hi = offsets[1:].copy()
    last = np.maximum(hi - 1, lo)
    top = max(flat.size - 1, 0)
    if flat.size:
        w0, w1 = flat[np.minimum(lo, top)], flat[np.minimum(last, top)]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = (values - w0) / (w1 - w0)
        guess = lo + np.nan_to_num(frac * (last - lo), nan=0.0).clip(0, None).astype(
            np.int64
        )
        guess = np.minimum(guess, last)
        # Shrink to [guess - 8, guess + 8] where that bracket holds the answer.
        a = np.maximum(guess - 8, lo)
        b = np.minimum(guess + 8, hi)
        fa = flat[np.minimum(np.maximum(a - 1, 0), top)]
        fb = flat[np.minimum(b, top)]
        if side == "left":
            ok_a = (a == lo) | (fa < values)
            ok_b = (b == hi) | (fb >= values)
        else:
            ok_a = (a == lo) | (fa <= values)
            ok_b = (b == hi) | (fb > values)
        ok = ok_a & ok_b
        lo = np.where(ok, a, lo)
        hi = np.where(ok, b, hi)
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        probe = flat[np.minimum(mid, top)]
        right = probe < values if side == "left" else probe <= values
        lo = np.where(active & right, mid + 1, lo)
        hi = np.where(active & ~right, mid, hi)
    return lo - offsets[:-1]


def _grid_positions(grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Return ``np.searchsorted(grid, values, side="left")`` for a sorted grid.

    A uniform grid (the usual linspace) is inverted arithmetically instead of
    searched. Rounding may move a value that equals a grid point by one
    position; the interpolation that uses the result is continuous there,
    so the interpolated values do not change.
    """
    g = grid.size
    if g >= 2:
        step = (grid[-1] - grid[0]) / (g - 1)
        if step > 0 and np.allclose(np.diff(grid), step, rtol=1e-9, atol=0.0):
            pos = np.subtract(values, grid[0])
            pos *= 1.0 / step
            np.ceil(pos, out=pos)
            np.clip(pos, 0, g, out=pos)
            return pos.astype(np.int64)
    return np.searchsorted(grid, values, side="left")


def _count_at_or_below(
    wl: np.ndarray, offsets: np.ndarray, grid: np.ndarray
) -> np.ndarray:
    """For each row and grid point, how many of the row's pixels are <= it.

    Equals ``np.searchsorted(row, grid, side="right")`` per row, computed
    from the grid index of every pixel with one histogram over the batch
    (O(pixels + N * G), no search in the spectra).
    """
    n, g = len(offsets) - 1, grid.size
    first_ge = _grid_positions(grid, wl)  # pixel j counts for grid points >= it
    lengths = np.diff(offsets)
    if n and np.all(lengths == lengths[0]):
        key = first_ge.reshape(n, -1) + (np.arange(n) * (g + 1))[:, None]
    else:
        key = _row_ids(offsets) * (g + 1) + first_ge
    counts = np.bincount(key.reshape(-1), minlength=n * (g + 1)).reshape(n, g + 1)
    return np.cumsum(counts[:, :g], axis=1)


def _row_labels(batch: Batch, n: int) -> np.ndarray:
    """Object ids of a batch (row numbers when it has none), for messages."""
    ids = batch.get("object_id")
    return np.arange(n) if ids is None else np.asarray(ids)


def _keep_rows(
    batch: Batch, keep: np.ndarray, reasons: Sequence[tuple[str, str]]
) -> Batch:
    """Keep the rows ``keep`` of every per-object column; list the others as rejected."""
    n = len(batch["flux"])
    out: Batch = {}
    for key, value in batch.items():
        if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == n:
            out[key] = value[keep]
        elif isinstance(value, list) and len(value) == n and key != "rejected":
            out[key] = [value[i] for i in keep]
        else:
            out[key] = value
    out["rejected"] = [*batch.get("rejected", []), *reasons]
    return out


class _SpectraStep(Step):
    kinds = ("spectra",)


# --------------------------------------------------------------------------
# Frames: air -> vacuum, observed -> rest frame
# --------------------------------------------------------------------------


def air_to_vacuum(wavelength_aa: ArrayRows) -> np.ndarray | list[np.ndarray]:
    """Convert air wavelengths to vacuum wavelengths (seed 001 eq. 7.1-7.3).

    The vacuum wavelength is ``n * lambda_air`` with the refractive index of
    standard air ``n = 1 + 8.34254e-5 + 2.406147e-2 / (130 - s**2) +
    1.5998e-4 / (38.9 - s**2)``, ``s = 1e4 / lambda_air`` (Angstrom). The
    shift is about +1.8 AA at H-alpha and agrees with the Ciddor (1996) and
    Edlen (1966) indices to better than 0.01 AA over 2000 AA - 2 um.

    Parameters
    ----------
    wavelength_aa : array-like, (L,) or (N, L), or sequence of N 1-D arrays
        Air wavelengths in Angstrom.

    Returns
    -------
    numpy.ndarray or list of numpy.ndarray
        Vacuum wavelengths (float64) in the same layout.

    Raises
    ------
    ValueError
        If a finite wavelength is below 2000 AA, where wavelengths are
        conventionally given in vacuum already (and the formula has a pole
        at 1603 AA).

    Examples
    --------
    >>> round(float(air_to_vacuum(6562.80)), 2)  # H-alpha
    6564.61
    """
    if isinstance(wavelength_aa, np.ndarray) or np.isscalar(wavelength_aa):
        return _air_to_vacuum(np.asarray(wavelength_aa, dtype=np.float64))
    flat, offsets = _flat(wavelength_aa, np.float64)
    return _unflat(_air_to_vacuum(flat), offsets)


def _air_to_vacuum(wl: np.ndarray) -> np.ndarray:
    if wl.ndim == 0:
        return _air_to_vacuum(wl.reshape(1))[0]
    lowest = np.fmin.reduce(wl, axis=None) if wl.size else np.nan  # skips NaN
    if lowest < 2000.0:
        raise ValueError(
            f"air_to_vacuum: got a wavelength of {lowest:.1f} AA; air "
            "wavelengths are only used above 2000 AA (below, spectra are in vacuum)"
        )
    s2 = np.divide(1e8, wl * wl)  # (1e4 / lambda)^2
    t1 = np.subtract(130.0, s2)
    np.divide(2.406147e-2, t1, out=t1)
    np.subtract(38.9, s2, out=s2)
    np.divide(1.5998e-4, s2, out=s2)
    t1 += s2
    t1 += 8.34254e-5  # n - 1
    t1 *= wl
    t1 += wl  # lambda + lambda (n - 1): the 1e-4 AA digits survive the "1 +"
    return t1


@register_step("air_to_vacuum")
class AirToVacuum(_SpectraStep):
    """Pipeline step of :func:`air_to_vacuum`, driven by the ``frame`` column.

    Rows whose ``frame`` is ``"vacuum"`` are left as they are; rows in
    ``"air"`` are converted, and so are all rows when the batch has no
    ``frame`` column or a row's frame is missing (None): a spectrum handed to
    this step is taken to be in air. A present ``frame`` column is set to
    ``"vacuum"``.

    Raises
    ------
    DataFormatError
        From :meth:`transform`, if a frame is neither "air" nor "vacuum"; the
        message names the objects.

    Examples
    --------
    >>> batch = {"wavelength_aa": np.array([[6562.80], [6564.61]]),
    ...          "flux": np.ones((2, 1)), "frame": np.array(["air", "vacuum"])}
    >>> out = AirToVacuum().transform(batch)
    >>> out["wavelength_aa"].round(2).ravel().tolist(), out["frame"].tolist()
    ([6564.61, 6564.61], ['vacuum', 'vacuum'])
    """

    def __init__(self) -> None:
        pass

    def transform(self, batch: Batch) -> Batch:
        """Return the batch with vacuum wavelengths."""
        wl = batch["wavelength_aa"]
        n = len(wl)
        frame = batch.get("frame")
        convert = np.ones(n, dtype=bool)
        if frame is not None:
            frame = np.asarray(frame, dtype=object)
            # Decide per distinct value (there are one or two), not per row.
            for value in set(frame.tolist()):
                name = "" if value is None else str(value).strip().lower()
                if name == "vacuum":
                    convert &= frame != value
                elif name not in ("", "air"):
                    ids = _row_labels(batch, n)[frame == value]
                    raise DataFormatError(
                        f"air_to_vacuum: object(s) {ids[:5].tolist()} have frame "
                        f"{value!r}; expected 'air' or 'vacuum'"
                    )
        out = dict(batch)
        if convert.all():
            out["wavelength_aa"] = air_to_vacuum(
                wl if not isinstance(wl, np.ndarray) else np.asarray(wl, np.float64)
            )
        elif convert.any():
            rows = np.flatnonzero(convert)
            if isinstance(wl, np.ndarray):
                new = np.array(wl, dtype=np.float64)
                new[rows] = _air_to_vacuum(new[rows])
            else:
                new = list(wl)
                converted = air_to_vacuum([wl[i] for i in rows])
                for i, w in zip(rows, converted, strict=True):
                    new[i] = w
            out["wavelength_aa"] = new
        if frame is not None:
            out["frame"] = np.full(n, "vacuum", dtype=object)
        return out


def rest_frame(
    wavelength_aa: ArrayRows, redshift: np.ndarray | Sequence[float]
) -> np.ndarray | list[np.ndarray]:
    """Move spectra to their rest frame: divide wavelengths by ``1 + z``.

    Fluxes are left unscaled: a per-spectrum normalisation follows in every
    seed, so the ``(1 + z)`` flux-density factor would cancel.

    Parameters
    ----------
    wavelength_aa : (N, L) array or sequence of N 1-D arrays
        Observed wavelengths in Angstrom.
    redshift : array-like, shape (N,)
        Redshift of each spectrum; must be finite and > -1.

    Returns
    -------
    numpy.ndarray or list of numpy.ndarray
        Rest-frame wavelengths in the layout of ``wavelength_aa``.

    Raises
    ------
    ValueError
        If a redshift is missing (NaN) or not above -1, or the lengths differ.

    Examples
    --------
    >>> rest_frame(np.array([[6563.0, 13126.0]]), [1.0])
    array([[3281.5, 6563. ]])
    """
    z = np.asarray(redshift, dtype=np.float64).reshape(-1)
    flat, offsets = _flat(wavelength_aa, np.float64)
    if z.size != len(offsets) - 1:
        raise ValueError(
            f"rest_frame: {len(offsets) - 1} spectra but {z.size} redshifts"
        )
    bad = ~(np.isfinite(z) & (z > -1.0))
    if bad.any():
        raise ValueError(
            f"rest_frame: redshift of row(s) {np.flatnonzero(bad)[:5].tolist()} is "
            f"missing or <= -1 ({z[bad][:5].tolist()})"
        )
    return _unflat(flat / np.repeat(1.0 + z, np.diff(offsets)), offsets)


@register_step("rest_frame")
class RestFrame(_SpectraStep):
    """Pipeline step of :func:`rest_frame`, using the ``redshift`` column.

    Parameters
    ----------
    on_missing : {"reject", "raise", "keep"}, default "reject"
        What to do with an object whose redshift is missing (null / NaN) or
        not above -1. ``"reject"`` removes it from the batch and lists it in
        ``batch["rejected"]`` with the reason, so ``skysift prepare`` reports
        it in ``_rejected.csv``; ``"raise"`` raises
        :class:`~skysift.exceptions.DataFormatError` naming the objects;
        ``"keep"`` leaves its wavelengths in the observed frame (as seed 000
        does for its non-redshift-corrected experiments).

    Examples
    --------
    >>> batch = {"object_id": np.array(["a", "b"]),
    ...          "wavelength_aa": np.array([[4000.0], [4000.0]]),
    ...          "flux": np.ones((2, 1)), "redshift": np.array([0.25, np.nan])}
    >>> out = RestFrame().transform(batch)
    >>> out["wavelength_aa"], out["rejected"]
    (array([[3200.]]), [('b', 'no usable redshift (got nan)')])
    """

    def __init__(self, *, on_missing: str = "reject") -> None:
        self.on_missing = on_missing

    def transform(self, batch: Batch) -> Batch:
        """Return the batch with rest-frame wavelengths."""
        if self.on_missing not in ("reject", "raise", "keep"):
            raise ValueError(
                f"rest_frame: on_missing must be 'reject', 'raise' or 'keep', got "
                f"{self.on_missing!r}"
            )
        n = len(batch["flux"])
        if "redshift" not in batch:
            raise DataFormatError(
                "rest_frame: the batch has no 'redshift' column; ingest the spectra "
                "with a catalogue that gives redshifts (--labels ... with a z column)"
            )
        z = np.array(
            [np.nan if v is None else v for v in batch["redshift"]]
            if not isinstance(batch["redshift"], np.ndarray)
            or batch["redshift"].dtype == object
            else batch["redshift"],
            dtype=np.float64,
        )
        bad = ~(np.isfinite(z) & (z > -1.0))
        out = dict(batch)
        if bad.any():
            ids = _row_labels(batch, n)
            if self.on_missing == "raise":
                raise DataFormatError(
                    f"rest_frame: {int(bad.sum())} object(s) have no usable redshift, "
                    f"e.g. {ids[bad][:5].tolist()}; use on_missing='reject' to skip them"
                )
            if self.on_missing == "reject":
                reasons = [
                    (str(i), f"no usable redshift (got {v})")
                    for i, v in zip(ids[bad], z[bad], strict=True)
                ]
                out = _keep_rows(out, np.flatnonzero(~bad), reasons)
                z = z[~bad]
                bad = np.zeros(len(z), dtype=bool)
        wl = out["wavelength_aa"]
        zz = np.where(bad, 0.0, z)  # "keep": observed frame
        out["wavelength_aa"] = rest_frame(
            np.asarray(wl, np.float64) if isinstance(wl, np.ndarray) else wl, zz
        )
        return out


# --------------------------------------------------------------------------
# Bad pixels
# --------------------------------------------------------------------------


def _gap_fill(
    values: np.ndarray,
    bad: np.ndarray,
    offsets: np.ndarray,
    position: np.ndarray,
    max_gap: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation over runs of bad values within each row.

    Returns (filled values, filled mask, index of the good value before, after).
    Runs longer than ``max_gap`` (None: any length) and runs touching a row
    end are not filled.
    """
    idx = np.arange(values.size)
    rows = _row_ids(offsets)
    start = offsets[:-1][rows]
    stop = offsets[1:][rows]
    prev = np.maximum.accumulate(np.where(bad, -1, idx)) if idx.size else idx
    nxt = (
        np.minimum.accumulate(np.where(bad, values.size, idx)[::-1])[::-1]
        if idx.size
        else idx
    )
    fill = bad & (prev >= start) & (nxt < stop)
    if max_gap is not None:
        fill &= (nxt - prev - 1) <= max_gap
    out = values.copy()
    at = np.flatnonzero(fill)
    a, b = prev[at], nxt[at]
    span = position[b] - position[a]
    t = np.divide(
        position[at] - position[a], span, out=np.zeros(at.size), where=span != 0
    )
    out[at] = values[a] + t * (values[b] - values[a])
    return out, fill, prev, nxt


def mask_bad_pixels(
    flux: ArrayRows,
    *,
    ivar: ArrayRows | None = None,
    mask: ArrayRows | None = None,
    wavelength_aa: ArrayRows | None = None,
    max_gap: int = 0,
    bits: int | None = None,
) -> tuple[Any, Any, Any]:
    """Mask bad pixels and interpolate linearly across short runs of them.

    A pixel is bad when its flux (or ivar) is not finite, its ``ivar`` is
    not positive, or its ``mask`` is set (for an integer flag mask: any of
    ``bits`` set). Runs of at most ``max_gap`` bad pixels between two good
    pixels are repaired: flux interpolated linearly (in wavelength when
    given, else in pixel index), ``mask`` cleared, and ``ivar`` set to the
    smaller ivar of the two neighbours (conservative: interpolation adds no
    information). Longer runs and runs at either end of a spectrum stay
    masked with ``ivar = 0`` and flux NaN, so that later steps skip them
    (blur, regrid, rebin and the weighted statistics ignore masked pixels)
    and a spectrum whose prepared input still holds them is rejected with a
    reason instead of being filled silently.

    Parameters
    ----------
    flux : (N, L) array or sequence of N 1-D arrays
    ivar, mask, wavelength_aa : like ``flux``, optional
    max_gap : int, default 0
        Longest run of bad pixels to interpolate across (0: none).
    bits : int, optional
        For an integer ``mask``: the flag bits that make a pixel bad
        (default: any bit).

    Returns
    -------
    flux, ivar, mask
        In the layout of ``flux``; ``ivar`` is None when none was given.

    Examples
    --------
    >>> f, iv, m = mask_bad_pixels(np.array([[1.0, np.nan, 3.0, 4.0]]),
    ...                            ivar=np.array([[1.0, 1.0, 2.0, 0.0]]), max_gap=1)
    >>> f, iv, m
    (array([[ 1.,  2.,  3., nan]], dtype=float32), array([[1., 1., 2., 0.]], dtype=float32), array([[False, False, False,  True]]))
    """
    if int(max_gap) != max_gap or max_gap < 0:
        raise ValueError(
            f"mask_bad_pixels: max_gap must be an integer >= 0, got {max_gap!r}"
        )
    wl, fl, iv, mk, offsets = _columns(flux, wavelength_aa, ivar, mask, bits)
    if iv is not None:
        iv = np.where(np.isfinite(iv), iv, 0.0).astype(np.float32)
    good = _usable(fl, None, iv, mk)
    bad = ~good
    position = wl if wl is not None else np.arange(fl.size, dtype=np.float64)
    out_f, filled, prev, nxt = _gap_fill(
        fl.astype(np.float64), bad, offsets, position, int(max_gap)
    )
    still_bad = bad & ~filled
    out_f[still_bad] = np.nan
    out_iv = None
    if iv is not None:
        out_iv = np.where(good, iv, 0.0).astype(np.float32)
        at = np.flatnonzero(filled)
        out_iv[at] = np.minimum(iv[prev[at]], iv[nxt[at]])
    return (
        _unflat(out_f.astype(np.float32), offsets),
        None if out_iv is None else _unflat(out_iv, offsets),
        _unflat(still_bad, offsets),
    )


@register_step("mask_bad_pixels")
class MaskBadPixels(_SpectraStep):
    """Pipeline step of :func:`mask_bad_pixels`.

    Parameters
    ----------
    max_gap : int, default 3
        Longest run of bad pixels to interpolate across.
    bits : int, optional
        Flag bits of an integer mask that make a pixel bad (default: any).
    """

    def __init__(self, *, max_gap: int = 3, bits: int | None = None) -> None:
        self.max_gap = max_gap
        self.bits = bits

    def transform(self, batch: Batch) -> Batch:
        """Return the batch with bad pixels masked and short gaps filled."""
        flux, ivar, mask = mask_bad_pixels(
            batch["flux"],
            ivar=batch.get("ivar"),
            mask=batch.get("mask"),
            wavelength_aa=batch.get("wavelength_aa"),
            max_gap=self.max_gap,
            bits=self.bits,
        )
        out = {**batch, "flux": flux, "mask": mask}
        if ivar is not None:
            out["ivar"] = ivar
        return out


# --------------------------------------------------------------------------
# Cropping to a window
# --------------------------------------------------------------------------


def crop(
    wavelength_aa: ArrayRows,
    flux: ArrayRows,
    *,
    start_aa: float,
    stop_aa: float,
    margin_px: int = 0,
    margin_aa: float = 0.0,
    ivar: ArrayRows | None = None,
    mask: ArrayRows | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Cut every spectrum down to the pixels around a wavelength window.

    Each spectrum keeps its pixels inside ``[start_aa - margin_aa, stop_aa +
    margin_aa]``, the pixel on either side of that range (so linear
    interpolation anywhere in the window is unchanged) and ``margin_px``
    more pixels on either side (so a blur of half-width <= ``margin_px``
    is unchanged inside the window). To keep the batch one (N, W) array, all
    spectra keep the same number of pixels W, the widest window of the
    batch: narrower windows are widened with the spectrum's own neighbouring
    pixels; a spectrum shorter than W is padded at the red end with masked
    pixels (flux 0, ivar 0, wavelengths continued with the last step).

    Cropping first makes the later steps cost per pixel of the window, not
    of the whole spectrum (a LAMOST spectrum has ~3900 pixels, 140 of them
    in seed 001's H-alpha window).

    Parameters
    ----------
    wavelength_aa, flux : (N, L) arrays or sequences of N 1-D arrays
        Increasing wavelengths (Angstrom) and fluxes.
    start_aa, stop_aa : float
        The window.
    margin_px : int, default 0
        Extra pixels kept on each side (a blur of sigma s needs 4 s).
    margin_aa : float, default 0
        Widening of the window in Angstrom (e.g. 3 AA before
        ``air_to_vacuum``, which shifts optical wavelengths by < 2.6 AA).
    ivar, mask : like ``flux``, optional

    Returns
    -------
    wavelength_aa : numpy.ndarray, shape (N, W), float64
    flux, ivar : numpy.ndarray, shape (N, W), float32 (ivar None if not given)
    mask : numpy.ndarray of bool, shape (N, W), or None if not given and
        nothing was padded

    Raises
    ------
    DataFormatError
        If wavelengths decrease within a kept window (only the window is
        read: the rest of a spectrum is never touched).

    Examples
    --------
    >>> wl = np.arange(6500.0, 6510.0)[None, :]
    >>> w, f, _, _ = crop(wl, wl - 6500.0, start_aa=6503.5, stop_aa=6505.0)
    >>> w
    array([[6503., 6504., 6505., 6506.]])
    """
    wl, fl, iv, mk, offsets = _columns(flux, wavelength_aa, ivar, mask)
    return _crop(
        wl, fl, iv, mk, offsets, start_aa, stop_aa, int(margin_px), float(margin_aa)
    )


def _crop(wl, fl, iv, mk, offsets, start_aa, stop_aa, margin_px, margin_aa, ids=None):
    if not stop_aa > start_aa or margin_px < 0 or margin_aa < 0:
        raise ValueError(
            f"crop: need stop_aa > start_aa and non-negative margins, got "
            f"start_aa={start_aa}, stop_aa={stop_aa}, margin_px={margin_px}, "
            f"margin_aa={margin_aa}"
        )
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    if n == 0 or wl.size == 0:
        out_wl = np.zeros((n, 0))
        out_fl = np.zeros((n, 0), dtype=np.float32)
        return (
            out_wl,
            out_fl,
            None if iv is None else out_fl.copy(),
            None if mk is None else np.zeros((n, 0), dtype=bool),
        )
    first = _bisect_rows(wl, offsets, np.full(n, start_aa - margin_aa), "left")
    last = _bisect_rows(wl, offsets, np.full(n, stop_aa + margin_aa), "right")
    lo = np.maximum(first - 1 - margin_px, 0)
    hi = np.minimum(last + margin_px, lengths - 1)  # inclusive; `last` is one past
    width = int(max(1, np.max(np.maximum(hi - lo + 1, 1))))
    begin = np.clip(np.minimum(lo, lengths - width), 0, None)
    any_padded = bool(np.any(begin + width > lengths))
    if any_padded or not np.all(lengths == lengths[0]):
        pos = begin[:, None] + np.arange(width)[None, :]  # (N, W) pixel index
        padded = pos >= lengths[:, None]
    if not any_padded and np.all(lengths == lengths[0]):
        # One (N, L) block: copy each row's window as a contiguous run.
        rows = np.arange(n)

        def take(values):
            view = np.lib.stride_tricks.sliding_window_view(
                values.reshape(n, -1), width, axis=1
            )
            return view[rows, begin]

    else:
        index = offsets[:-1, None] + pos
        if any_padded:
            index = np.minimum(index, np.maximum(offsets[1:] - 1, 0)[:, None])
            index = np.minimum(index, wl.size - 1)

        def take(values):
            return values[index]

    out_wl = take(wl)
    out_fl = take(fl)
    out_iv = None if iv is None else take(iv)
    out_mk = None if mk is None else take(mk)
    if any_padded:
        # Continue each short spectrum's grid with its last step so that
        # the wavelengths keep increasing; the padded pixels are masked.
        end = np.maximum(offsets[1:] - 1, 0)
        step = np.where(lengths >= 2, wl[end] - wl[np.maximum(end - 1, 0)], 1.0)
        extra = (pos - (lengths - 1)[:, None]).clip(min=0)
        out_wl = out_wl + extra * step[:, None]
        out_fl[padded] = 0.0
        if out_iv is not None:
            out_iv[padded] = 0.0
        out_mk = padded if out_mk is None else out_mk | padded
    _check_increasing(out_wl.reshape(-1), np.arange(n + 1, dtype=np.int64) * width, ids)
    return out_wl, out_fl, out_iv, out_mk


@register_step("crop")
class Crop(_SpectraStep):
    """Pipeline step of :func:`crop` (put it first: later steps then cost less).

    Parameters
    ----------
    start_aa, stop_aa : float, default 6519, 6732
        The window (seed 001's H-alpha range).
    margin_px : int, default 0
        Extra pixels on each side; at least ``4 * sigma_px`` before a
        ``blur`` so the window's blurred values are unchanged.
    margin_aa : float, default 0
        Widening in Angstrom; 3 before ``air_to_vacuum``.

    Examples
    --------
    >>> wl = np.linspace(3700.0, 9000.0, 3900)
    >>> batch = {"wavelength_aa": np.stack([wl, wl + 1]), "flux": np.ones((2, 3900))}
    >>> Crop(margin_px=28).transform(batch)["flux"].shape
    (2, 215)
    """

    def __init__(
        self,
        *,
        start_aa: float = 6519.0,
        stop_aa: float = 6732.0,
        margin_px: int = 0,
        margin_aa: float = 0.0,
    ) -> None:
        self.start_aa = start_aa
        self.stop_aa = stop_aa
        self.margin_px = margin_px
        self.margin_aa = margin_aa

    def transform(self, batch: Batch) -> Batch:
        """Return the batch cut to the window, as (N, W) arrays."""
        wl, fl, iv, mk, offsets = _columns(
            batch["flux"], batch["wavelength_aa"], batch.get("ivar"), batch.get("mask")
        )
        w, f, i, m = _crop(
            wl,
            fl,
            iv,
            mk,
            offsets,
            float(self.start_aa),
            float(self.stop_aa),
            int(self.margin_px),
            float(self.margin_aa),
            _row_labels(batch, len(offsets) - 1),
        )
        out = {**batch, "wavelength_aa": w, "flux": f}
        if i is not None:
            out["ivar"] = i
        if m is not None:
            out["mask"] = m
        return out


# --------------------------------------------------------------------------
# Gaussian blur
# --------------------------------------------------------------------------


def _half_width(sigma_px: np.ndarray | float, truncate: float) -> np.ndarray:
    """Kernel half-width in pixels, as astropy's Gaussian1DKernel sizes it.

    astropy makes the kernel ``ceil(2 * truncate * sigma)`` pixels wide,
    rounded up to odd (``truncate = 4`` there).
    """
    return (np.ceil(np.round(2.0 * truncate * np.asarray(sigma_px), 9)) // 2).astype(
        np.int64
    )


def _gaussian_kernel(sigma_px: float, truncate: float) -> np.ndarray:
    """Normalised Gaussian sampled at integer offsets (astropy mode 'center')."""
    h = int(_half_width(sigma_px, truncate))
    x = np.arange(-h, h + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma_px) ** 2)
    return k / k.sum()


def _toeplitz_pair(kernel: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """(C, D) with ``y[m] = x[m] @ C + x[m + 1] @ D`` for blocks of a signal."""
    h = (kernel.size - 1) // 2
    i = np.arange(block)
    lag_c = i[:, None] - i[None, :]  # input offset within the window, same block
    lag_d = lag_c + block  # input in the next block
    c = np.where((lag_c >= 0) & (lag_c <= 2 * h), kernel[np.clip(lag_c, 0, 2 * h)], 0)
    d = np.where(lag_d <= 2 * h, kernel[np.clip(lag_d, 0, 2 * h)], 0)
    return c.astype(np.float32), d.astype(np.float32)


class _RowBuffer:
    """Rows of length S laid end to end in one float32 buffer, with zero slack.

    :func:`_correlate` reads the buffer as consecutive blocks of B >= 2h
    samples; the slack at the end completes the last block and its
    neighbour.
    """

    def __init__(self, m: int, span: int, h: int) -> None:
        self.m, self.span = m, span
        self.block = -(-max(48, 2 * h) // 8) * 8
        self.n_blocks = -(-(m * span) // self.block) + 1
        self.flat = np.empty(self.n_blocks * self.block, dtype=np.float32)
        self.flat[m * span :] = 0.0
        self.rows = self.flat[: m * span].reshape(m, span)  # (M, S) view


def _padded_buffer(values: np.ndarray, h: int, boundary: str) -> _RowBuffer:
    """(M, W) rows padded by h at both ends (edge copies or zeros) in a buffer."""
    m, width = values.shape
    buf = _RowBuffer(m, width + 2 * h, h)
    rows = buf.rows
    rows[:, h : h + width] = values
    if boundary == "extend" and width:
        rows[:, :h] = values[:, :1]
        rows[:, h + width :] = values[:, -1:]
    else:
        rows[:, :h] = 0.0
        rows[:, h + width :] = 0.0
    return buf


def _correlate(buf: _RowBuffer, kernel: np.ndarray, width: int) -> np.ndarray:
    """Correlate each row of a buffer with ``kernel``; the (M, width) valid part.

    Every row carries its own h samples of padding at both ends, so the
    rows laid end to end are one long signal in which no output of a row
    reaches the next. Cut into blocks of B >= 2h samples (a free reshape),
    each output block is ``x[m] @ C + x[m + 1] @ D`` with two fixed B x B
    band matrices: the batch's whole convolution is BLAS matrix products,
    with no copy of overlapping windows.
    """
    h = (kernel.size - 1) // 2
    if h == 0 or buf.m == 0 or width == 0:
        return buf.rows[:, h : h + width] * kernel[h]
    block, n_blocks = buf.block, buf.n_blocks
    c, d = _toeplitz_pair(kernel, block)
    x = buf.flat.reshape(n_blocks, block)
    y = np.empty((n_blocks - 1, block), dtype=np.float32)
    tmp = np.empty((max(1, _CACHE_ELEMENTS // block), block), dtype=np.float32)
    step = len(tmp)  # blocks per product, cache-sized
    for a in range(0, n_blocks - 1, step):
        b = min(n_blocks - 1, a + step)
        np.matmul(x[a:b], c, out=y[a:b])
        np.matmul(x[a + 1 : b + 1], d, out=tmp[: b - a])
        y[a:b] += tmp[: b - a]
    total = buf.m * buf.span
    return y.reshape(-1)[:total].reshape(buf.m, buf.span)[:, :width]


def _padded_index(offsets: np.ndarray, h: int, width: int, flat_size: int):
    """Gather index (N, width + 2h) of each row padded by h at both ends.

    Returns (index into the flat buffer, True where inside the row, True
    where the position is inside the row or in its padding).
    """
    lengths = np.diff(offsets)
    pos = np.arange(-h, width + h)[None, :]
    inside = (pos >= 0) & (pos < lengths[:, None])
    near = pos < (lengths[:, None] + h)  # padding of a short row ends h after it
    clipped = np.clip(pos, 0, np.maximum(lengths - 1, 0)[:, None])
    index = np.minimum(offsets[:-1, None] + clipped, max(flat_size - 1, 0))
    return index, inside, near


def _check_boundary(boundary: str, where: str) -> None:
    if boundary not in _BOUNDARIES:
        raise ValueError(
            f"{where}: boundary must be one of {_BOUNDARIES}, got {boundary!r}"
        )


def _blur_flat(fl, iv, mk, offsets, sigma_px, boundary, truncate):
    """Blur flat rows with one Gaussian; return (flux, ivar) flat."""
    if fl.size == 0:
        return fl.copy(), None if iv is None else iv.copy()
    kernel = _gaussian_kernel(sigma_px, truncate).astype(np.float32)
    h = (kernel.size - 1) // 2
    lengths = np.diff(offsets)
    n, width = len(lengths), int(lengths.max())
    good = _usable(fl, None, iv, mk)
    var = None
    if iv is not None:
        var = np.zeros(iv.shape, dtype=np.float32)
        np.divide(1.0, iv, out=var, where=good)
    kept = None
    if np.all(lengths == width):  # one (N, W) block: pad in place, no gathers
        good2 = good.reshape(n, width)
        f_buf = _padded_buffer(fl.reshape(n, width), h, boundary)
        v_buf = (
            None if var is None else _padded_buffer(var.reshape(n, width), h, boundary)
        )
        bad_rows = np.flatnonzero(~good2.all(axis=1))
        if bad_rows.size:
            w_bad = _padded_buffer(good2[bad_rows].astype(np.float32), h, boundary)
            if boundary == "fill":  # zeros beyond the ends are data
                w_bad.rows[:, :h] = 1.0
                w_bad.rows[:, h + width :] = 1.0
            f_buf.rows[bad_rows] *= w_bad.rows
            if v_buf is not None:
                v_buf.rows[bad_rows] *= w_bad.rows
    else:  # ragged: gather each row with its padding
        index, inside, near = _padded_index(offsets, h, width, fl.size)
        if boundary == "extend":
            w = good[index] & near
            data = w
        else:
            w = np.where(inside, good[index], near)
            data = inside & w
        span = width + 2 * h
        f_buf = _RowBuffer(n, span, h)
        np.copyto(f_buf.rows, np.where(data, fl[index], np.float32(0.0)))
        v_buf = None
        if var is not None:
            v_buf = _RowBuffer(n, span, h)
            np.copyto(v_buf.rows, np.where(data, var[index], np.float32(0.0)))
        bad_rows = np.flatnonzero(~w.all(axis=1))
        w_bad = _RowBuffer(bad_rows.size, span, h)
        np.copyto(w_bad.rows, w[bad_rows])
        kept = inside[:, h : h + width]
    num = _correlate(f_buf, kernel, width)
    den = None
    if bad_rows.size:  # renormalise the kernel over the usable pixels it covers
        den = _correlate(w_bad, kernel, width)
        with np.errstate(invalid="ignore", divide="ignore"):
            num[bad_rows] = np.where(
                den > 1e-6, num[bad_rows] / den, np.float32(np.nan)
            )
    out_f = (num if kept is None else num[kept]).reshape(-1)
    out_iv = None
    if v_buf is not None:
        out_var = _correlate(v_buf, kernel * kernel, width)
        if den is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                out_var[bad_rows] /= den * den
        use = (
            good & (out_var > 0).reshape(-1)
            if kept is None
            else good & (out_var[kept] > 0)
        )
        if kept is None:  # write 1 / var straight into the (N, W) result
            out_iv = np.zeros((n, width), dtype=np.float32)
            np.divide(1.0, out_var, out=out_iv, where=use.reshape(n, width))
            out_iv = out_iv.reshape(-1)
        else:
            out_iv = np.zeros(use.shape, dtype=np.float32)
            np.divide(1.0, out_var[kept], out=out_iv, where=use)
        out_iv[~np.isfinite(out_iv)] = 0.0
    return out_f, out_iv


def blur(
    flux: ArrayRows,
    *,
    sigma_px: float = 7.0,
    ivar: ArrayRows | None = None,
    mask: ArrayRows | None = None,
    boundary: str = "extend",
    truncate: float = 4.0,
) -> tuple[Any, Any]:
    """Convolve each spectrum with a Gaussian of ``sigma_px`` pixels (seed 001).

    Matches ``astropy.convolution.convolve(flux, Gaussian1DKernel(sigma_px),
    boundary=boundary, nan_treatment="interpolate")`` with unusable pixels
    set to NaN: the kernel (``ceil(2 * truncate * sigma_px)`` pixels wide,
    rounded up to odd, normalised to sum 1) is renormalised over the usable
    pixels it covers, so masked pixels neither leak into their neighbours
    nor darken them, and a masked pixel gets the kernel-weighted mean of its
    neighbours (its ``mask`` and zero ``ivar`` are kept).

    Parameters
    ----------
    flux : (N, L) array or sequence of N 1-D arrays
    sigma_px : float, default 7
        Standard deviation in pixels (seed 001 uses 7; 0 leaves the flux).
    ivar, mask : like ``flux``, optional
    boundary : {"extend", "fill"}, default "extend"
        Beyond the ends: "extend" repeats the edge pixel; "fill" counts
        zeros there (astropy's default, which darkens the last ~2 sigma of
        pixels; seed 001 used it, harmlessly, because its window lay far
        from the spectrum ends).
    truncate : float, default 4
        Kernel half-width in sigmas.

    Returns
    -------
    flux : like the input, float32
    ivar : like the input, float32, or None
        Propagated for independent pixels: ``1 / sum(k**2 / ivar)`` with the
        renormalised kernel k; 0 on masked pixels.

    Examples
    --------
    >>> f, _ = blur(np.array([[0.0, 0.0, 1.0, 0.0, 0.0]]), sigma_px=0.5)
    >>> f.round(3)
    array([[0.   , 0.106, 0.787, 0.106, 0.   ]], dtype=float32)
    """
    _check_boundary(boundary, "blur")
    if not (np.isfinite(sigma_px) and sigma_px >= 0 and truncate > 0):
        raise ValueError(
            f"blur: need sigma_px >= 0 and truncate > 0, got sigma_px={sigma_px!r}, "
            f"truncate={truncate!r}"
        )
    _, fl, iv, mk, offsets = _columns(flux, None, ivar, mask)
    if sigma_px == 0:
        return _unflat(fl, offsets), None if iv is None else _unflat(iv, offsets)
    out_f, out_iv = _blur_flat(fl, iv, mk, offsets, float(sigma_px), boundary, truncate)
    return _unflat(out_f, offsets), None if out_iv is None else _unflat(out_iv, offsets)


@register_step("blur")
class Blur(_SpectraStep):
    """Pipeline step of :func:`blur` (seed 001: sigma 7 px).

    Parameters
    ----------
    sigma_px : float, default 7
    boundary : {"extend", "fill"}, default "extend"
    truncate : float, default 4
    """

    def __init__(
        self, *, sigma_px: float = 7.0, boundary: str = "extend", truncate: float = 4.0
    ) -> None:
        self.sigma_px = sigma_px
        self.boundary = boundary
        self.truncate = truncate

    def transform(self, batch: Batch) -> Batch:
        """Return the batch with blurred fluxes (and propagated ivar)."""
        flux, ivar = blur(
            batch["flux"],
            sigma_px=self.sigma_px,
            ivar=batch.get("ivar"),
            mask=batch.get("mask"),
            boundary=self.boundary,
            truncate=self.truncate,
        )
        out = {**batch, "flux": flux}
        if ivar is not None:
            out["ivar"] = ivar
        return out


def blur_to_resolution(
    wavelength_aa: ArrayRows,
    flux: ArrayRows,
    *,
    resolving_power: float,
    input_resolving_power: float | np.ndarray | None = None,
    ivar: ArrayRows | None = None,
    mask: ArrayRows | None = None,
    boundary: str = "extend",
    truncate: float = 4.0,
) -> tuple[Any, Any]:
    """Degrade spectra to a resolving power ``R = lambda / FWHM``.

    A constant resolving power is a Gaussian line-spread function of
    constant width in ``ln(lambda)``; the kernel that takes a spectrum from
    ``R_in`` to ``R`` has ``sigma_ln = sqrt(1/R**2 - 1/R_in**2) / 2.3548``.
    Each pixel i gets the weights ``exp(-(ln l_j - ln l_i)**2 / (2
    sigma_ln**2))`` over the pixels j within ``truncate`` sigmas (counted in
    local pixel steps, as :func:`blur` counts them), renormalised over the
    usable pixels like :func:`blur`. On a grid uniform in ``ln(lambda)``
    (SDSS, LAMOST, DESI coadds) this is exactly :func:`blur` with
    ``sigma_px = sigma_ln / d(ln lambda)``; on a linear grid the kernel
    widens towards the red, as it should.

    Parameters
    ----------
    wavelength_aa, flux : (N, L) arrays or sequences of N 1-D arrays
    resolving_power : float
        Target R (seed 001's LAMOST: about 1800).
    input_resolving_power : float or array of shape (N,), optional
        The spectra's own R; None or NaN means much sharper than the target
        (the instrument's width is neglected). A spectrum already at or
        below the target R is returned unchanged.
    ivar, mask : like ``flux``, optional
    boundary : {"extend", "fill"}, default "extend"
        As in :func:`blur`; "extend" continues the wavelength grid with the
        edge step.
    truncate : float, default 4

    Returns
    -------
    flux, ivar
        Like :func:`blur`.

    Examples
    --------
    >>> wl = 6000.0 * np.exp(np.arange(200) * 1e-4)   # log-uniform grid
    >>> line = np.exp(-0.5 * ((np.arange(200) - 100) / 1.5) ** 2)[None, :]
    >>> f, _ = blur_to_resolution(wl[None, :], line, resolving_power=1800.0)
    >>> round(float(f.sum() / line.sum()), 4)  # the line flux is kept
    1.0
    """
    _check_boundary(boundary, "blur_to_resolution")
    if not (resolving_power > 0 and truncate > 0):
        raise ValueError(
            f"blur_to_resolution: need resolving_power > 0 and truncate > 0, got "
            f"{resolving_power!r}, {truncate!r}"
        )
    wl, fl, iv, mk, offsets = _columns(flux, wavelength_aa, ivar, mask)
    n = len(offsets) - 1
    r_in = np.broadcast_to(
        np.asarray(
            np.nan if input_resolving_power is None else input_resolving_power, float
        ),
        (n,),
    )
    inv2 = 1.0 / resolving_power**2 - np.where(
        np.isfinite(r_in) & (r_in > 0), 1.0 / r_in**2, 0.0
    )
    sigma_ln = np.sqrt(np.clip(inv2, 0.0, None)) / _FWHM_PER_SIGMA  # (N,)
    if n == 0 or fl.size == 0 or not np.any(sigma_ln > 0):
        return _unflat(fl, offsets), None if iv is None else _unflat(iv, offsets)
    _check_increasing(wl, offsets)
    lengths = np.diff(offsets)
    width = int(lengths.max())
    lnw = np.log(wl)
    # Local pixel step in ln(lambda), to size each pixel's kernel.
    grad = np.gradient(lnw) if lnw.size > 1 else np.ones(1)
    ends = offsets[:-1][lengths >= 2]
    grad[ends] = lnw[ends + 1] - lnw[ends]
    last = offsets[1:][lengths >= 2] - 1
    grad[last] = lnw[last] - lnw[last - 1]
    rows = _row_ids(offsets)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma_px = np.where(grad > 0, sigma_ln[rows] / grad, 0.0)
    reach = _half_width(np.nan_to_num(sigma_px, posinf=0.0), truncate)  # per pixel
    h = int(reach.max())
    index, inside, near = _padded_index(offsets, h, width, fl.size)
    # ln(lambda) continued beyond the ends with the edge step.
    pos = np.arange(-h, width + h)[None, :]
    step_lo = np.where(
        lengths >= 2,
        lnw[np.minimum(offsets[:-1] + 1, lnw.size - 1)]
        - lnw[np.minimum(offsets[:-1], lnw.size - 1)],
        0.0,
    )
    step_hi = np.where(
        lengths >= 2,
        lnw[np.maximum(offsets[1:] - 1, 0)] - lnw[np.maximum(offsets[1:] - 2, 0)],
        0.0,
    )
    ln_p = (
        lnw[index]
        + np.where(pos < 0, pos * step_lo[:, None], 0.0)
        + np.where(
            pos >= lengths[:, None],
            (pos - (lengths - 1)[:, None]) * step_hi[:, None],
            0.0,
        )
    )
    good = _usable(fl, wl, iv, mk)
    if boundary == "extend":
        w = good[index] & near
        f = np.where(w, fl[index], 0.0)
    else:
        w = np.where(inside, good[index], near)
        f = np.where(inside & w, fl[index], 0.0)
    var = None
    if iv is not None:
        ivp = iv[index]
        var = np.where(w & (ivp > 0), 1.0 / np.where(ivp > 0, ivp, 1.0), 0.0)
        if boundary == "fill":
            var = np.where(inside, var, 0.0)
    centre = ln_p[:, h : h + width]
    sig = np.zeros((n, width))
    reach_r = np.zeros((n, width), dtype=np.int64)
    keep = inside[:, h : h + width]
    sig[keep] = sigma_ln[rows]
    reach_r[keep] = reach
    num = np.zeros((n, width))
    den = np.zeros((n, width))
    vsum = np.zeros((n, width)) if var is not None else None
    safe = np.where(sig > 0, sig, 1.0)
    for k in range(-h, h + 1):
        sl = slice(h + k, h + k + width)
        wk = np.exp(-0.5 * ((ln_p[:, sl] - centre) / safe) ** 2)
        wk *= (np.abs(k) <= reach_r) & w[:, sl]
        num += wk * f[:, sl]
        den += wk
        if vsum is not None:
            vsum += wk * wk * var[:, sl]
    # Pixels whose kernel is a single pixel (rows already coarse enough)
    # keep their own values.
    identity = ((sig == 0) | (reach_r == 0))[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / den, np.nan)[keep]
    out_f = np.where(identity, fl, out).astype(np.float32)
    out_iv = None
    if vsum is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            ov = np.where(vsum > 0, den * den / vsum, 0.0)[keep]
        out_iv = np.where(identity, iv, np.where(good, ov, 0.0)).astype(np.float32)
    return _unflat(out_f, offsets), None if out_iv is None else _unflat(out_iv, offsets)


@register_step("blur_to_resolution")
class BlurToResolution(_SpectraStep):
    """Pipeline step of :func:`blur_to_resolution`.

    The spectra's own resolving power is ``input_resolving_power`` when
    given, else the ``resolving_power`` column when the batch has one, else
    unknown (treated as much sharper than the target). The
    ``resolving_power`` column, when present, is updated to the result's.

    Parameters
    ----------
    resolving_power : float, default 1800
        Target R (LAMOST's low-resolution spectra, seed 001).
    input_resolving_power : float, optional
    boundary : {"extend", "fill"}, default "extend"
    truncate : float, default 4

    Warns
    -----
    SkysiftWarning
        If some spectra are already coarser than the target (left as they
        are: a blur cannot sharpen).
    """

    def __init__(
        self,
        *,
        resolving_power: float = 1800.0,
        input_resolving_power: float | None = None,
        boundary: str = "extend",
        truncate: float = 4.0,
    ) -> None:
        self.resolving_power = resolving_power
        self.input_resolving_power = input_resolving_power
        self.boundary = boundary
        self.truncate = truncate

    def transform(self, batch: Batch) -> Batch:
        """Return the batch at the target resolving power."""
        n = len(batch["flux"])
        if self.input_resolving_power is not None:
            r_in = np.full(n, float(self.input_resolving_power))
        elif "resolving_power" in batch:
            r_in = np.array(
                [np.nan if v is None else v for v in batch["resolving_power"]], float
            )
        else:
            r_in = np.full(n, np.nan)
        coarse = np.isfinite(r_in) & (r_in < self.resolving_power)
        if coarse.any():
            ids = _row_labels(batch, n)[coarse]
            warnings.warn(
                f"blur_to_resolution: {int(coarse.sum())} spectra (e.g. "
                f"{ids[:3].tolist()}) have R < {self.resolving_power} already; "
                "left unblurred",
                SkysiftWarning,
                stacklevel=2,
            )
        flux, ivar = blur_to_resolution(
            batch["wavelength_aa"],
            batch["flux"],
            resolving_power=float(self.resolving_power),
            input_resolving_power=r_in,
            ivar=batch.get("ivar"),
            mask=batch.get("mask"),
            boundary=self.boundary,
            truncate=self.truncate,
        )
        out = {**batch, "flux": flux}
        if ivar is not None:
            out["ivar"] = ivar
        if "resolving_power" in batch:
            out["resolving_power"] = np.fmin(r_in, float(self.resolving_power))
        return out


# --------------------------------------------------------------------------
# Common grids: linear interpolation and flux-conserving rebinning
# --------------------------------------------------------------------------


def regrid(
    wavelength_aa: ArrayRows,
    flux: ArrayRows,
    grid_aa: np.ndarray,
    *,
    ivar: ArrayRows | None = None,
    mask: ArrayRows | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linearly interpolate spectra onto one common grid (seed 001).

    Unusable pixels (masked, ``ivar == 0``, non-finite) are dropped first,
    so the interpolation draws a straight line across them.

    Parameters
    ----------
    wavelength_aa, flux : (N, L) arrays or sequences of N 1-D arrays
        Each spectrum's own wavelengths (increasing) and fluxes.
    grid_aa : numpy.ndarray, shape (G,)
        The target grid.
    ivar, mask : like ``flux``, optional

    Returns
    -------
    flux : numpy.ndarray, shape (N, G), float32
        Grid points outside a spectrum's usable coverage hold the nearest
        edge value (constant extrapolation, as ``np.interp``). A spectrum with
        fewer than 2 usable pixels gets NaN everywhere, so a pipeline rejects
        it with a reason rather than passing a made-up spectrum on.
    ivar : numpy.ndarray, shape (N, G), float32
        Propagated for independent pixels: at a fraction t between pixels a
        and b, ``1 / ((1 - t)**2 / ivar_a + t**2 / ivar_b)``; 0 outside the
        coverage. All ones in, ones at the pixels themselves.
    mask : numpy.ndarray of bool, shape (N, G)
        True outside the usable coverage.

    Raises
    ------
    DataFormatError
        If wavelengths decrease within a spectrum.

    Examples
    --------
    >>> f, iv, m = regrid([np.array([1.0, 2.0, 3.0])], [np.array([0.0, 1.0, 0.0])],
    ...                   np.array([1.5, 2.5, 3.5]))
    >>> f, m
    (array([[0.5, 0.5, 0. ]], dtype=float32), array([[False, False,  True]]))
    """
    wl, fl, iv, mk, offsets = _columns(flux, wavelength_aa, ivar, mask)
    return _regrid(wl, fl, iv, mk, offsets, np.asarray(grid_aa, dtype=np.float64))


def _rows_of(values, offsets, rows):
    """Return the given rows of a flat column, as (values, offsets)."""
    lengths = np.diff(offsets)
    new = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths[rows], out=new[1:])
    if len(lengths) and np.all(lengths == lengths[0]):
        return values.reshape(len(lengths), -1)[rows].reshape(-1), new
    pick = np.zeros(len(lengths), dtype=bool)
    pick[rows] = True
    return values[np.repeat(pick, lengths)], new


def _regrid(wl, fl, iv, mk, offsets, grid, ids=None):
    n = len(offsets) - 1
    good = _usable(fl, wl, iv, mk)
    if good.all():
        return _interpolate(wl, fl, iv, offsets, grid, ids)
    # Rows with unusable pixels are interpolated over their usable pixels
    # only; the (usually many more) clean rows without any copying.
    is_dirty = np.zeros(n, dtype=bool)
    is_dirty[np.searchsorted(offsets, np.flatnonzero(~good), side="right") - 1] = True
    dirty, clean = np.flatnonzero(is_dirty), np.flatnonzero(~is_dirty)
    d_good, d_off = _rows_of(good, offsets, dirty)
    keep_counts = (
        np.add.reduceat(d_good, d_off[:-1], dtype=np.int64)
        if d_good.size
        else d_off[:-1]
    )
    keep_counts = np.where(np.diff(d_off) > 0, keep_counts, 0)
    sub = np.zeros(dirty.size + 1, dtype=np.int64)
    np.cumsum(keep_counts, out=sub[1:])
    flux_d, ivar_d, mask_d = _interpolate(
        _rows_of(wl, offsets, dirty)[0][d_good],
        _rows_of(fl, offsets, dirty)[0][d_good],
        None if iv is None else _rows_of(iv, offsets, dirty)[0][d_good],
        sub,
        grid,
        None if ids is None else np.asarray(ids)[dirty],
    )
    if 4 * clean.size >= 3 * n:  # mostly clean: all rows, then redo the dirty
        flux, ivar, mask = _interpolate(wl, fl, iv, offsets, grid, ids)
    else:
        flux = np.empty((n, grid.size), np.float32)
        ivar = np.empty((n, grid.size), np.float32)
        mask = np.empty((n, grid.size), bool)
        if clean.size:
            c_wl, c_off = _rows_of(wl, offsets, clean)
            flux[clean], ivar[clean], mask[clean] = _interpolate(
                c_wl,
                _rows_of(fl, offsets, clean)[0],
                None if iv is None else _rows_of(iv, offsets, clean)[0],
                c_off,
                grid,
                None,
            )
    flux[dirty], ivar[dirty], mask[dirty] = flux_d, ivar_d, mask_d
    return flux, ivar, mask


def _interpolate(wl, fl, iv, offsets, grid, ids):
    """Linear interpolation of rows whose pixels are all usable."""
    n, g = len(offsets) - 1, grid.size
    _check_increasing(wl, offsets, ids)
    lengths = np.diff(offsets)
    ok = lengths >= 2
    if not ok.any() or g == 0:
        return (
            np.full((n, g), np.nan, dtype=np.float32),
            np.zeros((n, g), dtype=np.float32),
            np.ones((n, g), dtype=bool),
        )
    below = _count_at_or_below(wl, offsets, grid)  # (N, G)
    flux = np.empty((n, g), dtype=np.float32)
    ivar = np.empty((n, g), dtype=np.float32)
    mask = np.empty((n, g), dtype=bool)
    # Blocks of rows keep the (rows, G) temporaries in the core's cache.
    step = max(1, _CACHE_ELEMENTS // max(g, 1))
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        _interpolate_block(
            wl,
            fl,
            iv,
            offsets[r0 : r1 + 1],
            lengths[r0:r1],
            below[r0:r1],
            grid,
            flux[r0:r1],
            ivar[r0:r1],
            mask[r0:r1],
        )
    if not ok.all():
        flux[~ok] = np.nan
        ivar[~ok] = 0.0
        mask[~ok] = True
    return flux, ivar, mask


def _interpolate_block(wl, fl, iv, offsets, lengths, below, grid, flux, ivar, mask):
    """Fill ``flux, ivar, mask`` (rows, G) for one block of rows."""
    # a: flat index of the pixel at or left of each grid point (the first
    # pair of a row for points before it, the last pair after it).
    a = np.clip(below - 1, 0, np.maximum(lengths - 2, 0)[:, None])
    a += offsets[:-1, None]
    np.minimum(a, wl.size - 2, out=a)
    b = a + 1
    xa = wl[a]
    dx = wl[b] - xa
    t = np.subtract(grid, xa)
    flat_steps = dx <= 0  # repeated wavelengths
    np.divide(t, dx, out=t, where=~flat_steps)
    t[flat_steps] = 0.0
    np.clip(t, 0.0, 1.0, out=t)  # constant extrapolation beyond the ends
    t = t.astype(np.float32)
    fa = fl[a]
    np.subtract(fl[b], fa, out=flux)
    flux *= t
    flux += fa
    first = wl[np.minimum(offsets[:-1], wl.size - 1)][:, None]
    last = wl[np.maximum(offsets[1:] - 1, 0)][:, None]
    np.less(grid, first, out=mask)
    mask |= grid > last
    if iv is None:
        ivar[...] = 1.0
    else:
        with np.errstate(divide="ignore", invalid="ignore"):  # rows redone later
            u = 1.0 - t
            u *= u
            u /= iv[a]
            t *= t
            t /= iv[b]
            u += t
            np.reciprocal(u, out=ivar)
    ivar[mask] = 0.0


@register_step("regrid")
class Regrid(_SpectraStep):
    """Interpolate every spectrum onto ``num`` points over [start_aa, stop_aa].

    Parameters
    ----------
    start_aa, stop_aa : float
        Grid ends in Angstrom (seed 001: 6519 and 6732).
    num : int
        Number of grid points (seed 001: 140).

    Examples
    --------
    >>> Regrid(num=3).grid()
    array([6519. , 6625.5, 6732. ])
    """

    def __init__(
        self, *, start_aa: float = 6519.0, stop_aa: float = 6732.0, num: int = 140
    ):
        self.start_aa = start_aa
        self.stop_aa = stop_aa
        self.num = num

    def grid(self) -> np.ndarray:
        """Return the target grid in Angstrom."""
        if not (
            self.stop_aa > self.start_aa and int(self.num) == self.num and self.num >= 2
        ):
            raise ValueError(
                f"regrid: need stop_aa > start_aa and an integer num >= 2, got "
                f"start_aa={self.start_aa}, stop_aa={self.stop_aa}, num={self.num}"
            )
        return np.linspace(self.start_aa, self.stop_aa, int(self.num))

    def transform(self, batch: Batch) -> Batch:
        """Return the batch on the common grid."""
        grid = self.grid()
        wl, fl, iv, mk, offsets = _columns(
            batch["flux"], batch["wavelength_aa"], batch.get("ivar"), batch.get("mask")
        )
        flux, ivar, mask = _regrid(
            wl, fl, iv, mk, offsets, grid, _row_labels(batch, len(offsets) - 1)
        )
        n = len(flux)
        return {
            **batch,
            "wavelength_aa": np.broadcast_to(grid, (n, grid.size)),
            "flux": flux,
            "ivar": ivar,
            "mask": mask,
        }


def _pixel_edges(wl: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges of each row's pixels: midpoints, the outer ones half a step out."""
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    edge_offsets = offsets + np.arange(n + 1)  # each row has L + 1 edges
    edges = np.empty(wl.size + n)
    rows = _row_ids(offsets)
    # interior edge j of a row sits between pixels j-1 and j
    pos_in_row = np.arange(wl.size) - offsets[:-1][rows]
    e_index = edge_offsets[:-1][rows] + pos_in_row
    prev = np.concatenate([[np.nan], wl[:-1]])
    mid = 0.5 * (prev + wl)
    first = pos_in_row == 0
    nxt = np.concatenate([wl[1:], [np.nan]])
    mid[first] = wl[first] - 0.5 * (nxt[first] - wl[first])
    edges[e_index] = mid
    last = offsets[1:][lengths > 0] - 1
    edges[edge_offsets[1:][lengths > 0] - 1] = wl[last] + 0.5 * (
        wl[last] - wl[last - 1]
    )
    return edges, edge_offsets


def rebin(
    wavelength_aa: ArrayRows,
    flux: ArrayRows,
    edges_aa: np.ndarray,
    *,
    ivar: ArrayRows | None = None,
    mask: ArrayRows | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rebin spectra onto common bins, conserving flux (seed 000).

    Each input pixel covers the interval between the midpoints to its
    neighbours (the end pixels extend half a step outwards) with a constant
    flux density. An output bin gets the mean density of the usable input
    pixels over the part of the bin they cover, weighted by overlap length:
    where everything is usable, ``sum(flux_out * bin_width)`` equals the
    integral of the input over the bins exactly.

    Parameters
    ----------
    wavelength_aa, flux : (N, L) arrays or sequences of N 1-D arrays
        Increasing pixel centres (Angstrom) and flux densities.
    edges_aa : numpy.ndarray, shape (G + 1,)
        Increasing bin edges.
    ivar, mask : like ``flux``, optional

    Returns
    -------
    flux : numpy.ndarray, shape (N, G), float32
        Bins covered by no usable pixel (outside a spectrum, or inside a
        fully masked stretch) are masked and filled by linear interpolation
        between the nearest covered bins (constant beyond the ends), as
        :func:`regrid` does; a spectrum with no covered bin is all NaN.
    ivar : numpy.ndarray, shape (N, G), float32
        Propagated exactly for independent pixels: ``(sum a_i)**2 / sum
        a_i**2 / ivar_i`` with overlap lengths ``a_i``; 0 on masked bins.
    mask : numpy.ndarray of bool, shape (N, G)

    Raises
    ------
    DataFormatError
        If wavelengths decrease within a spectrum.

    Examples
    --------
    >>> wl = np.arange(1.0, 9.0)[None, :]        # 8 pixels of width 1, edges 0.5 .. 8.5
    >>> f, iv, m = rebin(wl, np.arange(8.0)[None, :], np.array([0.5, 2.5, 4.5, 6.5, 8.5]))
    >>> f, float((f * 2).sum()), float(np.arange(8.0).sum())   # total flux conserved
    (array([[0.5, 2.5, 4.5, 6.5]], dtype=float32), 28.0, 28.0)
    """
    wl, fl, iv, mk, offsets = _columns(flux, wavelength_aa, ivar, mask)
    return _rebin(wl, fl, iv, mk, offsets, np.asarray(edges_aa, dtype=np.float64))


def _rebin(wl, fl, iv, mk, offsets, out_edges, ids=None):
    g = out_edges.size - 1
    if g < 1 or np.any(np.diff(out_edges) <= 0):
        raise ValueError("rebin: edges_aa must hold >= 2 strictly increasing values")
    _check_increasing(wl, offsets, ids)
    n = len(offsets) - 1
    lengths = np.diff(offsets)
    short = lengths < 2  # no pixel width can be defined
    good = _usable(fl, wl, iv, mk)
    in_edges, e_off = (
        _pixel_edges(wl, offsets) if wl.size else (np.zeros(n), np.arange(n + 1))
    )
    rows = _row_ids(offsets)
    pix_row_start = e_off[:-1][rows] + (np.arange(wl.size) - offsets[:-1][rows])
    lo_e = in_edges[pix_row_start] if wl.size else np.zeros(0)
    hi_e = in_edges[pix_row_start + 1] if wl.size else np.zeros(0)
    # Output bins each pixel touches: first = bin holding lo_e, last = bin holding hi_e.
    first = np.clip(np.searchsorted(out_edges, lo_e, side="right") - 1, 0, g - 1)
    last = np.clip(np.searchsorted(out_edges, hi_e, side="left") - 1, 0, g - 1)
    overlaps = (hi_e > out_edges[0]) & (lo_e < out_edges[-1]) & good & ~short[rows]
    counts = np.where(overlaps, last - first + 1, 0)
    seg_pix = np.repeat(np.arange(wl.size), counts)
    seg_start = np.repeat(np.cumsum(counts) - counts, counts)
    seg_bin = first[seg_pix] + (np.arange(seg_pix.size) - seg_start)
    length = np.minimum(hi_e[seg_pix], out_edges[seg_bin + 1]) - np.maximum(
        lo_e[seg_pix], out_edges[seg_bin]
    )
    length = np.clip(length, 0.0, None)
    key = rows[seg_pix] * g + seg_bin
    s_w = np.bincount(key, weights=length, minlength=n * g).reshape(n, g)
    s_f = np.bincount(key, weights=length * fl[seg_pix], minlength=n * g).reshape(n, g)
    covered = s_w > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(covered, s_f / np.where(covered, s_w, 1.0), 0.0)
    if iv is None:
        ivar = np.where(covered, 1.0, 0.0)
    else:
        var = 1.0 / np.where(good, iv, 1.0)[seg_pix]
        s_v = np.bincount(key, weights=length**2 * var, minlength=n * g).reshape(n, g)
        with np.errstate(invalid="ignore", divide="ignore"):
            ivar = np.where(
                covered & (s_v > 0), s_w**2 / np.where(s_v > 0, s_v, 1.0), 0.0
            )
    centres = 0.5 * (out_edges[:-1] + out_edges[1:])
    bad = ~covered
    if bad.any():
        flat_off = np.arange(n + 1, dtype=np.int64) * g
        filled, done, _, _ = _gap_fill(
            out.reshape(-1), bad.reshape(-1), flat_off, np.tile(centres, n), None
        )
        filled = filled.reshape(n, g)
        # constant extrapolation beyond the covered bins
        idx = np.where(covered, np.arange(g)[None, :], -1)
        left = np.maximum.accumulate(idx, axis=1)
        right = np.minimum.accumulate(
            np.where(covered, np.arange(g), g)[:, ::-1], axis=1
        )[:, ::-1]
        rows_n = np.arange(n)[:, None]
        fill_left = np.where(right < g, out[rows_n, np.minimum(right, g - 1)], np.nan)
        fill_right = np.where(left >= 0, out[rows_n, np.maximum(left, 0)], np.nan)
        out = np.where(
            covered | done.reshape(n, g),
            filled,
            np.where(left < 0, fill_left, fill_right),
        )
    return out.astype(np.float32), ivar.astype(np.float32), bad


@register_step("rebin")
class Rebin(_SpectraStep):
    """Flux-conserving rebinning onto ``num`` bins over [start_aa, stop_aa].

    Parameters
    ----------
    start_aa, stop_aa : float, default 3600, 9800
        Outer edges of the bins.
    num : int, default 3600
        Number of bins (seed 000: 3600, 1800 or 900).
    log : bool, default False
        Bins uniform in ``ln(lambda)`` instead of in lambda.

    Examples
    --------
    >>> Rebin(start_aa=4000.0, stop_aa=4004.0, num=2).edges()
    array([4000., 4002., 4004.])
    """

    def __init__(
        self,
        *,
        start_aa: float = 3600.0,
        stop_aa: float = 9800.0,
        num: int = 3600,
        log: bool = False,
    ) -> None:
        self.start_aa = start_aa
        self.stop_aa = stop_aa
        self.num = num
        self.log = log

    def edges(self) -> np.ndarray:
        """Return the ``num + 1`` bin edges in Angstrom."""
        if not (
            self.stop_aa > self.start_aa > 0
            and int(self.num) == self.num
            and self.num >= 1
        ):
            raise ValueError(
                f"rebin: need stop_aa > start_aa > 0 and an integer num >= 1, got "
                f"start_aa={self.start_aa}, stop_aa={self.stop_aa}, num={self.num}"
            )
        if self.log:
            return np.geomspace(self.start_aa, self.stop_aa, int(self.num) + 1)
        return np.linspace(self.start_aa, self.stop_aa, int(self.num) + 1)

    def transform(self, batch: Batch) -> Batch:
        """Return the batch on the common bins (wavelengths: bin centres)."""
        edges = self.edges()
        wl, fl, iv, mk, offsets = _columns(
            batch["flux"], batch["wavelength_aa"], batch.get("ivar"), batch.get("mask")
        )
        flux, ivar, mask = _rebin(
            wl, fl, iv, mk, offsets, edges, _row_labels(batch, len(offsets) - 1)
        )
        centres = (
            np.sqrt(edges[:-1] * edges[1:])
            if self.log
            else 0.5 * (edges[:-1] + edges[1:])
        )
        n = len(flux)
        return {
            **batch,
            "wavelength_aa": np.broadcast_to(centres, (n, centres.size)),
            "flux": flux,
            "ivar": ivar,
            "mask": mask,
        }


# --------------------------------------------------------------------------
# Model input shapes
# --------------------------------------------------------------------------


def reshape_square(flux: np.ndarray, *, side: int | None = None) -> np.ndarray:
    """Fold spectra into square images for a 2D CNN (seed 000).

    Row-major fold with zero padding at the red end, exactly as
    :func:`skysift.models.cnn2d.fold_to_square` folds inside the model:
    row r of the image holds pixels ``r * S .. r * S + S - 1``.

    Parameters
    ----------
    flux : numpy.ndarray, shape (N, L)
        Spectra on one grid (after ``regrid`` or ``rebin``).
    side : int, optional
        Image side S; default ``ceil(sqrt(L))`` (3600 pixels -> 60 x 60).
        A smaller side crops pixels from the red end.

    Returns
    -------
    numpy.ndarray, shape (N, 1, S, S), float32

    Examples
    --------
    >>> reshape_square(np.arange(1.0, 6.0)[None, :])[0, 0]
    array([[1., 2., 3.],
           [4., 5., 0.],
           [0., 0., 0.]], dtype=float32)
    """
    flux = np.asarray(flux, dtype=np.float32)
    if flux.ndim != 2:
        raise ValueError(f"reshape_square: flux must be (N, L), got shape {flux.shape}")
    n, length = flux.shape
    if side is None:
        side = math.isqrt(max(length - 1, 0)) + 1 if length > 1 else 1
    if int(side) != side or side < 1:
        raise ValueError(f"reshape_square: side must be an integer >= 1, got {side!r}")
    side = int(side)
    out = np.zeros((n, side * side), dtype=np.float32)
    keep = min(length, side * side)
    out[:, :keep] = flux[:, :keep]
    return out.reshape(n, 1, side, side)  # (N, 1, S, S)


@register_step("reshape_square")
class ReshapeSquare(_SpectraStep):
    """Pipeline step of :func:`reshape_square`: sets ``x`` to (N, 1, S, S).

    Put it last. The 2D CNN also folds (N, 1, L) input itself, so this step
    is needed only when the prepared store should hold images.

    Parameters
    ----------
    side : int, optional
        Image side; default ``ceil(sqrt(L))``.
    """

    def __init__(self, *, side: int | None = None) -> None:
        self.side = side

    def transform(self, batch: Batch) -> Batch:
        """Return the batch with the image in ``x``."""
        flux = stack_rows(batch["flux"], name="flux")
        return {**batch, "x": reshape_square(flux, side=self.side)}
