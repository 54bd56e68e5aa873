"""Two-dimensional maps of spectra: PCA and t-SNE (seed 001 ch. 8).

Seed 001 looks at its 140-point, standardised H-alpha spectra through PCA
and t-SNE (reduced to 30 dimensions by PCA first, perplexity 40), first of
the Ondrejov training set alone, then of LAMOST and Ondrejov spectra on the
same axes, to see whether the two archives overlap after domain adaptation
and how well the classes separate. This module draws those maps for one or
more datasets: one embedding fitted on all datasets together, points
coloured by class and marked by dataset.

Inputs are model-ready arrays (N, D) (:func:`embed`, :func:`plot_map`) or
stores (:func:`explore_stores`): a ``prepared`` store is used as it is, a
``spectra`` store is brought onto one grid first (by default: linear
regridding over the wavelength range all datasets share, then per-spectrum
standardisation, as in seed 001).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skysift.exceptions import DataFormatError

__all__ = ["METHODS", "embed", "explore_stores", "load_sample", "plot_map"]

#: Embedding methods.
METHODS = ("pca", "tsne")
_MARKERS = ("o", "^", "s", "D", "v", "P")
_UNLABELLED = "unlabelled"


def embed(
    x: np.ndarray,
    *,
    method: str = "pca",
    seed: int = 0,
    perplexity: float = 40.0,
    pca_components: int = 30,
    n_jobs: int | None = 1,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Map each row of ``x`` to a point in 2D.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, D) or (N, ...)
        One row per spectrum (flattened when it has more axes).
    method : {"pca", "tsne"}, default "pca"
        Principal components, or t-SNE (scikit-learn) run on the first
        ``pca_components`` principal components, as seed 001 does.
    seed : int, default 0
        Random seed (t-SNE; PCA's randomised solver).
    perplexity : float, default 40
        t-SNE perplexity (seed 001: 40); capped at ``(N - 1) / 3`` for
        small samples.
    pca_components : int, default 30
        Dimensions kept before t-SNE (seed 001: 30).
    n_jobs : int or None, default 1
        Threads for the linear algebra and t-SNE's OpenMP loops; None uses
        every core. One thread is the safe default: on a machine shared with
        other busy processes, OpenMP threads that spin while waiting for
        each other can make t-SNE tens of times slower.

    Returns
    -------
    coords : numpy.ndarray, shape (N, 2)
    info : dict
        ``method``; for PCA ``explained_variance_ratio`` of the two axes;
        for t-SNE ``perplexity`` and ``kl_divergence``.

    Raises
    ------
    ValueError
        If ``method`` is unknown, there are fewer than 3 rows, or ``x`` is
        not finite.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(50, 10)) * np.arange(1, 11)
    >>> coords, info = embed(x, method="pca")
    >>> coords.shape, info["explained_variance_ratio"][0] > info["explained_variance_ratio"][1]
    ((50, 2), True)
    """
    from threadpoolctl import threadpool_limits

    if method not in METHODS:
        raise ValueError(f"unknown embedding method {method!r}; choose from {METHODS}")
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(len(x), -1)
    if len(x) < 3:
        raise ValueError(f"embed: need at least 3 spectra to draw a map, got {len(x)}")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise ValueError(
            f"embed: {int(bad.sum())} row(s) hold NaN or inf (e.g. row "
            f"{int(np.flatnonzero(bad)[0])}); prepare the spectra first"
        )
    with threadpool_limits(limits=n_jobs):
        return _embed(x, method, seed, perplexity, pca_components)


def _embed(x, method, seed, perplexity, pca_components):
    from sklearn.decomposition import PCA

    if method == "pca":
        pca = PCA(n_components=min(2, x.shape[1]), random_state=seed)
        coords = pca.fit_transform(x)
        if coords.shape[1] < 2:
            coords = np.column_stack([coords, np.zeros(len(coords))])
        ratio = np.zeros(2)
        ratio[: pca.n_components_] = pca.explained_variance_ratio_
        return coords, {"method": "pca", "explained_variance_ratio": ratio.tolist()}
    from sklearn.manifold import TSNE

    keep = int(min(pca_components, x.shape[1], len(x)))
    reduced = PCA(n_components=keep, random_state=seed).fit_transform(x)
    perplexity = float(min(perplexity, (len(x) - 1) / 3.0))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    coords = tsne.fit_transform(reduced)
    return coords, {
        "method": "tsne",
        "perplexity": perplexity,
        "kl_divergence": float(tsne.kl_divergence_),
    }


