"""Classify 2,202,000 LAMOST-like H-alpha spectra end to end: skysift predict vs a naive loop.

Seed 001 classified the 2,202,000 LAMOST spectra of its H-alpha search with
vgg1d (issue 7 targets: >= 1,500 spectra/s per CPU core, <= 5 s on one H200,
and >= 5x a naive baseline measured in the same run).

The data, synthetic, as the survey delivers it: every object has its own
wavelength array, 147-153 pixels on a grid uniform in log10(lambda) (step
1.1e-4 dex times 1 +- 0.5%, so ~1.7 AA) starting at 6500 +- 3 AA: the
H-alpha window 6500-6750 AA. Emission, absorption and double-peaked H-alpha
profiles (as skysift's ``halpha`` generator, seen at LAMOST's R = 1800), a
tilted continuum, S/N 30, a per-pixel ivar and short runs of bad pixels in
5% of the spectra. They are written once, chunk by chunk, into a store of
4096-object row groups under ``--workdir`` (reused by later runs).

The preparation is seed 001's chain, applied to every spectrum:
``air_to_vacuum -> blur (sigma 7 px) -> regrid (140 points, 6519-6732 AA)
-> standardize`` (``--pipeline minimal``: regrid and standardise only).
The spectra are flagged as air wavelengths so that every step does its
work: a throughput worst case (a LAMOST-only model would skip the first two).

The model: vgg1d (seed 001 Fig. 9.1, 2.48 M parameters), trained for
``--epochs`` epochs on ``--train-n`` spectra of the same kind (Adam 1e-3,
batch 256, as the seed) -- a tiny training: accuracy is reported but is not
the point (``--epochs 0`` keeps the random initialisation).

Timed, each in its own process (so peak memory is per engine), end to end:
store -> preparation -> model -> probabilities in one Parquet file:

* naive baseline: ``pandas.read_parquet`` of the store's part files, then a
  loop over batches of 256 -- each spectrum prepared with NumPy (seed 001's
  formulas, ``np.convolve``, ``np.interp``) and the batch run through the
  eager PyTorch fp32 model -- then the probabilities written with pandas.
  Run on the first ``--baseline-n`` spectra and extrapolated per spectrum
  (the pandas load per spectrum is measured on whole part files).
* ``skysift predict`` (``predict_store``) with each engine: ``torch``
  (eager PyTorch fp32), ``onnx`` (onnxruntime fp32, exported with ``skysift
  export``) and ``onnx-int8`` (static int8 quantisation calibrated on 1,024
  training spectra), each with 1 worker x 2 threads and 2 workers x 1 thread.

Per-core throughput is spectra / CPU seconds (user + system, the process and
its workers): on this shared machine it is what one core sustains whatever
else runs. Wall-clock figures are printed too. The stage split (read,
prepare, infer, write) is wall time inside the workers.

Run::

    nice .venv/bin/python benchmarks/predict_spectra.py                 # 2,202,000
    nice .venv/bin/python benchmarks/predict_spectra.py --n 200000      # quicker
    .venv/bin/python benchmarks/predict_spectra.py --device cuda --workers 8 \\
        --configs torch:8x1                                             # a GPU box
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import predict_common as common  # cached stores/models, timed child processes

GRID = (6519.0, 6732.0, 140)
PIPELINES = {
    "seed001": [
        "air_to_vacuum",
        {"blur": {"sigma_px": 7.0}},
        {"regrid": {"start_aa": GRID[0], "stop_aa": GRID[1], "num": GRID[2]}},
        "standardize",
    ],
    "minimal": [
        {"regrid": {"start_aa": GRID[0], "stop_aa": GRID[1], "num": GRID[2]}},
        "standardize",
    ],
}
CLASSES = ("absorption", "double-peak", "emission")
HALPHA_AIR_AA = 6562.80
LSF_SIGMA_AA = HALPHA_AIR_AA / 1800.0 / 2.3548  # LAMOST R = 1800
CHUNK = 65_536


# --------------------------------------------------------------------------
# data


def make_chunk(rng: np.random.Generator, start: int, m: int, prefix: str):
    """m LAMOST-like H-alpha windows as a store table (ragged list columns)."""
    import pyarrow as pa

    from skysift.io.store import make_schema

    lengths = rng.integers(147, 154, m)
    width = int(lengths.max())
    w0 = 6500.0 * 10.0 ** rng.uniform(-2e-4, 2e-4, m)  # +- 3 AA
    step = 1.1e-4 * (1.0 + rng.uniform(-5e-3, 5e-3, m))
    wl = w0[:, None] * 10.0 ** (step[:, None] * np.arange(width)[None, :])  # (m, W)
    labels = rng.integers(0, 3, m)
    x = (wl - 6625.0) / 125.0
    flux = 1.0 + rng.uniform(-0.1, 0.1, m)[:, None] * x
    centre = HALPHA_AIR_AA * (1.0 + rng.uniform(-100.0, 100.0, m) / 299_792.458)

    def line(amp, sigma, offset=0.0):
        seen = np.sqrt(sigma**2 + LSF_SIGMA_AA**2)  # a Gaussian through the LSF
        a = amp * sigma / seen
        return a[:, None] * np.exp(
            -0.5 * ((wl - (centre + offset)[:, None]) / seen[:, None]) ** 2
        )

    em, ab, dp = labels == 2, labels == 0, labels == 1
    flux += em[:, None] * line(rng.uniform(0.3, 3.0, m), rng.uniform(0.8, 3.0, m))
    flux -= ab[:, None] * line(rng.uniform(0.2, 0.7, m), rng.uniform(3.0, 10.0, m))
    sep = rng.uniform(3.0, 10.0, m)
    amp, sig = rng.uniform(0.3, 2.0, m), sep * rng.uniform(0.15, 0.3, m)
    flux += dp[:, None] * (
        line(amp, sig, -0.5 * sep)
        + line(amp * rng.uniform(0.6, 1.4, m), sig, 0.5 * sep)
    )
    noise = 1.0 / 30.0
    flux += rng.standard_normal(flux.shape) * noise
    scale = 10.0 ** rng.uniform(-0.5, 0.5, m)
    flux = (flux * scale[:, None]).astype(np.float32)
    ivar = np.broadcast_to((1.0 / (scale * noise) ** 2)[:, None], flux.shape).astype(
        np.float32
    )
    mask = np.zeros(flux.shape, dtype=bool)
    bad = np.flatnonzero(rng.random(m) < 0.05)
    first = rng.integers(0, 140, bad.size)
    for k in range(4):  # runs of 4 bad pixels
        mask[bad, first + k] = True
    ivar = np.where(mask, np.float32(0.0), ivar)
    keep = np.arange(width)[None, :] < lengths[:, None]  # ragged: drop the tails
    offsets = np.zeros(m + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    off = pa.array(offsets)

    def lists(values):
        return pa.ListArray.from_arrays(off, pa.array(values[keep]))

    schema = make_schema(
        "spectra",
        [
            pa.field("frame", pa.string()),
            pa.field("resolving_power", pa.float64()),
        ],
    )
    ids = np.char.add(prefix, np.char.zfill(np.arange(start, start + m).astype(str), 8))
    columns = {
        "object_id": pa.array(ids),
        "label": pa.array(np.array(CLASSES)[labels]),
        "redshift": pa.nulls(m, pa.float64()),
        "redshift_err": pa.nulls(m, pa.float64()),
        "frame": pa.array(np.full(m, "air")),
        "resolving_power": pa.array(np.full(m, 1800.0)),
        "wavelength_aa": lists(wl),
        "flux": lists(flux),
        "ivar": lists(ivar),
        "mask": lists(mask),
    }
    return pa.Table.from_arrays([columns[n] for n in schema.names], schema=schema)


def write_survey(path: Path, n: int, seed: int, prefix: str = "lamost-") -> float:
    """Write the store once (reused when it is already there); return seconds."""
    attrs = {"generator": "benchmarks/predict_spectra.py", "n": n, "seed": seed}

    def chunks():
        rng = np.random.default_rng(seed)
        for start in range(0, n, CHUNK):
            yield make_chunk(rng, start, min(CHUNK, n - start), prefix)

    return common.write_store_once(path, "spectra", attrs, chunks)


# --------------------------------------------------------------------------
# model


def train_model(
    run: Path, data: Path, pipeline: str, train_n: int, epochs: int, seed: int
):
    """A vgg1d trained briefly (or left random with epochs=0), saved as model.pt."""
    from skysift.io.store import open_store
    from skysift.preprocessing import Pipeline

    key = {"pipeline": pipeline, "train_n": train_n, "epochs": epochs, "seed": seed}
    info = common.cached_training(run, key)
    if info is not None:
        return info
    run.mkdir(parents=True, exist_ok=True)
    write_survey(data, train_n, seed + 1000, prefix="train-")
    store = open_store(data)
    pipe = Pipeline.from_config({"kind": "spectra", "steps": PIPELINES[pipeline]})
    from skysift.preprocessing.pipeline import batch_from_arrow

    pipe.fit(batch_from_arrow(store.read().slice(0, 256)))  # stateless steps
    return common.train_and_save(
        run, key, store, pipe,
        model_name="vgg1d",
        model_kwargs={"num_classes": 3, "in_channels": 1, "input_length": GRID[2]},
        input_shape=(1, GRID[2]),
        class_names=list(CLASSES),
        seed=seed,
        epochs=epochs,
    )


# --------------------------------------------------------------------------
# timed jobs, each in a child process


def _air_to_vacuum(wl):
    s2 = (1e4 / wl) ** 2
    return wl * (1 + 8.34254e-5 + 2.406147e-2 / (130 - s2) + 1.5998e-4 / (38.9 - s2))


def child_baseline(job: dict) -> dict:
    """Load with pandas, loop over batches of 256 in eager PyTorch fp32."""
    import pandas as pd
    import pyarrow.parquet as pq
    import torch

    from skysift.io.store import open_store
    from skysift.training import load_model

    rss = common.PeakRSS()
    c0 = common.cpu_seconds()
    t0 = time.perf_counter()
    store = open_store(job["store"])
    n, parts, rows = job["n"], [], 0
    for p in store.part_paths:  # whole part files, as read_parquet(store) would
        parts.append(p)
        rows += pq.read_metadata(p).num_rows
        if rows >= n:
            break
    df = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    load_rows = len(df)
    c_load, rss_load = common.cpu_seconds(), rss.peak // 2**20
    t_load = time.perf_counter() - t0
    df = df.iloc[:n]
    model = load_model(job["model"]).model.eval()
    grid = np.linspace(*GRID)
    kernel = None
    if job["pipeline"] == "seed001":
        half = int(np.ceil(4 * 7.0))
        k = np.exp(-0.5 * (np.arange(-half, half + 1) / 7.0) ** 2)
        kernel = k / k.sum()
    probs = []
    for start in range(0, len(df), 256):
        rows = df.iloc[start : start + 256]
        xs = []
        for wl, fl in zip(rows["wavelength_aa"], rows["flux"], strict=True):
            wl = np.asarray(wl, np.float64)
            fl = np.asarray(fl, np.float64)
            if kernel is not None:
                wl = _air_to_vacuum(wl)
                fl = np.convolve(fl, kernel, mode="same")
            y = np.interp(grid, wl, fl)
            xs.append((y - y.mean()) / y.std())
        x = torch.tensor(np.stack(xs), dtype=torch.float32)[:, None, :]
        with torch.no_grad():
            probs.append(model(x).softmax(1).numpy())
    p = np.concatenate(probs)
    out = pd.DataFrame({"object_id": df["object_id"].to_numpy()})
    for i, c in enumerate(CLASSES):
        out[f"prob_{c}"] = p[:, i]
    out.to_parquet(job["out"])
    c1 = common.cpu_seconds()
    return {
        "wall": time.perf_counter() - t0,
        "cpu": c1 - c0,
        "rss_mb": rss.stop(),
        "load_rows": load_rows,
        "load_cpu": c_load - c0,
        "load_wall": t_load,
        "load_rss_mb": rss_load,
        "loop_rows": len(df),
        "loop_cpu": c1 - c_load,
        "loop_wall": time.perf_counter() - t0 - t_load,
        "threads": torch.get_num_threads(),
    }


def run_child(kind: str, job: dict) -> dict:
    return common.run_child(__file__, kind, job)


# --------------------------------------------------------------------------


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2_202_000, help="spectra to classify")
    parser.add_argument(
        "--workdir", default=None, help="where the stores and models live"
    )
    parser.add_argument("--pipeline", choices=sorted(PIPELINES), default="seed001")
    parser.add_argument("--train-n", type=int, default=6000)
    parser.add_argument(
        "--epochs", type=int, default=2, help="0: random initialisation"
    )
    parser.add_argument("--baseline-n", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--configs",
        default="torch:1x2,torch:2x1,onnx:1x2,onnx:2x1,onnx-int8:1x2,onnx-int8:2x1",
        help="engine:WORKERSxTHREADS, comma-separated",
    )
    parser.add_argument(
        "--rss-check",
        default=None,
        metavar="CONFIG",
        help="also run CONFIG on the first n/10 spectra and compare peak memory",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        common.child_main(
            args.child, {"predict": common.child_predict, "baseline": child_baseline}
        )
        return

    from skysift.compression import export_onnx

    work = Path(args.workdir or Path(tempfile.gettempdir()) / "skysift-bench-predict")
    work.mkdir(parents=True, exist_ok=True)
    store = work / f"survey-{args.n}-{args.seed}"
    t_gen = write_survey(store, args.n, args.seed)
    run = work / f"run-{args.pipeline}"
    info = train_model(
        run, work / "train", args.pipeline, args.train_n, args.epochs, args.seed
    )
    t0 = time.perf_counter()
    export_onnx(run / "model.pt", run / "model.onnx", overwrite=True)
    export_onnx(
        run / "model.pt",
        run / "model-int8.onnx",
        overwrite=True,
        quantize="int8",
        calibration=work / "train",
    )
    t_export = time.perf_counter() - t0

    print(
        f"# predict_spectra: {args.n:,} LAMOST-like H-alpha spectra, pipeline {args.pipeline}"
    )
    print(common.machine_line(args.device))
    print(
        f"store written in {t_gen:.0f} s (0 = reused); model: vgg1d, {args.epochs} epoch(s) on "
        f"{args.train_n:,} spectra, validation accuracy {info['val_accuracy']:.3f}; "
        f"exports {t_export:.1f} s"
    )

    results = {}
    base_job = {
        "store": str(store),
        "model": str(run / "model.pt"),
        "out": str(work / "baseline.parquet"),
        "n": min(args.baseline_n, args.n),
        "pipeline": args.pipeline,
    }
    base = run_child("baseline", base_job)
    load_per = base["load_cpu"] / base["load_rows"]
    loop_per = base["loop_cpu"] / base["loop_rows"]
    base_cpu_full = (load_per + loop_per) * args.n
    base_wall_full = (
        base["load_wall"] / base["load_rows"] + base["loop_wall"] / base["loop_rows"]
    ) * args.n
    rss_per_row = base["load_rss_mb"] / base["load_rows"]

    jobs = {}
    for config, engine, workers, threads in common.parse_configs(args.configs):
        model = {
            "torch": run / "model.pt",
            "onnx": run / "model.onnx",
            "onnx-int8": run / "model-int8.onnx",
        }[engine]
        job = {
            "model": str(model),
            "store": str(store),
            "out": str(work / f"pred-{engine}.parquet"),
            "engine": "torch" if engine == "torch" else "onnx",
            "batch_size": args.batch_size,
            "device": args.device,
            "workers": workers,
            "threads": threads,
            "cache": str(work / "cache"),
        }
        jobs[config] = job
        results[config] = run_child("predict", job)
        results[config]["out"] = job["out"]
        r = results[config]
        print(
            f"  {config:<16} {r['wall']:7.1f} s wall  {args.n / r['cpu']:7,.0f} /s/core",
            file=sys.stderr,
        )

    print()
    print(
        f"{'method':<34}{'n':>11}{'wall s':>9}{'spectra/s':>11}{'CPU s':>9}"
        f"{'/s/core':>9}{'vs naive':>9}{'peak RSS':>10}"
    )
    base_core = args.n / base_cpu_full
    print(
        f"{'naive pandas + eager fp32 (extrap.)':<34}{args.n:>11,}{base_wall_full:>9.0f}"
        f"{args.n / base_wall_full:>11,.0f}{base_cpu_full:>9.0f}{base_core:>9,.0f}"
        f"{1.0:>8.1f}x{rss_per_row * args.n / 1024:>8.1f}GB"
    )
    for config, r in results.items():
        core = args.n / r["cpu"]
        print(
            f"{'skysift ' + config:<34}{args.n:>11,}{r['wall']:>9.1f}{args.n / r['wall']:>11,.0f}"
            f"{r['cpu']:>9.0f}{core:>9,.0f}{core / base_core:>8.1f}x{r['rss_mb']:>8}MB"
        )
    print()
    print(
        f"naive baseline measured on {base['loop_rows']:,} spectra (loop, {base['threads']} torch "
        f"threads) and {base['load_rows']:,} (pandas load, {base['load_rss_mb']:,} MB peak), "
        "extrapolated per spectrum; its peak RSS for all spectra is extrapolated from the load"
    )
    print()
    print(
        "where the time goes: wall seconds of setup (process start to the first chunk:"
        " imports, model, checks), all chunks, finalise; and the stages summed over workers"
    )
    print(
        f"{'config':<18}{'start':>7}{'setup':>7}{'chunks':>8}{'finalise':>9} |"
        f"{'read':>7}{'prepare':>9}{'infer':>8}{'write':>7}"
    )
    for config, r in results.items():
        t = r["summary"]["timings"]
        start = r["process_wall"] - r["summary"]["seconds"]  # interpreter, imports
        print(
            f"{config:<18}{start:>7.1f}{t['setup']:>7.1f}{t['chunks']:>8.1f}"
            f"{t['finalise']:>9.1f} |{t['read']:>7.1f}{t['prepare']:>9.1f}"
            f"{t['infer']:>8.1f}{t['write']:>7.1f}"
        )
    # agreement and accuracy
    import pandas as pd
    import pyarrow.parquet as pq

    truth = pq.read_table(store, columns=["object_id", "label"]).to_pandas()
    print()
    ref = None
    for config, r in results.items():
        df = pd.read_parquet(r["out"])
        line = (
            f"{config:<18} rows {len(df):,} + rejected {r['summary']['n_rejected']:,}"
        )
        if len(df) == len(truth):
            acc = float((df.pred_class.to_numpy() == truth.label.to_numpy()).mean())
            line += f", accuracy {acc:.4f}"
        probs = df.filter(like="prob_").to_numpy()
        if ref is None:
            ref = probs, df.pred_class.to_numpy()
        else:
            line += (
                f", vs first: max |dp| {np.abs(probs - ref[0]).max():.1e}, "
                f"same class {np.mean(df.pred_class.to_numpy() == ref[1]):.4%}"
            )
        print(line)
    if args.rss_check:
        small_n = args.n // 10
        small = work / f"survey-{small_n}-{args.seed}"
        write_survey(small, small_n, args.seed)
        job = dict(
            jobs[args.rss_check], store=str(small), out=str(work / "pred-small.parquet")
        )
        r_small = run_child("predict", job)
        r_big = results[args.rss_check]
        print()
        print(
            f"peak memory, {args.rss_check}: {r_small['rss_mb']:,} MB for {small_n:,} "
            f"spectra, {r_big['rss_mb']:,} MB for {args.n:,} "
            f"({r_big['rss_mb'] / r_small['rss_mb'] - 1:+.0%} for 10x the data)"
        )
    best = max(results, key=lambda c: args.n / results[c]["cpu"])
    core = args.n / results[best]["cpu"]
    print()
    print(
        f"best per core: {best}, {core:,.0f} spectra/s/core "
        f"(goal >= 1,500: {'met' if core >= 1500 else 'not met'}), "
        f"{core / base_core:.1f}x the naive baseline (goal >= 5x: "
        f"{'met' if core / base_core >= 5 else 'not met'})"
    )


if __name__ == "__main__":
    main()
