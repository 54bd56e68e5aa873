"""Class activation maps against the models' own outputs (seed 003 eq. 4.11)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skysift.interpret import (
    ClassActivationMap,
    class_activation_map,
    plot_cam_light_curve,
    plot_cam_spectrum,
)
from skysift.models import create_model


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(7)


def _t2():
    model = create_model("t2", num_classes=4, in_channels=3, num_extra_features=2)
    x, extra = torch.randn(5, 30, 3), torch.randn(5, 2)
    return model, x, extra


def _t2_both():
    model = create_model("t2", num_classes=4, in_channels=3, num_extra_features=2,
                         extra_at="both")
    return model, torch.randn(5, 30, 3), torch.randn(5, 2)


def _atx():
    model = create_model("atx", num_classes=4, in_channels=3, num_extra_features=2)
    return model, torch.randn(5, 40, 3), torch.randn(5, 2)


def _cnn2d():
    model = create_model("cnn2d", num_classes=4, input_length=390)
    return model, torch.rand(5, 390), None


def _logits(model, x, extra):
    """Logits computed by the model itself, independently of the CAM code."""
    model.eval()
    with torch.no_grad():
        return model(x, extra).double().numpy()


@pytest.mark.parametrize("build", [_t2, _t2_both, _atx, _cnn2d],
                         ids=["t2", "t2-extras-twice", "atx", "cnn2d"])
def test_mean_of_raw_cam_plus_bias_is_the_logit_of_every_class(build):
    model, x, extra = build()
    logits = _logits(model, x, extra)
    bias = model.get_classifier().bias.detach().double().numpy()
    for c in range(4):
        cam = class_activation_map(model, x, extra, target=c)
        positions = cam.raw.shape[1]
        # seed 003: S_c = sum_l M_c(l); the GAP layer divides the sum by L'.
        score = cam.raw.sum(axis=1) / positions + bias[c]
        if cam.head_extra is not None:  # atx joins extras after pooling
            extra_part = (
                extra.double().numpy()
                @ (model.get_classifier().weight.detach().double().numpy()[c, -2:])
            )
            np.testing.assert_allclose(cam.head_extra.sum(axis=1), extra_part)
            score = score + extra_part
        np.testing.assert_allclose(score, logits[:, c], rtol=1e-5, atol=1e-5)
        # extra features appended along time are the map's last positions
        assert cam.num_extra == getattr(model, "extra_steps", 0)


def test_normalised_map_sums_to_one_and_keeps_the_order():
    model, x, extra = _t2()
    cam = class_activation_map(model, x, extra)
    np.testing.assert_allclose(cam.normalized.sum(axis=1), 1.0)
    assert cam.normalized.min() >= 0
    np.testing.assert_array_equal(cam.normalized.min(axis=1), 0.0)  # min-max scaled
    np.testing.assert_array_equal(cam.normalized.argmax(1), cam.raw.argmax(1))
    np.testing.assert_array_equal(
        np.argsort(cam.normalized[0], kind="stable"),
        np.argsort(cam.raw[0], kind="stable"),
    )
    # t2 appends the two extra features along time: L' = L + R
    assert cam.raw.shape == (5, 32) and cam.num_extra == 2
    assert cam.extra_share.shape == (5, 2) and cam.sequence.shape == (5, 30)
    np.testing.assert_allclose(cam.sequence.sum(1) + cam.extra_share.sum(1), 1.0)
    # predicted class by default
    np.testing.assert_array_equal(cam.target, _logits(model, x, extra).argmax(1))


def test_constant_map_becomes_uniform():
    raw = np.ones((1, 4))
    from skysift.interpret.cam import _normalize

    np.testing.assert_allclose(_normalize(raw), 0.25)


@pytest.mark.parametrize(("build", "length"), [(_t2, 30), (_atx, 40), (_cnn2d, 390)])
def test_to_input_spreads_the_sequence_share(build, length):
    model, x, extra = build()
    cam = class_activation_map(model, x, extra)
    spread = cam.to_input(length)
    assert spread.shape == (5, length)
    np.testing.assert_allclose(spread.sum(1), cam.sequence.sum(1))
    if build is _t2:
        np.testing.assert_allclose(spread, cam.sequence)


def test_per_object_targets_and_bad_targets():
    model, x, extra = _t2()
    cam = class_activation_map(model, x, extra, target=[0, 1, 2, 3, 0])
    np.testing.assert_array_equal(cam.target, [0, 1, 2, 3, 0])
    with pytest.raises(ValueError, match="out of range for 4 classes"):
        class_activation_map(model, x, extra, target=4)
    with pytest.raises(ValueError, match="one per object"):
        class_activation_map(model, x, extra, target=[0, 1])


@pytest.mark.parametrize("name", ["spectral_vit", "vgg1d", "cnn1d_strided", "mlp"])
def test_models_without_a_gap_head_are_refused(name):
    model = create_model(name)
    x = torch.rand(2, *model.input_shape)
    with pytest.raises(ValueError, match="has no class activation map"):
        class_activation_map(model, x)


def test_a_head_that_is_not_plain_gap_is_caught_numerically():
    model, x, extra = _t2()

    class Doubled(type(model)):
        def forward_head(self, features, extra=None, *, pre_logits=False):
            return 2 * super().forward_head(features, extra, pre_logits=pre_logits)

    model.__class__ = Doubled
    with pytest.raises(ValueError, match="not the mean of the map plus the bias"):
        class_activation_map(model, x, extra)


def test_training_mode_is_restored_and_numpy_inputs_work():
    model, x, extra = _t2()
    model.train()
    cam = class_activation_map(model, x.numpy(), extra.numpy())
    assert model.training
    assert isinstance(cam, ClassActivationMap)


def test_plots_draw_the_map_and_extra_bars():
    model, x, extra = _t2()
    cam = class_activation_map(model, x, extra)
    fig = plot_cam_light_curve(
        x[1],
        cam,
        index=1,
        band_names="gri",
        extra_names=["z", "z err"],
        class_names=list("ABCD"),
    )
    assert len(fig.axes) == 3  # light curve, CAM twin axis, extra-feature bars
    bars = fig.axes[1].patches
    heights = [b.get_height() for b in bars]
    np.testing.assert_allclose(heights, 100 * cam.extra_share[1])
    model, x, _ = _cnn2d()
    cam = class_activation_map(model, x)
    fig = plot_cam_spectrum(x[0], cam, wavelength_aa=np.linspace(4000, 9000, 390))
    assert fig.axes[0].get_xlabel() == "wavelength (Angstrom)"
