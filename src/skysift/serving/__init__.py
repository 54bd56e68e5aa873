"""Sifting at scale: batch prediction over stores, ONNX and Spark engines, galleries.

Importing this package is light: torch, onnxruntime and pyspark are imported
only by the functions that need them.
"""

from skysift.serving.batch import (
    ENGINES,
    check_model_store,
    predict_store,
    prepare_records,
)
from skysift.serving.gallery import (
    read_predictions,
    select_candidates,
    write_gallery,
)
from skysift.serving.onnx_engine import OnnxModel, load_onnx_model
from skysift.serving.spark import find_java, predict_spark

__all__ = [
    "ENGINES",
    "OnnxModel",
    "check_model_store",
    "find_java",
    "load_onnx_model",
    "predict_spark",
    "predict_store",
    "prepare_records",
    "read_predictions",
    "select_candidates",
    "write_gallery",
]