def plot_map(
    coords: np.ndarray,
    labels: Sequence | np.ndarray | None,
    *,
    dataset: Sequence | np.ndarray | None = None,
    dataset_names: Sequence[str] | None = None,
    info: dict[str, Any] | None = None,
    title: str | None = None,
):
    """Scatter a 2D map, coloured by class, one marker per dataset.

    Parameters
    ----------
    coords : numpy.ndarray, shape (N, 2)
    labels : array-like of shape (N,), optional
        Class of each point; None / empty for unlabelled points (grey).
    dataset : array-like of int, shape (N,), optional
        Index of each point's dataset (0, 1, ...); all 0 by default.
    dataset_names : sequence of str, optional
        Legend names of the datasets.
    info : dict, optional
        As returned by :func:`embed`; labels the axes.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Not attached to pyplot; save it with ``fig.savefig(path)``.

    Examples
    --------
    >>> fig = plot_map(np.random.default_rng(0).normal(size=(20, 2)), ["a", "b"] * 10)
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['a (10)', 'b (10)']
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    coords = np.asarray(coords, dtype=float)
    n = len(coords)
    labels = (
        np.full(n, _UNLABELLED, dtype=object)
        if labels is None
        else np.array(
            [_UNLABELLED if v is None or v == "" else str(v) for v in labels],
            dtype=object,
        )
    )
    dataset = (
        np.zeros(n, dtype=int) if dataset is None else np.asarray(dataset, dtype=int)
    )
    n_sets = int(dataset.max()) + 1 if n else 1
    names = list(dataset_names or [f"dataset {i + 1}" for i in range(n_sets)])
    classes = sorted(set(labels.tolist()) - {_UNLABELLED})
    if _UNLABELLED in labels:
        classes.append(_UNLABELLED)
    palette = _palette(len(classes))
    colour = {c: palette[i] for i, c in enumerate(classes)}
    colour[_UNLABELLED] = (0.6, 0.6, 0.6, 1.0)

    fig = Figure(figsize=(8.5, 6.5), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    size = float(np.clip(6000.0 / max(n, 1), 6.0, 40.0))
    # Larger datasets first, so a small one drawn over them stays visible;
    # the first dataset filled, the others as outlines, so both read where
    # they overlap.
    order = sorted(range(n_sets), key=lambda d: -int((dataset == d).sum()))
    for d in order:
        for c in classes:
            pick = (dataset == d) & (labels == c)
            if not pick.any():
                continue
            filled = d == 0
            ax.scatter(
                coords[pick, 0],
                coords[pick, 1],
                s=size if filled else 2.5 * size,
                marker=_MARKERS[d % len(_MARKERS)],
                facecolors=colour[c] if filled else "none",
                edgecolors="none" if filled else colour[c],
                linewidths=0.0 if filled else 0.8,
                alpha=0.6 if filled else 0.85,
                rasterized=n > 5000,
            )
    class_handles = [
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            color=colour[c],
            label=f"{c} ({int((labels == c).sum())})",
        )
        for c in classes
    ]
    legend = ax.legend(
        handles=class_handles,
        title="class",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
    )
    if n_sets > 1:
        ax.add_artist(legend)
        set_handles = [
            Line2D(
                [],
                [],
                ls="",
                marker=_MARKERS[d % len(_MARKERS)],
                markerfacecolor="0.3" if d == 0 else "none",
                markeredgecolor="0.3",
                color="0.3",
                label=f"{names[d]} ({int((dataset == d).sum())})",
            )
            for d in range(n_sets)
        ]
        ax.legend(
            handles=set_handles,
            title="dataset",
            loc="lower left",
            bbox_to_anchor=(1.01, 0.0),
        )
    method = (info or {}).get("method", "pca")
    if method == "pca":
        ratio = (info or {}).get("explained_variance_ratio", [np.nan, np.nan])
        ax.set_xlabel(f"PC 1 ({100 * ratio[0]:.1f}% of variance)")
        ax.set_ylabel(f"PC 2 ({100 * ratio[1]:.1f}% of variance)")
    else:
        ax.set_xlabel("t-SNE 1")
        ax.set_ylabel("t-SNE 2")
    what = f"{n:,} spectra" + (f" from {n_sets} datasets" if n_sets > 1 else "")
    ax.set_title(title or f"{'PCA' if method == 'pca' else 't-SNE'} map of {what}")
    ax.grid(alpha=0.25, lw=0.5)
    return fig


def _palette(k: int) -> list[tuple[float, float, float, float]]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(max(k, 1))]


def load_sample(
    path: str | os.PathLike,
    *,
    max_objects: int | None = 5000,
    seed: int = 0,
) -> dict[str, Any]:
    """Read a uniform random sample of a store's objects, streaming it.

    Parameters
    ----------
    path : path-like
        A store.
    max_objects : int or None, default 5000
        Sample size; None or a size >= the store's reads every object.
    seed : int, default 0
        Seed of the sample.

    Returns
    -------
    dict
        The sampled rows as a batch (see
        :func:`skysift.preprocessing.pipeline.batch_from_arrow`), in store
        order, plus ``kind`` (the store's kind).
    """
    import pyarrow as pa

    from skysift.io.store import open_store
    from skysift.preprocessing.pipeline import batch_from_arrow

    store = open_store(path)
    n = store.n_objects
    if n == 0:
        raise DataFormatError(f"{store.path}: the store is empty; nothing to map")
    if max_objects is not None and max_objects < 1:
        raise ValueError(f"max_objects must be >= 1, got {max_objects}")
    take = n if max_objects is None or max_objects >= n else int(max_objects)
    chosen = np.sort(np.random.default_rng(seed).choice(n, size=take, replace=False))
    parts = []
    start = 0
    for record_batch in store.iter_batches(batch_size=8192):
        stop = start + record_batch.num_rows
        lo, hi = np.searchsorted(chosen, [start, stop])
        if hi > lo:
            parts.append(record_batch.take(pa.array(chosen[lo:hi] - start)))
        start = stop
    table = pa.Table.from_batches(parts).combine_chunks()
    batch = batch_from_arrow(table.to_batches()[0] if table.num_rows else table)
    batch["kind"] = store.kind
    return batch


def _overlap(paths: Sequence[str | os.PathLike]) -> tuple[float, float]:
    """Wavelength range every one of the spectra stores covers."""
    from skysift.io.store import open_store

    lo, hi = -np.inf, np.inf
    for path in paths:
        store = open_store(path)
        span = store.manifest.get("summary", {}).get("wavelength_aa_range") or [
            None,
            None,
        ]
        if span[0] is None:
            raise DataFormatError(
                f"{store.path}: the manifest gives no wavelength range"
            )
        lo, hi = max(lo, span[0]), min(hi, span[1])
    if not hi > lo:
        raise DataFormatError(
            "the spectra stores share no wavelength range; prepare them onto one "
            "grid first (skysift prepare) and map the prepared stores"
        )
    return float(lo), float(hi)


def explore_stores(
    paths: Sequence[str | os.PathLike],
    *,
    method: str = "pca",
    out: str | os.PathLike | None = None,
    names: Sequence[str] | None = None,
    max_per_dataset: int | None = 5000,
    pipeline: Any = None,
    grid: tuple[float, float, int] | None = None,
    seed: int = 0,
    perplexity: float = 40.0,
    n_jobs: int | None = 1,
) -> dict[str, Any]:
    """Draw the 2D map of one or more stores on the same axes.

    Parameters
    ----------
    paths : sequence of path-like
        Stores: all ``prepared`` (model inputs of one size) or all
        ``spectra``.
    method : {"pca", "tsne"}, default "pca"
    out : path-like, optional
        Where to save the figure (PNG, PDF or SVG by suffix).
    names : sequence of str, optional
        Dataset names for the legend; default the store directory names.
    max_per_dataset : int or None, default 5000
        Random sample size per store (seed 001 mapped 5,000 LAMOST and
        1,000 Ondrejov spectra); None maps everything.
    pipeline : skysift.preprocessing.Pipeline, optional
        For spectra stores: the preparation (fitted on the first dataset's
        sample, applied to all). Default: ``regrid`` onto ``grid`` then
        ``standardize``.
    grid : (start_aa, stop_aa, num), optional
        The default pipeline's grid; default the wavelength range all
        stores share, with 140 points (seed 001's LAMOST sampling).
    seed : int, default 0
    perplexity : float, default 40
    n_jobs : int or None, default 1
        Threads for the embedding (see :func:`embed`).

    Returns
    -------
    dict
        ``coords (N, 2)``, ``labels``, ``dataset`` (index per point),
        ``names``, ``counts`` (points per dataset), ``rejected`` (objects the
        preparation dropped, with reasons), ``info`` (from :func:`embed`),
        ``figure`` and ``path`` (None without ``out``).

    Raises
    ------
    DataFormatError
        If the stores mix kinds, hold light curves, or their prepared
        inputs differ in size.

    Examples
    --------
    >>> import tempfile, os
    >>> from skysift.data.synthetic import synthesize_store
    >>> d = tempfile.mkdtemp()
    >>> a = synthesize_store(os.path.join(d, "a"), "halpha", 60, seed=0)
    >>> b = synthesize_store(os.path.join(d, "b"), "halpha", 40, seed=1,
    ...                      resolving_power=1800.0)
    >>> res = explore_stores([a.path, b.path], out=os.path.join(d, "map.png"))
    >>> res["counts"], os.path.exists(res["path"])
    ([60, 40], True)
    """
    from skysift.preprocessing.pipeline import Pipeline

    paths = list(paths)
    if not paths:
        raise ValueError("explore_stores: give at least one store")
    samples = [
        load_sample(p, max_objects=max_per_dataset, seed=seed + i)
        for i, p in enumerate(paths)
    ]
    kinds = {s["kind"] for s in samples}
    if len(kinds) > 1 or kinds & {"lightcurves"}:
        raise DataFormatError(
            f"explore maps spectra stores or prepared stores, all of one kind; got "
            f"{[s['kind'] for s in samples]} (prepare light curves first)"
        )
    rejected: list[tuple[str, str]] = []
    if kinds == {"prepared"}:
        xs = [np.asarray(s["x"], dtype=np.float32) for s in samples]
        widths = sorted({x.shape[1] for x in xs})
        if len(widths) > 1:
            raise DataFormatError(
                f"the prepared stores hold inputs of different sizes {widths}; "
                "prepare them with the same pipeline"
            )
        labels = [s.get("label") for s in samples]
    else:
        if pipeline is None:
            start, stop, num = grid if grid is not None else (*_overlap(paths), 140)
            pipeline = Pipeline.from_config(
                {
                    "kind": "spectra",
                    "steps": [
                        {
                            "regrid": {
                                "start_aa": start,
                                "stop_aa": stop,
                                "num": int(num),
                            }
                        },
                        "standardize",
                    ],
                }
            )
        xs, labels = [], []
        for i, s in enumerate(samples):
            batch = {k: v for k, v in s.items() if k != "kind"}
            run = (
                pipeline.fit_transform
                if i == 0 and not pipeline.is_fitted
                else pipeline.transform
            )
            prepared = run(batch, drop_bad=True)
            rejected += prepared["rejected"]
            xs.append(prepared["x"].reshape(len(prepared["x"]), -1))
            labels.append(prepared.get("label"))
    counts = [len(x) for x in xs]
    x = np.concatenate(xs)
    label_arr = np.concatenate(
        [
            np.full(c, None, dtype=object)
            if lab is None
            else np.asarray(lab, dtype=object)
            for lab, c in zip(labels, counts, strict=True)
        ]
    )
    dataset = np.repeat(np.arange(len(xs)), counts)
    names = list(names) if names else [Path(p).name for p in paths]
    coords, info = embed(
        x, method=method, seed=seed, perplexity=perplexity, n_jobs=n_jobs
    )
    fig = plot_map(coords, label_arr, dataset=dataset, dataset_names=names, info=info)
    saved = None
    if out is not None:
        saved = Path(out)
        saved.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(saved)
    return {
        "coords": coords,
        "labels": label_arr,
        "dataset": dataset,
        "names": names,
        "counts": counts,
        "rejected": rejected,
        "info": info,
        "figure": fig,
        "path": None if saved is None else str(saved),
    }
