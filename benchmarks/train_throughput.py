"""Benchmark: training throughput (samples/s) of vgg1d and t2 through skysift's task.

For each model and batch size, the same number of optimiser steps is timed
twice in one run:

* baseline: a plain PyTorch loop (Adam, cross-entropy) over in-memory tensors;
* skysift: ``SkysiftTask`` under a Lightning ``Trainer`` (what ``skysift
  train`` runs), with the data served by its ``ArrayDataset`` and
  ``EpochSeededSampler``.

The ratio skysift / baseline is the cost of the training framework. On a
GPU (``--device cuda``) both run with bf16 autocast and the script also
reports the GPU / CPU ratio (seed 001 saw 27x for its CNN).

    python benchmarks/train_throughput.py [--device cpu|cuda] [--steps 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F

from skysift.models import create_model

CASES = [
    # name, input shape (without batch), create_model kwargs, extra features
    ("vgg1d", (1, 140), {"num_classes": 3, "input_length": 140}, 0),
    ("t2", (100, 6), {"num_classes": 14, "in_channels": 6, "input_length": 100}, 2),
]


def plain_loop(name, shape, kwargs, n_extra, batch, steps, device, bf16) -> float:
    torch.manual_seed(0)
    model = create_model(name, num_extra_features=n_extra, **kwargs).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, *shape, device=device)
    e = torch.randn(batch, n_extra, device=device) if n_extra else None
    y = torch.randint(kwargs["num_classes"], (batch,), device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x, e), y)
        loss.backward()
        opt.step()

    step()  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t0)


def skysift_fit(name, shape, kwargs, n_extra, batch, steps, device, bf16) -> float:
    import lightning as L
    from torch.utils.data import DataLoader

    from skysift.training.data import ArrayDataset, EpochSeededSampler
    from skysift.training.run import _quiet_lightning
    from skysift.training.task import SkysiftTask

    n = batch * steps
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, *shape), dtype=np.float32)
    e = rng.standard_normal((n, n_extra), dtype=np.float32)
    y = rng.integers(0, kwargs["num_classes"], n)
    model = create_model(name, num_extra_features=n_extra, **kwargs)
    task = SkysiftTask(model, lr=1e-3)
    loader = DataLoader(
        ArrayDataset(x, e, y), batch_size=batch, sampler=EpochSeededSampler(n, 0)
    )
    with _quiet_lightning():
        trainer = L.Trainer(
            max_epochs=2,
            accelerator="gpu" if device == "cuda" else "cpu",
            devices=1,
            precision="bf16-mixed" if bf16 else "32",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=1,  # the LR schedule needs a val_loss
            num_sanity_val_steps=0,
        )
        timer = {}

        class Clock(L.Callback):
            def on_train_epoch_start(self, trainer, pl_module):
                if trainer.current_epoch == 1:  # epoch 0 is the warm-up
                    if device == "cuda":
                        torch.cuda.synchronize()
                    timer["t0"] = time.perf_counter()

            def on_train_epoch_end(self, trainer, pl_module):
                if trainer.current_epoch == 1:
                    if device == "cuda":
                        torch.cuda.synchronize()
                    timer["t1"] = time.perf_counter()

        trainer.callbacks.append(Clock())
        trainer.fit(task, loader, loader)
    return n / (timer["t1"] - timer["t0"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batches", default="256,1024")
    args = parser.parse_args()
    bf16 = args.device == "cuda"
    threads = torch.get_num_threads()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, torch threads {threads}, "
        f"device {args.device}{' ' + torch.cuda.get_device_name() if args.device == 'cuda' else ''}, "
        f"{'bf16-mixed' if bf16 else 'fp32'}"
    )
    print(f"{'model':<8}{'batch':>7}{'plain torch /s':>16}{'skysift /s':>13}{'ratio':>8}")
    for name, shape, kwargs, n_extra in CASES:
        for batch in (int(b) for b in args.batches.split(",")):
            base = plain_loop(name, shape, kwargs, n_extra, batch, args.steps, args.device, bf16)
            ours = skysift_fit(name, shape, kwargs, n_extra, batch, args.steps, args.device, bf16)
            print(f"{name:<8}{batch:>7}{base:>16,.0f}{ours:>13,.0f}{ours / base:>8.2f}")


if __name__ == "__main__":
    main()
