"""Run an exported model with onnxruntime, without importing torch (SPEC G1).

:func:`load_onnx_model` opens a file written by
:func:`skysift.compression.export_onnx` and rebuilds its preparation
pipeline from the file's metadata. The pipeline steps are NumPy code, so
preparing spectra and predicting needs only numpy, pyarrow and onnxruntime.
One exception: the light-curve step ``gp`` (Gaussian-process interpolation)
computes with torch, so a light-curve model whose pipeline contains it still
imports torch when it prepares light curves -- though not to run the network.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skysift.exceptions import DataFormatError, SkysiftError

__all__ = ["OnnxModel", "load_onnx_model"]

_METADATA_KEY = "skysift"  # as skysift.compression.onnx.ONNX_METADATA_KEY
_FORMAT = "skysift-onnx"
_FORMAT_VERSION = 1


@dataclass
class OnnxModel:
    """An exported model opened with onnxruntime, with its preparation.

    The attributes mirror :class:`skysift.training.LoadedModel`, so batch
    prediction treats both alike.

    Attributes
    ----------
    path : pathlib.Path
    session : onnxruntime.InferenceSession
    pipeline : skysift.preprocessing.Pipeline or None
        The fitted preparation pipeline saved with the model.
    class_names : list of str or None
        Output order of a classifier; None for a regressor.
    task : {"classification", "regression"}
    target : str
    input_shape : tuple of int
    num_extra_features : int
    model_name : str
    metadata : dict
        The whole skysift metadata entry (``quantize`` says whether the
        weights are int8).
    """

    path: Path
    session: Any = field(repr=False)
    pipeline: Any
    class_names: list[str] | None
    task: str
    target: str
    input_shape: tuple[int, ...]
    num_extra_features: int
    model_name: str
    metadata: dict[str, Any] = field(repr=False)

    def predict(
        self, x: np.ndarray, extra: np.ndarray | None = None, *, batch_size: int = 4096
    ) -> np.ndarray:
        """Class probabilities (or regression outputs) for prepared inputs.

        Parameters
        ----------
        x : numpy.ndarray, shape (N, *input_shape)
        extra : numpy.ndarray, shape (N, R), optional
            Needed when the model was built with extra features.
        batch_size : int, default 4096
            Objects per onnxruntime call.

        Returns
        -------
        numpy.ndarray, shape (N, C) or (N,)
            Like :func:`skysift.training.run.predict_arrays`.
        """
        classifier = self.task == "classification"
        output = "probabilities" if classifier else "output"
        n = len(x)
        outs = []
        for start in range(0, n, batch_size):
            feed = {
                "x": np.ascontiguousarray(x[start : start + batch_size], np.float32)
            }
            if self.num_extra_features:
                if extra is None:
                    raise ValueError(
                        f"{self.path}: the model needs extra features of shape "
                        f"(N, {self.num_extra_features}); got None"
                    )
                feed["extra"] = np.ascontiguousarray(
                    extra[start : start + batch_size], np.float32
                )
            outs.append(self.session.run([output], feed)[0])
        width = len(self.class_names) if classifier and self.class_names else 1
        result = np.concatenate(outs) if outs else np.zeros((0, width), np.float32)
        if not classifier and result.ndim == 2 and result.shape[1] == 1:
            result = result[:, 0]
        return result


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device.split(":")[0] == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise SkysiftError(
                "device 'cuda' with engine 'onnx' needs onnxruntime's CUDA "
                "provider (the onnxruntime-gpu package); this onnxruntime has "
                f"{ort.get_available_providers()}. Use --engine torch on a GPU"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")


def load_onnx_model(
    path: str | os.PathLike, *, device: str = "cpu", threads: int | None = None
) -> OnnxModel:
    """Open a skysift ONNX file for prediction.

    Parameters
    ----------
    path : path-like
        A file written by :func:`skysift.compression.export_onnx`.
    device : {"cpu", "cuda"}, default "cpu"
        ``"cuda"`` needs onnxruntime-gpu.
    threads : int, optional
        onnxruntime intra-op threads; default: onnxruntime's (all cores).

    Returns
    -------
    OnnxModel

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        If the file is not a readable ONNX model, or one without skysift
        metadata; the message names the file.

    Examples
    --------
    >>> import tempfile, os
    >>> bad = os.path.join(tempfile.mkdtemp(), "bad.onnx")
    >>> _ = open(bad, "wb").write(b"not a model")
    >>> load_onnx_model(bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skysift.exceptions.DataFormatError: .../bad.onnx: not a readable ONNX model ...
    """
    import onnxruntime as ort

    from skysift.preprocessing.pipeline import Pipeline

    path = Path(path)
    if path.is_dir():
        raise DataFormatError(
            f"{path}: is a directory; the onnx engine needs a .onnx file, or a run "
            "directory given as the model with engine='onnx' (exported on the fly)"
        )
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no such ONNX file (write one with skysift export)"
        )
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only; warnings become exceptions below
    options.inter_op_num_threads = 1
    # Batch work: idle threads sleep instead of spinning, which on a shared
    # machine only burns the cores other processes need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads is not None:
        options.intra_op_num_threads = int(threads)
    try:
        session = ort.InferenceSession(str(path), options, providers=_providers(device))
    except (ValueError, SkysiftError):
        raise
    except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataFormatError(f"{path}: not a readable ONNX model ({first})") from e
    raw = session.get_modelmeta().custom_metadata_map.get(_METADATA_KEY)
    if raw is None:
        raise DataFormatError(
            f"{path}: an ONNX model without skysift metadata (no preparation "
            "pipeline or class names); export it with skysift export"
        )
    try:
        meta = json.loads(raw)
    except ValueError as e:
        raise DataFormatError(f"{path}: unreadable skysift metadata ({e})") from e
    if meta.get("format") != _FORMAT or meta.get("format_version") != _FORMAT_VERSION:
        raise DataFormatError(
            f"{path}: skysift ONNX format {meta.get('format')!r} version "
            f"{meta.get('format_version')!r} is not supported (this skysift reads "
            f"{_FORMAT!r} version {_FORMAT_VERSION})"
        )
    names = {i.name for i in session.get_inputs()}
    n_extra = int(meta.get("num_extra_features", 0))
    if "x" not in names or (n_extra and "extra" not in names):
        raise DataFormatError(
            f"{path}: graph inputs {sorted(names)} do not match the metadata "
            f"(expected 'x'{' and extra' if n_extra else ''})"
        )
    pipeline = meta.get("pipeline")
    return OnnxModel(
        path=path,
        session=session,
        pipeline=None if pipeline is None else Pipeline.from_dict(pipeline),
        class_names=meta.get("class_names"),
        task=meta.get("task", "classification"),
        target=meta.get("target", "label"),
        input_shape=tuple(meta.get("input_shape", ())),
        num_extra_features=n_extra,
        model_name=meta.get("model_name", "?"),
        metadata=meta,
    )
