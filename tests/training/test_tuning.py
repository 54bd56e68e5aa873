import numpy as np
import pandas as pd
import pytest

from skysift.config import (
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    TuneConfig,
    load_config,
)
from skysift.data.synthetic import synthesize_store
from skysift.training import tuning
from skysift.training.run import load_run_data
from skysift.training.tuning import tune_run


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune")
    synthesize_store(root / "lines", "gaussian-lines", 150, num_classes=3, num_pixels=200, seed=0)
    return RunConfig(
        data=DataConfig(path=str(root / "lines")),
        model=ModelConfig(name="mlp", params={"hidden_dims": [16]}),
        train=TrainConfig(epochs=1, batch_size=32, accelerator="cpu"),
        tune=TuneConfig(
            trials=3,
            folds=2,
            space={
                "train.lr": {"low": 1e-4, "high": 1e-2, "log": True},
                "model.params.hidden_dims": {"choices": [[8], [16]]},
            },
        ),
        out=str(root / "run"),
    )


def test_tune_writes_trials_and_a_best_config_that_trains(config, monkeypatch):
    seen = []
    real = tuning._fold_score

    def spy(cfg, data, train, val):
        seen.append((train, val, data.splits["test"]))
        return real(cfg, data, train, val)

    monkeypatch.setattr(tuning, "_fold_score", spy)
    result = tune_run(config, progress=False)
    trials = pd.read_csv(result["trials_csv"])
    assert len(trials) == 3 and result["n_trials"] == 3
    assert trials["score"].is_monotonic_increasing  # sorted, best first
    assert result["best_score"] == pytest.approx(trials["score"].iloc[0])
    assert np.all(trials["train.lr"].between(1e-4, 1e-2))
    best = load_config(result["best_config"])
    assert best.train.lr == pytest.approx(result["best_params"]["train.lr"])
    assert best.model.params["hidden_dims"] == result["best_params"]["model.params.hidden_dims"]
    # 3 trials x 2 folds; the folds partition train+val and never touch test
    assert len(seen) == 6
    data = load_run_data(config)
    pool = set(np.concatenate([data.splits["train"], data.splits["val"]]))
    for train, val, test in seen[:2]:
        assert not set(train) & set(val)
        assert set(train) | set(val) == pool
        assert not (set(train) | set(val)) & set(test)


def test_empty_or_bad_space_is_a_clear_error(config):
    with pytest.raises(ValueError, match=r"tune\.space is empty"):
        tune_run(RunConfig(data=config.data, out=config.out), progress=False)
    bad = RunConfig(data=config.data, tune=TuneConfig(space={"train.lr": {"min": 1}}), out=config.out)
    with pytest.raises(ValueError, match=r"tune.space\['train.lr'\]"):
        tune_run(bad, trials=1, progress=False)
