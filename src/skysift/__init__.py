"""skysift: sift survey-scale astronomical data with deep learning."""

from importlib.metadata import PackageNotFoundError, version

from skysift.exceptions import (
    DataFormatError,
    NotFittedError,
    SkysiftError,
    SkysiftWarning,
    UnknownModelError,
)

try:
    __version__ = version("skysift")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "DataFormatError",
    "NotFittedError",
    "SkysiftError",
    "SkysiftWarning",
    "UnknownModelError",
    "__version__",
]
