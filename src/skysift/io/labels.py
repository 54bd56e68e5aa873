"""Join labels and redshifts from a catalogue (CSV or FITS table) onto spectra.

A catalogue is any table with an id column and some of: a label (class)
column, a redshift column, a redshift-error column. Each spectrum is matched
by, in order: its ``object_id``; its source file (the path, any trailing part
of it such as ``SLSN/x.dat``, the file name, or the stem); and its
``meta["group"]`` (e.g. a supernova name, giving every epoch the row's
label). A catalogue path such as ``/lamost/GAC/spec-1.fits`` also matches by
its file name.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from skysift.data.containers import Spectrum
from skysift.exceptions import DataFormatError

__all__ = ["Catalogue", "JoinSummary", "join_labels", "read_catalogue"]

_ID_CANDIDATES = (
    "object_id",
    "id",
    "obsid",
    "targetid",
    "specobjid",
    "file",
    "filename",
    "path",
)
_LABEL_CANDIDATES = (
    "label",
    "class",
    "type",
    "snid_type",
    "sntype",
    "true_target",
    "target",
    "spectype",
    "profile",
)
_Z_CANDIDATES = ("redshift", "z", "true_z", "z_spec", "redshift_spec", "zspec")
_ZERR_CANDIDATES = (
    "redshift_err",
    "z_err",
    "zerr",
    "redshift_error",
    "true_z_err",
    "z_spec_err",
)
_MATCH_MODES = ("auto", "object_id", "file", "group")


@dataclass
class Catalogue:
    """Labels and redshifts by id, read with :func:`read_catalogue`.

    Attributes
    ----------
    path : str
        Where it came from (for messages).
    id_column, label_column, redshift_column, redshift_err_column : str or None
        The columns used.
    rows : dict of str to tuple
        Id to ``(label, redshift, redshift_err)``; None where missing.
    """

    path: str
    id_column: str
    label_column: str | None
    redshift_column: str | None
    redshift_err_column: str | None
    rows: dict[str, tuple[str | None, float | None, float | None]]
    _by_name: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # A path-like id also answers to its file name, unless two ids share it.
        names: dict[str, list[str]] = {}
        for key in self.rows:
            if "/" in key or "\\" in key:
                names.setdefault(PurePosixPath(key.replace("\\", "/")).name, []).append(
                    key
                )
        self._by_name = {n: keys[0] for n, keys in names.items() if len(keys) == 1}

    def __len__(self) -> int:
        return len(self.rows)

    def lookup(self, key: str) -> str | None:
        """Return the catalogue id matching ``key`` exactly or by file name, or None."""
        if key in self.rows:
            return key
        return self._by_name.get(key)


def _pick(
    columns: Sequence[str],
    given: str | None,
    candidates: Iterable[str],
    what: str,
    path: str,
    required: bool,
) -> str | None:
    lower = {c.lower(): c for c in columns}
    if given is not None:
        if given in columns:
            return given
        if given.lower() in lower:
            return lower[given.lower()]
        raise DataFormatError(
            f"{path}: no {what} column {given!r}; columns are {list(columns)}"
        )
    for name in candidates:
        if name in lower:
            return lower[name]
    if required:
        raise DataFormatError(
            f"{path}: no {what} column found (tried {list(candidates)}); columns are "
            f"{list(columns)}; name one explicitly"
        )
    return None


def _read_table(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    with open(path, "rb") as f:
        head = f.read(9)
    if head == b"SIMPLE  =" or path.suffix.lower() in (".fits", ".fit", ".fts"):
        from astropy.table import Table

        try:
            table = Table.read(path, format="fits")
        except (OSError, ValueError, TypeError) as e:
            raise DataFormatError(f"{path}: not a readable FITS table ({e})") from e
        columns = list(table.colnames)
        data = {}
        for c in columns:
            col = table[c]
            if col.ndim > 1:
                continue
            values = np.asarray(col.filled() if hasattr(col, "filled") else col)
            if values.dtype.kind == "S":
                values = np.char.decode(values, "ascii", errors="replace")
            data[c] = values
        return [c for c in columns if c in data], data
    import pandas as pd

    try:
        frame = pd.read_csv(
            path,
            sep=None,
            engine="python",
            dtype=str,
            skipinitialspace=True,
            comment="#",
        )
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise DataFormatError(f"{path}: not a readable CSV table ({e})") from e
    frame.columns = [str(c).strip() for c in frame.columns]
    return list(frame.columns), {
        c: frame[c].to_numpy(dtype=object) for c in frame.columns
    }


def _as_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return None
        if float(value).is_integer():
            return str(int(value))
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    text = str(value).strip()
    return text or None


def _as_float(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x) else None


def read_catalogue(
    path: str | os.PathLike,
    *,
    id_column: str | None = None,
    label_column: str | None = None,
    redshift_column: str | None = None,
    redshift_err_column: str | None = None,
    label_map: Mapping[str, str] | None = None,
) -> Catalogue:
    r"""Read a label catalogue from a CSV (any delimiter) or FITS table.

    Parameters
    ----------
    path : str or path-like
        The catalogue.
    id_column : str, optional
        Column of ids. Default: the first of ``object_id, id, obsid,
        targetid, specobjid, file, filename, path`` present (any case).
    label_column, redshift_column, redshift_err_column : str, optional
        Columns to take; by default the first present of ``label, class,
        type, snid_type, sntype, ...``, of ``redshift, z, true_z, ...`` and
        of ``redshift_err, z_err, zerr, ...``. A catalogue needs a label or
        a redshift column.
    label_map : mapping of str to str, optional
        Rename labels, e.g. ``{"0": "emission", "1": "absorption"}``;
        labels not in the map are kept.

    Returns
    -------
    Catalogue

    Raises
    ------
    DataFormatError
        If the file cannot be read, a named column is missing (the message
        lists the columns), there is no label or redshift column, or one id
        appears twice with different values.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "cat.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("id,label\nivo://x/a,0\nivo://x/b,3\n")
    >>> cat = read_catalogue(path, label_map={"0": "emission", "3": "double-peak"})
    >>> cat.rows["ivo://x/b"]
    ('double-peak', None, None)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such catalogue file")
    columns, data = _read_table(path)
    where = str(path)
    id_col = _pick(columns, id_column, _ID_CANDIDATES, "id", where, True)
    label_col = _pick(columns, label_column, _LABEL_CANDIDATES, "label", where, False)
    z_col = _pick(columns, redshift_column, _Z_CANDIDATES, "redshift", where, False)
    zerr_col = _pick(
        columns, redshift_err_column, _ZERR_CANDIDATES, "redshift error", where, False
    )
    if label_col == id_col:
        label_col = None
    if label_col is None and z_col is None:
        raise DataFormatError(
            f"{path}: no label or redshift column; columns are {columns}; name one "
            "with label_column= / redshift_column="
        )
    label_map = dict(label_map or {})
    rows: dict[str, tuple] = {}
    conflicts = []
    n = len(data[id_col])
    for i in range(n):
        key = _as_id(data[id_col][i])
        if key is None:
            continue
        label = _as_id(data[label_col][i]) if label_col else None
        if label is not None:
            label = label_map.get(label, label)
        value = (
            label,
            _as_float(data[z_col][i]) if z_col else None,
            _as_float(data[zerr_col][i]) if zerr_col else None,
        )
        if key in rows and rows[key] != value:
            conflicts.append(key)
        rows.setdefault(key, value)
    if conflicts:
        raise DataFormatError(
            f"{path}: {len(conflicts)} id(s) appear more than once with different "
            f"values in {id_col!r}, e.g. {conflicts[:5]}"
        )
    return Catalogue(str(path), id_col, label_col, z_col, zerr_col, rows)


