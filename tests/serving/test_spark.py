"""The Spark engine gives the local engine's predictions, row for row."""

import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from skysift.data.synthetic import synthesize_store
from skysift.exceptions import DataFormatError, SkysiftError
from skysift.serving.batch import predict_store
from skysift.serving.spark import _predict_partition, predict_spark

#: A small local session: two cores, no UI, two shuffle partitions, and a
#: JVM tuned to start fast (C1 JIT only, serial GC) -- on a busy 2-core
#: machine this halves the start-up and the first job.
SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.driver.memory": "1g",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


def _need_spark() -> None:
    """Skip, saying why, where pyspark or the Java runtime it drives is missing."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install 'skysift[spark]')")
    from skysift.serving.spark import find_java

    if find_java() is None:
        pytest.skip("Spark needs Java 17+: no java on PATH and JAVA_HOME not set")


@pytest.fixture(scope="module")
def spark():
    """One small local Spark session for the module, stopped at the end."""
    _need_spark()
    from skysift.serving.spark import _quiet_pandas_check, _start_session

    with _quiet_pandas_check():
        session, started = _start_session("local[2]", "skysift-tests", SPARK_CONF)
    yield session
    if started:
        session.stop()


def test_missing_pyspark_names_the_extra(monkeypatch, tmp_path):
    # None in sys.modules makes `import pyspark...` fail as if not installed.
    for name in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(
        ModuleNotFoundError, match=r"pip install 'skysift\[spark\]'"
    ) as e:
        predict_spark(tmp_path / "model.pt", tmp_path / "store", tmp_path / "p.parquet")
    assert e.value.name == "pyspark"


@pytest.mark.spark
@pytest.mark.slow
def test_spark_equals_predict_store_row_for_row(spark, halpha, tmp_path):
    store, model = halpha
    ref = tmp_path / "local.parquet"
    local = predict_store(model, store.path, ref, batch_size=64)
    out = tmp_path / "spark.parquet"
    out.write_text("an older result")  # replaced only with overwrite=True
    with pytest.raises(FileExistsError, match="already exists"):
        predict_spark(model, store.path, out, session=spark)
    got = predict_spark(
        model, store.path, out, session=spark, batch_size=50, overwrite=True
    )

    assert got["n_partitions"] > 1  # the store really was split over tasks
    for key in ("n_in", "n_out", "n_rejected", "class_counts"):
        assert got[key] == local[key], key
    assert got["n_in"] == 302 and got["n_rejected"] == 2
    a = pd.read_parquet(ref)
    b = pd.read_parquet(out)
    assert (
        list(b.columns)
        == list(a.columns)
        == [
            "object_id",
            "prob_absorption",
            "prob_double-peak",
            "prob_emission",
            "pred_class",
            "pred_prob",
        ]
    )
    assert pq.read_schema(ref).types == [f.type for f in pq.ParquetDataset(out).schema]
    assert b.object_id.is_unique and sorted(b.object_id) == sorted(a.object_id)
    b = b.set_index("object_id").loc[a.object_id].reset_index()
    probs = [c for c in a.columns if c.startswith("prob_") or c == "pred_prob"]
    np.testing.assert_allclose(
        b[probs].to_numpy(), a[probs].to_numpy(), rtol=0, atol=1e-5
    )
    assert (b.pred_class == a.pred_class).all()
    # not all one class, or the comparison of pred_class would say little
    assert a.pred_class.nunique() > 1
    rej_a = pd.read_csv(str(ref) + ".rejected.csv").sort_values("object_id")
    rej_b = pd.read_csv(str(out) + ".rejected.csv").sort_values("object_id")
    assert rej_b.to_numpy().tolist() == rej_a.to_numpy().tolist()
    assert set(rej_b.object_id) == {"bad-0", "bad-1"}
    assert not list(tmp_path.glob(".spark.parquet.tmp-*"))  # no leftovers


@pytest.mark.spark
def test_task_function_predicts_and_rejects_without_a_cluster(halpha):
    """The executor code path on plain Arrow batches: predictions, then rejects."""
    pytest.importorskip("pyspark")
    from skysift.serving.spark import _output_schema

    store, model = halpha

    class Broadcast:  # what sc.broadcast gives an executor: .value
        value = model.read_bytes()

    schema = _output_schema(["absorption", "double-peak", "emission"], "label")
    batches = list(store.iter_batches(batch_size=151))
    out = list(
        _predict_partition(
            iter(batches),
            digest="test",
            data=Broadcast,
            schema=schema,
            input_shape=None,
        )
    )
    assert [b.num_rows for b in out] == [151, 151]
    rows = pd.concat([b.to_pandas() for b in out])
    bad = rows[rows["__skysift_reject_reason"].notna()]
    assert sorted(bad.object_id) == ["bad-0", "bad-1"]
    assert bad.prob_emission.isna().all()
    good = rows[rows["__skysift_reject_reason"].isna()]
    assert len(good) == 300
    np.testing.assert_allclose(good.filter(like="prob_").sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.spark
def test_wrong_store_kind_refused_before_any_work(halpha, tmp_path):
    pytest.importorskip("pyspark")
    _, model = halpha
    lc = synthesize_store(tmp_path / "lc", "lightcurves", 6, survey="ztf", seed=0)
    with pytest.raises(
        DataFormatError,
        match=r"holds lightcurves but the model .*model.pt was trained on spectra",
    ):
        predict_spark(model, lc.path, tmp_path / "p.parquet")
    assert not (tmp_path / "p.parquet").exists()


@pytest.mark.spark
@pytest.mark.slow
def test_prepared_store_with_a_loaded_model(spark, halpha, tmp_path):
    """Model inputs stored ready-made, and a model given in memory, not as a file."""
    from skysift.io.store import StoreWriter
    from skysift.serving.batch import prepare_records
    from skysift.training.checkpoint import load_model

    store, model = halpha
    loaded = load_model(model)
    prepared = prepare_records(store.read(), loaded.pipeline)
    path = tmp_path / "prepared"
    with StoreWriter(
        path, kind="prepared", attrs={"input_shape": [1, 140]}, row_group_size=50
    ) as w:
        w.write(
            {
                "object_id": list(prepared["object_id"]),
                "x": prepared["x"].reshape(len(prepared["x"]), -1),
                "extra": np.zeros((len(prepared["x"]), 0), np.float32),
            }
        )
    local = predict_store(loaded, path, tmp_path / "local.parquet")
    got = predict_spark(loaded, path, tmp_path / "spark.parquet", session=spark)
    assert got["n_out"] == local["n_out"] == 300 and got["n_rejected"] == 0
    assert got["class_counts"] == local["class_counts"]
    a = pd.read_parquet(tmp_path / "local.parquet")
    b = pd.read_parquet(tmp_path / "spark.parquet").set_index("object_id")
    b = b.loc[a.object_id].reset_index()
    np.testing.assert_allclose(
        b.filter(like="prob_"), a.filter(like="prob_"), rtol=0, atol=1e-5
    )
    assert pd.read_csv(tmp_path / "spark.parquet.rejected.csv").empty


def test_missing_java_is_refused_with_the_fix(monkeypatch):
    from skysift.serving.spark import _require_java, find_java

    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert find_java() is None
    with pytest.raises(SkysiftError, match=r"needs a Java runtime .*no java on PATH"):
        _require_java()
    monkeypatch.setenv("JAVA_HOME", "/nonexistent/jdk")
    with pytest.raises(SkysiftError, match=r"JAVA_HOME=/nonexistent/jdk has no bin/java"):
        _require_java()


def _cli(capsys, *argv):
    from skysift.cli.main import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.spark
@pytest.mark.slow
def test_cli_spark_engine_equals_torch_engine(spark, halpha, tmp_path, capsys):
    """skysift predict --engine spark --master local[2]: torch's rows, rejects and summary."""
    store, model = halpha
    code, out_t, err = _cli(
        capsys, "predict", model, "--data", store.path, "--out", tmp_path / "t.parquet",
        "--engine", "torch", "--batch-size", "64", "--no-progress",
    )
    assert code == 0, err
    code, out_s, err = _cli(
        capsys, "predict", model, "--data", store.path, "--out", tmp_path / "s.parquet",
        "--engine", "spark", "--master", "local[2]", "--batch-size", "50",
        "--conf", "spark.ui.enabled=false",
    )
    assert code == 0, err
    # the same counts and class tally are reported
    for out in (out_t, out_s):
        assert "read 302 objects: 300 predicted, 2 rejected" in out
    line = [t for t in out_t.splitlines() if t.startswith("predicted classes:")]
    assert line and line[0] in out_s.splitlines()
    assert "engine spark, master local[2]" in out_s
    a = pd.read_parquet(tmp_path / "t.parquet")
    b = pd.read_parquet(tmp_path / "s.parquet")
    assert list(b.columns) == list(a.columns) and len(b) == len(a) == 300
    b = b.set_index("object_id").loc[a.object_id].reset_index()
    probs = [c for c in a.columns if c.startswith("prob_") or c == "pred_prob"]
    np.testing.assert_allclose(b[probs].to_numpy(), a[probs].to_numpy(), rtol=0, atol=1e-5)
    assert (b.pred_class == a.pred_class).all() and a.pred_class.nunique() > 1
    rej = [
        pd.read_csv(tmp_path / f"{n}.parquet.rejected.csv").sort_values("object_id")
        for n in "ts"
    ]
    assert rej[1].to_numpy().tolist() == rej[0].to_numpy().tolist()
    # an existing output is kept unless --overwrite
    code, _, err = _cli(
        capsys, "predict", model, "--data", store.path, "--out", tmp_path / "s.parquet",
        "--engine", "spark", "--master", "local[2]",
    )
    assert code == 1 and "already exists" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--engine", "spark", "--workers", "2"], "--workers, --threads and --device are settings"),
        (["--engine", "spark", "--conf", "spark.ui.enabled"], "is not KEY=VALUE"),
        (["--engine", "torch", "--master", "local[2]"], "--master and --conf are settings of --engine spark"),
    ],
)
def test_cli_spark_options_misused(halpha, tmp_path, capsys, extra, message):
    store, model = halpha
    code, _, err = _cli(
        capsys, "predict", model, "--data", store.path, "--out", tmp_path / "p.parquet", *extra
    )
    assert code == 2 and message in err
    assert not (tmp_path / "p.parquet").exists()


def test_cli_spark_without_pyspark_names_the_extra(monkeypatch, halpha, tmp_path, capsys):
    for name in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyspark", None)
    store, model = halpha
    code, _, err = _cli(
        capsys, "predict", model, "--data", store.path, "--out", tmp_path / "p.parquet",
        "--engine", "spark",
    )
    assert code == 1 and "pip install 'skysift[spark]'" in err


def test_cli_conf_pairs_are_split_at_the_first_equals_sign():
    from skysift.cli.predict import _parse_conf

    conf = _parse_conf(("spark.executor.memory=4g", "spark.driver.extraJavaOptions=-Da=b"))
    assert conf == {
        "spark.executor.memory": "4g",
        "spark.driver.extraJavaOptions": "-Da=b",
    }
