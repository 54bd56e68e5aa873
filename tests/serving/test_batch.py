"""Batch prediction: engines agree, counts are honest, interrupted runs resume exactly."""

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from skysift.compression import export_onnx
from skysift.exceptions import DataFormatError, SkysiftError
from skysift.io.store import StoreWriter, open_store
from skysift.serving.batch import check_model_store, predict_store, prepare_records


class Stop(Exception):
    """Raised from a progress callback to interrupt a run."""


def stop_after(k):
    calls = []

    def callback(n):
        calls.append(n)
        if len(calls) == k:
            raise Stop

    return callback


def read(path):
    return pd.read_parquet(path), pd.read_csv(f"{path}.rejected.csv")


@pytest.fixture(scope="module")
def onnx_file(halpha, tmp_path_factory):
    _, model = halpha
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    export_onnx(model, path)
    return path


@pytest.fixture(scope="module")
def reference(halpha, tmp_path_factory):
    """An uninterrupted torch run with chunks of 64."""
    store, model = halpha
    out = tmp_path_factory.mktemp("ref") / "ref.parquet"
    summary = predict_store(model, store.path, out, batch_size=64)
    return out, summary


def test_every_id_once_and_counts_add_up(halpha, reference):
    store, _ = halpha
    out, s = reference
    pred, rej = read(out)
    assert s["n_in"] == store.n_objects == s["n_out"] + s["n_rejected"] == 302
    assert len(pred) == s["n_out"] and len(rej) == s["n_rejected"] == 2
    ids = list(pred.object_id) + list(rej.object_id)
    assert sorted(ids) == sorted(store.ids()) and len(set(ids)) == len(ids)
    assert list(pred.object_id) == [i for i in store.ids() if i not in set(rej.object_id)]
    assert set(rej.reason) == {"non-finite values after preparation"}
    assert sum(s["class_counts"].values()) == s["n_out"]
    assert s["class_counts"] == pred.pred_class.value_counts().to_dict() | {
        c: 0 for c in s["class_counts"] if c not in set(pred.pred_class)
    }
    assert not out.with_name(out.name + ".partial").exists()


def test_engines_agree(halpha, reference, onnx_file, tmp_path):
    store, model = halpha
    ref, _ = read(reference[0])
    a = predict_store(onnx_file, store.path, tmp_path / "a.parquet", batch_size=64)
    b = predict_store(
        model, store.path, tmp_path / "b.parquet", engine="onnx", batch_size=100,
        cache_dir=tmp_path / "cache",
    )
    assert a["engine"] == b["engine"] == "onnx"
    assert len(list((tmp_path / "cache" / "onnx").glob("*.onnx"))) == 1
    for name in ("a", "b"):
        got, rej = read(tmp_path / f"{name}.parquet")
        assert list(got.columns) == list(ref.columns)
        assert (got.object_id == ref.object_id).all()
        probs = [c for c in ref.columns if c.startswith("prob_")]
        np.testing.assert_allclose(got[probs], ref[probs], rtol=0, atol=1e-4)
        assert (got.pred_class == ref.pred_class).mean() == 1.0
        assert sorted(rej.object_id) == ["bad-0", "bad-1"]
    assert pq.read_schema(tmp_path / "a.parquet").types == pq.read_schema(reference[0]).types


def test_chunks_across_row_groups_give_the_same_rows(halpha, reference, tmp_path):
    store, model = halpha
    # row groups of 40 and parts of 100: chunks of 37 start mid-group and mid-part
    predict_store(model, store.path, tmp_path / "p.parquet", batch_size=37)
    got, _ = read(tmp_path / "p.parquet")
    pd.testing.assert_frame_equal(got, read(reference[0])[0])


def test_interrupted_run_resumes_without_duplicates(halpha, reference, tmp_path):
    store, model = halpha
    out = tmp_path / "p.parquet"
    with pytest.raises(Stop):
        predict_store(model, store.path, out, batch_size=64, progress=stop_after(2))
    partial = out.with_name(out.name + ".partial")
    assert not out.exists()
    assert sorted(p.name for p in partial.glob("chunk-*")) == [
        "chunk-000000.parquet", "chunk-000001.parquet"
    ]
    resumed = []
    s = predict_store(model, store.path, out, batch_size=64, on_resume=resumed.append)
    assert resumed == [128] and s["n_resumed"] == 128
    got, rej = read(out)
    ref, ref_rej = read(reference[0])
    pd.testing.assert_frame_equal(got, ref)
    pd.testing.assert_frame_equal(rej, ref_rej)
    assert s["n_in"] == 302 and s["n_out"] + s["n_rejected"] == 302
    assert not partial.exists()


