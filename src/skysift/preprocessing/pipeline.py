"""Preparation pipelines: named, serialisable steps, fitted on the training split.

A :class:`Step` works on a *batch*: a dict of columns as read from a store
(``object_id``, ``label``, ``redshift``, ..., and the array columns as
(N, L) arrays or lists of N 1-D arrays, see :func:`batch_from_arrow`).
Steps return a new dict; they never modify their input in place. The last
step leaves the model input in ``x`` (float32, (N, C, L) for spectra,
(N, L, M) for light curves) and, optionally, per-object extra features in
``extra`` (N, R). For spectra a pipeline without an explicit output step
stacks ``flux`` into ``x`` when every spectrum has the same length.

A :class:`Pipeline` saves to JSON: each step's name, its ``__init__``
parameters and its learned state (attributes ending in ``_``; NumPy arrays
are stored as lists with their dtype). Loading rebuilds the steps from the
step registry, so no code is unpickled (avocado's pickles could not be read
across versions; ours are plain data).

Examples
--------
>>> import numpy as np
>>> from skysift.preprocessing import Pipeline
>>> pipe = Pipeline.from_config({"kind": "spectra", "steps": [
...     {"regrid": {"start_aa": 6519.0, "stop_aa": 6732.0, "num": 140}},
...     "standardize"]})
>>> wl = np.linspace(6500.0, 6750.0, 300)
>>> batch = {"object_id": np.array(["a", "b"]), "wavelength_aa": np.stack([wl, wl]),
...          "flux": np.stack([np.sin(wl), np.cos(wl)]), "ivar": np.ones((2, 300)),
...          "mask": np.zeros((2, 300), bool)}
>>> pipe.fit_transform(batch)["x"].shape
(2, 1, 140)
>>> Pipeline.from_dict(pipe.to_dict()).transform(batch)["x"].shape
(2, 1, 140)
"""

from __future__ import annotations

import abc
import difflib
import inspect
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from skysift.exceptions import DataFormatError, NotFittedError

__all__ = [
    "PIPELINE_FORMAT_VERSION",
    "Pipeline",
    "Step",
    "batch_from_arrow",
    "list_steps",
    "load_pipeline",
    "register_step",
    "stack_rows",
    "take_rows",
]

PIPELINE_FORMAT_VERSION = 1
_STEPS: dict[str, type[Step]] = {}

Batch = dict[str, Any]


def register_step(name: str) -> Callable[[type[Step]], type[Step]]:
    """Register a :class:`Step` subclass under ``name`` (class decorator).

    Raises
    ------
    ValueError
        If ``name`` is already registered.
    """

    def decorator(cls: type[Step]) -> type[Step]:
        old = _STEPS.get(name)
        same = old is not None and (old.__module__, old.__qualname__) == (
            cls.__module__,
            cls.__qualname__,
        )
        # the same class seen again (its module imported a second time, as
        # pytest's doctest collection does) replaces itself; a different
        # class under a taken name is an error
        if old is not None and not same:
            raise ValueError(
                f"preparation step {name!r} is already registered "
                f"(by {_STEPS[name].__module__}.{_STEPS[name].__name__})"
            )
        cls.step_name = name
        _STEPS[name] = cls
        return cls

    return decorator


def list_steps() -> list[str]:
    """Names of every registered preparation step, sorted.

    Examples
    --------
    >>> "standardize" in list_steps()
    True
    """
    _import_builtin_steps()
    return sorted(_STEPS)


def _import_builtin_steps() -> None:
    # The step modules register themselves on import; import them lazily so
    # `skysift.preprocessing.pipeline` stays importable on its own.
    import importlib

    for module in ("spectra", "normalize", "gp", "features"):
        try:
            importlib.import_module(f"skysift.preprocessing.{module}")
        except ModuleNotFoundError as e:
            if e.name != f"skysift.preprocessing.{module}":
                raise


