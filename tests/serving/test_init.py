"""The serving package's public API, and that importing it stays light."""

import subprocess
import sys

import skysift.serving as serving
from skysift.serving import batch, onnx_engine, spark


def test_public_api_is_the_modules_functions():
    for name in serving.__all__:
        assert getattr(serving, name) is not None, name
    assert serving.predict_store is batch.predict_store
    assert serving.predict_spark is spark.predict_spark
    assert serving.load_onnx_model is onnx_engine.load_onnx_model
    assert serving.OnnxModel is onnx_engine.OnnxModel


def test_import_does_not_load_the_engines():
    code = (
        "import sys, skysift.serving; "
        "print(' '.join(m for m in ('torch', 'onnxruntime', 'pyspark', 'matplotlib') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
