"""The model file: one self-contained artefact for predict, export and explain.

``model.pt`` holds plain data only (loadable with ``torch.load(...,
weights_only=True)``): the registered architecture name and the keyword
arguments that rebuild it, the weights, the fitted preparation pipeline (as
its JSON dict), the class names and what the model expects as input.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from skysift.exceptions import DataFormatError

__all__ = ["MODEL_FORMAT", "LoadedModel", "load_model", "save_ensemble", "save_model"]

MODEL_FORMAT = "skysift-model"
MODEL_FORMAT_VERSION = 1


@dataclass
class LoadedModel:
    """A model with everything needed to repeat its preparation.

    Attributes
    ----------
    model : skysift.models.SkysiftModel
        In eval mode.
    model_name : str
    model_kwargs : dict
        ``create_model(model_name, **model_kwargs)`` rebuilds the architecture.
    pipeline : skysift.preprocessing.Pipeline or None
        The fitted preparation pipeline.
    class_names : list of str or None
        Output order of a classifier; None for a regressor.
    task : {"classification", "regression"}
    target : str
        ``label`` or the regressed column (``redshift``).
    input_shape : tuple of int
        One prepared sample, without the batch axis.
    num_extra_features : int
    metadata : dict
        Anything else saved (training metrics, run directory; ``software``:
        the skysift version and commit, Python and torch that wrote it).
    """

    model: Any
    model_name: str
    model_kwargs: dict[str, Any]
    pipeline: Any
    class_names: list[str] | None
    task: str
    target: str
    input_shape: tuple[int, ...]
    num_extra_features: int
    metadata: dict[str, Any]


def save_model(
    path: str | os.PathLike,
    model: torch.nn.Module,
    *,
    model_name: str,
    model_kwargs: dict[str, Any],
    pipeline: Any = None,
    class_names: list[str] | None = None,
    target: str = "label",
    input_shape: tuple[int, ...] = (),
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a self-contained model file; see :func:`load_model`."""
    from skysift import software_versions

    path = Path(path)
    payload = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "model_name": model_name,
        "model_kwargs": dict(model_kwargs),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "pipeline": None if pipeline is None else pipeline.to_dict(),
        "class_names": None if class_names is None else list(class_names),
        "task": getattr(model, "task", "classification"),
        "target": target,
        "input_shape": list(input_shape),
        "num_extra_features": int(getattr(model, "num_extra_features", 0)),
        "metadata": {"software": software_versions(), **(metadata or {})},
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_model(path: str | os.PathLike, *, map_location: str = "cpu") -> LoadedModel:
    """Load a model file written by :func:`save_model` (or a run directory).

    Parameters
    ----------
    path : path-like
        ``model.pt``, or a run directory containing one.
    map_location : str, default "cpu"

    Raises
    ------
    DataFormatError
        If the file is not a skysift model; the message names the path.
    """
    from skysift.models import create_model
    from skysift.models.ensemble import ENSEMBLE_NAME, Ensemble
    from skysift.preprocessing.pipeline import Pipeline

    path = Path(path)
    if path.is_dir():
        path = path / "model.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file (train one with skysift train)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise DataFormatError(
            f"{path}: not a readable skysift model file (torch.load: {type(e).__name__}: {e}); "
            "expected a model.pt written by skysift train"
        ) from e
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise DataFormatError(f"{path}: not a skysift model file (no '{MODEL_FORMAT}' tag)")
    if payload.get("format_version") != MODEL_FORMAT_VERSION:
        raise DataFormatError(
            f"{path}: model format version {payload.get('format_version')} is not "
            f"supported (this skysift reads {MODEL_FORMAT_VERSION})"
        )
    if payload["model_name"] == ENSEMBLE_NAME:
        model = Ensemble(**payload["model_kwargs"])
    else:
        model = create_model(payload["model_name"], **payload["model_kwargs"])
    model.load_state_dict(payload["state_dict"])
    model.eval()
    pipeline = (
        None if payload["pipeline"] is None else Pipeline.from_dict(payload["pipeline"])
    )
    return LoadedModel(
        model=model,
        model_name=payload["model_name"],
        model_kwargs=payload["model_kwargs"],
        pipeline=pipeline,
        class_names=payload["class_names"],
        task=payload["task"],
        target=payload["target"],
        input_shape=tuple(payload["input_shape"]),
        num_extra_features=payload["num_extra_features"],
        metadata=payload["metadata"],
    )


def save_ensemble(
    members: Sequence[str | os.PathLike],
    path: str | os.PathLike,
    *,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write one model file that averages several saved models' outputs.

    The members (model files or run directories) must read the same data the
    same way: equal preparation pipelines, input shape, extra features, task,
    target and class names (e.g. seeds of one configuration on one split).
    Each keeps what it was saved with, a prior shift included, so the
    ensemble's probabilities are the mean of theirs. ``skysift predict``,
    ``export`` and ``info`` treat the file like any other model.

    Raises
    ------
    DataFormatError
        If a member differs from the first in any of the above; the message
        names both and what differs.
    """
    from skysift.models.ensemble import ENSEMBLE_NAME, Ensemble

    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least two models, got {len(members)}")
    loaded = [load_model(m) for m in members]
    first, first_name = loaded[0], str(members[0])
    if any(m.model_name == ENSEMBLE_NAME for m in loaded):
        raise DataFormatError("a member is itself an ensemble; list its members instead")

    def what(m: LoadedModel) -> dict[str, Any]:
        return {
            "task": m.task,
            "target": m.target,
            "class names": m.class_names,
            "input shape": tuple(m.input_shape),
            "extra features": m.num_extra_features,
            "preparation": None if m.pipeline is None else m.pipeline.to_dict(),
        }

    ref = what(first)
    for name, m in zip(members[1:], loaded[1:], strict=True):
        for key, value in what(m).items():
            if value != ref[key]:
                what_differs = (f"preparation differs from {first_name}'s" if key == "preparation"
                                else f"{key} {value!r}, not {ref[key]!r} as in {first_name}")
                raise DataFormatError(
                    f"{name}: {what_differs}; the members of an ensemble must read the "
                    "same data the same way"
                )
    net = Ensemble([{"model_name": m.model_name, "model_kwargs": m.model_kwargs} for m in loaded])
    for member, m in zip(net.members, loaded, strict=True):
        member.load_state_dict(m.model.state_dict())
    return save_model(
        path,
        net,
        model_name=ENSEMBLE_NAME,
        model_kwargs={"members": net.member_specs},
        pipeline=first.pipeline,
        class_names=first.class_names,
        target=first.target,
        input_shape=first.input_shape,
        metadata={
            "members": [str((Path(m) / "model.pt" if Path(m).is_dir() else Path(m)).resolve())
                        for m in members],
            "combination": "mean of the members' probabilities"
            if first.task == "classification" else "mean of the members' outputs",
            **(metadata or {}),
        },
    )
