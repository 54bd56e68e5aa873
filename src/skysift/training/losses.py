"""Training losses (SPEC D2).

* cross-entropy, optionally class-weighted;
* the flat-weighted multi-class log-loss of seed 003 eq. 3.20 (PLAsTiCC's
  metric with every class weighted 1): the mean log-loss within each class,
  averaged over classes, so rare classes count as much as common ones;
* MSE for redshift regression (seed 002).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["LOSSES", "make_loss", "weighted_log_loss"]

#: Probabilities are clipped to [EPS, 1 - EPS] (PLAsTiCC's convention) so a
#: confident mistake costs ln(1e15) ~ 34.5 instead of infinity.
EPS = 1e-15


def weighted_log_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    class_weights: torch.Tensor | None = None,
    from_logits: bool = True,
) -> torch.Tensor:
    """Weighted multi-class log-loss of seed 003 eq. 3.20.

    ``L = - sum_i w_i (1/N_i) sum_{j in class i} ln p_ij / sum_i w_i``, over
    the classes i present in ``target``; flat weights (w_i = 1) by default.

    Parameters
    ----------
    logits : torch.Tensor, shape (B, C)
        Unnormalised scores, or probabilities when ``from_logits`` is False.
    target : torch.Tensor of int, shape (B,)
        True class indices.
    class_weights : torch.Tensor, shape (C,), optional
        w_i; ones when omitted.
    from_logits : bool, default True
        Whether ``logits`` still need a softmax.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Examples
    --------
    >>> p = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    >>> loss = weighted_log_loss(p, torch.tensor([0, 0, 1]), from_logits=False)
    >>> round(float(loss), 4)  # ((-ln .9 - ln .6) / 2 - ln .8) / 2
    0.2656
    """
    num_classes = logits.shape[1]
    if from_logits:
        log_p = F.log_softmax(logits.float(), dim=1)
    else:
        log_p = torch.log(logits.float().clamp(EPS, 1 - EPS))
    log_p = log_p.clamp(min=float(torch.log(torch.tensor(EPS))))
    picked = log_p.gather(1, target[:, None]).squeeze(1)  # (B,)
    counts = torch.bincount(target, minlength=num_classes).to(log_p.dtype)
    per_class = torch.zeros(num_classes, dtype=log_p.dtype, device=log_p.device)
    per_class.index_add_(0, target, picked)
    present = counts > 0
    w = (
        torch.ones(num_classes, dtype=log_p.dtype, device=log_p.device)
        if class_weights is None
        else class_weights.to(log_p)
    )
    w = w * present
    return -(w[present] * per_class[present] / counts[present]).sum() / w.sum()


def _cross_entropy(class_weights: torch.Tensor | None):
    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), target, weight=class_weights)

    return loss


def _weighted_log_loss(class_weights: torch.Tensor | None):
    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return weighted_log_loss(logits, target, class_weights=class_weights)

    return loss


def _mse(_: torch.Tensor | None):
    def loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(pred.float().reshape(target.shape), target.float())

    return loss


def _mae(_: torch.Tensor | None):
    def loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(pred.float().reshape(target.shape), target.float())

    return loss


LOSSES = {
    "cross_entropy": _cross_entropy,
    "weighted_log_loss": _weighted_log_loss,
    "mse": _mse,
    "mae": _mae,
}


def make_loss(name: str, class_weights: torch.Tensor | None = None):
    """Return the loss function ``loss(output, target)`` called ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`LOSSES`.
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}")
    return LOSSES[name](class_weights)
