"""Explain chosen objects of a store with a trained model: CAM and attention PNGs."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["explain_objects"]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def explain_objects(
    model: Any,
    store: str | os.PathLike,
    ids: Sequence[str],
    out_dir: str | os.PathLike,
    *,
    target_class: str | None = None,
) -> Iterator[str]:
    """Write class activation maps (and attention maps) of ``ids`` as PNGs.

    Parameters
    ----------
    model : path-like or LoadedModel
        Run directory, ``model.pt`` or a loaded model.
    store : path-like
        The store holding the objects (raw, of the kind the model reads).
    ids : sequence of str
        Object ids.
    out_dir : path-like
        Directory for the figures.
    target_class : str, optional
        Class whose map is drawn; each object's predicted class by default.

    Yields
    ------
    str
        One line per written figure (or per object that could not be
        explained, with the reason).

    Raises
    ------
    ValueError
        If the model has neither a GAP + linear head nor attention, or
        ``target_class`` is not one of its classes.
    KeyError
        If an id is not in the store.
    """
    import matplotlib

    matplotlib.use("Agg")
    import torch

    from skysift.interpret.attention import attention_maps, plot_attention_profile
    from skysift.interpret.cam import (
        class_activation_map,
        plot_cam_light_curve,
        plot_cam_spectrum,
    )
    from skysift.io.store import open_store
    from skysift.preprocessing.pipeline import batch_from_arrow
    from skysift.training.checkpoint import LoadedModel, load_model

    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    names = loaded.class_names or []
    target = None
    if target_class is not None:
        if target_class not in names:
            raise ValueError(
                f"--target {target_class!r} is not a class of this model; classes: {', '.join(names)}"
            )
        target = names.index(target_class)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    src = open_store(store)
    batch = batch_from_arrow(src.take(list(ids)))
    prepared = loaded.pipeline.transform(batch, drop_bad=True)
    for oid, reason in prepared["rejected"]:
        yield f"{oid}: not explained ({reason})"
    x = torch.from_numpy(prepared["x"])
    extra = prepared.get("extra")
    extra_t = torch.from_numpy(np.asarray(extra, np.float32)) if loaded.num_extra_features else None
    kept_ids = np.asarray(prepared["object_id"]).astype(str)
    is_lc = loaded.pipeline.kind == "lightcurves"

    cam = None
    try:
        cam = class_activation_map(loaded.model, x, extra_t, target=target)
    except ValueError as e:
        cam_error = str(e)
    att = None
    try:
        att = attention_maps(loaded.model, x, extra_t)
    except ValueError:
        pass
    if cam is None and att is None:
        raise ValueError(f"cannot explain {loaded.model_name}: {cam_error}")

    wavelength = prepared.get("wavelength_aa")
    gp_step = next((s for s in loaded.pipeline.steps if s.step_name == "gp"), None)
    bands = None
    if gp_step is not None:
        from skysift.data.passbands import band_wavelengths

        if gp_step.band_wavelengths:
            bands = list(gp_step.band_wavelengths)
        elif gp_step.survey:
            bands = list(band_wavelengths(gp_step.survey, gp_step.bands))
    for i, oid in enumerate(kept_ids):
        stem = out_dir / _safe(oid)
        if cam is not None:
            if is_lc:
                fig = plot_cam_light_curve(
                    prepared["x"][i], cam, index=i, band_names=bands, class_names=names,
                    extra_names=["redshift", "redshift_err"][: loaded.num_extra_features] or None,
                )
            else:
                wl = None if wavelength is None else np.asarray(wavelength[i])
                fig = plot_cam_spectrum(prepared["x"][i], cam, index=i, wavelength_aa=wl, class_names=names)
            fig.savefig(f"{stem}_cam.png", dpi=110)
            yield f"{oid}: class activation map -> {stem}_cam.png"
        if att is not None:
            values = prepared["x"][i] if is_lc else prepared["x"][i].reshape(-1)
            axis = None if is_lc or wavelength is None else np.asarray(wavelength[i])
            fig = plot_attention_profile(values, att, index=i, axis_values=axis, band_names=bands)
            fig.savefig(f"{stem}_attention.png", dpi=110)
            yield f"{oid}: attention map -> {stem}_attention.png"
