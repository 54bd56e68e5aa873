"""Benchmark: vectorised Gaussian-line spectra vs a naive per-spectrum loop.

Goal (issue 2): 100,000 spectra of 3,600 pixels in under 10 s on one core.
The baseline, measured in the same run, builds each spectrum with its own
NumPy calls (continuum + 3 full-length Gaussians + noise), the way a first
version would; its rate is measured on a subset and extrapolated.

    python benchmarks/synth_spectra.py [--n 100000] [--baseline-n 5000]

Threads are pinned to one so the number is per core.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np

from skysift.data.synthetic import (
    gaussian_line_layout,
    iter_gaussian_line_spectra,
)


def naive(n: int, num_pixels: int = 3600, snr: float = 10.0, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    layout = gaussian_line_layout(num_classes=6, lines_per_class=3)
    wl = np.linspace(3600.0, 9800.0, num_pixels)
    t0 = time.perf_counter()
    out = np.empty((min(n, 256), num_pixels), dtype=np.float32)
    for i in range(n):
        label = i % 6
        flux = rng.uniform(0.8, 1.2) + rng.uniform(-0.4, 0.4) * (wl - wl.mean()) / (
            wl[-1] - wl[0]
        )
        for centre in layout[label]:
            amp = rng.uniform(0.3, 1.0)
            width = rng.uniform(5.0, 30.0)
            flux = flux + amp * np.exp(-0.5 * ((wl - centre) / width) ** 2)
        flux = flux + rng.normal(0.0, 1.0 / snr, num_pixels)
        out[i % len(out)] = flux
    return time.perf_counter() - t0


def vectorised(n: int) -> float:
    t0 = time.perf_counter()
    count = 0
    for chunk in iter_gaussian_line_spectra(n, snr=10.0, seed=0):
        count += len(chunk["flux"])
    elapsed = time.perf_counter() - t0
    assert count == n
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--baseline-n", type=int, default=5_000)
    args = parser.parse_args()

    t_vec = vectorised(args.n)
    t_base_sub = naive(args.baseline_n)
    t_base = t_base_sub * args.n / args.baseline_n
    rows = [
        ("naive per-spectrum loop (extrapolated)", t_base, args.n / t_base),
        ("skysift iter_gaussian_line_spectra", t_vec, args.n / t_vec),
    ]
    print(f"machine: {platform.machine()} {platform.processor()}, 1 thread")
    print(f"{args.n:,} spectra x 3600 px, S/N 10\n")
    print(f"{'method':<42} {'seconds':>9} {'spectra/s':>12}")
    for name, t, rate in rows:
        print(f"{name:<42} {t:>9.2f} {rate:>12,.0f}")
    print(f"\nspeed-up vs naive: {t_base / t_vec:.1f}x")
    print(f"goal 100,000 in < 10 s: {'met' if t_vec * 100_000 / args.n < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
