"""Candidate galleries: the right objects, real figures, readable errors."""

import base64
import io
import re

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from matplotlib.image import imread

from skysift.data.synthetic import synthesize_store
from skysift.exceptions import DataFormatError
from skysift.io.store import write_store
from skysift.serving.batch import predict_store
from skysift.serving.gallery import (
    plot_thumbnail,
    read_predictions,
    select_candidates,
    write_gallery,
)

CLASSES = ["absorption", "double-peak", "emission"]


def random_predictions(ids, seed=0, ties=True):
    """Softmax-like probabilities over CLASSES, with exact ties if asked."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(ids), len(CLASSES))) * 2
    p = np.exp(logits)
    p = (p / p.sum(1, keepdims=True)).astype(np.float32)
    if ties:  # three objects share the same probabilities
        p[5] = p[7] = p[9] = p[int(np.argmax(p[:, 2]))]
    df = pd.DataFrame({"object_id": ids})
    for i, name in enumerate(CLASSES):
        df[f"prob_{name}"] = p[:, i]
    df["pred_class"] = np.asarray(CLASSES)[p.argmax(1)]
    df["pred_prob"] = p.max(1)
    return df


def embedded_pngs(html):
    """Decode every embedded image of a gallery page into an RGBA array."""
    return [
        imread(io.BytesIO(base64.b64decode(b)), format="png")
        for b in re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    ]


def card_ids(html):
    return re.findall(r'<span class="id">([^<]+)</span>', html)


@pytest.mark.parametrize("top", [1, 10, 500, 2000])
def test_top_n_are_the_n_highest_probabilities(top):
    ids = [f"o{i:05d}" for i in np.random.default_rng(1).permutation(1000)]
    pred = random_predictions(ids)
    got = select_candidates(pred, class_name="emission", top=top)
    # independent reference: a full sort, probability descending, then id
    ref = pred.sort_values(
        ["prob_emission", "object_id"], ascending=[False, True]
    ).head(top)
    assert got.object_id.tolist() == ref.object_id.tolist()
    assert got["rank"].tolist() == list(range(1, min(top, 1000) + 1))
    np.testing.assert_array_equal(got.score, ref.prob_emission.astype(np.float64))
    left = pred.loc[~pred.object_id.isin(got.object_id), "prob_emission"]
    if len(left):
        assert got.prob_emission.min() >= left.max()


def test_least_confident_by_top_probability_and_by_entropy():
    pred = random_predictions([f"o{i:04d}" for i in range(400)], seed=2, ties=False)
    got = select_candidates(pred, uncertain=True, top=20)
    ref = pred.sort_values(["pred_prob", "object_id"]).head(20)
    assert got.object_id.tolist() == ref.object_id.tolist()

    probs = pred[[f"prob_{c}" for c in CLASSES]].to_numpy(np.float64)
    entropy = scipy.stats.entropy(probs, axis=1)  # nats, as the gallery reports
    got = select_candidates(pred, uncertain=True, top=20, uncertainty="entropy")
    assert (
        got.object_id.tolist()
        == pred.object_id.to_numpy()[np.argsort(-entropy)[:20]].tolist()
    )
    np.testing.assert_allclose(got.entropy, np.sort(entropy)[::-1][:20], rtol=1e-6)

    got = select_candidates(pred, class_name="emission", uncertain=True, top=500)
    assert (got.pred_class == "emission").all()
    assert len(got) == (pred.pred_class == "emission").sum()
    assert got.pred_prob.is_monotonic_increasing


def test_selection_errors_are_readable():
    pred = random_predictions(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])
    with pytest.raises(
        ValueError,
        match=r"no class 'emision'; available classes: "
        r"\['absorption', 'double-peak', 'emission'\]; did you mean 'emission'",
    ):
        select_candidates(pred, class_name="emision")
    with pytest.raises(ValueError, match="name a class to rank"):
        select_candidates(pred)
    with pytest.raises(ValueError, match="top must be >= 1"):
        select_candidates(pred, class_name="emission", top=0)
    with pytest.raises(ValueError, match="unknown uncertainty measure 'margin'"):
        select_candidates(pred, uncertain=True, uncertainty="margin")
    regression = pd.DataFrame({"object_id": ["a"], "pred_redshift": [0.3]})
    with pytest.raises(ValueError, match=r"no prob_<class> columns.*pred_redshift"):
        select_candidates(regression, class_name="emission")
    one_class = pred.assign(pred_class="absorption")
    one_class["prob_absorption"] = 0.9
    with pytest.raises(ValueError, match="no object is predicted as 'emission'"):
        select_candidates(one_class, class_name="emission", uncertain=True)


def test_spectra_gallery_from_real_predictions(halpha, tmp_path):
    store, model = halpha
    preds = tmp_path / "p.parquet"
    predict_store(model, store.path, preds)
    out = tmp_path / "g.html"
    result = write_gallery(preds, store.path, out, class_name="emission", top=12)

    html = out.read_text()
    table = pd.read_parquet(preds)
    expected = table.nlargest(12, "prob_emission").object_id.tolist()
    assert result["object_ids"] == expected == card_ids(html)
    assert "top 12 by probability of emission, of 300 predicted objects" in html
    # every card has its label from the store and its three probabilities
    labels = dict(
        zip(*store.read(["object_id", "label"]).to_pydict().values(), strict=True)
    )
    for oid in expected:
        assert f"label <b>{labels[oid]}</b>" in html
    first = table.set_index("object_id").loc[expected[0]]
    assert f"{first.prob_emission:.3f}</td>" in html
    images = embedded_pngs(html)
    assert len(images) == 12
    for img in images:
        assert img.shape[:2] == (200, 360)
        assert img[..., :3].std() > 0.05  # drawn, not blank
    # the same figure as a file, to look at
    fig = plot_thumbnail(store.get(expected[0]))
    fig.savefig(tmp_path / "first.png")
    assert imread(tmp_path / "first.png").shape[:2] == (200, 360)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "wavelength (Å)"
    assert any(t.get_text() == " Hα" for t in ax.texts)  # seed 001's window covers it

    with pytest.raises(FileExistsError, match="already exists"):
        write_gallery(preds, store.path, out, class_name="emission")
    result = write_gallery(
        preds, store, out, uncertain=True, uncertainty="entropy", top=5, overwrite=True
    )
    assert "5 least confident objects (highest entropy first)" in out.read_text()
    assert "entropy = " in out.read_text()


def test_light_curve_gallery_draws_each_band_with_error_bars(tmp_path):
    store = synthesize_store(tmp_path / "lc", "lightcurves", 12, survey="lsst", seed=0)
    pred = random_predictions(store.ids().tolist(), ties=False)
    out = tmp_path / "lc.html"
    write_gallery(pred, store.path, out, class_name="double-peak", top=4)
    html = out.read_text()
    assert len(card_ids(html)) == len(embedded_pngs(html)) == 4
    lc = store.get(card_ids(html)[0])
    fig = plot_thumbnail(lc)
    ax = fig.axes[0]
    assert ax.get_title() == ""  # the card names the object
    drawn = {c.get_label() for c in ax.containers}  # one errorbar container per band
    assert drawn == set(lc.bands)
    assert all(c.has_yerr for c in ax.containers)


def test_ids_missing_from_the_store_are_named(tmp_path):
    store = synthesize_store(tmp_path / "s", "halpha", 20, seed=0)
    pred = random_predictions(
        [
            *store.ids().tolist()[:15],
            "ghost-1",
            "ghost-2",
            "ghost-3",
            "ghost-4",
            "ghost-5",
        ],
        ties=False,
    )
    pred.loc[pred.object_id.str.startswith("ghost"), "prob_emission"] = 0.99
    with pytest.raises(
        KeyError,
        match=r"5 of the 10 chosen objects are not in the store .*"
        r"\['ghost-1', 'ghost-2', 'ghost-3', 'ghost-4', 'ghost-5'\]",
    ):
        write_gallery(
            pred, store.path, tmp_path / "g.html", class_name="emission", top=10
        )
    assert not (tmp_path / "g.html").exists()


def test_prepared_store_is_refused(tmp_path):
    store = write_store(
        tmp_path / "prep",
        {"object_id": ["a"], "x": np.zeros((1, 4)), "extra": np.zeros((1, 0))},
        kind="prepared",
    )
    with pytest.raises(DataFormatError, match="pass the store they were prepared from"):
        write_gallery(
            random_predictions(["a"] * 10, ties=False),
            store.path,
            tmp_path / "g.html",
            class_name="emission",
        )


def test_spark_style_prediction_directories_are_read(tmp_path):
    pred = random_predictions([f"o{i}" for i in range(30)], ties=False)
    d = tmp_path / "p.parquet"
    d.mkdir()
    pred.iloc[:10].to_parquet(d / "part-00000.parquet")
    pred.iloc[10:].to_parquet(d / "part-00001.parquet")
    (d / "_SUCCESS").write_text("")
    (d / ".part-00000.parquet.crc").write_bytes(b"\x00")
    got = read_predictions(d)
    assert sorted(got.object_id) == sorted(pred.object_id)
    (tmp_path / "foreign.parquet").write_text("not parquet")
    with pytest.raises(DataFormatError, match="not a readable Parquet"):
        read_predictions(tmp_path / "foreign.parquet")
    pd.DataFrame({"id": [1]}).to_parquet(tmp_path / "noid.parquet")
    with pytest.raises(DataFormatError, match="no object_id column"):
        read_predictions(tmp_path / "noid.parquet")
