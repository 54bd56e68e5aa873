"""Per-object extra features for the models' ``extra`` input (seed 003 sec. 3.4.3).

Seed 003 feeds ``atx`` and ``t2`` the photometric redshift z and its error
beside the interpolated light curve; :class:`ExtraFeatures` takes any such
scalar columns of a batch (``redshift`` and ``redshift_err`` by default) and
puts them, as float32, into ``extra`` (N, R).

Missing values
--------------
A value is missing when it is NaN (a null in the store), infinite, or one of
``missing_values`` (e.g. SNANA's ``-9``). What happens then is the
``missing`` parameter:

* ``"constant"`` (default): replaced by ``fill_value`` (default -1, outside
  the range of a redshift or its error, so a model can tell it apart from
  z = 0, which PLAsTiCC uses for galactic objects);
* ``"median"``: replaced by the column's median over the *training* batch
  (learned in :meth:`~ExtraFeatures.fit`, saved with the pipeline);
* ``"reject"``: left as NaN, so that the pipeline drops the object and
  lists it in the rejected objects (``skysift prepare`` writes them to
  ``_rejected.csv``);
* ``"error"``: :class:`~skysift.exceptions.DataFormatError` naming the
  objects.

A feature may also be the difference of two columns, declared in
``differences`` as ``name: [a, b]`` (``a - b``) and then used by ``name`` in
``columns`` (and ``log10``): e.g. the span in days of the ``gp`` step's
grid, ``gp_span_days: [gp_time_stop, gp_time_start]``, which tells a model
that sees ``L`` grid steps how many days they cover.

Columns named in ``log10`` enter as their base-10 logarithm (for scales
that span decades, such as the GP's fitted length scale in days or its
amplitude); a value <= 0 there has no logarithm and counts as missing.

With ``add_indicator=True`` each column gets a 0/1 companion feature
``<column>_missing``, so the model sees which values were filled. The number
of features R is fixed by the parameters, never by the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from skysift.exceptions import DataFormatError
from skysift.preprocessing.pipeline import Batch, Step, register_step

__all__ = ["ExtraFeatures"]

_STRATEGIES = ("constant", "median", "reject", "error")


@register_step("extra_features")
class ExtraFeatures(Step):
    """Put per-object scalar columns (redshift, its error) into ``extra`` (N, R).

    Parameters
    ----------
    columns : sequence of str, default ("redshift", "redshift_err")
        Batch columns to use, in order.
    missing : {"constant", "median", "reject", "error"}, default "constant"
        What to do with missing values (see the module docstring).
    fill_value : float, default -1.0
        Replacement for ``missing="constant"``, and for ``"median"`` when a
        column has no value at all in the training batch.
    missing_values : sequence of float, default ()
        Values that mean "missing" besides NaN and infinities.
    add_indicator : bool, default False
        Append a 0/1 feature per column that is 1 where the value was missing.
    log10 : sequence of str, default ()
        Columns (among ``columns``) used as ``log10(value)``; values <= 0
        count as missing.
    differences : mapping of str to [str, str], default {}
        Derived columns ``name: [a, b]`` with the value ``a - b``, usable by
        name in ``columns``; missing where ``a`` or ``b`` is not finite.

    Attributes
    ----------
    fill_values_ : numpy.ndarray, shape (len(columns),)
        The replacement used for each column (learned by :meth:`fit`).
    feature_names_ : list of str
        Names of the R features in ``extra``.

    Examples
    --------
    >>> import numpy as np
    >>> batch = {"redshift": np.array([0.1, np.nan, 0.5]),
    ...          "redshift_err": np.array([0.01, np.nan, 0.02])}
    >>> step = ExtraFeatures(missing="median", add_indicator=True).fit(batch)
    >>> step.feature_names_
    ['redshift', 'redshift_err', 'redshift_missing', 'redshift_err_missing']
    >>> step.transform(batch)["extra"][1].astype(float).round(3).tolist()
    [0.3, 0.015, 1.0, 1.0]
    """

    stateful = True
    kinds = ("lightcurves",)

    def __init__(
        self,
        *,
        columns: Sequence[str] = ("redshift", "redshift_err"),
        missing: str = "constant",
        fill_value: float = -1.0,
        missing_values: Sequence[float] = (),
        add_indicator: bool = False,
        log10: Sequence[str] = (),
        differences: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.columns = columns
        self.missing = missing
        self.fill_value = fill_value
        self.missing_values = missing_values
        self.add_indicator = add_indicator
        self.log10 = log10
        self.differences = differences

    def _check_params(self) -> list[str]:
        if isinstance(self.columns, str) or not len(self.columns):
            raise ValueError(
                f"extra_features: columns must be a non-empty list of column "
                f"names, got {self.columns!r}"
            )
        if self.missing not in _STRATEGIES:
            raise ValueError(
                f"extra_features: missing must be one of {_STRATEGIES}, got "
                f"{self.missing!r}"
            )
        if not np.isfinite(self.fill_value):
            raise ValueError(
                f"extra_features: fill_value must be finite, got {self.fill_value!r}"
            )
        columns = [str(c) for c in self.columns]
        if isinstance(self.log10, str):
            raise ValueError(
                f"extra_features: log10 must be a list of column names, got {self.log10!r}"
            )
        for name, pair in (self.differences or {}).items():
            if isinstance(pair, str) or len(pair) != 2:
                raise ValueError(
                    f"extra_features: differences[{name!r}] must be two column names "
                    f"[a, b] (the feature is a - b), got {pair!r}"
                )
        unknown = [c for c in self.log10 if str(c) not in columns]
        if unknown:
            raise ValueError(
                f"extra_features: log10 names {unknown}, which are not among "
                f"columns {columns}"
            )
        return columns

    def _values(
        self, batch: Batch, columns: list[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the (N, C) float64 values and the (N, C) mask of missing ones."""
        differences = {str(k): [str(c) for c in v] for k, v in (self.differences or {}).items()}
        needed = [c for name in columns for c in differences.get(name, [name])]
        absent = [c for c in dict.fromkeys(needed) if c not in batch]
        if absent:
            raise DataFormatError(
                f"extra_features: the batch has no column(s) {absent}; columns "
                f"present: {sorted(batch)}"
            )

        def numeric(c: str) -> np.ndarray:
            col = np.asarray(batch[c])
            if col.ndim != 1:
                raise DataFormatError(
                    f"extra_features: column {c!r} must hold one value per "
                    f"object, got shape {col.shape}"
                )
            try:
                # None (a null in an object column) becomes NaN.
                values = np.array(
                    [np.nan if v is None else v for v in col]
                    if col.dtype == object
                    else col,
                    dtype=np.float64,
                )
            except (TypeError, ValueError) as e:
                raise DataFormatError(
                    f"extra_features: column {c!r} is not numeric ({e})"
                ) from e
            return values

        out = []
        for c in columns:
            if c in differences:
                a, b = differences[c]
                out.append(numeric(a) - numeric(b))
            else:
                out.append(numeric(c))
        values = np.stack(out, axis=1) if out else np.zeros((0, 0))
        missing = ~np.isfinite(values)
        for sentinel in self.missing_values:
            missing |= values == float(sentinel)
        logged = np.isin(columns, [str(c) for c in self.log10])
        if logged.any():
            missing[:, logged] |= ~(values[:, logged] > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                values[:, logged] = np.log10(values[:, logged])
        return values, missing

    def fit(self, batch: Batch) -> ExtraFeatures:
        """Learn the replacement values from the training batch.

        Raises
        ------
        DataFormatError
            If a column is absent or not numeric.
        ValueError
            For invalid parameters.
        """
        columns = self._check_params()
        values, missing = self._values(batch, columns)
        fill = np.full(len(columns), float(self.fill_value))
        if self.missing == "median":
            for j in range(len(columns)):
                present = values[~missing[:, j], j]
                if present.size:
                    fill[j] = float(np.median(present))
        self.fill_values_ = fill
        self.feature_names_ = columns + (
            [f"{c}_missing" for c in columns] if self.add_indicator else []
        )
        return self

    def transform(self, batch: Batch) -> Batch:
        """Return the batch with the features appended to ``extra`` (N, R) float32.

        Raises
        ------
        NotFittedError
            If the step was not fitted.
        DataFormatError
            If a column is absent, or values are missing and ``missing`` is
            ``"error"``.
        """
        self.check_is_fitted()
        columns = self._check_params()
        values, missing = self._values(batch, columns)
        if self.missing == "error" and missing.any():
            rows = np.flatnonzero(missing.any(axis=1))
            ids = np.asarray(batch.get("object_id", np.arange(len(values))))
            raise DataFormatError(
                f"extra_features: {len(rows)} object(s) miss a value of "
                f"{columns} (e.g. {ids[rows[:5]].tolist()}); choose "
                "missing='constant', 'median' or 'reject'"
            )
        if self.missing == "reject":
            values = np.where(missing, np.nan, values)
        else:
            values = np.where(missing, np.asarray(self.fill_values_)[None, :], values)
        if self.add_indicator:
            values = np.concatenate([values, missing.astype(np.float64)], axis=1)
        extra = values.astype(np.float32)
        if "extra" in batch:
            extra = np.concatenate(
                [np.asarray(batch["extra"], dtype=np.float32), extra], axis=1
            )
        return {**batch, "extra": extra}
