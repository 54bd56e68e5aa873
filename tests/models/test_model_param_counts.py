"""Parameter counts against the seeds' formulas and published numbers.

The expected counts are computed here from the seeds' equations and layer
tables, independently of the model code:

* atx: seed 003 eqs. 3.17-3.19 -- separable conv ``w d_in + d_in d_out``,
  normal conv ``w d_in d_out``, four batch-norm numbers per channel
  (gamma, beta and the running mean and variance), linear ``d C + C`` --
  applied to the Xception layer plan scaled down by ``scaledown_factor``;
* t2: seed 003 sec. 4.3.6 -- embedding ``M w d + d``; per block
  ``4 (d^2 + d)`` attention, ``2 * 2d`` layer norm, ``d d_ff + d_ff +
  d_ff d + d`` feed-forward; linear ``d C + C``;
* mlp / vgg1d / cnn1d_strided: the layer lists of seeds 001 and 002.
"""

from __future__ import annotations

import pytest

from skysift.models import count_parameters, create_model

# --- seed 003, chapter 3 (atx) ------------------------------------------------


def sepconv_params(w: int, d_in: int, d_out: int) -> int:
    return (w * d_in + d_in * d_out) + 4 * d_out  # eq. 3.17


def conv_params(w: int, d_in: int, d_out: int) -> int:
    return w * d_in * d_out + 4 * d_out  # eq. 3.18


def linear_params(d: int, c: int) -> int:
    return d * c + c  # eq. 3.19


def atx_expected(
    *, m: int, c: int, r: int, w: int = 3, scaledown: int = 4, n: int = 1
) -> tuple[int, int]:
    """Return (count with running stats as in the seed, batch-norm channels)."""

    def f(filters: int) -> int:
        return filters // scaledown

    total = conv_params(w, m, f(32)) + conv_params(w, f(32), f(64))
    bn_channels = f(32) + f(64)
    d_in = f(64)
    for filters in (128, 256, 728):  # entry-flow blocks with 1x1 shortcuts
        total += sepconv_params(w, d_in, f(filters))
        total += sepconv_params(w, f(filters), f(filters))
        total += conv_params(1, d_in, f(filters))
        bn_channels += 3 * f(filters)
        d_in = f(filters)
    total += n * 3 * sepconv_params(w, f(728), f(728))  # middle flow
    bn_channels += n * 3 * f(728)
    total += sepconv_params(w, f(728), f(728)) + sepconv_params(w, f(728), f(1024))
    total += conv_params(1, f(728), f(1024))
    total += sepconv_params(w, f(1024), f(1536)) + sepconv_params(w, f(1536), f(2048))
    bn_channels += f(728) + 2 * f(1024) + f(1536) + f(2048)
    total += linear_params(f(2048) + r, c)
    return total, bn_channels


@pytest.mark.parametrize(
    ("m", "c", "r", "overrides"),
    [
        (6, 14, 2, {}),  # Table 3.2 with PLAsTiCC's 6 bands, 14 classes, z and z_err
        (6, 14, 0, {}),
        (2, 3, 0, {}),  # ZTF g and r bands
        (6, 14, 2, {"kernel_size": 5, "middle_repeats": 3, "scaledown_factor": 2}),
        (4, 5, 1, {"pool_size": 2, "scaledown_factor": 8, "middle_repeats": 0}),
    ],
)
def test_atx_matches_seed_003_equations(
    m: int, c: int, r: int, overrides: dict[str, int]
) -> None:
    model = create_model(
        "atx", num_classes=c, in_channels=m, num_extra_features=r, **overrides
    )
    expected, bn_channels = atx_expected(
        m=m,
        c=c,
        r=r,
        w=overrides.get("kernel_size", 3),
        scaledown=overrides.get("scaledown_factor", 4),
        n=overrides.get("middle_repeats", 1),
    )
    assert count_parameters(model, include_running_stats=True) == expected
    # Only gamma and beta of each batch norm are trainable.
    assert count_parameters(model) == expected - 2 * bn_channels


def test_atx_default_count_is_pinned() -> None:
    model = create_model("atx", num_classes=14, in_channels=6, num_extra_features=2)
    assert count_parameters(model, include_running_stats=True) == 612_786
    assert count_parameters(model) == 606_798


# --- seed 003, chapter 4 (t2) -------------------------------------------------


