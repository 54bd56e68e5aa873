"""Checks every registered model must pass (parametrized over list_models())."""

from __future__ import annotations

import io

import pytest
import torch

from skysift.models import SkysiftModel, count_parameters, create_model, list_models

ALL_MODELS = list_models()
EXTRA_MODELS = ["atx", "t2"]  # the architectures that take extra features


def make_batch(
    model: SkysiftModel, batch_size: int = 4, *, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return a random input batch (and extra features) matching a model."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand((batch_size, *model.input_shape), generator=generator)
    extra = None
    if model.num_extra_features:
        extra = torch.randn((batch_size, model.num_extra_features), generator=generator)
    return x, extra


def _build(name: str, **kwargs: object) -> SkysiftModel:
    return create_model(name, **kwargs)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_forward_gives_right_shape_and_finite_values(name: str) -> None:
    model = _build(name).eval()
    x, extra = make_batch(model, 3)
    with torch.no_grad():
        out = model(x, extra)
    assert out.shape == (3, model.num_classes)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ALL_MODELS)
def test_num_classes_and_in_channels_are_honoured(name: str) -> None:
    in_channels = 2 if name in EXTRA_MODELS else 3
    model = _build(name, num_classes=5, in_channels=in_channels).eval()
    x, extra = make_batch(model, 2)
    channel_axis = 2 if name in EXTRA_MODELS else 1
    assert x.shape[channel_axis] == in_channels
    with torch.no_grad():
        assert model(x, extra).shape == (2, 5)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_backward_reaches_every_parameter(name: str) -> None:
    kwargs = {"num_extra_features": 2} if name in EXTRA_MODELS else {}
    model = _build(name, **kwargs).train()
    x, extra = make_batch(model, 4)
    out = model(x, extra)
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    (out * weights).sum().backward()
    for param_name, param in model.named_parameters():
        assert param.grad is not None, f"{name}: no gradient for {param_name}"
        assert torch.isfinite(param.grad).all(), f"{name}: bad grad in {param_name}"
        assert param.grad.abs().sum() > 0, f"{name}: zero gradient for {param_name}"


@pytest.mark.parametrize("name", ALL_MODELS)
def test_eval_mode_is_deterministic_and_batch_independent(name: str) -> None:
    model = _build(name).eval()
    x, extra = make_batch(model, 4)
    with torch.no_grad():
        first = model(x, extra)
        second = model(x, extra)
        # A sample's output must not depend on the other samples in the batch:
        # this catches reshapes that mix the batch axis with another one.
        alone = model(x[1:2], None if extra is None else extra[1:2])
    assert torch.equal(first, second)
    torch.testing.assert_close(alone, first[1:2], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_train_mode_dropout_is_stochastic_where_present(name: str) -> None:
    model = _build(name).train()
    if not any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in model.modules()):
        pytest.skip(f"{name} has no dropout at its defaults")
    x, extra = make_batch(model, 4)
    assert not torch.equal(model(x, extra), model(x, extra))


@pytest.mark.parametrize("name", ALL_MODELS)
def test_save_and_load_give_identical_outputs(name: str) -> None:
    model = _build(name).eval()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(999)  # a differently initialised twin
    twin = _build(name)
    twin.load_state_dict(torch.load(buffer, weights_only=True))
    twin.eval()
    x, extra = make_batch(model, 3)
    with torch.no_grad():
        assert torch.equal(model(x, extra), twin(x, extra))


@pytest.mark.parametrize("name", ALL_MODELS)
def test_features_head_split_and_reported_widths(name: str) -> None:
    kwargs = {"num_extra_features": 2} if name in EXTRA_MODELS else {}
    model = _build(name, **kwargs).eval()
    x, extra = make_batch(model, 3)
    with torch.no_grad():
        features = model.forward_features(x, extra)
        logits = model.forward_head(features, extra)
        pre_logits = model.forward_head(features, extra, pre_logits=True)
        torch.testing.assert_close(logits, model(x, extra))
    assert pre_logits.shape == (3, model.num_features)
    classifier = model.get_classifier()
    assert classifier.in_features == model.num_features
    assert classifier.out_features == model.num_classes
    torch.testing.assert_close(classifier(pre_logits), logits)
    assert model.num_parameters() == count_parameters(model) > 0


