"""skysift: sift survey-scale astronomical data with deep learning."""

import functools
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

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


@functools.cache
def source_commit() -> str | None:
    """Return the commit of the git checkout skysift runs from (``+dirty`` if edited), or None."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None  # an installed wheel: the version says it all
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "") if commit else None


def software_versions() -> dict[str, str | None]:
    """Return what produced a result: skysift's version and commit, Python, torch.

    Saved in model files and recipe results so that a number can be traced to
    the code behind it. ``commit`` is None outside a git checkout.
    """
    import torch

    return {"skysift": __version__, "commit": source_commit(),
            "python": platform.python_version(), "torch": str(torch.__version__)}


__all__ = [
    "DataFormatError",
    "NotFittedError",
    "SkysiftError",
    "SkysiftWarning",
    "UnknownModelError",
    "__version__",
    "software_versions",
    "source_commit",
]
