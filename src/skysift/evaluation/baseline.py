"""Feature-based baseline: gradient-boosted trees on features of the GP fits.

The PLAsTiCC winner (avocado; Boone 2019) and most SNPCC entries classified
light curves with boosted decision trees on a few dozen hand-made features of
a Gaussian-process fit. This module gives skysift's neural models that
baseline on the same prepared data and the same split:

* :func:`gp_features` turns the GP means of a prepared store (``x`` of shape
  (N, L, M), the grid from ``gp_time_start`` to ``gp_time_stop``) and the GP
  hyperparameters into a feature table: per band the peak flux, the time of
  peak relative to the brightest band's, the rise time (half maximum to
  peak) and the fall time (peak to half maximum), the flux 30 days after
  the band's peak over the peak flux; the colours of adjacent bands at the
  peak of the brightest band; log GP amplitude and length scale; redshift and its error.
* :class:`GradientBoostedBaseline` is scikit-learn's
  ``HistGradientBoostingClassifier`` whose number of boosting rounds is
  chosen on the validation split (never the test split).
* :func:`train_baseline` does both on a prepared store for given id lists
  and writes a run directory like ``train_run`` does (``metrics.json``,
  ``report.html``, ``test_predictions.parquet``), so the results table
  compares like with like.

Times are in the observer frame (days); the trees need no scaling, and
undefined values (a band whose flux never falls to half its peak inside the
grid, a colour of a non-positive flux) stay NaN, which the trees route on
their own.
"""

from __future__ import annotations

import fnmatch
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skysift.exceptions import DataFormatError, NotFittedError

__all__ = ["GradientBoostedBaseline", "gp_features", "train_baseline"]

#: Days after the peak at which the decline ratio is measured.
DECLINE_DAYS = 30.0


