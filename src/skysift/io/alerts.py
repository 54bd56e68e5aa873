"""Alert readers: ZTF Avro packets and broker Parquet alert tables.

One alert becomes one light curve in the store: the triggering detection
plus the detection history the packet carries (ZTF ``candidate`` +
``prv_candidates``, 30 days; LSST / ELAsTiCC ``diaSource`` +
``prvDiaSources``). The store row's ``object_id`` is the alert's own id (ZTF
``candid``, LSST ``diaSourceId``), so several alerts of one object coexist;
the survey's object id (``objectId`` / ``diaObjectId``) and the alert ids are
kept as columns to join predictions back to the stream.

Layouts
-------
``ztf``
    Avro packets of the ZTF alert schema (one or many records per file; null,
    deflate or snappy codec, optionally gzipped), Spark folders of them, and
    broker Parquet tables with ``candidate`` / ``prv_candidates`` columns
    (Fink). Bands ``g`` and ``r`` (``fid`` 1 and 2) are kept by default;
    points in other bands (``fid`` 3, ZTF ``i``) are dropped and counted in
    ``n_other_band``.
``lsst``
    ELAsTiCC and Rubin alerts in Avro or broker Parquet: ``diaSource`` and
    ``prvDiaSources`` with ``midPointTai`` / ``midpointMjdTai``,
    ``filterName`` / ``band`` and ``psFlux`` / ``psfFlux`` (nJy). Forced
    photometry (``prvDiaForcedSources``) is not read.

Flux convention
---------------
Fluxes are in the store's unit, SNANA ``FLUXCAL`` (AB zero point 27.5):

* ZTF: ``magpsf`` is the PSF-fit AB magnitude of the source on the
  difference image and ``isdiffpos`` says whether it is positive (``t`` or
  ``1``: science brighter than reference) or negative (``f`` or ``0``). The
  difference flux is ``sign * 10**(-0.4 * (magpsf - 27.5))`` and its error
  ``|flux| * 0.4 * ln(10) * sigmapsf`` (first-order error propagation). See
  :func:`magnitude_to_flux`.
* LSST / ELAsTiCC: ``psFlux`` in nJy divided by :data:`NJY_PER_FLUXCAL`
  (36.31: the AB zero point of nJy is 31.4).

Non-detections
--------------
ZTF ``prv_candidates`` entries without a magnitude are upper limits, never
measurements: they go to the separate list columns ``upper_limit_time_mjd``,
``upper_limit_band``, ``upper_limit_mag`` (the 5-sigma limiting magnitude
``diffmaglim``) and ``upper_limit_flux`` (the same limit as a FLUXCAL flux).
ELAsTiCC ``prvDiaNondetectionLimits`` fill the same columns, taking the
limit as 5 x ``diaNoise``.

Bad packets
-----------
A packet is quarantined, with its reason, when a field the light curve
needs is missing or null (``missing field``), a magnitude or flux is NaN
(``NaN magnitude`` / ``NaN flux``), a value is impossible (``bad value``:
non-positive error, unknown ``fid`` or ``isdiffpos``), its alert id was
already read (``duplicate object_id``) or it belongs to the other layout
(``other survey``). An Avro file cut short keeps the packets before the cut
and counts the rest as one ``truncated file`` item. Always
``n_in == n_out + len(skipped)``.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skysift.io.lightcurves import (
    FLUXCAL_ZERO_POINT,
    IngestResult,
    ReadBatch,
    SkippedItem,
    _assemble,
    _base_columns,
    ingest_batches,
)
from skysift.io.store import open_store

__all__ = [
    "ALERT_LAYOUTS",
    "LSST_BANDS",
    "NJY_PER_FLUXCAL",
    "ZTF_FILTERS",
    "ingest_alerts",
    "magnitude_to_flux",
    "read_alerts",
]

#: Alert layouts :func:`read_alerts` understands.
ALERT_LAYOUTS = ("ztf", "lsst")

#: ZTF filter id -> band name.
ZTF_FILTERS: dict[int, str] = {1: "g", 2: "r", 3: "i"}

#: LSST band names (ELAsTiCC writes ``Y``; it is stored as ``y``).
LSST_BANDS = ("u", "g", "r", "i", "z", "y")

#: One FLUXCAL unit (AB zero point 27.5) in nJy (AB zero point 31.4).
NJY_PER_FLUXCAL = 10 ** (0.4 * (31.4 - FLUXCAL_ZERO_POINT))

_JD_TO_MJD = 2400000.5
_LN10_04 = 0.4 * math.log(10.0)
_POSITIVE = {"t", "1", "true"}
_NEGATIVE = {"f", "0", "false"}
_NO_LABEL = {"", "nan", "none", "null", "unknown", "<na>"}
_ALERT_SUFFIX = re.compile(r"\.(avro|avro\.gz|parquet)$", re.I)
_DEFAULT_BANDS = {"ztf": ("g", "r"), "lsst": LSST_BANDS}


def magnitude_to_flux(
    mag: Any,
    mag_err: Any = None,
    *,
    zero_point: float = FLUXCAL_ZERO_POINT,
    sign: Any = 1.0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Convert AB magnitudes (and errors) to fluxes on a zero point.

    ``flux = sign * 10**(-0.4 * (mag - zero_point))`` and, to first order,
    ``flux_err = |flux| * 0.4 * ln(10) * mag_err``.

    Parameters
    ----------
    mag : array-like
        AB magnitudes (ZTF ``magpsf`` of the difference image).
    mag_err : array-like, optional
        1-sigma magnitude errors (``sigmapsf``).
    zero_point : float, default 27.5
        Magnitude of a unit flux: 27.5 gives SNANA FLUXCAL, 31.4 nJy.
    sign : array-like, default 1.0
        +1 or -1 per value: -1 for a negative difference (``isdiffpos`` f).

    Returns
    -------
    flux : numpy.ndarray
        Fluxes, float64.
    flux_err : numpy.ndarray or None
        Their errors, or None when ``mag_err`` is None.

    Examples
    --------
    >>> flux, err = magnitude_to_flux([22.5, 20.0], [0.1, 0.05], sign=[1, -1])
    >>> flux.round(3).tolist(), err.round(3).tolist()
    ([100.0, -1000.0], [9.21, 46.052])
    """
    mag = np.asarray(mag, dtype=np.float64)
    flux = np.asarray(sign, dtype=np.float64) * 10.0 ** (-0.4 * (mag - zero_point))
    if mag_err is None:
        return flux, None
    return flux, np.abs(flux) * _LN10_04 * np.asarray(mag_err, dtype=np.float64)


