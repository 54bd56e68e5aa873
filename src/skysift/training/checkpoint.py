"""The model file: one self-contained artefact for predict, export and explain.

``model.pt`` holds plain data only (loadable with ``torch.load(...,
weights_only=True)``): the registered architecture name and the keyword
arguments that rebuild it, the weights, the fitted preparation pipeline (as
its JSON dict), the class names and what the model expects as input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from skysift.exceptions import DataFormatError

__all__ = ["MODEL_FORMAT", "LoadedModel", "load_model", "save_model"]

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
