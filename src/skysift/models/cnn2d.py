"""Two-dimensional CNN on spectra folded into square images (seed 000).

Seed 000 (DESI supernova spectra, 6 types) rebins each spectrum to 3600
pixels, min-max scales it and folds it into a square 60 x 60 array that a
vision-style CNN classifies. The seed does not list that CNN's layers, so
this is a compact design of our own in the same spirit: stages of 3 x 3
convolution, batch normalisation, ReLU and 2 x 2 max pooling, then global
average pooling and one linear layer, which keeps class activation maps
available.

Folding: a spectrum of L pixels is padded with zeros at the red end to
S * S pixels, ``S = ceil(sqrt(L))``, and reshaped row by row, so row ``r``
holds pixels ``r * S .. r * S + S - 1`` (3600 pixels give exactly 60 x 60).
Zero is the floor of min-max scaled flux, so the padding reads as no signal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from skysift.models._base import SkysiftModel, check_positive_int, check_rate
from skysift.models._registry import build_model, register_model
from skysift.models.layers import GlobalPoolHead

__all__ = ["CNN2d", "fold_to_square"]


def fold_to_square(x: torch.Tensor) -> torch.Tensor:
    """Fold spectra ``(B, C, L)`` into images ``(B, C, S, S)``, S = ceil(sqrt(L)).

    Parameters
    ----------
    x : torch.Tensor of shape (B, C, L)
        Spectra.

    Returns
    -------
    torch.Tensor of shape (B, C, S, S)
        Row-major fold, zero-padded at the end of the spectrum.

    Examples
    --------
    >>> import torch
    >>> fold_to_square(torch.arange(5.0).reshape(1, 1, 5))
    tensor([[[[0., 1., 2.],
              [3., 4., 0.],
              [0., 0., 0.]]]])
    """
    batch, channels, length = x.shape
    side = math.isqrt(length - 1) + 1 if length > 1 else 1  # ceil(sqrt(L))
    pad = side * side - length
    if pad:
        x = F.pad(x, (0, pad))  # (B, C, S * S)
    return x.reshape(batch, channels, side, side)  # (B, C, S, S)


class CNN2d(SkysiftModel):
    """Compact 2D CNN on square-folded spectra.

    Parameters
    ----------
    num_classes : int, default 6
        Output width (seed 000: 6 supernova types).
    in_channels : int, default 1
        Channels per pixel.
    input_length : int, default 3600
        Pixels per spectrum L, recorded for :attr:`input_shape`; the network
        accepts any length (and any image size) because it ends in global
        average pooling.
    stage_channels : sequence of int, default (16, 32, 64)
        Filters of each convolution stage.
    kernel_size : int, default 3
        Convolution size (odd, padded to keep the image size).
    drop_rate : float, default 0.25
        Dropout before the linear layer.

    Notes
    -----
    Input ``x``: spectra ``(B, L)`` or ``(B, C, L)``, folded as described in
    the module docstring, or images ``(B, C, H, W)`` used as they are.
    :meth:`forward_features` returns the last feature map ``(B, 64, H', W')``
    before pooling (``8 x 8`` for 60 x 60 inputs); :meth:`forward_head`
    pools it and applies the linear layer.

    Examples
    --------
    >>> import torch
    >>> from skysift.models import create_model
    >>> model = create_model("cnn2d", num_classes=6)
    >>> model.forward_features(torch.rand(2, 3600)).shape
    torch.Size([2, 64, 8, 8])
    >>> model(torch.rand(2, 1, 60, 60)).shape
    torch.Size([2, 6])
    """

    def __init__(
        self,
        *,
        num_classes: int = 6,
        in_channels: int = 1,
        input_length: int = 3600,
        stage_channels: Sequence[int] = (16, 32, 64),
        kernel_size: int = 3,
        drop_rate: float = 0.25,
    ) -> None:
        super().__init__()
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.input_length = check_positive_int("input_length", input_length)
        if check_positive_int("kernel_size", kernel_size) % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if not stage_channels:
            raise ValueError("stage_channels must list at least one stage")
        drop_rate = check_rate("drop_rate", drop_rate)
        self.input_shape = (in_channels, input_length)

        layers: list[nn.Module] = []
        channels = in_channels
        for width in stage_channels:
            check_positive_int("stage_channels", width)
            layers += [
                nn.Conv2d(
                    channels, width, kernel_size, padding=kernel_size // 2, bias=False
                ),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                # ceil_mode keeps odd sizes (e.g. 15 -> 8) instead of dropping a row
                nn.MaxPool2d(2, 2, ceil_mode=True),
            ]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = GlobalPoolHead(channels, num_classes, drop_rate=drop_rate)
        self.num_features = self.head.num_features

    def forward_features(
        self, x: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the last feature map ``(B, C', H', W')`` before pooling."""
        if x.ndim == 2 and self.in_channels == 1:
            x = x.unsqueeze(1)  # (B, L) -> (B, 1, L)
        if x.ndim == 3 and x.shape[1] == self.in_channels:
            x = fold_to_square(x)  # (B, C, L) -> (B, C, S, S)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"cnn2d expects spectra (B, L) or (B, {self.in_channels}, L), or images"
                f" (B, {self.in_channels}, H, W); got {tuple(x.shape)}"
            )
        return self.features(x)

    def forward_head(
        self,
        features: torch.Tensor,
        extra: torch.Tensor | None = None,
        *,
        pre_logits: bool = False,
    ) -> torch.Tensor:
        """Average-pool the map and return logits ``(B, num_classes)``."""
        return self.head(features, pre_logits=pre_logits)

    def get_classifier(self) -> nn.Linear:
        """Return the output layer."""
        return self.head.fc


@register_model
def cnn2d(**kwargs: Any) -> CNN2d:
    """Compact 2D CNN on 3600-pixel spectra folded to 60 x 60 (seed 000), 6 classes."""
    defaults = {"stage_channels": (16, 32, 64), "kernel_size": 3, "drop_rate": 0.25}
    return build_model(CNN2d, defaults, kwargs, name="cnn2d")