class _Bad(Exception):
    """A packet to quarantine: reason category and detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _label_value(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list | bytes):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            value = int(value)
    text = str(value).strip()
    return None if text.lower() in _NO_LABEL else text


def _label_of(rec: Mapping[str, Any], label_field: str | None) -> str | None:
    if label_field is None:
        # simulation truth where a broker table carries it (ELAsTiCC GENTYPE)
        return _label_value(rec.get("GENTYPE"))
    return _label_value(rec.get(label_field))


# --------------------------------------------------------------------------
# One packet -> one light curve
# --------------------------------------------------------------------------


def _ztf_points(cand: Mapping[str, Any], prv: Sequence[Mapping[str, Any]]):
    """Split a ZTF packet into detections and upper limits, checking each value."""
    detections: list[tuple[float, int, float, float, float]] = []
    limits: list[tuple[float, int, float]] = []
    for where, point in chain(
        [("candidate", cand)], ((f"prv_candidates[{i}]", p) for i, p in enumerate(prv))
    ):
        if not isinstance(point, Mapping):
            raise _Bad("missing field", f"{where} is not a record")
        jd, fid = point.get("jd"), point.get("fid")
        if not _finite(jd) or fid is None:
            raise _Bad("missing field", f"{where}: jd or fid missing or not a number")
        if int(fid) not in ZTF_FILTERS:
            raise _Bad(
                "bad value",
                f"{where}: unknown fid {fid!r}; ZTF has {sorted(ZTF_FILTERS)}",
            )
        mag = point.get("magpsf")
        if mag is None and where != "candidate":
            limit = point.get("diffmaglim")
            if not _finite(limit):
                raise _Bad(
                    "missing field",
                    f"{where}: a non-detection (no magpsf) without a finite diffmaglim",
                )
            limits.append((float(jd), int(fid), float(limit)))
            continue
        sig, pos = point.get("sigmapsf"), point.get("isdiffpos")
        if mag is None:
            raise _Bad("missing field", f"{where}: magpsf is missing")
        if not _finite(mag) or not _finite(sig):
            raise _Bad("NaN magnitude", f"{where}: magpsf={mag!r}, sigmapsf={sig!r}")
        if float(sig) <= 0:
            raise _Bad("bad value", f"{where}: sigmapsf={sig!r} is not positive")
        pos_text = str(pos).strip().lower()
        if pos_text in _POSITIVE:
            sign = 1.0
        elif pos_text in _NEGATIVE:
            sign = -1.0
        elif pos is None:
            raise _Bad("missing field", f"{where}: isdiffpos is missing")
        else:
            raise _Bad("bad value", f"{where}: isdiffpos={pos!r}; expected t/f or 1/0")
        detections.append((float(jd), int(fid), float(mag), float(sig), sign))
    return detections, limits


def _ztf_row(
    rec: Mapping[str, Any], bands: Sequence[str], label_field: str | None
) -> dict:
    cand = rec.get("candidate")
    if not isinstance(cand, Mapping):
        raise _Bad("missing field", "candidate is missing or null")
    object_id = rec.get("objectId")
    candid = cand.get("candid", rec.get("candid"))
    if object_id is None or candid is None:
        raise _Bad("missing field", "objectId or candid is missing or null")
    detections, limits = _ztf_points(cand, rec.get("prv_candidates") or [])
    det = np.array(detections, dtype=np.float64).reshape(-1, 5)
    band = np.array([ZTF_FILTERS[int(f)] for f in det[:, 1]])
    keep = np.isin(band, bands)
    flux, flux_err = magnitude_to_flux(det[keep, 2], det[keep, 3], sign=det[keep, 4])
    lim = np.array(limits, dtype=np.float64).reshape(-1, 3)
    lim_band = np.array([ZTF_FILTERS[int(f)] for f in lim[:, 1]], dtype=str)
    lim_keep = np.isin(lim_band, bands)
    if not keep.any():
        raise _Bad("no observations", f"no detection in bands {''.join(bands)}")
    return {
        "object_id": str(candid),
        "label": _label_of(rec, label_field),
        "redshift": np.nan,
        "redshift_err": np.nan,
        "scalars": {
            "objectId": str(object_id),
            "candid": int(candid),
            "ra": cand.get("ra"),
            "dec": cand.get("dec"),
            "alert_time_mjd": float(cand["jd"]) - _JD_TO_MJD,
            "rb": cand.get("rb"),
            "drb": cand.get("drb"),
            "n_other_band": int((~keep).sum() + (~lim_keep).sum()),
        },
        "time_mjd": det[keep, 0] - _JD_TO_MJD,
        "band": band[keep],
        "flux": flux,
        "flux_err": flux_err,
        "ul_time": lim[lim_keep, 0] - _JD_TO_MJD,
        "ul_band": lim_band[lim_keep],
        "ul_mag": lim[lim_keep, 2],
        "ul_flux": magnitude_to_flux(lim[lim_keep, 2])[0],
    }


def _first(mapping: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = mapping.get(name)
        if value is not None:
            return value
    return None


def _lsst_row(
    rec: Mapping[str, Any], bands: Sequence[str], label_field: str | None
) -> dict:
    source = rec.get("diaSource")
    if not isinstance(source, Mapping):
        raise _Bad("missing field", "diaSource is missing or null")
    source_id = _first(rec, "diaSourceId") or source.get("diaSourceId")
    if source_id is None:
        raise _Bad("missing field", "diaSourceId is missing or null")
    obj = rec.get("diaObject") if isinstance(rec.get("diaObject"), Mapping) else {}
    object_id = _first(source, "diaObjectId") or obj.get("diaObjectId")
    points = []
    for where, point in chain(
        [("diaSource", source)],
        (
            (f"prvDiaSources[{i}]", p)
            for i, p in enumerate(rec.get("prvDiaSources") or [])
        ),
    ):
        if not isinstance(point, Mapping):
            raise _Bad("missing field", f"{where} is not a record")
        t = _first(point, "midPointTai", "midpointMjdTai")
        band = _first(point, "filterName", "band")
        flux = _first(point, "psFlux", "psfFlux")
        err = _first(point, "psFluxErr", "psfFluxErr")
        if not _finite(t) or band is None:
            raise _Bad("missing field", f"{where}: time or band missing")
        if flux is None or err is None:
            raise _Bad("missing field", f"{where}: psFlux / psFluxErr missing")
        if not _finite(flux) or not _finite(err):
            raise _Bad("NaN flux", f"{where}: psFlux={flux!r}, psFluxErr={err!r}")
        if float(err) <= 0:
            raise _Bad("bad value", f"{where}: psFluxErr={err!r} is not positive")
        points.append((float(t), str(band).strip(), float(flux), float(err)))
    limits = []
    for i, point in enumerate(rec.get("prvDiaNondetectionLimits") or []):
        t, band, noise = (
            _first(point, "midPointTai", "midpointMjdTai"),
            _first(point, "filterName", "band"),
            point.get("diaNoise"),
        )
        if not _finite(t) or band is None or not _finite(noise) or float(noise) <= 0:
            raise _Bad(
                "bad value",
                f"prvDiaNondetectionLimits[{i}]: time, band or diaNoise unusable",
            )
        limits.append((float(t), str(band).strip(), 5.0 * float(noise)))
    time_mjd = np.array([p[0] for p in points])
    band = np.array(["y" if p[1] == "Y" else p[1] for p in points], dtype=str)
    keep = np.isin(band, bands)
    if not keep.any():
        raise _Bad("no observations", f"no detection in bands {''.join(bands)}")
    flux = np.array([p[2] for p in points])[keep] / NJY_PER_FLUXCAL
    flux_err = np.array([p[3] for p in points])[keep] / NJY_PER_FLUXCAL
    ul_band = np.array(["y" if b == "Y" else b for _, b, _ in limits], dtype=str)
    ul_keep = np.isin(ul_band, bands)
    ul_flux = (
        np.array([x for *_, x in limits], dtype=np.float64)[ul_keep] / NJY_PER_FLUXCAL
    )
    z = obj.get("z_final")
    z_err = obj.get("z_final_err")
    z, z_err = (
        (float(z), float(z_err) if _finite(z_err) else np.nan)
        if _finite(z) and float(z) >= 0
        else (np.nan, np.nan)
    )
    return {
        "object_id": str(source_id),
        "label": _label_of(rec, label_field),
        "redshift": z,
        "redshift_err": z_err,
        "scalars": {
            "diaObjectId": None if object_id is None else int(object_id),
            "diaSourceId": int(source_id),
            "alertId": rec.get("alertId"),
            "ra": source.get("ra"),
            "dec": _first(source, "decl", "dec"),
            "alert_time_mjd": float(_first(source, "midPointTai", "midpointMjdTai")),
            "n_other_band": int((~keep).sum() + (~ul_keep).sum()),
        },
        "time_mjd": time_mjd[keep],
        "band": band[keep],
        "flux": flux,
        "flux_err": flux_err,
        "ul_time": np.array([t for t, *_ in limits], dtype=np.float64)[ul_keep],
        "ul_band": ul_band[ul_keep],
        "ul_mag": FLUXCAL_ZERO_POINT - 2.5 * np.log10(ul_flux),
        "ul_flux": ul_flux,
    }


_SCALAR_TYPES = {
    "ztf": {
        "objectId": pa.string(),
        "candid": pa.int64(),
        "ra": pa.float64(),
        "dec": pa.float64(),
        "alert_time_mjd": pa.float64(),
        "rb": pa.float64(),
        "drb": pa.float64(),
        "n_other_band": pa.int64(),
    },
    "lsst": {
        "diaObjectId": pa.int64(),
        "diaSourceId": pa.int64(),
        "alertId": pa.int64(),
        "ra": pa.float64(),
        "dec": pa.float64(),
        "alert_time_mjd": pa.float64(),
        "n_other_band": pa.int64(),
    },
}


def _rows_table(layout: str, rows: list[dict], sources: list[str]) -> pa.Table:
    """Assemble alert rows (one per packet) into a light-curve store table."""
    scalars = _base_columns(
        [r["object_id"] for r in rows],
        [r["label"] for r in rows],
        [r["redshift"] for r in rows],
        [r["redshift_err"] for r in rows],
    )
    for name, value_type in _SCALAR_TYPES[layout].items():
        scalars[name] = pa.array(
            [r["scalars"][name] for r in rows], type=value_type, from_pandas=True
        )
    scalars["n_detections"] = pa.array([len(r["flux"]) for r in rows], pa.int64())
    scalars["n_upper_limits"] = pa.array([len(r["ul_flux"]) for r in rows], pa.int64())
    scalars["source_file"] = pa.array(sources, pa.string())
    ul_lengths = np.array([len(r["ul_flux"]) for r in rows], dtype=np.int64)
    ul_off = pa.array(np.concatenate([[0], np.cumsum(ul_lengths)]).astype(np.int32))

    def flat(key: str, dtype: Any) -> np.ndarray:
        parts = [np.asarray(r[key], dtype=dtype) for r in rows]
        return np.concatenate(parts) if parts else np.array([], dtype=dtype)

    for name, key, value_type in (
        ("upper_limit_time_mjd", "ul_time", pa.float64()),
        ("upper_limit_band", "ul_band", pa.string()),
        ("upper_limit_mag", "ul_mag", pa.float32()),
        ("upper_limit_flux", "ul_flux", pa.float32()),
    ):
        values = flat(key, str if value_type == pa.string() else np.float64)
        scalars[name] = pa.ListArray.from_arrays(
            ul_off, pa.array(values, type=value_type)
        )
    lengths = np.array([len(r["flux"]) for r in rows], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    time_mjd = flat("time_mjd", np.float64)
    owner = np.repeat(np.arange(len(rows)), lengths)
    order = np.lexsort((time_mjd, owner))
    return _assemble(
        scalars,
        offsets,
        {
            "time_mjd": time_mjd[order],
            "band": flat("band", str)[order],
            "flux": flat("flux", np.float64)[order],
            "flux_err": flat("flux_err", np.float64)[order],
        },
    )


# --------------------------------------------------------------------------
# Files -> packets
# --------------------------------------------------------------------------


def _open_bytes(path: Path) -> io.BytesIO:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return io.BytesIO(data)


def _iter_avro(path: Path) -> Iterator[tuple[str, Mapping[str, Any] | SkippedItem]]:
    import fastavro

    n = 0
    try:
        stream = _open_bytes(path)
        for block in fastavro.block_reader(stream):
            for record in block:
                yield f"record {n}", record
                n += 1
    except Exception as e:  # fastavro raises bare ValueError/EOFError/codec errors
        if n:
            detail = f"unreadable after record {n - 1} ({type(e).__name__}: {e}); the rest of the file is lost"
            yield (
                f"record {n}+",
                SkippedItem(str(path), f"record {n}+", "truncated file", detail),
            )
        else:
            detail = f"not a readable Avro file ({type(e).__name__}: {e})"
            yield "", SkippedItem(str(path), "", "unreadable file", detail)


_PARQUET_COLUMNS = {
    "ztf": ("objectId", "candid", "candidate", "prv_candidates"),
    "lsst": (
        "alertId",
        "diaSourceId",
        "diaSource",
        "prvDiaSources",
        "prvDiaNondetectionLimits",
        "diaObject",
    ),
}


def _iter_parquet(
    path: Path, label_field: str | None, ignored: list[SkippedItem]
) -> Iterator[tuple[str, Mapping[str, Any] | SkippedItem]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        yield (
            "",
            SkippedItem(
                str(path), "", "unreadable file", f"not a readable Parquet file ({e})"
            ),
        )
        return
    with pf:
        names = pf.schema_arrow.names
        layout = (
            "ztf" if "candidate" in names else "lsst" if "diaSource" in names else None
        )
        if layout is None:
            ignored.append(
                SkippedItem(
                    str(path),
                    "",
                    "not an alert table",
                    f"no candidate or diaSource column; columns: {names[:8]}",
                )
            )
            return
        wanted = [
            *_PARQUET_COLUMNS[layout],
            "GENTYPE",
            *([label_field] if label_field else []),
        ]
        columns = [c for c in dict.fromkeys(wanted) if c in names]
        n = 0
        try:
            for batch in pf.iter_batches(batch_size=1024, columns=columns):
                for record in batch.to_pylist():
                    yield f"row {n}", record
                    n += 1
        except (pa.ArrowException, OSError) as e:
            detail = f"unreadable after row {n} ({e}); the rest of the file is lost"
            yield (
                f"row {n}+",
                SkippedItem(str(path), f"row {n}+", "truncated file", detail),
            )


def _alert_files(paths: Sequence[Path], ignored: list[SkippedItem]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if not p.is_file() or p.name.startswith(("_", ".")):
                    continue  # Spark's _SUCCESS, .crc checksums
                if _ALERT_SUFFIX.search(p.name):
                    files.append(p)
                else:
                    ignored.append(
                        SkippedItem(
                            str(p),
                            "",
                            "not an alert file",
                            "not .avro, .avro.gz or .parquet",
                        )
                    )
        else:
            files.append(path)
    return files


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() == ".parquet":
        return True
    with open(path, "rb") as f:
        return f.read(4) == b"PAR1"


def read_alerts(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    label_field: str | None = None,
    bands: Sequence[str] | None = None,
    batch_size: int = 2048,
) -> Iterator[ReadBatch]:
    """Read alert packets (Avro or broker Parquet) into light-curve batches.

    Parameters
    ----------
    paths : path or sequence of paths
        Avro files (single or multi-record, any codec fastavro reads, also
        gzipped), Parquet alert tables, or directories searched recursively
        for ``*.avro``, ``*.avro.gz`` and ``*.parquet`` (Spark folders
        included). Other files in a directory are reported as ignored.
    label_field : str, optional
        A top-level field holding the class (a Fink cross-match column such
        as ``tnsclass``). By default ELAsTiCC tables use their simulation
        truth ``GENTYPE`` (kept as the code) and other alerts are
        unlabelled. Empty, ``Unknown`` and NaN values give no label.
    bands : sequence of str, optional
        Bands to keep: ``("g", "r")`` for ZTF and ``ugrizy`` for LSST by
        default. Points in other bands are counted in ``n_other_band``.
    batch_size : int, default 2048
        Alerts per yielded batch.

    Yields
    ------
    ReadBatch
        Rows with the alert's detections as the light curve (sorted by time;
        see the module notes for the flux convention), upper limits in the
        ``upper_limit_*`` list columns, and ``n_detections``,
        ``n_upper_limits``, ``n_other_band``, ``alert_time_mjd``, ``ra``,
        ``dec``, ``source_file``; ZTF rows add ``objectId``, ``candid``,
        ``rb``, ``drb``, LSST rows ``diaObjectId``, ``diaSourceId``,
        ``alertId``. All batches share the layout of the first good packet;
        packets of the other layout are quarantined.

    Examples
    --------
    >>> import fastavro, tempfile, pathlib
    >>> schema = fastavro.parse_schema({"type": "record", "name": "alert", "fields": [
    ...     {"name": "objectId", "type": "string"},
    ...     {"name": "candidate", "type": {"type": "record", "name": "c", "fields": [
    ...         {"name": n, "type": t} for n, t in [("candid", "long"), ("jd", "double"),
    ...         ("fid", "int"), ("magpsf", "float"), ("sigmapsf", "float"),
    ...         ("isdiffpos", "string")]]}},
    ...     {"name": "prv_candidates", "type": ["null", {"type": "array", "items": {
    ...         "type": "record", "name": "p", "fields": [
    ...         {"name": "jd", "type": "double"}, {"name": "fid", "type": "int"},
    ...         {"name": "magpsf", "type": ["null", "float"]},
    ...         {"name": "diffmaglim", "type": "float"}]}}]}]})
    >>> packet = {"objectId": "ZTF18aaaaaaa", "candidate": {"candid": 7, "jd": 2459000.5,
    ...     "fid": 1, "magpsf": 22.5, "sigmapsf": 0.1, "isdiffpos": "t"},
    ...     "prv_candidates": [{"jd": 2458999.5, "fid": 2, "magpsf": None, "diffmaglim": 20.0}]}
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "alert.avro"
    >>> with open(path, "wb") as f:
    ...     fastavro.writer(f, schema, [packet], codec="deflate")
    >>> batch, = read_alerts(path)
    >>> row = batch.table.to_pylist()[0]
    >>> row["objectId"], row["time_mjd"], row["flux"], round(row["flux_err"][0], 3)
    ('ZTF18aaaaaaa', [59000.0], [100.0], 9.21)
    >>> row["upper_limit_time_mjd"], row["upper_limit_band"], row["upper_limit_mag"]
    ([58999.0], ['r'], [20.0])
    """
    paths = (
        [Path(paths)]
        if isinstance(paths, str | os.PathLike)
        else [Path(p) for p in paths]
    )
    ignored: list[SkippedItem] = []
    files = _alert_files(paths, ignored)
    layout: str | None = None
    rows: list[dict] = []
    row_sources: list[str] = []
    skipped: list[SkippedItem] = []
    stats: dict[str, int] = {
        "detections": 0,
        "upper limits": 0,
        "points in other bands dropped": 0,
    }
    n_in = 0
    converters: dict[str, Callable[..., dict]] = {"ztf": _ztf_row, "lsst": _lsst_row}

    def flush() -> ReadBatch:
        nonlocal rows, row_sources, skipped, ignored, n_in, stats
        table = _rows_table(layout, rows, row_sources) if rows else None
        batch = ReadBatch(
            table, skipped, n_in, {k: v for k, v in stats.items() if v}, ignored
        )
        rows, row_sources, skipped, ignored, n_in = [], [], [], [], 0
        stats = dict.fromkeys(stats, 0)
        return batch

    for path in files:
        try:
            records = (
                _iter_parquet(path, label_field, ignored)
                if _is_parquet(path)
                else _iter_avro(path)
            )
        except OSError as e:
            records = iter(
                [("", SkippedItem(str(path), "", "unreadable file", str(e)))]
            )
        for item, record in records:
            n_in += 1
            if isinstance(record, SkippedItem):
                skipped.append(record)
                continue
            kind = (
                "ztf"
                if "candidate" in record
                else "lsst"
                if "diaSource" in record
                else None
            )
            ident = (
                record.get("objectId")
                or record.get("alertId")
                or record.get("diaSourceId")
            )
            name = f"{item} ({ident})" if ident is not None else item
            if kind is None:
                skipped.append(
                    SkippedItem(
                        str(path),
                        name,
                        "missing field",
                        "neither candidate (ZTF) nor diaSource (LSST/ELAsTiCC)",
                    )
                )
                continue
            if layout is None:
                layout = kind
            if kind != layout:
                skipped.append(
                    SkippedItem(
                        str(path),
                        name,
                        "other survey",
                        f"a {kind} alert among {layout} alerts; ingest each survey into its own store",
                    )
                )
                continue
            try:
                row = converters[kind](
                    record, tuple(bands or _DEFAULT_BANDS[kind]), label_field
                )
            except _Bad as bad:
                skipped.append(SkippedItem(str(path), name, bad.reason, bad.detail))
                continue
            except (TypeError, ValueError, KeyError, AttributeError) as e:
                skipped.append(
                    SkippedItem(
                        str(path), name, "bad value", f"{type(e).__name__}: {e}"
                    )
                )
                continue
            rows.append(row)
            row_sources.append(str(path))
            stats["detections"] += len(row["flux"])
            stats["upper limits"] += len(row["ul_flux"])
            stats["points in other bands dropped"] += row["scalars"]["n_other_band"]
            if len(rows) >= batch_size:
                yield flush()
    if n_in or ignored:
        yield flush()


def ingest_alerts(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    label_field: str | None = None,
    bands: Sequence[str] | None = None,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Read alert packets into a new light-curve store, quarantining bad ones.

    Parameters
    ----------
    paths : path or sequence of paths
        Avro / Parquet alert files or directories of them.
    out : str or path-like
        The store directory to create. Quarantined packets are listed with
        their reasons in ``<out>/_skipped.csv``.
    label_field : str, optional
        Field holding the class; see :func:`read_alerts`.
    bands : sequence of str, optional
        Bands to keep; see :func:`read_alerts`.
    overwrite : bool, default False
        Replace an existing store.
    progress : callable, optional
        Called with the number of packets read after each batch.

    Returns
    -------
    IngestResult
        ``n_in`` packets (plus unreadable file tails) = ``n_out`` written +
        quarantined; ``stats`` counts detections, upper limits and points
        dropped for their band.

    Raises
    ------
    FileExistsError
        If ``out`` exists and ``overwrite`` is False.
    DataFormatError
        If no packet could be read.

    Examples
    --------
    A broker table in the ZTF layout, one good packet and one with a NaN
    magnitude:

    >>> import tempfile, pathlib, pyarrow.parquet as pq
    >>> def packet(candid, mag):
    ...     cand = {"candid": candid, "jd": 2459000.5, "fid": 2, "magpsf": mag,
    ...             "sigmapsf": 0.1, "isdiffpos": "t", "diffmaglim": 20.5}
    ...     return {"objectId": "ZTF20abc", "candid": candid, "candidate": cand,
    ...             "prv_candidates": [{**cand, "jd": 2458999.5, "magpsf": None}]}
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> rows = [packet(1, 19.0), packet(2, float("nan"))]
    >>> pq.write_table(pa.Table.from_pylist(rows), d / "alerts.parquet")
    >>> result = ingest_alerts(d / "alerts.parquet", d / "store")
    >>> result.n_in, result.n_out, [(s.item, s.reason) for s in result.skipped]
    (2, 1, [('row 1 (ZTF20abc)', 'NaN magnitude')])
    >>> result.stats["upper limits"]
    1
    """
    start = time.perf_counter()
    batches = read_alerts(paths, label_field=label_field, bands=bands)
    head: list[ReadBatch] = []
    layout = None
    for batch in batches:  # the first table tells which survey the store holds
        head.append(batch)
        if batch.table is not None:
            layout = "ztf" if "candid" in batch.table.column_names else "lsst"
            break
    attrs: dict[str, Any] = {
        "ingest": {
            "format": "alerts",
            "layout": layout,
            "sources": [
                str(p)
                for p in ([paths] if isinstance(paths, str | os.PathLike) else paths)
            ][:20],
            "label_field": label_field or "GENTYPE where present",
            "flux_unit": f"FLUXCAL (AB zero point {FLUXCAL_ZERO_POINT})",
            "upper_limits": "upper_limit_* list columns (5-sigma limits), never in flux",
        }
    }
    if layout is not None:
        attrs["survey"] = layout
    result = ingest_batches(
        chain(head, batches),
        out,
        attrs=attrs,
        overwrite=overwrite,
        progress=progress,
        what="alerts",
    )
    # count points of the packets written (the reader also saw duplicates)
    written = open_store(result.store).read(
        ["n_detections", "n_upper_limits", "n_other_band"]
    )
    result.stats = {
        "detections": int(pc.sum(written.column("n_detections")).as_py() or 0),
        "upper limits": int(pc.sum(written.column("n_upper_limits")).as_py() or 0),
        "points in other bands dropped": int(
            pc.sum(written.column("n_other_band")).as_py() or 0
        ),
    }
    result.seconds = time.perf_counter() - start  # reading began before the write
    return result