def _step_class(name: str) -> type[Step]:
    _import_builtin_steps()
    try:
        return _STEPS[name]
    except KeyError:
        close = difflib.get_close_matches(name, _STEPS, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ValueError(
            f"unknown preparation step {name!r}; {hint}"
            f"available steps: {', '.join(sorted(_STEPS))}"
        ) from None


class Step(abc.ABC):
    """One preparation step (an estimator in the scikit-learn sense).

    ``__init__`` stores its keyword-only parameters under the same names and
    nothing else. A data-dependent step overrides :meth:`fit` and sets its
    learned attributes with a trailing underscore; stateless steps inherit
    the no-op :meth:`fit`.
    """

    step_name: ClassVar[str] = ""
    #: True for steps that learn something in ``fit``.
    stateful: ClassVar[bool] = False
    #: Store kinds the step applies to.
    kinds: ClassVar[tuple[str, ...]] = ("spectra", "lightcurves")

    def get_params(self) -> dict[str, Any]:
        """Return the ``__init__`` parameters and their current values."""
        names = [
            p.name
            for p in inspect.signature(type(self).__init__).parameters.values()
            if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        return {name: getattr(self, name) for name in names}

    def get_state(self) -> dict[str, Any]:
        """Learned attributes (names ending in ``_``)."""
        return {
            k: v
            for k, v in vars(self).items()
            if k.endswith("_") and not k.startswith("_")
        }

    def set_state(self, state: Mapping[str, Any]) -> Self:
        """Restore learned attributes saved by :meth:`get_state`."""
        for k, v in state.items():
            setattr(self, k, v)
        return self

    def check_is_fitted(self) -> None:
        """Raise :class:`NotFittedError` if a stateful step was never fitted."""
        if self.stateful and not self.get_state():
            raise NotFittedError(
                f"step {self.step_name!r} is not fitted; call fit() on the "
                "training data first (or load a fitted pipeline)"
            )

    def fit(self, batch: Batch) -> Self:
        """Learn from a training batch; stateless steps return self unchanged."""
        return self

    @abc.abstractmethod
    def transform(self, batch: Batch) -> Batch:
        """Return a new batch with this step applied."""

    def fit_transform(self, batch: Batch) -> Batch:
        """Fit on ``batch`` and return it transformed."""
        return self.fit(batch).transform(batch)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return np.asarray(value["__ndarray__"], dtype=value["dtype"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def stack_rows(values: Any, *, name: str, dtype: Any = np.float32) -> np.ndarray:
    """Return an array column as one (N, L) array; all rows must share L.

    Raises
    ------
    DataFormatError
        If the rows differ in length; the message names the column and the
        lengths found.
    """
    if isinstance(values, np.ndarray) and values.ndim == 2:
        return values.astype(dtype, copy=False)
    lengths = sorted({len(v) for v in values})
    if len(lengths) > 1:
        raise DataFormatError(
            f"column {name!r}: rows have different lengths ({lengths[:5]}...); "
            "add a 'regrid' or 'rebin' step to bring them onto one grid"
        )
    if not len(values):
        return np.zeros((0, 0), dtype=dtype)
    return np.stack([np.asarray(v, dtype=dtype) for v in values])


def batch_from_arrow(batch: Any) -> Batch:
    """Convert a store batch (pyarrow RecordBatch or Table) into a column dict.

    List columns become (N, L) arrays when all rows share L, else lists of
    1-D arrays; scalar columns become NumPy arrays (nulls as NaN / None).
    """
    import pyarrow as pa

    from skysift.io.store import list_column_to_numpy

    out: Batch = {}
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            out[name] = list_column_to_numpy(column)
        else:
            out[name] = column.to_numpy(zero_copy_only=False)
    return out


class Pipeline:
    """An ordered list of preparation steps for one store kind.

    Parameters
    ----------
    steps : sequence of Step
        Applied in order.
    kind : {"spectra", "lightcurves"}
        The kind of store the pipeline reads.
    """

    def __init__(self, steps: Sequence[Step], *, kind: str) -> None:
        if kind not in ("spectra", "lightcurves"):
            raise ValueError(
                f"pipeline kind must be 'spectra' or 'lightcurves', got {kind!r}"
            )
        for step in steps:
            if kind not in step.kinds:
                raise ValueError(
                    f"step {step.step_name!r} works on {step.kinds}, not on {kind}"
                )
        self.steps = list(steps)
        self.kind = kind

    def __repr__(self) -> str:
        inner = ", ".join(repr(s) for s in self.steps)
        return f"Pipeline(kind={self.kind!r}, steps=[{inner}])"

    @property
    def is_fitted(self) -> bool:
        """Whether every stateful step has learned state."""
        return all(not s.stateful or s.get_state() for s in self.steps)

    def fit(self, batch: Batch) -> Self:
        """Fit each step on the output of the previous ones (training data only)."""
        self.fit_transform(batch)
        return self

    def fit_transform(self, batch: Batch, *, drop_bad: bool = False) -> Batch:
        """Fit on ``batch`` and return it prepared; see :meth:`transform`."""
        for step in self.steps:
            batch = step.fit_transform(batch)
        return self._finish(batch, drop_bad=drop_bad)

    def transform(self, batch: Batch, *, drop_bad: bool = False) -> Batch:
        """Prepare ``batch`` with the fitted steps.

        Parameters
        ----------
        batch : dict
            Columns as from :func:`batch_from_arrow`.
        drop_bad : bool, default False
            Objects whose prepared input is not finite are removed and listed
            in ``batch["rejected"]`` as ``(object_id, reason)`` pairs instead
            of raising.

        Raises
        ------
        NotFittedError
            If a stateful step was never fitted.
        DataFormatError
            If an object's prepared input is not finite and ``drop_bad`` is
            False; the message names the objects.
        """
        for step in self.steps:
            step.check_is_fitted()
            batch = step.transform(batch)
        return self._finish(batch, drop_bad=drop_bad)

    def _finish(self, batch: Batch, *, drop_bad: bool) -> Batch:
        if "x" not in batch:
            if self.kind != "spectra":
                raise DataFormatError(
                    "light curves need an interpolation step (e.g. 'gp') that "
                    "turns them into regular arrays before a model can read them"
                )
            flux = stack_rows(batch["flux"], name="flux")
            batch = {**batch, "x": flux[:, None, :]}  # (N, 1, L)
        x = np.asarray(batch["x"], dtype=np.float32)
        batch = {**batch, "x": x, "rejected": list(batch.get("rejected", []))}
        finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if "extra" in batch:
            extra = np.asarray(batch["extra"], dtype=np.float32)
            finite &= np.isfinite(extra).all(axis=1)
        if finite.all():
            return batch
        bad = np.flatnonzero(~finite)
        ids = np.asarray(batch.get("object_id", np.arange(len(x)))).astype(str)
        if not drop_bad:
            raise DataFormatError(
                f"{len(bad)} object(s) have non-finite values after preparation "
                f"(e.g. {ids[bad[:5]].tolist()}); add a 'mask_bad_pixels' step or "
                "check the input fluxes"
            )
        reason = "non-finite values after preparation"
        batch["rejected"] += [(oid, reason) for oid in ids[bad]]
        return take_rows(batch, np.flatnonzero(finite))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: kind, each step's name, params and state."""
        return {
            "format_version": PIPELINE_FORMAT_VERSION,
            "kind": self.kind,
            "steps": [
                {
                    "step": s.step_name,
                    "params": _encode(s.get_params()),
                    "state": _encode(s.get_state()),
                }
                for s in self.steps
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Pipeline:
        """Rebuild a pipeline saved by :meth:`to_dict` (fitted state included)."""
        version = data.get("format_version")
        if version != PIPELINE_FORMAT_VERSION:
            raise DataFormatError(
                f"pipeline format version {version!r} is not supported "
                f"(this skysift reads version {PIPELINE_FORMAT_VERSION})"
            )
        steps = []
        for spec in data["steps"]:
            step = _step_class(spec["step"])(**_decode(spec.get("params", {})))
            step.set_state(_decode(spec.get("state", {})))
            steps.append(step)
        return cls(steps, kind=data["kind"])

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Pipeline:
        """Build an unfitted pipeline from a YAML-style config.

        Parameters
        ----------
        config : mapping
            ``{"kind": "spectra", "steps": [...]}`` where each step is a name
            (``"standardize"``) or a one-key mapping from name to parameters
            (``{"regrid": {"num": 140}}``).

        Raises
        ------
        ValueError
            If a step is unknown (the message lists the available ones) or a
            parameter is not accepted by the step.
        """
        unknown = set(config) - {"kind", "steps"}
        if unknown:
            raise ValueError(
                f"pipeline config: unknown key(s) {sorted(unknown)}; "
                "expected 'kind' and 'steps'"
            )
        if "kind" not in config:
            raise ValueError("pipeline config needs 'kind: spectra|lightcurves'")
        steps = []
        for item in config.get("steps") or []:
            if isinstance(item, str):
                name, params = item, {}
            elif isinstance(item, Mapping) and len(item) == 1:
                name, params = next(iter(item.items()))
                params = dict(params or {})
            else:
                raise ValueError(
                    f"pipeline config: each step is a name or a one-key mapping "
                    f"name -> parameters, got {item!r}"
                )
            step_cls = _step_class(name)
            try:
                steps.append(step_cls(**params))
            except TypeError as e:
                accepted = list(inspect.signature(step_cls.__init__).parameters)[1:]
                raise ValueError(
                    f"step {name!r}: {e}; accepted parameters: {accepted}"
                ) from e
        return cls(steps, kind=config["kind"])

    def save(self, path: str | os.PathLike) -> Path:
        """Write the pipeline as JSON to ``path``; return the path."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        tmp.replace(path)
        return path


def take_rows(batch: Batch, rows: np.ndarray) -> Batch:
    """Keep ``rows`` of every per-object column of a batch.

    Per-object columns are the arrays and lists as long as ``object_id`` (or
    ``x`` when there is no id column); ``rejected`` and anything else is
    carried over unchanged.
    """
    n = len(batch["object_id"] if "object_id" in batch else batch["x"])
    out: Batch = {}
    for key, value in batch.items():
        if key == "rejected":
            out[key] = value
        elif isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == n:
            out[key] = value[rows]
        elif isinstance(value, list) and len(value) == n:
            out[key] = [value[i] for i in rows]
        else:
            out[key] = value
    return out


def load_pipeline(path: str | os.PathLike) -> Pipeline:
    """Read a pipeline written by :meth:`Pipeline.save`.

    Raises
    ------
    DataFormatError
        If the file is not a skysift pipeline; the message names the path.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        return Pipeline.from_dict(data)
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise DataFormatError(f"{path}: not a skysift pipeline file ({e})") from e
