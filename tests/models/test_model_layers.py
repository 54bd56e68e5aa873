"""Layers checked against independent references (numpy formulas, torch.nn)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from skysift.models import fold_to_square
from skysift.models.layers import (
    Conv1dSame,
    GlobalPoolHead,
    MaxPool1dSame,
    MultiHeadSelfAttention,
    PatchEmbed1d,
    SeparableConv1d,
    TransformerBlock,
    pad_same_1d,
    sinusoidal_position_encoding,
)


@pytest.mark.parametrize(("length", "dim"), [(101, 300), (102, 32), (10, 7)])
def test_positional_encoding_matches_seed_formula(length: int, dim: int) -> None:
    # Seed 000 eq. 3.1 / Vaswani et al.: column j of position i is
    # sin(i / 10000^(j/d)) for even j and cos(i / 10000^((j-1)/d)) for odd j.
    i = np.arange(length)[:, None]
    j = np.arange(dim)[None, :]
    exponent = np.where(j % 2 == 0, j, j - 1) / dim
    angle = i / 10000.0**exponent
    expected = np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
    got = sinusoidal_position_encoding(length, dim, dtype=torch.float64).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)


def _copy_into_torch_mha(ours: MultiHeadSelfAttention, ref: nn.MultiheadAttention):
    with torch.no_grad():
        ref.in_proj_weight.copy_(
            torch.cat([ours.q.weight, ours.k.weight, ours.v.weight])
        )
        ref.in_proj_bias.copy_(torch.cat([ours.q.bias, ours.k.bias, ours.v.bias]))
        ref.out_proj.weight.copy_(ours.proj.weight)
        ref.out_proj.bias.copy_(ours.proj.bias)


@pytest.mark.parametrize(("dim", "heads"), [(32, 16), (108, 3), (8, 1)])
def test_self_attention_matches_torch_multihead_attention(dim: int, heads: int) -> None:
    ours = MultiHeadSelfAttention(dim, heads).eval()
    ref = nn.MultiheadAttention(dim, heads, batch_first=True).eval()
    _copy_into_torch_mha(ours, ref)
    x = torch.randn(3, 17, dim)
    expected, expected_weights = ref(x, x, x, average_attn_weights=False)
    torch.testing.assert_close(ours(x), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        ours.attention_weights(x), expected_weights, rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_block_matches_torch_encoder_layer(norm_first: bool) -> None:
    dim, heads, ff = 32, 16, 128
    act = nn.GELU if norm_first else nn.ReLU
    ours = TransformerBlock(dim, heads, ff, norm_first=norm_first, act_layer=act).eval()
    ref = nn.TransformerEncoderLayer(
        dim,
        heads,
        ff,
        dropout=0.0,
        activation="gelu" if norm_first else "relu",
        batch_first=True,
        norm_first=norm_first,
    ).eval()
    _copy_into_torch_mha(ours.attn, ref.self_attn)
    with torch.no_grad():
        for mine, theirs in [
            (ours.ff.fc1, ref.linear1),
            (ours.ff.fc2, ref.linear2),
            (ours.norm1, ref.norm1),
            (ours.norm2, ref.norm2),
        ]:
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
    x = torch.randn(2, 25, dim)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


def test_separable_conv_equals_the_factorised_full_convolution() -> None:
    conv = SeparableConv1d(5, 7, kernel_size=3)
    x = torch.randn(2, 5, 20)
    depthwise = conv.depthwise.weight[:, 0, :]  # (d_in, w)
    pointwise = conv.pointwise.weight[:, :, 0]  # (d_out, d_in)
    full = pointwise[:, :, None] * depthwise[None, :, :]  # (d_out, d_in, w)
    expected = F.conv1d(x, full, padding=1)
    torch.testing.assert_close(conv(x), expected, rtol=1e-5, atol=1e-5)
    assert sum(p.numel() for p in conv.parameters()) == 3 * 5 + 5 * 7


@pytest.mark.parametrize("length", [1, 2, 5, 16, 25, 100, 101])
@pytest.mark.parametrize(("kernel", "stride"), [(1, 1), (3, 1), (4, 1), (3, 2), (2, 2)])
def test_same_padding_gives_ceil_length(length: int, kernel: int, stride: int) -> None:
    x = torch.randn(1, 2, length)
    expected = math.ceil(length / stride)
    assert Conv1dSame(2, 3, kernel, stride=stride)(x).shape[-1] == expected
    assert MaxPool1dSame(kernel, stride=stride)(x).shape[-1] == expected


def test_same_padding_matches_symmetric_padding_for_odd_kernels() -> None:
    conv = Conv1dSame(2, 3, 5)
    x = torch.randn(2, 2, 30)
    expected = F.conv1d(x, conv.weight, conv.bias, padding=2)
    torch.testing.assert_close(conv(x), expected)
    assert pad_same_1d(x, 1, 1) is x


def test_max_pool_same_ignores_padding() -> None:
    x = -torch.arange(1.0, 6.0).reshape(1, 1, 5)  # all negative: zero padding would win
    out = MaxPool1dSame(3, stride=2)(x)
    # windows (pad, -1, -2), (-2, -3, -4), (-4, -5, pad)
    torch.testing.assert_close(out, torch.tensor([[[-1.0, -2.0, -4.0]]]))


def test_patch_embedding_projects_each_patch() -> None:
    embed = PatchEmbed1d(2, patch_size=4, embed_dim=5)
    x = torch.randn(3, 2, 10)  # 3 patches, the last padded with 2 zeros
    tokens = embed(x)
    assert tokens.shape == (3, 3, 5)
    padded = F.pad(x, (0, 2))
    for n in range(3):
        patch = padded[:, :, 4 * n : 4 * n + 4].reshape(3, 8)  # channel-major
        torch.testing.assert_close(tokens[:, n], embed.proj(patch))


def test_fold_to_square_is_row_major_with_zero_padding() -> None:
    x = torch.arange(1.0, 11.0).reshape(1, 1, 10)
    image = fold_to_square(x)
    assert image.shape == (1, 1, 4, 4)
    assert image[0, 0, 1].tolist() == [5.0, 6.0, 7.0, 8.0]
    assert image[0, 0, 3].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert fold_to_square(torch.ones(2, 3, 3600)).shape == (2, 3, 60, 60)


def test_global_pool_head_appends_extra_features() -> None:
    head = GlobalPoolHead(4, 3, num_extra_features=2)
    features = torch.randn(5, 4, 7)
    extra = torch.randn(5, 2)
    pooled = head(features, extra, pre_logits=True)
    torch.testing.assert_close(pooled, torch.cat([features.mean(-1), extra], 1))
    torch.testing.assert_close(head(features, extra), head.fc(pooled))
