"""Ingest spectrum files into a store, accounting for every file and spectrum.

:func:`ingest_spectra` expands directories, glob patterns and tar archives
into files, identifies and reads each one with the format registry, joins
labels from a catalogue, and streams the spectra into a
:class:`~skysift.io.store.StoreWriter`. Nothing is dropped silently: a file
that cannot be read, or a spectrum that cannot be stored (no usable pixel,
duplicate id), is listed with its reason in ``<store>/_skipped.csv``, and

    files in   = files read   + files skipped
    spectra read = spectra written + spectra skipped

holds in the returned :class:`IngestResult` and in the manifest
(``attrs["ingest"]``).

Every ingested store has the same scalar metadata columns
(:data:`META_FIELDS`), null where a reader has nothing to say.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa

from skysift.data.containers import Spectrum
from skysift.exceptions import DataFormatError
from skysift.io.labels import Catalogue, JoinSummary, join_labels, read_catalogue
from skysift.io.registry import FileProbe, identify_format, list_formats, read_spectra
from skysift.io.rejects import write_rejects
from skysift.io.store import StoreWriter, make_schema, table_from_columns

__all__ = [
    "META_FIELDS",
    "REPORT_NAME",
    "IngestResult",
    "Skipped",
    "count_input_files",
    "ingest_spectra",
]

#: Scalar metadata columns of every store written by :func:`ingest_spectra`.
META_FIELDS: tuple[pa.Field, ...] = (
    pa.field("source_file", pa.string()),  # path, or <archive>/<member>
    pa.field("format", pa.string()),  # registry name of the reader
    pa.field("frame", pa.string()),  # air | vacuum | unknown
    pa.field("group", pa.string()),  # physical object: SN name, star, TARGETID
    pa.field("age_days", pa.float64()),  # SN epoch from maximum light
    pa.field("subclass", pa.string()),
    pa.field("ra_deg", pa.float64()),
    pa.field("dec_deg", pa.float64()),
    pa.field("mjd", pa.float64()),
    pa.field("ivar_source", pa.string()),  # file | der_snr | unit
    pa.field("label_source", pa.string()),  # file | directory | catalogue
    pa.field("flux_scale", pa.float64()),  # flux multiplied by this (cgs -> 1e-17)
)
SCHEMA = make_schema("spectra", META_FIELDS)
REPORT_NAME = "_skipped.csv"
_LOCATIONS = {"HDU", "HDUs", "column", "line", "lines", "epoch", "row"}
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


@dataclass(frozen=True)
class Skipped:
    """One file or spectrum that was not written, and why.

    Attributes
    ----------
    file : str
        The file (``<archive>/<member>`` inside an archive).
    object_id : str or None
        The spectrum, or None when the whole file was skipped.
    reason : str
        What was wrong, without the file name.
    """

    file: str
    object_id: str | None
    reason: str

    @property
    def category(self) -> str:
        """Summarise the reason for counting: location and numbers dropped."""
        parts = self.reason.split(";")[0].split(": ")
        while len(parts) > 1 and parts[0].split(" ")[0] in _LOCATIONS:
            parts = parts[1:]
        head = re.sub(r"(?<![\w.])[-+]?\d[\d.]*(e[-+]?\d+)?", "N", parts[0].strip())
        return head[:80]


@dataclass
class IngestResult:
    """Counts and reasons from :func:`ingest_spectra`.

    Attributes
    ----------
    path : pathlib.Path
        The store written.
    report_path : pathlib.Path
        ``<store>/_skipped.csv``: every skipped file/spectrum with its reason.
    n_files, n_files_read, n_files_skipped : int
        Files seen; ``n_files == n_files_read + n_files_skipped``.
    n_spectra_read, n_written, n_spectra_skipped : int
        Spectra; ``n_spectra_read == n_written + n_spectra_skipped``.
    formats : dict of str to list of int
        Format name to ``[files, spectra]`` read.
    label_sources : collections.Counter
        Written spectra by where their label came from (``file``,
        ``directory``, ``catalogue``, ``none``).
    classes : dict of str to int
        Written spectra per label.
    join : JoinSummary or None
        The catalogue join, when a catalogue was given.
    n_catalogue_rows, n_catalogue_unused : int
        Catalogue rows, and how many matched no spectrum.
    skipped : list of Skipped
        Everything not written.
    """

    path: Path
    report_path: Path
    n_files: int = 0
    n_files_read: int = 0
    n_files_skipped: int = 0
    n_spectra_read: int = 0
    n_written: int = 0
    n_spectra_skipped: int = 0
    formats: dict[str, list[int]] = field(default_factory=dict)
    label_sources: Counter = field(default_factory=Counter)
    classes: dict[str, int] = field(default_factory=dict)
    join: JoinSummary | None = None
    n_catalogue_rows: int = 0
    n_catalogue_unused: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def skip_reasons(self) -> Counter:
        """Skipped files and spectra counted by reason category."""
        return Counter(s.category for s in self.skipped)

    def to_dict(self) -> dict[str, Any]:
        """Return the counts as JSON-ready values (stored in the manifest)."""
        out = {
            "n_files": self.n_files,
            "n_files_read": self.n_files_read,
            "n_files_skipped": self.n_files_skipped,
            "n_spectra_read": self.n_spectra_read,
            "n_written": self.n_written,
            "n_spectra_skipped": self.n_spectra_skipped,
            "formats": self.formats,
            "label_sources": dict(self.label_sources),
            "skip_reasons": dict(self.skip_reasons()),
        }
        if self.join is not None:
            out["catalogue"] = {
                "n_rows": self.n_catalogue_rows,
                "n_matched_spectra": self.join.n_matched,
                "matched_by": dict(self.join.matched_by),
                "n_label_conflicts": self.join.n_label_conflicts,
                "n_rows_unused": self.n_catalogue_unused,
            }
        return out


def _is_archive(path: Path) -> bool:
    if not path.name.lower().endswith(_TAR_SUFFIXES):
        return False
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def _expand(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """Files of each input: a file, a directory (recursive) or a glob; archives kept whole."""
    files: list[Path] = []
    for item in inputs:
        text = str(item)
        path = Path(text)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            files.append(path)
        elif glob.has_magic(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise FileNotFoundError(f"{text}: no file matches this pattern")
            for m in map(Path, matches):
                files += (
                    sorted(p for p in m.rglob("*") if p.is_file())
                    if m.is_dir()
                    else [m]
                )
        else:
            raise FileNotFoundError(f"{text}: no such file or directory")
    return files


def count_input_files(inputs: str | os.PathLike | Sequence[str | os.PathLike]) -> int:
    """How many files :func:`ingest_spectra` will look at (archive members included).

    Parameters
    ----------
    inputs : path, glob pattern, or a sequence of them
        As for :func:`ingest_spectra`.

    Returns
    -------
    int
        Files, counting each archive member that is not a directory.
    """
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    n = 0
    for f in _expand(inputs):
        if _is_archive(f):
            try:
                with tarfile.open(f, "r:*") as tar:
                    n += sum(1 for m in tar if not m.isdir())
            except (tarfile.TarError, OSError, EOFError):
                n += 1
        else:
            n += 1
    return n


def _safe_member_path(name: str) -> PurePosixPath | None:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        return None
    return p


def _iter_sources(
    files: list[Path], tmp: Path
) -> Iterator[tuple[str, Path | None, str | None]]:
    """(display name, path on disk, None) per file, or (name, None, why) when unreadable.

    Archive members are streamed by :func:`iter_archive_members`.
    """
    for f in files:
        if _is_archive(f):
            yield from iter_archive_members(f, tmp)
        else:
            yield str(f), f, None


def iter_archive_members(
    archive: Path, tmp: Path, wanted: Callable[[str], bool] | None = None
) -> Iterator[tuple[str, Path | None, str | None]]:
    """(display name, path on disk, None) per file of a tar archive, or (name, None, why).

    Members are streamed in archive order, each written under ``tmp`` to a
    temporary file that is removed once the consumer moves on: one pass over
    a compressed archive, and never more than one member on disk. Links,
    devices and unsafe member names (absolute, ``..``) are not extracted but
    reported with the reason; an archive that cannot be read (or stops being
    readable) ends with one ``(archive, None, why)``.

    Parameters
    ----------
    archive : Path
        A tar archive (any compression ``tarfile`` reads).
    tmp : Path
        Directory for the extracted member.
    wanted : callable, optional
        Member name -> bool; other members are skipped without a word.
    """
    n_seen = 0
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if member.isdir() or (wanted is not None and not wanted(member.name)):
                    continue
                n_seen += 1
                display = f"{archive}/{member.name}"
                if not member.isfile():
                    yield (
                        display,
                        None,
                        "not a regular file in the archive (link or device)",
                    )
                    continue
                rel = _safe_member_path(member.name)
                if rel is None:
                    yield (
                        display,
                        None,
                        f"unsafe archive member name {member.name!r}; not extracted",
                    )
                    continue
                target = tmp / Path(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                handle = tar.extractfile(member)
                if handle is None:
                    yield display, None, "archive member cannot be extracted"
                    continue
                with handle, open(target, "wb") as out:
                    shutil.copyfileobj(handle, out)
                try:
                    yield display, target, None
                finally:
                    target.unlink(missing_ok=True)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        yield str(archive), None, f"archive unreadable after {n_seen} member(s) ({e})"


def _coerce(value: Any, kind: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_floating(kind):
        try:
            x = float(value)
        except (TypeError, ValueError):
            return None
        return x if np.isfinite(x) else None
    return str(value)


def _table(batch: list[Spectrum]) -> pa.Table:
    columns: dict[str, Any] = {
        "object_id": [s.object_id for s in batch],
        "label": [s.label for s in batch],
        "redshift": [_coerce(s.redshift, pa.float64()) for s in batch],
        "redshift_err": [_coerce(s.redshift_err, pa.float64()) for s in batch],
    }
    for f in META_FIELDS:
        columns[f.name] = pa.array(
            [_coerce(s.meta.get(f.name), f.type) for s in batch], f.type
        )
    columns["wavelength_aa"] = [s.wavelength_aa for s in batch]
    columns["flux"] = [s.flux for s in batch]
    columns["ivar"] = [s.ivar for s in batch]
    columns["mask"] = [s.mask for s in batch]
    return table_from_columns("spectra", columns).cast(SCHEMA)


def ingest_spectra(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    format: str = "auto",
    labels: str | os.PathLike | Catalogue | None = None,
    id_column: str | None = None,
    label_column: str | None = None,
    redshift_column: str | None = None,
    redshift_err_column: str | None = None,
    label_map: Mapping[str, str] | None = None,
    match_on: str = "auto",
    label_from_directory: bool = False,
    overwrite: bool = False,
    batch_size: int = 512,
    progress: Callable[[int], Any] | None = None,
) -> IngestResult:
    r"""Read spectrum files into a new store.

    Parameters
    ----------
    inputs : path, glob pattern, or a sequence of them
        Files, directories (read recursively), glob patterns (``**``
        allowed) and tar archives (``.tar``, ``.tar.gz``, ``.tgz``, ...;
        members are read one at a time through a temporary file and named
        ``<archive>/<member>``).
    out : str or path-like
        The store directory to create.
    format : str, default "auto"
        A registered format (:func:`skysift.io.registry.list_formats`) for
        every file, or ``"auto"`` to identify each file by its content.
    labels : path or Catalogue, optional
        A catalogue (CSV or FITS table) to join labels and redshifts from;
        see :func:`skysift.io.labels.read_catalogue` for the column options
        and :func:`skysift.io.labels.join_labels` for ``match_on``.
    id_column, label_column, redshift_column, redshift_err_column : str, optional
        Catalogue columns (auto-detected by name when omitted).
    label_map : mapping, optional
        Rename catalogue labels (``{"0": "emission"}``).
    match_on : str, default "auto"
        What catalogue ids are matched against.
    label_from_directory : bool, default False
        Give spectra without a label from their file the name of the
        directory holding the file (``Ia/sn1994D.p01.dat`` -> ``Ia``). A
        catalogue label still takes precedence.
    overwrite : bool, default False
        Replace an existing store at ``out``.
    batch_size : int, default 512
        Spectra per write.
    progress : callable, optional
        Called with 1 after each file (e.g. a progress bar's ``update``).

    Returns
    -------
    IngestResult
        The counts; ``_skipped.csv`` in the store lists every skipped file
        and spectrum with its reason.

    Raises
    ------
    FileNotFoundError
        If an input does not exist or a pattern matches nothing.
    FileExistsError
        If ``out`` exists and ``overwrite`` is False.
    DataFormatError
        If the catalogue is unreadable, or if no spectrum at all could be
        read (the message counts the reasons; no store is written).

    Examples
    --------
    >>> import os, tempfile
    >>> d = tempfile.mkdtemp()
    >>> for name in ("a.csv", "b.csv"):
    ...     with open(os.path.join(d, name), "w") as f:
    ...         _ = f.write("".join(f"{6500 + i},{1 + i % 2}\n" for i in range(30)))
    >>> with open(os.path.join(d, "notes.txt"), "w") as f:
    ...     _ = f.write("observing log\n")
    >>> result = ingest_spectra(d, os.path.join(d, "store"))
    >>> result.n_files, result.n_files_read, result.n_written, result.n_files_skipped
    (3, 2, 2, 1)
    >>> result.skipped[0].category
    'unrecognised spectrum format'
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if format != "auto" and format not in list_formats():
        raise ValueError(
            f"unknown spectrum format {format!r}; choose 'auto' or one of "
            f"{', '.join(list_formats())}"
        )
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    files = _expand(inputs)
    catalogue = None
    if labels is not None:
        catalogue = (
            labels
            if isinstance(labels, Catalogue)
            else read_catalogue(
                labels,
                id_column=id_column,
                label_column=label_column,
                redshift_column=redshift_column,
                redshift_err_column=redshift_err_column,
                label_map=label_map,
            )
        )
    out = Path(out)
    result = IngestResult(path=out, report_path=out / REPORT_NAME)
    result.join = JoinSummary() if catalogue is not None else None
    seen: dict[str, str] = {}
    classes: Counter = Counter()
    writer = StoreWriter(out, kind="spectra", overwrite=overwrite)
    tmp = Path(tempfile.mkdtemp(prefix="skysift-ingest-"))
    pending: list[Spectrum] = []
    try:
        for display, path, why in _iter_sources(files, tmp):
            result.n_files += 1
            spectra, fmt = [], None
            if why is None:
                spectra, fmt, why = _read_file(display, path, format)
            if progress is not None:
                progress(1)
            if why is not None:
                result.n_files_skipped += 1
                result.skipped.append(Skipped(display, None, why))
                continue
            result.n_files_read += 1
            entry = result.formats.setdefault(fmt, [0, 0])
            entry[0] += 1
            entry[1] += len(spectra)
            for s in spectra:
                s.meta["source_file"] = display
                s.meta["format"] = fmt
                if s.label is not None:
                    s.meta["label_source"] = "file"
                elif label_from_directory:
                    parent = PurePosixPath(display.replace("\\", "/")).parent.name
                    if parent:
                        s.label = parent
                        s.meta["label_source"] = "directory"
            if catalogue is not None:
                join_labels(spectra, catalogue, match_on=match_on, summary=result.join)
            for s in spectra:
                result.n_spectra_read += 1
                reason = None
                if s.object_id in seen:
                    reason = (
                        f"duplicate object_id {s.object_id!r} (already read from "
                        f"{seen[s.object_id]})"
                    )
                elif not np.any(~s.mask & (s.ivar > 0)):
                    reason = f"no usable pixel: all {len(s)} masked or ivar == 0"
                if reason is not None:
                    result.n_spectra_skipped += 1
                    result.skipped.append(Skipped(display, s.object_id, reason))
                    continue
                seen[s.object_id] = display
                result.label_sources[s.meta.get("label_source") or "none"] += 1
                if s.label is not None:
                    classes[s.label] += 1
                pending.append(s)
                if len(pending) >= batch_size:
                    writer.write(_table(pending))
                    result.n_written += len(pending)
                    pending = []
        if pending:
            writer.write(_table(pending))
            result.n_written += len(pending)
            pending = []
        if result.n_written == 0:
            reasons = Counter(s.category for s in result.skipped).most_common(5)
            summary = (
                "; ".join(f"{n} x {why}" for why, n in reasons) or "no input files"
            )
            raise DataFormatError(
                f"no spectrum could be read from {result.n_files} file(s) in "
                f"{[str(i) for i in inputs]}: {summary}"
            )
        if catalogue is not None:
            result.n_catalogue_rows = len(catalogue)
            result.n_catalogue_unused = len(result.join.unused_ids(catalogue))
        result.classes = dict(sorted(classes.items()))
        writer.attrs["ingest"] = {
            "inputs": [str(i) for i in inputs],
            "format": format,
            "catalogue": None if catalogue is None else catalogue.path,
            **result.to_dict(),
        }
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _write_report(result)
    return result


def _read_file(
    display: str, path: Path, format: str
) -> tuple[list[Spectrum], str | None, str | None]:
    """Read one file: (spectra, format, None) or ([], None, reason)."""
    try:
        fmt = format
        if fmt == "auto":
            fmt = identify_format(path, FileProbe.from_path(path))
        return read_spectra(path, format=fmt), fmt, None
    except (DataFormatError, OSError, UnicodeError, ValueError) as e:
        return [], None, _strip_path(str(e), path)
    except Exception as e:
        e.add_note(f"while reading {display}")
        raise


def _strip_path(message: str, path: Path) -> str:
    """Drop the leading '<path>: ' from a reader's message (the report names the file)."""
    prefix = f"{path}: "
    return (
        message[len(prefix) :]
        if message.startswith(prefix)
        else message.replace(str(path), "<file>")
    )


def _write_report(result: IngestResult) -> None:
    write_rejects(
        result.report_path,
        ((s.file, s.object_id or "", s.reason) for s in result.skipped),
        ("file", "object_id", "reason"),
    )
