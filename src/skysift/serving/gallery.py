"""Candidate galleries: the objects a classifier ranks highest, to look at.

A survey-scale run leaves a predictions table of millions of rows; the
candidates of an interesting class are then checked by eye (seed 001 sec.
9.4, Figs. 9.5-9.6: emission and double-peak candidates among 2.2 million
LAMOST spectra, where noisy spectra still mix with good ones). A gallery is
one self-contained HTML file: per object its spectrum (or light curve, per
band with error bars) drawn small as an embedded PNG, its id, its label when
the store knows it, and its class probabilities. Objects are fetched from
the store by id (:meth:`skysift.io.store.Store.take`), so only the row groups
that hold them are read.

Two selections:

* the top N of a class: the N highest ``prob_<class>`` values (ties broken
  by object id);
* the N least confident objects: lowest top-class probability
  (``pred_prob``; "least confidence" sampling), or, on request, highest
  entropy of the class probabilities. With a class, only the objects
  predicted as that class are ranked.
"""

from __future__ import annotations

import base64
import difflib
import html
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from skysift.data.containers import LightCurve, Spectrum

__all__ = [
    "UNCERTAINTY_MEASURES",
    "class_names",
    "plot_thumbnail",
    "read_predictions",
    "select_candidates",
    "write_gallery",
]

#: How ``uncertain`` ranks objects: ``"top_prob"`` lowest top-class
#: probability first, ``"entropy"`` highest entropy (nats) first.
UNCERTAINTY_MEASURES = ("top_prob", "entropy")

#: H-alpha in air and in vacuum (Angstrom): marked on spectra that cover it,
#: the line of seed 001's emission and double-peak classes.
_HALPHA_AA = {"air": 6562.80, "vacuum": 6564.61}
#: Widest spectrum (Angstrom) still treated as a cut-out around H-alpha.
_HALPHA_WINDOW_AA = 1000.0


