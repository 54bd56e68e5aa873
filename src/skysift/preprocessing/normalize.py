"""Per-spectrum normalisation (SPEC B5).

* min-max to [0, 1] (seed 000),
* zero mean and unit variance (seed 001),
* inverse-variance-weighted mean and RMS (seed 002),
* per-object peak scaling of a prepared array, e.g. GP light curves
  (``peak_normalize``, with ``log10(peak)`` kept as an extra feature),
* an inverse hyperbolic sine compression of a prepared array (``asinh``):
  one fixed transform for every object, brightness and sign kept.

Each is a plain function on an (N, L) array with a stateless step twin for
pipelines. Pixels with ``ivar == 0`` or ``mask`` set do not influence the
statistics when the weighted variant is used.
"""

from __future__ import annotations

import numpy as np

from skysift.preprocessing.pipeline import Batch, Step, register_step, stack_rows

__all__ = [
    "AsinhScaler",
    "MinMaxScaler",
    "PeakNormalizer",
    "Standardizer",
    "WeightedStandardizer",
    "asinh_scale",
    "min_max_scale",
    "peak_normalize",
    "standardize",
    "weighted_standardize",
]

_TINY = np.float32(1e-12)


def standardize(flux: np.ndarray) -> np.ndarray:
    """Scale each row to zero mean and unit variance (seed 001).

    Parameters
    ----------
    flux : numpy.ndarray, shape (N, L)

    Returns
    -------
    numpy.ndarray, shape (N, L), float32
        A constant row becomes all zeros rather than NaN.

    Examples
    --------
    >>> standardize(np.array([[1.0, 2.0, 3.0]])).round(4)
    array([[-1.2247,  0.    ,  1.2247]], dtype=float32)
    """
    flux = np.asarray(flux, dtype=np.float32)
    mean = flux.mean(axis=1, keepdims=True)
    std = flux.std(axis=1, keepdims=True)
    return (flux - mean) / np.maximum(std, _TINY)


def min_max_scale(flux: np.ndarray) -> np.ndarray:
    """Scale each row linearly onto [0, 1] (seed 000).

    Parameters
    ----------
    flux : numpy.ndarray, shape (N, L)

    Returns
    -------
    numpy.ndarray, shape (N, L), float32
        A constant row becomes all zeros rather than NaN.

    Examples
    --------
    >>> min_max_scale(np.array([[2.0, 4.0, 3.0]]))
    array([[0. , 1. , 0.5]], dtype=float32)
    """
    flux = np.asarray(flux, dtype=np.float32)
    lo = flux.min(axis=1, keepdims=True)
    hi = flux.max(axis=1, keepdims=True)
    return (flux - lo) / np.maximum(hi - lo, _TINY)


