"""Attention maps of the transformers (t2, spectral_vit).

:func:`attention_maps` runs the model once with forward pre-hooks on every
:class:`~skysift.models.layers.TransformerBlock`, records each block's
input, and asks the block for its attention matrices
``softmax(Q K^T / sqrt(d_k))`` on that input. The model files stay as they
are, and any model built from those blocks works.

Two summaries turn the per-block, per-head matrices into one profile:

* attention rollout (Abnar and Zuidema 2020): the head-averaged matrix of
  each block, mixed half-and-half with the identity for the residual path
  and renormalised, multiplied through the blocks -- how much each output
  token draws on each input token;
* the profile over the input: for a model with a class token
  (spectral_vit), the class token's rollout row, i.e. which patches the
  classification draws on; otherwise (t2) the mean attention each token
  receives. :func:`plot_attention_profile` stretches it over wavelength or
  time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from skysift.evaluation.plots import new_figure
from skysift.models.layers import TransformerBlock

__all__ = [
    "AttentionMaps",
    "attention_maps",
    "plot_attention_matrix",
    "plot_attention_profile",
]


@dataclass(frozen=True)
class AttentionMaps:
    """Attention weights of every transformer block for a batch.

    Attributes
    ----------
    weights : tuple of numpy.ndarray of shape (B, h, T, T)
        One entry per block, in forward order; row ``i`` of head ``j`` is
        the distribution of attention token ``i`` pays to all tokens.
    num_prefix : int
        Leading tokens that are not input (1 for a class token), else 0.
    num_extra : int
        Trailing tokens that are extra features (t2 appends R of them).
    step : int
        Input samples per token (the patch size for spectral_vit, 1 for t2).
    """

    weights: tuple[np.ndarray, ...]
    num_prefix: int = 0
    num_extra: int = 0
    step: int = 1

    def mean_heads(self, block: int = -1) -> np.ndarray:
        """Head-averaged attention of one block, ``(B, T, T)``."""
        return self.weights[block].mean(axis=1)

    def rollout(self) -> np.ndarray:
        """Attention rollout through all blocks, ``(B, T, T)``; rows sum to 1."""
        result = None
        for w in self.weights:
            a = w.mean(axis=1)  # (B, T, T)
            a = 0.5 * a + 0.5 * np.eye(a.shape[-1])  # the residual connection
            a = a / a.sum(axis=-1, keepdims=True)
            result = a if result is None else a @ result
        return result

    def profile(self) -> np.ndarray:
        """Attention per input token, ``(B, T - prefix - extra)``, summing to 1.

        The class token's rollout row when there is one, otherwise the
        rollout averaged over all query tokens; prefix and extra tokens are
        dropped and the rest renormalised.
        """
        roll = self.rollout()
        row = roll[:, 0, :] if self.num_prefix else roll.mean(axis=1)  # (B, T)
        row = row[:, self.num_prefix : row.shape[1] - self.num_extra]
        return row / row.sum(axis=1, keepdims=True)


def attention_maps(model: nn.Module, x: Any, extra: Any = None) -> AttentionMaps:
    """Record the attention weights of every transformer block of a model.

    Parameters
    ----------
    model : torch.nn.Module
        A model containing :class:`~skysift.models.layers.TransformerBlock`
        modules (t2, spectral_vit). It runs in eval mode (restored after).
    x : torch.Tensor or array-like
        Input batch as the model takes it.
    extra : torch.Tensor or array-like of shape (B, R), optional
        Extra features, for models built with them.

    Returns
    -------
    AttentionMaps

    Raises
    ------
    ValueError
        If the model has no transformer block.

    Examples
    --------
    >>> import torch
    >>> from skysift.models import create_model
    >>> model = create_model("spectral_vit", num_classes=3, input_length=300,
    ...                      num_patches=10, depth=2)
    >>> att = attention_maps(model, torch.rand(2, 300))
    >>> len(att.weights), att.weights[0].shape, att.profile().shape
    (2, (2, 3, 11, 11), (2, 10))
    """
    blocks = [m for m in model.modules() if isinstance(m, TransformerBlock)]
    if not blocks:
        raise ValueError(
            f"{type(model).__name__} has no transformer block, so it has no "
            "attention maps; models with attention are t2 and spectral_vit"
        )
    inputs: dict[int, torch.Tensor] = {}

    def hook(index: int) -> Any:
        def record(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            inputs[index] = args[0].detach()

        return record

    handles = [b.register_forward_pre_hook(hook(i)) for i, b in enumerate(blocks)]
    x_t = (
        x
        if isinstance(x, torch.Tensor)
        else torch.as_tensor(np.asarray(x), dtype=torch.float32)
    )
    extra_t = (
        extra
        if extra is None or isinstance(extra, torch.Tensor)
        else torch.as_tensor(np.asarray(extra), dtype=torch.float32)
    )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x_t, extra_t)
            weights = tuple(
                blocks[i].attention_weights(inputs[i]).double().numpy()
                for i in range(len(blocks))
            )
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    has_cls = isinstance(getattr(model, "cls_token", None), torch.Tensor)
    return AttentionMaps(
        weights=weights,
        num_prefix=1 if has_cls else 0,
        # Without a class token, extra features are extra tokens (t2).
        num_extra=0 if has_cls else int(getattr(model, "extra_steps",
                                                getattr(model, "num_extra_features", 0)) or 0),
        step=int(getattr(model, "patch_size", 1)),
    )


def plot_attention_matrix(
    att: AttentionMaps, *, index: int = 0, block: int = -1
) -> Figure:
    """Heat maps of one block's head-averaged attention and of the rollout.

    Parameters
    ----------
    att : AttentionMaps
        Result of :func:`attention_maps`.
    index : int, default 0
        Object of the batch.
    block : int, default -1
        Block to show in the left panel (the last by default).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> att = AttentionMaps(weights=(np.full((1, 2, 4, 4), 0.25),))
    >>> len(plot_attention_matrix(att).axes)
    4
    """
    fig = new_figure(10.0, 4.4)
    left, right = fig.subplots(1, 2)
    n_blocks = len(att.weights)
    for ax, matrix, title in (
        (
            left,
            att.mean_heads(block)[index],
            f"block {block % n_blocks + 1} of {n_blocks}, mean over heads",
        ),
        (right, att.rollout()[index], "rollout through all blocks"),
    ):
        image = ax.imshow(matrix, cmap="magma", aspect="auto")
        fig.colorbar(image, ax=ax, shrink=0.85)
        ax.set(
            xlabel="attended token (key)", ylabel="attending token (query)", title=title
        )
    return fig


def plot_attention_profile(
    values: Any,
    att: AttentionMaps,
    *,
    index: int = 0,
    axis_values: Any = None,
    axis_label: str | None = None,
    band_names: Sequence[str] | None = None,
) -> Figure:
    """Draw an input (spectrum or light curve) with its attention profile.

    Parameters
    ----------
    values : array-like of shape (L,) or (L, M)
        The model input of object ``index``: a spectrum, or a light curve
        with M bands.
    att : AttentionMaps
        Result of :func:`attention_maps` for the batch.
    index : int, default 0
        Object of the batch.
    axis_values : array-like of shape (L,), optional
        Wavelength or time of each sample; the sample number when omitted.
    axis_label : str, optional
        Label of that axis.
    band_names : sequence of str, optional
        Names of the M bands.

    Returns
    -------
    matplotlib.figure.Figure
        The input with :meth:`AttentionMaps.profile` shaded on a second axis
        (percent per sample; each token's share spread over its samples).

    Examples
    --------
    >>> import numpy as np
    >>> att = AttentionMaps(weights=(np.full((1, 2, 5, 5), 0.2),), num_prefix=1, step=3)
    >>> fig = plot_attention_profile(np.ones(12), att)
    >>> fig.axes[0].get_xlabel()
    'sample'
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]  # (L,) -> (L, 1)
    length = v.shape[0]
    profile = att.profile()[index]  # (T_in,)
    token = np.minimum(np.arange(length) // att.step, profile.size - 1)
    counts = np.bincount(token, minlength=profile.size)
    share = 100 * profile[token] / counts[token]
    axis = np.arange(length) if axis_values is None else np.asarray(axis_values, float)
    fig = new_figure(9.0, 4.0)
    ax = fig.add_subplot()
    att_ax = ax.twinx()
    att_ax.fill_between(axis, share, step="mid", color="tab:cyan", alpha=0.35, lw=0)
    att_ax.set_ylabel("share of attention (%)", color="tab:cyan")
    att_ax.set_ylim(0, max(float(share.max()) * 1.1, 1e-6))
    ax.set_zorder(att_ax.get_zorder() + 1)
    ax.patch.set_visible(False)
    for m in range(v.shape[1]):
        label = band_names[m] if band_names is not None else None
        ax.plot(
            axis,
            v[:, m],
            lw=1.0 if v.shape[1] > 1 else 0.8,
            color=None if v.shape[1] > 1 else "k",
            label=label,
        )
    if band_names is not None:
        ax.legend(fontsize=8, loc="upper right")
    ax.set_xlabel(axis_label or "sample")
    ax.set_ylabel("model input")
    what = "class-token attention" if att.num_prefix else "attention received"
    ax.set_title(f"{what} (rollout over {len(att.weights)} block(s))", fontsize=11)
    return fig
