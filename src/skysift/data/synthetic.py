"""Labelled synthetic spectra and light curves, reproducible from a seed.

These are the seeds' own validation sets (SPEC A5):

* Gaussian-line spectra (seed 000 sec. 3.1.1): a continuum (flat, sloped or
  blackbody-like) plus emission lines; each class is a fixed combination of
  line positions drawn from a shared pool; amplitudes and widths are random;
  Gaussian noise is set by S/N, defined as in the seed as the largest allowed
  line amplitude over the noise sigma. S/N 10 is separable perfectly, S/N 2
  is hard.
* H-alpha profiles (seed 001): emission, absorption and double-peak lines
  around 6562.8 AA (air) on a normalised continuum, at a chosen resolving
  power and wavelength range, like the Ondrejov classes. S/N is the
  continuum level over the noise sigma, as stellar spectra quote it.
* Transient and variable light curves (seed 003's setting): supernova-like
  rise and fall of three types (Ia, Ib/c, II-plateau), periodic variables,
  stellar flares and AGN (damped random walk), irregularly sampled per band
  on a nightly cadence with seasonal gaps and heteroscedastic errors.

Every generator is vectorised with NumPy and works in chunks of
``CHUNK_SIZE`` objects with independent random streams spawned from one
:class:`numpy.random.SeedSequence`, so the output depends only on the seed
and the parameters, never on how the caller consumes it. Generators yield
column dictionaries ready for :func:`skysift.io.store.table_from_columns`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from skysift.data.passbands import band_wavelengths

__all__ = [
    "CHUNK_SIZE",
    "GENERATORS",
    "HALPHA_AIR_AA",
    "HALPHA_CLASSES",
    "HALPHA_VACUUM_AA",
    "LIGHTCURVE_CLASSES",
    "gaussian_line_layout",
    "generate_gaussian_line_spectra",
    "generate_halpha_spectra",
    "generate_lightcurves",
    "iter_gaussian_line_spectra",
    "iter_halpha_spectra",
    "iter_lightcurves",
    "synthesize_store",
]

#: Objects generated per chunk, each chunk with its own spawned random stream.
CHUNK_SIZE = 2048
HALPHA_AIR_AA = 6562.80
HALPHA_VACUUM_AA = 6564.61
HALPHA_CLASSES = ("emission", "absorption", "double-peak")
LIGHTCURVE_CLASSES = ("SNIa", "SNIbc", "SNII", "periodic", "flare", "AGN")
_CONTINUA = ("flat", "sloped", "blackbody")
_C_KM_S = 299_792.458
_HC_OVER_K_AA_K = 1.438777e8  # h c / k_B in Angstrom Kelvin
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def _balanced_labels(
    n: int, num_classes: int, weights: Sequence[float] | None, rng: np.random.Generator
) -> np.ndarray:
    """Class indices with exactly the requested proportions, shuffled."""
    w = np.ones(num_classes) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (num_classes,) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(
            f"class_weights must be {num_classes} non-negative numbers with a "
            f"positive sum, got {weights!r}"
        )
    exact = n * w / w.sum()
    counts = np.floor(exact).astype(int)
    # Largest remainder: hand the leftover objects to the largest fractions.
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.arange(num_classes), counts))


def _chunks(
    n: int, seed: int | None, num_classes: int, weights: Sequence[float] | None
) -> Iterator[tuple[int, np.ndarray, np.random.Generator]]:
    """(start, class indices, generator) per chunk; labels fixed for all n first."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    label_seq, chunk_seq = np.random.SeedSequence(seed).spawn(2)
    labels = _balanced_labels(n, num_classes, weights, np.random.default_rng(label_seq))
    n_chunks = math.ceil(n / CHUNK_SIZE)
    for i, seq in enumerate(chunk_seq.spawn(n_chunks)):
        start = i * CHUNK_SIZE
        yield start, labels[start : start + CHUNK_SIZE], np.random.default_rng(seq)


def _standard_normal_f32(
    rng: np.random.Generator, shape: tuple[int, int]
) -> np.ndarray:
    """Draw standard normal float32 noise by the Box-Muller transform.

    About twice as fast as NumPy's float32 ziggurat on the project's machines,
    and the noise is most of the cost of a synthetic spectrum.
    """
    size = shape[0] * shape[1]
    half = (size + 1) // 2
    radius = rng.random(half, dtype=np.float32)
    np.subtract(np.float32(1.0), radius, out=radius)  # (0, 1]: log is finite
    np.log(radius, out=radius)
    radius *= np.float32(-2.0)
    np.sqrt(radius, out=radius)
    angle = rng.random(half, dtype=np.float32)
    angle *= np.float32(2.0 * np.pi)
    out = np.empty(2 * half, dtype=np.float32)
    np.cos(angle, out=out[:half])
    np.sin(angle, out=out[half:])
    out[:half] *= radius
    out[half:] *= radius
    return out[:size].reshape(shape)


