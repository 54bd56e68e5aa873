"""t2: the time-series transformer (seed 003, chapter 4).

Seed 003's t2 classifies Gaussian-process interpolated light curves
``X in R^{L x M}`` (L = 100 steps, M = 6 passbands):

1. R extra features (redshift and its error) are appended along time,
   ``L' = L + R``: each feature becomes one extra time step holding the
   feature's value in every passband (sec. 4.3.5), so attention can weigh it
   and a class activation map covers it;
2. a 1 x 1 convolutional embedding with ReLU maps the M passbands of each
   step to d dimensions (sec. 4.3.2);
3. the sine/cosine positional encoding is added (eq. 4.9);
4. N transformer blocks with multi-head self-attention (h heads) and a
   feed-forward network of width d_ff, each sub-layer followed by dropout,
   a residual sum and layer normalisation (eq. 4.8);
5. global average pooling over the L' steps and a linear layer.

Defaults are Table 4.1's tuned values: d = 32, h = 16, d_ff = 128, N = 1,
dropout 0.1. Because the pooled features go straight into the linear
layer, the class activation map ``M_c(l) = sum_k w_k^c f_k(l)`` (eq. 4.11)
comes from :meth:`T2.forward_features` and the classifier weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from skysift.models._base import SkysiftModel, check_positive_int, check_rate
from skysift.models._registry import build_model, register_model
from skysift.models.layers import (
    GlobalPoolHead,
    SinusoidalPositionalEncoding,
    TransformerBlock,
)

__all__ = ["T2"]


class T2(SkysiftModel):
    """Time-series transformer with convolutional embedding and global average pooling.

    Parameters
    ----------
    num_classes : int, default 14
        Output width (PLAsTiCC has 14 classes without class 99).
    in_channels : int, default 6
        Passbands M.
    input_length : int, default 100
        Time steps L, recorded for :attr:`input_shape`; any length works.
    num_extra_features : int, default 0
        Extra features R appended along time (seed 003 uses 2).
    d_model : int, default 32
        Embedding dimension d.
    num_heads : int, default 16
        Attention heads h; must divide ``d_model``.
    ff_dim : int, default 128
        Feed-forward width d_ff.
    depth : int, default 1
        Number N of transformer blocks.
    drop_rate : float, default 0.1
        Dropout inside the blocks (seed 003's ``droprate``).
    extra_at : {"time", "head", "both"}, default "time"
        Where the extra features enter: as R extra time steps (seed 003),
        concatenated to the pooled vector before the linear layer (as atx
        does), or both.

    Notes
    -----
    Input ``x``: ``(B, L, M)``; ``extra``: ``(B, R)``. Output ``(B, C)``.
    :meth:`forward_features` returns ``(B, d, L + R)`` before pooling (time
    last, like the CNNs); :meth:`forward_head` pools and applies the linear
    layer. :meth:`attention_maps` returns every block's attention weights.

    Examples
    --------
    >>> import torch
    >>> from skysift.models import create_model
    >>> model = create_model("t2", num_classes=14, in_channels=6, num_extra_features=2)
    >>> x, z = torch.randn(4, 100, 6), torch.randn(4, 2)
    >>> model.forward_features(x, z).shape
    torch.Size([4, 32, 102])
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
        d_model: int = 32,
        num_heads: int = 16,
        ff_dim: int = 128,
        depth: int = 1,
        drop_rate: float = 0.1,
        extra_at: str = "time",
    ) -> None:
        super().__init__()
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.input_length = check_positive_int("input_length", input_length)
        if isinstance(num_extra_features, bool) or num_extra_features < 0:
            raise ValueError(
                f"num_extra_features must be >= 0, got {num_extra_features!r}"
            )
        self.num_extra_features = num_extra_features
        self.d_model = check_positive_int("d_model", d_model)
        check_positive_int("num_heads", num_heads)
        check_positive_int("ff_dim", ff_dim)
        check_positive_int("depth", depth)
        drop_rate = check_rate("drop_rate", drop_rate)
        if extra_at not in ("time", "head", "both"):
            raise ValueError(f"extra_at must be 'time', 'head' or 'both', got {extra_at!r}")
        self.extra_at = extra_at
        #: extra features appended along time (the last positions of the feature map)
        self.extra_steps = num_extra_features if extra_at in ("time", "both") else 0
        self.input_shape = (input_length, in_channels)

        self.embedding = nn.Conv1d(in_channels, d_model, kernel_size=1)
        self.embedding_act = nn.ReLU()
        self.pos_encoding = SinusoidalPositionalEncoding(d_model)
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, num_heads, ff_dim, drop_rate=drop_rate)
            for _ in range(depth)
        )
        self.head = GlobalPoolHead(
            d_model,
            num_classes,
            num_extra_features=num_extra_features if extra_at in ("head", "both") else 0,
        )
        self.num_features = self.head.num_features

    def _embed(self, x: torch.Tensor, extra: torch.Tensor | None) -> torch.Tensor:
        """Append extra features along time and embed: returns ``(B, L', d)``."""
        if x.ndim != 3 or x.shape[2] != self.in_channels:
            raise ValueError(
                f"t2 expects light curves of shape (B, L, {self.in_channels}), "
                f"got {tuple(x.shape)}"
            )
        self._check_extra(x, extra)
        x = x.transpose(1, 2)  # (B, L, M) -> (B, M, L)
        if self.extra_steps:
            # Each feature becomes one time step, repeated in every passband.
            steps = (
                extra.to(x.dtype).unsqueeze(1).expand(-1, x.shape[1], -1)
            )  # (B, M, R)
            x = torch.cat([x, steps], dim=2)  # (B, M, L + R)
        x = self.embedding_act(self.embedding(x))  # (B, d, L')
        return self.pos_encoding(x.transpose(1, 2))  # (B, L', d)

    def forward_features(
        self, x: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the transformer output as ``(B, d, L')`` before pooling (L' = L + extra_steps)."""
        x = self._embed(x, extra)
        for block in self.blocks:
            x = block(x)
        return x.transpose(1, 2)  # (B, L', d) -> (B, d, L')

    def forward_head(
        self,
        features: torch.Tensor,
        extra: torch.Tensor | None = None,
        *,
        pre_logits: bool = False,
    ) -> torch.Tensor:
        """Average over time (append ``extra`` if it enters here); logits ``(B, C)``."""
        return self.head(features, extra, pre_logits=pre_logits)

    def get_classifier(self) -> nn.Linear:
        """Return the final linear layer."""
        return self.head.fc

    @torch.no_grad()
    def attention_maps(
        self, x: torch.Tensor, extra: torch.Tensor | None = None
    ) -> list[torch.Tensor]:
        """Return the attention weights of every block.

        Parameters
        ----------
        x : torch.Tensor of shape (B, L, M)
            Light curves.
        extra : torch.Tensor of shape (B, R), optional
            Extra features, as for :meth:`forward`.

        Returns
        -------
        list of torch.Tensor of shape (B, h, L', L')
            One entry per block; the last R positions are the extra features.
        """
        maps = []
        tokens = self._embed(x, extra)
        for block in self.blocks:
            maps.append(block.attention_weights(tokens))
            tokens = block(tokens)
        return maps


@register_model
def t2(**kwargs: Any) -> T2:
    """t2 with seed 003 Table 4.1 values: d=32, h=16, d_ff=128, N=1, dropout 0.1."""
    defaults = {
        "d_model": 32,
        "num_heads": 16,
        "ff_dim": 128,
        "depth": 1,
        "drop_rate": 0.1,
    }
    return build_model(T2, defaults, kwargs, name="t2")
