"""Read UEA/UCR time-series classification files (the sktime ``.ts`` format).

The UEA multivariate and UCR univariate archives (Bagnall et al. 2018) are
distributed as ``.ts`` text files: ``#`` comment lines, a header of ``@``
tags, then ``@data`` and one case per line::

    @problemName JapaneseVowels
    @timeStamps false
    @missing false
    @univariate false
    @dimensions 12
    @equalLength false
    @classLabel true 1 2 3 4 5 6 7 8 9
    @data
    1.86,1.89,...,1.26:-0.21,-0.19,...,-0.64: ... :1

Within a case the dimensions are separated by ``:`` and the values of one
dimension by ``,``; the class label comes last. ``?`` marks a missing value
(an error under ``@missing false``). Series may differ in length between
cases (``@equalLength false``), but the dimensions of one case share a
length, which is what lets a case be an (L, M) array.

:func:`read_ts` parses a file into :class:`TsDataset`;
:func:`to_fixed_length` brings variable-length cases to one length;
:func:`build_uea_store` writes a TRAIN/TEST pair as a ``prepared`` store that
t2 and atx train on directly (the recipe builder ``uea``).

Seed 003 (App. A) does not say how it brought JapaneseVowels' 7-29 step
utterances to one length. The benchmark it compares against (the dl-4-tsc
framework of Fawaz et al. 2019) resamples every series by spline
interpolation onto the longest length of the two files. skysift's default
does the same with linear interpolation (no overshoot between samples);
zero padding at the end is the alternative (``method="pad"``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from skysift.exceptions import DataFormatError
from skysift.io.rejects import write_rejects

__all__ = ["TsDataset", "build_uea_store", "parse_ts", "read_ts", "to_fixed_length"]

#: Header tags of the format and whether each takes a boolean.
_BOOLEAN_TAGS = ("timestamps", "missing", "univariate", "equallength")
_KNOWN_TAGS = (
    "problemname",
    "timestamps",
    "missing",
    "univariate",
    "dimensions",
    "equallength",
    "serieslength",
    "classlabel",
    "targetlabel",
    "data",
)
METHODS = ("resample", "pad")


@dataclass(frozen=True)
class TsDataset:
    """The cases of one ``.ts`` file.

    Attributes
    ----------
    source : str
        The file (or the name given to :func:`parse_ts`), for messages.
    problem_name : str or None
        ``@problemName``.
    series : list of numpy.ndarray
        One float64 array of shape (L_i, M) per case, time along axis 0; NaN
        where the file has ``?``.
    labels : list of str or None
        The class label of each case (None when ``@classLabel false``).
    class_labels : list of str or None
        The labels declared by ``@classLabel true ...``.
    line_numbers : list of int
        The 1-based line of each case in the file.
    header : dict
        Every header tag (lower case) and its parsed value.
    """

    source: str
    problem_name: str | None
    series: list[np.ndarray]
    labels: list[str] | None
    class_labels: list[str] | None
    line_numbers: list[int]
    header: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.series)

    @property
    def num_dimensions(self) -> int:
        """M, the number of dimensions (channels) of every case."""
        return int(self.series[0].shape[1]) if self.series else 0

    @property
    def lengths(self) -> np.ndarray:
        """The length L_i of every case."""
        return np.array([len(s) for s in self.series], dtype=np.int64)


def _bool(value: str, where: str) -> bool:
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise DataFormatError(f"{where}: expected 'true' or 'false', got {value!r}")
    return v == "true"


def _parse_header(tag: str, rest: str, header: dict[str, Any], where: str) -> None:
    name = tag.lower()
    if name not in _KNOWN_TAGS:
        raise DataFormatError(
            f"{where}: unknown header tag @{tag}; known: "
            "@problemName, @timeStamps, @missing, @univariate, @dimensions, "
            "@equalLength, @seriesLength, @classLabel, @data"
        )
    if name in header:
        raise DataFormatError(f"{where}: @{tag} appears twice")
    if name == "targetlabel":
        raise DataFormatError(
            f"{where}: @targetLabel (a regression file) is not supported; "
            "skysift reads classification files (@classLabel)"
        )
    if name in _BOOLEAN_TAGS:
        header[name] = _bool(rest, f"{where}: @{tag}")
    elif name in ("dimensions", "serieslength"):
        try:
            header[name] = int(rest)
        except ValueError:
            raise DataFormatError(
                f"{where}: @{tag} needs a positive integer, got {rest!r}"
            ) from None
        if header[name] < 1:
            raise DataFormatError(
                f"{where}: @{tag} needs a positive integer, got {rest!r}"
            )
    elif name == "classlabel":
        words = rest.split()
        if not words:
            raise DataFormatError(
                f"{where}: @classLabel needs 'true <labels...>' or 'false'"
            )
        has = _bool(words[0], f"{where}: @classLabel")
        if has and len(words) < 2:
            raise DataFormatError(f"{where}: @classLabel true lists no class labels")
        header[name] = words[1:] if has else None
    elif name == "problemname":
        header[name] = rest.strip() or None
    else:  # data
        header[name] = True


def _parse_dimension(text: str, where: str, missing_ok: bool) -> np.ndarray:
    tokens = text.split(",")
    values = np.empty(len(tokens), dtype=np.float64)
    for i, token in enumerate(tokens):
        token = token.strip()
        if token == "?":
            if not missing_ok:
                raise DataFormatError(
                    f"{where}: value {i + 1} is '?' (missing) but the header says "
                    "@missing false"
                )
            values[i] = np.nan
            continue
        try:
            values[i] = float(token)
        except ValueError:
            raise DataFormatError(
                f"{where}: value {i + 1} is {token!r}, not a number or '?'"
            ) from None
        if not np.isfinite(values[i]):
            raise DataFormatError(
                f"{where}: value {i + 1} is {token!r}; write missing values as '?'"
            )
    return values


def parse_ts(lines: Iterable[str], *, source: str = "<text>") -> TsDataset:
    """Parse the lines of a ``.ts`` file.

    Parameters
    ----------
    lines : iterable of str
        The file's lines (with or without line ends).
    source : str, default "<text>"
        Name used in error messages (the path, for :func:`read_ts`).

    Returns
    -------
    TsDataset

    Raises
    ------
    DataFormatError
        For a malformed header (unknown tag, bad boolean, tag after
        ``@data``, timestamped or regression files), a case whose dimension
        count, length or label disagrees with the header, a value that is
        not a number, an empty dimension, or a file without cases. The
        message names the source and the line.

    Examples
    --------
    >>> text = '''@problemName Tiny
    ... @timeStamps false
    ... @missing true
    ... @univariate false
    ... @dimensions 2
    ... @equalLength false
    ... @classLabel true a b
    ... @data
    ... 1,2,3:4,5,6:a
    ... 7,?:9,10:b'''
    >>> ds = parse_ts(text.splitlines())
    >>> ds.problem_name, len(ds), ds.num_dimensions, ds.labels
    ('Tiny', 2, 2, ['a', 'b'])
    >>> ds.series[0].shape, ds.series[1][:, 0].tolist()
    ((3, 2), [7.0, nan])
    """
    header: dict[str, Any] = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    line_numbers: list[int] = []
    in_data = False
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        where = f"{source}, line {number}"
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            if in_data:
                raise DataFormatError(f"{where}: header line {line[:40]!r} after @data")
            tag, _, rest = line[1:].partition(" ")
            _parse_header(tag, rest, header, where)
            if header.get("data"):
                if header.get("timestamps"):
                    raise DataFormatError(
                        f"{where}: @timeStamps true files are not supported; "
                        "skysift reads the untimed .ts layout"
                    )
                if "classlabel" not in header:
                    raise DataFormatError(f"{where}: no @classLabel line before @data")
                in_data = True
            continue
        if not in_data:
            raise DataFormatError(
                f"{where}: data line before @data (or a header line without '@'): "
                f"{line[:40]!r}"
            )
        class_labels = header["classlabel"]
        fields = line.split(":")
        if class_labels is not None:
            if len(fields) < 2:
                raise DataFormatError(
                    f"{where}: expected '<dim 1>:...:<dim M>:<label>', found no ':'"
                )
            label = fields.pop().strip()
            if label not in class_labels:
                raise DataFormatError(
                    f"{where}: class label {label!r} is not one of @classLabel "
                    f"{class_labels}"
                )
            labels.append(label)
        expected = header.get("dimensions")
        if expected is None and header.get("univariate"):
            expected = 1
        if expected is None and series:
            expected = series[0].shape[1]
        if expected is not None and len(fields) != expected:
            raise DataFormatError(
                f"{where}: {len(fields)} dimension(s), expected {expected}"
                + (" (@dimensions)" if "dimensions" in header else "")
            )
        dims = []
        for d, text in enumerate(fields, start=1):
            if not text.strip():
                raise DataFormatError(f"{where}: dimension {d} is empty")
            dims.append(
                _parse_dimension(
                    # '?' is refused only where the header promises no missing values
                    text,
                    f"{where}, dimension {d}",
                    header.get("missing") is not False,
                )
            )
        lengths = {len(v) for v in dims}
        if len(lengths) > 1:
            raise DataFormatError(
                f"{where}: the dimensions of one case differ in length "
                f"({[len(v) for v in dims]}); skysift needs one length per case"
            )
        length = lengths.pop()
        if header.get("equallength") and "serieslength" in header:
            if length != header["serieslength"]:
                raise DataFormatError(
                    f"{where}: series of length {length}, but @seriesLength is "
                    f"{header['serieslength']}"
                )
        series.append(np.stack(dims, axis=1))  # (L, M)
        line_numbers.append(number)
    if not in_data:
        raise DataFormatError(f"{source}: no @data line; is this a .ts file?")
    if not series:
        raise DataFormatError(f"{source}: no cases after @data")
    if header.get("equallength") and len({len(s) for s in series}) > 1:
        raise DataFormatError(
            f"{source}: @equalLength true, but the cases have lengths "
            f"{sorted({len(s) for s in series})}"
        )
    return TsDataset(
        source=source,
        problem_name=header.get("problemname"),
        series=series,
        labels=labels if header["classlabel"] is not None else None,
        class_labels=header["classlabel"],
        line_numbers=line_numbers,
        header=header,
    )


def read_ts(path: str | os.PathLike) -> TsDataset:
    """Read a ``.ts`` file; see :func:`parse_ts`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFormatError
        For malformed content (the message names the file and line) or a
        file that is not UTF-8 text.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .ts file")
    try:
        with open(path, encoding="utf-8") as f:
            return parse_ts(f, source=str(path))
    except UnicodeDecodeError as e:
        raise DataFormatError(f"{path}: not UTF-8 text ({e.reason})") from e


