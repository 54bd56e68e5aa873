"""The training task: a pure skysift model plus its loss, as a LightningModule.

Optimiser and schedule follow seed 003: Adam, and the learning rate
multiplied by 0.9 after 5 epochs without a better validation loss
(``lr_schedule="plateau"``). ``lr_schedule="cosine"`` instead lowers it
along half a cosine from ``lr`` at the first epoch to 0 after ``epochs``
(Loshchilov & Hutter 2017, without restarts): a fixed schedule that does not
wait for the noisy validation loss to stall.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from skysift.training.losses import make_loss

__all__ = ["LR_SCHEDULES", "SkysiftTask"]

#: Learning-rate schedules ``SkysiftTask`` knows.
LR_SCHEDULES = ("plateau", "cosine")


class SkysiftTask(L.LightningModule):
    """Train a :class:`~skysift.models.SkysiftModel` for classification or regression.

    Parameters
    ----------
    model : SkysiftModel
        The architecture (its ``task`` attribute decides accuracy logging).
    loss : str, default "cross_entropy"
        See :data:`skysift.training.losses.LOSSES`.
    lr, weight_decay : float
        Adam settings (seed 001: lr 1e-3).
    lr_patience, lr_factor : int, float
        Plateau schedule (seed 003: 5 epochs, cut 10%).
    lr_schedule : {"plateau", "cosine"}, default "plateau"
        The schedule (see the module docstring).
    epochs : int, default 30
        Length of the cosine schedule.
    input_noise : float, default 0.0
        Standard deviation of Gaussian noise added to training inputs only.
    class_weights : sequence of float, optional
        Per-class loss weights.
    seed : int, default 0
        Dropout is reseeded with (seed, epoch) at each epoch start, so a run
        resumed at an epoch boundary matches an uninterrupted one.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        loss: str = "cross_entropy",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        lr_patience: int = 5,
        lr_factor: float = 0.9,
        lr_schedule: str = "plateau",
        epochs: int = 30,
        input_noise: float = 0.0,
        class_weights: list[float] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.model = model
        self.loss_name = loss
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_patience = lr_patience
        self.lr_factor = lr_factor
        if lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
        self.lr_schedule = lr_schedule
        self.epochs = epochs
        if not input_noise >= 0:
            raise ValueError(f"input_noise must be >= 0, got {input_noise!r}")
        self.input_noise = float(input_noise)
        self.seed = seed
        weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", weights, persistent=False)
        self.is_classifier = getattr(model, "task", "classification") == "classification"
        self.extra_payload: dict[str, Any] = {}

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """Return the model's logits (or regression outputs)."""
        return self.model(x, extra if self.model.num_extra_features else None)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, extra, y = batch
        if stage == "train" and self.input_noise > 0:
            x = x + self.input_noise * torch.randn_like(x)
        out = self(x, extra)
        loss = make_loss(self.loss_name, self.class_weights)(out, y)
        on_step = stage == "train"
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(y))
        if self.is_classifier:
            acc = (out.argmax(1) == y).float().mean()
            self.log(f"{stage}_acc", acc, on_step=False, on_epoch=True, prog_bar=not on_step, batch_size=len(y))
        return loss

    def training_step(self, batch, batch_idx):  # noqa: D102
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):  # noqa: D102
        self._step(batch, "val")

    def on_train_epoch_start(self) -> None:  # noqa: D102
        torch.manual_seed(self.seed * 1_000_003 + self.current_epoch)

    def configure_optimizers(self):  # noqa: D102
        optimiser = torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        if self.lr_schedule == "cosine":
            # stepped once per epoch: epoch e trains at lr * (1 + cos(pi e / epochs)) / 2
            cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimiser, T_max=max(1, self.epochs), eta_min=0.0
            )
            return {"optimizer": optimiser, "lr_scheduler": {"scheduler": cosine}}
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimiser, mode="min", factor=self.lr_factor, patience=self.lr_patience
        )
        return {
            "optimizer": optimiser,
            "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:  # noqa: D102
        # the fitted pipeline and class names travel inside every checkpoint
        checkpoint["skysift"] = self.extra_payload
