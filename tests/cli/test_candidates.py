"""skysift candidates: a gallery from a predictions file and its store."""

import base64
import re

import numpy as np
import pandas as pd
import pytest

from skysift.cli.main import main
from skysift.data.synthetic import synthesize_store

CLASSES = ["absorption", "double-peak", "emission"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 40-object H-alpha store and made-up predictions for it."""
    root = tmp_path_factory.mktemp("cand")
    store = synthesize_store(root / "store", "halpha", 40, seed=3)
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=40).astype(np.float32)
    df = pd.DataFrame({"object_id": store.ids()})
    for i, name in enumerate(CLASSES):
        df[f"prob_{name}"] = p[:, i]
    df["pred_class"] = np.asarray(CLASSES)[p.argmax(1)]
    df["pred_prob"] = p.max(1)
    path = root / "predictions.parquet"
    df.to_parquet(path)
    return store, path, df


def test_top_candidates_of_a_class(capsys, files, tmp_path):
    store, preds, df = files
    out = tmp_path / "gallery.html"
    code, stdout, err = run(
        capsys,
        "candidates",
        preds,
        "--data",
        store.path,
        "--class",
        "emission",
        "--top",
        "7",
        "--out",
        out,
    )
    assert code == 0, err
    assert "top 7 by probability of emission, of 40 predicted objects" in stdout
    assert f"wrote {out}" in stdout
    html = out.read_text()
    ids = re.findall(r'<span class="id">([^<]+)</span>', html)
    assert ids == df.nlargest(7, "prob_emission").object_id.tolist()
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(pngs) == 7
    assert all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert "<h1>emission candidates</h1>" in html

    code, _, err = run(
        capsys,
        "candidates",
        preds,
        "--data",
        store.path,
        "--class",
        "emission",
        "--out",
        out,
    )
    assert code == 1 and "already exists" in err


def test_uncertain_objects_by_entropy(capsys, files, tmp_path):
    store, preds, df = files
    out = tmp_path / "unsure.html"
    code, stdout, err = run(
        capsys,
        "candidates",
        preds,
        "--data",
        store.path,
        "--uncertain",
        "--by",
        "entropy",
        "--top",
        "3",
        "--out",
        out,
        "--title",
        "Look again",
    )
    assert code == 0, err
    assert "3 least confident objects (highest entropy first)" in stdout
    p = df[[f"prob_{c}" for c in CLASSES]].to_numpy(np.float64)
    entropy = -(p * np.log(p)).sum(1)
    ids = re.findall(r'<span class="id">([^<]+)</span>', out.read_text())
    assert ids == df.object_id.to_numpy()[np.argsort(-entropy)[:3]].tolist()
    assert "<h1>Look again</h1>" in out.read_text()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (
            ["--class", "emision"],
            1,
            "no class 'emision'; available classes: ['absorption', 'double-peak', "
            "'emission']; did you mean 'emission'?",
        ),
        ([], 2, "give --class NAME, or --uncertain"),
        (
            ["--class", "emission", "--by", "entropy"],
            2,
            "--by applies only with --uncertain",
        ),
        (["--class", "emission", "--top", "0"], 2, "0 is not in the range x>=1"),
    ],
)
def test_bad_requests_are_readable(capsys, files, tmp_path, argv, code, message):
    store, preds, _ = files
    got, _, err = run(
        capsys,
        "candidates",
        preds,
        "--data",
        store.path,
        "--out",
        tmp_path / "g.html",
        *argv,
    )
    assert got == code
    assert message in err
    assert not (tmp_path / "g.html").exists()


def test_predictions_from_another_store(capsys, files, tmp_path):
    store, _, df = files
    other = df.assign(object_id=[f"elsewhere-{i}" for i in range(len(df))])
    preds = tmp_path / "other.parquet"
    other.to_parquet(preds)
    code, _, err = run(
        capsys,
        "candidates",
        preds,
        "--data",
        store.path,
        "--class",
        "emission",
        "--top",
        "5",
        "--out",
        tmp_path / "g.html",
    )
    assert code == 1
    assert "5 of the 5 chosen objects are not in the store" in err
    assert "elsewhere-" in err and "another store" in err


def test_listed_in_help(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "candidates" in out