def _fill_missing(values: np.ndarray) -> np.ndarray | None:
    """Linearly interpolate NaNs in a 1-D series; None if it has no values at all."""
    bad = np.isnan(values)
    if not bad.any():
        return values
    if bad.all():
        return None
    steps = np.arange(len(values))
    out = values.copy()
    out[bad] = np.interp(steps[bad], steps[~bad], values[~bad])
    return out


def to_fixed_length(
    series: Sequence[np.ndarray], length: int, *, method: str = "resample"
) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Bring cases of different lengths to one length.

    Parameters
    ----------
    series : sequence of numpy.ndarray
        Cases of shape (L_i, M); NaN marks missing values, filled first by
        linear interpolation along time (constant beyond the ends).
    length : int
        The target length L.
    method : {"resample", "pad"}, default "resample"
        ``resample``: linear interpolation of each dimension at L equally
        spaced positions from the first to the last step (a case of one
        step becomes constant). ``pad``: zeros appended after the last
        step; cases longer than L are rejected, not cut.

    Returns
    -------
    x : numpy.ndarray, float32, shape (K, L, M)
        The K cases kept, in input order.
    rejected : list of (int, str)
        Index into ``series`` and the reason for each case left out (a
        dimension with no values; longer than L with ``pad``).

    Raises
    ------
    ValueError
        For an unknown method or a length below 1.

    Examples
    --------
    >>> x, rejected = to_fixed_length([np.array([[0.0], [2.0]]), np.array([[1.0]])], 3)
    >>> x[:, :, 0].tolist(), rejected
    ([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]], [])
    >>> x, _ = to_fixed_length([np.array([[5.0], [6.0]])], 3, method="pad")
    >>> x[0, :, 0].tolist()
    [5.0, 6.0, 0.0]
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if int(length) < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    length = int(length)
    kept: list[np.ndarray] = []
    rejected: list[tuple[int, str]] = []
    for i, case in enumerate(series):
        case = np.asarray(case, dtype=np.float64)
        n, m = case.shape
        columns = [_fill_missing(case[:, j]) for j in range(m)]
        empty = [j + 1 for j, c in enumerate(columns) if c is None]
        if empty:
            rejected.append((i, f"dimension(s) {empty} have no values (all missing)"))
            continue
        filled = np.stack(columns, axis=1)  # (L_i, M)
        if method == "pad":
            if n > length:
                rejected.append(
                    (i, f"{n} steps, longer than length {length} (method pad)")
                )
                continue
            out = np.zeros((length, m))
            out[:n] = filled
        elif n == 1:
            out = np.repeat(filled, length, axis=0)
        else:
            # positions of the L output samples on the case's own step axis
            where = np.linspace(0.0, n - 1.0, length)
            steps = np.arange(n, dtype=np.float64)
            out = np.stack(
                [np.interp(where, steps, filled[:, j]) for j in range(m)], axis=1
            )
        kept.append(out)
    if kept:
        x = np.stack(kept).astype(np.float32)
    else:
        x = np.zeros((0, length, series[0].shape[1] if len(series) else 0), np.float32)
    return x, rejected