@pytest.mark.parametrize("name", ["atx", "t2", "cnn2d"])
def test_class_activation_maps_sum_to_the_logits(name: str) -> None:
    """Models ending in pooling + linear expose pre-pooling maps (seed 003 eq. 4.11)."""
    kwargs = {"num_extra_features": 2} if name in EXTRA_MODELS else {}
    model = _build(name, num_classes=5, **kwargs).eval()
    x, extra = make_batch(model, 3)
    with torch.no_grad():
        features = model.forward_features(x, extra).flatten(2)  # (B, K, positions)
        logits = model(x, extra)
    fc = model.get_classifier()
    k = features.shape[1]
    cam = torch.einsum("ck,bkl->bcl", fc.weight[:, :k], features)  # M_c(l)
    rebuilt = cam.mean(dim=-1) + fc.bias
    if fc.in_features > k:  # atx: extra features enter the linear layer directly
        rebuilt = rebuilt + extra @ fc.weight[:, k:].T
    torch.testing.assert_close(rebuilt, logits, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", EXTRA_MODELS)
def test_extra_features_change_the_prediction(name: str) -> None:
    model = _build(name, num_extra_features=2).eval()
    x, extra = make_batch(model, 3)
    with torch.no_grad():
        base = model(x, extra)
        moved = model(x, extra + 1.0)
    assert not torch.allclose(base, moved)


def test_t2_appends_extra_features_along_time() -> None:
    model = _build("t2", num_extra_features=2).eval()
    x, extra = make_batch(model, 2)
    with torch.no_grad():
        features = model.forward_features(x, extra)
        maps = model.attention_maps(x, extra)
    assert features.shape == (2, 32, 102)  # L' = L + R
    assert len(maps) == 1 and maps[0].shape == (2, 16, 102, 102)
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(2, 16, 102))


@pytest.mark.parametrize(("extra_at", "steps", "head"), [("time", 2, 0), ("head", 0, 2), ("both", 2, 2)])
def test_t2_extra_features_enter_where_asked(extra_at: str, steps: int, head: int) -> None:
    model = _build("t2", num_extra_features=2, extra_at=extra_at).eval()
    x, extra = make_batch(model, 3)
    with torch.no_grad():
        features = model.forward_features(x, extra)
        logits = model(x, extra)
        moved_features = model.forward_features(x, extra + 1.0)
        moved = model(x, extra + 1.0)
    assert model.extra_steps == steps and features.shape == (3, 32, 100 + steps)
    fc = model.get_classifier()
    assert fc.in_features == 32 + head
    # the feature map depends on the extras only if they are time steps ...
    assert torch.allclose(features, moved_features) == (steps == 0)
    # ... and the logits always do; in the head, by their weights in the linear layer
    assert not torch.allclose(logits, moved)
    if steps == 0:
        torch.testing.assert_close(moved - logits, fc.weight[:, 32:].sum(1).expand(3, -1))
    with pytest.raises(ValueError, match="extra_at must be"):
        _build("t2", num_extra_features=2, extra_at="tail")


@pytest.mark.parametrize("length", [1, 7, 50, 101, 250])
@pytest.mark.parametrize("name", ["t2", "atx"])
def test_light_curve_models_accept_any_length(name: str, length: int) -> None:
    model = _build(name).eval()
    with torch.no_grad():
        assert model(torch.randn(2, length, 6)).shape == (2, 14)


def test_cnn2d_folds_spectra_and_accepts_images() -> None:
    model = _build("cnn2d").eval()
    spectra = torch.rand(2, 3600)
    with torch.no_grad():
        from_spectra = model(spectra)
        from_images = model(spectra.reshape(2, 1, 60, 60))
        odd = model(torch.rand(2, 1000))  # padded to 32 x 32
    torch.testing.assert_close(from_spectra, from_images)
    assert odd.shape == (2, 6)


def test_spectral_vit_follows_seed_000_token_shapes() -> None:
    # Seed 000: 10000-pixel spectra in 100 patches -> N x 101 x 300 tokens.
    model = _build("spectral_vit", input_length=10000, depth=1).eval()
    with torch.no_grad():
        tokens = model.forward_features(torch.rand(2, 10000))
        maps = model.attention_maps(torch.rand(2, 10000))
    assert tokens.shape == (2, 101, 300)
    assert maps[0].shape == (2, 3, 101, 101)