def _half_max_times(
    flux: np.ndarray, peak: np.ndarray, t_peak_idx: np.ndarray, dt: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rise and fall times (days) between half maximum and peak; NaN when not reached."""
    length = flux.shape[1]
    steps = np.arange(length)
    below = flux < 0.5 * peak[:, None]
    before = below & (steps[None, :] < t_peak_idx[:, None])
    after = below & (steps[None, :] > t_peak_idx[:, None])
    # the last grid point below half maximum before the peak, the first after
    last_before = np.where(before.any(1), length - 1 - np.argmax(before[:, ::-1], axis=1), -1)
    first_after = np.where(after.any(1), np.argmax(after, axis=1), -1)
    rise = np.where(last_before >= 0, (t_peak_idx - last_before) * dt, np.nan)
    fall = np.where(first_after >= 0, (first_after - t_peak_idx) * dt, np.nan)
    return rise, fall


def gp_features(
    x: np.ndarray,
    *,
    time_start_mjd: np.ndarray,
    time_stop_mjd: np.ndarray,
    band_names: Sequence[str],
    gp_amplitude: np.ndarray | None = None,
    gp_length_scale_days: np.ndarray | None = None,
    redshift: np.ndarray | None = None,
    redshift_err: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Compute light-curve features from GP means on a regular time grid.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, L, M)
        GP posterior mean flux at L regular times in M bands (the ``x`` of a
        prepared light-curve store).
    time_start_mjd, time_stop_mjd : numpy.ndarray, shape (N,)
        First and last time of each object's grid.
    band_names : sequence of str
        The M band names, in the order of ``x``'s last axis (bluest first).
    gp_amplitude, gp_length_scale_days : numpy.ndarray, shape (N,), optional
        Fitted GP hyperparameters; used as features (log10) when given.
    redshift, redshift_err : numpy.ndarray, shape (N,), optional
        Used as features when given; negative values (SNANA's -9) and NaN
        become NaN.

    Returns
    -------
    features : numpy.ndarray of float64, shape (N, F)
    names : list of str
        The F feature names.

    Raises
    ------
    ValueError
        If ``x`` is not (N, L, M) or the band names do not match M.

    Examples
    --------
    >>> t = np.linspace(-50, 100, 151)
    >>> curve = np.exp(-0.5 * (t / 10) ** 2)          # peak 1 at t = 0
    >>> x = np.stack([curve, 2 * curve], axis=-1)[None]  # (1, 151, 2)
    >>> f, names = gp_features(x, time_start_mjd=np.array([0.0]),
    ...                        time_stop_mjd=np.array([150.0]), band_names="gr")
    >>> d = dict(zip(names, f[0].round(2).tolist()))
    >>> d["peak_flux_r"], d["rise_days_g"], d["fall_days_g"], d["colour_g_r"]
    (2.0, 12.0, 12.0, 0.75)
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (N, L, M), got {x.shape}")
    n, length, m = x.shape
    bands = list(band_names)
    if len(bands) != m:
        raise ValueError(f"x has {m} bands but band_names has {len(bands)}: {bands}")
    start = np.asarray(time_start_mjd, dtype=np.float64)
    dt = (np.asarray(time_stop_mjd, dtype=np.float64) - start) / max(length - 1, 1)
    rows = np.arange(n)
    peak_idx = x.argmax(axis=1)  # (N, M) grid index of each band's peak
    peak = np.take_along_axis(x, peak_idx[:, None, :], axis=1)[:, 0, :]  # (N, M)
    # the reference time is the peak of the brightest band
    t_ref = peak_idx[rows, peak.argmax(axis=1)]  # (N,)
    at_peak = x[rows, t_ref, :]  # (N, M) every band at the reference peak
    steps_30 = np.round(DECLINE_DAYS / np.where(dt > 0, dt, np.inf)).astype(int)
    cols: list[np.ndarray] = []
    names: list[str] = []
    for b, band in enumerate(bands):
        flux = x[:, :, b]
        rise, fall = _half_max_times(flux, peak[:, b], peak_idx[:, b], dt)
        later = peak_idx[:, b] + steps_30
        inside = (later < length) & (peak[:, b] > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            decline = np.where(
                inside, flux[rows, np.minimum(later, length - 1)] / peak[:, b], np.nan
            )
        cols += [peak[:, b], (peak_idx[:, b] - t_ref) * dt, rise, fall, decline]
        names += [
            f"peak_flux_{band}",
            f"peak_time_days_{band}",
            f"rise_days_{band}",
            f"fall_days_{band}",
            f"decline_{int(DECLINE_DAYS)}d_{band}",
        ]
    for b in range(m - 1):
        blue, red = at_peak[:, b], at_peak[:, b + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            colour = np.where((blue > 0) & (red > 0), -2.5 * np.log10(blue / red), np.nan)
        cols.append(colour)
        names.append(f"colour_{bands[b]}_{bands[b + 1]}")
    for name, values in (
        ("log10_gp_amplitude", gp_amplitude),
        ("log10_gp_length_scale_days", gp_length_scale_days),
    ):
        if values is not None:
            v = np.asarray(values, dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                cols.append(np.where(v > 0, np.log10(v), np.nan))
            names.append(name)
    for name, values in (("redshift", redshift), ("redshift_err", redshift_err)):
        if values is not None:
            v = np.asarray(values, dtype=np.float64)
            cols.append(np.where(np.isfinite(v) & (v >= 0), v, np.nan))
            names.append(name)
    return np.column_stack(cols), names


class GradientBoostedBaseline:
    """Histogram gradient-boosted trees with the rounds chosen on a validation set.

    Parameters
    ----------
    max_iter : int, default 500
        Most boosting rounds.
    learning_rate : float, default 0.05
    max_leaf_nodes : int, default 31
    min_samples_leaf : int, default 20
    l2_regularization : float, default 0.0
    class_weight : {None, "balanced", "prior_shift"}, default None
        ``"balanced"`` weighs every class equally in the trees' loss (as
        ``balance: class_weights`` does for the networks) and chooses the
        number of rounds by the flat-weighted validation log-loss (seed 003
        eq. 3.20, every class counting the same); None: every object counts
        the same in both; ``"prior_shift"``: as None, then the training
        class frequencies are divided out of the probabilities (Bayes' rule
        for equally likely classes, as ``balance: prior_shift`` does for the
        networks).
    random_state : int, default 0

    Attributes
    ----------
    estimator_ : sklearn.ensemble.HistGradientBoostingClassifier
        Fitted on the training rows.
    n_iter_ : int
        Boosting rounds used for prediction: those with the lowest
        validation log-loss, or all of them without a validation set.
    classes_ : numpy.ndarray
        Class labels seen in ``fit``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3)); y = (X[:, 0] > 0).astype(int)
    >>> model = GradientBoostedBaseline(max_iter=50).fit(X[:300], y[:300],
    ...                                                  X_val=X[300:], y_val=y[300:])
    >>> bool((model.predict_proba(X[300:]).argmax(1) == y[300:]).mean() > 0.9)
    True
    """

    def __init__(
        self,
        *,
        max_iter: int = 500,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        class_weight: str | None = None,
        random_state: int = 0,
    ) -> None:
        if class_weight not in (None, "balanced", "prior_shift"):
            raise ValueError(
                f"class_weight must be None, 'balanced' or 'prior_shift', got {class_weight!r}"
            )
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> GradientBoostedBaseline:
        """Fit on ``(X, y)``; choose the number of rounds on ``(X_val, y_val)``.

        Returns
        -------
        GradientBoostedBaseline
            ``self``.
        """
        from sklearn.ensemble import HistGradientBoostingClassifier

        self.estimator_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            class_weight="balanced" if self.class_weight == "balanced" else None,
            early_stopping=False,
            random_state=self.random_state,
        ).fit(X, y)
        self.classes_ = self.estimator_.classes_
        self.prior_ = np.unique(np.asarray(y), return_counts=True)[1] / len(y)
        self.n_iter_ = int(self.estimator_.n_iter_)
        self.val_loss_ = None
        if X_val is not None and y_val is not None and len(y_val):
            self.n_iter_ = self._best_rounds(X_val, np.asarray(y_val))
        return self

    def _best_rounds(self, X_val: np.ndarray, y_val: np.ndarray) -> int:
        """Return the number of rounds with the lowest validation log-loss.

        Every object counts the same, or with ``class_weight="balanced"``
        every class (:func:`~skysift.evaluation.metrics.weighted_log_loss`,
        the flat-weighted metric); objects of classes unseen in training are
        left out.
        """
        from skysift.evaluation.metrics import weighted_log_loss

        index = {c: i for i, c in enumerate(self.classes_)}
        rows = np.array([index.get(v, -1) for v in y_val])
        ok = rows >= 0
        if not ok.any():
            return int(self.estimator_.n_iter_)
        y = rows[ok]
        staged = self.estimator_.staged_predict_proba(X_val)
        if self.class_weight == "balanced":
            losses = [weighted_log_loss(y, p[ok]) for p in staged]
        else:
            losses = [-np.mean(np.log(np.clip(p[ok, y], 1e-15, 1.0))) for p in staged]
        self.val_loss_ = float(np.min(losses))
        return int(np.argmin(losses)) + 1

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities after ``n_iter_`` rounds, shape (N, C).

        Raises
        ------
        NotFittedError
            Before :meth:`fit`.
        """
        if not hasattr(self, "estimator_"):
            raise NotFittedError(
                "GradientBoostedBaseline is not fitted; call fit(X, y) first"
            )
        p = None
        for i, staged in enumerate(self.estimator_.staged_predict_proba(X), start=1):
            if i == self.n_iter_:
                p = staged
                break
        if p is None:
            p = self.estimator_.predict_proba(X)
        if self.class_weight == "prior_shift":
            p = p / self.prior_
            p /= p.sum(axis=1, keepdims=True)
        return p


