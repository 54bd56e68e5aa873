"""The model registry: one name per architecture variant (after timm).

Each variant is a small factory decorated with :func:`register_model`; it
declares the seed's default sizes and calls :func:`build_model`.
:func:`create_model` looks a name up and builds it with the caller's input
shape, class count and size overrides; :func:`list_models` lists names.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from skysift.exceptions import UnknownModelError
from skysift.models._base import SkysiftModel

__all__ = [
    "build_model",
    "create_model",
    "is_model",
    "list_models",
    "model_entrypoint",
    "register_model",
]

F = TypeVar("F", bound=Callable[..., SkysiftModel])

_MODEL_ENTRYPOINTS: dict[str, Callable[..., SkysiftModel]] = {}


def register_model(fn: F) -> F:
    """Register a model factory under its function name.

    Parameters
    ----------
    fn : callable
        Factory taking keyword arguments and returning a
        :class:`~skysift.models.SkysiftModel`.

    Returns
    -------
    callable
        ``fn`` itself, so this works as a decorator.

    Raises
    ------
    ValueError
        If a model with the same name is already registered (names must be
        unique; a silent replacement would change what a saved config builds).

    Examples
    --------
    >>> from skysift.models import register_model
    >>> @register_model  # doctest: +ELLIPSIS
    ... def mlp(**kwargs):
    ...     pass
    Traceback (most recent call last):
    ...
    ValueError: a model named 'mlp' is already registered (by skysift.models.mlp); ...
    """
    name = fn.__name__
    if name in _MODEL_ENTRYPOINTS:
        previous = _MODEL_ENTRYPOINTS[name]
        raise ValueError(
            f"a model named {name!r} is already registered (by {previous.__module__}); "
            "choose a different function name"
        )
    _MODEL_ENTRYPOINTS[name] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Return the sorted names of the registered models matching a pattern.

    Parameters
    ----------
    pattern : str, default "*"
        Shell-style wildcard (:mod:`fnmatch`), e.g. ``"cnn*"``.

    Returns
    -------
    list of str
        Matching model names, sorted.

    Examples
    --------
    >>> from skysift.models import list_models
    >>> list_models("cnn1d*")
    ['cnn1d_strided', 'cnn1d_strided_regressor']
    """
    return sorted(n for n in _MODEL_ENTRYPOINTS if fnmatch.fnmatchcase(n, pattern))


def is_model(name: str) -> bool:
    """Return whether ``name`` is a registered model.

    Examples
    --------
    >>> from skysift.models import is_model
    >>> is_model("t2"), is_model("t3")
    (True, False)
    """
    return name in _MODEL_ENTRYPOINTS


def model_entrypoint(name: str) -> Callable[..., SkysiftModel]:
    """Return the factory registered under ``name``.

    Raises
    ------
    UnknownModelError
        If no model has that name; the message lists close matches.
    """
    try:
        return _MODEL_ENTRYPOINTS[name]
    except KeyError:
        known = sorted(_MODEL_ENTRYPOINTS)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}; {hint}registered models: {', '.join(known)}"
        ) from None


def create_model(
    name: str,
    *,
    num_classes: int | None = None,
    in_channels: int | None = None,
    input_length: int | None = None,
    num_extra_features: int = 0,
    **overrides: Any,
) -> SkysiftModel:
    """Build a registered model.

    Parameters
    ----------
    name : str
        Registered name, see :func:`list_models`.
    num_classes : int, optional
        Output width: number of classes, or of regression targets. Default:
        the seed's value for that model (e.g. 3 for ``mlp``, 14 for ``t2``,
        1 for ``cnn1d_strided_regressor``).
    in_channels : int, optional
        Channels per pixel of a spectrum, or number of passbands M of a
        light curve. Default: the seed's value (1 for spectra, 6 for t2/atx).
    input_length : int, optional
        Pixels per spectrum, or time steps L per light curve. Default: the
        seed's value (e.g. 140 for ``mlp``, 443 for ``cnn1d_strided``, 3600
        for ``cnn2d``/``spectral_vit``, 100 for t2/atx).
    num_extra_features : int, default 0
        Number R of per-object extra features (``extra`` of shape ``(B, R)``).
        Only t2 and atx take extra features.
    **overrides
        Architecture sizes of the model's class (e.g. ``d_model=64`` for t2);
        see each class for its parameters.

    Returns
    -------
    SkysiftModel
        A freshly initialised model.

    Raises
    ------
    UnknownModelError
        If ``name`` is not registered; the message lists close matches.
    TypeError
        If an override is not a parameter of the model.
    ValueError
        If a size is invalid (e.g. zero, or heads not dividing the dimension).

    Examples
    --------
    >>> import torch
    >>> from skysift.models import create_model, count_parameters
    >>> model = create_model("t2", num_classes=14, in_channels=6, num_extra_features=2)
    >>> model(torch.zeros(4, 100, 6), torch.zeros(4, 2)).shape
    torch.Size([4, 14])
    >>> create_model("vgg1", num_classes=3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skysift.exceptions.UnknownModelError: unknown model 'vgg1'; did you mean ...
    """
    factory = model_entrypoint(name)
    kwargs: dict[str, Any] = {
        key: value
        for key, value in (
            ("num_classes", num_classes),
            ("in_channels", in_channels),
            ("input_length", input_length),
        )
        if value is not None
    }
    if num_extra_features:
        kwargs["num_extra_features"] = num_extra_features
    kwargs.update(overrides)
    return factory(**kwargs)


def build_model(
    cls: type[SkysiftModel],
    defaults: Mapping[str, Any],
    overrides: Mapping[str, Any],
    *,
    name: str,
) -> SkysiftModel:
    """Instantiate ``cls`` from a variant's defaults updated by user overrides.

    Parameters
    ----------
    cls : type
        The model class.
    defaults : mapping
        The variant's sizes (the seed's values).
    overrides : mapping
        User-supplied keyword arguments; they win over ``defaults``.
    name : str
        Registered name, used in error messages.

    Returns
    -------
    SkysiftModel
        The built model.

    Raises
    ------
    TypeError
        If an override is not a parameter of ``cls``; the message lists the
        accepted parameters and close matches.
    """
    allowed = [
        p.name
        for p in inspect.signature(cls).parameters.values()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    unknown = [key for key in overrides if key not in allowed]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, allowed, n=1)
            hints.append(
                f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            )
        raise TypeError(
            f"model {name!r} got unknown argument(s) {', '.join(hints)}; "
            f"accepted arguments: {', '.join(sorted(allowed))}"
        )
    return cls(**{**defaults, **overrides})
