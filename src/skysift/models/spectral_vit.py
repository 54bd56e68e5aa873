"""SpectralViT: a vision transformer for 1D spectra (seed 000, sec. 3.1).

Seed 000 classifies DESI supernova spectra into 6 types with a ViT
(Dosovitskiy et al. 2020) adapted to spectra: the spectrum is cut into about
100 equal patches, each patch is mapped by one linear layer to a token three
times the patch size, a randomly initialised class token is prepended, the
fixed sine/cosine position embedding is added, and pre-norm transformer
blocks (layer norm, multi-head attention, layer norm, feed-forward, each with
a residual) process the sequence. A linear layer on the class token gives
the class scores.

The seed gives neither the number of blocks nor of heads; we default to 4
blocks of 3 heads. Three heads divide the token size 3 x patch_size for every
input length, and 4 blocks keep the model small (the seed reports that a
smaller SpectralViT already separates S/N 10 synthetic spectra perfectly).
The feed-forward width is 4 x the token size and uses GELU, as in ViT.
"""

from __future__ import annotations

import math
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
from skysift.models.layers import (
    PatchEmbed1d,
    TransformerBlock,
    sinusoidal_position_encoding,
)

__all__ = ["SpectralViT"]


class SpectralViT(SkysiftModel):
    """Vision transformer on spectrum patches with a class token.

    Parameters
    ----------
    num_classes : int, default 6
        Output width (seed 000: 6 supernova types).
    in_channels : int, default 1
        Channels per pixel.
    input_length : int, default 3600
        Pixels per spectrum L (seed 000 rebins to 3600, 1800 or 900).
    num_patches : int, default 100
        Target number of patches; the patch size is
        ``P = ceil(L / num_patches)`` and the actual number of tokens is
        ``ceil(L / P)`` (the last patch is zero-padded).
    embed_dim : int, optional
        Token size D; default ``3 * P`` as in seed 000.
    depth : int, default 4
        Number of transformer blocks.
    num_heads : int, default 3
        Attention heads; must divide D.
    mlp_ratio : float, default 4.0
        Feed-forward width as a multiple of D.
    drop_rate : float, default 0.1
        Dropout on the token sequence and inside the blocks.

    Notes
    -----
    Input ``x``: ``(B, L)`` or ``(B, C, L)``. :meth:`forward_features`
    returns the normalised token sequence ``(B, 1 + N, D)`` with the class
    token first; :meth:`forward_head` applies the linear layer to the class
    token. :meth:`attention_maps` gives every block's attention weights.

    Examples
    --------
    >>> import torch
    >>> from skysift.models import create_model
    >>> model = create_model("spectral_vit", num_classes=6, input_length=3600)
    >>> model.patch_size, model.num_tokens, model.embed_dim
    (36, 100, 108)
    >>> model.forward_features(torch.rand(2, 3600)).shape
    torch.Size([2, 101, 108])
    >>> model(torch.rand(2, 3600)).shape
    torch.Size([2, 6])
    """

    def __init__(
        self,
        *,
        num_classes: int = 6,
        in_channels: int = 1,
        input_length: int = 3600,
        num_patches: int = 100,
        embed_dim: int | None = None,
        depth: int = 4,
        num_heads: int = 3,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.1,
    ) -> None:
        super().__init__()
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.input_length = check_positive_int("input_length", input_length)
        check_positive_int("num_patches", num_patches)
        check_positive_int("depth", depth)
        check_positive_int("num_heads", num_heads)
        if not mlp_ratio > 0:
            raise ValueError(f"mlp_ratio must be positive, got {mlp_ratio!r}")
        drop_rate = check_rate("drop_rate", drop_rate)
        self.input_shape = (in_channels, input_length)

        self.patch_size = math.ceil(input_length / num_patches)
        self.embed_dim = (
            3 * self.patch_size
            if embed_dim is None
            else check_positive_int("embed_dim", embed_dim)
        )
        self.patch_embed = PatchEmbed1d(in_channels, self.patch_size, self.embed_dim)
        self.num_tokens = self.patch_embed.num_patches(input_length)
        self.cls_token = nn.Parameter(torch.randn(1, 1, self.embed_dim) * 0.02)
        # Fixed encoding for the class token (position 0) and the patches.
        pos_embed = sinusoidal_position_encoding(self.num_tokens + 1, self.embed_dim)
        self.register_buffer(
            "pos_embed", pos_embed.unsqueeze(0), persistent=False
        )  # (1, 1 + N, D)
        self.pos_drop = nn.Dropout(drop_rate)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                self.embed_dim,
                num_heads,
                round(mlp_ratio * self.embed_dim),
                drop_rate=drop_rate,
                norm_first=True,
                act_layer=nn.GELU,
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(self.embed_dim)
        self.head = nn.Linear(self.embed_dim, num_classes)
        self.num_features = self.embed_dim

    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Embed spectra into the input token sequence ``(B, 1 + N, D)``."""
        x = as_spectra_batch(
            x,
            in_channels=self.in_channels,
            input_length=self.input_length,
            model_name="spectral_vit",
        )
        tokens = self.patch_embed(x)  # (B, N, D)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)  # (B, 1, D)
        tokens = torch.cat([cls, tokens], dim=1)  # (B, 1 + N, D)
        return self.pos_drop(tokens + self.pos_embed.to(tokens.dtype))

    def forward_features(
        self, x: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the normalised token sequence ``(B, 1 + N, D)``, class token first."""
        x = self._tokens(x)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward_head(
        self,
        features: torch.Tensor,
        extra: torch.Tensor | None = None,
        *,
        pre_logits: bool = False,
    ) -> torch.Tensor:
        """Classify from the class token; returns ``(B, num_classes)``."""
        cls = features[:, 0]  # (B, D)
        return cls if pre_logits else self.head(cls)

    def get_classifier(self) -> nn.Linear:
        """Return the output layer."""
        return self.head

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return the attention weights of every block.

        Parameters
        ----------
        x : torch.Tensor of shape (B, L) or (B, C, L)
            Spectra.

        Returns
        -------
        list of torch.Tensor of shape (B, h, 1 + N, 1 + N)
            One entry per block; row 0 is the class token's attention over
            the patches.
        """
        maps = []
        tokens = self._tokens(x)
        for block in self.blocks:
            maps.append(block.attention_weights(tokens))
            tokens = block(tokens)
        return maps


@register_model
def spectral_vit(**kwargs: Any) -> SpectralViT:
    """SpectralViT of seed 000 sec. 3.1: ~100 patches of 3600 pixels, D = 3 P."""
    defaults = {
        "num_patches": 100,
        "depth": 4,
        "num_heads": 3,
        "mlp_ratio": 4.0,
        "drop_rate": 0.1,
    }
    return build_model(SpectralViT, defaults, kwargs, name="spectral_vit")