def _gp_band_names(pipeline_dict: Mapping[str, Any]) -> list[str]:
    """Band names of the ``gp`` step of a saved pipeline."""
    from skysift.preprocessing.pipeline import Pipeline

    pipeline = Pipeline.from_dict(dict(pipeline_dict))
    for step in pipeline.steps:
        if hasattr(step, "band_table"):
            return list(step.band_table())
    raise DataFormatError(
        "the baseline needs a prepared light-curve store made with a 'gp' step; "
        f"this store's pipeline has none: {pipeline_dict}"
    )


def train_baseline(
    store: str | os.PathLike,
    *,
    train_ids: Sequence[str],
    val_ids: Sequence[str],
    test_ids: Sequence[str],
    out: str | os.PathLike,
    use_redshift: bool = True,
    params: Mapping[str, Any] | None = None,
    binary_groups: Mapping[str, Sequence[str]] | None = None,
    title: str | None = None,
    exclude_features: Sequence[str] = (),
) -> dict[str, Any]:
    """Fit the baseline on a prepared GP store and evaluate it on the test ids.

    Parameters
    ----------
    store : path-like
        A prepared light-curve store (``skysift prepare`` with a ``gp``
        step); its ``label`` column is the target.
    train_ids, val_ids, test_ids : sequence of str
        The split, as object ids (the same lists the neural runs use).
    out : path-like
        Run directory to write (created).
    use_redshift : bool, default True
        Use ``redshift`` and ``redshift_err`` as features.
    params : mapping, optional
        Keyword arguments of :class:`GradientBoostedBaseline`.
    binary_groups : mapping, optional
        Binary views for the report (see
        :func:`skysift.evaluation.evaluate_classification`).
    title : str, optional
        Report title.
    exclude_features : sequence of str, default ()
        Feature names to leave out, as shell-style patterns (``rise_days_*``,
        ``colour_*``): an ablation showing what the trees rely on. A pattern
        matching no feature is an error.

    Returns
    -------
    dict
        ``run_dir``, ``report``, ``metrics`` (headline), ``n_iter``,
        ``n_train``, ``n_val``, ``n_test``, ``feature_names``, ``seconds``.

    Raises
    ------
    DataFormatError
        If the store is not a prepared GP store, or an id is missing.
    """
    import pandas as pd

    from skysift.evaluation import write_report
    from skysift.evaluation.evaluate import write_test_predictions
    from skysift.io.store import open_store

    t0 = time.perf_counter()
    st = open_store(store)
    attrs = st.info()["attrs"]
    if st.kind != "prepared" or "pipeline" not in attrs:
        raise DataFormatError(
            f"{st.path}: the baseline needs a prepared store (skysift prepare with a "
            f"'gp' step); this store holds {st.kind}"
        )
    bands = _gp_band_names(attrs["pipeline"])
    needed = ["label", "x", "gp_time_start", "gp_time_stop"]
    missing = [c for c in needed if c not in st.columns]
    if missing:
        raise DataFormatError(f"{st.path}: no column(s) {missing} for the baseline")
    optional = [
        c for c in ("gp_amplitude", "gp_length_scale_days", "redshift", "redshift_err")
        if c in st.columns
    ]
    table = st.read(["object_id", *needed, *optional]).to_pandas()
    index = pd.Index(table["object_id"].astype(str))
    shape = tuple(attrs.get("input_shape", ()))
    splits = {"train": train_ids, "val": val_ids, "test": test_ids}
    rows = {}
    for name, ids in splits.items():
        pos = index.get_indexer([str(i) for i in ids])
        if (pos < 0).any():
            bad = [str(i) for i, p in zip(ids, pos, strict=True) if p < 0][:5]
            raise DataFormatError(f"{st.path}: {name} id(s) not in the store: {bad}")
        rows[name] = pos
    x = np.stack(table["x"].to_numpy()).astype(np.float64).reshape((len(table), *shape))

    def col(name: str) -> np.ndarray | None:
        return table[name].to_numpy(dtype=np.float64) if name in table else None

    features, names = gp_features(
        x,
        time_start_mjd=col("gp_time_start"),
        time_stop_mjd=col("gp_time_stop"),
        band_names=bands,
        gp_amplitude=col("gp_amplitude"),
        gp_length_scale_days=col("gp_length_scale_days"),
        redshift=col("redshift") if use_redshift else None,
        redshift_err=col("redshift_err") if use_redshift else None,
    )
    if isinstance(exclude_features, str):
        exclude_features = [exclude_features]
    unmatched = [p for p in exclude_features if not fnmatch.filter(names, p)]
    if unmatched:
        raise ValueError(f"exclude_features {unmatched} match no feature; features: {names}")
    keep = [i for i, n in enumerate(names)
            if not any(fnmatch.fnmatchcase(n, p) for p in exclude_features)]
    features, names = features[:, keep], [names[i] for i in keep]
    labels = table["label"].astype(str).to_numpy()
    class_names = sorted(set(labels))
    lookup = {c: i for i, c in enumerate(class_names)}
    y = np.array([lookup[v] for v in labels], dtype=np.int64)
    model = GradientBoostedBaseline(**dict(params or {})).fit(
        features[rows["train"]],
        y[rows["train"]],
        X_val=features[rows["val"]],
        y_val=y[rows["val"]],
    )
    test = rows["test"]
    prob = np.zeros((len(test), len(class_names)))
    # classes absent from the training rows get probability 0
    prob[:, model.classes_] = model.predict_proba(features[test])
    run_dir = Path(out)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_test_predictions(run_dir / "test_predictions.parquet", index[test].to_numpy(), prob,
                           y[test], class_names=class_names)
    config = {
        "baseline": "hist_gradient_boosting",
        "store": str(st.path),
        "use_redshift": use_redshift,
        "params": dict(params or {}),
        "exclude_features": list(exclude_features),
        "n_iter": model.n_iter_,
        "val_loss": model.val_loss_,
        "features": names,
    }
    (run_dir / "baseline.json").write_text(json.dumps(config, indent=2))
    report = write_report(
        run_dir,
        y_true=y[test],
        y_prob=prob,
        class_names=class_names,
        title=title or f"GP-feature baseline on {Path(st.path).name}",
        config=config,
        binary_groups=dict(binary_groups) if binary_groups else None,
    )
    headline = json.loads((run_dir / "metrics.json").read_text()).get("headline", {})
    return {
        "run_dir": str(run_dir),
        "report": str(report),
        "metrics": headline,
        "n_iter": model.n_iter_,
        "n_train": len(rows["train"]),
        "n_val": len(rows["val"]),
        "n_test": len(test),
        "feature_names": names,
        "seconds": round(time.perf_counter() - t0, 1),
    }