def read_predictions(path: str | os.PathLike) -> pd.DataFrame:
    """Read a predictions table written by ``predict_store`` or ``predict_spark``.

    Parameters
    ----------
    path : path-like
        A Parquet file, or a Parquet dataset directory (Spark's output).

    Returns
    -------
    pandas.DataFrame
        ``object_id``, ``prob_<class>`` per class, ``pred_class``,
        ``pred_prob`` (whatever columns the file has).

    Raises
    ------
    skysift.exceptions.DataFormatError
        If the file is unreadable or has no ``object_id`` column.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from skysift.exceptions import DataFormatError

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such predictions file")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise DataFormatError(
            f"{path}: not a readable Parquet predictions table ({e})"
        ) from e
    if "object_id" not in table.column_names:
        raise DataFormatError(
            f"{path}: no object_id column (columns: {table.column_names}); "
            "expected the output of skysift predict"
        )
    return table.to_pandas()


def class_names(predictions: pd.DataFrame) -> list[str]:
    """Return the class names of a predictions table, from its ``prob_<class>`` columns.

    Examples
    --------
    >>> import pandas as pd
    >>> class_names(pd.DataFrame(columns=["object_id", "prob_emission", "prob_absorption"]))
    ['emission', 'absorption']
    """
    return [c[len("prob_") :] for c in predictions.columns if c.startswith("prob_")]


def _entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of each row of probabilities."""
    p = np.clip(probs, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return terms.sum(axis=1)


def _smallest(score: np.ndarray, ids: np.ndarray, n: int) -> np.ndarray:
    """Return the indices of the ``n`` smallest scores, in order, ties by id."""
    score = np.where(np.isnan(score), np.inf, score)
    if n < len(score):
        # argpartition keeps this O(N) for millions of rows; every row tied
        # with the n-th value is kept so that ties are broken by id below.
        kth = np.partition(score, n - 1)[n - 1]
        cand = np.flatnonzero(score <= kth)
    else:
        cand = np.arange(len(score))
    order = np.lexsort((ids[cand], score[cand]))[:n]
    return cand[order]


def select_candidates(
    predictions: pd.DataFrame,
    *,
    class_name: str | None = None,
    top: int = 50,
    uncertain: bool = False,
    uncertainty: str = "top_prob",
) -> pd.DataFrame:
    """Pick the objects of a gallery from a predictions table.

    Parameters
    ----------
    predictions : pandas.DataFrame
        As from :func:`read_predictions`.
    class_name : str, optional
        Rank by ``prob_<class_name>``, highest first. Required unless
        ``uncertain``; with ``uncertain``, restricts the ranking to objects
        predicted as this class.
    top : int, default 50
        Number of objects (all of them if fewer).
    uncertain : bool, default False
        Rank the least confident objects first instead.
    uncertainty : {"top_prob", "entropy"}, default "top_prob"
        With ``uncertain``: lowest top-class probability first, or highest
        entropy of the class probabilities first.

    Returns
    -------
    pandas.DataFrame
        The chosen rows in rank order, with the added columns ``rank``
        (1-based), ``score`` (what was ranked on) and ``entropy``.

    Raises
    ------
    ValueError
        If ``class_name`` is not one of the table's classes (the message
        lists them), if the table has no class probabilities (a regressor's
        output), if no object is predicted as ``class_name`` in uncertain
        mode, or if an argument is out of range.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"object_id": ["a", "b", "c"],
    ...                   "prob_emission": [0.2, 0.9, 0.6],
    ...                   "prob_absorption": [0.8, 0.1, 0.4]})
    >>> select_candidates(p, class_name="emission", top=2).object_id.tolist()
    ['b', 'c']
    >>> select_candidates(p, uncertain=True, top=1).object_id.tolist()
    ['c']
    """
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    if uncertainty not in UNCERTAINTY_MEASURES:
        raise ValueError(
            f"unknown uncertainty measure {uncertainty!r}; expected one of "
            f"{UNCERTAINTY_MEASURES}"
        )
    names = class_names(predictions)
    if not names:
        targets = [c for c in predictions.columns if c.startswith("pred_")]
        raise ValueError(
            f"the predictions have no prob_<class> columns (columns: "
            f"{list(predictions.columns)}; {targets or 'no'} outputs): galleries "
            "rank a classifier's probabilities"
        )
    if class_name is None and not uncertain:
        raise ValueError(
            f"name a class to rank (one of {names}) or ask for the uncertain objects"
        )
    if class_name is not None and class_name not in names:
        close = difflib.get_close_matches(class_name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"no class {class_name!r}; available classes: {names}{hint}")
    probs = predictions[[f"prob_{n}" for n in names]].to_numpy(np.float64)
    entropy = _entropy(probs)
    top_prob = probs.max(axis=1)
    ids = predictions["object_id"].to_numpy().astype(str)
    rows = np.arange(len(predictions))
    if uncertain:
        if class_name is not None:
            rows = rows[probs.argmax(axis=1) == names.index(class_name)]
            if len(rows) == 0:
                raise ValueError(f"no object is predicted as {class_name!r}")
        score = top_prob if uncertainty == "top_prob" else entropy
        key = score[rows] if uncertainty == "top_prob" else -score[rows]
    else:
        score = probs[:, names.index(class_name)]
        key = -score[rows]
    chosen = rows[_smallest(key, ids[rows], top)]
    out = predictions.iloc[chosen].copy()
    out.insert(0, "rank", np.arange(1, len(chosen) + 1))
    out["score"] = score[chosen]
    out["entropy"] = entropy[chosen]
    return out.reset_index(drop=True)


def _thumbnail_figure(figsize: tuple[float, float]) -> Figure:
    """Return a Figure on an Agg canvas (no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_thumbnail(
    obj: Spectrum | LightCurve, *, figsize: tuple[float, float] = (3.6, 2.0)
) -> Figure:
    """Draw one spectrum or light curve small, for a gallery card.

    Parameters
    ----------
    obj : Spectrum or LightCurve
        As from :meth:`skysift.io.store.Store.get`.
    figsize : (float, float), default (3.6, 2.0)
        Inches; 100 dpi.

    Returns
    -------
    matplotlib.figure.Figure
        A spectrum: flux against wavelength, masked pixels and pixels with
        zero inverse variance left out (gaps); on a cut-out of at most
        1000 Å around H-alpha (as in seed 001) the line is marked, shifted by
        the redshift when known.
        A light curve: flux per band with 1-sigma error bars against days
        since the first observation (:func:`skysift.data.lightcurve_plot.plot_lightcurve`).

    Examples
    --------
    >>> import numpy as np
    >>> from skysift.data.containers import Spectrum
    >>> wl = np.linspace(6520.0, 6730.0, 200)
    >>> s = Spectrum("a", wl, 1 + np.exp(-0.5 * ((wl - 6562.8) / 3) ** 2))
    >>> plot_thumbnail(s).axes[0].get_xlabel()
    'wavelength (Å)'
    """
    import matplotlib as mpl

    from skysift.data.containers import LightCurve

    with mpl.rc_context({"font.size": 7, "axes.titlesize": 7, "legend.fontsize": 6}):
        if isinstance(obj, LightCurve):
            from skysift.data.lightcurve_plot import plot_lightcurve

            fig = plot_lightcurve(obj, figsize=figsize)
            ax = fig.axes[0]
            ax.set_title("")  # the card names the object
            for line in ax.get_lines():
                line.set_markersize(2.5)
            legend = ax.get_legend()
            if legend is not None:
                legend.set_title(None)
            return fig
        fig = _thumbnail_figure(figsize)
        ax = fig.subplots()
        wl = np.asarray(obj.wavelength_aa, np.float64)
        flux = np.asarray(obj.flux, np.float64)
        bad = (
            np.asarray(obj.mask, bool)
            | ~(np.asarray(obj.ivar) > 0)
            | ~np.isfinite(flux)
        )
        ax.plot(wl, np.where(bad, np.nan, flux), lw=0.7, color="#1f4e79")
        if len(wl) and np.isfinite(wl).any():
            lo, hi = np.nanmin(wl), np.nanmax(wl)
            frame = str(obj.meta.get("frame") or "air")
            z = (
                obj.redshift
                if obj.redshift is not None and np.isfinite(obj.redshift)
                else 0.0
            )
            line = _HALPHA_AA.get(frame, _HALPHA_AA["air"]) * (1.0 + z)
            # Only on a cut-out around the line (seed 001's 6519-6732 A
            # window): on a full optical spectrum one rest-frame line would
            # suggest an identification the gallery cannot make.
            if hi - lo <= _HALPHA_WINDOW_AA and lo <= line <= hi:
                ax.axvline(line, color="#c0392b", lw=0.6, ls=":", zorder=0)
                ax.text(
                    line,
                    1.0,
                    " Hα",
                    color="#c0392b",
                    transform=ax.get_xaxis_transform(),
                    va="top",
                    ha="left",
                    fontsize=6,
                )
        ax.set_xlabel("wavelength (Å)")
        ax.set_ylabel("flux")
        ax.tick_params(length=2, pad=1)
        return fig


def _png_base64(fig: Figure) -> str:
    """Render a figure as base64-encoded PNG."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.2em;color:#222}
h1{font-size:1.3em;margin:0 0 .2em}
p.meta{color:#555;font-size:.85em;margin:.1em 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:10px;margin-top:1em}
.card{border:1px solid #ddd;border-radius:6px;padding:6px 8px;background:#fafafa}
.card img{width:360px;height:200px;display:block}
.head{display:flex;justify-content:space-between;font-size:.85em}
.id{font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:600;word-break:break-all}
.rank{color:#888}
.label{font-size:.8em;margin:.15em 0}
.ok{color:#1a7f37}.bad{color:#b42318}
table.probs{border-collapse:collapse;font-size:.75em;width:100%}
table.probs td{padding:0 4px 0 0;white-space:nowrap}
table.probs td.bar{width:60%}
.bar div{height:8px;background:#8aa9c8;border-radius:2px}
tr.sel .bar div{background:#d9822b}
tr.sel td{font-weight:600}
"""


def _card(
    row: Any,
    obj: Spectrum | LightCurve,
    names: Sequence[str],
    focus: str | None,
    img: str,
    uncertain: bool,
) -> str:
    """Return the HTML of one object's card: id, rank, label, figure, probabilities."""
    esc = html.escape
    probs = sorted(((float(row[f"prob_{n}"]), n) for n in names), reverse=True)
    pred = probs[0][1]
    if obj.label is None:
        label = '<span class="rank">label unknown</span>'
    elif obj.label == pred:
        label = f'label <b>{esc(obj.label)}</b> <span class="ok">= predicted</span>'
    else:
        label = (
            f'label <b>{esc(obj.label)}</b> <span class="bad">&ne; predicted '
            f"{esc(pred)}</span>"
        )
    z = getattr(obj, "redshift", None)
    if z is not None and np.isfinite(z):
        label += f" &middot; z = {z:.4g}"
    if uncertain:
        label += f" &middot; top p = {probs[0][0]:.3f}, entropy = {float(row['entropy']):.3f} nats"
    bars = "".join(
        f'<tr class="{"sel" if n == (focus or pred) else ""}"><td>{esc(n)}</td>'
        f'<td class="bar"><div style="width:{100 * p:.1f}%"></div></td>'
        f"<td>{p:.3f}</td></tr>"
        for p, n in probs
    )
    return (
        f'<div class="card"><div class="head"><span class="id">{esc(str(obj.object_id))}'
        f'</span><span class="rank">#{int(row["rank"])}</span></div>'
        f'<div class="label">{label}</div>'
        f'<img alt="{esc(str(obj.object_id))}" src="data:image/png;base64,{img}">'
        f'<table class="probs">{bars}</table></div>'
    )


def write_gallery(
    predictions: str | os.PathLike | pd.DataFrame,
    store: Any,
    out: str | os.PathLike,
    *,
    class_name: str | None = None,
    top: int = 50,
    uncertain: bool = False,
    uncertainty: str = "top_prob",
    title: str | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write a self-contained HTML gallery of candidates with their data drawn small.

    Parameters
    ----------
    predictions : path-like or pandas.DataFrame
        A predictions file or directory (``skysift predict``), or the table.
    store : path-like or Store
        The raw store the predictions were made on (spectra or light curves).
    out : path-like
        HTML file to write; images are embedded as PNG, so the file stands
        alone.
    class_name, top, uncertain, uncertainty
        Which objects, as in :func:`select_candidates`.
    title : str, optional
        Page heading; by default it says what was selected.
    overwrite : bool, default False
        Replace an existing ``out``.

    Returns
    -------
    dict
        ``out, n_shown, n_predictions, object_ids, criterion``.

    Raises
    ------
    ValueError
        On an unknown class (the message lists the available ones) or another
        bad selection (see :func:`select_candidates`).
    KeyError
        If chosen objects are not in the store; the message names some.
    skysift.exceptions.DataFormatError
        If the store holds prepared model inputs rather than spectra or light
        curves, or a file is unreadable.
    FileExistsError
        If ``out`` exists and ``overwrite`` is False.

    Examples
    --------
    ::

        write_gallery("predictions.parquet", "data/lamost", "emission.html",
                      class_name="emission", top=50)
    """
    from skysift import __version__
    from skysift.data.containers import from_row
    from skysift.exceptions import DataFormatError
    from skysift.io.store import Store, open_store

    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(
            f"{out} already exists; pass overwrite=True (--overwrite)"
        )
    source = (
        "a table"
        if not isinstance(predictions, str | os.PathLike)
        else str(predictions)
    )
    table = (
        predictions
        if not isinstance(predictions, str | os.PathLike)
        else read_predictions(predictions)
    )
    src = store if isinstance(store, Store) else open_store(store)
    if src.kind not in ("spectra", "lightcurves"):
        raise DataFormatError(
            f"{src.path} holds {src.kind} data (model inputs); a gallery draws the "
            "raw spectra or light curves: pass the store they were prepared from"
        )
    chosen = select_candidates(
        table,
        class_name=class_name,
        top=top,
        uncertain=uncertain,
        uncertainty=uncertainty,
    )
    names = class_names(table)
    ids = chosen["object_id"].astype(str).tolist()
    try:
        rows = src.take(ids).to_pylist()
    except KeyError as e:
        known = set(src.ids().tolist())
        missing = [i for i in ids if i not in known]
        raise KeyError(
            f"{len(missing)} of the {len(ids)} chosen objects are not in the store "
            f"{src.path}, e.g. {missing[:5]}; were the predictions made on another store?"
        ) from e
    if uncertain:
        measure = (
            "lowest top-class probability"
            if uncertainty == "top_prob"
            else "highest entropy"
        )
        scope = f" among objects predicted as {class_name}" if class_name else ""
        criterion = f"{len(ids)} least confident objects ({measure} first){scope}"
    else:
        criterion = f"top {len(ids)} by probability of {class_name}"
    cards = []
    for (_, row), data in zip(chosen.iterrows(), rows, strict=True):
        obj = from_row(src.kind, data)
        img = _png_base64(plot_thumbnail(obj))
        cards.append(
            _card(row, obj, names, None if uncertain else class_name, img, uncertain)
        )
    esc = html.escape
    heading = title or (
        f"{class_name} candidates" if not uncertain else "Least confident objects"
    )
    doc = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(heading)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{esc(heading)}</h1>"
        f'<p class="meta">{esc(criterion)}, of {len(table):,} predicted objects</p>'
        f'<p class="meta">predictions: {esc(source)} &middot; store: {esc(str(src.path))} '
        f"({esc(src.kind)}) &middot; skysift {esc(__version__)}</p>"
        f'<div class="grid">{"".join(cards)}</div></body></html>\n'
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(doc, encoding="utf-8")
    tmp.replace(out)
    return {
        "out": str(out),
        "n_shown": len(ids),
        "n_predictions": len(table),
        "object_ids": ids,
        "criterion": criterion,
    }
