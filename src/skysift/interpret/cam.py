"""Class activation maps for models ending in global average pooling + linear.

Seed 003 (sec. 4.3.3-4.3.4, after Zhou et al. 2016): when the feature maps
``f_k(l)`` of the last layer are averaged over positions and fed straight
into the linear layer with weights ``w_k^c``, the class score splits over
positions, and

    M_c(l) = sum_k w_k^c f_k(l)          (seed 003 eq. 4.11)

says how much position ``l`` pushed the object towards class ``c``. With
the mean taken by the pooling layer, ``S_c = mean_l M_c(l) + b_c``, which
:func:`class_activation_map` checks against the model's own logits (and
refuses the model if they differ, which means the head is not GAP +
linear).

For display, seed 003 (sec. 4.5.2) min-max scales the map over all ``L'``
positions and normalises it to sum 1, so each position gets a share of the
activation. For t2 the extra features (redshift, its error) are appended to
the light curve along time (``L' = L + R``), so they get their own shares:
:attr:`ClassActivationMap.extra_share`.

Models with such a head: ``t2``, ``atx`` (whose extra features join after
pooling; their contribution to the score is reported separately) and
``cnn2d`` (spectra folded into squares). ``spectral_vit`` classifies from
a class token and ``vgg1d``, ``cnn1d_strided`` and ``mlp`` flatten into
fully connected layers; they have no class activation map.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from skysift.evaluation.plots import new_figure

__all__ = [
    "ClassActivationMap",
    "class_activation_map",
    "plot_cam_light_curve",
    "plot_cam_spectrum",
]

# Relative tolerance of the check "mean CAM + bias == logit": float32 sums
# over a few hundred features agree to ~1e-6; a head that is not GAP +
# linear misses by orders of magnitude more.
_SCORE_RTOL = 1e-3


@dataclass(frozen=True)
class ClassActivationMap:
    """Class activation maps of a batch, raw and normalised.

    Attributes
    ----------
    raw : numpy.ndarray of shape (B, P)
        ``M_c(l)`` at each of the P positions of the last feature map
        (row-major for 2-D maps), for the class ``target[b]``.
    normalized : numpy.ndarray of shape (B, P)
        ``raw`` min-max scaled over the P positions and divided by its sum,
        so each row sums to 1 (a constant map becomes uniform).
    target : numpy.ndarray of int, shape (B,)
        Class explained for each object.
    logits : numpy.ndarray of shape (B, C)
        Model outputs (eval mode).
    bias : numpy.ndarray of shape (B,)
        Bias ``b_c`` of the linear layer for the target class.
    feature_shape : tuple of int
        Spatial shape of the last feature map: ``(L',)`` or ``(H', W')``.
    num_extra : int
        Number R of trailing positions that are extra features rather than
        sequence steps (t2 appends them along time); 0 otherwise.
    head_extra : numpy.ndarray of shape (B, R) or None
        For models that join extra features after pooling (atx): each
        feature's contribution ``w_r^c e_r`` to the target logit. It is not
        part of the map.
    """

    raw: np.ndarray
    normalized: np.ndarray
    target: np.ndarray
    logits: np.ndarray
    bias: np.ndarray
    feature_shape: tuple[int, ...]
    num_extra: int = 0
    head_extra: np.ndarray | None = None

    @property
    def sequence(self) -> np.ndarray:
        """Normalised shares of the sequence positions, ``(B, P - R)``."""
        return self.normalized[:, : self.normalized.shape[1] - self.num_extra]

    @property
    def extra_share(self) -> np.ndarray:
        """Normalised shares of the extra-feature positions, ``(B, R)``."""
        return self.normalized[:, self.normalized.shape[1] - self.num_extra :]

    def score(self) -> np.ndarray:
        """Rebuild the target logits: ``mean_l M_c(l) + b_c`` (+ head extras).

        Returns
        -------
        numpy.ndarray of shape (B,)
            Equal to ``logits[b, target[b]]`` within float tolerance.
        """
        total = self.raw.mean(axis=1) + self.bias
        if self.head_extra is not None:
            total = total + self.head_extra.sum(axis=1)
        return total

    def to_input(self, length: int) -> np.ndarray:
        """Spread the sequence shares over the ``length`` input samples.

        The map is stretched onto the input grid (as Zhou et al. upsample
        CAMs to the image size): each input sample gets its feature cell's
        share divided by the number of input samples in that cell, so the
        result still sums to the sequence share. A 2-D map is laid over the
        square a spectrum is folded into (cnn2d: row-major, side
        ``ceil(sqrt(length))``); cells covering only the zero padding of the
        square are dropped.

        Parameters
        ----------
        length : int
            Number of input samples (time steps or pixels).

        Returns
        -------
        numpy.ndarray of shape (B, length)
            Share of the activation per input sample.

        Raises
        ------
        ValueError
            If ``length`` is smaller than the number of map positions.
        """
        seq = self.sequence
        if len(self.feature_shape) == 1:
            p = seq.shape[1]
            if length < p:
                raise ValueError(
                    f"cannot spread {p} map positions over {length} input samples"
                )
            cell = np.arange(length) * p // length  # (length,)
        else:
            h, w = self.feature_shape
            side = math.isqrt(length - 1) + 1 if length > 1 else 1  # ceil(sqrt(L))
            pixel = np.arange(length)
            cell = (pixel // side) * h // side * w + (pixel % side) * w // side
        counts = np.bincount(cell, minlength=seq.shape[1])
        return seq[:, cell] / counts[cell]


def _as_tensor(value: Any) -> torch.Tensor | None:
    """Convert arrays to float32 tensors; pass tensors and None through."""
    if value is None or isinstance(value, torch.Tensor):
        return value
    return torch.as_tensor(np.asarray(value), dtype=torch.float32)


def _not_gap(model: nn.Module, why: str) -> ValueError:
    """Build the error for a model whose head is not global average pooling + linear."""
    return ValueError(
        f"{type(model).__name__} has no class activation map: {why}. CAMs need "
        "the last feature map to be averaged over positions and fed straight into "
        "one linear layer (seed 003 sec. 4.3.4); models with such a head are t2, "
        "atx and cnn2d"
    )


def _normalize(raw: np.ndarray) -> np.ndarray:
    """Min-max scale each row to [0, 1], then divide by its sum."""
    low = raw.min(axis=1, keepdims=True)
    span = raw.max(axis=1, keepdims=True) - low
    flat = span[:, 0] <= 1e-12 * np.maximum(np.abs(low[:, 0]), 1.0)
    scaled = np.where(
        flat[:, None], 1.0, (raw - low) / np.where(flat[:, None], 1.0, span)
    )
    return scaled / scaled.sum(axis=1, keepdims=True)


def class_activation_map(
    model: nn.Module,
    x: Any,
    extra: Any = None,
    *,
    target: int | Sequence[int] | None = None,
) -> ClassActivationMap:
    """Compute class activation maps (seed 003 eq. 4.11) for a batch.

    Parameters
    ----------
    model : skysift.models.SkysiftModel
        A model whose ``forward_head`` is global average pooling followed by
        the linear layer ``get_classifier()`` (t2, atx, cnn2d). It is run in
        eval mode (its mode is restored afterwards).
    x : torch.Tensor or array-like
        Input batch as the model takes it, e.g. ``(B, L, M)`` light curves
        for t2, ``(B, L)`` spectra for cnn2d.
    extra : torch.Tensor or array-like of shape (B, R), optional
        Extra features, for models built with ``num_extra_features = R``.
    target : int or sequence of int, optional
        Class to explain, one for all objects or one per object; the
        predicted class when omitted.

    Returns
    -------
    ClassActivationMap
        Raw and normalised maps with what is needed to check and draw them.

    Raises
    ------
    ValueError
        If the model has no GAP + linear head (its logits are not the mean
        of the map plus the bias), or ``target`` is out of range or of the
        wrong length.

    Examples
    --------
    >>> import torch
    >>> from skysift.models import create_model
    >>> model = create_model("t2", num_classes=3, in_channels=2, num_extra_features=2)
    >>> cam = class_activation_map(model, torch.randn(4, 20, 2), torch.randn(4, 2))
    >>> cam.normalized.shape, cam.extra_share.shape
    ((4, 22), (4, 2))
    >>> bool(abs(cam.normalized.sum(axis=1) - 1).max() < 1e-9)
    True
    >>> logits = cam.logits[range(4), cam.target]
    >>> bool(abs(cam.score() - logits).max() < 1e-4)
    True
    """
    x_t, extra_t = _as_tensor(x), _as_tensor(extra)
    get_classifier = getattr(model, "get_classifier", None)
    if get_classifier is None or not hasattr(model, "forward_features"):
        raise _not_gap(model, "it lacks forward_features/get_classifier")
    fc = get_classifier()
    if not isinstance(fc, nn.Linear):
        raise _not_gap(model, f"its classifier is a {type(fc).__name__}, not Linear")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            features = model.forward_features(x_t, extra_t)
            logits = model.forward_head(features, extra_t)
    finally:
        model.train(was_training)
    if features.ndim < 3:
        raise _not_gap(
            model, f"its features {tuple(features.shape)} have no positions to map"
        )
    k = features.shape[1]
    num_extra_features = int(getattr(model, "num_extra_features", 0) or 0)
    head_r = fc.in_features - k
    if head_r not in (0, num_extra_features):
        raise _not_gap(
            model,
            f"its last feature map has {k} channels but the linear layer takes "
            f"{fc.in_features} inputs",
        )

    batch, n_classes = logits.shape
    if target is None:
        tgt = logits.argmax(dim=1).numpy()
    else:
        given = np.asarray(target)
        if given.ndim > 1 or (given.ndim == 1 and given.size != batch):
            raise ValueError(
                f"target must be one class index or one per object ({batch}), got "
                f"shape {given.shape}"
            )
        if not np.issubdtype(given.dtype, np.integer):
            raise ValueError(f"target must hold class indices, got {given.tolist()}")
        tgt = np.broadcast_to(given, (batch,)).astype(np.int64)
        if tgt.min() < 0 or tgt.max() >= n_classes:
            raise ValueError(
                f"target {given.tolist()} is out of range for {n_classes} classes"
            )

    weight = fc.weight.detach().double()  # (C, K + R_head)
    bias = (
        fc.bias.detach().double()
        if fc.bias is not None
        else torch.zeros(n_classes, dtype=torch.float64)
    )
    idx = torch.as_tensor(tgt)
    f = features.detach().double().flatten(2)  # (B, K, P)
    raw = torch.einsum("bkp,bk->bp", f, weight[idx, :k])  # (B, P): eq. 4.11
    head_extra = None
    if head_r:
        head_extra = (extra_t.double() * weight[idx, k:]).numpy()  # (B, R)
    result = ClassActivationMap(
        raw=raw.numpy(),
        normalized=_normalize(raw.numpy()),
        target=np.asarray(tgt, dtype=np.int64),
        logits=logits.double().numpy(),
        bias=bias[idx].numpy(),
        feature_shape=tuple(features.shape[2:]),
        # Extra features that do not enter the linear layer directly were
        # appended along the sequence (t2): they are its last R positions.
        num_extra=(int(getattr(model, "extra_steps", num_extra_features if head_r == 0 else 0))
                   if features.ndim == 3 else 0),
        head_extra=head_extra,
    )
    expected = result.logits[np.arange(batch), result.target]
    scale = np.maximum(np.abs(expected), 1.0)
    if np.any(np.abs(result.score() - expected) > _SCORE_RTOL * scale):
        raise _not_gap(
            model,
            "its logits are not the mean of the map plus the bias, so the head "
            "does more than average pooling and one linear layer",
        )
    return result


# --------------------------------------------------------------------------
# figures

# Colours of the LSST/ZTF bands, blue to red, for up to six passbands.
_BAND_COLORS = (
    "tab:purple",
    "tab:blue",
    "tab:green",
    "tab:orange",
    "tab:red",
    "tab:brown",
)


def _title(
    cam: ClassActivationMap, index: int, class_names: Sequence[str] | None
) -> str:
    """'CAM for class X (p = ...)' for one object."""
    c = int(cam.target[index])
    name = class_names[c] if class_names is not None else f"class {c}"
    logits = cam.logits[index]
    prob = np.exp(logits - logits.max())
    prob /= prob.sum()
    return f"Class activation map for {name} (p = {prob[c]:.3f})"


def _extra_panel(
    fig: Figure,
    ax: Any,
    cam: ClassActivationMap,
    index: int,
    extra_names: Sequence[str] | None,
) -> None:
    """Bars of the extra features' shares (t2) or logit contributions (atx)."""
    if cam.num_extra:
        values, label = 100 * cam.extra_share[index], "share of activation (%)"
    else:
        values, label = cam.head_extra[index], "contribution to logit"
    names = (
        list(extra_names)
        if extra_names is not None
        else [f"extra {r + 1}" for r in range(values.size)]
    )
    ax.bar(range(values.size), values, color="tab:gray")
    ax.set_xticks(range(values.size), names, rotation=30, ha="right")
    ax.set_ylabel(label)
    ax.set_title("Extra features", fontsize=10)
    for i, v in enumerate(values):
        ax.annotate(f"{v:.2f}", (i, v), ha="center", va="bottom", fontsize=8)
    if cam.num_extra:
        # Same scale as the per-step shares' axis would mislead; start at 0.
        ax.set_ylim(0, max(float(values.max()) * 1.25, 1e-6))


def plot_cam_light_curve(
    light_curve: Any,
    cam: ClassActivationMap,
    *,
    index: int = 0,
    time: Any = None,
    band_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    extra_names: Sequence[str] | None = None,
) -> Figure:
    """Draw a light curve per band with its class activation map over time.

    Parameters
    ----------
    light_curve : array-like of shape (L, M)
        The model input of object ``index`` (e.g. Gaussian-process
        interpolated fluxes).
    cam : ClassActivationMap
        Result of :func:`class_activation_map` for the batch.
    index : int, default 0
        Object of the batch to draw.
    time : array-like of shape (L,), optional
        Time of each step (e.g. days); step number when omitted.
    band_names : sequence of str, optional
        M band names for the legend.
    class_names : sequence of str, optional
        Class names for the title.
    extra_names : sequence of str, optional
        Names of the extra features, e.g. ``["redshift", "redshift error"]``.

    Returns
    -------
    matplotlib.figure.Figure
        The light curve with the CAM shaded on a second axis (percent of the
        activation per step), and a bar panel for extra features if any.

    Examples
    --------
    >>> import torch
    >>> from skysift.models import create_model
    >>> model = create_model("t2", num_classes=3, in_channels=2, num_extra_features=2)
    >>> x = torch.randn(1, 20, 2)
    >>> cam = class_activation_map(model, x, torch.randn(1, 2))
    >>> fig = plot_cam_light_curve(x[0], cam, band_names="gr")
    >>> len(fig.axes)
    3
    """
    lc = np.asarray(light_curve, dtype=np.float64)
    if lc.ndim == 1:
        lc = lc[:, None]  # (L,) -> (L, 1)
    length, bands = lc.shape
    t = np.arange(length) if time is None else np.asarray(time, dtype=np.float64)
    has_extra = cam.num_extra > 0 or cam.head_extra is not None
    fig = new_figure(10.0 if has_extra else 8.0, 4.2)
    if has_extra:
        ax, side = fig.subplots(1, 2, width_ratios=[4, 1])
    else:
        ax, side = fig.add_subplot(), None
    share = 100 * cam.to_input(length)[index]
    cam_ax = ax.twinx()
    cam_ax.fill_between(t, share, step="mid", color="tab:olive", alpha=0.3, lw=0)
    cam_ax.set_ylabel("share of class activation (%)", color="tab:olive")
    cam_ax.set_ylim(0, max(float(share.max()) * 1.1, 1e-6))
    ax.set_zorder(cam_ax.get_zorder() + 1)
    ax.patch.set_visible(False)
    names = (
        list(band_names)
        if band_names is not None
        else [f"band {m}" for m in range(bands)]
    )
    for m in range(bands):
        color = _BAND_COLORS[m] if bands <= len(_BAND_COLORS) else None
        ax.plot(t, lc[:, m], color=color, lw=1.4, label=names[m])
    ax.set_xlabel("time" if time is not None else "time step")
    ax.set_ylabel("flux (model input)")
    ax.legend(fontsize=8, loc="upper right", ncol=min(bands, 3))
    ax.set_title(_title(cam, index, class_names), fontsize=11)
    if side is not None:
        _extra_panel(fig, side, cam, index, extra_names)
    return fig


def plot_cam_spectrum(
    flux: Any,
    cam: ClassActivationMap,
    *,
    index: int = 0,
    wavelength_aa: Any = None,
    class_names: Sequence[str] | None = None,
) -> Figure:
    """Draw a spectrum with its class activation map over wavelength.

    Parameters
    ----------
    flux : array-like of shape (L,) or (1, L)
        The model input of object ``index``.
    cam : ClassActivationMap
        Result of :func:`class_activation_map` for the batch.
    index : int, default 0
        Object of the batch to draw.
    wavelength_aa : array-like of shape (L,), optional
        Wavelength of each pixel in Angstrom; pixel number when omitted.
    class_names : sequence of str, optional
        Class names for the title.

    Returns
    -------
    matplotlib.figure.Figure
        The spectrum with the CAM shaded on a second axis (percent of the
        activation per pixel); for a 2-D map (cnn2d) a second panel shows
        the spectrum folded into its square with the map laid over it,
        since the fold makes the map comb-like along wavelength.

    Examples
    --------
    >>> import torch
    >>> from skysift.models import create_model
    >>> model = create_model("cnn2d", num_classes=3, input_length=400)
    >>> x = torch.rand(1, 400)
    >>> fig = plot_cam_spectrum(x[0], class_activation_map(model, x))
    >>> fig.axes[0].get_xlabel(), len(fig.axes)
    ('pixel', 3)
    """
    f = np.asarray(flux, dtype=np.float64).reshape(-1)
    length = f.size
    wl = (
        np.arange(length) if wavelength_aa is None else np.asarray(wavelength_aa, float)
    )
    folded = len(cam.feature_shape) == 2
    fig = new_figure(12.5 if folded else 9.0, 4.0)
    if folded:
        ax, image_ax = fig.subplots(1, 2, width_ratios=[2.6, 1])
        _draw_folded(image_ax, f, cam, index)
    else:
        ax = fig.add_subplot()
    share = 100 * cam.to_input(length)[index]
    cam_ax = ax.twinx()
    cam_ax.fill_between(wl, share, step="mid", color="tab:olive", alpha=0.35, lw=0)
    cam_ax.set_ylabel("share of class activation (%)", color="tab:olive")
    cam_ax.set_ylim(0, max(float(share.max()) * 1.1, 1e-6))
    ax.set_zorder(cam_ax.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(wl, f, color="k", lw=0.8)
    ax.set_xlabel("wavelength (Angstrom)" if wavelength_aa is not None else "pixel")
    ax.set_ylabel("flux (model input)")
    ax.set_title(_title(cam, index, class_names), fontsize=11)
    return fig


def _draw_folded(
    ax: Any, flux: np.ndarray, cam: ClassActivationMap, index: int
) -> None:
    """Draw the spectrum folded into its square (as cnn2d sees it) under the 2-D map."""
    length = flux.size
    side = math.isqrt(length - 1) + 1 if length > 1 else 1  # ceil(sqrt(L))
    square = np.full(side * side, np.nan)
    square[:length] = flux
    h, w = cam.feature_shape
    rows, cols = np.divmod(np.arange(side * side), side)
    cell = rows * h // side * w + cols * w // side
    heat = cam.sequence[index][cell].reshape(side, side)
    ax.imshow(square.reshape(side, side), cmap="gray", interpolation="nearest")
    ax.imshow(100 * heat, cmap="magma", alpha=0.55, interpolation="nearest")
    ax.set_title("folded input with the map (%)", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
