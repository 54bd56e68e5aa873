"""Draw a light curve: the observations per band and, optionally, its GP fit.

The figure is what a person checks before trusting the interpolated model
input: each band's points with their error bars, and the Gaussian-process
mean with its 1-sigma band in the same colour -- also for bands without a
single observation, where the mean comes from the wavelength correlation
alone. Figures are built on :class:`matplotlib.figure.Figure` with an Agg
canvas, so no GUI backend or global pyplot state is involved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from skysift.data.passbands import PASSBANDS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from skysift.data.containers import LightCurve
    from skysift.preprocessing.gp import GPResult

__all__ = ["BAND_COLORS", "plot_lightcurve"]

#: Band name -> colour, blue to red (the colours of LSST's u..y, reused for
#: ZTF/DES bands of the same name). Unknown bands cycle through matplotlib's.
BAND_COLORS: dict[str, str] = {
    "u": "#7b3294",
    "g": "#1b9e77",
    "r": "#d7301f",
    "i": "#fd8d3c",
    "z": "#8c510a",
    "y": "#252525",
}


def _band_order(names: list[str]) -> list[str]:
    """Sort band names blue to red where the wavelength is known."""
    known = {b: w for table in PASSBANDS.values() for b, w in table.items()}
    return sorted(names, key=lambda b: (b not in known, known.get(b, 0.0), b))


def plot_lightcurve(
    lc: LightCurve,
    gp_result: GPResult | None = None,
    *,
    index: int = 0,
    band_colors: Mapping[str, str] | None = None,
    flux_unit: str | None = None,
    figsize: tuple[float, float] = (8.0, 4.8),
) -> Figure:
    """Plot a light curve's observations and, if given, its GP mean and 1-sigma band.

    Parameters
    ----------
    lc : LightCurve
        The observations.
    gp_result : GPResult, optional
        A fit of this light curve from
        :func:`skysift.preprocessing.gp.fit_gaussian_process`; the band
        around the mean needs it to carry the variance
        (``return_var=True``).
    index : int, default 0
        Which object of ``gp_result`` is ``lc``.
    band_colors : mapping of str to str, optional
        Colours by band name; defaults to :data:`BAND_COLORS`.
    flux_unit : str, optional
        Unit shown on the flux axis (e.g. ``"FLUXCAL"``).
    figsize : (float, float), default (8, 4.8)
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        One axes: time in days since the first observation, flux; the title
        names the object, its label and redshift, and any GP flags.

    Examples
    --------
    >>> from skysift.data import LightCurve
    >>> from skysift.preprocessing.gp import fit_gaussian_process
    >>> lc = LightCurve("sn1", [0, 4, 8, 12, 6], list("ggggr"), [1, 5, 4, 2, 4],
    ...                 [0.3] * 5, label="SNIa", redshift=0.1)
    >>> gp = fit_gaussian_process([lc.time_mjd], [lc.band], [lc.flux],
    ...     [lc.flux_err], band_wavelengths={"g": 4827.0, "r": 6223.0},
    ...     return_var=True)
    >>> fig = plot_lightcurve(lc, gp)
    >>> fig.axes[0].get_title()
    'sn1  label=SNIa  z=0.100'
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    colors = {**BAND_COLORS, **(band_colors or {})}
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    t = np.asarray(lc.time_mjd, dtype=np.float64)
    finite_t = t[np.isfinite(t)]
    t0 = float(finite_t.min()) if finite_t.size else 0.0
    observed = _band_order(sorted(set(np.asarray(lc.band, dtype=str).tolist())))
    gp_bands = list(gp_result.bands) if gp_result is not None else []
    bands = gp_bands + [b for b in observed if b not in gp_bands]
    cycle = iter(
        c
        for c in ("#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf") * 10
    )
    color = {b: colors.get(b) or next(cycle) for b in bands}

    handles = {}
    for b in bands:
        sel = np.asarray(lc.band, dtype=str) == b
        if sel.any():
            handles[b] = ax.errorbar(
                t[sel] - t0,
                np.asarray(lc.flux, dtype=np.float64)[sel],
                yerr=np.asarray(lc.flux_err, dtype=np.float64)[sel],
                fmt="o",
                ms=4,
                color=color[b],
                ecolor=color[b],
                elinewidth=1,
                alpha=0.9,
                label=b,
                zorder=3,
            )
    title = f"{lc.object_id}"
    if lc.label is not None:
        title += f"  label={lc.label}"
    if lc.redshift is not None and np.isfinite(lc.redshift):
        title += f"  z={lc.redshift:.3f}"
        if lc.redshift_err is not None and lc.redshift_err > 0:
            title += f"±{lc.redshift_err:.3f}"
    if gp_result is not None:
        grid = np.asarray(gp_result.time_mjd[index], dtype=np.float64) - t0
        for m, b in enumerate(gp_bands):
            mean = gp_result.mean[index, :, m]
            (line,) = ax.plot(
                grid,
                mean,
                color=color[b],
                lw=1.6,
                ls="-" if b in handles else "--",
                label=f"{b} (GP only, no data)",
                zorder=2,
            )
            handles.setdefault(b, line)
            if gp_result.var is not None:
                sd = np.sqrt(np.clip(gp_result.var[index, :, m], 0.0, None))
                ax.fill_between(
                    grid, mean - sd, mean + sd, color=color[b], alpha=0.2, lw=0
                )
        flags = gp_result.flag_names(index)
        if flags:
            title += f"  GP flags: {', '.join(flags)}"
    ax.axhline(0.0, color="0.6", lw=0.8, zorder=1)
    ax.set_xlabel(f"days since MJD {t0:.2f}")
    ax.set_ylabel(f"flux ({flux_unit})" if flux_unit else "flux")
    ax.set_title(title)
    if handles:  # blue to red, observed or not
        order = [b for b in bands if b in handles]
        ax.legend(
            [handles[b] for b in order],
            [handles[b].get_label() for b in order],
            title="band",
            fontsize="small",
            ncols=2 if len(order) > 3 else 1,
        )
    return fig