_BASIS_CACHE: dict[tuple[float, float, int], tuple[np.ndarray, np.ndarray]] = {}


def _continuum_basis(
    wl: np.ndarray, num_nodes: int = 24
) -> tuple[np.ndarray, np.ndarray]:
    """Rows [1, x, cubic-spline cardinal functions]; and the spline nodes.

    A blackbody is smooth over the optical range: evaluating it at a few
    nodes and interpolating with a cubic spline matrix is exact to ~1e-5
    and turns the continuum of a whole chunk into one matrix product.
    """
    key = (float(wl[0]), float(wl[-1]), len(wl))
    if key not in _BASIS_CACHE:
        from scipy.interpolate import CubicSpline

        nodes = np.linspace(wl[0], wl[-1], num_nodes)
        cardinal = CubicSpline(nodes, np.eye(num_nodes))(wl).T  # (num_nodes, P)
        x = (wl - wl.mean()) / (0.5 * (wl[-1] - wl[0]))  # in [-1, 1]
        basis = np.vstack([np.ones_like(wl), x, cardinal]).astype(np.float32)
        _BASIS_CACHE[key] = (basis, nodes)
    return _BASIS_CACHE[key]


def _ids(prefix: str, start: int, m: int) -> np.ndarray:
    return np.array([f"{prefix}{i:08d}" for i in range(start, start + m)])


