"""Preparation steps and pipelines (SPEC B1-B9)."""

from skysift.preprocessing.normalize import (
    MinMaxScaler,
    Standardizer,
    WeightedStandardizer,
    min_max_scale,
    standardize,
    weighted_standardize,
)
from skysift.preprocessing.pipeline import (
    Pipeline,
    Step,
    batch_from_arrow,
    list_steps,
    load_pipeline,
    register_step,
)
from skysift.preprocessing.spectra import Regrid, regrid

__all__ = [
    "MinMaxScaler",
    "Pipeline",
    "Regrid",
    "Standardizer",
    "Step",
    "WeightedStandardizer",
    "batch_from_arrow",
    "list_steps",
    "load_pipeline",
    "min_max_scale",
    "register_step",
    "regrid",
    "standardize",
    "weighted_standardize",
]
