"""Common interface shared by every skysift model.

Every registered architecture subclasses :class:`SkysiftModel`, a pure
:class:`torch.nn.Module` split timm-style into a backbone
(:meth:`~SkysiftModel.forward_features`) and a head
(:meth:`~SkysiftModel.forward_head`). All models share one call signature,
``model(x, extra=None)``, so a training loop can treat them alike.
"""

from __future__ import annotations

import abc
from typing import ClassVar, Literal

import torch
from torch import nn

__all__ = ["SkysiftModel", "count_parameters"]

Task = Literal["classification", "regression"]


def count_parameters(
    model: nn.Module,
    *,
    trainable_only: bool = True,
    include_running_stats: bool = False,
) -> int:
    """Count the parameters of a model.

    Parameters
    ----------
    model : torch.nn.Module
        Any module.
    trainable_only : bool, default True
        Count only parameters with ``requires_grad=True``.
    include_running_stats : bool, default False
        Also count the moving mean and variance of batch-normalisation layers.
        Keras reports these as (non-trainable) parameters and seed 003
        (eqs. 3.17-3.18) counts four numbers per normalised channel
        (gamma, beta, mu, sigma^2); set this to reproduce that convention.

    Returns
    -------
    int
        Number of scalar values.

    Examples
    --------
    >>> from torch import nn
    >>> count_parameters(nn.Linear(3, 2))
    8
    >>> bn = nn.BatchNorm1d(4)
    >>> count_parameters(bn), count_parameters(bn, include_running_stats=True)
    (8, 16)
    """
    total = sum(
        p.numel() for p in model.parameters() if p.requires_grad or not trainable_only
    )
    if include_running_stats:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                for stat in (module.running_mean, module.running_var):
                    if stat is not None:
                        total += stat.numel()
    return total


class SkysiftModel(nn.Module, abc.ABC):
    """Base class of every registered skysift architecture.

    Subclasses set the attributes below in ``__init__`` and implement
    :meth:`forward_features` and :meth:`forward_head`.

    Attributes
    ----------
    num_classes : int
        Width of the output: number of classes for a classifier, number of
        regression targets for a regressor.
    num_features : int
        Width of the vector fed to the final linear layer, i.e. what
        ``forward_head(..., pre_logits=True)`` returns. For atx this includes
        the extra features concatenated before the last layer.
    num_extra_features : int
        Number R of per-object extra features (e.g. redshift and its error)
        the model expects as ``extra`` of shape ``(B, R)``; 0 if none.
    input_shape : tuple of int
        Shape of one input sample without the batch dimension, as built
        (e.g. ``(1, 3600)`` for a spectrum, ``(100, 6)`` for a light curve).
    task : {"classification", "regression"}
        Whether the outputs are logits or regression values.
    """

    task: ClassVar[Task] = "classification"

    num_classes: int
    num_features: int
    num_extra_features: int = 0
    input_shape: tuple[int, ...]

    @abc.abstractmethod
    def forward_features(
        self, x: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Run the backbone and return the last feature map before the head."""

    @abc.abstractmethod
    def forward_head(
        self,
        features: torch.Tensor,
        extra: torch.Tensor | None = None,
        *,
        pre_logits: bool = False,
    ) -> torch.Tensor:
        """Map the output of :meth:`forward_features` to logits ``(B, C)``."""

    @abc.abstractmethod
    def get_classifier(self) -> nn.Linear:
        """Return the final linear layer (its weights give class activation maps)."""

    def forward(
        self, x: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Compute logits (or regression outputs).

        Parameters
        ----------
        x : torch.Tensor
            Input batch; see the subclass for its accepted shapes.
        extra : torch.Tensor of shape (B, R), optional
            Per-object extra features; only for models built with
            ``num_extra_features = R > 0``.

        Returns
        -------
        torch.Tensor of shape (B, num_classes)
            Unnormalised class scores (apply softmax for probabilities), or
            the regression outputs.
        """
        self._check_extra(x, extra)
        return self.forward_head(self.forward_features(x, extra), extra)

    def num_parameters(self, *, trainable_only: bool = True) -> int:
        """Return the number of parameters; see :func:`count_parameters`."""
        return count_parameters(self, trainable_only=trainable_only)

    def _check_extra(self, x: torch.Tensor, extra: torch.Tensor | None) -> None:
        """Validate the ``extra`` tensor against ``num_extra_features``."""
        name = type(self).__name__
        if self.num_extra_features == 0:
            if extra is not None:
                raise ValueError(
                    f"{name} was built with num_extra_features=0 but received an "
                    f"`extra` tensor of shape {tuple(extra.shape)}; rebuild it with "
                    "num_extra_features=R or pass extra=None"
                )
            return
        if extra is None:
            raise ValueError(
                f"{name} was built with num_extra_features={self.num_extra_features}"
                f" and needs `extra` of shape (B, {self.num_extra_features}); got None"
            )
        expected = (x.shape[0], self.num_extra_features)
        if tuple(extra.shape) != expected:
            raise ValueError(
                f"{name} expects `extra` of shape {expected}, got {tuple(extra.shape)}"
            )


def as_spectra_batch(
    x: torch.Tensor,
    *,
    in_channels: int,
    input_length: int | None,
    model_name: str,
) -> torch.Tensor:
    """Return a spectra batch as ``(B, C, L)``, accepting ``(B, L)`` when C is 1."""
    if x.ndim == 2 and in_channels == 1:
        x = x.unsqueeze(1)  # (B, L) -> (B, 1, L)
    if x.ndim != 3 or x.shape[1] != in_channels:
        allowed = (
            "(B, L) or (B, 1, L)" if in_channels == 1 else f"(B, {in_channels}, L)"
        )
        raise ValueError(
            f"{model_name} expects spectra of shape {allowed}, got {tuple(x.shape)}"
        )
    if input_length is not None and x.shape[-1] != input_length:
        raise ValueError(
            f"{model_name} was built for input_length={input_length}, got spectra of "
            f"length {x.shape[-1]}; rebuild it with input_length={x.shape[-1]}"
        )
    return x


def check_positive_int(name: str, value: object) -> int:
    """Raise ValueError unless ``value`` is an int >= 1; return it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def check_rate(name: str, value: object) -> float:
    """Raise ValueError unless ``value`` is a probability in [0, 1); return it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)