def build_uea_store(
    out: str | os.PathLike,
    *,
    data_dir: str | os.PathLike,
    seed: int = 0,
    name: str = "JapaneseVowels",
    length: int | None = None,
    method: str = "resample",
    subdir: str = "uea_ucr_ts",
    overwrite: bool = True,
) -> dict[str, Any]:
    r"""Write a UEA/UCR problem's TRAIN and TEST files as one prepared store.

    Reads ``data_dir/subdir/NAME/NAME_TRAIN.ts`` and ``..._TEST.ts``, brings
    every case to one length (:func:`to_fixed_length`) and writes a
    ``prepared`` store whose ``x`` is the (L, M) array of each case (laid
    out as a light curve: t2 and atx read it as L time steps of M
    channels), with the columns ``split`` (``TRAIN`` / ``TEST``, from the
    file), ``series_length`` (steps before resampling) and ``source_line``.
    Cases that cannot be used are listed with the reason in
    ``_rejected.csv`` beside the data.

    Parameters
    ----------
    out : path-like
        The store directory to write.
    data_dir : path-like
        The shared data directory.
    seed : int, default 0
        Recorded only: nothing here is random.
    name : str, default "JapaneseVowels"
        The problem (directory and file-name stem).
    length : int, optional
        Target length L. Default: the longest case of the two files (a
        property of the format, not of the labels), so ``pad`` loses nothing
        and equal-length problems are unchanged.
    method : {"resample", "pad"}, default "resample"
        See :func:`to_fixed_length`.
    subdir : str, default "uea_ucr_ts"
        Where the problems live under ``data_dir``.
    overwrite : bool, default True
        Replace an existing store at ``out``.

    Returns
    -------
    dict
        ``n_in, n_out, n_rejected`` (``n_in == n_out + n_rejected``),
        ``n_train, n_test`` (cases written per split), ``input_shape``
        ``[L, M]``, ``length, method, class_names`` and ``store`` (the path).

    Raises
    ------
    FileNotFoundError
        If a file is absent; the message lists the problems present.
    DataFormatError
        For malformed files, or TRAIN and TEST disagreeing in dimensions or
        class labels.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> (d / "uea_ucr_ts" / "Tiny").mkdir(parents=True)
    >>> head = "@problemName Tiny\n@timeStamps false\n@univariate true\n"
    >>> head += "@classLabel true a b\n@data\n"
    >>> _ = (d / "uea_ucr_ts/Tiny/Tiny_TRAIN.ts").write_text(head + "1,2,3:a\n4,5:b\n")
    >>> _ = (d / "uea_ucr_ts/Tiny/Tiny_TEST.ts").write_text(head + "6,7,8,9:a\n")
    >>> info = build_uea_store(d / "store", data_dir=d, name="Tiny")
    >>> info["n_in"], info["n_out"], info["n_rejected"], info["input_shape"]
    (3, 3, 0, [4, 1])
    """
    from skysift.io.store import write_store
    from skysift.preprocessing.pipeline import Pipeline
    from skysift.preprocessing.prepare import PIPELINE_FILE, REJECTED_FILE

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    root = Path(data_dir) / subdir
    files = {split: root / name / f"{name}_{split}.ts" for split in ("TRAIN", "TEST")}
    absent = [str(p) for p in files.values() if not p.is_file()]
    if absent:
        present = (
            sorted(p.name for p in root.iterdir() if p.is_dir())
            if root.is_dir()
            else []
        )
        raise FileNotFoundError(
            f"UEA problem {name!r}: {absent} not found; problems in {root}: "
            f"{present or 'none (directory absent)'}"
        )
    sets = {split: read_ts(path) for split, path in files.items()}
    train, test = sets["TRAIN"], sets["TEST"]
    if train.num_dimensions != test.num_dimensions:
        raise DataFormatError(
            f"UEA problem {name!r}: TRAIN has {train.num_dimensions} dimension(s), "
            f"TEST {test.num_dimensions}"
        )
    if train.labels is None or test.labels is None:
        raise DataFormatError(
            f"UEA problem {name!r}: both files need class labels (@classLabel true)"
        )
    if set(train.class_labels or ()) != set(test.class_labels or ()):
        raise DataFormatError(
            f"UEA problem {name!r}: TRAIN and TEST declare different class labels "
            f"({train.class_labels} vs {test.class_labels})"
        )
    if length is None:
        length = int(max(train.lengths.max(), test.lengths.max()))
    ids, labels, splits, lengths, lines, xs = [], [], [], [], [], []
    rejected: list[tuple[str, str]] = []
    for split, ds in sets.items():
        case_ids = [f"{name}_{split}_{i:04d}" for i in range(len(ds))]
        x, bad = to_fixed_length(ds.series, length, method=method)
        bad_rows = {i for i, _ in bad}
        rejected += [
            (case_ids[i], f"{ds.source}, line {ds.line_numbers[i]}: {why}")
            for i, why in bad
        ]
        keep = [i for i in range(len(ds)) if i not in bad_rows]
        xs.append(x)
        ids += [case_ids[i] for i in keep]
        labels += [ds.labels[i] for i in keep]
        splits += [split] * len(keep)
        lengths += [int(ds.lengths[i]) for i in keep]
        lines += [ds.line_numbers[i] for i in keep]
    x = np.concatenate(xs)  # (N, L, M)
    n_in = len(train) + len(test)
    if not len(x):
        raise DataFormatError(
            f"UEA problem {name!r}: every case was rejected: {rejected[:3]}"
        )
    input_shape = [int(length), int(train.num_dimensions)]
    pipeline = Pipeline([], kind="lightcurves")
    attrs = {
        # what load_training_data needs to read the arrays as (L, M) inputs
        "input_shape": input_shape,
        "n_extra": 0,
        "source": str(root / name),
        "source_kind": "lightcurves",
        "n_in": n_in,
        "n_rejected": len(rejected),
        "pipeline": pipeline.to_dict(),
        "uea": {
            "name": name,
            "files": [str(p) for p in files.values()],
            "length": int(length),
            "method": method,
            "seed": seed,
            "class_labels": list(train.class_labels or ()),
            "lengths": {
                split: [int(ds.lengths.min()), int(ds.lengths.max())]
                for split, ds in sets.items()
            },
        },
    }
    columns = {
        "object_id": ids,
        "label": labels,
        "split": splits,
        "series_length": np.asarray(lengths, dtype=np.int64),
        "source_line": np.asarray(lines, dtype=np.int64),
        "x": x.reshape(len(x), -1),
        "extra": np.zeros((len(x), 0), dtype=np.float32),
    }
    write_store(out, columns, kind="prepared", overwrite=overwrite, attrs=attrs)
    pipeline.save(Path(out) / PIPELINE_FILE)
    if rejected:
        write_rejects(Path(out) / REJECTED_FILE, rejected)
    n_out = len(ids)
    if n_in != n_out + len(rejected):  # internal invariant, not user input
        raise RuntimeError(
            f"UEA {name}: {n_in} in != {n_out} out + {len(rejected)} rejected"
        )
    return {
        "n_in": n_in,
        "n_out": n_out,
        "n_rejected": len(rejected),
        "n_train": splits.count("TRAIN"),
        "n_test": splits.count("TEST"),
        "input_shape": input_shape,
        "length": int(length),
        "method": method,
        "class_names": sorted(set(labels)),
        "store": str(out),
    }
