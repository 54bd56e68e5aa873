"""Classifier heads shared by the architectures.

:class:`GlobalPoolHead` is global average pooling followed by one linear
layer, the ending that makes class activation maps possible (Zhou et al.
2016; seed 003 sec. 4.3.4): with pre-pooling features ``f_k(l)`` and final
weights ``w_k^c``, the map of class ``c`` is ``M_c(l) = sum_k w_k^c f_k(l)``
(seed 003 eq. 4.11).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GlobalPoolHead"]


class GlobalPoolHead(nn.Module):
    """Global average pooling, optional extra features, dropout, linear layer.

    Parameters
    ----------
    in_features : int
        Channels K of the feature map.
    num_classes : int
        Output width C.
    num_extra_features : int, default 0
        Number R of extra features concatenated after pooling, before the
        linear layer (atx's exit flow, seed 003 sec. 3.4.3).
    drop_rate : float, default 0.0
        Dropout before the linear layer.

    Examples
    --------
    >>> import torch
    >>> head = GlobalPoolHead(512, 14, num_extra_features=2)
    >>> head(torch.zeros(3, 512, 4), torch.zeros(3, 2)).shape
    torch.Size([3, 14])
    >>> head.fc.in_features
    514
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        num_extra_features: int = 0,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_extra_features = num_extra_features
        self.drop = nn.Dropout(drop_rate)
        self.fc = nn.Linear(in_features + num_extra_features, num_classes)

    @property
    def num_features(self) -> int:
        """Width of the vector entering the linear layer (K + R)."""
        return self.fc.in_features

    def forward(
        self,
        features: torch.Tensor,
        extra: torch.Tensor | None = None,
        *,
        pre_logits: bool = False,
    ) -> torch.Tensor:
        """Pool ``(B, K, *spatial)`` features and return logits ``(B, C)``.

        With ``pre_logits=True`` return the pooled (and extended) vector
        ``(B, K + R)`` instead.
        """
        x = features.flatten(2).mean(dim=-1)  # (B, K, *S) -> (B, K)
        if self.num_extra_features:
            x = torch.cat([x, extra.to(x.dtype)], dim=1)  # (B, K + R)
        if pre_logits:
            return x
        return self.fc(self.drop(x))
