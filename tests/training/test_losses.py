import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skysift.training.losses import LOSSES, make_loss, weighted_log_loss


def hand_weighted_log_loss(probs, target, weights=None):
    """Seed 003 eq. 3.20 written out with loops."""
    num_classes = probs.shape[1]
    weights = weights or [1.0] * num_classes
    num, den = 0.0, 0.0
    for i in range(num_classes):
        members = [j for j, t in enumerate(target) if t == i]
        if not members:
            continue
        mean_log = sum(math.log(min(max(probs[j][i], 1e-15), 1 - 1e-15)) for j in members)
        num += weights[i] * mean_log / len(members)
        den += weights[i]
    return -num / den


def test_weighted_log_loss_equals_hand_computation():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=50)
    target = rng.integers(0, 4, size=50)
    target[:3] = 3  # make sure the rare class exists
    got = weighted_log_loss(torch.tensor(probs), torch.tensor(target), from_logits=False)
    assert float(got) == pytest.approx(hand_weighted_log_loss(probs, target), rel=1e-6)
    w = [1.0, 2.0, 0.5, 3.0]
    got_w = weighted_log_loss(
        torch.tensor(probs), torch.tensor(target), class_weights=torch.tensor(w), from_logits=False
    )
    assert float(got_w) == pytest.approx(hand_weighted_log_loss(probs, target, w), rel=1e-6)


def test_weighted_log_loss_rare_class_counts_as_much_as_common():
    # 9 perfect objects of class 0, one badly wrong object of class 1
    probs = torch.tensor([[0.99, 0.01]] * 9 + [[0.99, 0.01]])
    target = torch.tensor([0] * 9 + [1])
    flat = float(weighted_log_loss(probs, target, from_logits=False))
    plain = float(F.nll_loss(torch.log(probs), target))
    assert flat == pytest.approx((-math.log(0.99) - math.log(0.01)) / 2, rel=1e-6)
    assert flat > 4 * plain


def test_weighted_log_loss_probability_zero_is_finite():
    probs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    target = torch.tensor([1, 1])
    loss = weighted_log_loss(probs, target, from_logits=False)
    assert torch.isfinite(loss)
    assert float(loss) == pytest.approx(-math.log(1e-15) / 2, rel=1e-3)
    logits = torch.tensor([[1000.0, -1000.0]])
    assert torch.isfinite(weighted_log_loss(logits, torch.tensor([1])))


def test_weighted_log_loss_from_logits_matches_cross_entropy_for_one_class():
    logits = torch.randn(16, 3)
    target = torch.zeros(16, dtype=torch.long)
    assert float(weighted_log_loss(logits, target)) == pytest.approx(
        float(F.cross_entropy(logits, target)), rel=1e-5
    )


def test_weighted_log_loss_has_gradients():
    logits = torch.randn(8, 3, requires_grad=True)
    weighted_log_loss(logits, torch.tensor([0, 1, 2, 0, 1, 2, 0, 0])).backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_make_loss_rejects_unknown_names():
    assert set(LOSSES) >= {"cross_entropy", "weighted_log_loss", "mse", "mae"}
    with pytest.raises(ValueError, match=r"unknown loss 'focal'.*cross_entropy"):
        make_loss("focal")
    mse = make_loss("mse")
    assert float(mse(torch.tensor([[1.0], [3.0]]), torch.tensor([0.0, 1.0]))) == pytest.approx(2.5)