def test_hard_kill_mid_chunk_then_resume(halpha, reference, tmp_path):
    """os._exit skips every cleanup, like kill -9; a half-written chunk is left too."""
    store, model = halpha
    out = tmp_path / "p.parquet"
    script = textwrap.dedent(
        f"""
        import os
        from skysift.serving.batch import predict_store
        calls = []
        def progress(n):
            calls.append(n)
            if len(calls) == 3:
                os._exit(9)
        predict_store({str(model)!r}, {str(store.path)!r}, {str(out)!r},
                      batch_size=64, progress=progress)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    partial = out.with_name(out.name + ".partial")
    assert len(list(partial.glob("chunk-*.parquet"))) == 3
    (partial / ".chunk-000003.parquet.tmp-123").write_bytes(b"PAR1 half a chunk")
    (partial / "chunk-000004.parquet").write_bytes(b"PAR1 a damaged chunk")
    s = predict_store(model, store.path, out, batch_size=64)
    assert s["n_resumed"] == 192
    got, rej = read(out)
    ref, ref_rej = read(reference[0])
    pd.testing.assert_frame_equal(got, ref)
    pd.testing.assert_frame_equal(rej, ref_rej)


def test_resume_refuses_another_job(halpha, tmp_path):
    store, model = halpha
    out = tmp_path / "p.parquet"
    with pytest.raises(Stop):
        predict_store(model, store.path, out, batch_size=64, progress=stop_after(1))
    with pytest.raises(SkysiftError, match=r"another job.*batch_size"):
        predict_store(model, store.path, out, batch_size=32)
    s = predict_store(model, store.path, out, batch_size=32, overwrite=True)
    assert s["n_resumed"] == 0 and s["n_in"] == 302
    with pytest.raises(Stop):
        predict_store(model, store.path, out, batch_size=64, overwrite=True, progress=stop_after(1))
    s = predict_store(model, store.path, out, batch_size=64, overwrite=True, resume=False)
    assert s["n_resumed"] == 0


def test_an_object_that_breaks_a_step_is_rejected_alone(halpha, reference, tmp_path):
    store, model = halpha
    table = store.read()
    broken = table.slice(10, 1).to_pydict()
    broken["object_id"] = ["reversed"]
    broken["wavelength_aa"] = [broken["wavelength_aa"][0][::-1]]  # decreasing: regrid raises
    path = tmp_path / "store"
    with StoreWriter(path, kind="spectra", row_group_size=40) as w:
        w.write(table.slice(0, 100))
        w.write(broken)
        w.write(table.slice(100))
    s = predict_store(model, path, tmp_path / "p.parquet", batch_size=64)
    got, rej = read(tmp_path / "p.parquet")
    assert s["n_in"] == 303 and s["n_rejected"] == 3
    reason = rej.set_index("object_id").reason["reversed"]
    assert reason.startswith("preparation failed: DataFormatError") and "decreas" in reason
    pd.testing.assert_frame_equal(got, read(reference[0])[0])


def test_a_corrupt_row_group_is_rejected_with_its_ids(halpha, reference, tmp_path):
    store, model = halpha
    copy = tmp_path / "store"
    shutil.copytree(store.path, copy)
    part = open_store(copy).part_paths[0]
    meta = pq.read_metadata(part).row_group(1)  # rows 40-79
    names = [meta.column(i).path_in_schema for i in range(meta.num_columns)]
    col = meta.column(names.index("flux.list.element"))
    raw = bytearray(part.read_bytes())
    start = col.dictionary_page_offset or col.data_page_offset
    raw[start : start + 16] = b"\xff" * 16  # the page header: undecodable
    part.write_bytes(bytes(raw))
    s = predict_store(model, copy, tmp_path / "p.parquet", batch_size=64)
    got, rej = read(tmp_path / "p.parquet")
    ids = store.ids()
    unreadable = rej[rej.reason.str.startswith("unreadable chunk")]
    # chunks 0-63 and 64-127 both touch the group; only its 40 rows are lost
    assert sorted(unreadable.object_id) == sorted(ids[40:80])
    assert "row group 1" in unreadable.reason.iloc[0]
    assert s["n_in"] == 302 and s["n_out"] + s["n_rejected"] == 302
    ref = read(reference[0])[0]
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), ref[~ref.object_id.isin(ids[40:80])].reset_index(drop=True)
    )


def test_bad_inputs_are_refused_before_any_work(halpha, onnx_file, tmp_path):
    store, model = halpha
    out = tmp_path / "p.parquet"
    lc = tmp_path / "lc"
    with StoreWriter(lc, kind="lightcurves") as w:
        w.write({"object_id": ["a"], "time_mjd": [np.array([1.0, 2.0])],
                 "band": [np.array(["g", "r"])], "flux": [np.ones(2, np.float32)],
                 "flux_err": [np.ones(2, np.float32)]})
    with pytest.raises(DataFormatError, match=r"lc holds lightcurves but the model .*model.pt"):
        predict_store(model, lc, out)
    with pytest.raises(DataFormatError, match=r"lc holds lightcurves.*model.onnx"):
        predict_store(onnx_file, lc, out)
    not_model = tmp_path / "model.pt"
    not_model.write_bytes(b"not a model")
    with pytest.raises(DataFormatError, match=r"model.pt: not a readable skysift model"):
        predict_store(not_model, store.path, out)
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(onnx_file.read_bytes()[:5000])
    with pytest.raises(DataFormatError, match=r"corrupt.onnx: not a readable ONNX model"):
        predict_store(corrupt, store.path, out)
    with pytest.raises(ValueError, match="runs with engine='onnx'"):
        predict_store(onnx_file, store.path, out, engine="torch")
    with pytest.raises(ValueError, match="engine must be one of"):
        predict_store(model, store.path, out, engine="tf")
    assert not list(tmp_path.glob("p.parquet*"))  # nothing was started


def test_preparation_that_does_not_fit_the_model_is_refused(halpha, tmp_path):
    from skysift.preprocessing import Pipeline
    from skysift.training import load_model

    store, model = halpha
    loaded = load_model(model)
    loaded.pipeline = Pipeline.from_config(
        {"kind": "spectra", "steps": [{"regrid": {"start_aa": 6520.0, "stop_aa": 6730.0, "num": 100}}]}
    )
    with pytest.raises(DataFormatError, match=r"inputs of shape \(1, 100\).*takes \(1, 140\)"):
        check_model_store(loaded, store)
    loaded = load_model(model)
    loaded.class_names = None
    with pytest.raises(DataFormatError, match="0 class names for 3 outputs"):
        predict_store(loaded, store.path, tmp_path / "p.parquet")


def test_prepared_store(halpha, reference, tmp_path):
    from skysift.training import load_model

    store, model = halpha
    loaded = load_model(model)
    prepared = prepare_records(store.read(), loaded.pipeline)
    path = tmp_path / "prepared"
    with StoreWriter(path, kind="prepared", attrs={"input_shape": [1, 140]}) as w:
        w.write({"object_id": list(prepared["object_id"]), "x": prepared["x"].reshape(len(prepared["x"]), -1),
                 "extra": np.zeros((len(prepared["x"]), 0), np.float32)})
    predict_store(model, path, tmp_path / "p.parquet")
    got, rej = read(tmp_path / "p.parquet")
    pd.testing.assert_frame_equal(got, read(reference[0])[0])
    assert rej.empty


def test_onnx_engine_does_not_import_torch(halpha, onnx_file, tmp_path):
    store, _ = halpha
    out = tmp_path / "p.parquet"
    script = textwrap.dedent(
        f"""
        import sys
        from skysift.cli.main import main
        code = main(["predict", {str(onnx_file)!r}, "--data", {str(store.path)!r},
                     "--out", {str(out)!r}, "--no-progress"])
        assert code == 0
        loaded = [m for m in sys.modules if m.split(".")[0] in ("torch", "lightning")]
        print("torch modules:", loaded)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "torch modules: []" in proc.stdout
    assert len(pd.read_parquet(out)) == 300


@pytest.mark.slow
def test_worker_processes_give_the_same_rows(halpha, reference, onnx_file, tmp_path):
    store, model = halpha
    s = predict_store(model, store.path, tmp_path / "t.parquet", batch_size=64, workers=2)
    assert s["workers"] == 2
    pd.testing.assert_frame_equal(read(tmp_path / "t.parquet")[0], read(reference[0])[0])
    with pytest.raises(Stop):
        predict_store(onnx_file, store.path, tmp_path / "o.parquet", batch_size=32,
                      workers=2, progress=stop_after(3))
    s = predict_store(onnx_file, store.path, tmp_path / "o.parquet", batch_size=32, workers=2)
    assert s["n_resumed"] >= 3 * 32
    got, _ = read(tmp_path / "o.parquet")
    ref = read(reference[0])[0]
    assert (got.object_id == ref.object_id).all()
    np.testing.assert_allclose(got.filter(like="prob_"), ref.filter(like="prob_"), atol=1e-4)
    job = tmp_path / "o.parquet.partial" / "job.json"
    assert not job.exists()


def test_job_file_records_the_job(halpha, tmp_path):
    store, model = halpha
    out = tmp_path / "p.parquet"
    with pytest.raises(Stop):
        predict_store(model, store.path, out, batch_size=64, progress=stop_after(1))
    job = json.loads((tmp_path / "p.parquet.partial" / "job.json").read_text())
    assert job["batch_size"] == 64 and job["engine"] == "torch" and job["n_objects"] == 302
    assert len(job["model_sha256"]) == 64
