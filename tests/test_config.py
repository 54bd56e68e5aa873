import pytest

from skysift.config import (
    RunConfig,
    apply_overrides,
    config_from_dict,
    load_config,
    save_config,
)


def test_yaml_round_trip(tmp_path):
    cfg = config_from_dict(
        {
            "data": {"path": "x", "test_size": 0.1},
            "model": {"name": "t2", "params": {"d_model": 16}},
            "train": {"epochs": 3, "lr": "3e-4"},
            "prepare": {"kind": "spectra", "steps": ["standardize"]},
            "out": "runs/a",
        }
    )
    assert cfg.train.lr == pytest.approx(3e-4) and isinstance(cfg.train.lr, float)
    path = save_config(cfg, tmp_path / "c.yaml")
    assert load_config(path) == cfg


def test_unknown_keys_are_rejected_with_a_hint(tmp_path):
    with pytest.raises(ValueError, match=r"unknown key\(s\) epoch \(did you mean 'epochs'\?\)"):
        config_from_dict({"train": {"epoch": 3}})
    with pytest.raises(ValueError, match="unknown section"):
        config_from_dict({"training": {}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {nme: t2}\n")
    with pytest.raises(ValueError, match=str(bad)):
        load_config(bad)


def test_bad_value_types_name_the_key():
    with pytest.raises(ValueError, match=r"train\.lr: expected a float"):
        config_from_dict({"train": {"lr": "fast"}})


def test_dotted_overrides():
    cfg = apply_overrides(
        RunConfig(), ["train.lr=1e-2", "model.params.num_heads=4", "data.max_objects=10"]
    )
    assert cfg.train.lr == 0.01
    assert cfg.model.params == {"num_heads": 4}
    assert cfg.data.max_objects == 10
    with pytest.raises(ValueError, match="key=value"):
        apply_overrides(RunConfig(), ["train.lr"])
    with pytest.raises(ValueError, match="unknown key"):
        apply_overrides(RunConfig(), ["train.learning_rate=1"])


def test_predefined_split_keys_round_trip_and_default_to_none(tmp_path):
    assert RunConfig().data.split_column is None and RunConfig().data.train_values is None
    cfg = apply_overrides(RunConfig(), ["data.split_column=spectro_confirmed",
                                        "data.train_values=[true]"])
    assert cfg.data.train_values == [True]
    assert load_config(save_config(cfg, tmp_path / "c.yaml")) == cfg
    # a config saved before these keys existed reads with their defaults
    old = config_from_dict({"data": {"path": "x"}}).to_dict()
    del old["data"]["split_column"], old["data"]["train_values"]
    assert config_from_dict(old) == config_from_dict({"data": {"path": "x"}})
