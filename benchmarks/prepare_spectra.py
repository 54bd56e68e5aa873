"""Prepare raw spectra to seed 001's grid: vectorised pipeline vs a per-spectrum loop.

The task (SPEC "Scale"): raw spectra of ~3,900 pixels, each with its own
wavelength array, converted from air to vacuum wavelengths, blurred with a
Gaussian of sigma = 7 pixels, linearly regridded to 140 points over
6519-6732 AA and standardised per spectrum (seed 001 ch. 7).

The spectra are synthetic and LAMOST-like: 3,900 pixels on a grid uniform in
log10(lambda) with step 1e-4 from ~3690 AA (so ~140 of them fall in the
window, as seed 001 counts for LAMOST), each spectrum's grid shifted by its
own random offset, with a sloped continuum, an emission or absorption line
at H-alpha, noise (rows of a pool of 1024), a per-pixel ivar, and runs of
bad pixels (ivar = 0, mask set) in 20% of the spectra.
Each chunk is generated in memory and turned into an Arrow record batch,
as a store hands it to ``prepare_store``; generation and Parquet I/O are
not timed.

Timed (CPU time of this process, so the figure is per core even on a busy
machine; BLAS and OpenMP are held to one thread):

* pipeline: ``batch_from_arrow`` (zero-copy views) and ``Pipeline.transform``
  of ``crop -> air_to_vacuum -> blur -> regrid -> standardize`` on chunks
  of ``--chunk`` spectra. ``crop`` keeps the window plus 3 AA (the
  air-vacuum shift is < 2.6 AA) and 30 pixels (the blur's half-width is 28),
  so the result equals the uncropped one. The pipeline also propagates
  ivar and honours masks; the loops do not.
* loop: the straightforward per-spectrum NumPy code of seed 001 (formula
  7.1-7.3 on every pixel, ``np.convolve`` with the 57-tap kernel,
  ``np.interp``, standardise), on ``--loop-n`` spectra taken from 20
  chunks spread over the run and timed between the pipeline's chunks, so
  both see the same machine load; extrapolated per spectrum.
* loop, cropped first: the same loop on the window only (how much of the
  gain is the crop, how much the vectorisation).
* loop, astropy: seed 001's literal ``astropy.convolution.convolve`` call, on
  ``--loop-n // 10`` spectra.

The run also checks the pipeline against the loop on the spectra without
bad pixels.

Run::

    nice .venv/bin/python benchmarks/prepare_spectra.py            # 1,000,000
    nice .venv/bin/python benchmarks/prepare_spectra.py --n 100000 # quicker
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from astropy.convolution import Gaussian1DKernel, convolve  # noqa: E402

from skysift.preprocessing import Pipeline, batch_from_arrow  # noqa: E402

GRID = np.linspace(6519.0, 6732.0, 140)
PIXELS = 3900
LOG_STEP = 1e-4
STEPS = [
    {
        "crop": {
            "start_aa": 6519.0,
            "stop_aa": 6732.0,
            "margin_aa": 3.0,
            "margin_px": 30,
        }
    },
    "air_to_vacuum",
    {"blur": {"sigma_px": 7.0}},
    {"regrid": {"start_aa": 6519.0, "stop_aa": 6732.0, "num": 140}},
    "standardize",
]


_NOISE_POOL: dict[int, np.ndarray] = {}


def make_chunk(rng: np.random.Generator, m: int, ragged: bool) -> dict:
    """Return m raw LAMOST-like spectra (air wavelengths) as a batch dict."""
    length = PIXELS + 10 if ragged else PIXELS
    ratio = 10.0 ** (LOG_STEP * np.arange(length))
    start = 3690.0 * 10.0 ** rng.uniform(-5e-3, 5e-3, m)  # +-40 pixels
    wl = start[:, None] * ratio[None, :]
    # Noise rows drawn from a pool of 1024 (drawing 3.9e9 fresh normals would
    # take longer than the benchmark); every spectrum still differs in its
    # grid, continuum, line and bad pixels, and the cost of preparing it is
    # the same.
    if length not in _NOISE_POOL:
        _NOISE_POOL[length] = 0.02 * rng.standard_normal(
            (1024, length), dtype=np.float32
        )
    flux = _NOISE_POOL[length][rng.integers(0, 1024, m)]
    x = ((3690.0 * ratio - 6000.0) / 3000.0).astype(np.float32)
    slope = rng.uniform(-0.3, 0.3, m).astype(np.float32)
    flux += slope[:, None] * x[None, :]
    flux += np.float32(1.0)
    centre = 6562.8 * (1.0 + rng.uniform(-3e-4, 3e-4, m))
    amp = rng.choice([-0.5, 1.5], m) * rng.uniform(0.3, 1.0, m)
    near = np.abs(wl[0] - 6562.8) < 60.0  # the line lives in ~90 pixels
    lo, hi = np.flatnonzero(near)[[0, -1]]
    seg = wl[:, lo : hi + 1]
    flux[:, lo : hi + 1] += (
        amp[:, None] * np.exp(-0.5 * ((seg - centre[:, None]) / 4.0) ** 2)
    ).astype(np.float32)
    ivar = np.full((m, length), 2500.0, dtype=np.float32)
    mask = np.zeros((m, length), dtype=bool)
    bad_rows = np.flatnonzero(rng.random(m) < 0.2)
    for k in range(3):  # up to 3 runs of 1-8 bad pixels in 20% of spectra
        rows = bad_rows[rng.random(bad_rows.size) < 1.0 / (k + 1)]
        first = rng.integers(0, length - 8, rows.size)
        run = first[:, None] + np.arange(8)[None, :]
        run = np.where(
            np.arange(8)[None, :] < rng.integers(1, 9, rows.size)[:, None],
            run,
            first[:, None],
        )
        mask[rows[:, None], run] = True
        ivar[rows[:, None], run] = 0.0
        flux[rows[:, None], run] = 0.0
    batch = {
        "object_id": np.arange(m).astype(str),
        "frame": np.full(m, "air", dtype=object),
        "wavelength_aa": wl,
        "flux": flux,
        "ivar": ivar,
        "mask": mask,
    }
    if ragged:  # 3,890 - 3,910 pixels each
        lengths = rng.integers(PIXELS - 10, PIXELS + 11, m)
        keep = np.arange(length)[None, :] < lengths[:, None]
        for name in ("wavelength_aa", "flux", "ivar", "mask"):
            flat = batch[name][keep]
            batch[name] = np.split(flat, np.cumsum(lengths)[:-1])
    return batch


def to_record_batch(columns: dict):
    """The chunk as the store hands it to ``prepare_store`` (Arrow, not timed)."""
    from skysift.io.store import table_from_columns

    return table_from_columns("spectra", columns).combine_chunks().to_batches()[0]


def _air_to_vacuum_loop(wl: np.ndarray) -> np.ndarray:
    s = 1e4 / wl
    n = 1 + 8.34254e-5 + 2.406147e-2 / (130 - s**2) + 1.5998e-4 / (38.9 - s**2)
    return wl * n


def loop_prepare(batch: dict, count: int, how: str) -> np.ndarray:
    """The per-spectrum reference: one spectrum at a time."""
    kernel = Gaussian1DKernel(stddev=7).array
    out = np.empty((count, GRID.size), dtype=np.float32)
    for i in range(count):
        wl = np.asarray(batch["wavelength_aa"][i], dtype=np.float64)
        flux = np.asarray(batch["flux"][i], dtype=np.float64)
        if how == "cropped":
            a = max(np.searchsorted(wl, GRID[0] - 3.0) - 31, 0)
            b = min(np.searchsorted(wl, GRID[-1] + 3.0) + 31, wl.size)
            wl, flux = wl[a:b], flux[a:b]
        vac = _air_to_vacuum_loop(wl)
        if how == "astropy":
            smooth = convolve(flux, Gaussian1DKernel(stddev=7))
        else:
            smooth = np.convolve(flux, kernel, mode="same")
        y = np.interp(GRID, vac, smooth)
        out[i] = (y - y.mean()) / y.std()
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="spectra to prepare")
    parser.add_argument("--chunk", type=int, default=4096, help="spectra per batch")
    parser.add_argument("--loop-n", type=int, default=2000, help="spectra for the loop")
    parser.add_argument("--ragged", action="store_true", help="3890-3910 pixels each")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    rng = np.random.default_rng(args.seed)
    pipe = Pipeline.from_config({"kind": "spectra", "steps": STEPS})

    # The loops run on slices of the first chunks, interleaved with the
    # pipeline, so that both see the same machine load.
    kinds = {
        "numpy": args.loop_n,
        "cropped": args.loop_n,
        "astropy": max(args.loop_n // 10, 1),
    }
    n_chunks = -(-args.n // args.chunk)
    slices = max(1, min(20, n_chunks))
    # chunks, spread over the whole run, on which the loops are timed too
    loop_chunks = set(np.linspace(0, n_chunks - 1, slices).round().astype(int).tolist())
    slices = len(loop_chunks)
    rows = {how: [0, 0.0] for how in kinds}
    done = n_out = index = clean_count = 0
    cpu = cpu_arrow = wall = gen = 0.0
    diff = 0.0
    while done < args.n:
        m = min(args.chunk, args.n - done)
        g0 = time.perf_counter()
        record_batch = to_record_batch(make_chunk(rng, m, args.ragged))
        gen += time.perf_counter() - g0
        w0, c0 = time.perf_counter(), time.process_time()
        batch = batch_from_arrow(record_batch)  # zero-copy views, as prepare_store
        c1 = time.process_time()
        out = pipe.transform(batch)
        c2 = time.process_time()
        wall += time.perf_counter() - w0
        cpu_arrow += c1 - c0
        cpu += c2 - c1
        if index == 0:
            for how in kinds:
                loop_prepare(batch, 2, how)  # warm up (imports, caches)
        if index in loop_chunks:
            for how, total in kinds.items():
                count = min(m, -(-total // slices), total - rows[how][0])
                if count <= 0:
                    continue
                t0 = time.process_time()
                ref = loop_prepare(batch, count, how)
                rows[how][1] += time.process_time() - t0
                rows[how][0] += count
                if how == "numpy":
                    clean = ~np.array(
                        [np.asarray(v).any() for v in batch["mask"][:count]]
                    )
                    d = np.abs(out["x"][:count, 0][clean] - ref[clean]).max(initial=0.0)
                    diff = max(diff, float(d))
                    clean_count += int(clean.sum())
        n_out += len(out["x"])
        done += m
        index += 1
    assert n_out == args.n and out["x"].shape[1:] == (1, 140)

    rate = args.n / cpu
    rate_read = args.n / (cpu + cpu_arrow)
    loop_rate = {how: count / seconds for how, (count, seconds) in rows.items()}
    print(
        f"prepare_spectra: {args.n:,} raw spectra of ~{PIXELS} pixels "
        f"({'ragged' if args.ragged else 'equal'} lengths, each its own "
        f"wavelengths) -> {GRID.size} points, chunks of {args.chunk}"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores visible, load average "
        f"{os.getloadavg()[0]:.1f} at the end; numpy {np.__version__}, one thread"
    )
    print(
        f"steps: {' -> '.join(s if isinstance(s, str) else next(iter(s)) for s in STEPS)}"
    )
    print()
    head = f"| {'method':<40} | {'spectra':>9} | {'CPU s':>8} | {'spectra/s/core':>14} | {'vs loop':>7} |"
    print(head)
    print("|" + "|".join("-" * (len(c) + 0) for c in head.split("|")[1:-1]) + "|")
    table = [
        ("skysift pipeline.transform", args.n, cpu, rate),
        ("skysift batch_from_arrow + transform", args.n, cpu + cpu_arrow, rate_read),
    ]
    labels = {
        "numpy": "per-spectrum loop (np.convolve)",
        "cropped": "per-spectrum loop, cropped first",
        "astropy": "per-spectrum loop (astropy, seed 001)",
    }
    table += [(labels[how], c, sec, c / sec) for how, (c, sec) in rows.items()]
    for label, count, seconds, r in table:
        print(
            f"| {label:<40} | {count:>9,} | {seconds:>8.2f} | {r:>14,.0f} | "
            f"{r / loop_rate['numpy']:>6.2f}x |"
        )
    print()
    print(
        f"pipeline vs the straightforward loop: {rate / loop_rate['numpy']:.1f}x "
        f"({rate_read / loop_rate['numpy']:.1f}x with the Arrow conversion); "
        f"{rate:,.0f} spectra/s/core ({rate_read:,.0f}). Targets: >= 10x, >= 20,000."
    )
    print(
        f"wall time of the pipeline: {wall:.1f} s ({args.n / wall:,.0f} spectra/s on a "
        f"shared machine); generating the spectra took {gen:.1f} s (not timed)"
    )
    print(
        f"pipeline vs loop on {clean_count} spectra without bad pixels: max |diff| = "
        f"{diff:.1e} (standardised units; float32 vs float64 arithmetic)"
    )


if __name__ == "__main__":
    main()