def t2_expected(*, m: int, c: int, d: int, d_ff: int, n: int) -> int:
    embedding = m * 1 * d + d
    attention = 4 * (d * d + d)
    layer_norm = 2 * 2 * d
    feed_forward = (d * d_ff + d_ff) + (d_ff * d + d)
    return embedding + n * (attention + layer_norm + feed_forward) + d * c + c


@pytest.mark.parametrize("r", [0, 2])
@pytest.mark.parametrize("length", [100, 40])
def test_t2_matches_seed_003_formula_at_table_4_1(r: int, length: int) -> None:
    model = create_model(
        "t2", num_classes=14, in_channels=6, input_length=length, num_extra_features=r
    )
    expected = t2_expected(m=6, c=14, d=32, d_ff=128, n=1)
    assert expected == 13_390
    # Extra features join along time, so they add no parameters; nor does L.
    assert count_parameters(model) == expected
    assert count_parameters(model, include_running_stats=True) == expected


@pytest.mark.parametrize(
    ("m", "c", "d", "h", "d_ff", "n"),
    [(2, 3, 32, 16, 128, 1), (6, 14, 64, 8, 256, 3), (3, 7, 16, 1, 8, 2)],
)
def test_t2_matches_seed_003_formula_for_other_sizes(
    m: int, c: int, d: int, h: int, d_ff: int, n: int
) -> None:
    model = create_model(
        "t2", num_classes=c, in_channels=m, d_model=d, num_heads=h, ff_dim=d_ff, depth=n
    )
    assert count_parameters(model) == t2_expected(m=m, c=c, d=d, d_ff=d_ff, n=n)


def test_t2_final_layer_has_448_weights_as_in_seed_003_ch_5() -> None:
    # Seed 003 sec. 5.4: clustering t2's final dense layer maps its 448 unique
    # weights (d = 32 times 14 PLAsTiCC classes) to 16 values.
    model = create_model("t2", num_classes=14, in_channels=6)
    assert model.get_classifier().weight.numel() == 448


def test_t2_is_about_45_times_smaller_than_atx() -> None:
    # Seed 003 ch. 6: t2 cut model size by 45x relative to atx (both at their
    # tuned hyper-parameters, 6 bands, redshift and its error as extras).
    atx = create_model("atx", num_classes=14, in_channels=6, num_extra_features=2)
    t2 = create_model("t2", num_classes=14, in_channels=6, num_extra_features=2)
    assert round(count_parameters(atx) / count_parameters(t2)) == 45


# --- seeds 001 and 002 --------------------------------------------------------


def test_mlp_matches_seed_001_layers() -> None:
    # 140 inputs, 5 hidden layers of 512, 3 outputs.
    expected = (140 * 512 + 512) + 4 * (512 * 512 + 512) + (512 * 3 + 3)
    assert count_parameters(create_model("mlp")) == expected == 1_124_355


def test_vgg1d_matches_seed_001_figure_9_1() -> None:
    # Unpadded width-3 convs: 140 -> 138 -> 136 -> pool 68 -> 66 -> 64 -> 32
    # -> 30 -> 28 -> 14, so the first fully connected layer sees 256 x 14.
    convs = [(1, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256)]
    expected = sum(3 * i * o + o for i, o in convs)
    expected += (256 * 14 * 512 + 512) + (512 * 512 + 512) + (512 * 3 + 3)
    model = create_model("vgg1d")
    assert model.feature_shape == (256, 14)
    assert count_parameters(model) == expected


def test_cnn1d_strided_matches_seed_002_table_1() -> None:
    model = create_model("cnn1d_strided")
    assert model.classifier_input_width == 1800  # "fc1: 1800 -> 16" in Table 1
    convs = [(1, 100), (100, 100), (100, 100), (100, 100)]
    expected = sum(10 * i * o + o for i, o in convs)
    expected += (1800 * 16 + 16) + 2 * 16 + (16 * 4 + 4)  # fc1, BatchNorm1d, fc2
    assert count_parameters(model) == expected


def test_cnn1d_strided_regressor_matches_seed_002_table_3() -> None:
    model = create_model("cnn1d_strided_regressor")
    assert model.classifier_input_width == 4608  # "fc1: 4608 -> 128" in Table 3
    convs = [(1, 64), (64, 128), (128, 256), (256, 256)]
    expected = sum(10 * i * o + o for i, o in convs)
    expected += (4608 * 128 + 128) + 2 * 128 + (128 * 16 + 16) + (16 * 1 + 1)
    assert count_parameters(model) == expected
    assert model.num_classes == 1
