"""atx: the astronomical-transient Xception (seed 003, chapter 3).

Seed 003 classifies PLAsTiCC light curves -- Gaussian-process interpolated
to L = 100 regular steps in M = 6 passbands -- with a 1D version of
Chollet's (2017) Xception: entry, middle and exit flows built from
depthwise-separable convolutions, each convolution followed by batch
normalisation, residual connections around every block, max pooling, global
average pooling and a final linear layer. Three hyper-parameters adapt it to
small data sets (Table 3.2 gives the tuned values used as defaults here):

* ``scaledown_factor`` (4): every Xception filter count is divided by it
  (32, 64, 128, 256, 728, 1024, 1536, 2048 -> 8, 16, 32, 64, 182, 256, 384,
  512);
* ``middle_repeats`` N (1): repeats of the middle flow (8 in Xception);
* ``kernel_size`` w (3) and ``pool_size`` (3).

Extra features such as redshift and its error are concatenated to the
pooled features just before the linear layer (seed 003 sec. 3.4.3), so the
convolutions see the time series alone.

Padding is "same" throughout, so any L works and each stride-2 stage halves
the length (rounding up): L = 100 gives a 4-step final feature map.
Parameters per layer follow eqs. 3.17-3.19: ``w d_in + d_in d_out`` for a
separable convolution, ``w d_in d_out`` for a normal one (no biases: the
batch-norm offset takes their role), two trainable and two running
statistics per batch-normalised channel, and ``d C + C`` for the linear
layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from skysift.models._base import SkysiftModel, check_positive_int
from skysift.models._registry import build_model, register_model
from skysift.models.layers import (
    Conv1dSame,
    GlobalPoolHead,
    MaxPool1dSame,
    SeparableConv1d,
)

__all__ = ["ATX"]


def _scaled(filters: int, factor: int) -> int:
    """Divide an Xception filter count by the scaledown factor (at least 1)."""
    return max(1, filters // factor)


class _SepConvBN(nn.Sequential):
    """Optional ReLU, separable convolution, batch normalisation."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, *, relu_first: bool
    ) -> None:
        layers: list[nn.Module] = [nn.ReLU()] if relu_first else []
        layers += [
            SeparableConv1d(in_channels, out_channels, kernel_size),
            nn.BatchNorm1d(out_channels),
        ]
        super().__init__(*layers)


