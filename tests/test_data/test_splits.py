import numpy as np
import pytest

from skysift.data.splits import stratified_split


@pytest.mark.parametrize("test_size,val_size", [(0.2, 0.2), (0.1, 0.18), (0.3, 0.0)])
def test_fractions_and_stratification_hold_within_one_object(test_size, val_size):
    rng = np.random.default_rng(1)
    labels = rng.choice(["a", "b", "c", "d"], size=997, p=[0.6, 0.25, 0.1, 0.05])
    train, val, test = stratified_split(labels, test_size=test_size, val_size=val_size, seed=3)
    assert len(np.intersect1d(train, test)) == len(np.intersect1d(train, val)) == 0
    assert len(np.intersect1d(val, test)) == 0
    assert sorted(np.concatenate([train, val, test])) == list(range(len(labels)))
    for cls in np.unique(labels):
        n_cls = np.sum(labels == cls)
        assert abs(np.sum(labels[test] == cls) - test_size * n_cls) <= 1
        assert abs(np.sum(labels[val] == cls) - val_size * n_cls) <= 1


def test_groups_never_straddle_splits_and_fractions_hold_within_one_group():
    rng = np.random.default_rng(0)
    n_groups = 300
    group_label = rng.choice(["Ia", "Ib", "II"], size=n_groups, p=[0.6, 0.1, 0.3])
    sizes = rng.integers(1, 15, size=n_groups)  # epochs per supernova
    groups = np.repeat(np.arange(n_groups), sizes)
    labels = np.repeat(group_label, sizes)
    train, val, test = stratified_split(labels, groups=groups, test_size=0.2, val_size=0.2)
    sets = [set(groups[s]) for s in (train, val, test)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    for cls in np.unique(labels):
        n_cls = np.sum(labels == cls)
        biggest = sizes[group_label == cls].max()
        assert abs(np.sum(labels[test] == cls) - 0.2 * n_cls) <= biggest


def test_reproducible_and_seed_dependent():
    labels = np.repeat(["x", "y"], 50)
    a = stratified_split(labels, seed=1)
    b = stratified_split(labels, seed=1)
    c = stratified_split(labels, seed=2)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not np.array_equal(a[2], c[2])


def test_bad_arguments():
    with pytest.raises(ValueError, match="test_size must be in"):
        stratified_split(["a", "b"], test_size=1.5)
    with pytest.raises(ValueError, match="must be < 1"):
        stratified_split(["a", "b"], test_size=0.5, val_size=0.5)
    with pytest.raises(ValueError, match="groups has 1 rows but labels has 2"):
        stratified_split(["a", "b"], groups=["g"])
