"""The registry: names, lookup errors, duplicate registration, overrides."""

from __future__ import annotations

import pytest
import torch

from skysift.exceptions import SkysiftError, UnknownModelError
from skysift.models import (
    SkysiftModel,
    _registry,
    create_model,
    is_model,
    list_models,
    model_entrypoint,
    register_model,
)

SEED_MODELS = [
    "atx",
    "cnn1d_strided",
    "cnn1d_strided_regressor",
    "cnn2d",
    "mlp",
    "spectral_vit",
    "t2",
    "vgg1d",
]


def test_every_seed_architecture_is_registered() -> None:
    assert list_models() == SEED_MODELS
    assert all(is_model(name) for name in SEED_MODELS)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("cnn*", ["cnn1d_strided", "cnn1d_strided_regressor", "cnn2d"]),
        ("cnn1d_*", ["cnn1d_strided", "cnn1d_strided_regressor"]),
        ("*regressor", ["cnn1d_strided_regressor"]),
        ("t?", ["t2"]),
        ("[am]*", ["atx", "mlp"]),
        ("resnet*", []),
    ],
)
def test_list_models_filters_with_fnmatch(pattern: str, expected: list[str]) -> None:
    assert list_models(pattern) == expected


def test_unknown_name_suggests_close_match() -> None:
    with pytest.raises(UnknownModelError, match=r"unknown model 'vgg1'.*'vgg1d'"):
        create_model("vgg1", num_classes=3)
    with pytest.raises(UnknownModelError, match=r"did you mean 'spectral_vit'"):
        create_model("spectralvit")


def test_unknown_name_error_is_a_lookup_error_listing_models() -> None:
    with pytest.raises(LookupError) as info:
        model_entrypoint("zzzz")
    assert isinstance(info.value, SkysiftError)
    assert "did you mean" not in str(info.value)
    for name in SEED_MODELS:
        assert name in str(info.value)


def test_registering_an_existing_name_is_an_error() -> None:
    def mlp(**kwargs: object) -> SkysiftModel:  # same name as the seed MLP
        raise AssertionError("never called")

    with pytest.raises(ValueError, match=r"'mlp' is already registered"):
        register_model(mlp)
    assert model_entrypoint("mlp").__module__ == "skysift.models.mlp"


def test_registering_a_new_name_twice_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        _registry, "_MODEL_ENTRYPOINTS", dict(_registry._MODEL_ENTRYPOINTS)
    )

    def tiny_mlp(**kwargs: object) -> SkysiftModel:
        return create_model("mlp", hidden_dims=(8,), **kwargs)

    assert register_model(tiny_mlp) is tiny_mlp
    assert "tiny_mlp" in list_models("tiny*")
    assert create_model("tiny_mlp", num_classes=2)(torch.zeros(1, 140)).shape == (1, 2)
    with pytest.raises(ValueError, match="already registered"):
        register_model(tiny_mlp)


def test_unknown_override_names_the_argument_and_a_close_match() -> None:
    with pytest.raises(TypeError, match=r"'d_modl' \(did you mean 'd_model'\?\)"):
        create_model("t2", d_modl=64)
    with pytest.raises(TypeError, match=r"accepted arguments: .*hidden_dims"):
        create_model("mlp", widths=(10,))


@pytest.mark.parametrize("name", ["mlp", "vgg1d", "cnn1d_strided", "spectral_vit"])
def test_extra_features_are_rejected_by_models_without_them(name: str) -> None:
    with pytest.raises(TypeError, match="num_extra_features"):
        create_model(name, num_extra_features=2)


def test_overrides_change_the_architecture() -> None:
    model = create_model("t2", d_model=64, num_heads=8, ff_dim=256, depth=3)
    assert model.num_features == 64
    assert len(model.blocks) == 3
    assert model.blocks[0].ff.fc1.out_features == 256


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("t2", {"num_heads": 5}, "not divisible by num_heads=5"),
        ("spectral_vit", {"embed_dim": 100, "num_heads": 3}, "not divisible"),
        ("mlp", {"num_classes": 0}, "num_classes must be a positive integer"),
        ("mlp", {"drop_rate": 1.5}, r"drop_rate must be in \[0, 1\)"),
        ("vgg1d", {"input_length": 12}, "input_length=12 is too short"),
        ("cnn1d_strided", {"pool_stride": 2}, "input_length=443 is too short"),
        ("cnn1d_strided", {"task": "ranking"}, "task must be"),
        ("cnn2d", {"kernel_size": 4}, "kernel_size must be odd"),
        ("atx", {"stem_filters": (32,)}, "stem_filters must have 2 entries"),
    ],
)
def test_invalid_sizes_raise_value_error(
    name: str, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        create_model(name, **kwargs)


@pytest.mark.parametrize(
    ("name", "bad_input", "match"),
    [
        ("mlp", torch.zeros(2, 100), r"input_length=140, got spectra of length 100"),
        ("vgg1d", torch.zeros(2, 3, 140), r"expects spectra of shape \(B, L\)"),
        ("t2", torch.zeros(2, 100, 5), r"\(B, L, 6\)"),
        ("atx", torch.zeros(2, 600), r"\(B, L, 6\)"),
        ("cnn2d", torch.zeros(2, 2, 60, 60), r"images \(B, 1, H, W\)"),
    ],
)
def test_wrong_input_shape_raises_value_error(
    name: str, bad_input: torch.Tensor, match: str
) -> None:
    model = create_model(name).eval()
    with pytest.raises(ValueError, match=match):
        model(bad_input)


def test_extra_tensor_is_validated() -> None:
    t2 = create_model("t2", num_extra_features=2).eval()
    x = torch.zeros(3, 100, 6)
    with pytest.raises(ValueError, match=r"needs `extra` of shape \(B, 2\); got None"):
        t2(x)
    with pytest.raises(ValueError, match=r"expects `extra` of shape \(3, 2\)"):
        t2(x, torch.zeros(3, 3))
    mlp = create_model("mlp").eval()
    with pytest.raises(ValueError, match="num_extra_features=0"):
        mlp(torch.zeros(3, 140), torch.zeros(3, 2))


@pytest.mark.parametrize(
    ("name", "num_classes", "in_channels", "input_length"),
    [
        ("mlp", 3, 1, 140),
        ("vgg1d", 3, 1, 140),
        ("cnn1d_strided", 4, 1, 443),
        ("cnn1d_strided_regressor", 1, 1, 443),
        ("cnn2d", 6, 1, 3600),
        ("spectral_vit", 6, 1, 3600),
        ("t2", 14, 6, 100),
        ("atx", 14, 6, 100),
    ],
)
def test_defaults_follow_the_seeds(
    name: str, num_classes: int, in_channels: int, input_length: int
) -> None:
    model = create_model(name)
    assert model.num_classes == num_classes
    assert model.in_channels == in_channels
    assert model.input_length == input_length
    expected_task = "regression" if name.endswith("regressor") else "classification"
    assert model.task == expected_task
