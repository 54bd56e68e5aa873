"""End-to-end training runs on tiny synthetic stores (CPU, seconds)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from skysift.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from skysift.data.synthetic import synthesize_store
from skysift.exceptions import DataFormatError
from skysift.serving.batch import predict_store
from skysift.training import load_model
from skysift.training.run import train_run

PREPARE = {
    "kind": "spectra",
    "steps": [{"regrid": {"start_aa": 3600.0, "stop_aa": 9800.0, "num": 200}}, "standardize"],
}
SMALL_MLP = ModelConfig(name="mlp", params={"hidden_dims": [64, 64], "drop_rate": 0.1})


@pytest.fixture(scope="module")
def lines_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "lines"
    synthesize_store(
        path, "gaussian-lines", 600, snr=10.0, num_classes=3, num_pixels=800, seed=0
    )
    return path


def make_config(store, out, **train):
    return RunConfig(
        data=DataConfig(path=str(store)),
        model=SMALL_MLP,
        train=TrainConfig(**{"epochs": 6, "batch_size": 32, "lr": 2e-3, "accelerator": "cpu", **train}),
        prepare=PREPARE,
        out=str(out),
    )


@pytest.fixture(scope="module")
def finished_run(lines_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    return train_run(make_config(lines_store, out, epochs=15), progress=False)


def test_run_directory_holds_everything(finished_run):
    run = finished_run
    d = __import__("pathlib").Path(run["run_dir"])
    for name in ["config.yaml", "metrics.csv", "training_curve.png", "model.pt",
                 "report.html", "metrics.json", "test_predictions.parquet",
                 "checkpoints/best.ckpt", "checkpoints/last.ckpt"]:
        assert (d / name).exists(), name
    history = pd.read_csv(d / "metrics.csv")
    assert list(history["epoch"]) == list(range(run["epochs"]))
    assert {"train_loss", "val_loss", "train_acc", "val_acc", "lr"} <= set(history.columns)
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    assert run["n_train"] + run["n_val"] + run["n_test"] == 600
    assert run["n_test"] == 120
    saved = yaml.safe_load((d / "config.yaml").read_text())
    assert saved["model"]["name"] == "mlp" and saved["prepare"] == PREPARE
    metrics = json.loads((d / "metrics.json").read_text())
    assert metrics["headline"]["accuracy"] == pytest.approx(run["metrics"]["accuracy"])
    # the Lightning checkpoint carries the pipeline and class names
    ckpt = torch.load(d / "checkpoints/best.ckpt", weights_only=False)
    assert ckpt["skysift"]["class_names"] == ["class_0", "class_1", "class_2"]
    assert ckpt["skysift"]["pipeline"]["steps"][0]["step"] == "regrid"


def test_model_learns_far_above_chance(finished_run):
    # S/N 10 Gaussian lines are separable (seed 000); chance is 1/3
    assert finished_run["metrics"]["accuracy"] >= 0.95


def test_model_file_round_trip_repeats_preparation_and_predictions(finished_run, lines_store, tmp_path):
    loaded = load_model(finished_run["run_dir"])
    assert loaded.class_names == ["class_0", "class_1", "class_2"]
    assert loaded.input_shape == (1, 200)
    test_pred = pd.read_parquet(__import__("pathlib").Path(finished_run["run_dir"]) / "test_predictions.parquet")
    out = tmp_path / "p.parquet"
    summary = predict_store(loaded, lines_store, out)
    assert summary["n_in"] == summary["n_out"] == 600 and summary["n_rejected"] == 0
    pred = pd.read_parquet(out).set_index("object_id").loc[test_pred["object_id"]]
    np.testing.assert_allclose(
        pred["prob_class_1"].to_numpy(), test_pred["prob_class_1"].to_numpy(), rtol=1e-5, atol=1e-6
    )
    assert (pred["pred_class"].to_numpy() == test_pred["pred_class"].to_numpy()).all()


def test_resume_at_epoch_boundary_gives_the_same_weights(lines_store, tmp_path):
    full = train_run(make_config(lines_store, tmp_path / "full", epochs=4, patience=50), progress=False)
    part_dir = tmp_path / "part"
    train_run(make_config(lines_store, part_dir, epochs=2, patience=50), progress=False)
    # the run is "interrupted" after 2 epochs: raise its budget and resume
    cfg = yaml.safe_load((part_dir / "config.yaml").read_text())
    cfg["train"]["epochs"] = 4
    (part_dir / "config.yaml").write_text(yaml.safe_dump(cfg))
    (part_dir / "model.pt").unlink()
    resumed = train_run(RunConfig(out=str(part_dir)), resume=True, progress=False)
    assert resumed["epochs"] == full["epochs"] == 4
    a = torch.load(tmp_path / "full" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    b = torch.load(part_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    history = pd.read_csv(part_dir / "metrics.csv")
    assert list(history["epoch"]) == [0, 1, 2, 3]  # no duplicated rows


def test_existing_run_is_not_overwritten_silently(finished_run, lines_store):
    with pytest.raises(FileExistsError, match=r"already holds a run.*--resume"):
        train_run(make_config(lines_store, finished_run["run_dir"]), progress=False)


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no checkpoints/last\.ckpt"):
        train_run(RunConfig(out=str(tmp_path)), resume=True)


def test_unlabelled_objects_are_counted_not_lost(tmp_path, lines_store):
    from skysift.io.store import open_store, write_store
    from skysift.preprocessing.pipeline import batch_from_arrow

    table = open_store(lines_store).read()
    cols = batch_from_arrow(table)
    cols["label"] = np.where(np.arange(600) < 30, None, cols["label"])
    path = write_store(tmp_path / "partly", cols, kind="spectra").path
    run = train_run(make_config(path, tmp_path / "run", epochs=1), progress=False)
    assert run["n_rejected"] == 30
    assert run["n_train"] + run["n_val"] + run["n_test"] == 570
    rejected = pd.read_csv(tmp_path / "run" / "rejected.csv")
    assert len(rejected) == 30 and set(rejected["reason"]) == {"no label"}


def test_single_class_store_is_refused(tmp_path):
    path = tmp_path / "one"
    synthesize_store(path, "gaussian-lines", 20, num_classes=2, num_pixels=100, class_weights=[1.0, 0.0])
    with pytest.raises(DataFormatError, match="at least two classes"):
        train_run(make_config(path, tmp_path / "run"), progress=False)


def test_regressor_on_a_classifier_target_is_refused(lines_store, tmp_path):
    cfg = make_config(lines_store, tmp_path / "r")
    cfg = RunConfig(data=cfg.data, model=ModelConfig(name="cnn1d_strided_regressor"),
                    train=cfg.train, prepare=cfg.prepare, out=cfg.out)
    with pytest.raises(Exception, match=r"regressor; set data\.target"):
        train_run(cfg, progress=False)


@pytest.mark.parametrize("mode", ["class_weights", "smote"])
def test_balancing_touches_only_the_training_split(tmp_path, mode):
    from skysift.config import apply_overrides
    from skysift.training.run import _balance, load_run_data

    path = tmp_path / "imbalanced"
    synthesize_store(
        path, "gaussian-lines", 300, num_classes=3, num_pixels=400, class_weights=[0.7, 0.2, 0.1], seed=1
    )
    cfg = apply_overrides(make_config(path, tmp_path / "run"), [f"train.balance={mode}"])
    data = load_run_data(cfg)
    train = data.splits["train"]
    x, extra, y, weights = _balance(data, cfg, train)
    assert len(extra) == len(y)
    counts = np.bincount(data.y[train], minlength=3)
    if mode == "smote":
        assert weights is None
        assert np.all(np.bincount(y) == counts.max())
        # the original training rows come first, unchanged
        np.testing.assert_array_equal(x[: len(train)], data.x[train])
    else:
        np.testing.assert_allclose(weights, len(train) / (3 * counts))
        assert len(y) == len(train)
    # validation and test rows are never resampled
    assert len(data.splits["val"]) + len(data.splits["test"]) + len(train) == 300
    run = train_run(apply_overrides(cfg, ["train.epochs=1"]), progress=False)
    assert run["n_train"] == len(train)


def test_shift_to_flat_prior_is_bayes_rule():
    # p'(c|x) = p(c|x) / pi_c, renormalised: what adding -log(pi) to the logits must give
    from skysift.models import create_model
    from skysift.training.run import predict_arrays, shift_to_flat_prior

    torch.manual_seed(0)
    model = create_model("mlp", num_classes=3, input_length=20, hidden_dims=[8]).eval()
    x = np.random.default_rng(0).normal(size=(50, 1, 20)).astype(np.float32)
    extra = np.zeros((50, 0), np.float32)
    before = predict_arrays(model, x, extra)
    y_train = np.array([0] * 70 + [1] * 20 + [2] * 10)
    prior = shift_to_flat_prior(model, y_train, 3)
    np.testing.assert_allclose(prior, [0.7, 0.2, 0.1])
    expected = before / np.array(prior)
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(predict_arrays(model, x, extra), expected, rtol=1e-5)
    with pytest.raises(Exception, match="no training object"):
        shift_to_flat_prior(model, np.array([0, 0, 1]), 3)


def test_prior_shift_run_saves_the_shifted_model(tmp_path):
    path = tmp_path / "imbalanced"
    synthesize_store(
        path, "gaussian-lines", 300, num_classes=3, num_pixels=400, class_weights=[0.7, 0.2, 0.1], seed=1
    )
    plain = train_run(make_config(path, tmp_path / "plain", epochs=2), progress=False)
    shifted = train_run(make_config(path, tmp_path / "shift", epochs=2, balance="prior_shift"),
                        progress=False)
    loaded = load_model(shifted["model_path"])
    prior = np.array(loaded.metadata["prior_shift"])
    assert prior.argmax() == 0 and abs(prior.sum() - 1) < 1e-9
    # same seed, same unweighted training: the two differ only by the prior divided out
    p0 = pd.read_parquet(tmp_path / "plain" / "test_predictions.parquet")
    p1 = pd.read_parquet(tmp_path / "shift" / "test_predictions.parquet")
    cols = [c for c in p0 if c.startswith("prob_")]
    expected = p0[cols].to_numpy() / prior
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(p1[cols].to_numpy(), expected, rtol=1e-4, atol=1e-7)
    assert plain["n_test"] == shifted["n_test"]


def test_cosine_schedule_follows_the_formula(lines_store, tmp_path):
    epochs, lr = 4, 2e-3
    train_run(make_config(lines_store, tmp_path / "cos", epochs=epochs, lr=lr,
                          lr_schedule="cosine", patience=epochs), progress=False)
    history = pd.read_csv(tmp_path / "cos" / "metrics.csv")
    expected = lr * (1 + np.cos(np.pi * np.arange(epochs) / epochs)) / 2
    np.testing.assert_allclose(history["lr"].to_numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="lr_schedule"):
        train_run(make_config(lines_store, tmp_path / "bad", lr_schedule="linear"), progress=False)


def test_input_noise_touches_training_steps_only():
    from skysift.models import create_model
    from skysift.training.task import SkysiftTask

    torch.manual_seed(0)
    model = create_model("mlp", num_classes=2, input_length=16, hidden_dims=[8]).eval()
    seen = []
    original = model.forward
    model.forward = lambda x, extra=None: (seen.append(x.clone()), original(x, extra))[1]
    task = SkysiftTask(model, input_noise=0.5)
    task.log = lambda *a, **k: None
    x = torch.zeros(400, 1, 16)
    batch = (x, torch.zeros(400, 0), torch.zeros(400, dtype=torch.long))
    task.training_step(batch, 0)
    task.validation_step(batch, 0)
    assert abs(float(seen[0].std()) - 0.5) < 0.02  # N(0, 0.5^2) added in training
    assert torch.equal(seen[1], x)  # validation sees the clean input
    with pytest.raises(ValueError, match="input_noise"):
        SkysiftTask(model, input_noise=-1.0)
