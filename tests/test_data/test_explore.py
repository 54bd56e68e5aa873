"""PCA / t-SNE maps (seed 001 ch. 8)."""

import numpy as np
import pytest

from skysift.data.explore import embed, explore_stores, load_sample, plot_map
from skysift.data.synthetic import synthesize_store
from skysift.exceptions import DataFormatError
from skysift.io.store import write_store


def blobs(n=90, dim=20, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(["a", "b", "c"], n // 3)
    centres = rng.normal(0, 6, (3, dim))
    x = centres[np.repeat(np.arange(3), n // 3)] + rng.normal(0, 1, (n, dim))
    return x, y


def test_pca_matches_the_svd():
    x, _ = blobs()
    coords, info = embed(x, method="pca")
    centred = x - x.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    ref = u[:, :2] * s[:2]
    for k in range(2):  # principal axes are defined up to sign
        sign = np.sign(coords[:, k] @ ref[:, k])
        np.testing.assert_allclose(coords[:, k] * sign, ref[:, k], atol=1e-8)
    np.testing.assert_allclose(
        info["explained_variance_ratio"], s[:2] ** 2 / np.sum(s**2)
    )


def test_tsne_keeps_neighbourhoods_and_is_seeded():
    from sklearn.manifold import trustworthiness

    x, y = blobs(n=60)
    coords, info = embed(x, method="tsne", seed=3)
    assert info["perplexity"] == pytest.approx(59 / 3)  # capped for 60 points
    assert trustworthiness(x, coords, n_neighbors=5) > 0.9
    again, _ = embed(x, method="tsne", seed=3)
    np.testing.assert_allclose(coords, again)
    # each class is its own cluster
    centre = {c: coords[y == c].mean(axis=0) for c in "abc"}
    nearest = [
        min(centre, key=lambda c, p=p: np.linalg.norm(p - centre[c])) for p in coords
    ]
    assert np.mean(np.array(nearest) == y) > 0.95


def test_embed_errors():
    x, _ = blobs()
    with pytest.raises(
        ValueError, match=r"unknown embedding method 'umap'.*'pca', 'tsne'"
    ):
        embed(x, method="umap")
    with pytest.raises(ValueError, match="at least 3"):
        embed(x[:2])
    x[4, 2] = np.nan
    with pytest.raises(ValueError, match="row 4"):
        embed(x)


def test_plot_map_colours_classes_and_marks_datasets():
    x, y = blobs()
    coords, info = embed(x)
    labels = y.astype(object)
    labels[:5] = None
    fig = plot_map(
        coords,
        labels,
        dataset=np.repeat([0, 1], 45),
        dataset_names=["src", "tgt"],
        info=info,
    )
    ax = fig.axes[0]
    legends = [c for c in ax.get_children() if type(c).__name__ == "Legend"]
    texts = sorted(t.get_text() for lg in legends for t in lg.get_texts())
    assert texts == [
        "a (25)",
        "b (30)",
        "c (30)",
        "src (45)",
        "tgt (45)",
        "unlabelled (5)",
    ]
    assert ax.get_xlabel().startswith("PC 1 (") and "% of variance" in ax.get_ylabel()
    assert "from 2 datasets" in ax.get_title()
    # datasets differ in marker: filled circles vs outlined triangles
    faces = {
        len(c.get_facecolors()) > 0 and c.get_facecolors()[0][3] > 0
        for c in ax.collections
    }
    assert faces == {True, False}


@pytest.fixture
def halpha_stores(tmp_path):
    a = synthesize_store(
        tmp_path / "ondrejov", "halpha", 90, seed=0, resolving_power=13000.0
    )
    b = synthesize_store(
        tmp_path / "lamost",
        "halpha",
        60,
        seed=1,
        resolving_power=1800.0,
        frame="vacuum",
        num_pixels=140,
    )
    return a, b


def test_load_sample_is_a_seeded_subset(halpha_stores):
    store, _ = halpha_stores
    sample = load_sample(store.path, max_objects=25, seed=4)
    ids = sample["object_id"].tolist()
    assert (
        len(ids) == 25 and ids == sorted(ids) and set(ids) <= set(store.ids().tolist())
    )
    assert load_sample(store.path, max_objects=25, seed=4)["object_id"].tolist() == ids
    assert len(load_sample(store.path, max_objects=None)["object_id"]) == 90
    assert sample["kind"] == "spectra" and sample["flux"].shape == (25, 800)


def test_explore_two_archives_on_one_map(halpha_stores, tmp_path):
    a, b = halpha_stores
    res = explore_stores([a.path, b.path], out=tmp_path / "map.png", max_per_dataset=50)
    assert res["counts"] == [50, 50] and res["names"] == ["ondrejov", "lamost"]
    assert res["coords"].shape == (100, 2) and np.isfinite(res["coords"]).all()
    assert set(res["labels"]) == {"emission", "absorption", "double-peak"}
    with open(res["path"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # classes separate along the first principal component of standardised spectra
    em = res["coords"][res["labels"] == "emission", 0].mean()
    ab = res["coords"][res["labels"] == "absorption", 0].mean()
    assert abs(em - ab) > 3.0


def test_explore_prepared_stores_and_kind_errors(halpha_stores, tmp_path):
    from skysift.preprocessing import Pipeline
    from skysift.preprocessing.prepare import prepare_store

    a, b = halpha_stores
    steps = [{"regrid": {"num": 70}}, "standardize"]
    pa_ = prepare_store(
        a.path,
        tmp_path / "pa",
        Pipeline.from_config({"kind": "spectra", "steps": steps}),
    )
    res = explore_stores([pa_["store"].path], method="tsne", max_per_dataset=None)
    assert res["counts"] == [90] and res["info"]["method"] == "tsne"
    with pytest.raises(DataFormatError, match="all of one kind"):
        explore_stores([pa_["store"].path, b.path])
    steps[0] = {"regrid": {"num": 60}}
    pb = prepare_store(
        b.path,
        tmp_path / "pb",
        Pipeline.from_config({"kind": "spectra", "steps": steps}),
    )
    with pytest.raises(DataFormatError, match=r"different sizes \[60, 70\]"):
        explore_stores([pa_["store"].path, pb["store"].path])


def test_explore_disjoint_ranges_and_light_curves(tmp_path):
    red = synthesize_store(
        tmp_path / "red",
        "gaussian-lines",
        12,
        seed=0,
        wavelength_range_aa=(7000.0, 9000.0),
        num_pixels=100,
    )
    blue = synthesize_store(
        tmp_path / "blue",
        "gaussian-lines",
        12,
        seed=0,
        wavelength_range_aa=(3000.0, 5000.0),
        num_pixels=100,
    )
    with pytest.raises(DataFormatError, match="share no wavelength range"):
        explore_stores([red.path, blue.path])
    lc = synthesize_store(tmp_path / "lc", "lightcurves", 12, seed=0)
    with pytest.raises(DataFormatError, match="prepare light curves first"):
        explore_stores([lc.path])
    empty = write_store(
        tmp_path / "empty",
        {"object_id": [], "wavelength_aa": [], "flux": [], "ivar": [], "mask": []},
        kind="spectra",
    )
    with pytest.raises(DataFormatError, match="empty"):
        load_sample(empty.path)