def weighted_standardize(
    flux: np.ndarray, ivar: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """Subtract the ivar-weighted mean and divide by the weighted RMS (seed 002).

    The RMS is taken about the weighted mean:
    ``sqrt(sum(w * (f - mean)**2) / sum(w))`` with ``w = ivar``, so with
    equal weights this is :func:`standardize`.

    Parameters
    ----------
    flux : numpy.ndarray, shape (N, L)
    ivar : numpy.ndarray, shape (N, L)
        Weights; pixels with zero, negative or non-finite ivar, non-finite
        flux, or ``mask`` True carry no weight (their output is still
        ``(flux - mean) / rms``).
    mask : numpy.ndarray of bool, shape (N, L), optional

    Returns
    -------
    numpy.ndarray, shape (N, L), float32
        A row with no usable pixel is returned as zeros.

    Examples
    --------
    >>> weighted_standardize(np.array([[1.0, 3.0, 100.0]]),
    ...                      np.array([[1.0, 1.0, 0.0]]))[0, :2]
    array([-1.,  1.], dtype=float32)
    """
    flux = np.asarray(flux, dtype=np.float32)
    w = np.asarray(ivar, dtype=np.float32).copy()
    w[~(np.isfinite(w) & (w > 0))] = 0.0
    if mask is not None:
        w[np.asarray(mask, dtype=bool)] = 0.0
    w[~np.isfinite(flux)] = 0.0
    safe = np.where(w > 0, flux, 0.0)
    wsum = w.sum(axis=1, keepdims=True)
    mean = (w * safe).sum(axis=1, keepdims=True) / np.maximum(wsum, _TINY)
    rms = np.sqrt(
        (w * (safe - mean) ** 2).sum(axis=1, keepdims=True) / np.maximum(wsum, _TINY)
    )
    out = (flux - mean) / np.maximum(rms, _TINY)
    out[(wsum == 0).ravel()] = 0.0
    return out.astype(np.float32, copy=False)


class _FluxStep(Step):
    kinds = ("spectra",)

    def __init__(self) -> None:
        pass  # no parameters: per-spectrum statistics, nothing to learn

    def _apply(self, batch: Batch) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def transform(self, batch: Batch) -> Batch:
        """Return the batch with ``flux`` normalised per spectrum."""
        return {**batch, "flux": self._apply(batch)}


@register_step("standardize")
class Standardizer(_FluxStep):
    """Pipeline step of :func:`standardize`."""

    def _apply(self, batch: Batch) -> np.ndarray:
        return standardize(stack_rows(batch["flux"], name="flux"))


@register_step("min_max")
class MinMaxScaler(_FluxStep):
    """Pipeline step of :func:`min_max_scale`."""

    def _apply(self, batch: Batch) -> np.ndarray:
        return min_max_scale(stack_rows(batch["flux"], name="flux"))


@register_step("weighted_standardize")
class WeightedStandardizer(_FluxStep):
    """Pipeline step of :func:`weighted_standardize`."""

    def _apply(self, batch: Batch) -> np.ndarray:
        mask = batch.get("mask")
        return weighted_standardize(
            stack_rows(batch["flux"], name="flux"),
            stack_rows(batch["ivar"], name="ivar"),
            None if mask is None else stack_rows(mask, name="mask", dtype=bool),
        )


def _prepared_x(batch: Batch, step: str) -> np.ndarray:
    """Return the batch's prepared array ``x``, or say which step needs it."""
    if "x" not in batch:
        raise ValueError(
            f"{step}: the batch has no prepared array 'x'; put the step after one "
            "that makes it (e.g. gp)"
        )
    return batch["x"]


def peak_normalize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Divide each object's array by its peak absolute value over all axes.

    For interpolated light curves ``x`` (N, L, M) this is the peak GP flux
    over every band and time, so the colours and shapes are kept and only
    the overall brightness (which spans orders of magnitude between
    objects in FLUXCAL) is removed.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, ...)

    Returns
    -------
    scaled : numpy.ndarray, float32, same shape
        An all-zero (or non-finite-peak) object is returned unchanged.
    peak : numpy.ndarray, float64, shape (N,)
        The divisor of each object (0 where it was left unchanged).

    Examples
    --------
    >>> scaled, peak = peak_normalize(np.array([[[1.0, -4.0], [2.0, 0.0]]]))
    >>> scaled.tolist(), peak.tolist()
    ([[[0.25, -1.0], [0.5, 0.0]]], [4.0])
    """
    x = np.asarray(x, dtype=np.float32)
    flat = np.abs(x.reshape(len(x), -1).astype(np.float64))
    peak = flat.max(axis=1) if flat.shape[1] else np.zeros(len(x))
    good = np.isfinite(peak) & (peak > 0)
    peak = np.where(good, peak, 0.0)
    divisor = np.where(good, peak, 1.0).reshape((len(x),) + (1,) * (x.ndim - 1))
    return (x / divisor).astype(np.float32), peak


@register_step("peak_normalize")
class PeakNormalizer(Step):
    """Per-object scaling of a prepared array ``x`` by its peak (:func:`peak_normalize`).

    Put it after the ``gp`` step: every light curve then peaks at 1 in its
    brightest band, which keeps a network's inputs on one scale (raw
    FLUXCAL means differ by orders of magnitude between objects). Nothing
    is learned, so training and test objects are treated alike.

    Parameters
    ----------
    scale_feature : bool, default True
        Append ``log10(peak)`` to ``extra`` (N, R) so that the brightness
        removed from ``x`` stays available to the model; objects left
        unchanged (zero peak) get 0.

    Examples
    --------
    >>> out = PeakNormalizer().transform({"x": np.array([[[10.0], [100.0]]])})
    >>> out["x"].ravel().tolist(), out["extra"].ravel().tolist()
    ([0.10000000149011612, 1.0], [2.0])
    """

    kinds = ("lightcurves",)

    def __init__(self, *, scale_feature: bool = True) -> None:
        self.scale_feature = scale_feature

    def transform(self, batch: Batch) -> Batch:
        """Return the batch with ``x`` scaled (and ``log10(peak)`` appended to ``extra``)."""
        x, peak = peak_normalize(_prepared_x(batch, "peak_normalize"))
        out = {**batch, "x": x}
        if self.scale_feature:
            log_peak = np.where(peak > 0, np.log10(np.where(peak > 0, peak, 1.0)), 0.0)
            feature = log_peak.astype(np.float32)[:, None]
            if "extra" in batch:
                feature = np.concatenate(
                    [np.asarray(batch["extra"], dtype=np.float32), feature], axis=1
                )
            out["extra"] = feature
        return out


def asinh_scale(x: np.ndarray, softening: float) -> np.ndarray:
    """Return ``arcsinh(x / softening)`` as float32.

    Linear (``x / softening``) for ``|x|`` well below ``softening``,
    logarithmic (``sign(x) * log(2 |x| / softening)``) well above it: fluxes
    that span orders of magnitude between objects land on one scale, while
    (unlike :func:`peak_normalize`) an object's brightness, the sign of
    negative fluctuations and the ratios between objects stay in the values.
    It is the transform behind Lupton et al. (1999)'s asinh magnitudes, whose
    softening is of the order of the noise.

    Examples
    --------
    >>> [round(float(v), 4) for v in asinh_scale(np.array([0.0, 10.0, -1000.0]), 10.0)]
    [0.0, 0.8814, -5.2983]
    """
    if not (np.isfinite(softening) and softening > 0):
        raise ValueError(f"asinh: softening must be a positive number, got {softening!r}")
    x = np.asarray(x, dtype=np.float64)
    return np.arcsinh(x / softening).astype(np.float32)


@register_step("asinh")
class AsinhScaler(Step):
    """Compress a prepared array ``x`` with :func:`asinh_scale`.

    Put it after the ``gp`` step when the model should see brightness
    (the peaks of SNPCC's FLUXCAL GP means span ~7 to ~400 between objects,
    1st to 99th percentile): with a softening of 10 they become ~0.7-4.4, comparable with extra features such as
    redshift, and nothing is divided out per object. The transform is fixed
    (no ``fit``), so training and test objects are treated alike.

    Parameters
    ----------
    softening : float, default 1.0
        In the units of ``x``; below it the transform is linear. Choose it
        near the flux noise (SNPCC FLUXCAL: ~10).

    Examples
    --------
    >>> out = AsinhScaler(softening=10.0).transform({"x": np.array([[[10.0], [0.0]]])})
    >>> out["x"].shape, round(float(out["x"][0, 0, 0]), 4)
    ((1, 2, 1), 0.8814)
    """

    kinds = ("lightcurves",)

    def __init__(self, *, softening: float = 1.0) -> None:
        self.softening = softening

    def transform(self, batch: Batch) -> Batch:
        """Return the batch with ``x`` replaced by ``arcsinh(x / softening)``."""
        return {**batch, "x": asinh_scale(_prepared_x(batch, "asinh"), float(self.softening))}
