import json

import pandas as pd
import pytest

from skysift.cli.main import main
from skysift.data.synthetic import synthesize_store


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("d") / "lines"
    synthesize_store(path, "gaussian-lines", 240, num_classes=3, num_pixels=300, seed=0)
    return path


def test_models_lists_registry_with_parameter_counts(capsys):
    from skysift.models import create_model, list_models

    code, out, _ = run(capsys, "models")
    assert code == 0
    for name in list_models():
        assert name in out
    assert f"{create_model('t2').num_parameters():,}" in out
    code, out, _ = run(capsys, "models", "t2", "--json", "--input-length", "50", "--in-channels", "2")
    rows = json.loads(out)
    assert rows[0]["input_shape"] == [50, 2]
    assert rows[0]["parameters"] == create_model("t2", input_length=50, in_channels=2).num_parameters()
    code, _, err = run(capsys, "models", "nothing*")
    assert code == 1 and "no registered model matches" in err


def test_train_then_predict(capsys, store, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = run(
        capsys, "train", "--data", store, "--model", "mlp", "--epochs", "2", "--batch-size", "32",
        "--set", "model.params.hidden_dims=[32]", "--out", out, "--no-progress",
    )
    assert code == 0, err
    assert "test split (48 objects): accuracy" in stdout and str(out) in stdout
    assert (out / "model.pt").exists()
    code, _, err = run(capsys, "train", "--data", store, "--model", "mlp", "--out", out, "--no-progress")
    assert code == 1 and "already holds a run" in err
    pred = tmp_path / "p.parquet"
    code, stdout, err = run(capsys, "predict", out, "--data", store, "--out", pred)
    assert code == 0, err
    assert "read 240 objects: 240 predicted, 0 rejected" in stdout
    df = pd.read_parquet(pred)
    assert list(df.columns) == [
        "object_id", "prob_class_0", "prob_class_1", "prob_class_2", "pred_class", "pred_prob"
    ]
    assert ((df.filter(like="prob_class").sum(axis=1) - 1).abs() < 1e-5).all()
    code, _, err = run(capsys, "predict", out, "--data", store, "--out", pred)
    assert code == 1 and "already exists" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--model", "mlp"], "no data"),
        (["train", "--data", "{tmp}/nope", "--model", "mlp"], "nope: no such file or directory"),
        (["train", "--data", "{store}", "--model", "vgg", "--out", "{tmp}/r"], "unknown model 'vgg'"),
        (["train", "--data", "{store}", "--set", "train.lrr=1", "--out", "{tmp}/r"], "did you mean 'lr'"),
        (["train", "--data", "{tmp}", "--out", "{tmp}/r"], "_skysift.json"),
        (["predict", "{tmp}", "--data", "{store}", "--out", "{tmp}/p.parquet"], "no such model file"),
    ],
)
def test_bad_arguments_are_readable(capsys, store, tmp_path, argv, message):
    argv = [a.replace("{store}", str(store)).replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = run(capsys, *argv)
    assert code != 0
    assert message in err


def test_ensemble_of_two_runs_predicts_their_mean_with_either_engine(capsys, store, tmp_path):
    runs = []
    for seed in (1, 2):
        out = tmp_path / f"run{seed}"
        code, _, err = run(
            capsys, "train", "--data", store, "--model", "mlp", "--epochs", "2", "--batch-size", "32",
            "--set", "model.params.hidden_dims=[16]", "--set", f"train.seed={seed}",
            "--set", "data.split_seed=0", "--out", out, "--no-progress",
        )
        assert code == 0, err
        runs.append(out)
    code, stdout, err = run(capsys, "ensemble", *runs, "--out", tmp_path / "mean")
    assert code == 0, err
    assert "mean of 2 classification models" in stdout and "class_0, class_1, class_2" in stdout
    # both members were tested on one split: their mean test predictions sit beside the model
    tests = [pd.read_parquet(r / "test_predictions.parquet").sort_values("object_id") for r in runs]
    mean_test = pd.read_parquet(tmp_path / "mean" / "test_predictions.parquet")
    cols = ["prob_class_0", "prob_class_1", "prob_class_2"]
    assert list(mean_test["object_id"]) == sorted(tests[0]["object_id"])
    assert abs(mean_test[cols].to_numpy() - (tests[0][cols].to_numpy() + tests[1][cols].to_numpy()) / 2
               ).max() < 1e-12
    assert f"averaged into {tmp_path / 'mean' / 'test_predictions.parquet'}" in stdout
    code, stdout, err = run(capsys, "compare", runs[0], tmp_path / "mean", "--n-boot", "100")
    assert code == 0, err
    assert str(tmp_path / "mean") in stdout
    code, _, err = run(capsys, "ensemble", *runs, "--out", tmp_path / "mean")
    assert code == 1 and "already exists" in err
    probs = {}
    for name, model in [("a", runs[0]), ("b", runs[1]), ("mean", tmp_path / "mean")]:  # all objects
        code, _, err = run(capsys, "predict", model, "--data", store,
                           "--out", tmp_path / f"{name}.parquet")
        assert code == 0, err
        probs[name] = pd.read_parquet(tmp_path / f"{name}.parquet").sort_values("object_id")
    cols = ["prob_class_0", "prob_class_1", "prob_class_2"]
    a, b = probs["a"][cols].to_numpy(), probs["b"][cols].to_numpy()
    assert abs(a - b).max() > 1e-3  # two seeds: two models
    assert abs(probs["mean"][cols].to_numpy() - (a + b) / 2).max() < 1e-6
    # exported to ONNX and run by onnxruntime: the same mean
    code, _, err = run(capsys, "export", tmp_path / "mean", "--out", tmp_path / "mean.onnx")
    assert code == 0, err
    code, _, err = run(capsys, "predict", tmp_path / "mean.onnx", "--data", store,
                       "--out", tmp_path / "onnx.parquet")
    assert code == 0, err
    onnx = pd.read_parquet(tmp_path / "onnx.parquet").sort_values("object_id")
    assert abs(onnx[cols].to_numpy() - (a + b) / 2).max() < 1e-4
    code, stdout, _ = run(capsys, "info", tmp_path / "mean")
    assert "ensemble" in stdout and str(runs[0].resolve() / "model.pt") in stdout
