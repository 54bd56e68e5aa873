"""The columnar dataset store: one on-disk format for spectra and light curves.

A store is a directory of Parquet part files plus a small JSON manifest::

    lines/
      _skysift.json          manifest: schema version, kind, parts, counts
      part-00000.parquet     row groups of ``row_group_size`` objects
      part-00001.parquet

One row is one object: its id, optional label, redshift and redshift error,
scalar metadata columns, and its arrays as Parquet list columns
(``wavelength_aa, flux, ivar, mask`` for spectra; ``time_mjd, band, flux,
flux_err`` for light curves). Every part carries the schema version and kind
in its key-value metadata, so a part file is self-describing.

The directory opens unchanged in pandas (``pd.read_parquet(path)``) and Spark
(``spark.read.parquet(path)``): both skip files whose name starts with ``_``.

Writes are atomic: parts are written into a hidden sibling directory and
renamed into place only after the manifest is complete, so an interrupted
write never leaves a directory that opens as a valid store.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from skysift.exceptions import DataFormatError

__all__ = [
    "ARRAY_COLUMNS",
    "KINDS",
    "SCHEMA_VERSION",
    "Store",
    "StoreWriter",
    "list_column_to_numpy",
    "make_schema",
    "open_store",
    "table_from_columns",
    "write_store",
]

SCHEMA_VERSION = 1
MANIFEST_NAME = "_skysift.json"
FORMAT_NAME = "skysift-store"
_METADATA_KEY = b"skysift"

#: Per-object array columns of each kind of store, with their element types.
ARRAY_COLUMNS: dict[str, dict[str, pa.DataType]] = {
    "spectra": {
        "wavelength_aa": pa.float64(),
        "flux": pa.float32(),
        "ivar": pa.float32(),
        "mask": pa.bool_(),
    },
    "lightcurves": {
        "time_mjd": pa.float64(),
        "band": pa.string(),
        "flux": pa.float32(),
        "flux_err": pa.float32(),
    },
    # Model-ready arrays written by `skysift prepare`: ``x`` is the flattened
    # (C, L) or (L, M) input (its shape is in the manifest attrs under
    # ``input_shape``), ``extra`` the per-object extra features (may be empty).
    "prepared": {
        "x": pa.float32(),
        "extra": pa.float32(),
    },
}
KINDS = tuple(ARRAY_COLUMNS)

_BASE_FIELDS = (
    pa.field("object_id", pa.string(), nullable=False),
    pa.field("label", pa.string()),
    pa.field("redshift", pa.float64()),
    pa.field("redshift_err", pa.float64()),
)
_BASE_NAMES = tuple(f.name for f in _BASE_FIELDS)


def _check_kind(kind: str) -> None:
    if kind not in ARRAY_COLUMNS:
        raise ValueError(f"unknown store kind {kind!r}; expected one of {KINDS}")


def make_schema(kind: str, extra_fields: Iterable[pa.Field] = ()) -> pa.Schema:
    """Build the Arrow schema of a store of ``kind``.

    Parameters
    ----------
    kind : {"spectra", "lightcurves", "prepared"}
        What the store holds.
    extra_fields : iterable of pyarrow.Field, optional
        Scalar metadata columns placed after the base columns.

    Returns
    -------
    pyarrow.Schema
        Base columns (``object_id, label, redshift, redshift_err``), the
        metadata columns, then the array columns of ``kind``, with the
        schema version and kind in the schema metadata.

    Examples
    --------
    >>> make_schema("spectra").names
    ['object_id', 'label', 'redshift', 'redshift_err', 'wavelength_aa', 'flux', 'ivar', 'mask']
    """
    _check_kind(kind)
    arrays = [pa.field(n, pa.list_(t)) for n, t in ARRAY_COLUMNS[kind].items()]
    fields = [*_BASE_FIELDS, *extra_fields, *arrays]
    meta = {_METADATA_KEY: json.dumps({"schema_version": SCHEMA_VERSION, "kind": kind})}
    return pa.schema(fields, metadata=meta)


def _to_list_array(values: Any, value_type: pa.DataType, name: str) -> pa.Array:
    """Turn a 2-D array or a sequence of 1-D arrays into an Arrow list array."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values.cast(pa.list_(value_type))
    if isinstance(values, np.ndarray) and values.ndim == 2:
        n, width = values.shape
        offsets = np.arange(n + 1, dtype=np.int32) * np.int32(width)
        flat = pa.array(np.ascontiguousarray(values).reshape(-1)).cast(value_type)
        return pa.ListArray.from_arrays(pa.array(offsets), flat)
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise DataFormatError(
            f"column {name!r}: expected a 2-D array or a sequence of 1-D arrays, "
            f"got an array of shape {values.shape}"
        )
    parts = [np.asarray(v) for v in values]
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat_np = np.concatenate(parts) if parts else np.array([])
    flat = (
        pa.array(flat_np).cast(value_type) if len(flat_np) else pa.array([], value_type)
    )
    if offsets[-1] > np.iinfo(np.int32).max:
        raise DataFormatError(f"column {name!r}: more than 2**31 values in one batch")
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), flat)


