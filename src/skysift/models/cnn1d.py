"""One-dimensional convolutional networks for spectra (seeds 001 and 002).

``vgg1d`` -- seed 001, sec. 9.1.3 and Fig. 9.1: a VGG-like network on
140-point spectra: two unpadded width-3 convolutions with 64 filters, max
pooling 2/2, two with 128, pooling, two with 256, pooling, then two fully
connected layers of 512 units with dropout 0.5 and the output layer; ReLU
everywhere.

``cnn1d_strided`` -- seed 002, Table 1: SDSS star / galaxy / QSO / BAL-QSO
classification of 443-pixel spectra with four convolutions of 100 filters,
kernel 10 and stride 2, each followed by ReLU and max pooling of width 2;
dropout 0.1, a 16-unit linear layer with ReLU and batch normalisation,
dropout 0.1, and a 4-class output.

``cnn1d_strided_regressor`` -- seed 002, Table 3: the same design for QSO
redshift regression with 64, 128, 256 and 256 filters, dropout 0.5, linear
layers of 128 (ReLU, batch norm) and 16 (ReLU) units, dropout 0.5 and one
output, trained with MSE.

Seed 002 lists a pooling stride of 2 in Table 1 and of 1 in Table 3, but
both tables give the flattened width the pooling stride of 1 produces on 443
pixels: 100 x 18 = 1800 (Table 1) and 256 x 18 = 4608 (Table 3). With a
stride of 2 the fourth convolution would receive only 4 samples, fewer than
its kernel of 10, so ``pool_stride`` defaults to 1 for both variants.
"""

from __future__ import annotations

from collections.abc import Sequence
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

__all__ = ["StridedCNN1d", "VGG1d", "conv_output_length"]


def conv_output_length(length: int, kernel_size: int, stride: int = 1) -> int:
    """Return the output length of an unpadded convolution or pooling window.

    Examples
    --------
    >>> conv_output_length(443, kernel_size=10, stride=2)
    217
    """
    return (length - kernel_size) // stride + 1


class VGG1d(SkysiftModel):
    """VGG-like 1D CNN (seed 001 Fig. 9.1).

    Parameters
    ----------
    num_classes : int, default 3
        Output width.
    in_channels : int, default 1
        Channels per pixel.
    input_length : int, default 140
        Pixels per spectrum L.
    stage_channels : sequence of int, default (64, 128, 256)
        Filters of each stage; every stage is ``convs_per_stage`` unpadded
        convolutions followed by max pooling.
    convs_per_stage : int, default 2
        Convolutions per stage.
    kernel_size : int, default 3
        Convolution width.
    pool_size : int, default 2
        Max-pooling width and stride.
    fc_dims : sequence of int, default (512, 512)
        Fully connected layers before the output, each with ReLU and dropout.
    drop_rate : float, default 0.5
        Dropout after each fully connected layer.

    Raises
    ------
    ValueError
        If ``input_length`` is too short to survive the unpadded
        convolutions and poolings.

    Notes
    -----
    Input ``x``: ``(B, L)`` or ``(B, C, L)``. :meth:`forward_features`
    returns the last pooled feature map ``(B, 256, L')`` (``L' = 14`` for
    L = 140); :meth:`forward_head` flattens it and applies the fully
    connected layers.

    Examples
    --------
    >>> import torch
    >>> from skysift.models import create_model
    >>> model = create_model("vgg1d", num_classes=3)
    >>> model.forward_features(torch.randn(2, 140)).shape
    torch.Size([2, 256, 14])
    >>> model(torch.randn(2, 140)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        *,
        num_classes: int = 3,
        in_channels: int = 1,
        input_length: int = 140,
        stage_channels: Sequence[int] = (64, 128, 256),
        convs_per_stage: int = 2,
        kernel_size: int = 3,
        pool_size: int = 2,
        fc_dims: Sequence[int] = (512, 512),
        drop_rate: float = 0.5,
    ) -> None:
        super().__init__()
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.input_length = check_positive_int("input_length", input_length)
        check_positive_int("convs_per_stage", convs_per_stage)
        check_positive_int("kernel_size", kernel_size)
        check_positive_int("pool_size", pool_size)
        drop_rate = check_rate("drop_rate", drop_rate)
        self.input_shape = (in_channels, input_length)

        layers: list[nn.Module] = []
        channels, length = in_channels, input_length
        for width in stage_channels:
            check_positive_int("stage_channels", width)
            for _ in range(convs_per_stage):
                layers += [nn.Conv1d(channels, width, kernel_size), nn.ReLU()]
                channels, length = width, conv_output_length(length, kernel_size)
            layers.append(nn.MaxPool1d(pool_size, pool_size))
            length = conv_output_length(length, pool_size, pool_size)
            if length < 1:
                raise ValueError(
                    f"input_length={input_length} is too short for vgg1d with "
                    f"{len(stage_channels)} stages of {convs_per_stage} unpadded "
                    f"width-{kernel_size} convolutions and pooling {pool_size}"
                )
        self.features = nn.Sequential(*layers)
        self.feature_shape = (channels, length)

        fc: list[nn.Module] = []
        width_in = channels * length
        for width in fc_dims:
            check_positive_int("fc_dims", width)
            fc += [nn.Linear(width_in, width), nn.ReLU(), nn.Dropout(drop_rate)]
            width_in = width
        self.fc = nn.Sequential(*fc)
        self.num_features = width_in
        self.classifier = nn.Linear(width_in, num_classes)

    def forward_features(
        self, x: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the last pooled feature map ``(B, C', L')``."""
        x = as_spectra_batch(
            x,
            in_channels=self.in_channels,
            input_length=self.input_length,
            model_name="vgg1d",
        )
        return self.features(x)

    def forward_head(
        self,
        features: torch.Tensor,
        extra: torch.Tensor | None = None,
        *,
        pre_logits: bool = False,
    ) -> torch.Tensor:
        """Flatten, apply the fully connected layers and return ``(B, num_classes)``."""
        x = self.fc(features.flatten(1))  # (B, C', L') -> (B, C' * L')
        return x if pre_logits else self.classifier(x)

    def get_classifier(self) -> nn.Linear:
        """Return the output layer."""
        return self.classifier


