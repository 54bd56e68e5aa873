"""Seed 001's domain adaptation: synthetic H-alpha -> real Ondrejov -> LAMOST.

Recipe 3 of issue 8 trains a classifier of H-alpha profiles (emission,
absorption, double-peak) on synthetic spectra at the Ondrejov CCD700
resolution, prepares every set the way seed 001 moves Ondrejov spectra to
LAMOST (air -> vacuum, Gaussian blur to LAMOST's resolving power, 140
points over 6519-6732 A, per-spectrum standardisation), and tests it on
real spectra of both archives. This module holds the three data-set
builders the recipe runner calls (``ingest: {builder: NAME}``) and the
``after`` hook that draws the PCA / t-SNE map of the three sets.

Every builder writes a skysift store at ``out`` and returns counts that
add up, ``n_in == n_out + n_rejected``; rejected files and spectra are
listed with their reason in ``out/_rejected.csv``.

The real sets (``ondrejov_lamost_spectra/bt-spectraldl`` of the shared
data, see its PROVENANCE.md):

* **Ondrejov**: the 22 cross-matched CCD700 spectra (IVOA spectral tables,
  air wavelengths) plus the thesis's three example spectra (gamma Cas,
  alpha Lyr, BT CMi). Labels come from ``ondrejov-dataset.csv``, matched by
  the IVOA publisher id each file carries (``0`` emission, ``1``
  absorption, ``2`` unknown, ``3`` double-peak; seed 001 table 6.1).
  ``unknown`` and unlisted spectra are rejected.
* **LAMOST**: the 22 LAMOST DR1/DR2 spectra cross-matched with them
  (``cross-matched.csv``: Ondrejov file, LAMOST file) plus BT CMi's LAMOST
  spectrum (the thesis's figure 2.4 pair). A LAMOST spectrum takes the label
  of its Ondrejov partner: the files carry only LAMOST's own ``CLASS``
  (STAR). The two archives observed the stars years apart and Be stars
  change, so these labels are the Ondrejov epoch's, not checked by eye on
  the LAMOST spectra.

LAMOST sets ``ivar = 0`` on the pixels of strong H-alpha emission in some
files (all four LAMOST emission spectra here: 8-14 pixels at the peak) and
on scattered pixels of others (every fifth pixel of the double-peak one). Every skysift step treats ``ivar = 0`` as
unusable: ``regrid`` would draw a straight line under the emission peak and
the spectrum would look like a continuum. ``build_lamost_real`` therefore
keeps those pixels by default (``flagged_pixels="keep"``: finite, non-zero
fluxes inside ``window_aa`` get ``mask = False`` and the median usable ivar
of the window), counting them per spectrum; ``flagged_pixels="drop"`` leaves
the file's flags as they are, to show what the preparation does with them.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa

from skysift.data.synthetic import HALPHA_CLASSES
from skysift.exceptions import DataFormatError
from skysift.io.rejects import REJECTED_FILE, write_rejects

__all__ = [
    "ONDREJOV_DIR",
    "ONDREJOV_LABELS",
    "build_halpha_synthetic",
    "build_lamost_real",
    "build_ondrejov_real",
    "map_domains",
]

#: Where the cross-matched spectra sit inside the shared data directory.
ONDREJOV_DIR = "ondrejov_lamost_spectra/bt-spectraldl"
#: Codes of ``ondrejov-dataset.csv`` -> class names (seed 001 table 6.1).
ONDREJOV_LABELS = {
    "0": "emission",
    "1": "absorption",
    "2": "unknown",
    "3": "double-peak",
}
REJECTED_NAME = REJECTED_FILE

_ONDREJOV_FILES = (
    "cross-matched/ondrejov",
    "gamma-cas-emission.fits",
    "alpha-lyr-absorption.fits",
    "bt-cmi-ondrejov.fits",
)
_LAMOST_FILES = ("cross-matched/lamost", "bt-cmi-lamost.fits")
_EXTRA_PAIRS = (("bt-cmi-ondrejov.fits", "bt-cmi-lamost.fits"),)


# --------------------------------------------------------------------------
# Synthetic
# --------------------------------------------------------------------------


def build_halpha_synthetic(
    out: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    n: int = 3000,
    **options: Any,
) -> dict[str, Any]:
    """Write synthetic emission / absorption / double-peak H-alpha spectra.

    A recipe builder (``ingest: {builder: halpha_synthetic, n: 3000}``):
    :func:`skysift.data.synthetic.synthesize_store` with the ``halpha``
    generator, classes balanced, air wavelengths at the Ondrejov CCD700
    resolving power (13,000) unless ``options`` say otherwise.

    Parameters
    ----------
    out : path-like
        The store to write (replaced when it exists).
    data_dir : path-like, optional
        Unused (the builder interface passes it to every builder).
    seed : int, default 0
        Random seed of the generator.
    n : int, default 3000
        Number of spectra.
    **options
        Keyword arguments of :func:`skysift.data.synthetic.iter_halpha_spectra`
        (``snr``, ``num_pixels``, ``wavelength_range_aa``,
        ``resolving_power``, ``class_weights``).

    Returns
    -------
    dict
        ``n_in``, ``n_out`` (both ``n``), ``n_rejected`` (0) and ``classes``.

    Examples
    --------
    >>> import tempfile, os
    >>> info = build_halpha_synthetic(os.path.join(tempfile.mkdtemp(), "s"), n=9, seed=1)
    >>> info["n_out"], info["classes"]
    (9, {'absorption': 3, 'double-peak': 3, 'emission': 3})
    """
    from skysift.data.synthetic import synthesize_store

    if int(n) < 1:
        raise ValueError(f"build_halpha_synthetic: n must be >= 1, got {n!r}")
    if "wavelength_range_aa" in options:
        options["wavelength_range_aa"] = tuple(options["wavelength_range_aa"])
    store = synthesize_store(
        out, "halpha", int(n), seed=seed, overwrite=True, **options
    )
    classes = {str(k): int(v) for k, v in sorted(store.classes.items())}
    return {
        "n_in": int(n),
        "n_out": store.n_objects,
        "n_rejected": 0,
        "classes": classes,
    }


# --------------------------------------------------------------------------
# Real spectra
# --------------------------------------------------------------------------


def _resolve(base: Path, names: Sequence[str], what: str) -> list[Path]:
    paths = [base / p for p in names]
    absent = [str(p) for p in paths if not p.exists()]
    if absent:
        raise FileNotFoundError(f"{what}: not found: {absent} (relative to {base})")
    return paths


def _catalogue(path: Path):
    from skysift.io.labels import read_catalogue

    if not path.is_file():
        raise FileNotFoundError(f"label catalogue {path} does not exist")
    return read_catalogue(
        path, id_column="id", label_column="label", label_map=ONDREJOV_LABELS
    )


def _keep_labelled(
    raw_store: Path,
    out: Path,
    labels: Mapping[str, str | None],
    why_unlabelled: Mapping[str, str],
    extra: Mapping[str, Any],
    restore: tuple[float, float] | None,
    attrs: Mapping[str, Any],
) -> tuple[dict[str, int], list[tuple[str, str, str]], dict[str, int]]:
    """Copy the ingested spectra with a usable class into ``out``.

    ``labels`` maps object_id to its class (None: no label); returns the
    classes written, the rejected (file, object_id, reason) and the pixels
    restored per object.
    """
    from skysift.io.store import open_store, write_store

    table = open_store(raw_store).read()
    ids = table.column("object_id").to_pylist()
    files = table.column("source_file").to_pylist()
    keep, new_labels, rejected = [], [], []
    for i, (oid, src) in enumerate(zip(ids, files, strict=True)):
        label = labels.get(oid)
        if label in HALPHA_CLASSES:
            keep.append(i)
            new_labels.append(label)
        elif label is None:
            rejected.append((src, oid, why_unlabelled.get(oid, "no label")))
        else:
            rejected.append(
                (src, oid, f"label {label!r} is not one of {list(HALPHA_CLASSES)}")
            )
    restored: dict[str, int] = {}
    if not keep:
        return {}, rejected, restored
    table = table.take(pa.array(keep, pa.int64()))
    table = table.set_column(
        table.schema.get_field_index("label"),
        "label",
        pa.array(new_labels, pa.string()),
    )
    table = table.set_column(
        table.schema.get_field_index("label_source"),
        "label_source",
        pa.array(["catalogue"] * len(keep), pa.string()),
    )
    if restore is not None:
        table, restored = _restore_flagged(table, *restore)
    for name, value in extra.items():
        table = table.append_column(name, pa.array([value] * len(keep)))
    write_store(out, table, kind="spectra", overwrite=True, attrs=attrs)
    return dict(sorted(Counter(new_labels).items())), rejected, restored


def _restore_flagged(
    table: pa.Table, lo: float, hi: float
) -> tuple[pa.Table, dict[str, int]]:
    """Unflag finite, non-zero fluxes with ivar 0 or a mask inside [lo, hi]."""
    from skysift.io.store import list_column_to_numpy

    wls = list_column_to_numpy(table.column("wavelength_aa"))
    fluxes = list_column_to_numpy(table.column("flux"))
    ivars = [
        np.array(v, dtype=np.float32)
        for v in list_column_to_numpy(table.column("ivar"))
    ]
    masks = [
        np.array(v, dtype=bool) for v in list_column_to_numpy(table.column("mask"))
    ]
    restored = {}
    for oid, wl, fl, iv, mk in zip(
        table.column("object_id").to_pylist(), wls, fluxes, ivars, masks, strict=True
    ):
        inside = (wl >= lo) & (wl <= hi)
        flagged = inside & np.isfinite(fl) & (fl != 0) & ((iv <= 0) | mk)
        good = inside & (iv > 0) & ~mk
        if flagged.any():
            # the median usable ivar of the window: these pixels are as good as
            # their neighbours as far as LAMOST's flux goes
            fill = np.median(iv[good]) if good.any() else np.median(iv[iv > 0])
            iv[flagged] = fill
            mk[flagged] = False
        restored[oid] = int(flagged.sum())
    for name, values in (("ivar", ivars), ("mask", masks)):
        kind = pa.float32() if name == "ivar" else pa.bool_()
        column = pa.array([v.tolist() for v in values], pa.list_(kind))
        table = table.set_column(table.schema.get_field_index(name), name, column)
    return table, restored


def _ingest(files: Sequence[Path], tmp: Path):
    from skysift.io.ingest import ingest_spectra

    return ingest_spectra([str(f) for f in files], tmp / "raw", overwrite=True)


def _finish(
    out: Path,
    result,
    classes: Mapping[str, int],
    rejected: list[tuple[str, str, str]],
    extra_info: Mapping[str, Any],
) -> dict[str, Any]:
    """Write ``_rejected.csv``, check the counts add up, return the info dict."""
    rejected = [
        (s.file, s.object_id or "", s.reason) for s in result.skipped
    ] + rejected
    n_in = result.n_files_skipped + result.n_spectra_read
    n_out = sum(classes.values())
    if n_in != n_out + len(rejected):  # a bug here, not bad input
        raise RuntimeError(
            f"{out}: {n_in} in != {n_out} out + {len(rejected)} rejected"
        )
    if n_out == 0:
        reasons = Counter(r for _, _, r in rejected).most_common(3)
        raise DataFormatError(
            f"{out}: none of the {n_in} spectra has a usable label and data: {reasons}"
        )
    write_rejects(out / REJECTED_NAME, rejected, ("file", "object_id", "reason"))
    return {
        "n_in": n_in,
        "n_out": n_out,
        "n_rejected": len(rejected),
        "classes": dict(classes),
        "rejected": [{"file": a, "object_id": b, "reason": c} for a, b, c in rejected],
        **extra_info,
    }


def build_ondrejov_real(
    out: str | os.PathLike,
    *,
    data_dir: str | os.PathLike,
    seed: int = 0,
    directory: str = ONDREJOV_DIR,
    files: Sequence[str] = _ONDREJOV_FILES,
    labels: str = "ondrejov-dataset.csv",
    resolving_power: float = 13_000.0,
) -> dict[str, Any]:
    """Write the labelled real Ondrejov CCD700 H-alpha spectra.

    Parameters
    ----------
    out : path-like
        The store to write (replaced when it exists).
    data_dir : path-like
        The shared data directory.
    seed : int, default 0
        Unused (nothing is random).
    directory : str, default ``ONDREJOV_DIR``
        Folder of the spectra and catalogue, relative to ``data_dir``.
    files : sequence of str
        Files or folders inside ``directory`` (default: the 22 cross-matched
        spectra and the gamma Cas, alpha Lyr and BT CMi examples).
    labels : str, default "ondrejov-dataset.csv"
        The catalogue inside ``directory``: ``id`` (IVOA publisher id, as
        the files carry it) and ``label`` (0-3, see :data:`ONDREJOV_LABELS`).
    resolving_power : float, default 13000
        Recorded in a ``resolving_power`` column (seed 001: CCD700 at
        H-alpha), which ``blur_to_resolution`` reads.

    Returns
    -------
    dict
        ``n_in`` (files and spectra seen), ``n_out``, ``n_rejected``
        (``n_in == n_out + n_rejected``), ``classes``, ``rejected`` (file,
        object_id, reason each; also in ``out/_rejected.csv``).

    Raises
    ------
    FileNotFoundError
        If a file, folder or the catalogue is absent.
    DataFormatError
        If the catalogue is unreadable or no spectrum is left.
    """
    out = Path(out)
    base = Path(data_dir) / directory
    paths = _resolve(base, files, "build_ondrejov_real")
    catalogue = _catalogue(base / labels)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        result = _ingest(paths, Path(tmp))
        from skysift.io.store import open_store

        ids = open_store(result.path).ids()
        found = {oid: catalogue.lookup(str(oid)) for oid in ids}
        label_of = {
            oid: catalogue.rows[key][0] if key else None for oid, key in found.items()
        }
        why = {oid: f"not in {labels}" for oid, key in found.items() if key is None}
        classes, rejected, _ = _keep_labelled(
            result.path,
            out,
            label_of,
            why,
            {"resolving_power": float(resolving_power)},
            None,
            {
                "builder": "ondrejov_real",
                "files": [str(p) for p in paths],
                "catalogue": str(base / labels),
            },
        )
        return _finish(out, result, classes, rejected, {})


def _pairs(path: Path) -> list[tuple[str, str]]:
    """Read ``cross-matched.csv``: (Ondrejov file, LAMOST file) per line, no header."""
    if not path.is_file():
        raise FileNotFoundError(f"cross-match list {path} does not exist")
    pairs = []
    with open(path, newline="") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 2:
                raise DataFormatError(
                    f"{path}: line {number}: expected 'ondrejov_file,lamost_file', got {row}"
                )
            pairs.append((row[0].strip(), row[1].strip()))
    return pairs


def build_lamost_real(
    out: str | os.PathLike,
    *,
    data_dir: str | os.PathLike,
    seed: int = 0,
    directory: str = ONDREJOV_DIR,
    files: Sequence[str] = _LAMOST_FILES,
    pairs: str = "cross-matched.csv",
    extra_pairs: Sequence[Sequence[str]] = _EXTRA_PAIRS,
    labels: str = "ondrejov-dataset.csv",
    flagged_pixels: str = "keep",
    window_aa: Sequence[float] = (6519.0, 6732.0),
    resolving_power: float = 1800.0,
) -> dict[str, Any]:
    """Write the LAMOST spectra cross-matched with labelled Ondrejov spectra.

    Each LAMOST spectrum takes the class of its Ondrejov partner (see the
    module docstring).

    Parameters
    ----------
    out : path-like
        The store to write (replaced when it exists).
    data_dir : path-like
        The shared data directory.
    seed : int, default 0
        Unused (nothing is random).
    directory : str, default ``ONDREJOV_DIR``
        Folder of the spectra, pair list and catalogue, relative to
        ``data_dir``.
    files : sequence of str
        LAMOST files or folders inside ``directory``.
    pairs : str, default "cross-matched.csv"
        Lines ``ondrejov_path,lamost_path`` (only the file names are used).
    extra_pairs : sequence of (ondrejov_file, lamost_file)
        Pairs not in ``pairs`` (default: BT CMi).
    labels : str, default "ondrejov-dataset.csv"
        The Ondrejov catalogue (see :func:`build_ondrejov_real`).
    flagged_pixels : {"keep", "drop"}, default "keep"
        ``keep``: inside ``window_aa``, pixels with a finite non-zero flux
        but ``ivar = 0`` or a mask (LAMOST flags strong H-alpha emission)
        are unflagged and given the window's median usable ivar; ``drop``:
        the file's flags stay, and later steps skip those pixels.
    window_aa : (float, float), default (6519, 6732)
        Where ``keep`` applies (seed 001's window).
    resolving_power : float, default 1800
        Recorded in a ``resolving_power`` column, so ``blur_to_resolution``
        to 1800 leaves LAMOST spectra as they are.

    Returns
    -------
    dict
        Like :func:`build_ondrejov_real`, plus ``pixels_restored`` (object
        id -> pixels unflagged; empty with ``drop``).
    """
    if flagged_pixels not in ("keep", "drop"):
        raise ValueError(
            f"build_lamost_real: flagged_pixels must be 'keep' or 'drop', got {flagged_pixels!r}"
        )
    out = Path(out)
    base = Path(data_dir) / directory
    paths = _resolve(base, files, "build_lamost_real")
    catalogue = _catalogue(base / labels)
    partner = {}
    for ondrejov, lamost in [*_pairs(base / pairs), *[tuple(p) for p in extra_pairs]]:
        partner[PurePosixPath(lamost).name] = PurePosixPath(ondrejov).name
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        result = _ingest(paths, Path(tmp))
        from skysift.io.store import open_store

        rows = open_store(result.path).read(["object_id", "source_file"]).to_pylist()
        label_of, why = {}, {}
        for row in rows:
            oid, name = row["object_id"], PurePosixPath(row["source_file"]).name
            if name not in partner:
                label_of[oid], why[oid] = None, f"no Ondrejov partner in {pairs}"
                continue
            key = _partner_key(base, partner[name], catalogue)
            if key is None:
                label_of[oid] = None
                why[oid] = f"Ondrejov partner {partner[name]} is not in {labels}"
                continue
            label_of[oid] = catalogue.rows[key][0]
        restore = tuple(map(float, window_aa)) if flagged_pixels == "keep" else None
        classes, rejected, restored = _keep_labelled(
            result.path,
            out,
            label_of,
            why,
            {"resolving_power": float(resolving_power)},
            restore,
            {
                "builder": "lamost_real",
                "files": [str(p) for p in paths],
                "pairs": str(base / pairs),
                "flagged_pixels": flagged_pixels,
            },
        )
        return _finish(
            out,
            result,
            classes,
            rejected,
            {"pixels_restored": {k: v for k, v in restored.items() if v}},
        )


def _partner_key(base: Path, ondrejov_name: str, catalogue) -> str | None:
    """Catalogue id of an Ondrejov file: its stem, else the id the file carries."""
    stem = ondrejov_name.split(".")[0]
    key = catalogue.lookup(stem)
    if key is not None:
        return key
    hits = list(base.rglob(ondrejov_name))
    if not hits:
        return None
    from skysift.io.registry import read_spectra

    try:
        spectra = read_spectra(hits[0])
    except (DataFormatError, OSError, ValueError):
        return None
    return catalogue.lookup(str(spectra[0].object_id)) if len(spectra) == 1 else None


# --------------------------------------------------------------------------
# The map of the three sets (an ``after`` hook)
# --------------------------------------------------------------------------


def map_domains(
    out: str | os.PathLike,
    *,
    stores: Mapping[str, str | os.PathLike],
    seed: int = 0,
    methods: Sequence[str] = ("pca", "tsne"),
    sets: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
    max_per_dataset: int | None = 1000,
    perplexity: float = 40.0,
) -> dict[str, Any]:
    """Draw the PCA and t-SNE maps of prepared sets on shared axes (seed 001 ch. 8).

    A recipe ``after`` hook: ``stores`` maps ``train`` and each
    ``evaluate_on`` name to its prepared store;
    :func:`skysift.data.explore.explore_stores` fits one embedding on all of
    them and colours points by class, one marker per set.

    Parameters
    ----------
    out : path-like
        Folder for ``domain_map_<method>.png``.
    stores : mapping of str to path-like
        Prepared stores by set name.
    seed : int, default 0
        Sampling and t-SNE seed.
    methods : sequence of {"pca", "tsne"}, default both
    sets : sequence of str, optional
        Which stores, in legend order (default: all, ``train`` first).
    names : mapping of str to str, optional
        Legend names by set (default the set names).
    max_per_dataset : int or None, default 1000
        Random sample per set (seed 001 mapped 1,000 Ondrejov spectra).
    perplexity : float, default 40
        t-SNE perplexity (seed 001).

    Returns
    -------
    dict
        ``figures`` (file names inside ``out``), ``counts`` (points per set) and, per
        method, the embedding ``info``.

    Raises
    ------
    KeyError
        If ``sets`` names a store not in ``stores``.
    """
    import matplotlib.pyplot as plt

    from skysift.data.explore import explore_stores

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    order = list(sets) if sets else sorted(stores, key=lambda s: s != "train")
    missing = [s for s in order if s not in stores]
    if missing:
        raise KeyError(f"map_domains: no store named {missing}; have {sorted(stores)}")
    legend = [(names or {}).get(s, s) for s in order]
    figures, info, counts = [], {}, {}
    for method in methods:
        res = explore_stores(
            [stores[s] for s in order],
            method=method,
            names=legend,
            max_per_dataset=max_per_dataset,
            seed=seed,
            perplexity=perplexity,
            out=out / f"domain_map_{method}.png",
        )
        plt.close(res["figure"])
        figures.append(Path(res["path"]).name)
        info[method] = {k: v for k, v in res["info"].items() if k != "method"}
        counts = dict(zip(order, res["counts"], strict=True))
    return {"figures": figures, "counts": counts, "info": info}
