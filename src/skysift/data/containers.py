"""One object in memory: a :class:`Spectrum` or a :class:`LightCurve`.

The store keeps objects as columns; these small containers are what a reader
returns for one file and what random access by id gives back for galleries.
Arrays carry their unit in their name (``wavelength_aa``, ``time_mjd``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skysift.exceptions import DataFormatError

__all__ = ["LightCurve", "Spectrum", "from_row"]


def _same_length(owner: str, **arrays: np.ndarray) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise DataFormatError(f"{owner}: arrays differ in length: {lengths}")


@dataclass
class Spectrum:
    """A 1-D spectrum.

    Parameters
    ----------
    object_id : str
        Unique id of the object.
    wavelength_aa : numpy.ndarray, shape (L,)
        Wavelengths in Angstrom.
    flux : numpy.ndarray, shape (L,)
        Flux, in the units of the source file.
    ivar : numpy.ndarray, shape (L,), optional
        Inverse variance of the flux; zero marks an unusable pixel.
        Defaults to ones when the source gives no errors.
    mask : numpy.ndarray of bool, shape (L,), optional
        True marks a bad pixel. Defaults to all False.
    label : str, optional
        Class name.
    redshift, redshift_err : float, optional
        Redshift and its error.
    meta : dict
        Any other scalar metadata (frame ``"air"``/``"vacuum"``, source file).

    Examples
    --------
    >>> import numpy as np
    >>> s = Spectrum("a", np.array([6500.0, 6501.0]), np.array([1.0, 2.0]))
    >>> s.ivar, s.mask
    (array([1., 1.], dtype=float32), array([False, False]))
    """

    object_id: str
    wavelength_aa: np.ndarray
    flux: np.ndarray
    ivar: np.ndarray | None = None
    mask: np.ndarray | None = None
    label: str | None = None
    redshift: float | None = None
    redshift_err: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.wavelength_aa = np.asarray(self.wavelength_aa, dtype=np.float64)
        self.flux = np.asarray(self.flux, dtype=np.float32)
        if self.ivar is None:
            self.ivar = np.ones_like(self.flux)
        self.ivar = np.asarray(self.ivar, dtype=np.float32)
        if self.mask is None:
            self.mask = np.zeros(len(self.flux), dtype=bool)
        self.mask = np.asarray(self.mask, dtype=bool)
        _same_length(
            f"spectrum {self.object_id!r}",
            wavelength_aa=self.wavelength_aa,
            flux=self.flux,
            ivar=self.ivar,
            mask=self.mask,
        )

    def __len__(self) -> int:
        return len(self.flux)

    def __repr__(self) -> str:
        span = (
            f"{self.wavelength_aa.min():.1f}-{self.wavelength_aa.max():.1f} AA"
            if len(self)
            else "empty"
        )
        return (
            f"Spectrum({self.object_id!r}, {len(self)} px, {span}, "
            f"label={self.label!r}, redshift={self.redshift!r})"
        )


@dataclass
class LightCurve:
    """A multi-band light curve, irregularly sampled.

    Parameters
    ----------
    object_id : str
        Unique id of the object.
    time_mjd : numpy.ndarray, shape (K,)
        Observation times (MJD).
    band : numpy.ndarray of str, shape (K,)
        Passband name of each observation (``"g"``, ``"r"``, ...).
    flux, flux_err : numpy.ndarray, shape (K,)
        Flux and its 1-sigma error.
    label : str, optional
        Class name.
    redshift, redshift_err : float, optional
        Redshift and its error.
    meta : dict
        Any other scalar metadata.

    Examples
    --------
    >>> import numpy as np
    >>> lc = LightCurve("sn1", [0.0, 1.0], ["g", "r"], [10.0, 12.0], [1.0, 1.0])
    >>> lc.bands
    ['g', 'r']
    """

    object_id: str
    time_mjd: np.ndarray
    band: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    label: str | None = None
    redshift: float | None = None
    redshift_err: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.time_mjd = np.asarray(self.time_mjd, dtype=np.float64)
        self.band = np.asarray(self.band, dtype=str)
        self.flux = np.asarray(self.flux, dtype=np.float32)
        self.flux_err = np.asarray(self.flux_err, dtype=np.float32)
        _same_length(
            f"light curve {self.object_id!r}",
            time_mjd=self.time_mjd,
            band=self.band,
            flux=self.flux,
            flux_err=self.flux_err,
        )

    def __len__(self) -> int:
        return len(self.flux)

    def __repr__(self) -> str:
        return (
            f"LightCurve({self.object_id!r}, {len(self)} points in bands "
            f"{''.join(self.bands)}, label={self.label!r}, redshift={self.redshift!r})"
        )

    @property
    def bands(self) -> list[str]:
        """Passbands present, sorted by name."""
        return sorted(set(self.band.tolist()))


_BASE = ("object_id", "label", "redshift", "redshift_err")


def from_row(kind: str, row: dict[str, Any]) -> Spectrum | LightCurve:
    """Build a container from one store row (a dict as from ``Table.to_pylist``).

    Parameters
    ----------
    kind : {"spectra", "lightcurves"}
        The store kind.
    row : dict
        Column name to value.

    Returns
    -------
    Spectrum or LightCurve
    """
    cls = {"spectra": Spectrum, "lightcurves": LightCurve}[kind]
    arrays = (
        ("wavelength_aa", "flux", "ivar", "mask")
        if kind == "spectra"
        else ("time_mjd", "band", "flux", "flux_err")
    )
    meta = {k: v for k, v in row.items() if k not in _BASE and k not in arrays}
    return cls(
        **{k: row[k] for k in _BASE},
        **{k: np.asarray(row[k]) for k in arrays},
        meta=meta,
    )
