import numpy as np
import pandas as pd

from skysift.cli.main import main
from skysift.data.synthetic import synthesize_store
from skysift.io.store import open_store, write_store
from skysift.preprocessing.pipeline import batch_from_arrow


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_prepare_counts_rejects_and_reapplies_the_saved_pipeline(capsys, tmp_path):
    src = tmp_path / "ha"
    synthesize_store(src, "halpha", 50, seed=0)
    cols = batch_from_arrow(open_store(src).read())
    cols["flux"] = np.array(cols["flux"], dtype=np.float32)
    cols["flux"][[3, 17]] = np.nan  # two spectra that cannot be prepared
    bad = write_store(tmp_path / "bad", cols, kind="spectra").path
    config = tmp_path / "prep.yaml"
    config.write_text(
        "kind: spectra\nsteps:\n  - regrid: {start_aa: 6519, stop_aa: 6732, num: 140}\n  - standardize\n"
    )
    out = tmp_path / "prepared"
    code, stdout, err = run(capsys, "prepare", bad, out, "--config", config)
    assert code == 0, err
    assert "read 50 objects: 48 prepared, 2 rejected" in stdout
    store = open_store(out)
    assert store.kind == "prepared" and store.n_objects == 48
    assert store.info()["attrs"]["input_shape"] == [1, 140]
    rejected = pd.read_csv(out / "_rejected.csv")
    assert sorted(rejected["object_id"]) == sorted(np.asarray(cols["object_id"])[[3, 17]])
    # the saved pipeline applied to another store gives the same arrays
    again = tmp_path / "again"
    code, _, err = run(capsys, "prepare", bad, again, "--pipeline", out / "_pipeline.json")
    assert code == 0, err
    a = open_store(out).read(["object_id", "x"]).to_pandas()
    b = open_store(again).read(["object_id", "x"]).to_pandas()
    assert list(a["object_id"]) == list(b["object_id"])
    np.testing.assert_array_equal(np.stack(a["x"]), np.stack(b["x"]))
    # x is standardised per spectrum
    x = np.stack(a["x"])
    np.testing.assert_allclose(x.mean(axis=1), 0, atol=1e-5)


def test_prepare_bad_arguments(capsys, tmp_path):
    src = tmp_path / "ha"
    synthesize_store(src, "halpha", 5, seed=0)
    code, _, err = run(capsys, "prepare", src, tmp_path / "o")
    assert code == 2 and "exactly one of --config or --pipeline" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: spectra\nsteps: [regridd]\n")
    code, _, err = run(capsys, "prepare", src, tmp_path / "o", "--config", bad)
    assert code == 1 and "did you mean 'regrid'" in err
    lc = tmp_path / "lc.yaml"
    lc.write_text("kind: lightcurves\nsteps: [standardize]\n")
    code, _, err = run(capsys, "prepare", src, tmp_path / "o", "--config", lc)
    assert code == 1 and "standardize" in err
