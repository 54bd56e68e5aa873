"""Scaffolding shared by the batch-prediction benchmarks (predict_spectra.py, predict_alerts.py).

Stores and trained models are written once under a work directory and reused
while their parameters are unchanged; every timed job runs in its own child
process (``python SCRIPT --child KIND JOB_JSON``), which reports its wall
time, the CPU seconds of itself and its worker processes, and its peak
resident memory sampled over its process tree.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------
# cached data and models


def write_store_once(
    path: Path, kind: str, attrs: dict, chunks: Callable[[], Iterable[Any]]
) -> float:
    """Write a store from ``chunks()`` unless one with these attrs is there; return seconds.

    A store is reused when its manifest's attrs equal ``attrs`` (the
    generator, size and seed); a half-written or different one is replaced.
    """
    from skysift.io.store import StoreWriter, open_store

    if path.exists():
        try:
            if open_store(path).info()["attrs"] == attrs:
                return 0.0
        except Exception:  # a half-written store: write it again
            pass
    t0 = time.perf_counter()
    with StoreWriter(path, kind=kind, overwrite=True, attrs=attrs) as w:
        for chunk in chunks():
            w.write(chunk)
    return time.perf_counter() - t0


def cached_training(run: Path, key: dict) -> dict | None:
    """Return the saved training info of ``run`` if it was trained with ``key``."""
    done = run / "key.json"
    if done.exists() and json.loads(done.read_text()) == key:
        return json.loads((run / "train.json").read_text())
    return None


def save_training(run: Path, key: dict, info: dict) -> dict:
    """Record that ``run`` holds a model trained with ``key``; return the info."""
    info = {**info, **key}
    (run / "train.json").write_text(json.dumps(info))
    (run / "key.json").write_text(json.dumps(key))
    return info


def train_briefly(model, x, y, *, epochs: int) -> tuple[float, float]:
    """Train with Adam (lr 1e-3, batches of 256) on all but the first fifth.

    Returns the accuracy on the first fifth (held out) and the seconds spent.
    Seed torch before building the model: the batches draw from its RNG.
    """
    import torch

    x, y = torch.as_tensor(x), torch.as_tensor(y)
    n_val = len(x) // 5
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x) - n_val) + n_val
        for i in range(0, len(order), 256):
            b = order[i : i + 256]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[b]), y[b]).backward()
            opt.step()
    model.eval()
    with torch.inference_mode():
        acc = float((model(x[:n_val]).argmax(1) == y[:n_val]).float().mean())
    return acc, time.perf_counter() - t0


def train_and_save(
    run: Path,
    key: dict,
    store,
    pipeline,
    *,
    model_name: str,
    model_kwargs: dict,
    input_shape: tuple[int, ...],
    class_names: list[str],
    seed: int,
    epochs: int,
) -> dict:
    """Prepare ``store`` with the fitted ``pipeline``, train briefly, save model.pt.

    Labels come from the store's ``label`` column, in the order of
    ``class_names``; returns :func:`save_training`'s record.
    """
    import numpy as np
    import torch

    from skysift.models import create_model
    from skysift.serving.batch import prepare_records
    from skysift.training import save_model

    prepared = prepare_records(store.read(), pipeline)
    labels = store.read(["object_id", "label"]).to_pydict()
    label_of = dict(zip(labels["object_id"], labels["label"], strict=True))
    lookup = {c: i for i, c in enumerate(class_names)}
    y = np.array([lookup[label_of[i]] for i in prepared["object_id"]])
    torch.manual_seed(seed)
    model = create_model(model_name, **model_kwargs)
    acc, seconds = train_briefly(model, prepared["x"], y, epochs=epochs)
    save_model(
        run / "model.pt",
        model,
        model_name=model_name,
        model_kwargs=model_kwargs,
        pipeline=pipeline,
        class_names=list(class_names),
        input_shape=input_shape,
    )
    return save_training(run, key, {"val_accuracy": acc, "train_seconds": seconds})


# --------------------------------------------------------------------------
# timed jobs, each in a child process


class PeakRSS:
    """Peak resident memory of this process and its descendants, sampled.

    ``ru_maxrss`` cannot be used: Linux carries it over fork and exec, so a
    child would report at least its parent's memory.
    """

    def __init__(self, interval: float = 0.1) -> None:
        import threading

        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    @staticmethod
    def _tree(pid: int) -> list[int]:
        out, todo = [], [pid]
        while todo:
            p = todo.pop()
            out.append(p)
            try:
                for task in os.listdir(f"/proc/{p}/task"):
                    with open(f"/proc/{p}/task/{task}/children") as f:
                        todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
        return out

    def _run(self, interval: float) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            total = 0
            for p in self._tree(os.getpid()):
                try:
                    with open(f"/proc/{p}/statm") as f:
                        total += int(f.read().split()[1]) * page
                except OSError:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(interval)

    def stop(self) -> int:
        """Stop sampling; return the peak in MB."""
        self._stop.set()
        self._thread.join()
        return self.peak // 2**20


def cpu_seconds() -> float:
    """CPU seconds of this process and its waited-for children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def child_predict(job: dict) -> dict:
    """Run one ``predict_store`` job; return wall, CPU seconds, peak RSS and its summary."""
    from skysift.serving.batch import predict_store

    rss = PeakRSS()
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    s = predict_store(
        job["model"],
        job["store"],
        job["out"],
        engine=job["engine"],
        batch_size=job["batch_size"],
        device=job["device"],
        workers=job["workers"],
        threads=job["threads"],
        overwrite=True,
        resume=False,
        cache_dir=job["cache"],
    )
    wall = time.perf_counter() - t0
    return {"wall": wall, "cpu": cpu_seconds() - c0, "rss_mb": rss.stop(), "summary": s}


def run_child(script: str, kind: str, job: dict) -> dict:
    """Run ``script --child kind job`` in a fresh interpreter; return its JSON result."""
    cmd = [sys.executable, script, "--child", kind, json.dumps(job)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall"] = time.perf_counter() - t0  # with interpreter start
    return result


def child_main(child: list[str], handlers: dict[str, Callable[[dict], dict]]) -> None:
    """The child side of :func:`run_child`: run the handler, print its JSON result."""
    kind, job = child
    print(json.dumps(handlers[kind](json.loads(job))))


def parse_configs(text: str) -> list[tuple[str, str, int, int]]:
    """``"onnx:2x1,torch:1x2"`` -> ``[(config, engine, workers, threads), ...]``."""
    out = []
    for config in text.split(","):
        engine, shape = config.split(":")
        workers, threads = (int(v) for v in shape.split("x"))
        out.append((config, engine, workers, threads))
    return out


def machine_line(device: str, extra: str = "") -> str:
    """One line naming the processor, cores, Python and device of this run."""
    return (
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, device {device}{extra}"
    )