def table_from_columns(kind: str, columns: Mapping[str, Any]) -> pa.Table:
    """Assemble a store table from plain Python / NumPy columns.

    Parameters
    ----------
    kind : {"spectra", "lightcurves", "prepared"}
        What the rows are.
    columns : mapping of str to array-like
        ``object_id`` and the array columns of ``kind`` are required. Array
        columns are 2-D arrays of shape (N, L) when every object shares the
        length L, or sequences of N 1-D arrays. ``label``, ``redshift`` and
        ``redshift_err`` are optional (null when absent); any other key is a
        scalar metadata column of length N.

    Returns
    -------
    pyarrow.Table
        A table with the schema of :func:`make_schema`.

    Raises
    ------
    DataFormatError
        If a required column is missing or the columns disagree in length.

    Examples
    --------
    >>> import numpy as np
    >>> t = table_from_columns("spectra", {
    ...     "object_id": ["a", "b"],
    ...     "wavelength_aa": np.tile(np.linspace(6500.0, 6600.0, 4), (2, 1)),
    ...     "flux": np.ones((2, 4)), "ivar": np.ones((2, 4)),
    ...     "mask": np.zeros((2, 4), dtype=bool)})
    >>> t.num_rows, t.schema.field("flux").type
    (2, ListType(list<item: float>))
    """
    _check_kind(kind)
    array_types = ARRAY_COLUMNS[kind]
    missing = [c for c in ("object_id", *array_types) if c not in columns]
    if missing:
        raise DataFormatError(
            f"{kind} table: missing required column(s) {missing}; got {sorted(columns)}"
        )
    n = len(columns["object_id"])
    data: dict[str, pa.Array] = {
        "object_id": pa.array(np.asarray(columns["object_id"]).astype(str), pa.string())
    }
    base_types = {f.name: f.type for f in _BASE_FIELDS}
    for name in ("label", "redshift", "redshift_err"):
        value = columns.get(name)
        if value is None:
            data[name] = pa.nulls(n, base_types[name])
        else:
            data[name] = pa.array(value, from_pandas=True).cast(base_types[name])
    extra = [k for k in columns if k not in _BASE_NAMES and k not in array_types]
    for name in extra:
        data[name] = pa.array(columns[name], from_pandas=True)
    for name, value_type in array_types.items():
        data[name] = _to_list_array(columns[name], value_type, name)
    for name, arr in data.items():
        if len(arr) != n:
            raise DataFormatError(
                f"{kind} table: column {name!r} has {len(arr)} rows, object_id has {n}"
            )
    schema = make_schema(kind, [pa.field(k, data[k].type) for k in extra])
    return pa.Table.from_arrays([data[f.name] for f in schema], schema=schema)


