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


def test_workers_prepare_the_same_store_row_for_row(capsys, tmp_path):
    src = tmp_path / "lc"
    synthesize_store(src, "lightcurves", 60, seed=3, survey="ztf")
    cols = batch_from_arrow(open_store(src).read())
    cols["flux"] = [np.asarray(f, dtype=np.float64) for f in cols["flux"]]
    cols["flux"][5][:] = np.nan  # no usable point: kept, flagged
    bad = write_store(tmp_path / "bad", cols, kind="lightcurves").path
    config = tmp_path / "gp.yaml"
    config.write_text("kind: lightcurves\nsteps:\n  - gp: {survey: ztf, num_points: 20}\n")
    stores = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        code, stdout, err = run(capsys, "prepare", bad, out, "--config", config,
                                "--batch-size", "16", "--workers", workers)
        assert code == 0, err
        assert "read 60 objects: 60 prepared, 0 rejected" in stdout
        stores[workers] = open_store(out).read().to_pandas()
    one, two = stores[1], stores[2]
    assert list(one.columns) == list(two.columns) and "gp_flags" in one
    assert list(one["object_id"]) == list(np.asarray(cols["object_id"]))  # store order
    for column in one.columns:
        a, b = one[column].to_numpy(), two[column].to_numpy()
        if a.dtype == object and isinstance(a[0], np.ndarray):
            a, b = np.stack(a), np.stack(b)
        np.testing.assert_array_equal(a, b, err_msg=column)
    assert one["gp_flags"].iloc[5] & 1  # no_data


def test_gp_preparations_get_a_worker_per_core_and_chunk(monkeypatch):
    from skysift.preprocessing.pipeline import Pipeline
    from skysift.preprocessing.prepare import auto_workers

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    gp = Pipeline.from_config({"kind": "lightcurves", "steps": [{"gp": {"survey": "ztf"}}]})
    light = Pipeline.from_config({"kind": "lightcurves", "steps": [{"asinh": {"softening": 10}}]})
    assert auto_workers(gp, 10_000) == 3  # three chunks of 4096
    assert auto_workers(gp, 100_000) == 4  # four cores
    assert auto_workers(gp, 100) == 1
    assert auto_workers(light, 100_000) == 1