class StridedCNN1d(SkysiftModel):
    """Strided 1D CNN for spectra classification or regression (seed 002).

    Parameters
    ----------
    num_classes : int, default 4
        Output width (classes, or regression targets for a regressor).
    in_channels : int, default 1
        Channels per pixel (seed 002 feeds the flux only; its inverse-variance
        weights go into the normalisation).
    input_length : int, default 443
        Pixels per spectrum L.
    conv_channels : sequence of int, default (100, 100, 100, 100)
        Filters of each convolution.
    kernel_size : int, default 10
        Convolution width.
    stride : int, default 2
        Convolution stride.
    pool_size : int, default 2
        Max-pooling width after each convolution.
    pool_stride : int, default 1
        Max-pooling stride (see the module notes on seed 002's tables).
    fc_dims : sequence of int, default (16,)
        Hidden linear layers. The first is followed by ReLU and batch
        normalisation, later ones by ReLU.
    drop_rate : float, default 0.1
        Dropout before the first and before the last linear layer.
    task : {"classification", "regression"}, default "classification"
        Whether outputs are logits or regression values; informs training
        code, the network is the same.

    Notes
    -----
    Input ``x``: ``(B, L)`` or ``(B, C, L)``. :meth:`forward_features`
    returns the last pooled map ``(B, 100, 18)`` for L = 443;
    :meth:`forward_head` flattens it and applies the linear layers.

    Examples
    --------
    >>> import torch
    >>> from skysift.models import create_model
    >>> model = create_model("cnn1d_strided", num_classes=4)
    >>> model.classifier_input_width, model(torch.randn(2, 443)).shape
    (1800, torch.Size([2, 4]))
    >>> reg = create_model("cnn1d_strided_regressor")
    >>> reg.task, reg.classifier_input_width, reg(torch.randn(2, 443)).shape
    ('regression', 4608, torch.Size([2, 1]))
    """

    def __init__(
        self,
        *,
        num_classes: int = 4,
        in_channels: int = 1,
        input_length: int = 443,
        conv_channels: Sequence[int] = (100, 100, 100, 100),
        kernel_size: int = 10,
        stride: int = 2,
        pool_size: int = 2,
        pool_stride: int = 1,
        fc_dims: Sequence[int] = (16,),
        drop_rate: float = 0.1,
        task: str = "classification",
    ) -> None:
        super().__init__()
        if task not in ("classification", "regression"):
            raise ValueError(
                f"task must be 'classification' or 'regression', got {task!r}"
            )
        self.task = task  # type: ignore[misc]  # instance value overrides the ClassVar
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.input_length = check_positive_int("input_length", input_length)
        for name, value in (
            ("kernel_size", kernel_size),
            ("stride", stride),
            ("pool_size", pool_size),
            ("pool_stride", pool_stride),
        ):
            check_positive_int(name, value)
        drop_rate = check_rate("drop_rate", drop_rate)
        if not fc_dims:
            raise ValueError("fc_dims must list at least one hidden layer width")
        self.input_shape = (in_channels, input_length)

        layers: list[nn.Module] = []
        channels, length = in_channels, input_length
        for width in conv_channels:
            check_positive_int("conv_channels", width)
            layers += [
                nn.Conv1d(channels, width, kernel_size, stride=stride),
                nn.ReLU(),
                nn.MaxPool1d(pool_size, pool_stride),
            ]
            length = conv_output_length(length, kernel_size, stride)
            length = conv_output_length(length, pool_size, pool_stride)
            channels = width
            if length < 1:
                raise ValueError(
                    f"input_length={input_length} is too short for "
                    f"{len(conv_channels)} convolutions of width {kernel_size}, "
                    f"stride {stride}, each pooled by {pool_size}/{pool_stride}"
                )
        self.features = nn.Sequential(*layers)
        self.feature_shape = (channels, length)
        self.classifier_input_width = channels * length

        head: list[nn.Module] = [nn.Dropout(drop_rate)]
        width_in = self.classifier_input_width
        for i, width in enumerate(fc_dims):
            check_positive_int("fc_dims", width)
            head += [nn.Linear(width_in, width), nn.ReLU()]
            if i == 0:
                head.append(nn.BatchNorm1d(width))
            width_in = width
        head.append(nn.Dropout(drop_rate))
        self.head = nn.Sequential(*head)
        self.num_features = width_in
        self.classifier = nn.Linear(width_in, num_classes)

    def forward_features(
        self, x: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the last pooled feature map ``(B, C', L')``."""
        x = as_spectra_batch(
            x,
            in_channels=self.in_channels,
            input_length=self.input_length,
            model_name=type(self).__name__,
        )
        return self.features(x)

    def forward_head(
        self,
        features: torch.Tensor,
        extra: torch.Tensor | None = None,
        *,
        pre_logits: bool = False,
    ) -> torch.Tensor:
        """Flatten, apply the linear layers and return ``(B, num_classes)``."""
        x = self.head(features.flatten(1))  # (B, C', L') -> (B, C' * L')
        return x if pre_logits else self.classifier(x)

    def get_classifier(self) -> nn.Linear:
        """Return the output layer."""
        return self.classifier


@register_model
def vgg1d(**kwargs: Any) -> VGG1d:
    """VGG-like 1D CNN of seed 001 Fig. 9.1 (140 pixels, 3 classes)."""
    defaults = {
        "stage_channels": (64, 128, 256),
        "convs_per_stage": 2,
        "kernel_size": 3,
        "pool_size": 2,
        "fc_dims": (512, 512),
        "drop_rate": 0.5,
    }
    return build_model(VGG1d, defaults, kwargs, name="vgg1d")


@register_model
def cnn1d_strided(**kwargs: Any) -> StridedCNN1d:
    """Strided 1D CNN classifier of seed 002 Table 1 (443 pixels, 4 classes)."""
    defaults = {
        "num_classes": 4,
        "conv_channels": (100, 100, 100, 100),
        "kernel_size": 10,
        "stride": 2,
        "pool_size": 2,
        "pool_stride": 1,
        "fc_dims": (16,),
        "drop_rate": 0.1,
        "task": "classification",
    }
    return build_model(StridedCNN1d, defaults, kwargs, name="cnn1d_strided")


@register_model
def cnn1d_strided_regressor(**kwargs: Any) -> StridedCNN1d:
    """Strided 1D CNN redshift regressor of seed 002 Table 3 (443 pixels, 1 output)."""
    defaults = {
        "num_classes": 1,
        "conv_channels": (64, 128, 256, 256),
        "kernel_size": 10,
        "stride": 2,
        "pool_size": 2,
        "pool_stride": 1,
        "fc_dims": (128, 16),
        "drop_rate": 0.5,
        "task": "regression",
    }
    return build_model(StridedCNN1d, defaults, kwargs, name="cnn1d_strided_regressor")