@dataclass
class JoinSummary:
    """What :func:`join_labels` did.

    Attributes
    ----------
    n_spectra : int
        Spectra looked at.
    n_matched : int
        Spectra that found a catalogue row.
    matched_by : collections.Counter
        How they matched: ``object_id``, ``file`` or ``group``.
    n_label_conflicts : int
        Spectra whose own label (from the file) differed from the
        catalogue's; the catalogue wins.
    conflicts : list of tuple
        Up to 20 ``(object_id, file label, catalogue label)`` examples.
    used_ids : set of str
        Catalogue ids that some spectrum matched.
    """

    n_spectra: int = 0
    n_matched: int = 0
    matched_by: Counter = field(default_factory=Counter)
    n_label_conflicts: int = 0
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)
    used_ids: set[str] = field(default_factory=set)

    def unused_ids(self, catalogue: Catalogue) -> list[str]:
        """Catalogue ids that no spectrum matched, sorted."""
        return sorted(set(catalogue.rows) - self.used_ids)


def _file_keys(source: str) -> list[str]:
    """List the source path, its trailing parts (longest first), and its stem."""
    parts = PurePosixPath(source.replace("\\", "/")).parts
    keys = ["/".join(parts[i:]) for i in range(len(parts))]
    name = parts[-1] if parts else source
    stem = name.split(".")[0]
    if stem and stem != name:
        keys.append(name.rsplit(".", 1)[0])
        keys.append(stem)
    return keys


