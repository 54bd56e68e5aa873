"""skysift export and skysift predict --engine onnx, through the command line."""

import numpy as np
import pandas as pd
import pytest
import torch

from skysift.cli.main import main
from skysift.data.synthetic import synthesize_store
from skysift.models import create_model
from skysift.preprocessing.pipeline import Pipeline, batch_from_arrow
from skysift.training.checkpoint import save_model


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """(store, run directory) with an untrained vgg1d over the seed-001 grid."""
    root = tmp_path_factory.mktemp("export")
    store = synthesize_store(root / "store", "halpha", 150, seed=1)
    pipe = Pipeline.from_config(
        {"kind": "spectra", "steps": [{"regrid": {"start_aa": 6519.0, "stop_aa": 6732.0, "num": 140}}, "standardize"]}
    )
    pipe.fit_transform(batch_from_arrow(store.read()))
    kwargs = {"num_classes": 3, "input_length": 140, "stage_channels": [8, 16, 16], "fc_dims": [32]}
    torch.manual_seed(0)
    model = create_model("vgg1d", **kwargs).eval()
    (root / "run").mkdir()
    save_model(
        root / "run" / "model.pt", model, model_name="vgg1d", model_kwargs=kwargs, pipeline=pipe,
        class_names=["absorption", "double-peak", "emission"], input_shape=(1, 140),
    )
    return store.path, root / "run"


def test_export_then_predict_with_either_engine(capsys, run_dir, tmp_path, monkeypatch):
    store, run_path = run_dir
    monkeypatch.setenv("SKYSIFT_CACHE_DIR", str(tmp_path / "cache"))
    onnx_path = tmp_path / "model.onnx"
    code, out, err = run(capsys, "export", run_path, "--format", "onnx", "--out", onnx_path)
    assert code == 0, err
    assert f"exported vgg1d to {onnx_path}" in out and "max |difference|" in out
    code, _, err = run(capsys, "export", run_path, "--out", onnx_path)
    assert code == 1 and "already exists" in err

    results = {}
    for name, argv in {
        "torch": [run_path],
        "onnx-file": [onnx_path],
        "onnx-run": [run_path, "--engine", "onnx"],
    }.items():
        out_path = tmp_path / f"{name}.parquet"
        code, out, err = run(capsys, "predict", *argv, "--data", store, "--out", out_path,
                             "--batch-size", "64", "--no-progress")
        assert code == 0, err
        assert "read 150 objects: 150 predicted, 0 rejected" in out
        assert f"engine {name.split('-')[0]}" in out
        results[name] = pd.read_parquet(out_path)
    assert list((tmp_path / "cache" / "onnx").glob("*.onnx"))  # exported on the fly
    ref = results["torch"]
    for name in ("onnx-file", "onnx-run"):
        got = results[name]
        assert (got.object_id == ref.object_id).all()
        np.testing.assert_allclose(got.filter(like="prob_"), ref.filter(like="prob_"), atol=1e-4)


def test_export_int8(capsys, run_dir, tmp_path):
    store, run_path = run_dir
    code, out, err = run(capsys, "export", run_path, "--out", tmp_path / "q.onnx", "--quantize", "int8",
                         "--calibration", store, "--calibration-size", "100")
    assert code == 0, err
    assert "int8 vs float on 100 calibration objects" in out and "top class agrees" in out
    code, _, err = run(capsys, "export", run_path, "--out", tmp_path / "r.onnx", "--quantize", "int8")
    assert code == 1 and "needs calibration data" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", "{tmp}", "--out", "{tmp}/m.onnx"], "no such model file"),
        (["export", "{tmp}/junk.pt", "--out", "{tmp}/m.onnx"], "junk.pt: not a readable skysift model"),
        (["predict", "{tmp}/junk.onnx", "--data", "{store}", "--out", "{tmp}/p.parquet"],
         "junk.onnx: not a readable ONNX model"),
        (["predict", "{run}", "--data", "{tmp}", "--out", "{tmp}/p.parquet"], "_skysift.json"),
        (["predict", "{run}", "--data", "{store}", "--out", "{tmp}/p.parquet", "--device", "tpu"],
         "device must be 'cpu' or 'cuda'"),
    ],
)
def test_bad_files_are_named(capsys, run_dir, tmp_path, argv, message):
    store, run_path = run_dir
    (tmp_path / "junk.pt").write_bytes(b"junk")
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    argv = [a.replace("{store}", str(store)).replace("{tmp}", str(tmp_path)).replace("{run}", str(run_path)) for a in argv]
    code, _, err = run(capsys, *argv)
    assert code == 1
    assert message in err