def _concat(chunks: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """Join chunk dictionaries into one (2-D arrays stacked, ragged lists joined)."""
    out: dict[str, list] = {}
    for chunk in chunks:
        for key, value in chunk.items():
            out.setdefault(key, []).append(value)
    joined: dict[str, Any] = {}
    for key, parts in out.items():
        if isinstance(parts[0], list):
            joined[key] = list(itertools.chain.from_iterable(parts))
        else:
            joined[key] = np.concatenate(parts)
    return joined


# --------------------------------------------------------------------------
# Gaussian-line spectra (seed 000 sec. 3.1.1)
# --------------------------------------------------------------------------


def gaussian_line_layout(
    *,
    num_classes: int = 6,
    lines_per_class: int = 3,
    pool_size: int | None = None,
    wavelength_range_aa: tuple[float, float] = (3600.0, 9800.0),
    margin_aa: float = 200.0,
    layout_seed: int = 0,
) -> np.ndarray:
    """Line centres of each class: distinct combinations from a shared pool.

    The layout depends on ``layout_seed`` alone, so a training and a test set
    generated with different ``seed`` values share their classes.

    Parameters
    ----------
    num_classes : int, default 6
        Number of classes (seed 000 had 6 supernova types).
    lines_per_class : int, default 3
        Lines per class.
    pool_size : int, optional
        Number of distinct line positions shared by the classes; by default
        the smallest pool with enough combinations, at least
        ``lines_per_class + 3``.
    wavelength_range_aa : (float, float), default (3600, 9800)
        Wavelength range of the spectra.
    margin_aa : float, default 200
        No line centre closer than this to either end.
    layout_seed : int, default 0
        Seed of the layout.

    Returns
    -------
    numpy.ndarray, shape (num_classes, lines_per_class)
        Sorted line centres in Angstrom, one row per class.

    Examples
    --------
    >>> gaussian_line_layout(num_classes=4, lines_per_class=2).shape
    (4, 2)
    """
    if num_classes < 2 or lines_per_class < 1:
        raise ValueError(
            f"need num_classes >= 2 and lines_per_class >= 1, got {num_classes} "
            f"and {lines_per_class}"
        )
    pool = pool_size or lines_per_class + 3
    while math.comb(pool, lines_per_class) < num_classes:
        pool += 1
    if math.comb(pool, lines_per_class) < num_classes:
        raise ValueError(f"pool of {pool} lines cannot make {num_classes} classes")
    lo, hi = wavelength_range_aa[0] + margin_aa, wavelength_range_aa[1] - margin_aa
    if hi <= lo:
        raise ValueError(
            f"wavelength range {wavelength_range_aa} is narrower than 2 margins"
        )
    rng = np.random.default_rng(layout_seed)
    # Evenly spread pool positions, jittered, so no two lines of a class blend.
    centres = np.linspace(lo, hi, pool)
    centres += rng.uniform(-0.25, 0.25, pool) * (hi - lo) / max(pool - 1, 1)
    centres = np.clip(centres, lo, hi)
    combos = list(itertools.combinations(range(pool), lines_per_class))
    chosen = rng.choice(len(combos), size=num_classes, replace=False)
    return np.sort(centres[np.array([combos[c] for c in chosen])], axis=1)


def iter_gaussian_line_spectra(
    n: int,
    *,
    snr: float = 10.0,
    num_classes: int = 6,
    lines_per_class: int = 3,
    num_pixels: int = 3600,
    wavelength_range_aa: tuple[float, float] = (3600.0, 9800.0),
    amplitude_max: float = 1.0,
    width_range_aa: tuple[float, float] = (5.0, 30.0),
    continuum: str = "mixed",
    class_weights: Sequence[float] | None = None,
    layout_seed: int = 0,
    seed: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Gaussian-line spectra, chunk by chunk; see :func:`generate_gaussian_line_spectra`.

    Yields
    ------
    dict
        Columns ``object_id, label, wavelength_aa, flux, ivar, mask, snr,
        continuum`` for up to ``CHUNK_SIZE`` spectra; array columns are
        (m, num_pixels) arrays (read-only broadcast views where constant).
    """
    if snr <= 0 or amplitude_max <= 0:
        raise ValueError(
            f"snr and amplitude_max must be > 0, got {snr}, {amplitude_max}"
        )
    if continuum not in (*_CONTINUA, "mixed"):
        raise ValueError(
            f"continuum must be one of {(*_CONTINUA, 'mixed')}, got {continuum!r}"
        )
    w_lo, w_hi = width_range_aa
    if not 0 < w_lo <= w_hi:
        raise ValueError(
            f"width_range_aa must satisfy 0 < low <= high, got {width_range_aa}"
        )
    layout = gaussian_line_layout(
        num_classes=num_classes,
        lines_per_class=lines_per_class,
        wavelength_range_aa=wavelength_range_aa,
        # the default margin unless lines are so wide they would leave the grid
        margin_aa=max(
            200.0,
            5 * w_hi
            + 2 * (wavelength_range_aa[1] - wavelength_range_aa[0]) / num_pixels,
        ),
        layout_seed=layout_seed,
    )
    names = np.array([f"class_{k}" for k in range(num_classes)])
    wl = np.linspace(*wavelength_range_aa, num_pixels)
    step = wl[1] - wl[0]
    sigma = np.float32(amplitude_max / snr)
    basis, nodes = _continuum_basis(wl)
    half = math.ceil(5 * w_hi / step)  # Gaussians vanish beyond 5 sigma
    offsets = np.arange(-half, half + 1)
    for start, labels, rng in _chunks(n, seed, num_classes, class_weights):
        m = len(labels)
        kinds = (
            rng.integers(0, 3, m)
            if continuum == "mixed"
            else np.full(m, _CONTINUA.index(continuum))
        )
        # Every continuum is coef @ basis: [level, slope] on [1, x] for flat
        # and sloped, level * Planck at the spline nodes for blackbody.
        coef = np.zeros((m, basis.shape[0]), dtype=np.float32)
        level = rng.uniform(0.8, 1.2, m)
        coef[:, 0] = np.where(kinds < 2, level, 0.0)
        coef[:, 1] = np.where(kinds == 1, rng.uniform(-0.4, 0.4, m), 0.0)
        bb = np.flatnonzero(kinds == 2)
        temp = rng.uniform(4000.0, 15000.0, bb.size)[:, None]
        planck = nodes**-5 / np.expm1(_HC_OVER_K_AA_K / (nodes * temp))
        coef[bb, 2:] = (
            level[bb, None] * planck / (planck @ basis[2:].mean(axis=1))[:, None]
        )
        flux = _standard_normal_f32(rng, (m, num_pixels))
        flux *= sigma
        flux += coef @ basis
        rows = np.arange(m)[:, None]
        for j in range(lines_per_class):
            centre = layout[labels, j]
            amp = rng.uniform(0.3, 1.0, m) * amplitude_max
            width = rng.uniform(w_lo, w_hi, m)
            idx = np.rint((centre - wl[0]) / step).astype(np.int64)[:, None] + offsets
            profile = np.exp(-0.5 * ((wl[idx] - centre[:, None]) / width[:, None]) ** 2)
            flux[rows, idx] += (amp[:, None] * profile).astype(np.float32)
        yield {
            "object_id": _ids("lines-", start, m),
            "label": names[labels],
            "wavelength_aa": np.broadcast_to(wl, (m, num_pixels)),
            "flux": flux,
            "ivar": np.broadcast_to(np.float32(1.0 / sigma**2), (m, num_pixels)),
            "mask": np.broadcast_to(False, (m, num_pixels)),
            "snr": np.full(m, float(snr)),
            "continuum": np.array(_CONTINUA)[kinds],
        }


def generate_gaussian_line_spectra(n: int, **kwargs: Any) -> dict[str, Any]:
    """Gaussian-line spectra of seed 000 sec. 3.1.1, all in memory.

    Parameters
    ----------
    n : int
        Number of spectra.
    snr : float, default 10
        Largest allowed line amplitude over the noise sigma (2 and 10 in the
        seed). The noise sigma is ``amplitude_max / snr`` in every pixel.
    num_classes : int, default 6
        Number of classes, named ``class_0`` ...
    lines_per_class : int, default 3
        Emission lines per class.
    num_pixels : int, default 3600
        Pixels on a linear wavelength grid.
    wavelength_range_aa : (float, float), default (3600, 9800)
        Grid range in Angstrom.
    amplitude_max : float, default 1
        Largest line amplitude, in units of the continuum level (about 1).
    width_range_aa : (float, float), default (5, 30)
        Range of the line sigmas in Angstrom.
    continuum : {"mixed", "flat", "sloped", "blackbody"}, default "mixed"
        Continuum shape; "mixed" draws one of the three per spectrum.
    class_weights : sequence of float, optional
        Relative class frequencies; balanced by default. Counts are exact.
    layout_seed : int, default 0
        Seed of the class line layout (see :func:`gaussian_line_layout`).
    seed : int, optional
        Seed of everything else.

    Returns
    -------
    dict
        Columns ``object_id, label, wavelength_aa, flux, ivar, mask, snr,
        continuum``; arrays of shape (n, num_pixels).

    Examples
    --------
    >>> data = generate_gaussian_line_spectra(12, num_classes=3, seed=1)
    >>> data["flux"].shape, sorted(set(data["label"].tolist()))
    ((12, 3600), ['class_0', 'class_1', 'class_2'])
    """
    return _concat(iter_gaussian_line_spectra(n, **kwargs))


# --------------------------------------------------------------------------
# H-alpha profiles (seed 001)
# --------------------------------------------------------------------------


def _blur(
    amplitude: np.ndarray, sigma: np.ndarray, lsf_var: float
) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude and sigma of a Gaussian line after a Gaussian LSF (flux kept)."""
    seen = np.sqrt(sigma**2 + lsf_var)
    return amplitude * sigma / seen, seen


def _gauss(wl: np.ndarray, centre: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * ((wl[None, :] - centre[:, None]) / sigma[:, None]) ** 2)


def iter_halpha_spectra(
    n: int,
    *,
    snr: float = 50.0,
    num_pixels: int = 800,
    wavelength_range_aa: tuple[float, float] = (6519.0, 6732.0),
    resolving_power: float | None = 13_000.0,
    frame: str = "air",
    class_weights: Sequence[float] | None = None,
    seed: int | None = None,
) -> Iterator[dict[str, Any]]:
    """H-alpha spectra, chunk by chunk; see :func:`generate_halpha_spectra`.

    Yields
    ------
    dict
        Columns ``object_id, label, wavelength_aa, flux, ivar, mask, snr,
        frame, resolving_power`` for up to ``CHUNK_SIZE`` spectra.
    """
    if snr <= 0:
        raise ValueError(f"snr must be > 0, got {snr}")
    if frame not in ("air", "vacuum"):
        raise ValueError(f"frame must be 'air' or 'vacuum', got {frame!r}")
    if resolving_power is not None and resolving_power <= 0:
        raise ValueError(f"resolving_power must be > 0, got {resolving_power}")
    rest = HALPHA_AIR_AA if frame == "air" else HALPHA_VACUUM_AA
    wl = np.linspace(*wavelength_range_aa, num_pixels)
    if not wl[0] < rest < wl[-1]:
        raise ValueError(
            f"wavelength range {wavelength_range_aa} does not contain H-alpha at {rest} AA"
        )
    x = (wl - wl.mean()) / (0.5 * (wl[-1] - wl[0]))
    # A Gaussian line seen through a Gaussian line-spread function is a
    # Gaussian whose variance is the sum of both: no convolution needed.
    lsf_var = (
        0.0
        if resolving_power is None
        else (rest / resolving_power / _FWHM_PER_SIGMA) ** 2
    )
    names = np.array(HALPHA_CLASSES)
    for start, labels, rng in _chunks(n, seed, len(HALPHA_CLASSES), class_weights):
        m = len(labels)
        centre = rest * (1.0 + rng.uniform(-100.0, 100.0, m) / _C_KM_S)
        profile = 1.0 + rng.uniform(-0.1, 0.1, m)[:, None] * x[None, :]
        emission, absorption, double = labels == 0, labels == 1, labels == 2
        # Amplitudes are intrinsic; blurring keeps the line flux, so the seen
        # peak drops by sigma_intrinsic / sigma_seen.
        amp, sig = _blur(rng.uniform(0.3, 3.0, m), rng.uniform(0.8, 3.0, m), lsf_var)
        profile[emission] += amp[emission, None] * _gauss(
            wl, centre[emission], sig[emission]
        )
        depth, sig_abs = _blur(
            rng.uniform(0.2, 0.7, m), rng.uniform(3.0, 10.0, m), lsf_var
        )
        profile[absorption] -= depth[absorption, None] * _gauss(
            wl, centre[absorption], sig_abs[absorption]
        )
        # Double peak (Be-star disc): two emission peaks split by 3-10 AA,
        # narrow enough that the central dip shows, with a random V/R ratio.
        sep = rng.uniform(3.0, 10.0, m)
        amp_dp, sig_dp = _blur(
            rng.uniform(0.3, 2.0, m), sep * rng.uniform(0.15, 0.3, m), lsf_var
        )
        ratio = rng.uniform(0.6, 1.4, m)
        for side, scale in ((-0.5, 1.0), (0.5, ratio)):
            a = (amp_dp * scale)[double, None]
            profile[double] += a * _gauss(
                wl, centre[double] + side * sep[double], sig_dp[double]
            )
        sigma = 1.0 / snr
        profile += rng.standard_normal((m, num_pixels)) * sigma
        # Arbitrary flux units per spectrum, as archives deliver them.
        scale = 10.0 ** rng.uniform(-0.5, 0.5, m)
        flux = (profile * scale[:, None]).astype(np.float32)
        yield {
            "object_id": _ids("halpha-", start, m),
            "label": names[labels],
            "wavelength_aa": np.broadcast_to(wl, (m, num_pixels)),
            "flux": flux,
            "ivar": (
                1.0 / (scale[:, None] * sigma) ** 2 * np.ones((1, num_pixels))
            ).astype(np.float32),
            "mask": np.broadcast_to(False, (m, num_pixels)),
            "snr": np.full(m, float(snr)),
            "frame": np.full(m, frame),
            "resolving_power": np.full(
                m, np.nan if resolving_power is None else resolving_power
            ),
        }


def generate_halpha_spectra(n: int, **kwargs: Any) -> dict[str, Any]:
    """H-alpha emission / absorption / double-peak spectra (seed 001), in memory.

    Parameters
    ----------
    n : int
        Number of spectra.
    snr : float, default 50
        Continuum level over the noise sigma.
    num_pixels : int, default 800
        Pixels on a linear grid (about 0.27 AA each over the default range,
        like the Ondrejov CCD700 spectra).
    wavelength_range_aa : (float, float), default (6519, 6732)
        The seed's H-alpha window.
    resolving_power : float or None, default 13000
        Instrumental R = lambda / FWHM; 1800 mimics LAMOST; None for none.
    frame : {"air", "vacuum"}, default "air"
        Frame of the wavelengths; H-alpha sits at 6562.80 AA (air) or
        6564.61 AA (vacuum).
    class_weights : sequence of 3 floats, optional
        Relative frequencies of emission, absorption, double-peak.
    seed : int, optional
        Random seed.

    Returns
    -------
    dict
        Columns ``object_id, label, wavelength_aa, flux, ivar, mask, snr,
        frame, resolving_power``.

    Examples
    --------
    >>> data = generate_halpha_spectra(6, seed=0)
    >>> sorted(set(data["label"].tolist()))
    ['absorption', 'double-peak', 'emission']
    """
    return _concat(iter_halpha_spectra(n, **kwargs))


# --------------------------------------------------------------------------
# Light curves (seed 003's classes, a PLAsTiCC-like toy sky)
# --------------------------------------------------------------------------

_SN = {  # peak absolute magnitude, rise and fall time scales (days), temperature
    "SNIa": (-19.3, (1.5, 3.0), (15.0, 30.0), (9000.0, 13000.0)),
    "SNIbc": (-17.6, (1.0, 2.5), (8.0, 16.0), (5000.0, 8000.0)),
    "SNII": (-16.9, (2.0, 5.0), (60.0, 110.0), (6000.0, 10000.0)),
}
_ZEROPOINT = 27.5  # SNANA FLUXCAL: flux = 10 ** (-0.4 * (mag - 27.5))


def _luminosity_distance_pc(z: np.ndarray) -> np.ndarray:
    """Luminosity distance of a flat LCDM universe (H0=70, Om=0.3), in parsec."""
    grid = np.linspace(0.0, max(float(np.max(z)), 1e-3), 512)
    inv_e = 1.0 / np.sqrt(0.3 * (1 + grid) ** 3 + 0.7)
    comoving = np.concatenate(
        [[0.0], np.cumsum(0.5 * (inv_e[1:] + inv_e[:-1]) * np.diff(grid))]
    )
    return (1 + z) * np.interp(z, grid, comoving) * (_C_KM_S / 70.0) * 1e6


def _planck_ratio(wl_aa: np.ndarray, ref_aa: float, temp: np.ndarray) -> np.ndarray:
    """B_lambda(wl, T) / B_lambda(ref, T), broadcasting temp (m, 1) against wl."""

    def planck(w):
        return w**-5 / np.expm1(_HC_OVER_K_AA_K / (w * temp))

    return planck(wl_aa) / planck(ref_aa)


def _sample_times(
    rng: np.random.Generator,
    m: int,
    n_obs: np.ndarray,
    season_days: float,
    gap_days: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted nightly times (m, K) over two seasons (0 where unused) and the valid mask."""
    kmax = int(n_obs.max())
    nights = rng.uniform(0.0, 2 * season_days, (m, kmax))
    valid = np.arange(kmax)[None, :] < n_obs[:, None]
    nights = np.where(valid, nights, np.inf)
    nights.sort(axis=1)
    # Observe at night: integer night plus a fraction of it; skip the gap.
    t = np.floor(nights) + rng.uniform(0.05, 0.35, (m, kmax))
    t = np.where(valid, t + gap_days * (nights >= season_days), np.inf)
    t.sort(axis=1)  # two visits in one night may come out of order
    return np.where(valid, t, 0.0), valid


def _supernova_flux(rng, kind, m, t, lam, z):
    """Rest-frame rise/fall models stretched by (1 + z) and dimmed by distance."""
    mag_abs, rise, fall, temps = _SN[kind]
    peak_mag = (
        mag_abs
        + rng.normal(0.0, 0.3, m)
        + 5 * np.log10(_luminosity_distance_pc(z) / 10.0)
    )
    amp = (10.0 ** (-0.4 * (peak_mag - _ZEROPOINT)))[:, None]
    stretch = (1 + z)[:, None]
    t0 = rng.uniform(-15.0, 120.0, m)[:, None]
    tau_r = rng.uniform(*rise, m)[:, None] * stretch
    colour = _planck_ratio(lam / stretch, 6000.0, rng.uniform(*temps, m)[:, None])
    dt = t - t0
    if kind == "SNII":
        # Rise, plateau of ``fall`` days, drop, then a slow radioactive tail.
        plateau = rng.uniform(*fall, m)[:, None] * stretch
        tau_d = rng.uniform(3.0, 8.0, m)[:, None] * stretch
        on = 1.0 / (1.0 + np.exp(np.clip(-dt / tau_r, -50, 50)))
        drop = 1.0 / (1.0 + np.exp(np.clip((dt - plateau) / tau_d, -50, 50)))
        tail = (
            0.15
            * (1 - drop)
            * np.exp(-np.clip(dt - plateau, 0, None) / (100.0 * stretch))
        )
        shape = on * (drop + tail) * (1.0 - 0.002 * np.clip(dt, 0, None))
    else:
        # Bazin et al. (2009) rise/fall; redder bands fade more slowly.
        tau_f = rng.uniform(*fall, m)[:, None] * stretch * (lam / 5000.0) ** 0.5

        def bazin(x):
            return np.exp(np.clip(-x / tau_f, -50, 50)) / (
                1.0 + np.exp(np.clip(-x / tau_r, -50, 50))
            )

        # Normalise by the analytic peak, at dt = tau_r ln(tau_f / tau_r - 1).
        shape = bazin(dt) / bazin(tau_r * np.log(tau_f / tau_r - 1.0))
    return amp * colour * shape


def _variable_flux(rng, kind, m, t, lam, valid):
    """Galactic and AGN variability around a quiescent level."""
    base = 10.0 ** rng.uniform(1.5, 3.0, m)[:, None] * (lam / 6000.0) ** -1.0
    if kind == "periodic":
        period = 10.0 ** rng.uniform(-0.5, 1.5, m)[:, None]
        phase = (
            2
            * np.pi
            * (np.where(valid, t, 0.0) / period + rng.uniform(0, 1, m)[:, None])
        )
        wave = np.sin(phase) + 0.4 * np.sin(2 * phase) + 0.15 * np.sin(3 * phase)
        return base * (
            1.0 + rng.uniform(0.1, 0.5, m)[:, None] * (lam / 5000.0) ** -1 * wave
        )
    if kind == "flare":
        # Fast rise, exponential decay, timed just before a random observation
        # so that it is caught; flares are blue.
        pick = (rng.uniform(0, 1, m) * valid.sum(axis=1)).astype(int)
        t_obs = np.take_along_axis(t, pick[:, None], axis=1)
        tau_d = rng.uniform(0.05, 0.5, m)[:, None]
        t0 = t_obs - rng.uniform(0.0, 1.0, m)[:, None] * tau_d
        dt = np.where(valid, t - t0, -1.0)
        tau_r = rng.uniform(0.005, 0.02, m)[:, None]
        shape = np.where(
            dt < 0,
            np.exp(np.clip(dt / tau_r, -50, 0)),
            np.exp(-np.clip(dt, 0, None) / tau_d),
        )
        return base * (
            1.0 + rng.uniform(1.0, 10.0, m)[:, None] * (lam / 5000.0) ** -2 * shape
        )
    # AGN: damped random walk (Ornstein-Uhlenbeck) in log flux, shared by bands.
    tau = rng.uniform(50.0, 300.0, m)
    amp = rng.uniform(0.1, 0.3, m)
    x = np.zeros(t.shape)
    x[:, 0] = rng.normal(0.0, 1.0, m) * amp
    for k in range(1, t.shape[1]):
        dt = np.where(valid[:, k], t[:, k] - t[:, k - 1], 0.0)
        decay = np.exp(-dt / tau)
        x[:, k] = x[:, k - 1] * decay + amp * np.sqrt(1 - decay**2) * rng.normal(
            0.0, 1.0, m
        )
    return base * 10.0 ** (0.4 * x * (lam / 5000.0) ** -0.5)


def iter_lightcurves(
    n: int,
    *,
    survey: str = "lsst",
    bands: str | None = None,
    classes: Sequence[str] = LIGHTCURVE_CLASSES,
    obs_per_band: tuple[float, float] = (8.0, 25.0),
    season_days: float = 150.0,
    gap_days: float = 120.0,
    start_mjd: float = 60000.0,
    class_weights: Sequence[float] | None = None,
    seed: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Light curves, chunk by chunk; see :func:`generate_lightcurves`.

    Yields
    ------
    dict
        Columns ``object_id, label, redshift, redshift_err, true_redshift,
        survey, time_mjd, band, flux, flux_err``; the four array columns are
        lists of 1-D arrays (light curves differ in length).
    """
    unknown = [c for c in classes if c not in LIGHTCURVE_CLASSES]
    if unknown or len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(
            f"classes must be at least two distinct names from {LIGHTCURVE_CLASSES}, "
            f"got {list(classes)}"
        )
    lo, hi = obs_per_band
    if not 1 <= lo <= hi:
        raise ValueError(
            f"obs_per_band must satisfy 1 <= low <= high, got {obs_per_band}"
        )
    band_table = band_wavelengths(survey, bands)
    band_names = np.array(list(band_table))
    band_lam = np.array(list(band_table.values()))
    names = np.array(classes)
    for start, labels, rng in _chunks(n, seed, len(classes), class_weights):
        m = len(labels)
        n_obs = rng.poisson(rng.uniform(lo, hi, m) * len(band_names)).clip(
            min=len(band_names)
        )
        t, valid = _sample_times(rng, m, n_obs, season_days, gap_days)
        band_idx = rng.integers(0, len(band_names), t.shape)
        # Every band observed at least once: the first observations cycle through them.
        band_idx[:, : len(band_names)] = np.arange(len(band_names))
        band_idx = rng.permuted(np.where(valid, band_idx, -1), axis=1)
        order = np.argsort(band_idx < 0, axis=1, kind="stable")  # invalid last
        band_idx = np.take_along_axis(band_idx, order, axis=1)
        lam = band_lam[np.clip(band_idx, 0, None)]
        true = np.zeros(t.shape)
        z = np.zeros(m)
        for k, kind in enumerate(classes):
            rows = np.flatnonzero(labels == k)
            if not rows.size:
                continue
            if kind in _SN:
                z[rows] = rng.uniform(0.05, 0.8 if kind == "SNIa" else 0.35, rows.size)
                true[rows] = _supernova_flux(
                    rng, kind, rows.size, t[rows], lam[rows], z[rows]
                )
            else:
                if kind == "AGN":
                    z[rows] = rng.uniform(0.3, 3.0, rows.size)
                true[rows] = _variable_flux(
                    rng, kind, rows.size, t[rows], lam[rows], valid[rows]
                )
        # Heteroscedastic errors: a sky floor that changes with the weather
        # of each night, plus Poisson noise of the source.
        sky = rng.uniform(3.0, 10.0, m)[:, None] * 10.0 ** rng.normal(
            0.0, 0.15, t.shape
        )
        flux_err = np.sqrt(sky**2 + np.abs(true))
        flux = true + rng.standard_normal(t.shape) * flux_err
        # Host photometric redshift: noisy, with its error (zero for stars).
        z_err = np.where(z > 0, 0.03 * (1 + z), 0.0)
        z_obs = np.where(
            z > 0, np.clip(z + rng.normal(0, 1, m) * z_err, 0.001, None), 0.0
        )
        counts = valid.sum(axis=1)
        keep = valid.ravel()
        splits = np.cumsum(counts)[:-1]
        time_mjd = np.split((t + start_mjd).ravel()[keep], splits)
        yield {
            "object_id": _ids("lc-", start, m),
            "label": names[labels],
            "redshift": z_obs,
            "redshift_err": z_err,
            "true_redshift": z,
            "survey": np.full(m, survey),
            "time_mjd": time_mjd,
            "band": np.split(band_names[band_idx.ravel()[keep]], splits),
            "flux": np.split(flux.ravel()[keep].astype(np.float32), splits),
            "flux_err": np.split(flux_err.ravel()[keep].astype(np.float32), splits),
        }


def generate_lightcurves(n: int, **kwargs: Any) -> dict[str, Any]:
    """Labelled transient and variable light curves, in memory.

    Parameters
    ----------
    n : int
        Number of light curves.
    survey : {"lsst", "ztf"}, default "lsst"
        Passband set: LSST ugrizy (6 bands) or ZTF gr (2 bands).
    bands : str, optional
        A subset of the survey's bands, e.g. ``"griz"``.
    classes : sequence of str, default all of ``LIGHTCURVE_CLASSES``
        Which of SNIa, SNIbc, SNII, periodic, flare, AGN to draw.
    obs_per_band : (float, float), default (8, 25)
        Range of the mean number of observations per band per object.
    season_days, gap_days : float, default 150 and 120
        Two observing seasons of ``season_days`` separated by ``gap_days``.
    start_mjd : float, default 60000
        MJD of the first night.
    class_weights : sequence of float, optional
        Relative class frequencies; balanced by default.
    seed : int, optional
        Random seed.

    Returns
    -------
    dict
        Columns ``object_id, label, redshift, redshift_err, true_redshift,
        survey`` (length n) and ``time_mjd, band, flux, flux_err`` (lists of n
        arrays, sorted in time). Fluxes are on the SNANA FLUXCAL scale (zero
        point 27.5); supernovae are placed at redshifts with a flat LCDM
        distance and time dilation.

    Examples
    --------
    >>> data = generate_lightcurves(6, survey="ztf", seed=0)
    >>> sorted(set(data["label"].tolist())), sorted(set(data["band"][0].tolist()))
    (['AGN', 'SNII', 'SNIa', 'SNIbc', 'flare', 'periodic'], ['g', 'r'])
    """
    return _concat(iter_lightcurves(n, **kwargs))


# --------------------------------------------------------------------------
# Writing a synthetic store
# --------------------------------------------------------------------------

#: Generator name -> (chunk iterator, store kind).
GENERATORS = {
    "gaussian-lines": (iter_gaussian_line_spectra, "spectra"),
    "halpha": (iter_halpha_spectra, "spectra"),
    "lightcurves": (iter_lightcurves, "lightcurves"),
}


def synthesize_store(
    path,
    generator: str,
    n: int,
    *,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    **params: Any,
):
    """Generate a labelled synthetic dataset straight into a store, chunk by chunk.

    Parameters
    ----------
    path : str or path-like
        The store directory to write.
    generator : {"gaussian-lines", "halpha", "lightcurves"}
        Which generator.
    n : int
        Number of objects.
    overwrite : bool, default False
        Replace an existing store.
    progress : callable, optional
        Called with the number of objects written after each chunk.
    **params
        Keyword arguments of the generator (``seed``, ``snr``...); they are
        recorded in the manifest so the dataset can be regenerated.

    Returns
    -------
    skysift.io.store.Store
        The written store.

    Examples
    --------
    >>> import tempfile, os
    >>> store = synthesize_store(os.path.join(tempfile.mkdtemp(), "lc"),
    ...                          "lightcurves", 12, survey="ztf", seed=0)
    >>> store.kind, store.n_objects, store.classes["SNIa"]
    ('lightcurves', 12, 2)
    """
    from skysift.io.store import StoreWriter

    if generator not in GENERATORS:
        raise ValueError(
            f"unknown generator {generator!r}; expected one of {sorted(GENERATORS)}"
        )
    chunks, kind = GENERATORS[generator]
    attrs = {"synthetic": {"generator": generator, "n": n, **params}}
    with StoreWriter(path, kind=kind, overwrite=overwrite, attrs=attrs) as writer:
        for chunk in chunks(n, **params):
            writer.write(chunk)
            if progress is not None:
                progress(len(chunk["object_id"]))
    return writer.close()