def join_labels(
    spectra: Sequence[Spectrum],
    catalogue: Catalogue,
    *,
    match_on: str = "auto",
    summary: JoinSummary | None = None,
) -> JoinSummary:
    """Set label and redshift of spectra from a catalogue, in place.

    A catalogue value replaces the file's value; a catalogue blank keeps
    it. ``meta["label_source"]`` becomes ``"catalogue"`` where the
    catalogue gave a label the spectrum did not have, or a different one.

    Parameters
    ----------
    spectra : sequence of Spectrum
        Spectra to label (modified in place).
    catalogue : Catalogue
        From :func:`read_catalogue`.
    match_on : {"auto", "object_id", "file", "group"} or str, default "auto"
        What to match catalogue ids against. ``"auto"`` tries object_id,
        then the source file (``meta["source_file"]``: full path, trailing
        parts, name, stem), then ``meta["group"]``. Any other string names
        a ``meta`` key (e.g. ``"obsid"``).
    summary : JoinSummary, optional
        Accumulate into this summary (for joins done batch by batch).

    Returns
    -------
    JoinSummary
        Counts of matches and label conflicts (``summary`` when given).

    Examples
    --------
    >>> import numpy as np
    >>> s = Spectrum("sn1:0", np.array([4000.0, 4001.0]), np.zeros(2),
    ...              meta={"group": "sn1", "source_file": "data/sn1.lnw"})
    >>> cat = Catalogue("cat.csv", "file", "type", None, None,
    ...                 {"sn1.lnw": ("Ia", None, None)})
    >>> join_labels([s], cat).matched_by["file"], s.label
    (1, 'Ia')
    """
    summary = JoinSummary() if summary is None else summary
    for s in spectra:
        summary.n_spectra += 1
        hit, how = None, None
        if match_on in ("auto", "object_id"):
            hit, how = catalogue.lookup(s.object_id), "object_id"
        if hit is None and match_on in ("auto", "file"):
            source = s.meta.get("source_file")
            if source:
                for key in _file_keys(str(source)):
                    hit = catalogue.lookup(key)
                    if hit is not None:
                        how = "file"
                        break
        if hit is None and match_on in ("auto", "group"):
            group = s.meta.get("group")
            if group is not None:
                hit, how = catalogue.lookup(str(group)), "group"
        if hit is None and match_on not in _MATCH_MODES:
            value = s.meta.get(match_on)
            if value is not None:
                hit, how = catalogue.lookup(str(value)), match_on
        if hit is None:
            continue
        summary.used_ids.add(hit)
        summary.n_matched += 1
        summary.matched_by[how] += 1
        label, z, zerr = catalogue.rows[hit]
        if label is not None and label != s.label:
            if s.label is not None:
                summary.n_label_conflicts += 1
                if len(summary.conflicts) < 20:
                    summary.conflicts.append((s.object_id, s.label, label))
            s.label = label
            s.meta["label_source"] = "catalogue"
        if z is not None:
            s.redshift = z
            s.redshift_err = zerr
    return summary