def list_column_to_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray | list:
    """Convert an Arrow list column to NumPy without a Python loop per value.

    Parameters
    ----------
    column : pyarrow.ListArray or pyarrow.ChunkedArray
        A list column read from a store.

    Returns
    -------
    numpy.ndarray or list of numpy.ndarray
        An array of shape (N, L) when every row has the same length L,
        otherwise a list of N 1-D arrays (views into one flat buffer).

    Examples
    --------
    >>> import pyarrow as pa
    >>> list_column_to_numpy(pa.array([[1.0, 2.0], [3.0, 4.0]])).shape
    (2, 2)
    >>> [len(a) for a in list_column_to_numpy(pa.array([[1.0], [2.0, 3.0]]))]
    [1, 2]
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    # ``offsets`` and ``flatten`` both respect slicing; null rows come out empty.
    offsets = column.offsets.to_numpy()
    values = column.flatten().to_numpy(zero_copy_only=False)
    lengths = np.diff(offsets)
    if len(lengths) and np.all(lengths == lengths[0]):
        return values.reshape(len(lengths), lengths[0])
    start = offsets[:-1] - offsets[0]
    return [values[s : s + m] for s, m in zip(start, lengths, strict=True)]


class StoreWriter:
    """Write a store atomically, batch by batch.

    Parameters
    ----------
    path : str or path-like
        The store directory to create.
    kind : {"spectra", "lightcurves", "prepared"}
        What the store holds.
    overwrite : bool, default False
        Replace an existing store at ``path``. Otherwise an existing path is
        an error raised before anything is written.
    row_group_size : int, default 4096
        Objects per Parquet row group: the unit of random access.
    rows_per_part : int, default 262144
        Objects per part file before a new file is started.
    attrs : mapping, optional
        JSON-serialisable provenance stored in the manifest (for example the
        generator and its parameters).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny")
    >>> with StoreWriter(path, kind="spectra") as writer:
    ...     writer.write({"object_id": ["a"], "label": ["x"],
    ...                   "wavelength_aa": np.array([[6500.0, 6501.0]]),
    ...                   "flux": np.ones((1, 2)), "ivar": np.ones((1, 2)),
    ...                   "mask": np.zeros((1, 2), dtype=bool)})
    >>> open_store(path).n_objects
    1
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        kind: str,
        overwrite: bool = False,
        row_group_size: int = 4096,
        rows_per_part: int = 262_144,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        _check_kind(kind)
        if row_group_size < 1 or rows_per_part < 1:
            raise ValueError(
                f"row_group_size and rows_per_part must be >= 1, got "
                f"{row_group_size} and {rows_per_part}"
            )
        self.path = Path(path)
        self.kind = kind
        self.overwrite = overwrite
        self.row_group_size = row_group_size
        self.rows_per_part = rows_per_part
        self.attrs = dict(attrs or {})
        if self.path.exists() and not overwrite:
            raise FileExistsError(
                f"{self.path} already exists; choose another path or pass "
                "overwrite=True (--overwrite on the command line)"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.parent / f".{self.path.name}.tmp-{uuid.uuid4().hex[:8]}"
        self._tmp.mkdir()
        self._schema: pa.Schema | None = None
        self._writer: pq.ParquetWriter | None = None
        self._parts: list[dict[str, Any]] = []
        self._rows_in_part = 0
        self._ids: set[str] = set()
        self._classes: Counter[str] = Counter()
        self._n_unlabelled = 0
        self._lengths: list[np.ndarray] = []
        self._bands: set[str] = set()
        self._span = [math.inf, -math.inf]
        self._closed = False

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, batch: pa.Table | pa.RecordBatch | Mapping[str, Any]) -> None:
        """Append objects to the store.

        Parameters
        ----------
        batch : pyarrow.Table, pyarrow.RecordBatch or mapping
            Rows in the store schema, or columns as accepted by
            :func:`table_from_columns`.

        Raises
        ------
        DataFormatError
            On a duplicate or missing object id, arrays of unequal length
            within one object, or a schema that differs from earlier batches.
        """
        if self._closed:
            raise ValueError(f"{self.path}: writer is already closed")
        if isinstance(batch, pa.RecordBatch):
            batch = pa.Table.from_batches([batch])
        elif not isinstance(batch, pa.Table):
            batch = table_from_columns(self.kind, batch)
        if batch.num_rows == 0:
            return
        self._validate(batch)
        if self._schema is None:
            self._schema = batch.schema
        elif not batch.schema.equals(self._schema, check_metadata=False):
            try:
                batch = batch.cast(self._schema)
            except (pa.ArrowInvalid, ValueError) as e:
                raise DataFormatError(
                    f"{self.path}: batch schema differs from the first batch: "
                    f"{batch.schema} vs {self._schema}"
                ) from e
        batch = batch.replace_schema_metadata(self._schema.metadata)
        start = 0
        while start < batch.num_rows:
            if self._writer is None:
                self._open_part()
            take = min(batch.num_rows - start, self.rows_per_part - self._rows_in_part)
            self._writer.write_table(
                batch.slice(start, take), row_group_size=self.row_group_size
            )
            self._rows_in_part += take
            start += take
            if self._rows_in_part >= self.rows_per_part:
                self._close_part()

    def _validate(self, table: pa.Table) -> None:
        ids = table.column("object_id")
        if ids.null_count:
            raise DataFormatError(f"{self.path}: object_id has {ids.null_count} nulls")
        id_list = ids.to_pylist()
        new = set(id_list)
        dupes = (new & self._ids) or (
            {i for i, c in Counter(id_list).items() if c > 1}
            if len(new) < len(id_list)
            else set()
        )
        if dupes:
            raise DataFormatError(
                f"{self.path}: duplicate object_id(s) {sorted(dupes)[:5]}; "
                "ids must be unique in a store"
            )
        names = list(ARRAY_COLUMNS[self.kind])
        lengths = [pc.list_value_length(table.column(n)).to_numpy() for n in names]
        # x and extra of a prepared store are independent arrays
        aligned = len(names) if self.kind != "prepared" else 1
        for name, length in zip(names[1:aligned], lengths[1:aligned], strict=True):
            bad = np.flatnonzero(length != lengths[0])
            if bad.size:
                raise DataFormatError(
                    f"{self.path}: object {id_list[bad[0]]!r} has {length[bad[0]]} "
                    f"{name} values but {lengths[0][bad[0]]} {names[0]} values"
                )
        self._ids |= new
        labels = table.column("label")
        self._n_unlabelled += labels.null_count
        self._classes.update(v for v in labels.to_pylist() if v is not None)
        self._lengths.append(lengths[0])
        first = pc.min_max(pc.list_flatten(table.column(names[0])))
        if first["min"].is_valid and self.kind != "prepared":
            self._span = [
                min(self._span[0], first["min"].as_py()),
                max(self._span[1], first["max"].as_py()),
            ]
        if self.kind == "lightcurves":
            self._bands |= set(
                pc.unique(pc.list_flatten(table.column("band"))).to_pylist()
            )

    def _open_part(self) -> None:
        name = f"part-{len(self._parts):05d}.parquet"
        self._writer = pq.ParquetWriter(
            self._tmp / name, self._schema, compression="zstd"
        )
        self._parts.append({"file": name, "n_rows": 0})
        self._rows_in_part = 0

    def _close_part(self) -> None:
        self._writer.close()
        self._writer = None
        part = self._parts[-1]
        part["n_rows"] = self._rows_in_part
        part["size_bytes"] = (self._tmp / part["file"]).stat().st_size

    def _summary(self) -> dict[str, Any]:
        lengths = np.concatenate(self._lengths) if self._lengths else np.array([0])
        span = self._span if self._span[0] <= self._span[1] else [None, None]
        summary: dict[str, Any] = {
            "length_min": int(lengths.min()),
            "length_median": float(np.median(lengths)),
            "length_max": int(lengths.max()),
        }
        if self.kind == "spectra":
            summary["wavelength_aa_range"] = span
        elif self.kind == "lightcurves":
            summary["time_mjd_range"] = span
            summary["bands"] = sorted(self._bands)
        return summary

    def close(self) -> Store:
        """Finish the store: write the manifest and move it into place.

        Returns
        -------
        Store
            The finished store, opened.
        """
        if self._closed:
            return open_store(self.path)
        if self._schema is None:  # nothing written: still a valid, empty store
            self._schema = make_schema(self.kind)
        if self._writer is None and not self._parts:
            self._open_part()
        if self._writer is not None:
            self._close_part()
        manifest = {
            "format": FORMAT_NAME,
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "n_objects": len(self._ids),
            "classes": dict(sorted(self._classes.items())),
            "n_unlabelled": self._n_unlabelled,
            "columns": self._schema.names,
            "parts": self._parts,
            "summary": self._summary(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "attrs": self.attrs,
        }
        from skysift import __version__, source_commit

        manifest["skysift_version"] = __version__
        manifest["skysift_commit"] = source_commit()
        manifest_path = self._tmp / MANIFEST_NAME
        with open(manifest_path, "w") as f:
            json.dump(manifest, f, indent=2, default=_json_default)
            f.flush()
            os.fsync(f.fileno())
        old = None
        if self.path.exists():
            old = self.path.parent / f".{self.path.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(self.path, old)
        os.replace(self._tmp, self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self._closed = True
        return open_store(self.path)

    def abort(self) -> None:
        """Discard everything written so far; the target path is untouched."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._closed = True


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in the manifest")


def write_store(
    path: str | os.PathLike,
    batches: pa.Table | Mapping[str, Any] | Iterable[pa.Table | Mapping[str, Any]],
    *,
    kind: str,
    overwrite: bool = False,
    attrs: Mapping[str, Any] | None = None,
    row_group_size: int = 4096,
) -> Store:
    """Write one table, or an iterable of batches, to a new store.

    Parameters
    ----------
    path : str or path-like
        The store directory.
    batches : table, mapping of columns, or iterable of them
        The rows to write; see :meth:`StoreWriter.write`.
    kind : {"spectra", "lightcurves", "prepared"}
        What the store holds.
    overwrite : bool, default False
        Replace an existing store.
    attrs : mapping, optional
        Provenance kept in the manifest.
    row_group_size : int, default 4096
        Objects per Parquet row group.

    Returns
    -------
    Store
        The written store, opened.
    """
    if isinstance(batches, pa.Table | Mapping):
        batches = [batches]
    with StoreWriter(
        path, kind=kind, overwrite=overwrite, attrs=attrs, row_group_size=row_group_size
    ) as writer:
        for batch in batches:
            writer.write(batch)
    return open_store(path)


@dataclass(frozen=True)
class _Part:
    path: Path
    n_rows: int


class Store:
    """A dataset store opened for reading; use :func:`open_store` to get one.

    Attributes
    ----------
    path : pathlib.Path
        The store directory.
    kind : str
        ``"spectra"`` or ``"lightcurves"``.
    n_objects : int
        Number of objects (rows).
    classes : dict of str to int
        Objects per label, from the manifest.
    schema : pyarrow.Schema
        The Arrow schema of every part.
    manifest : dict
        The parsed manifest.
    """

    def __init__(
        self, path: Path, manifest: dict[str, Any], parts: list[_Part], schema
    ):
        self.path = path
        self.manifest = manifest
        self._parts = parts
        self.schema: pa.Schema = schema
        self.kind: str = manifest["kind"]
        self.n_objects: int = int(manifest["n_objects"])
        self.classes: dict[str, int] = dict(manifest.get("classes", {}))

    def __repr__(self) -> str:
        return (
            f"Store({str(self.path)!r}, kind={self.kind!r}, n_objects={self.n_objects})"
        )

    def __len__(self) -> int:
        return self.n_objects

    @property
    def columns(self) -> list[str]:
        """Column names, base columns first, array columns last."""
        return self.schema.names

    @property
    def array_columns(self) -> list[str]:
        """Names of the per-object array columns of this kind of store."""
        return list(ARRAY_COLUMNS[self.kind])

    @property
    def size_bytes(self) -> int:
        """Bytes on disk, manifest included."""
        return sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())

    @property
    def part_paths(self) -> list[Path]:
        """Paths of the Parquet part files, in row order."""
        return [p.path for p in self._parts]

    def _read_error(self, part: Path, err: Exception) -> DataFormatError:
        return DataFormatError(
            f"{part}: cannot read Parquet data ({err}); the store is damaged"
        )

    def iter_batches(
        self, batch_size: int = 4096, columns: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Stream the store in batches of exactly ``batch_size`` rows.

        Only one row group per part is held in memory at a time, so the
        store never needs to fit in memory.

        Parameters
        ----------
        batch_size : int, default 4096
            Rows per batch; the last batch may be shorter.
        columns : sequence of str, optional
            Read only these columns.

        Yields
        ------
        pyarrow.RecordBatch
            Consecutive rows in store order.

        Raises
        ------
        DataFormatError
            If a part file cannot be read.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        columns = self._check_columns(columns)
        pending: list[pa.RecordBatch] = []
        n_pending = 0
        for part in self._parts:
            try:
                with pq.ParquetFile(part.path) as pf:
                    for batch in pf.iter_batches(
                        batch_size=batch_size, columns=columns
                    ):
                        pending.append(batch)
                        n_pending += batch.num_rows
                        while n_pending >= batch_size:
                            table = pa.Table.from_batches(pending)
                            yield (
                                table.slice(0, batch_size)
                                .combine_chunks()
                                .to_batches()[0]
                            )
                            rest = table.slice(batch_size)
                            pending = (
                                rest.combine_chunks().to_batches()
                                if rest.num_rows
                                else []
                            )
                            n_pending = rest.num_rows
            except (pa.ArrowException, OSError) as e:
                raise self._read_error(part.path, e) from e
        if n_pending:
            yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]

    def _check_columns(self, columns: Sequence[str] | None) -> list[str] | None:
        if columns is None:
            return None
        unknown = [c for c in columns if c not in self.schema.names]
        if unknown:
            raise KeyError(
                f"{self.path}: no column(s) {unknown}; available: {self.schema.names}"
            )
        return list(columns)

    def read(self, columns: Sequence[str] | None = None) -> pa.Table:
        """Read the whole store (or some columns) into one Arrow table.

        Parameters
        ----------
        columns : sequence of str, optional
            Read only these columns; ``["object_id", "label"]`` is cheap.

        Returns
        -------
        pyarrow.Table
        """
        columns = self._check_columns(columns)
        tables = []
        for part in self._parts:
            try:
                tables.append(pq.read_table(part.path, columns=columns))
            except (pa.ArrowException, OSError) as e:
                raise self._read_error(part.path, e) from e
        return pa.concat_tables(tables)

    def to_pandas(self, columns: Sequence[str] | None = None):
        """Read the store into a :class:`pandas.DataFrame` (arrays as lists)."""
        return self.read(columns).to_pandas()

    def ids(self) -> np.ndarray:
        """All object ids in store order, as a NumPy array of str."""
        return (
            self.read(["object_id"]).column("object_id").to_numpy(zero_copy_only=False)
        )

    def take(
        self, ids: Sequence[str], columns: Sequence[str] | None = None
    ) -> pa.Table:
        """Random access: the rows of the given objects, in the order asked.

        Only the row groups that hold the asked ids are read.

        Parameters
        ----------
        ids : sequence of str
            Object ids.
        columns : sequence of str, optional
            Columns to return (``object_id`` is always included).

        Returns
        -------
        pyarrow.Table

        Raises
        ------
        KeyError
            If an id is not in the store; the message lists the missing ids.
        """
        wanted = [str(i) for i in ids]
        columns = self._check_columns(columns)
        if columns is not None and "object_id" not in columns:
            columns = ["object_id", *columns]
        wanted_arr = pa.array(wanted, pa.string())
        found: list[pa.Table] = []
        for part in self._parts:
            try:
                with pq.ParquetFile(part.path) as pf:
                    for rg in range(pf.num_row_groups):
                        rg_ids = pf.read_row_group(rg, columns=["object_id"]).column(0)
                        hit = pc.is_in(rg_ids, value_set=wanted_arr)
                        if pc.any(hit).as_py():
                            rows = pf.read_row_group(rg, columns=columns)
                            found.append(rows.filter(hit))
            except (pa.ArrowException, OSError) as e:
                raise self._read_error(part.path, e) from e
        table = pa.concat_tables(found) if found else self.schema.empty_table()
        if columns is not None and not found:
            table = table.select(columns)
        got = table.column("object_id").to_pylist()
        missing = sorted(set(wanted) - set(got))
        if missing:
            raise KeyError(f"{self.path}: object id(s) not in store: {missing[:10]}")
        order = {oid: i for i, oid in enumerate(got)}
        return table.take(pa.array([order[oid] for oid in wanted], pa.int64()))

    def get(self, object_id: str):
        """Return one object as a :class:`~skysift.data.Spectrum` or `LightCurve`."""
        from skysift.data.containers import from_row

        row = self.take([object_id]).to_pylist()[0]
        return from_row(self.kind, row)

    def info(self) -> dict[str, Any]:
        """Summarise the store for people and scripts (JSON-ready).

        Returns
        -------
        dict
            Keys ``path, kind, schema_version, n_objects, classes,
            n_unlabelled, columns, n_parts, size_bytes, summary, attrs``.
        """
        return {
            "path": str(self.path),
            "kind": self.kind,
            "schema_version": self.manifest["schema_version"],
            "n_objects": self.n_objects,
            "classes": self.classes,
            "n_unlabelled": self.manifest.get("n_unlabelled", 0),
            "columns": self.columns,
            "n_parts": len(self._parts),
            "size_bytes": self.size_bytes,
            "summary": self.manifest.get("summary", {}),
            "attrs": self.manifest.get("attrs", {}),
        }


def _read_part_schema(part: Path) -> tuple[pa.Schema, int]:
    try:
        with pq.ParquetFile(part) as pf:
            return pf.schema_arrow, pf.metadata.num_rows
    except (pa.ArrowException, OSError) as e:
        raise DataFormatError(
            f"{part}: not a readable Parquet file ({e}); truncated or corrupt"
        ) from e


def _skysift_meta(schema: pa.Schema) -> dict[str, Any] | None:
    raw = (schema.metadata or {}).get(_METADATA_KEY)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _check_schema(part: Path, schema: pa.Schema, kind: str) -> None:
    meta = _skysift_meta(schema)
    if meta is None:
        raise DataFormatError(f"{part}: no skysift metadata in the Parquet schema")
    if meta.get("kind") != kind or meta.get("schema_version") != SCHEMA_VERSION:
        raise DataFormatError(
            f"{part}: part says kind={meta.get('kind')!r}, schema "
            f"v{meta.get('schema_version')}; the manifest says kind={kind!r}, "
            f"v{SCHEMA_VERSION}"
        )
    expected = make_schema(kind)
    for name in ("object_id", *ARRAY_COLUMNS[kind]):
        want = expected.field(name).type
        if name not in schema.names:
            raise DataFormatError(f"{part}: required column {name!r} is missing")
        if not schema.field(name).type.equals(want):
            raise DataFormatError(
                f"{part}: column {name!r} has type {schema.field(name).type}, "
                f"expected {want}"
            )


def open_store(path: str | os.PathLike) -> Store:
    """Open a store for reading, checking that it is whole and well-formed.

    Parameters
    ----------
    path : str or path-like
        The store directory.

    Returns
    -------
    Store

    Raises
    ------
    DataFormatError
        If the path does not exist or is not a skysift store (a foreign
        Parquet file or dataset, another directory), if the manifest is
        unreadable or from a newer schema version, or if a part file is
        missing, truncated, or has the wrong schema. The message names the
        path and what is wrong.
    """
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"{path}: no such file or directory")
    if path.is_file():
        if path.suffix == ".parquet":
            schema, _ = _read_part_schema(path)
            if _skysift_meta(schema) is None:
                raise DataFormatError(
                    f"{path}: a Parquet file without skysift metadata (foreign "
                    "Parquet?); ingest it first, or open its store directory"
                )
        raise DataFormatError(
            f"{path}: is a file; a skysift store is a directory holding {MANIFEST_NAME}"
        )
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.exists():
        has_parquet = any(path.glob("*.parquet"))
        why = (
            "a Parquet dataset not written by skysift, or an interrupted write"
            if has_parquet
            else "not a skysift store"
        )
        raise DataFormatError(f"{path}: no {MANIFEST_NAME} manifest ({why})")
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        raise DataFormatError(f"{manifest_path}: unreadable manifest ({e})") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise DataFormatError(f"{manifest_path}: not a {FORMAT_NAME} manifest")
    version = manifest.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise DataFormatError(
            f"{path}: schema version {version!r}; this skysift reads versions up "
            f"to {SCHEMA_VERSION} (upgrade skysift)"
        )
    kind = manifest.get("kind")
    if kind not in ARRAY_COLUMNS:
        raise DataFormatError(f"{path}: unknown kind {kind!r}; expected one of {KINDS}")
    parts: list[_Part] = []
    schema = None
    for entry in manifest.get("parts", []):
        part_path = path / entry["file"]
        if not part_path.is_file():
            raise DataFormatError(
                f"{part_path}: part file missing; the store is incomplete"
            )
        size = entry.get("size_bytes")
        if size is not None and part_path.stat().st_size != size:
            raise DataFormatError(
                f"{part_path}: {part_path.stat().st_size} bytes on disk, the "
                f"manifest recorded {size}; the file is truncated or was modified"
            )
        part_schema, n_rows = _read_part_schema(part_path)
        _check_schema(part_path, part_schema, kind)
        if n_rows != entry["n_rows"]:
            raise DataFormatError(
                f"{part_path}: {n_rows} rows, the manifest recorded {entry['n_rows']}"
            )
        schema = schema or part_schema
        parts.append(_Part(part_path, n_rows))
    total = sum(p.n_rows for p in parts)
    if total != manifest.get("n_objects"):
        raise DataFormatError(
            f"{path}: parts hold {total} rows, the manifest says "
            f"{manifest.get('n_objects')} objects"
        )
    if schema is None:
        schema = make_schema(kind)
    return Store(path, manifest, parts, schema)
