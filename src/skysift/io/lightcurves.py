"""Light-curve readers: PLAsTiCC / ELAsTiCC tables and the SNANA text and FITS formats.

Every reader yields :class:`ReadBatch` objects: a table of light curves in the
store schema (``object_id, label, redshift, redshift_err``, scalar metadata,
``time_mjd, band, flux, flux_err``) plus the items it could not read, each
with a reason. :func:`ingest_lightcurves` streams the batches into a store
and writes the skipped items to a CSV report inside it, so that
``n_in == n_out + len(skipped)`` always holds.

Formats
-------
``plasticc``
    An observations table (CSV or Parquet) with one row per measurement,
    ``object_id, mjd, passband, flux, flux_err, detected_bool`` (Kaggle
    PLAsTiCC), plus an optional metadata table with one row per object
    (``hostgal_photoz, hostgal_photoz_err, hostgal_specz, target, ddf`` ...).
    SNANA-named columns (``SNID, MJD, BAND, FLUXCAL, FLUXCALERR``, as in
    ELAsTiCC light-curve dumps) are accepted too. Integer passbands 0-5 are
    the LSST bands ``u g r i z y``; class codes become names through
    :data:`PLASTICC_CLASSES`. ``redshift`` is the host photometric redshift.
``snana``
    SNANA text files, one object per file: a header of ``KEY: value`` lines,
    a ``VARLIST:`` line naming the columns and one ``OBS:`` line per
    measurement (the SNPCC format). The label is the simulated type
    (``SIM_COMMENT: SN Type = ...``), ``redshift`` is ``REDSHIFT_FINAL``.
    Files, directories and ``.tar(.gz)`` archives are read; where a
    directory holds the SNANA ``<version>.LIST`` file, exactly the listed
    files are read.
``snana-fits``
    SNANA FITS pairs: ``*_HEAD.FITS`` (one row per object) and
    ``*_PHOT.FITS`` (all measurements; rows ``PTROBS_MIN..PTROBS_MAX`` of an
    object, objects separated by rows with ``MJD = -777``), as written by
    the PLAsTiCC and ELAsTiCC simulations. The label is ``SIM_TYPE_NAME``
    where informative, otherwise the ``SIM_TYPE_INDEX`` code as a string.

Flux convention
---------------
``flux`` and ``flux_err`` are SNANA ``FLUXCAL`` units: calibrated fluxes with
an AB zero point of 27.5, ``mag = 27.5 - 2.5 log10(flux)`` (one unit is
``10**(0.4 * (31.4 - 27.5))`` = 36.3 nJy). PLAsTiCC fluxes are already on
this scale; alert fluxes are converted to it (see :mod:`skysift.io.alerts`).
The LSST band ``Y`` is written ``y``.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import tarfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from skysift.data.containers import LightCurve, from_row
from skysift.exceptions import DataFormatError, SkysiftWarning
from skysift.io.store import StoreWriter, make_schema

__all__ = [
    "FLUXCAL_ZERO_POINT",
    "LIGHTCURVE_FORMATS",
    "PLASTICC_BANDS",
    "PLASTICC_CLASSES",
    "IngestResult",
    "ReadBatch",
    "SkippedItem",
    "identify_lightcurve_format",
    "ingest_batches",
    "ingest_lightcurves",
    "iter_lightcurve_batches",
    "read_lightcurves",
    "read_plasticc",
    "read_snana_fits",
    "read_snana_text",
    "skipped_report_path",
]

#: AB zero point of the store's flux unit (SNANA FLUXCAL).
FLUXCAL_ZERO_POINT = 27.5

#: PLAsTiCC class code -> class name (the 14 training classes, the test-only
#: classes 991-995, and 99 for the challenge's catch-all "other" class).
PLASTICC_CLASSES: dict[int, str] = {
    6: "mu-Lens-Single",
    15: "TDE",
    16: "EB",
    42: "SNII",
    52: "SNIax",
    53: "Mira",
    62: "SNIbc",
    64: "KN",
    65: "M-dwarf",
    67: "SNIa-91bg",
    88: "AGN",
    90: "SNIa",
    92: "RRL",
    95: "SLSN-I",
    99: "class_99",
    991: "mu-Lens-Binary",
    992: "ILOT",
    993: "CaRT",
    994: "PISN",
    995: "mu-Lens-String",
}

#: PLAsTiCC integer passband -> LSST band name.
PLASTICC_BANDS = ("u", "g", "r", "i", "z", "y")

#: Light-curve formats :func:`ingest_lightcurves` reads.
LIGHTCURVE_FORMATS = ("plasticc", "snana", "snana-fits")

_POINT_COLUMNS = ("time_mjd", "band", "flux", "flux_err")
# stats key: points whose flux the file marks undefined (negative error)
_UNDEFINED = "points with undefined flux dropped"
_RESERVED = {"object_id", "label", "redshift", "redshift_err", *_POINT_COLUMNS}


# --------------------------------------------------------------------------
# Batches, skipped items, and writing them into a store
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SkippedItem:
    """One object, packet or file a reader could not use.

    Parameters
    ----------
    source : str
        The file it came from (``archive.tar.gz::member`` inside an archive).
    item : str
        The object id, record number or ``""`` for a whole file.
    reason : str
        A short category (``"truncated file"``, ``"bad value"`` ...), used to
        count skipped items by cause.
    detail : str
        What exactly was wrong, with the values found.
    """

    source: str
    item: str
    reason: str
    detail: str = ""


@dataclass
class ReadBatch:
    """Objects read from one chunk of input, and the items skipped in it.

    Parameters
    ----------
    table : pyarrow.Table or None
        Rows in the light-curve store schema; None when nothing was read.
    skipped : list of SkippedItem
        Items of this chunk that were not read.
    n_in : int
        Items looked at: ``table.num_rows + len(skipped)``.
    stats : dict of str to int
        Counters a reader wants reported (points dropped by band ...).
    ignored : list of SkippedItem
        Files met on the way that hold no object at all (a filter curve in
        a SNANA folder, a schema file beside alerts); reported, not counted
        in ``n_in``.
    """

    table: pa.Table | None
    skipped: list[SkippedItem] = field(default_factory=list)
    n_in: int = 0
    stats: dict[str, int] = field(default_factory=dict)
    ignored: list[SkippedItem] = field(default_factory=list)

    @property
    def n_out(self) -> int:
        """Number of objects in :attr:`table`."""
        return 0 if self.table is None else self.table.num_rows


@dataclass
class IngestResult:
    """What an ingest read, wrote and skipped.

    Parameters
    ----------
    store : pathlib.Path
        The store written.
    report : pathlib.Path
        The CSV of skipped and ignored items, ``<store>/_skipped.csv``
        (columns ``file, object_id, reason, detail``).
    n_in, n_out : int
        Items read and objects written; ``n_in == n_out + len(skipped)``.
    skipped : list of SkippedItem
        Everything not written, with reasons.
    seconds : float
        Wall-clock time of the ingest.
    stats : dict of str to int
        Reader counters summed over batches.
    classes : dict of str to int
        Objects per label in the store.
    ignored : list of SkippedItem
        Files that hold no object (also listed in the report).
    """

    store: Path
    report: Path
    n_in: int
    n_out: int
    skipped: list[SkippedItem]
    seconds: float
    stats: dict[str, int] = field(default_factory=dict)
    classes: dict[str, int] = field(default_factory=dict)
    ignored: list[SkippedItem] = field(default_factory=list)

    def reasons(self) -> Counter[str]:
        """Count skipped items by reason."""
        return Counter(s.reason for s in self.skipped)


def skipped_report_path(store: str | os.PathLike) -> Path:
    """Where the skipped-items report of an ingested store is written.

    The same place as ``skysift ingest spectra`` uses: inside the store,
    under a name that pandas and Spark skip when they read the directory.

    Parameters
    ----------
    store : str or path-like
        The store directory.

    Returns
    -------
    pathlib.Path
        ``<store>/_skipped.csv``, columns ``file, object_id, reason, detail``.

    Examples
    --------
    >>> skipped_report_path("data/snpcc").as_posix()
    'data/snpcc/_skipped.csv'
    """
    return Path(store) / "_skipped.csv"


def _write_report(path: Path, skipped: Sequence[SkippedItem]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "object_id", "reason", "detail"])
        writer.writerows((s.source, s.item, s.reason, s.detail) for s in skipped)
    os.replace(tmp, path)


def ingest_batches(
    batches: Iterable[ReadBatch],
    out: str | os.PathLike,
    *,
    attrs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
    what: str = "light curves",
) -> IngestResult:
    r"""Write reader batches to a light-curve store and report what was skipped.

    Objects whose id was already written are skipped (reason ``"duplicate
    object_id"``), never allowed to abort the write. The skipped items are
    written to :func:`skipped_report_path` of ``out`` once the store is
    complete.

    Parameters
    ----------
    batches : iterable of ReadBatch
        What a reader yields.
    out : str or path-like
        The store directory to create.
    attrs : mapping, optional
        Provenance for the store manifest; ``ingest`` counts are added.
    overwrite : bool, default False
        Replace an existing store (and its report).
    progress : callable, optional
        Called with the number of items of each batch once it is written.
    what : str, default "light curves"
        Name of the items, for the error raised when nothing could be read.

    Returns
    -------
    IngestResult

    Raises
    ------
    FileExistsError
        If ``out`` exists and ``overwrite`` is False (nothing is read).
    DataFormatError
        If not a single object could be read (no store is left behind); the
        message counts the reasons.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.csv").write_text("object_id,mjd,passband,flux,flux_err\n1,0.0,2,5.0,1.0\n")
    >>> batches = [*read_plasticc(d / "a.csv"), *read_plasticc(d / "a.csv")]
    >>> result = ingest_batches(batches, d / "store")
    >>> result.n_in, result.n_out, [s.reason for s in result.skipped]
    (2, 1, ['duplicate object_id'])
    """
    start = time.perf_counter()
    out = Path(out)
    report = skipped_report_path(out)
    writer = StoreWriter(out, kind="lightcurves", overwrite=overwrite, attrs=attrs)
    seen: dict[str, int] = {}
    sources: dict[str, int] = {}
    skipped: list[SkippedItem] = []
    ignored: list[SkippedItem] = []
    stats: Counter[str] = Counter()
    n_in = n_out = 0
    try:
        for batch in batches:
            n_in += batch.n_in
            skipped.extend(batch.skipped)
            ignored.extend(batch.ignored)
            stats.update(batch.stats)
            table = batch.table
            if table is not None and table.num_rows:
                table = _drop_duplicates(table, seen, sources, skipped)
                writer.write(table)
                n_out += table.num_rows
            if progress is not None:
                progress(batch.n_in)
        if n_out == 0:
            reasons = Counter(s.reason for s in [*skipped, *ignored]).most_common(5)
            example = next(iter([*skipped, *ignored]), None)
            raise DataFormatError(
                f"no {what} could be read: {n_in} item(s) looked at, "
                f"{len(skipped)} skipped, {len(ignored)} file(s) ignored ("
                + ("; ".join(f"{n} x {why}" for why, n in reasons) or "no input files")
                + (f"; e.g. {example.source}: {example.detail}" if example else "")
                + ")"
            )
        writer.attrs = {
            **writer.attrs,
            "ingest": {
                **dict(writer.attrs.get("ingest", {})),
                "n_in": n_in,
                "n_out": n_out,
                "n_skipped": len(skipped),
                "n_ignored_files": len(ignored),
                "skipped_by_reason": dict(Counter(s.reason for s in skipped)),
                "report": report.name,
                **({"stats": dict(stats)} if stats else {}),
            },
        }
        store = writer.close()
    except BaseException:
        writer.abort()
        raise
    _write_report(report, [*skipped, *ignored])
    return IngestResult(
        store=out,
        report=report,
        n_in=n_in,
        n_out=n_out,
        skipped=skipped,
        seconds=time.perf_counter() - start,
        stats=dict(stats),
        classes=dict(store.manifest.get("classes", {})),
        ignored=ignored,
    )


def _drop_duplicates(
    table: pa.Table,
    seen: dict[str, int],
    sources: dict[str, int],
    skipped: list[SkippedItem],
) -> pa.Table:
    """Remove rows whose object_id was written before or repeats in the table.

    ``seen`` maps each written id to the index of its source file in
    ``sources`` (file name -> index), so a million ids cost one int each.
    """
    ids = table.column("object_id").to_pylist()
    src = (
        table.column("source_file").to_pylist()
        if "source_file" in table.column_names
        else [""] * len(ids)
    )
    names = None
    keep = np.ones(len(ids), dtype=bool)
    for i, (oid, s) in enumerate(zip(ids, src, strict=True)):
        first = seen.get(oid)
        if first is None:
            seen[oid] = sources.setdefault(s, len(sources))
            continue
        keep[i] = False
        if names is None or len(names) != len(sources):
            names = {v: k for k, v in sources.items()}
        skipped.append(
            SkippedItem(
                s,
                oid,
                "duplicate object_id",
                f"object_id {oid!r} was already read from "
                f"{names.get(first) or 'an earlier batch'}",
            )
        )
    return table if keep.all() else table.filter(pa.array(keep))


def _assemble(
    scalars: Mapping[str, pa.Array],
    offsets: np.ndarray,
    points: Mapping[str, np.ndarray],
    point_extras: Mapping[str, tuple[np.ndarray, pa.DataType]] | None = None,
) -> pa.Table:
    """Build a light-curve store table from scalar columns and flat point arrays.

    ``offsets`` (length N + 1) splits the flat arrays into the N objects.
    """
    off = pa.array(offsets.astype(np.int32), type=pa.int32())
    columns: dict[str, pa.Array] = {}
    for name in ("object_id", "label", "redshift", "redshift_err"):
        columns[name] = scalars[name]
    extras = {k: v for k, v in scalars.items() if k not in columns}
    for name, (values, value_type) in (point_extras or {}).items():
        extras[name] = pa.ListArray.from_arrays(off, pa.array(values, type=value_type))
    schema = make_schema(
        "lightcurves", [pa.field(k, v.type) for k, v in extras.items()]
    )
    columns.update(extras)
    types = {"time_mjd": pa.float64(), "band": pa.string()}
    for name in _POINT_COLUMNS:
        flat = pa.array(points[name], type=types.get(name, pa.float32()))
        columns[name] = pa.ListArray.from_arrays(off, flat)
    return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)


def _base_columns(
    ids: Sequence[str], labels: Sequence[Any], z: Any, z_err: Any
) -> dict[str, pa.Array]:
    n = len(ids)
    return {
        "object_id": pa.array(list(ids), type=pa.string()),
        "label": pa.array(list(labels), type=pa.string())
        if n
        else pa.array([], pa.string()),
        "redshift": pa.array(
            np.asarray(z, dtype=np.float64), type=pa.float64(), from_pandas=True
        ),
        "redshift_err": pa.array(
            np.asarray(z_err, dtype=np.float64), type=pa.float64(), from_pandas=True
        ),
    }


def _normalise_bands(bands: np.ndarray) -> np.ndarray:
    """Strip band names and write the LSST ``Y`` band as ``y``."""
    bands = np.char.strip(np.asarray(bands, dtype=str))
    return np.where(bands == "Y", "y", bands)


def _label_mapper(class_names: str | Mapping[Any, str] | None) -> Callable[[Any], Any]:
    """Return a function turning a raw class value into a label (None stays None)."""
    if class_names is None or class_names == "raw":
        table: dict[str, str] = {}
    elif class_names == "plasticc":
        table = {str(k): v for k, v in PLASTICC_CLASSES.items()}
    elif isinstance(class_names, Mapping):
        table = {str(k): str(v) for k, v in class_names.items()}
    else:
        raise ValueError(
            f"class_names must be 'plasticc', 'raw', None or a mapping, got {class_names!r}"
        )

    def to_label(value: Any) -> Any:
        if value is None or (isinstance(value, float) and not np.isfinite(value)):
            return None
        if isinstance(value, float | np.floating) and float(value).is_integer():
            value = int(value)
        text = str(value).strip()
        if text in ("", "nan", "None", "<NA>"):
            return None
        return table.get(text, text)

    return to_label


def _group_offsets(codes: np.ndarray, n_groups: int) -> np.ndarray:
    offsets = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(codes, minlength=n_groups), out=offsets[1:])
    return offsets


# --------------------------------------------------------------------------
# PLAsTiCC / ELAsTiCC tables
# --------------------------------------------------------------------------

_OBS_ALIASES = {
    "object_id": ("object_id", "SNID", "snid"),
    "mjd": ("mjd", "MJD", "time_mjd", "mjd_rel"),
    "passband": ("passband", "BAND", "band", "FLT", "filter"),
    "flux": ("flux", "FLUXCAL"),
    "flux_err": ("flux_err", "FLUXCALERR"),
    "detected": ("detected_bool", "detected"),
}
_META_ALIASES = {
    "object_id": ("object_id", "SNID", "snid"),
    "hostgal_photoz": ("hostgal_photoz", "HOSTGAL_PHOTOZ"),
    "hostgal_photoz_err": ("hostgal_photoz_err", "HOSTGAL_PHOTOZ_ERR"),
    "hostgal_specz": ("hostgal_specz", "HOSTGAL_SPECZ"),
    "ddf": ("ddf", "ddf_bool", "DDF"),
}


def _resolve_columns(
    columns: Sequence[str], aliases: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """Map canonical names to the first alias present in ``columns``."""
    found = {}
    for canonical, names in aliases.items():
        for name in names:
            if name in columns:
                found[canonical] = name
                break
    return found


def _read_table_file(path: Path, **csv_kwargs: Any) -> pd.DataFrame:
    if path.suffix.lower() in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
        if frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()
        return frame
    return pd.read_csv(path, skipinitialspace=True, **csv_kwargs)


def _iter_table_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as pf:
            # use_pandas_metadata: an object id written as the pandas index
            # (SNID in ELAsTiCC dumps) comes back as a column
            for batch in pf.iter_batches(
                batch_size=chunk_rows, use_pandas_metadata=True
            ):
                frame = batch.to_pandas()
                if not isinstance(frame.index, pd.RangeIndex):
                    frame = frame.reset_index()
                yield frame
        return
    with pd.read_csv(path, skipinitialspace=True, chunksize=chunk_rows) as reader:
        yield from reader


def _load_metadata(path: str | os.PathLike) -> tuple[pd.DataFrame, str | None]:
    """Read a metadata table indexed by object id; return it and its class column."""
    path = Path(path)
    try:
        meta = _read_table_file(path)
    except (OSError, ValueError) as e:
        raise DataFormatError(f"{path}: unreadable metadata table ({e})") from e
    names = _resolve_columns(meta.columns, _META_ALIASES)
    if "object_id" not in names:
        raise DataFormatError(
            f"{path}: metadata has no object id column (object_id or SNID); "
            f"columns are {list(meta.columns)[:12]}"
        )
    meta = meta.rename(columns={v: k for k, v in names.items()})
    if "target" in meta.columns and "true_target" in meta.columns:
        class_column = (
            "true_target"  # unblinded truth beats the public (blinded) target
        )
    elif "true_target" in meta.columns:
        class_column = "true_target"
    elif "target" in meta.columns:
        class_column = "target"
    else:
        class_column = None
    meta["object_id"] = meta["object_id"].astype(str).str.strip()
    dupes = meta["object_id"][meta["object_id"].duplicated()]
    if len(dupes):
        raise DataFormatError(
            f"{path}: {len(dupes)} duplicate object id(s) in the metadata, "
            f"e.g. {dupes.iloc[0]!r}; one row per object is expected"
        )
    meta = meta.set_index("object_id")
    renamed = {c: f"meta_{c}" for c in meta.columns if c in _RESERVED}
    meta = meta.rename(columns=renamed)
    # nullable integers and booleans keep their type when ids missing from the
    # metadata are filled with nulls
    for column in meta.columns:
        if pd.api.types.is_bool_dtype(meta[column]):
            meta[column] = meta[column].astype("boolean")
        elif pd.api.types.is_integer_dtype(meta[column]):
            meta[column] = meta[column].astype("Int64")
    return meta, class_column


def _arrow_type(series: pd.Series) -> pa.DataType:
    if pd.api.types.is_bool_dtype(series):
        return pa.bool_()
    if pd.api.types.is_integer_dtype(series):
        return pa.int64()
    if pd.api.types.is_float_dtype(series):
        return pa.float64()
    return pa.string()


def read_plasticc(
    observations: str | os.PathLike | Sequence[str | os.PathLike],
    metadata: str | os.PathLike | None = None,
    *,
    class_names: str | Mapping[Any, str] | None = "plasticc",
    chunk_rows: int = 2_000_000,
) -> Iterator[ReadBatch]:
    r"""Read PLAsTiCC / ELAsTiCC observation tables, joined to their metadata.

    Parameters
    ----------
    observations : path or sequence of paths
        CSV (optionally compressed) or Parquet tables with one row per
        measurement. Column names: ``object_id, mjd, passband, flux,
        flux_err`` and optionally ``detected_bool`` (or ``detected``); the
        SNANA names ``SNID, MJD, BAND, FLUXCAL, FLUXCALERR`` and the relative
        time ``mjd_rel`` are accepted too. Rows of one object must be
        contiguous, as in the PLAsTiCC files.
    metadata : path, optional
        A table with one row per object (``object_id`` or ``SNID``). Its
        columns become scalar metadata columns; ``ddf_bool`` is renamed
        ``ddf``. The class code comes from ``true_target`` if present, else
        ``target``; ``redshift`` and ``redshift_err`` from ``hostgal_photoz``
        and its error (the seed 003 features).
    class_names : {"plasticc", "raw"} or mapping, default "plasticc"
        How class codes become labels: the :data:`PLASTICC_CLASSES` table,
        the code itself as a string, or your own mapping. Codes missing
        from the table are kept as strings.
    chunk_rows : int, default 2_000_000
        Observation rows parsed at a time.

    Yields
    ------
    ReadBatch
        Light curves sorted by time; a ``detected`` list column where the
        table has a detection flag, a ``target`` column with the raw class
        code, and ``source_file``.

    Raises
    ------
    DataFormatError
        If a required column is missing, a table cannot be parsed, or the
        rows of one object are split across distant parts of a file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "obs.csv").write_text(
    ...     "object_id,mjd,passband,flux,flux_err,detected_bool\n"
    ...     "615,59750.42,2,-544.8,3.6,1\n615,59750.43,1,-816.4,5.6,1\n")
    >>> _ = (d / "meta.csv").write_text(
    ...     "object_id,hostgal_photoz,hostgal_photoz_err,target\n615,0.0,0.0,92\n")
    >>> batch, = read_plasticc(d / "obs.csv", d / "meta.csv")
    >>> batch.table.column("label").to_pylist(), batch.table.column("band").to_pylist()
    (['RRL'], [['r', 'g']])
    """
    paths = (
        [Path(observations)]
        if isinstance(observations, str | os.PathLike)
        else [Path(p) for p in observations]
    )
    meta, class_column = (None, None) if metadata is None else _load_metadata(metadata)
    to_label = _label_mapper(class_names)
    for path in paths:
        yield from _read_plasticc_file(path, meta, class_column, to_label, chunk_rows)


def _read_plasticc_file(
    path: Path,
    meta: pd.DataFrame | None,
    class_column: str | None,
    to_label: Callable[[Any], Any],
    chunk_rows: int,
) -> Iterator[ReadBatch]:
    carry: pd.DataFrame | None = None
    emitted: set[str] = set()
    names: dict[str, str] | None = None
    try:
        for frame in _iter_table_chunks(path, chunk_rows):
            if names is None:
                names = _resolve_columns(frame.columns, _OBS_ALIASES)
                missing = [
                    c
                    for c in ("object_id", "mjd", "passband", "flux", "flux_err")
                    if c not in names
                ]
                if missing:
                    raise DataFormatError(
                        f"{path}: not a PLAsTiCC-style observations table: no "
                        f"{' / '.join(_OBS_ALIASES[missing[0]])} column (missing "
                        f"{missing}); columns are {list(frame.columns)[:12]}"
                    )
            frame = frame[list(names.values())].rename(
                columns={v: k for k, v in names.items()}
            )
            frame["object_id"] = frame["object_id"].astype(str).str.strip()
            if carry is not None:
                frame = pd.concat([carry, frame], ignore_index=True)
            last = frame["object_id"].iloc[-1]
            tail = (frame["object_id"] == last).to_numpy()
            carry = frame[tail]
            frame = frame[~tail]
            if len(frame):
                yield _plasticc_batch(
                    frame, path, meta, class_column, to_label, emitted
                )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataFormatError(f"{path}: cannot parse as a CSV table ({e})") from e
    except (pa.ArrowException, OSError) as e:
        raise DataFormatError(f"{path}: unreadable table ({e})") from e
    if carry is not None and len(carry):
        yield _plasticc_batch(carry, path, meta, class_column, to_label, emitted)


def _plasticc_batch(
    frame: pd.DataFrame,
    path: Path,
    meta: pd.DataFrame | None,
    class_column: str | None,
    to_label: Callable[[Any], Any],
    emitted: set[str],
) -> ReadBatch:
    codes, uniques = pd.factorize(frame["object_id"], sort=False)
    uniques = np.asarray(uniques, dtype=object)
    again = emitted.intersection(uniques.tolist())
    if again:
        raise DataFormatError(
            f"{path}: rows of object {sorted(again)[0]!r} are not contiguous; sort "
            "the table by object_id (the PLAsTiCC files are) before ingesting"
        )
    emitted.update(uniques.tolist())
    mjd = pd.to_numeric(frame["mjd"], errors="coerce").to_numpy(np.float64)
    flux = pd.to_numeric(frame["flux"], errors="coerce").to_numpy(np.float64)
    flux_err = pd.to_numeric(frame["flux_err"], errors="coerce").to_numpy(np.float64)
    band_raw = frame["passband"]
    if pd.api.types.is_numeric_dtype(band_raw):
        index = pd.to_numeric(band_raw, errors="coerce").to_numpy(np.float64)
        ok_band = np.isin(index, np.arange(len(PLASTICC_BANDS)))
        band = np.asarray(PLASTICC_BANDS)[np.where(ok_band, index, 0).astype(int)]
    else:
        band = _normalise_bands(band_raw.astype(str).to_numpy())
        ok_band = (band != "") & (band != "nan")
    bad_value = ~(np.isfinite(mjd) & np.isfinite(flux) & np.isfinite(flux_err))
    bad = bad_value | ~ok_band
    # a negative error is SNANA's mark of an undefined flux: drop the point
    undefined = ~bad & (flux_err < 0)
    n_obj = len(uniques)
    skipped: list[SkippedItem] = []
    good_obj = np.ones(n_obj, dtype=bool)
    if bad.any():
        for code in np.unique(codes[bad]):
            rows = codes == code
            parts = []
            if (bad_value & rows).any():
                parts.append(
                    f"{int((bad_value & rows).sum())} row(s) with missing or non-numeric mjd/flux/flux_err"
                )
            if (~ok_band & rows).any():
                example = band_raw[rows & ~ok_band].iloc[0]
                example = example.item() if isinstance(example, np.generic) else example
                parts.append(
                    f"{int((~ok_band & rows).sum())} row(s) with unknown passband "
                    f"{example!r} (expected 0-5 or a band name)"
                )
            skipped.append(
                SkippedItem(
                    str(path), str(uniques[code]), "bad value", "; ".join(parts)
                )
            )
            good_obj[code] = False
    detected = None
    if "detected" in frame.columns:
        detected = (
            pd.to_numeric(frame["detected"], errors="coerce").fillna(0).to_numpy() != 0
        )
    remaining = np.bincount(codes[~undefined], minlength=n_obj)
    for code in np.flatnonzero(good_obj & (remaining == 0)):
        skipped.append(
            SkippedItem(
                str(path),
                str(uniques[code]),
                "no observations",
                "every row has an undefined flux (flux_err < 0)",
            )
        )
        good_obj[code] = False
    keep_rows = good_obj[codes] & ~undefined
    n_undefined = int((undefined & good_obj[codes]).sum())
    stats = {_UNDEFINED: n_undefined} if n_undefined else {}
    new_index = np.cumsum(good_obj) - 1
    codes = new_index[codes[keep_rows]]
    mjd, flux, flux_err, band = (
        mjd[keep_rows],
        flux[keep_rows],
        flux_err[keep_rows],
        band[keep_rows],
    )
    if detected is not None:
        detected = detected[keep_rows]
    ids = uniques[good_obj]
    n = len(ids)
    if n == 0:
        return ReadBatch(None, skipped, n_obj, stats)
    order = np.lexsort((mjd, codes))
    offsets = _group_offsets(codes, n)
    scalars: dict[str, pa.Array]
    if meta is not None:
        rows = meta.reindex(pd.Index(ids.astype(str)))
        labels = (
            [to_label(v) for v in rows[class_column].to_numpy(dtype=object)]
            if class_column
            else [None] * n
        )
        z = (
            rows["hostgal_photoz"].to_numpy(np.float64, na_value=np.nan)
            if "hostgal_photoz" in rows
            else np.full(n, np.nan)
        )
        z_err = (
            rows["hostgal_photoz_err"].to_numpy(np.float64, na_value=np.nan)
            if "hostgal_photoz_err" in rows
            else np.full(n, np.nan)
        )
        scalars = _base_columns(ids.astype(str), labels, z, z_err)
        for column in meta.columns:
            scalars[column] = pa.array(
                rows[column], type=_arrow_type(meta[column]), from_pandas=True
            )
        scalars["has_metadata"] = pa.array(
            np.isin(ids.astype(str), meta.index.to_numpy(dtype=str)), pa.bool_()
        )
    else:
        scalars = _base_columns(
            ids.astype(str), [None] * n, np.full(n, np.nan), np.full(n, np.nan)
        )
    scalars["source_file"] = pa.array([str(path)] * n, pa.string())
    table = _assemble(
        scalars,
        offsets,
        {
            "time_mjd": mjd[order],
            "band": band[order],
            "flux": flux[order],
            "flux_err": flux_err[order],
        },
        {"detected": (detected[order], pa.bool_())} if detected is not None else None,
    )
    return ReadBatch(table, skipped, n_obj, stats)


# --------------------------------------------------------------------------
# SNANA text (SNPCC)
# --------------------------------------------------------------------------

_HEADER_RE = re.compile(r"^([A-Za-z][\w\-\(\)]*):(.*)$", re.M)
# greedy on purpose: a lazy group with a trailing-space class backtracks at
# every character (10x slower over 2 million rows); pandas splits on any space
_OBS_RE = re.compile(r"^OBS:([^\r\n]*)", re.M)
_SN_TYPE_RE = re.compile(r"SN\s*Type\s*=\s*([^,]+?)\s*(?:,\s*MODEL\s*=\s*(\S+))?\s*$")
_VALUE_ERR_RE = re.compile(r"^\s*(\S+)\s*(?:\+-\s*(\S+))?")
_SNANA_NAME_RE = re.compile(r"\.(dat|DAT|txt|TXT)(\.gz)?$")
_ARCHIVE_RE = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tar\.xz)$", re.I)

_SNANA_TEXT_FIELDS: dict[str, pa.DataType] = {
    "sntype": pa.int64(),
    "spectro_confirmed": pa.bool_(),
    "sim_type": pa.string(),
    "sim_model": pa.string(),
    "sim_non1a": pa.int64(),
    "sim_redshift": pa.float64(),
    "sim_peakmjd": pa.float64(),
    "redshift_spec": pa.float64(),
    "hostgal_photoz": pa.float64(),
    "hostgal_photoz_err": pa.float64(),
    "ra": pa.float64(),
    "decl": pa.float64(),
    "mwebv": pa.float64(),
    "survey": pa.string(),
    "source_file": pa.string(),
}


def _first_float(text: str | None) -> float:
    if not text:
        return np.nan
    m = _VALUE_ERR_RE.match(text)
    try:
        value = float(m.group(1)) if m else np.nan
    except ValueError:
        return np.nan
    return np.nan if value == -9 else value


def _value_and_error(text: str | None) -> tuple[float, float]:
    if not text:
        return np.nan, np.nan
    m = _VALUE_ERR_RE.match(text)
    if not m:
        return np.nan, np.nan
    try:
        value = float(m.group(1))
        err = float(m.group(2)) if m.group(2) else np.nan
    except ValueError:
        return np.nan, np.nan
    if value == -9:  # SNANA's "undefined"
        return np.nan, np.nan
    return value, err


def _first_int(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(float(text.split()[0]))
    except (ValueError, IndexError):
        return None


def _snana_header(text: str) -> dict[str, str]:
    # reversed: the first occurrence of a repeated key wins; values keep
    # their surrounding spaces (every consumer splits or regex-matches them)
    return dict(reversed(_HEADER_RE.findall(text)))


@dataclass
class _SnanaFile:
    source: str
    header: dict[str, str]
    varlist: tuple[str, ...]
    lines: list[str]


_NOT_LC = "not a light-curve file"


def _split_snana(source: str, text: str) -> _SnanaFile | SkippedItem:
    """Cut one SNANA text file into header, VARLIST and OBS lines, or say why not."""
    vpos = text.find("VARLIST:")
    if vpos < 0:
        if "SNID:" not in text:
            return SkippedItem(
                source, "", "not a light-curve file", "no SNID: or VARLIST: line"
            )
        return SkippedItem(source, "", "missing field", "no VARLIST: line")
    eol = text.find("\n", vpos)
    eol = len(text) if eol < 0 else eol
    header = _snana_header(text[:vpos])
    varlist = tuple(text[vpos + len("VARLIST:") : eol].split())
    lines = _OBS_RE.findall(text, eol)
    snid = header.get("SNID", "").split()
    item = snid[0] if snid else ""
    if not item:
        return SkippedItem(source, "", "missing field", "no SNID: in the header")
    band_col = "FLT" if "FLT" in varlist else "BAND"
    missing = [
        c for c in ("MJD", band_col, "FLUXCAL", "FLUXCALERR") if c not in varlist
    ]
    if missing:
        return SkippedItem(
            source,
            item,
            "missing field",
            f"VARLIST has no {missing} (VARLIST: {' '.join(varlist)})",
        )
    n_obs = _first_int(header.get("NOBS"))
    if n_obs is not None and n_obs != len(lines):
        return SkippedItem(
            source,
            item,
            "truncated file",
            f"header NOBS: {n_obs} but {len(lines)} OBS: rows",
        )
    if not lines:
        return SkippedItem(source, item, "no observations", "no OBS: rows")
    return _SnanaFile(source, header, varlist, lines)


_EXTRA = "_end_marker_"


def _parse_obs(varlist: tuple[str, ...], lines: list[str]) -> pd.DataFrame:
    """Parse OBS rows of files sharing one VARLIST with the C parser in one call.

    Only the columns used are converted. Every row gets an end marker ``~``
    as one more value: a row with too few values moves it into the last
    VARLIST column (which then fails to parse as a number), a row with too
    many pushes it out of the marker column.
    """
    band_col = "FLT" if "FLT" in varlist else "BAND"
    used = {"MJD", band_col, "FLUXCAL", "FLUXCALERR", varlist[-1], _EXTRA}
    names = [*varlist, _EXTRA]
    frame = pd.read_csv(
        io.StringIO(" ~\n".join(lines) + " ~"),
        sep=r"\s+",
        header=None,
        names=names,
        usecols=[c for c in names if c in used],
        index_col=False,
        keep_default_na=False,
        na_values=[],
        # few distinct band names: a categorical parses and normalises fast
        dtype={
            _EXTRA: str,
            **{c: "category" for c in ("FLT", "BAND", "FIELD") if c in used},
        },
        engine="c",
    )
    if len(frame) != len(lines):
        raise pd.errors.ParserError(f"parsed {len(frame)} rows from {len(lines)} lines")
    return frame


def _snana_text_batch(
    files: list[_SnanaFile],
    skipped: list[SkippedItem],
    n_in: int,
    class_names: Any,
    ignored: list[SkippedItem],
) -> ReadBatch:
    """Parse a chunk of split SNANA files into one batch (one pandas call per VARLIST)."""
    to_label = _label_mapper(class_names)
    groups: dict[tuple[str, ...], list[_SnanaFile]] = {}
    for f in files:
        groups.setdefault(f.varlist, []).append(f)
    tables = []
    undefined = 0
    for varlist, group in groups.items():
        try:
            frame = _parse_obs(varlist, [line for f in group for line in f.lines])
            parsed = [(group, frame)]
        except (pd.errors.ParserError, ValueError):
            # a malformed row somewhere: parse file by file to find it
            parsed = []
            for f in group:
                try:
                    parsed.append(([f], _parse_obs(varlist, f.lines)))
                except (pd.errors.ParserError, ValueError) as e:
                    skipped.append(
                        SkippedItem(
                            f.source,
                            f.header["SNID"].split()[0],
                            "bad value",
                            f"malformed OBS: row ({e})",
                        )
                    )
        for members, frame in parsed:
            table, n_undefined = _snana_text_table(
                varlist, members, frame, skipped, to_label
            )
            undefined += n_undefined
            if table is not None:
                tables.append(table)
    table = pa.concat_tables(tables) if tables else None
    stats = {_UNDEFINED: undefined} if undefined else {}
    return ReadBatch(table, skipped, n_in, stats, ignored)


def _snana_text_table(
    varlist: tuple[str, ...],
    files: list[_SnanaFile],
    frame: pd.DataFrame,
    skipped: list[SkippedItem],
    to_label: Callable[[Any], Any],
) -> tuple[pa.Table | None, int]:
    """Build the table of one parsed group; also return the undefined points dropped."""
    numeric = [c for c in frame.columns if c not in ("FLT", "BAND", "FIELD", _EXTRA)]
    values = {}
    bad = np.array(frame[_EXTRA] != "~", dtype=bool)  # more values than VARLIST
    for c in numeric:
        col = frame[c]
        if not pd.api.types.is_float_dtype(col) and not pd.api.types.is_integer_dtype(
            col
        ):
            col = pd.to_numeric(col, errors="coerce")
        arr = col.to_numpy(np.float64, na_value=np.nan)
        bad |= ~np.isfinite(arr)
        values[c] = arr
    band_col = "FLT" if "FLT" in varlist else "BAND"
    band_cat = frame[band_col]
    if isinstance(band_cat.dtype, pd.CategoricalDtype):
        names = _normalise_bands(np.asarray(band_cat.cat.categories, dtype=str))
        band = names[band_cat.cat.codes.to_numpy()]
    else:
        band = _normalise_bands(band_cat.to_numpy(dtype=str))
    bad |= (band == "") | (band == "nan")
    # SNANA writes FLUXCALERR = -9 where a flux is undefined: not a measurement
    undefined = ~bad & (values["FLUXCALERR"] < 0)
    counts = np.fromiter(
        (len(f.lines) for f in files), dtype=np.int64, count=len(files)
    )
    file_of_row = np.repeat(np.arange(len(files)), counts)
    good = np.ones(len(files), dtype=bool)
    if bad.any():
        for k in np.unique(file_of_row[bad]):
            rows = np.flatnonzero(bad & (file_of_row == k))
            first = rows[0] - (counts[:k].sum())
            skipped.append(
                SkippedItem(
                    files[k].source,
                    files[k].header["SNID"].split()[0],
                    "bad value",
                    f"{len(rows)} OBS: row(s) with missing, extra or non-numeric values "
                    f"(first: row {first + 1}: {files[k].lines[first]!r})",
                )
            )
            good[k] = False
    remaining = np.bincount(file_of_row[~undefined], minlength=len(files))
    for k in np.flatnonzero(good & (remaining == 0)):
        skipped.append(
            SkippedItem(
                files[k].source,
                files[k].header["SNID"].split()[0],
                "no observations",
                f"all {counts[k]} OBS: rows have an undefined flux (FLUXCALERR < 0)",
            )
        )
        good[k] = False
    keep = good[file_of_row] & ~undefined
    n_undefined = int((undefined & good[file_of_row]).sum())
    files = [f for f, g in zip(files, good, strict=True) if g]
    if not files:
        return None, 0
    codes = (np.cumsum(good) - 1)[file_of_row[keep]]
    mjd = values["MJD"][keep]
    order = np.lexsort((mjd, codes))
    offsets = _group_offsets(codes, len(files))
    ids, labels, z, z_err = [], [], [], []
    extra: dict[str, list] = {k: [] for k in _SNANA_TEXT_FIELDS}
    for f in files:
        h = f.header
        ids.append(h["SNID"].split()[0])
        sim_type = sim_model = None
        m = _SN_TYPE_RE.search(h.get("SIM_COMMENT", ""))
        if m:
            sim_type, sim_model = m.group(1).strip(), m.group(2)
        else:
            for key in ("SIM_TYPE_NAME", "SIM_GENTYPE", "SIM_TYPE_INDEX"):
                if h.get(key):
                    sim_type = h[key].split()[0]
                    break
        labels.append(to_label(sim_type))
        value, err = _value_and_error(
            h.get("REDSHIFT_FINAL") or h.get("REDSHIFT_HELIO")
        )
        if not np.isfinite(value):
            value, err = _value_and_error(h.get("HOST_GALAXY_PHOTO-Z"))
        z.append(value)
        z_err.append(err)
        sntype = _first_int(h.get("SNTYPE"))
        photoz, photoz_err = _value_and_error(h.get("HOST_GALAXY_PHOTO-Z"))
        extra["sntype"].append(sntype)
        # SNANA writes SNTYPE -9 for objects without a spectroscopic type
        extra["spectro_confirmed"].append(sntype is not None and sntype > 0)
        extra["sim_type"].append(sim_type)
        extra["sim_model"].append(
            sim_model or (h.get("SIM_MODEL", "").split() or [None])[0]
        )
        extra["sim_non1a"].append(_first_int(h.get("SIM_NON1a")))
        extra["sim_redshift"].append(
            _first_float(h.get("SIM_REDSHIFT") or h.get("SIM_REDSHIFT_CMB"))
        )
        extra["sim_peakmjd"].append(_first_float(h.get("SIM_PEAKMJD")))
        extra["redshift_spec"].append(_value_and_error(h.get("REDSHIFT_SPEC"))[0])
        extra["hostgal_photoz"].append(photoz)
        extra["hostgal_photoz_err"].append(photoz_err)
        extra["ra"].append(_first_float(h.get("RA")))
        extra["decl"].append(_first_float(h.get("DECL") or h.get("DEC")))
        extra["mwebv"].append(_first_float(h.get("MWEBV")))
        extra["survey"].append((h.get("SURVEY", "").split() or [None])[0])
        extra["source_file"].append(f.source)
    scalars = _base_columns(ids, labels, z, z_err)
    for name, value_type in _SNANA_TEXT_FIELDS.items():
        scalars[name] = pa.array(extra[name], type=value_type, from_pandas=True)
    table = _assemble(
        scalars,
        offsets,
        {
            "time_mjd": mjd[order],
            "band": band[keep][order],
            "flux": values["FLUXCAL"][keep][order],
            "flux_err": values["FLUXCALERR"][keep][order],
        },
    )
    return table, n_undefined


def _maybe_gunzip(name: str, data: bytes) -> bytes:
    return gzip.decompress(data) if name.endswith(".gz") else data


def _iter_snana_sources(
    paths: Sequence[Path],
) -> Iterator[tuple[str, bytes | SkippedItem]]:
    """Yield (source name, file bytes) of SNANA text files, or why a file cannot be had.

    Files named ``*.dat`` / ``*.DAT`` (optionally ``.gz``) are candidates;
    the SNANA ``.LIST`` files are read on the way and files they list that
    never turned up are reported at the end as missing.
    """
    listed: dict[str, str] = {}  # listed file -> the LIST naming it
    seen: set[str] = set()
    for path in paths:
        if path.is_dir():
            for directory, _, names in sorted(os.walk(path)):
                for name in sorted(names):
                    full = Path(directory) / name
                    if name.endswith(".LIST"):
                        _note_listed(
                            listed, str(Path(directory)), full.read_bytes(), str(full)
                        )
                    elif _SNANA_NAME_RE.search(name):
                        seen.add(str(full))
                        yield str(full), _read_bytes(full)
        elif _ARCHIVE_RE.search(path.name):
            yield from _iter_snana_archive(path, listed, seen)
        else:
            seen.add(str(path))
            yield str(path), _read_bytes(path)
    for name, list_file in listed.items():
        if name not in seen:
            yield (
                name,
                SkippedItem(
                    name, "", "missing file", f"listed in {list_file} but absent"
                ),
            )


def _note_listed(
    listed: dict[str, str], directory: str, data: bytes, list_file: str
) -> None:
    for line in data.decode("latin-1").splitlines():
        entry = line.split()[0] if line.strip() and not line.startswith("#") else ""
        if entry:
            listed.setdefault(f"{directory}/{entry}" if directory else entry, list_file)


def _read_bytes(path: Path) -> bytes | SkippedItem:
    try:
        return _maybe_gunzip(path.name, path.read_bytes())
    except (OSError, EOFError) as e:  # EOFError: a truncated .gz
        return SkippedItem(str(path), "", "unreadable file", str(e))


def _open_compressed(path: Path):
    """Open a possibly compressed archive as a stream whose truncation raises EOFError."""
    import bz2
    import lzma

    name = path.name.lower()
    if name.endswith((".gz", ".tgz")):
        return gzip.open(path, "rb")
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if name.endswith(".xz"):
        return lzma.open(path, "rb")
    return open(path, "rb")


def _iter_snana_archive(
    path: Path, listed: dict[str, str], seen: set[str]
) -> Iterator[tuple[str, bytes | SkippedItem]]:
    # one streaming pass: random access into a .tar.gz decompresses it twice
    n_read = 0
    try:
        with _open_compressed(path) as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                directory, _, name = member.name.rpartition("/")
                source = f"{path}::{member.name}"
                if name.endswith(".LIST"):
                    data = tar.extractfile(member).read()
                    prefix = f"{path}::{directory}" if directory else f"{path}::"
                    _note_listed(listed, prefix, data, source)
                elif _SNANA_NAME_RE.search(name):
                    data = tar.extractfile(member).read()
                    if len(data) != member.size:
                        raise EOFError(
                            f"{member.name} ends after {len(data)} of {member.size} bytes"
                        )
                    seen.add(source)
                    n_read += 1
                    yield source, _maybe_gunzip(name, data)
            # tarfile stops quietly at a cut; reading the stream to its end
            # makes the decompressor check its end-of-stream marker
            while raw.read(1 << 20):
                pass
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError) as e:
        yield (
            str(path),
            SkippedItem(
                str(path),
                "",
                "truncated file" if n_read else "unreadable file",
                f"archive unreadable after {n_read} light-curve file(s): {e}",
            ),
        )


def read_snana_text(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    class_names: str | Mapping[Any, str] | None = None,
    files_per_chunk: int = 2000,
) -> Iterator[ReadBatch]:
    r"""Read SNANA text light curves (the SNPCC format).

    Parameters
    ----------
    paths : path or sequence of paths
        SNANA files (``.DAT``, optionally gzipped), directories of them, or
        tar archives. In a directory (or archive folder) holding a SNANA
        ``<version>.LIST`` file, exactly the listed files are read and a
        listed file that is absent is reported; elsewhere every ``*.dat`` /
        ``*.DAT`` file is read.
    class_names : {"raw", "plasticc"} or mapping, optional
        Relabel the simulated types; by default the type name in the file
        (``Ia``, ``II``, ``Ibc`` ...) is the label.
    files_per_chunk : int, default 2000
        Files parsed together: all their ``OBS:`` rows go through one
        vectorised pandas call.

    Yields
    ------
    ReadBatch
        One row per file. Metadata columns: ``sntype`` (SNANA's
        spectroscopic type, -9 for none), ``spectro_confirmed``,
        ``sim_type``, ``sim_model``, ``sim_non1a``, ``sim_redshift``,
        ``sim_peakmjd``, ``redshift_spec``, ``hostgal_photoz`` and its
        error, ``ra``, ``decl``, ``mwebv``, ``survey``, ``source_file``.
        ``redshift`` is ``REDSHIFT_FINAL`` (SNANA's best redshift).

    Notes
    -----
    A file is skipped, with its reason, when it has no ``SNID:`` or
    ``VARLIST:``, when the number of ``OBS:`` rows differs from its ``NOBS:``
    header (a truncated file), when ``MJD, FLT, FLUXCAL, FLUXCALERR`` are not
    all in its ``VARLIST``, or when a row is malformed or non-numeric.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "DES_SN000007.DAT"
    >>> _ = path.write_text(
    ...     "SNID: 7\nSNTYPE: -9\nREDSHIFT_FINAL: 0.35 +- 0.04 (CMB)\n"
    ...     "SIM_COMMENT: SN Type = II , MODEL = SDSS-017862\nNOBS: 2\n"
    ...     "VARLIST: MJD FLT FIELD FLUXCAL FLUXCALERR\n"
    ...     "OBS: 56171.05 g NULL -36.8 78.1\nOBS: 56172.04 r NULL 4.4 17.6\nEND:\n")
    >>> batch, = read_snana_text(path)
    >>> t = batch.table
    >>> t.column("label")[0].as_py(), t.column("redshift")[0].as_py(), t.column("flux")[0].as_py()
    ('II', 0.35, [-36.79999923706055, 4.400000095367432])
    """
    paths = (
        [Path(paths)]
        if isinstance(paths, str | os.PathLike)
        else [Path(p) for p in paths]
    )
    skipped: list[SkippedItem] = []
    ignored: list[SkippedItem] = []
    files: list[_SnanaFile] = []
    n_in = 0
    for source, data in _iter_snana_sources(paths):
        split = (
            data
            if isinstance(data, SkippedItem)
            else _split_snana(source, data.decode("latin-1"))
        )
        if isinstance(split, SkippedItem) and split.reason == _NOT_LC:
            ignored.append(split)  # a filter curve or README: not an object
            continue
        n_in += 1
        if isinstance(split, SkippedItem):
            skipped.append(split)
        else:
            files.append(split)
        if len(files) >= files_per_chunk:
            yield _snana_text_batch(files, skipped, n_in, class_names, ignored)
            files, skipped, ignored, n_in = [], [], [], 0
    if n_in or ignored:
        yield _snana_text_batch(files, skipped, n_in, class_names, ignored)


# --------------------------------------------------------------------------
# SNANA FITS (HEAD / PHOT pairs)
# --------------------------------------------------------------------------

_HEAD_RE = re.compile(r"HEAD\.FITS?(\.gz)?$", re.I)
_PHOT_RE = re.compile(r"PHOT\.FITS?(\.gz)?$", re.I)

_SNANA_FITS_FIELDS: dict[str, tuple[tuple[str, ...], pa.DataType]] = {
    "sntype": (("SNTYPE",), pa.int64()),
    "sim_type_index": (("SIM_TYPE_INDEX", "SIM_GENTYPE"), pa.int64()),
    "sim_type_name": (("SIM_TYPE_NAME",), pa.string()),
    "sim_model_name": (("SIM_MODEL_NAME",), pa.string()),
    "sim_template_index": (("SIM_TEMPLATE_INDEX",), pa.int64()),
    "sim_redshift": (
        ("SIM_REDSHIFT_CMB", "SIM_REDSHIFT_HELIO", "SIM_REDSHIFT"),
        pa.float64(),
    ),
    "sim_peakmjd": (("SIM_PEAKMJD",), pa.float64()),
    "hostgal_photoz": (("HOSTGAL_PHOTOZ",), pa.float64()),
    "hostgal_photoz_err": (("HOSTGAL_PHOTOZ_ERR",), pa.float64()),
    "hostgal_specz": (("HOSTGAL_SPECZ",), pa.float64()),
    "ra": (("RA",), pa.float64()),
    "decl": (("DECL", "DEC"), pa.float64()),
    "mwebv": (("MWEBV",), pa.float64()),
}
_UNINFORMATIVE_NAMES = {"", "UNKNOWN", "NULL", "NONE"}


def _phot_path(head: Path) -> Path:
    m = _HEAD_RE.search(head.name)
    return head.with_name(
        head.name[: m.start()]
        + head.name[m.start() : m.end()].replace("HEAD", "PHOT").replace("head", "phot")
    )


def _fits_column(data: Any, names: Sequence[str]) -> np.ndarray | None:
    present = {n.upper(): n for n in data.columns.names}
    for name in names:
        if name.upper() in present:
            values = np.asarray(data[present[name.upper()]])
            if values.dtype.kind == "S":
                values = np.char.decode(values, "ascii", "replace")
            if values.dtype.kind == "U":
                return np.char.strip(values)
            return values.astype(values.dtype.newbyteorder("="))
    return None


def _read_snana_fits_pair(head: Path, class_names: Any) -> ReadBatch:
    from astropy.io import fits

    to_label = _label_mapper(class_names)
    phot = _phot_path(head)
    try:
        with fits.open(head, memmap=False) as hdul:
            hdata = hdul[1].data
            snid = _fits_column(hdata, ("SNID",))
            ptr_min = _fits_column(hdata, ("PTROBS_MIN",))
            ptr_max = _fits_column(hdata, ("PTROBS_MAX",))
            if snid is None or ptr_min is None or ptr_max is None:
                raise DataFormatError(
                    f"{head}: not a SNANA HEAD table (needs SNID, PTROBS_MIN, PTROBS_MAX; "
                    f"has {hdata.columns.names[:10]})"
                )
            head_cols = {
                name: _fits_column(hdata, aliases)
                for name, (aliases, _) in _SNANA_FITS_FIELDS.items()
            }
            z = _fits_column(hdata, ("REDSHIFT_FINAL",))
            z_err = _fits_column(hdata, ("REDSHIFT_FINAL_ERR",))
    except (OSError, IndexError, TypeError, ValueError) as e:
        if isinstance(e, DataFormatError):
            raise
        return ReadBatch(
            None,
            [
                SkippedItem(
                    str(head), "", "unreadable file", f"not a readable FITS table ({e})"
                )
            ],
            1,
        )
    snid = np.asarray(snid, dtype=str)
    n = len(snid)
    if not phot.exists():
        return ReadBatch(
            None,
            [
                SkippedItem(
                    str(head),
                    s,
                    "missing file",
                    f"no PHOT file {phot.name} beside the HEAD file",
                )
                for s in snid
            ],
            n,
        )
    try:
        with fits.open(phot, memmap=False) as hdul:
            pdata = hdul[1].data
            mjd = _fits_column(pdata, ("MJD",))
            band = _fits_column(pdata, ("BAND", "FLT"))
            flux = _fits_column(pdata, ("FLUXCAL",))
            flux_err = _fits_column(pdata, ("FLUXCALERR",))
            photflag = _fits_column(pdata, ("PHOTFLAG",))
    except (OSError, IndexError, TypeError, ValueError) as e:
        return ReadBatch(
            None,
            [
                SkippedItem(
                    str(phot), s, "unreadable file", f"PHOT file unreadable ({e})"
                )
                for s in snid
            ],
            n,
        )
    if mjd is None or band is None or flux is None or flux_err is None:
        return ReadBatch(
            None,
            [
                SkippedItem(
                    str(phot),
                    s,
                    "missing field",
                    "PHOT table needs MJD, BAND/FLT, FLUXCAL, FLUXCALERR",
                )
                for s in snid
            ],
            n,
        )
    n_phot = len(mjd)
    lo = ptr_min.astype(np.int64) - 1  # SNANA pointers are 1-based and inclusive
    hi = ptr_max.astype(np.int64)
    skipped: list[SkippedItem] = []
    good = (lo >= 0) & (hi <= n_phot) & (hi > lo)
    for k in np.flatnonzero(~good):
        skipped.append(
            SkippedItem(
                str(head),
                snid[k],
                "bad value",
                f"PTROBS_MIN..MAX = {ptr_min[k]}..{ptr_max[k]} outside the {n_phot} PHOT rows",
            )
        )
    lengths = np.where(good, hi - lo, 0)
    rows = np.repeat(lo, lengths) + (
        np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    )
    owner = np.repeat(np.arange(n), lengths)
    band_all = _normalise_bands(band)
    sep = mjd[rows] == -777.0  # object separator rows
    bad_row = ~sep & ~(
        np.isfinite(mjd[rows]) & np.isfinite(flux[rows]) & np.isfinite(flux_err[rows])
    )
    # a negative FLUXCALERR marks an undefined flux: drop the point, keep the object
    undefined = ~sep & ~bad_row & (flux_err[rows] < 0)
    for k in np.unique(owner[bad_row]):
        skipped.append(
            SkippedItem(
                str(phot),
                snid[k],
                "bad value",
                f"{int((bad_row & (owner == k)).sum())} PHOT row(s) with "
                "non-finite MJD, FLUXCAL or FLUXCALERR",
            )
        )
        good[k] = False
    keep = ~sep & ~undefined & good[owner]
    n_undefined = int((undefined & good[owner]).sum())
    rows, owner = rows[keep], owner[keep]
    empty = good & (np.bincount(owner, minlength=n) == 0)
    for k in np.flatnonzero(empty):
        skipped.append(
            SkippedItem(str(head), snid[k], "no observations", "no usable PHOT rows")
        )
    good &= ~empty
    stats = {_UNDEFINED: n_undefined} if n_undefined else {}
    if not good.any():
        return ReadBatch(None, skipped, n, stats)
    codes = (np.cumsum(good) - 1)[owner]
    order = np.lexsort((mjd[rows], codes))
    rows = rows[order]
    offsets = _group_offsets(codes, int(good.sum()))
    idx = np.flatnonzero(good)
    names = head_cols["sim_type_name"]
    index = head_cols["sim_type_index"]
    labels = []
    for k in idx:
        name = None if names is None else str(names[k])
        if name is not None and name.upper() not in _UNINFORMATIVE_NAMES:
            labels.append(to_label(name))
        else:
            labels.append(to_label(None if index is None else int(index[k])))
    nan = np.full(n, np.nan)
    z_all = np.where(
        np.asarray(z if z is not None else nan, dtype=np.float64) == -9,
        np.nan,
        z if z is not None else nan,
    )
    zerr_all = np.asarray(z_err if z_err is not None else nan, dtype=np.float64)
    zerr_all = np.where(np.isfinite(z_all), zerr_all, np.nan)
    scalars = _base_columns(snid[idx].tolist(), labels, z_all[idx], zerr_all[idx])
    for name, (_, value_type) in _SNANA_FITS_FIELDS.items():
        values = head_cols[name]
        if values is None:
            scalars[name] = pa.nulls(len(idx), value_type)
            continue
        values = values[idx]
        if value_type == pa.float64():
            values = np.where(
                values.astype(np.float64) == -9, np.nan, values.astype(np.float64)
            )
        scalars[name] = pa.array(values, type=value_type, from_pandas=True)
    scalars["source_file"] = pa.array([str(head)] * len(idx), pa.string())
    point_extras = None
    if photflag is not None:
        flags = photflag[rows].astype(np.int64)
        # SNANA sets bit 4096 of PHOTFLAG on detections (PLAsTiCC's detected_bool)
        point_extras = {
            "detected": ((flags & 4096) != 0, pa.bool_()),
            "photflag": (flags, pa.int64()),
        }
    table = _assemble(
        scalars,
        offsets,
        {
            "time_mjd": mjd[rows].astype(np.float64),
            "band": band_all[rows],
            "flux": flux[rows],
            "flux_err": flux_err[rows],
        },
        point_extras,
    )
    return ReadBatch(table, skipped, n, stats)


def _find_heads(paths: Sequence[Path]) -> list[Path]:
    heads: list[Path] = []
    for path in paths:
        if path.is_dir():
            heads += sorted(p for p in path.rglob("*") if _HEAD_RE.search(p.name))
        elif _PHOT_RE.search(path.name):
            m = _PHOT_RE.search(path.name)
            head = path.with_name(
                path.name[: m.start()]
                + path.name[m.start() : m.end()]
                .replace("PHOT", "HEAD")
                .replace("phot", "head")
            )
            heads.append(head)
        else:
            heads.append(path)
    return list(
        dict.fromkeys(heads)
    )  # a HEAD given directly and via its PHOT counts once


def read_snana_fits(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    class_names: str | Mapping[Any, str] | None = None,
) -> Iterator[ReadBatch]:
    """Read SNANA FITS light curves (HEAD / PHOT pairs, as in PLAsTiCC and ELAsTiCC).

    Parameters
    ----------
    paths : path or sequence of paths
        ``*HEAD.FITS(.gz)`` files, their ``*PHOT.FITS(.gz)`` partners, or
        directories searched for HEAD files. Each HEAD file is read with the
        PHOT file of the same name.
    class_names : {"raw", "plasticc"} or mapping, optional
        How a numeric simulated type becomes a label. By default the label
        is ``SIM_TYPE_NAME`` when it is informative, else the
        ``SIM_TYPE_INDEX`` code as a string; ``"plasticc"`` maps PLAsTiCC
        class codes (files whose ``SIM_TYPE_INDEX`` holds them) to names.

    Yields
    ------
    ReadBatch
        One batch per HEAD file. ``redshift`` is ``REDSHIFT_FINAL``; list
        columns ``detected`` (PHOTFLAG bit 4096) and ``photflag`` accompany
        the points; metadata columns are ``sntype``, ``sim_type_index``,
        ``sim_type_name``, ``sim_model_name``, ``sim_template_index``,
        ``sim_redshift``, ``sim_peakmjd``, ``hostgal_photoz`` and its error,
        ``hostgal_specz``, ``ra``, ``decl``, ``mwebv``, ``source_file``
        (SNANA's -9 "undefined" becomes null).

    Raises
    ------
    DataFormatError
        If a HEAD file lacks ``SNID`` or the ``PTROBS`` pointers.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from astropy.table import Table
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> Table({"SNID": ["42"], "PTROBS_MIN": [1], "PTROBS_MAX": [2], "SIM_TYPE_INDEX": [90],
    ...        "REDSHIFT_FINAL": [0.3], "REDSHIFT_FINAL_ERR": [0.01]}
    ...       ).write(d / "X_HEAD.FITS")
    >>> Table({"MJD": [60000.0, 60001.0, -777.0], "BAND": ["g", "Y", "-"],
    ...        "FLUXCAL": [5.0, 7.0, -777.0], "FLUXCALERR": [1.0, 1.0, -777.0]}
    ...       ).write(d / "X_PHOT.FITS")
    >>> batch, = read_snana_fits(d / "X_HEAD.FITS", class_names="plasticc")
    >>> batch.table.column("label").to_pylist(), batch.table.column("band").to_pylist()
    (['SNIa'], [['g', 'y']])
    """
    paths = (
        [Path(paths)]
        if isinstance(paths, str | os.PathLike)
        else [Path(p) for p in paths]
    )
    for head in _find_heads(paths):
        if not head.exists():
            yield ReadBatch(
                None,
                [
                    SkippedItem(
                        str(head),
                        "",
                        "missing file",
                        "HEAD file not found for the PHOT file given",
                    )
                ],
                1,
            )
            continue
        yield _read_snana_fits_pair(head, class_names)


# --------------------------------------------------------------------------
# Format identification, one entry point, ingest
# --------------------------------------------------------------------------


def identify_lightcurve_format(path: str | os.PathLike) -> str:
    """Guess the light-curve format of a file or directory.

    Parameters
    ----------
    path : str or path-like
        A file, directory or tar archive.

    Returns
    -------
    str
        One of :data:`LIGHTCURVE_FORMATS`.

    Raises
    ------
    DataFormatError
        If the path matches none of them; the message lists the formats.

    Examples
    --------
    >>> identify_lightcurve_format("LSST_WFD_NONIa-0004_HEAD.FITS")
    'snana-fits'
    >>> identify_lightcurve_format("SIMGEN_PUBLIC_DES.tar.gz")
    'snana'
    """
    path = Path(path)
    name = path.name
    if _HEAD_RE.search(name) or _PHOT_RE.search(name):
        return "snana-fits"
    if _ARCHIVE_RE.search(name) or _SNANA_NAME_RE.search(name):
        return "snana"
    if re.search(r"\.(csv|csv\.gz|csv\.bz2|parquet|pq)$", name, re.I):
        return "plasticc"
    if path.is_dir():
        entries = [p.name for p in path.rglob("*") if p.is_file()]
        if any(_HEAD_RE.search(n) for n in entries):
            return "snana-fits"
        if any(n.endswith(".LIST") or _SNANA_NAME_RE.search(n) for n in entries):
            return "snana"
    elif path.is_file():
        with open(path, "rb") as f:
            start = f.read(4096)
        if start.startswith(b"SIMPLE"):
            return "snana-fits"
        if b"SNID:" in start or b"SURVEY:" in start:
            return "snana"
    raise DataFormatError(
        f"{path}: cannot tell its light-curve format; expected one of "
        f"{LIGHTCURVE_FORMATS} (PLAsTiCC .csv/.parquet tables, SNANA .DAT files, "
        "directories or .tar.gz archives, SNANA *_HEAD.FITS / *_PHOT.FITS); "
        "pass format= explicitly"
    )


def _resolve_format(paths: Sequence[Path], fmt: str) -> str:
    if fmt != "auto":
        if fmt not in LIGHTCURVE_FORMATS:
            raise ValueError(
                f"unknown format {fmt!r}; expected 'auto' or one of {LIGHTCURVE_FORMATS}"
            )
        return fmt
    found = {p: identify_lightcurve_format(p) for p in paths}
    kinds = sorted(set(found.values()))
    if len(kinds) > 1:
        examples = ", ".join(f"{p.name}: {k}" for p, k in list(found.items())[:6])
        raise DataFormatError(
            f"the inputs mix light-curve formats ({examples}); ingest each format into its own store"
        )
    return kinds[0]


def iter_lightcurve_batches(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    format: str = "auto",
    metadata: str | os.PathLike | None = None,
    class_names: str | Mapping[Any, str] | None = "auto",
) -> tuple[str, Iterator[ReadBatch]]:
    r"""Pick the reader for some light-curve files and return its batches.

    Parameters
    ----------
    paths : path or sequence of paths
        Input files, directories or archives, all of one format.
    format : {"auto", "plasticc", "snana", "snana-fits"}, default "auto"
        The format; ``auto`` identifies it from the names and contents.
    metadata : path, optional
        PLAsTiCC metadata table (only with the ``plasticc`` format).
    class_names : {"auto", "plasticc", "raw"} or mapping, default "auto"
        ``auto`` maps PLAsTiCC codes for ``plasticc`` tables and keeps the
        simulated type of SNANA files as it is.

    Returns
    -------
    format : str
        The format used.
    batches : iterator of ReadBatch
        The reader's output.

    Raises
    ------
    ValueError
        For an unknown format, or metadata given for a SNANA format.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.csv").write_text("object_id,mjd,passband,flux,flux_err\n1,0.0,5,5.0,1.0\n")
    >>> fmt, batches = iter_lightcurve_batches(d / "a.csv")
    >>> fmt, [b.table.column("band").to_pylist() for b in batches]
    ('plasticc', [[['y']]])
    """
    paths = (
        [Path(paths)]
        if isinstance(paths, str | os.PathLike)
        else [Path(p) for p in paths]
    )
    if not paths:
        raise ValueError("no input paths given")
    fmt = _resolve_format(paths, format)
    if metadata is not None and fmt != "plasticc":
        raise ValueError(
            f"a metadata table applies to the plasticc format only; {fmt} files "
            "carry their metadata in their headers"
        )
    if class_names == "auto":
        class_names = "plasticc" if fmt == "plasticc" else None
    if fmt == "plasticc":
        return fmt, read_plasticc(paths, metadata, class_names=class_names)
    if fmt == "snana":
        return fmt, read_snana_text(paths, class_names=class_names)
    return fmt, read_snana_fits(paths, class_names=class_names)


_SURVEY_OF_FORMAT = {"plasticc": "lsst", "snana-fits": "lsst"}


def ingest_lightcurves(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    format: str = "auto",
    metadata: str | os.PathLike | None = None,
    class_names: str | Mapping[Any, str] | None = "auto",
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    r"""Read light-curve files of one format into a new store.

    Parameters
    ----------
    paths : path or sequence of paths
        Input files, directories or archives.
    out : str or path-like
        The store directory to create.
    format : {"auto", "plasticc", "snana", "snana-fits"}, default "auto"
        Input format.
    metadata : path, optional
        PLAsTiCC metadata table.
    class_names : {"auto", "plasticc", "raw"} or mapping, default "auto"
        See :func:`iter_lightcurve_batches`.
    overwrite : bool, default False
        Replace an existing store.
    progress : callable, optional
        Called with the number of items read after each batch.

    Returns
    -------
    IngestResult
        Counts, skipped items (also in ``result.report``) and timing.

    Raises
    ------
    FileExistsError
        If ``out`` exists and ``overwrite`` is False.
    DataFormatError
        If the inputs cannot be identified or nothing could be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "obs.csv").write_text(
    ...     "object_id,mjd,passband,flux,flux_err\n1,60000.0,1,10.0,1.0\n"
    ...     "2,60000.0,1,nan,1.0\n")
    >>> result = ingest_lightcurves(d / "obs.csv", d / "store")
    >>> result.n_in, result.n_out, [s.reason for s in result.skipped]
    (2, 1, ['bad value'])
    >>> result.report.relative_to(d).as_posix()
    'store/_skipped.csv'
    """
    paths = (
        [Path(paths)]
        if isinstance(paths, str | os.PathLike)
        else [Path(p) for p in paths]
    )
    fmt, batches = iter_lightcurve_batches(
        paths, format=format, metadata=metadata, class_names=class_names
    )
    attrs = {
        "ingest": {
            "format": fmt,
            "sources": [str(p) for p in paths[:20]]
            + ([f"... {len(paths) - 20} more"] if len(paths) > 20 else []),
            "metadata": None if metadata is None else str(metadata),
            "flux_unit": f"FLUXCAL (AB zero point {FLUXCAL_ZERO_POINT})",
        }
    }
    if fmt in _SURVEY_OF_FORMAT:
        attrs["survey"] = _SURVEY_OF_FORMAT[fmt]
    return ingest_batches(
        batches, out, attrs=attrs, overwrite=overwrite, progress=progress
    )


def read_lightcurves(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    format: str = "auto",
    metadata: str | os.PathLike | None = None,
    class_names: str | Mapping[Any, str] | None = "auto",
) -> list[LightCurve]:
    r"""Read light-curve files into :class:`~skysift.data.containers.LightCurve` objects.

    For a handful of objects; use :func:`ingest_lightcurves` for a survey.

    Parameters
    ----------
    paths : path or sequence of paths
        Input files, directories or archives, all of one format.
    format : {"auto", "plasticc", "snana", "snana-fits"}, default "auto"
        Input format.
    metadata : path, optional
        PLAsTiCC metadata table.
    class_names : {"auto", "plasticc", "raw"} or mapping, default "auto"
        See :func:`iter_lightcurve_batches`.

    Returns
    -------
    list of LightCurve
        Metadata columns end up in each light curve's ``meta``.

    Warns
    -----
    SkysiftWarning
        When items were skipped; the warning counts them by reason.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "SN7.DAT"
    >>> _ = path.write_text(
    ...     "SNID: 7\nREDSHIFT_FINAL: 0.1 +- 0.01\nSIM_COMMENT: SN Type = Ia , MODEL = x\n"
    ...     "NOBS: 2\nVARLIST: MJD FLT FIELD FLUXCAL FLUXCALERR\n"
    ...     "OBS: 56000.0 g NULL 10.0 1.0\nOBS: 56001.0 r NULL 12.0 1.5\nEND:\n")
    >>> read_lightcurves(path)
    [LightCurve('7', 2 points in bands gr, label='Ia', redshift=0.1)]
    """
    import warnings

    _, batches = iter_lightcurve_batches(
        paths, format=format, metadata=metadata, class_names=class_names
    )
    out: list[LightCurve] = []
    skipped: Counter[str] = Counter()
    for batch in batches:
        skipped.update(s.reason for s in batch.skipped)
        if batch.table is not None:
            out += [from_row("lightcurves", row) for row in batch.table.to_pylist()]
    if skipped:
        warnings.warn(
            f"{sum(skipped.values())} item(s) skipped: "
            + ", ".join(f"{k} ({v})" for k, v in skipped.most_common()),
            SkysiftWarning,
            stacklevel=2,
        )
    return out
