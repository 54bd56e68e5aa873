"""Exceptions and warnings raised by skysift.

Every error derives from :class:`SkysiftError` and also from the builtin it
specialises, so ``except ValueError`` keeps working for callers who do not
know skysift (the scikit-learn convention).
"""

__all__ = [
    "DataFormatError",
    "NotFittedError",
    "SkysiftError",
    "SkysiftWarning",
    "UnknownModelError",
]


class SkysiftError(Exception):
    """Root of every error raised by skysift."""


class DataFormatError(SkysiftError, ValueError):
    """A file, store or table is not in the format it claims to be.

    The message names the path (or object) and what is wrong with it.
    """


class NotFittedError(SkysiftError, ValueError, AttributeError):
    """A data-dependent transform was used before ``fit`` was called."""


class UnknownModelError(SkysiftError, LookupError):
    """A model name is not in the registry; the message lists close matches."""


class SkysiftWarning(UserWarning):
    """Base class of every warning emitted by skysift."""
