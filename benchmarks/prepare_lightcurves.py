"""Prepare light curves with the gp step: one process against several workers.

``skysift prepare --workers N`` prepares chunks of a store in N processes
on one thread each. This measures what that buys on this machine, against
the same job in one process, and against the way prepare ran before
workers existed (one process, torch on its default number of threads).

The data: skysift's synthetic LSST griz light curves (about as many points
as SNPCC's, ~100 per object), or the SNPCC store if ``--store`` names an
ingested one. The pipeline: the gp step on 100 points x the survey's bands.

Configurations, each in a fresh interpreter (``prepare_store`` with
``overwrite``; the store is written once and reused):

* ``threads:T`` -- one process, the pipeline applied chunk by chunk with
  torch on T intra-op threads (the old ``prepare``, T = all cores);
* ``workers:N`` -- ``prepare_store(workers=N)`` (N = 1 is today's default).

Printed: wall seconds, objects/s (wall), CPU seconds of the process tree,
and the speed-up over ``workers:1`` measured in the same run; the prepared
stores are checked to be identical across worker counts.

Run::

    .venv/bin/python benchmarks/prepare_lightcurves.py --n 8192
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import predict_common as common  # timed child processes, CPU seconds


def child_prepare(job: dict) -> dict:
    """One configuration; returns wall and CPU seconds."""
    import torch

    from skysift.io.store import open_store
    from skysift.preprocessing.pipeline import Pipeline

    pipeline = Pipeline.from_config(job["config"])
    c0, t0 = common.cpu_seconds(), time.perf_counter()
    if job["mode"] == "threads":
        from skysift.preprocessing.pipeline import batch_from_arrow

        torch.set_num_threads(job["n"])
        n = 0
        for rb in open_store(job["store"]).iter_batches(batch_size=job["batch_size"]):
            n += len(pipeline.transform(batch_from_arrow(rb), drop_bad=True)["x"])
    else:
        from skysift.preprocessing.prepare import prepare_store

        n = prepare_store(job["store"], job["out"], pipeline, fit=False, overwrite=True,
                          batch_size=job["batch_size"], workers=job["n"])["n_out"]
    return {"wall": time.perf_counter() - t0, "cpu": common.cpu_seconds() - c0, "n": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=8192, help="synthetic light curves")
    parser.add_argument("--store", type=Path, default=None,
                        help="an ingested light-curve store instead (e.g. SNPCC)")
    parser.add_argument("--survey", default="lsst")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/skysift-bench-prep-lc"))
    parser.add_argument("--configs", default=None,
                        help="e.g. threads:2,workers:1,workers:2 (default: all cores)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        common.child_main(args.child, {"prepare": child_prepare})
        return
    cores = os.cpu_count() or 1
    configs = args.configs or ",".join(
        [f"threads:{cores}", "workers:1"] + [f"workers:{w}" for w in (2, 4, 8) if w <= cores]
    )
    args.workdir.mkdir(parents=True, exist_ok=True)
    store = args.store
    if store is None:
        from skysift.data.synthetic import synthesize_store
        from skysift.io.store import open_store

        store = args.workdir / f"lc-{args.survey}-{args.n}"
        if not (store / "_skysift.json").exists():
            synthesize_store(store, "lightcurves", args.n, seed=0, survey=args.survey,
                             overwrite=True)
        n_obj = open_store(store).n_objects
    else:
        from skysift.io.store import open_store

        n_obj = open_store(store).n_objects
    config = {"kind": "lightcurves", "steps": [{"gp": {"survey": args.survey}}]}
    print(f"# prepare_lightcurves: {n_obj:,} light curves ({store}), gp step, "
          f"chunks of {args.batch_size}")
    print(common.machine_line("cpu"))
    print(f"\n{'config':<12}{'wall s':>9}{'obj/s':>10}{'CPU s':>9}{'vs workers:1':>14}")
    rows, base, outs = {}, None, {}
    for spec in configs.split(","):
        mode, n = spec.split(":")
        out = args.workdir / f"out-{mode}-{n}"
        job = {"mode": mode, "n": int(n), "store": str(store), "out": str(out),
               "config": config, "batch_size": args.batch_size}
        r = common.run_child(__file__, "prepare", job)
        rows[spec] = r
        if spec == "workers:1":
            base = r["wall"]
        if mode == "workers":
            outs[spec] = out
        ratio = f"{base / r['wall']:.2f}x" if base else "-"
        print(f"{spec:<12}{r['wall']:9.1f}{r['n'] / r['wall']:10,.0f}{r['cpu']:9.1f}{ratio:>14}",
              flush=True)
    if base:
        print("\nspeed-up over workers:1 (same run): " + ", ".join(
            f"{k} {base / r['wall']:.2f}x" for k, r in rows.items() if k != "workers:1"))
    if len(outs) > 1:
        from skysift.io.store import open_store

        ref_key, *others = outs
        ref = open_store(outs[ref_key]).read(["object_id", "x"]).to_pandas()
        for key in others:
            other = open_store(outs[key]).read(["object_id", "x"]).to_pandas()
            same = list(ref["object_id"]) == list(other["object_id"]) and np.array_equal(
                np.stack(ref["x"]), np.stack(other["x"]))
            print(f"{key} store identical to {ref_key}'s: {same}")


if __name__ == "__main__":
    main()