class _DownBlock(nn.Module):
    """Two separable convolutions and stride-2 pooling; 1x1 strided shortcut."""

    def __init__(
        self,
        in_channels: int,
        mid_channels: int,
        out_channels: int,
        kernel_size: int,
        pool_size: int,
        *,
        relu_first: bool = True,
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _SepConvBN(in_channels, mid_channels, kernel_size, relu_first=relu_first),
            _SepConvBN(mid_channels, out_channels, kernel_size, relu_first=True),
            MaxPool1dSame(pool_size, stride=2),
        )
        self.shortcut = nn.Sequential(
            nn.Conv1d(in_channels, out_channels, 1, stride=2, bias=False),
            nn.BatchNorm1d(out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C_in, L) -> (B, C_out, ceil(L / 2))."""
        return self.body(x) + self.shortcut(x)


class _MiddleBlock(nn.Module):
    """Three ReLU-separable-convolution-BN units with an identity shortcut."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *(
                _SepConvBN(channels, channels, kernel_size, relu_first=True)
                for _ in range(3)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, L) -> (B, C, L)."""
        return x + self.body(x)


class ATX(SkysiftModel):
    """Astronomical-transient Xception for multivariate time series.

    Parameters
    ----------
    num_classes : int, default 14
        Output width (PLAsTiCC has 14 classes without class 99).
    in_channels : int, default 6
        Passbands M.
    input_length : int, default 100
        Time steps L, recorded for :attr:`input_shape`; any length works.
    num_extra_features : int, default 0
        Extra features R (seed 003 uses 2: redshift and its error).
    kernel_size : int, default 3
        Kernel width w of every convolution except the 1x1 shortcuts.
    pool_size : int, default 3
        Max-pooling window (stride 2).
    scaledown_factor : int, default 4
        Divisor of the Xception filter counts.
    middle_repeats : int, default 1
        Number N of middle-flow blocks.
    stem_filters : sequence of int, default (32, 64)
        Xception entry convolutions (before scaling).
    entry_filters : sequence of int, default (128, 256, 728)
        Xception entry-flow blocks (before scaling); the last also sets the
        middle-flow width.
    exit_filters : sequence of int, default (728, 1024)
        The two separable convolutions of the exit-flow block.
    head_filters : sequence of int, default (1536, 2048)
        The two separable convolutions after the exit-flow block.
    drop_rate : float, default 0.0
        Dropout before the final linear layer (not used in seed 003).

    Notes
    -----
    Input ``x``: light curves ``(B, L, M)``; ``extra``: ``(B, R)``.
    :meth:`forward_features` returns the last feature map
    ``(B, 512, ceil(L / 32))`` before global average pooling, so a class
    activation map is ``einsum("k,bkl->bl", W[c, :512], features)``;
    :meth:`forward_head` pools, appends ``extra`` and applies the linear
    layer, whose last R input columns weigh the extra features.

    Examples
    --------
    >>> import torch
    >>> from skysift.models import create_model
    >>> model = create_model("atx", num_classes=14, in_channels=6, num_extra_features=2)
    >>> x, z = torch.randn(4, 100, 6), torch.randn(4, 2)
    >>> model.forward_features(x, z).shape
    torch.Size([4, 512, 4])
    >>> model(x, z).shape
    torch.Size([4, 14])
    """

    def __init__(
        self,
        *,
        num_classes: int = 14,
        in_channels: int = 6,
        input_length: int = 100,
        num_extra_features: int = 0,
        kernel_size: int = 3,
        pool_size: int = 3,
        scaledown_factor: int = 4,
        middle_repeats: int = 1,
        stem_filters: Sequence[int] = (32, 64),
        entry_filters: Sequence[int] = (128, 256, 728),
        exit_filters: Sequence[int] = (728, 1024),
        head_filters: Sequence[int] = (1536, 2048),
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.input_length = check_positive_int("input_length", input_length)
        if num_extra_features < 0:
            raise ValueError(
                f"num_extra_features must be >= 0, got {num_extra_features}"
            )
        self.num_extra_features = num_extra_features
        for name, value in (
            ("kernel_size", kernel_size),
            ("pool_size", pool_size),
            ("scaledown_factor", scaledown_factor),
        ):
            check_positive_int(name, value)
        if isinstance(middle_repeats, bool) or middle_repeats < 0:
            raise ValueError(f"middle_repeats must be >= 0, got {middle_repeats!r}")
        for name, seq, size in (
            ("stem_filters", stem_filters, 2),
            ("exit_filters", exit_filters, 2),
            ("head_filters", head_filters, 2),
        ):
            if len(seq) != size:
                raise ValueError(f"{name} must have {size} entries, got {tuple(seq)}")
        if not entry_filters:
            raise ValueError("entry_filters must list at least one block")
        self.input_shape = (input_length, in_channels)
        self.kernel_size = kernel_size
        self.pool_size = pool_size
        self.scaledown_factor = scaledown_factor

        def s(f: int) -> int:
            return _scaled(check_positive_int("filters", f), scaledown_factor)

        stem1, stem2 = (s(f) for f in stem_filters)
        self.entry_stem = nn.Sequential(
            Conv1dSame(in_channels, stem1, kernel_size, stride=2, bias=False),
            nn.BatchNorm1d(stem1),
            nn.ReLU(),
            Conv1dSame(stem1, stem2, kernel_size, bias=False),
            nn.BatchNorm1d(stem2),
            nn.ReLU(),
        )
        blocks = []
        channels = stem2
        for i, f in enumerate(entry_filters):
            # The stem already ends in ReLU, so the first block starts with a conv.
            blocks.append(
                _DownBlock(
                    channels, s(f), s(f), kernel_size, pool_size, relu_first=i > 0
                )
            )
            channels = s(f)
        self.entry_blocks = nn.Sequential(*blocks)
        self.middle_flow = nn.Sequential(
            *(_MiddleBlock(channels, kernel_size) for _ in range(middle_repeats))
        )
        exit1, exit2 = (s(f) for f in exit_filters)
        head1, head2 = (s(f) for f in head_filters)
        self.exit_block = _DownBlock(channels, exit1, exit2, kernel_size, pool_size)
        self.exit_convs = nn.Sequential(
            SeparableConv1d(exit2, head1, kernel_size),
            nn.BatchNorm1d(head1),
            nn.ReLU(),
            SeparableConv1d(head1, head2, kernel_size),
            nn.BatchNorm1d(head2),
            nn.ReLU(),
        )
        self.head = GlobalPoolHead(
            head2,
            num_classes,
            num_extra_features=num_extra_features,
            drop_rate=drop_rate,
        )
        self.num_features = self.head.num_features

    def forward_features(
        self, x: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the exit-flow feature map ``(B, K, L')`` before pooling.

        ``extra`` is accepted for a uniform signature and ignored here: atx
        uses it only in :meth:`forward_head`.
        """
        if x.ndim != 3 or x.shape[2] != self.in_channels:
            raise ValueError(
                f"atx expects light curves of shape (B, L, {self.in_channels}), "
                f"got {tuple(x.shape)}"
            )
        x = x.transpose(1, 2)  # (B, L, M) -> (B, M, L)
        x = self.entry_stem(x)
        x = self.entry_blocks(x)
        x = self.middle_flow(x)
        x = self.exit_block(x)
        return self.exit_convs(x)  # (B, K, L')

    def forward_head(
        self,
        features: torch.Tensor,
        extra: torch.Tensor | None = None,
        *,
        pre_logits: bool = False,
    ) -> torch.Tensor:
        """Pool, append ``extra`` ``(B, R)`` and return logits ``(B, num_classes)``."""
        return self.head(features, extra, pre_logits=pre_logits)

    def get_classifier(self) -> nn.Linear:
        """Return the final linear layer (inputs: K pooled features, then R extras)."""
        return self.head.fc


@register_model
def atx(**kwargs: Any) -> ATX:
    """Build atx with seed 003 Table 3.2 values (w=3, N=1, pool 3, scaledown 4)."""
    defaults = {
        "kernel_size": 3,
        "middle_repeats": 1,
        "pool_size": 3,
        "scaledown_factor": 4,
    }
    return build_model(ATX, defaults, kwargs, name="atx")
