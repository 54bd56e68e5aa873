"""The rejects file: every input that was not used, with the reason.

Each command that reads, prepares, trains on or predicts objects accounts
for every input: it is in the output, or in a CSV file beside it with one
row per rejected object (or unreadable file) and the reason, so that
``n_in == n_out + n_rejected`` can be checked by anyone with a spreadsheet.
A store's file is ``_rejected.csv`` inside it (:data:`REJECTED_FILE`); a
run's ``rejected.csv``; predictions' ``<out>.rejected.csv``.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["REJECTED_FILE", "write_rejects"]

#: Name of a store's rejects file.
REJECTED_FILE = "_rejected.csv"


def write_rejects(
    path: str | Path,
    rows: Iterable[Sequence[Any]],
    columns: Sequence[str] = ("object_id", "reason"),
) -> Path:
    """Write ``rows`` under a ``columns`` header as CSV; return the path.

    The file is written beside its destination and renamed into place, so a
    reader never sees half of it (an interrupted write leaves the old file
    or none). With no rows the file holds the header alone.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> p = write_rejects(d / "_rejected.csv", [("sn1", "no flux column")])
    >>> p.read_text().splitlines()
    ['object_id,reason', 'sn1,no flux column']
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            writer.writerows(rows)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
