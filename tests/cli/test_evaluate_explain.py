import json

import pandas as pd
import pytest

from skysift.cli.main import main
from skysift.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from skysift.data.synthetic import synthesize_store
from skysift.evaluation import accuracy_score
from skysift.training.run import train_run


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("ev")
    store = root / "lines"
    synthesize_store(store, "gaussian-lines", 240, num_classes=3, num_pixels=400, seed=0)
    test_store = root / "lines-test"
    synthesize_store(test_store, "gaussian-lines", 90, num_classes=3, num_pixels=400, seed=5)
    cfg = RunConfig(
        data=DataConfig(path=str(store)),
        model=ModelConfig(name="cnn2d"),
        train=TrainConfig(epochs=2, batch_size=32, accelerator="cpu"),
        prepare={"kind": "spectra", "steps": [{"regrid": {"start_aa": 3600.0, "stop_aa": 9800.0, "num": 256}}, "standardize"]},
        out=str(root / "run"),
    )
    train_run(cfg, progress=False)
    return root


def test_evaluate_writes_report_and_metrics_that_match_predictions(capsys, trained, tmp_path):
    out = tmp_path / "eval"
    code, stdout, err = run(
        capsys, "evaluate", trained / "run", "--data", trained / "lines-test", "--out", out,
        "--binary", "first=class_0", "--cut", "0.5",
    )
    assert code == 0, err
    assert "Accuracy" in stdout and "evaluated 90 of 90 objects" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    pred = pd.read_parquet(out / "predictions.parquet")
    truth = pd.read_parquet(trained / "lines-test", columns=["object_id", "label"])
    merged = pred.merge(truth, on="object_id")
    y_true = merged["label"].map({"class_0": 0, "class_1": 1, "class_2": 2}).to_numpy()
    y_prob = merged[["prob_class_0", "prob_class_1", "prob_class_2"]].to_numpy()
    assert metrics["headline"]["accuracy"] == pytest.approx(accuracy_score(y_true, y_prob))
    assert "first_roc_auc" in metrics["headline"]
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 5


def test_evaluate_excludes_unknown_classes_with_reasons(capsys, trained, tmp_path):
    other = tmp_path / "other"
    synthesize_store(other, "gaussian-lines", 40, num_classes=4, num_pixels=400, seed=9)
    out = tmp_path / "eval"
    code, stdout, err = run(capsys, "evaluate", trained / "run", "--data", other, "--out", out)
    assert code == 0, err
    excluded = pd.read_csv(out / "excluded.csv")
    assert set(excluded["reason"]) == {"class 'class_3' unknown to the model"}
    n_ex = len(excluded)
    assert f"evaluated {40 - n_ex} of 40 objects; {n_ex} excluded" in stdout


def test_explain_draws_cams(capsys, trained, tmp_path):
    code, stdout, err = run(
        capsys, "explain", trained / "run", "--data", trained / "lines", "--ids",
        "lines-00000001,lines-00000007", "--out", tmp_path, "--target", "class_1",
    )
    assert code == 0, err
    assert stdout.count("class activation map ->") == 2
    for oid in ("lines-00000001", "lines-00000007"):
        png = tmp_path / f"{oid}_cam.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = run(capsys, "explain", trained / "run", "--data", trained / "lines", "--ids", "nope", "--out", tmp_path)
    assert code == 1 and "nope" in err
    code, _, err = run(
        capsys, "explain", trained / "run", "--data", trained / "lines", "--ids", "lines-00000001",
        "--out", tmp_path, "--target", "class_9",
    )
    assert code == 1 and "class_9" in err and "class_0" in err


def test_explain_refuses_a_model_without_gap_or_attention(capsys, tmp_path, trained):
    cfg = RunConfig(
        data=DataConfig(path=str(trained / "lines")),
        model=ModelConfig(name="mlp", params={"hidden_dims": [16]}),
        train=TrainConfig(epochs=1, batch_size=32, accelerator="cpu"),
        prepare={"kind": "spectra", "steps": [{"regrid": {"start_aa": 3600.0, "stop_aa": 9800.0, "num": 64}}]},
        out=str(tmp_path / "mlp"),
    )
    train_run(cfg, progress=False)
    code, _, err = run(capsys, "explain", tmp_path / "mlp", "--data", trained / "lines", "--ids", "lines-00000001", "--out", tmp_path)
    assert code == 1 and "cannot explain mlp" in err
