"""Multi-head self-attention and the transformer block.

Scaled dot-product attention with h heads (seed 003 eqs. 4.5-4.6, seed 000
eq. 3.2): four d x d linear maps W^Q, W^K, W^V, W^O with biases, so
``4 * (d * d + d)`` parameters (seed 003 sec. 4.3.6). The block is either
post-norm, ``X <- LayerNorm(X + Sublayer(X))`` as in the original
transformer and t2 (seed 003 eq. 4.8), or pre-norm,
``X <- X + Sublayer(LayerNorm(X))`` as in ViT and SpectralViT (seed 000).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FeedForward", "MultiHeadSelfAttention", "TransformerBlock"]


class MultiHeadSelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention.

    Parameters
    ----------
    dim : int
        Embedding dimension d; must be divisible by ``num_heads``.
    num_heads : int
        Number of heads h; each works in a subspace of size d / h.
    attn_drop : float, default 0.0
        Dropout on the attention weights during training.

    Raises
    ------
    ValueError
        If ``dim`` is not divisible by ``num_heads``.

    Examples
    --------
    >>> import torch
    >>> attn = MultiHeadSelfAttention(32, num_heads=16)
    >>> attn(torch.zeros(2, 102, 32)).shape
    torch.Size([2, 102, 32])
    >>> sum(p.numel() for p in attn.parameters()) == 4 * (32 * 32 + 32)
    True
    """

    def __init__(self, dim: int, num_heads: int, *, attn_drop: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(
                f"embedding dimension {dim} is not divisible by num_heads={num_heads};"
                " choose num_heads among the divisors of the dimension"
            )
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.attn_drop = attn_drop
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, d) -> (B, h, L, d / h)."""
        batch, length, _ = x.shape
        x = x.reshape(batch, length, self.num_heads, self.head_dim)  # (B, L, h, d/h)
        return x.transpose(1, 2)  # (B, h, L, d/h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend ``x`` of shape ``(B, L, d)`` to itself; returns ``(B, L, d)``."""
        q, k, v = (self._split_heads(layer(x)) for layer in (self.q, self.k, self.v))
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.0
        )  # (B, h, L, d/h)
        out = out.transpose(1, 2).reshape(x.shape)  # (B, L, d): heads concatenated
        return self.proj(out)

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Return the attention matrices ``softmax(Q K^T / sqrt(d_k))``.

        Parameters
        ----------
        x : torch.Tensor of shape (B, L, d)
            Block input (after the block's normalisation for pre-norm blocks).

        Returns
        -------
        torch.Tensor of shape (B, h, L, L)
            Row ``i`` of head ``j`` is the distribution of attention that
            position ``i`` pays to every position.
        """
        q, k = self._split_heads(self.q(x)), self._split_heads(self.k(x))
        scores = q @ k.transpose(-2, -1) / self.head_dim**0.5  # (B, h, L, L)
        return scores.softmax(dim=-1)


class FeedForward(nn.Module):
    """Position-wise feed-forward network: Linear(d, d_ff), activation, Linear(d_ff, d).

    Parameters
    ----------
    dim : int
        Embedding dimension d.
    hidden_dim : int
        Hidden width d_ff.
    act_layer : callable, default torch.nn.ReLU
        Activation class between the two layers.
    drop_rate : float, default 0.0
        Dropout after the activation.

    Examples
    --------
    >>> import torch
    >>> FeedForward(32, 128)(torch.zeros(2, 10, 32)).shape
    torch.Size([2, 10, 32])
    """

    def __init__(
        self,
        dim: int,
        hidden_dim: int,
        *,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = act_layer()
        self.drop = nn.Dropout(drop_rate)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, L, d)`` to ``(B, L, d)`` independently at each position."""
        return self.fc2(self.drop(self.act(self.fc1(x))))


class TransformerBlock(nn.Module):
    """Transformer encoder block: self-attention and feed-forward, each with a residual.

    Parameters
    ----------
    dim : int
        Embedding dimension d.
    num_heads : int
        Attention heads h (``dim % num_heads == 0``).
    ff_dim : int
        Hidden width d_ff of the feed-forward network.
    drop_rate : float, default 0.0
        Dropout on each sub-layer's output before the residual sum (seed 003's
        ``droprate``).
    norm_first : bool, default False
        Pre-norm (ViT, seed 000) when True, post-norm (original transformer,
        t2) when False.
    act_layer : callable, default torch.nn.ReLU
        Activation of the feed-forward network.
    attn_drop : float, default 0.0
        Dropout on the attention weights.

    Examples
    --------
    >>> import torch
    >>> block = TransformerBlock(32, num_heads=16, ff_dim=128, drop_rate=0.1)
    >>> block(torch.zeros(2, 102, 32)).shape
    torch.Size([2, 102, 32])
    >>> block.attention_weights(torch.zeros(2, 102, 32)).shape
    torch.Size([2, 16, 102, 102])
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        ff_dim: int,
        *,
        drop_rate: float = 0.0,
        norm_first: bool = False,
        act_layer: Callable[[], nn.Module] = nn.ReLU,
        attn_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.attn = MultiHeadSelfAttention(dim, num_heads, attn_drop=attn_drop)
        self.norm1 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, ff_dim, act_layer=act_layer)
        self.norm2 = nn.LayerNorm(dim)
        self.drop1 = nn.Dropout(drop_rate)
        self.drop2 = nn.Dropout(drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Transform ``(B, L, d)`` into ``(B, L, d)``."""
        if self.norm_first:
            x = x + self.drop1(self.attn(self.norm1(x)))
            return x + self.drop2(self.ff(self.norm2(x)))
        x = self.norm1(x + self.drop1(self.attn(x)))
        return self.norm2(x + self.drop2(self.ff(x)))

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Return the attention matrices ``(B, h, L, L)`` for block input ``x``."""
        return self.attn.attention_weights(self.norm1(x) if self.norm_first else x)
