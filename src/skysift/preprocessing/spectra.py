"""Spectral preparation steps: grids and wavelengths (SPEC B1-B4, B6).

Wavelengths are in Angstrom throughout (``wavelength_aa``).
"""

from __future__ import annotations

import numpy as np

from skysift.preprocessing.pipeline import Batch, Step, register_step

__all__ = ["Regrid", "regrid"]


def regrid(
    wavelength_aa: np.ndarray | list,
    flux: np.ndarray | list,
    grid_aa: np.ndarray,
    *,
    ivar: np.ndarray | list | None = None,
    mask: np.ndarray | list | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linearly interpolate spectra onto one common grid (seed 001).

    Parameters
    ----------
    wavelength_aa, flux : (N, L) arrays or sequences of N 1-D arrays
        Each spectrum's own wavelengths (increasing) and fluxes.
    grid_aa : numpy.ndarray, shape (G,)
        The target grid.
    ivar, mask : like ``flux``, optional
        Pixels with ``ivar == 0``, ``mask`` True or non-finite flux are
        dropped before interpolating, so the line is drawn across them.

    Returns
    -------
    flux : numpy.ndarray, shape (N, G), float32
    ivar : numpy.ndarray, shape (N, G), float32
        The ivar of the nearest source pixel; 0 outside the spectrum's
        coverage.
    mask : numpy.ndarray of bool, shape (N, G)
        True where the grid lies outside the usable coverage of the spectrum;
        there the flux holds the nearest edge value (constant extrapolation).

    Examples
    --------
    >>> f, iv, m = regrid([np.array([1.0, 2.0, 3.0])], [np.array([0.0, 1.0, 0.0])],
    ...                   np.array([1.5, 2.5, 3.5]))
    >>> f, m
    (array([[0.5, 0.5, 0. ]], dtype=float32), array([[False, False,  True]]))
    """
    grid_aa = np.asarray(grid_aa, dtype=np.float64)
    n = len(flux)
    out_f = np.zeros((n, grid_aa.size), dtype=np.float32)
    out_i = np.zeros((n, grid_aa.size), dtype=np.float32)
    out_m = np.ones((n, grid_aa.size), dtype=bool)
    for k in range(n):
        wl = np.asarray(wavelength_aa[k], dtype=np.float64)
        fl = np.asarray(flux[k], dtype=np.float64)
        iv = np.ones_like(fl) if ivar is None else np.asarray(ivar[k], dtype=np.float64)
        good = np.isfinite(fl) & np.isfinite(wl) & (iv > 0)
        if mask is not None:
            good &= ~np.asarray(mask[k], dtype=bool)
        if good.sum() < 2:
            continue  # nothing to draw: all masked, flux zeros
        wl, fl, iv = wl[good], fl[good], iv[good]
        out_f[k] = np.interp(grid_aa, wl, fl)
        nearest = np.clip(np.searchsorted(wl, grid_aa), 0, wl.size - 1)
        out_i[k] = iv[nearest]
        out_m[k] = (grid_aa < wl[0]) | (grid_aa > wl[-1])
        out_i[k][out_m[k]] = 0.0
    return out_f, out_i, out_m


@register_step("regrid")
class Regrid(Step):
    """Interpolate every spectrum onto ``num`` points over [start_aa, stop_aa].

    Parameters
    ----------
    start_aa, stop_aa : float
        Grid ends in Angstrom (seed 001: 6519 and 6732).
    num : int
        Number of grid points (seed 001: 140).
    """

    kinds = ("spectra",)

    def __init__(self, *, start_aa: float = 6519.0, stop_aa: float = 6732.0, num: int = 140):
        self.start_aa = start_aa
        self.stop_aa = stop_aa
        self.num = num

    def grid(self) -> np.ndarray:
        """Return the target grid in Angstrom."""
        if not (self.stop_aa > self.start_aa and self.num >= 2):
            raise ValueError(
                f"regrid: need stop_aa > start_aa and num >= 2, got "
                f"{self.start_aa}, {self.stop_aa}, {self.num}"
            )
        return np.linspace(self.start_aa, self.stop_aa, int(self.num))

    def transform(self, batch: Batch) -> Batch:
        """Return the batch on the common grid."""
        grid = self.grid()
        flux, ivar, mask = regrid(
            batch["wavelength_aa"],
            batch["flux"],
            grid,
            ivar=batch.get("ivar"),
            mask=batch.get("mask"),
        )
        n = len(flux)
        return {
            **batch,
            "wavelength_aa": np.broadcast_to(grid, (n, grid.size)),
            "flux": flux,
            "ivar": ivar,
            "mask": mask,
        }
