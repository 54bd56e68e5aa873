"""Convolution building blocks: "same" padding and depthwise-separable 1D convolution.

The depthwise-separable convolution follows seed 003 sec. 3.3.1 (after
Chollet 2017): a depthwise convolution of width ``w`` over each channel,
then a pointwise (1 x 1) convolution mixing channels, with
``w * d_in + d_in * d_out`` weights (eq. 3.17 without its batch norm).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Conv1dSame", "MaxPool1dSame", "SeparableConv1d", "pad_same_1d"]


def pad_same_1d(
    x: torch.Tensor, kernel_size: int, stride: int = 1, value: float = 0.0
) -> torch.Tensor:
    """Pad the last axis so that windows give ``ceil(L / stride)`` outputs.

    This is TensorFlow's ``padding="same"``: the total padding is split as
    evenly as possible with the extra element on the right, which also works
    for even kernels and strides > 1 where a symmetric ``padding=`` argument
    cannot.

    Parameters
    ----------
    x : torch.Tensor of shape (B, C, L)
        Input sequence.
    kernel_size : int
        Window width.
    stride : int, default 1
        Window stride.
    value : float, default 0.0
        Fill value (``-inf`` for max pooling).

    Returns
    -------
    torch.Tensor of shape (B, C, L + pad)
        Padded sequence.

    Examples
    --------
    >>> import torch
    >>> pad_same_1d(torch.ones(1, 1, 5), kernel_size=3, stride=2).shape
    torch.Size([1, 1, 7])
    """
    length = x.shape[-1]
    out_length = math.ceil(length / stride)
    total = max((out_length - 1) * stride + kernel_size - length, 0)
    if total == 0:
        return x
    left = total // 2
    return F.pad(x, (left, total - left), value=value)


class Conv1dSame(nn.Conv1d):
    """:class:`torch.nn.Conv1d` with TensorFlow-style "same" padding.

    The output length is ``ceil(L / stride)`` for any kernel size and stride.
    Accepts the arguments of :class:`torch.nn.Conv1d` except ``padding``.

    Examples
    --------
    >>> import torch
    >>> conv = Conv1dSame(6, 8, kernel_size=3, stride=2, bias=False)
    >>> conv(torch.zeros(2, 6, 101)).shape
    torch.Size([2, 8, 51])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        *,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=0,
            groups=groups,
            bias=bias,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve ``(B, C_in, L)`` into ``(B, C_out, ceil(L / stride))``."""
        x = pad_same_1d(x, self.kernel_size[0], self.stride[0])
        return super().forward(x)


class MaxPool1dSame(nn.Module):
    """Max pooling whose output length is ``ceil(L / stride)`` (padding with -inf).

    Parameters
    ----------
    kernel_size : int
        Pooling window (seed 003's ``pool_size``).
    stride : int, default 2
        Window stride.

    Examples
    --------
    >>> import torch
    >>> MaxPool1dSame(3, stride=2)(torch.zeros(1, 4, 25)).shape
    torch.Size([1, 4, 13])
    """

    def __init__(self, kernel_size: int, stride: int = 2) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pool ``(B, C, L)`` into ``(B, C, ceil(L / stride))``."""
        x = pad_same_1d(x, self.kernel_size, self.stride, value=float("-inf"))
        return F.max_pool1d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        """Describe the window."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class SeparableConv1d(nn.Module):
    """1D depthwise-separable convolution (seed 003 sec. 3.3.1, fig. 3.5).

    A depthwise convolution of width ``kernel_size`` applied to each input
    channel separately (channel multiplier 1), followed by a pointwise
    convolution mixing the channels. Stride 1 and "same" padding, so the
    sequence length is unchanged.

    Parameters
    ----------
    in_channels : int
        Number of input channels ``d_in``.
    out_channels : int
        Number of output channels ``d_out``.
    kernel_size : int
        Width ``w`` of the depthwise kernel.
    bias : bool, default False
        Add a bias to the pointwise convolution. Off by default because the
        layer is normally followed by batch normalisation, whose offset beta
        subsumes it (seed 003 sec. 3.4.4).

    Examples
    --------
    >>> import torch
    >>> conv = SeparableConv1d(16, 32, kernel_size=3)
    >>> conv(torch.zeros(2, 16, 50)).shape
    torch.Size([2, 32, 50])
    >>> sum(p.numel() for p in conv.parameters()) == 3 * 16 + 16 * 32
    True
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.depthwise = Conv1dSame(
            in_channels, in_channels, kernel_size, groups=in_channels, bias=False
        )
        self.pointwise = nn.Conv1d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve ``(B, d_in, L)`` into ``(B, d_out, L)``."""
        return self.pointwise(self.depthwise(x))
