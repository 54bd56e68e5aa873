"""Attention maps captured with hooks, checked against the attention output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skysift.interpret import (
    attention_maps,
    plot_attention_matrix,
    plot_attention_profile,
)
from skysift.models import create_model


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(3)


def _first_block_input(model, x, extra):
    """Tokens entering the first block, from the model's own embedding code."""
    if hasattr(model, "cls_token"):
        return model._tokens(x)
    return model._embed(x, extra)


@pytest.mark.parametrize("name", ["t2", "spectral_vit"])
def test_weights_reproduce_the_attention_output(name):
    if name == "t2":
        model = create_model(
            name, num_classes=3, in_channels=2, num_extra_features=2, depth=2
        )
        x, extra = torch.randn(3, 25, 2), torch.randn(3, 2)
    else:
        model = create_model(
            name, num_classes=3, input_length=200, num_patches=10, depth=2
        )
        x, extra = torch.rand(3, 200), None
    model.eval()
    att = attention_maps(model, x, extra)
    assert len(att.weights) == 2
    tokens = 11 if name == "spectral_vit" else 27
    heads = model.blocks[0].attn.num_heads
    assert att.weights[0].shape == (3, heads, tokens, tokens)
    for w in att.weights:
        np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-5)
    # Independent check: softmax(QK^T/sqrt(d)) V, heads merged and projected,
    # must equal what the block's attention layer computes with F.sdpa.
    block = model.blocks[0]
    with torch.no_grad():
        h = _first_block_input(model, x, extra)
        h = block.norm1(h) if block.norm_first else h
        attn = block.attn
        v = attn._split_heads(attn.v(h)).double()  # (B, heads, T, d/h)
        mixed = torch.from_numpy(att.weights[0]) @ v
        merged = mixed.transpose(1, 2).reshape(h.shape).float()
        np.testing.assert_allclose(
            attn.proj(merged).numpy(), attn(h).numpy(), rtol=1e-4, atol=1e-5
        )
    # Same as the models' own helper.
    for ours, theirs in zip(
        att.weights,
        model.attention_maps(x, *([extra] if extra is not None else [])),
        strict=True,
    ):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-5, atol=1e-6)


def test_profiles_know_class_tokens_and_extra_tokens():
    vit = create_model("spectral_vit", num_classes=3, input_length=200, num_patches=10)
    att = attention_maps(vit, torch.rand(2, 200))
    assert (att.num_prefix, att.num_extra, att.step) == (1, 0, 20)
    assert att.profile().shape == (2, 10)
    np.testing.assert_allclose(att.profile().sum(1), 1.0)
    np.testing.assert_allclose(att.rollout().sum(-1), 1.0)
    t2 = create_model("t2", num_classes=3, in_channels=2, num_extra_features=2)
    att = attention_maps(t2, torch.randn(2, 25, 2), torch.randn(2, 2))
    assert (att.num_prefix, att.num_extra, att.step) == (0, 2, 1)
    assert att.profile().shape == (2, 25)
    # extras that enter only at the head are no tokens
    t2 = create_model("t2", num_classes=3, in_channels=2, num_extra_features=2, extra_at="head")
    att = attention_maps(t2, torch.randn(2, 25, 2), torch.randn(2, 2))
    assert att.num_extra == 0 and att.profile().shape == (2, 25)


def test_model_without_attention_is_refused():
    with pytest.raises(ValueError, match="no transformer block"):
        attention_maps(create_model("mlp"), torch.rand(2, 140))


def test_hooks_are_removed_and_mode_restored():
    model = create_model("t2", num_classes=3, in_channels=2)
    model.train()
    attention_maps(model, torch.randn(1, 10, 2))
    assert model.training
    assert all(not b._forward_pre_hooks for b in model.blocks)


def test_attention_plots():
    vit = create_model("spectral_vit", num_classes=3, input_length=200, num_patches=10)
    x = torch.rand(1, 200)
    att = attention_maps(vit, x)
    assert len(plot_attention_matrix(att).axes) == 4
    fig = plot_attention_profile(
        x[0],
        att,
        axis_values=np.linspace(4000, 9000, 200),
        axis_label="wavelength (Angstrom)",
    )
    shaded = fig.axes[1].collections[0].get_paths()[0].vertices[:, 1]
    assert shaded.max() == pytest.approx(100 * (att.profile()[0] / 20).max())
