"""Ensembles saved as one model: the mean of the members, checked at saving."""

import numpy as np
import pytest
import torch

from skysift.exceptions import DataFormatError, SkysiftError
from skysift.models import create_model
from skysift.preprocessing import Pipeline
from skysift.training.checkpoint import load_model, save_ensemble, save_model

KW = {"num_classes": 3, "in_channels": 2, "input_length": 30, "num_extra_features": 2,
      "d_model": 8, "num_heads": 2, "ff_dim": 16}


def _pipe(scale: float = 10.0) -> Pipeline:
    return Pipeline.from_config({"kind": "lightcurves", "steps": [{"asinh": {"softening": scale}}]})


def _save(path, seed: int, *, kw=KW, classes=("a", "b", "c"), pipe=None, name="t2"):
    torch.manual_seed(seed)
    net = create_model(name, **kw).eval()
    save_model(path, net, model_name=name, model_kwargs=kw, pipeline=pipe or _pipe(),
               class_names=None if classes is None else list(classes), input_shape=(30, 2),
               target="label" if classes is not None else "redshift")
    return net


def test_probabilities_are_the_mean_of_the_members(tmp_path):
    nets = [_save(tmp_path / f"m{i}.pt", i) for i in range(3)]
    save_ensemble([tmp_path / f"m{i}.pt" for i in range(3)], tmp_path / "e.pt")
    loaded = load_model(tmp_path / "e.pt")
    assert loaded.model_name == "ensemble" and loaded.class_names == ["a", "b", "c"]
    assert loaded.pipeline.to_dict() == _pipe().to_dict()
    assert loaded.metadata["members"] == [str((tmp_path / f"m{i}.pt").resolve()) for i in range(3)]
    x, extra = torch.randn(7, 30, 2), torch.randn(7, 2)
    with torch.inference_mode():
        mean = torch.stack([n(x, extra).double().softmax(1) for n in nets]).mean(0)
        got = loaded.model(x, extra).double().softmax(1)
    np.testing.assert_allclose(got.numpy(), mean.numpy(), atol=1e-6)
    # the members' weights are kept, not re-initialised: each one alone is unchanged
    with torch.inference_mode():
        for member, net in zip(loaded.model.members, nets, strict=True):
            torch.testing.assert_close(member(x, extra), net(x, extra))
    assert loaded.model.num_parameters() == sum(n.num_parameters() for n in nets)


def test_regressors_outputs_are_averaged(tmp_path):
    kw = {"num_classes": 1, "input_length": 200}
    nets = []
    for i in range(2):
        torch.manual_seed(i)
        net = create_model("cnn1d_strided_regressor", **kw).eval()
        save_model(tmp_path / f"r{i}.pt", net, model_name="cnn1d_strided_regressor",
                   model_kwargs=kw, target="redshift", input_shape=(1, 200))
        nets.append(net)
    save_ensemble([tmp_path / "r0.pt", tmp_path / "r1.pt"], tmp_path / "e.pt")
    loaded = load_model(tmp_path / "e.pt")
    assert loaded.task == "regression" and loaded.target == "redshift"
    x = torch.randn(5, 1, 200)
    with torch.inference_mode():
        torch.testing.assert_close(loaded.model(x), (nets[0](x) + nets[1](x)) / 2)


@pytest.mark.parametrize(
    ("other", "message"),
    [
        ({"classes": ("a", "b", "x")}, r"m1.pt: class names \['a', 'b', 'x'\], not \['a', 'b', 'c'\] as in .*m0.pt; the"),
        ({"pipe": _pipe(3.0)}, r"m1.pt: preparation differs from .*m0.pt's; the members"),
        ({"kw": {**KW, "num_extra_features": 0}}, r"m1.pt: extra features 0, not 2 as in"),
    ],
)
def test_members_that_read_data_differently_are_refused(tmp_path, other, message):
    _save(tmp_path / "m0.pt", 0)
    _save(tmp_path / "m1.pt", 1, **other)
    with pytest.raises(DataFormatError, match=message):
        save_ensemble([tmp_path / "m0.pt", tmp_path / "m1.pt"], tmp_path / "e.pt")
    assert not (tmp_path / "e.pt").exists()


def test_ensembles_are_not_nested_and_have_no_single_last_layer(tmp_path):
    for i in range(2):
        _save(tmp_path / f"m{i}.pt", i)
    save_ensemble([tmp_path / "m0.pt", tmp_path / "m1.pt"], tmp_path / "e.pt")
    with pytest.raises(DataFormatError, match="itself an ensemble"):
        save_ensemble([tmp_path / "e.pt", tmp_path / "m0.pt"], tmp_path / "e2.pt")
    with pytest.raises(ValueError, match="at least two"):
        save_ensemble([tmp_path / "m0.pt"], tmp_path / "e3.pt")
    with pytest.raises(SkysiftError, match="explain one of its members"):
        load_model(tmp_path / "e.pt").model.get_classifier()


def test_command_averages_regressor_runs_test_predictions(tmp_path, capsys):
    import pandas as pd

    from skysift.cli.main import main

    kw = {"num_classes": 1, "input_length": 200}
    ids = [f"o{i}" for i in range(8)]
    z = np.linspace(0.1, 0.8, 8)
    for i, shift in enumerate((0.1, -0.3)):
        run = tmp_path / f"run{i}"
        run.mkdir()
        torch.manual_seed(i)
        save_model(run / "model.pt", create_model("cnn1d_strided_regressor", **kw),
                   model_name="cnn1d_strided_regressor", model_kwargs=kw, target="redshift",
                   input_shape=(1, 200))
        pd.DataFrame({"object_id": ids, "true_redshift": z, "pred_redshift": z + shift}) \
            .to_parquet(run / "test_predictions.parquet")
    code = main(["ensemble", str(tmp_path / "run0"), str(tmp_path / "run1"),
                 "--out", str(tmp_path / "mean")])
    out = capsys.readouterr().out
    assert code == 0
    assert "RMSE 0.1000, members 0.1000, 0.3000" in out and "skysift compare" not in out
    mean = pd.read_parquet(tmp_path / "mean" / "test_predictions.parquet")
    np.testing.assert_allclose(mean["pred_redshift"], z - 0.1, atol=1e-12)
