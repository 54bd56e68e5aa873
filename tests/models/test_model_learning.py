"""Small learning checks: models fit easy synthetic problems with plain torch.

Each problem is built here and is separable by construction, so a model
that cannot learn it (broken gradients, mixed-up reshapes, a head that
ignores the features) fails. Budgets are a few hundred Adam steps on CPU.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from skysift.models import SkysiftModel, create_model


def gaussian_line_spectra(
    n: int, *, length: int, centres: list[float], snr: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spectra with one emission line whose position encodes the class.

    Continuum with a random slope, a Gaussian line of random amplitude and
    width at the class's centre (jittered by a pixel), and white noise with
    sigma = max amplitude / snr (the S/N definition of seed 000 sec. 3.1.1).
    Each spectrum is standardised to zero mean and unit variance (seed 001).
    """
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(centres), (n,), generator=g)
    pixels = torch.arange(length, dtype=torch.float32)
    centre = torch.tensor(centres)[labels] + torch.randn(n, generator=g)
    amplitude = 0.5 + 0.5 * torch.rand(n, generator=g)
    width = 2.0 + 2.0 * torch.rand(n, generator=g)
    slope = 0.2 * torch.randn(n, generator=g)
    line = amplitude[:, None] * torch.exp(
        -0.5 * ((pixels - centre[:, None]) / width[:, None]) ** 2
    )
    continuum = 1.0 + slope[:, None] * (pixels / length - 0.5)
    noise = torch.randn(n, length, generator=g) / snr  # max amplitude is 1
    flux = continuum + line + noise
    flux = (flux - flux.mean(1, keepdim=True)) / flux.std(1, keepdim=True)
    return flux, labels


def transient_light_curves(
    n: int, *, length: int, bands: int = 6, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Three well-separated light-curve classes in ``(n, L, M)``.

    0: a fast transient (short rise, fast decline) peaking early;
    1: a slow transient peaking late; 2: a periodic variable.
    Amplitudes, phases and colours are random; noise is 5% of the peak.
    """
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(3, (n,), generator=g)
    t = torch.linspace(0.0, 1.0, length)[None, :, None]  # (1, L, 1)
    colour = 0.6 + 0.4 * torch.rand(n, 1, bands, generator=g)  # (n, 1, M)
    peak = 0.2 + 0.6 * torch.rand(n, 1, 1, generator=g)
    fast = torch.exp(-0.5 * ((t - peak) / 0.04) ** 2)
    slow = torch.exp(-0.5 * ((t - peak) / 0.25) ** 2)
    phase = 2 * math.pi * torch.rand(n, 1, 1, generator=g)
    periodic = 0.5 + 0.5 * torch.sin(2 * math.pi * 6 * t + phase)
    shape = torch.where(
        labels[:, None, None] == 0, fast, torch.where(labels[:, None, None] == 1, slow, periodic)
    )
    flux = colour * shape + 0.05 * torch.randn(n, length, bands, generator=g)
    return flux, labels


def train(
    model: SkysiftModel,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    lr: float,
    batch_size: int = 64,
    loss_fn=F.cross_entropy,
) -> None:
    """Plain Adam loop over random mini-batches."""
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(x), (batch_size,), generator=g)
        optimiser.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        optimiser.step()
    model.eval()


@pytest.mark.parametrize(
    "name", ["mlp", pytest.param("vgg1d", marks=pytest.mark.slow)]
)
def test_spectra_classifier_learns_gaussian_lines(name: str) -> None:
    kwargs = {"centres": [35.0, 70.0, 105.0], "length": 140, "snr": 10.0}
    x_train, y_train = gaussian_line_spectra(1200, seed=1, **kwargs)
    x_test, y_test = gaussian_line_spectra(400, seed=2, **kwargs)
    model = create_model(name, num_classes=3, input_length=140)
    train(model, x_train, y_train, steps=100, lr=1e-3, batch_size=32)
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    print(f"{name}: test accuracy {accuracy:.3f}")
    assert accuracy >= 0.95, f"{name} reached only {accuracy:.3f} (chance 0.33)"


def test_t2_learns_light_curve_classes() -> None:
    # L = 40 instead of the seed's 100 keeps the attention cost (B h L^2) small.
    x_train, y_train = transient_light_curves(1200, length=40, seed=3)
    x_test, y_test = transient_light_curves(400, length=40, seed=4)
    model = create_model("t2", num_classes=3, in_channels=6, input_length=40)
    train(model, x_train, y_train, steps=150, lr=3e-3, batch_size=32)
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    print(f"t2: test accuracy {accuracy:.3f}")
    assert accuracy >= 0.95, f"t2 reached only {accuracy:.3f} (chance 0.33)"
