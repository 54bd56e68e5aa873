"""Multi-layer perceptron for spectra (seed 001, sec. 9.1.2).

Seed 001 classifies Ondrejov/LAMOST spectra regridded to 140 points around
H-alpha into 3 classes (emission, absorption, double-peak) with a
feed-forward network of 5 hidden layers of 512 ReLU units, each followed by
dropout with probability 0.5 during training.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from skysift.models._base import (
    SkysiftModel,
    as_spectra_batch,
    check_positive_int,
    check_rate,
)
from skysift.models._registry import build_model, register_model

__all__ = ["MLP"]


class MLP(SkysiftModel):
    """Fully connected network on flattened spectra.

    Parameters
    ----------
    num_classes : int, default 3
        Output width.
    in_channels : int, default 1
        Channels per pixel.
    input_length : int, default 140
        Pixels per spectrum L.
    hidden_dims : sequence of int, default (512, 512, 512, 512, 512)
        Width of each hidden layer.
    drop_rate : float, default 0.5
        Dropout after every hidden layer.

    Notes
    -----
    Input ``x``: ``(B, L)`` or ``(B, C, L)``; output ``(B, num_classes)``.
    :meth:`forward_features` returns the last hidden layer ``(B, 512)``;
    :meth:`forward_head` is the output linear layer.

    Examples
    --------
    >>> import torch
    >>> from skysift.models import create_model
    >>> model = create_model("mlp", num_classes=3, input_length=140)
    >>> model(torch.randn(8, 140)).shape
    torch.Size([8, 3])
    >>> model.num_parameters()
    1124355
    """

    def __init__(
        self,
        *,
        num_classes: int = 3,
        in_channels: int = 1,
        input_length: int = 140,
        hidden_dims: tuple[int, ...] = (512,) * 5,
        drop_rate: float = 0.5,
    ) -> None:
        super().__init__()
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.input_length = check_positive_int("input_length", input_length)
        if not hidden_dims:
            raise ValueError("hidden_dims must list at least one hidden layer width")
        hidden_dims = tuple(check_positive_int("hidden_dims", h) for h in hidden_dims)
        drop_rate = check_rate("drop_rate", drop_rate)
        self.input_shape = (in_channels, input_length)
        layers: list[nn.Module] = []
        width = in_channels * input_length
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(drop_rate)]
            width = hidden
        self.hidden = nn.Sequential(*layers)
        self.num_features = width
        self.fc = nn.Linear(width, num_classes)

    def forward_features(
        self, x: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the last hidden layer ``(B, hidden_dims[-1])``."""
        x = as_spectra_batch(
            x,
            in_channels=self.in_channels,
            input_length=self.input_length,
            model_name="mlp",
        )
        return self.hidden(x.flatten(1))  # (B, C, L) -> (B, C * L)

    def forward_head(
        self,
        features: torch.Tensor,
        extra: torch.Tensor | None = None,
        *,
        pre_logits: bool = False,
    ) -> torch.Tensor:
        """Return logits ``(B, num_classes)`` (or ``features`` if ``pre_logits``)."""
        return features if pre_logits else self.fc(features)

    def get_classifier(self) -> nn.Linear:
        """Return the output layer."""
        return self.fc


@register_model
def mlp(**kwargs: Any) -> MLP:
    """MLP of seed 001 sec. 9.1.2: 140 inputs, 5 x 512 ReLU, dropout 0.5, 3 classes."""
    defaults = {"hidden_dims": (512,) * 5, "drop_rate": 0.5}
    return build_model(MLP, defaults, kwargs, name="mlp")
