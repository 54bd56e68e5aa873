"""Embeddings: sinusoidal positional encoding and 1D patch embedding.

The positional encoding is the sine/cosine scheme of Vaswani et al. (2017)
used by both transformers in the seeds (seed 000 eq. 3.1, seed 003
eq. 4.9): embedding index pair ``(2i, 2i + 1)`` at position ``l`` holds
``sin(l * w_i)`` and ``cos(l * w_i)`` with ``w_i = 10000 ** (-2i / d)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "PatchEmbed1d",
    "SinusoidalPositionalEncoding",
    "sinusoidal_position_encoding",
]


def sinusoidal_position_encoding(
    length: int,
    dim: int,
    *,
    base: float = 10000.0,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Return the fixed sine/cosine positional encoding matrix.

    Parameters
    ----------
    length : int
        Sequence length L (positions 0 .. L-1).
    dim : int
        Embedding dimension d (may be odd; the last cosine column is dropped).
    base : float, default 10000.0
        Wavelength scale of the slowest frequency.
    device : torch.device, optional
        Device of the result.
    dtype : torch.dtype, default torch.float32
        Dtype of the result.

    Returns
    -------
    torch.Tensor of shape (L, d)
        Row ``l`` is the encoding of position ``l``: even columns are sines,
        odd columns cosines, each pair sharing one frequency.

    Examples
    --------
    >>> pe = sinusoidal_position_encoding(100, 32)
    >>> pe.shape
    torch.Size([100, 32])
    >>> float(pe[0, 0]), float(pe[0, 1])
    (0.0, 1.0)
    """
    position = torch.arange(length, device=device, dtype=torch.float64).unsqueeze(1)
    pair = torch.arange(0, dim, 2, device=device, dtype=torch.float64)
    frequency = torch.exp(-math.log(base) * pair / dim)  # w_i = base ** (-2i / d)
    angles = position * frequency  # (L, ceil(d / 2))
    encoding = torch.zeros(length, dim, device=device, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles[:, : dim // 2])
    return encoding.to(dtype)


class SinusoidalPositionalEncoding(nn.Module):
    """Add the fixed sinusoidal positional encoding to a token sequence.

    Has no parameters, so it accepts any sequence length.

    Parameters
    ----------
    dim : int
        Embedding dimension d.

    Examples
    --------
    >>> import torch
    >>> enc = SinusoidalPositionalEncoding(8)
    >>> enc(torch.zeros(2, 5, 8)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x + P`` for ``x`` of shape ``(B, L, d)``."""
        encoding = sinusoidal_position_encoding(
            x.shape[1], self.dim, device=x.device, dtype=x.dtype
        )
        return x + encoding.unsqueeze(0)  # (1, L, d) broadcast over the batch

    def extra_repr(self) -> str:
        """Describe the dimension."""
        return f"dim={self.dim}"


class PatchEmbed1d(nn.Module):
    """Cut a spectrum into equal patches and project each linearly (seed 000 sec. 3.1).

    A spectrum whose length is not a multiple of ``patch_size`` is padded
    with zeros at the red end; after min-max scaling zero is the flux floor,
    so the padding reads as "no signal".

    Parameters
    ----------
    in_channels : int
        Channels C per pixel (1 for a flux-only spectrum).
    patch_size : int
        Pixels per patch P.
    embed_dim : int
        Output dimension D of each token (seed 000 uses D = 3 P).

    Examples
    --------
    >>> import torch
    >>> embed = PatchEmbed1d(1, patch_size=36, embed_dim=108)
    >>> embed(torch.zeros(2, 1, 3600)).shape
    torch.Size([2, 100, 108])
    """

    def __init__(self, in_channels: int, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        self.proj = nn.Linear(in_channels * patch_size, embed_dim)

    def num_patches(self, length: int) -> int:
        """Return the number of patches for a spectrum of ``length`` pixels."""
        return math.ceil(length / self.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``(B, C, L)`` into ``(B, N, D)`` with ``N = ceil(L / P)``."""
        batch, channels, length = x.shape
        pad = self.num_patches(length) * self.patch_size - length
        if pad:
            x = F.pad(x, (0, pad))  # (B, C, N * P)
        x = x.reshape(batch, channels, -1, self.patch_size)  # (B, C, N, P)
        x = x.permute(0, 2, 1, 3).reshape(batch, -1, channels * self.patch_size)
        # (B, N, C * P): each token holds all channels of its pixels
        return self.proj(x)  # (B, N, D)
