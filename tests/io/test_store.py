import json
import os
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skysift import DataFormatError
from skysift.data.containers import LightCurve, Spectrum
from skysift.io.store import (
    MANIFEST_NAME,
    StoreWriter,
    list_column_to_numpy,
    open_store,
    write_store,
)


def _as_lists(column):
    out = list_column_to_numpy(column)
    return list(out) if isinstance(out, np.ndarray) else out


@pytest.mark.parametrize("batch_size", [1, 7, 32, 64, 199, 200, 1000])
def test_round_trip_in_chunks_of_several_sizes(spectra_store, batch_size):
    store, cols = spectra_store
    batches = list(store.iter_batches(batch_size=batch_size))
    sizes = [b.num_rows for b in batches]
    assert sum(sizes) == 200
    assert all(s == batch_size for s in sizes[:-1]) and 0 < sizes[-1] <= batch_size
    table = pa.Table.from_batches(batches)
    assert table.column("object_id").to_pylist() == cols["object_id"]
    assert table.column("label").to_pylist() == list(cols["label"])
    np.testing.assert_array_equal(table.column("redshift").to_numpy(), cols["redshift"])
    np.testing.assert_array_equal(table.column("mjd").to_numpy(), cols["mjd"])
    for name in ("wavelength_aa", "flux", "ivar", "mask"):
        got = _as_lists(table.column(name))
        assert len(got) == len(cols[name])
        for a, b in zip(got, cols[name], strict=True):
            np.testing.assert_array_equal(a, b)
    assert got[0].dtype == bool


def test_parts_and_row_groups_do_not_change_content(tmp_path, make_spectra_columns):
    cols = make_spectra_columns(n=300, length=16)
    with StoreWriter(
        tmp_path / "s", kind="spectra", row_group_size=10, rows_per_part=70
    ) as w:
        w.write({k: v[:150] for k, v in cols.items()})
        w.write({k: v[150:] for k, v in cols.items()})
    store = open_store(tmp_path / "s")
    assert len(store.part_paths) == 5  # 300 rows, 70 per part
    flux = list_column_to_numpy(store.read(["flux"]).column("flux"))
    assert flux.shape == (300, 16)
    np.testing.assert_array_equal(flux, np.stack(cols["flux"]))


def test_manifest_counts_and_schema_version(spectra_store):
    store, cols = spectra_store
    info = store.info()
    labels, counts = np.unique(cols["label"], return_counts=True)
    assert info["classes"] == dict(zip(labels.tolist(), counts.tolist(), strict=True))
    assert info["n_objects"] == 200 and info["kind"] == "spectra"
    assert info["schema_version"] == 1
    meta = json.loads(pq.read_schema(store.part_paths[0]).metadata[b"skysift"])
    assert meta == {"schema_version": 1, "kind": "spectra"}
    lengths = [len(f) for f in cols["flux"]]
    assert info["summary"]["length_min"] == min(lengths)
    assert info["summary"]["length_max"] == max(lengths)
    assert info["size_bytes"] == sum(
        os.path.getsize(store.path / f) for f in os.listdir(store.path)
    )
    # what wrote it: the version, and the source commit when run from a checkout
    import skysift

    manifest = json.loads((store.path / MANIFEST_NAME).read_text())
    assert manifest["skysift_version"] == skysift.__version__
    assert manifest["skysift_commit"] == skysift.source_commit()


def test_random_access_by_id_keeps_requested_order(spectra_store):
    store, cols = spectra_store
    wanted = ["obj0150", "obj0003", "obj0099"]
    table = store.take(wanted, columns=["label", "flux"])
    assert table.column("object_id").to_pylist() == wanted
    for oid, flux in zip(wanted, _as_lists(table.column("flux")), strict=True):
        np.testing.assert_array_equal(flux, cols["flux"][int(oid[3:])])
    spec = store.get("obj0042")
    assert isinstance(spec, Spectrum)
    np.testing.assert_array_equal(spec.wavelength_aa, cols["wavelength_aa"][42])
    assert spec.meta["mjd"] == cols["mjd"][42]
    with pytest.raises(KeyError, match="nope"):
        store.take(["obj0001", "nope"])


def test_ids_unique_and_duplicates_rejected(
    tmp_path, spectra_store, make_spectra_columns
):
    store, _ = spectra_store
    ids = store.ids()
    assert len(set(ids)) == len(ids) == 200
    cols = make_spectra_columns(n=10)
    cols["object_id"][3] = cols["object_id"][1]
    with pytest.raises(DataFormatError, match=r"duplicate object_id.*obj0001"):
        write_store(tmp_path / "dup", cols, kind="spectra")
    assert not (tmp_path / "dup").exists()
    # duplicates across two batches are caught too
    cols = make_spectra_columns(n=10)
    with pytest.raises(DataFormatError, match="duplicate"):
        write_store(tmp_path / "dup2", [cols, cols], kind="spectra")


def test_lightcurve_store_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    n_obs = [5, 9, 1]
    cols = {
        "object_id": ["a", "b", "c"],
        "label": ["SNIa", None, "SNII"],
        "time_mjd": [np.sort(rng.uniform(59000, 59100, k)) for k in n_obs],
        "band": [rng.choice(list("gr"), k) for k in n_obs],
        "flux": [rng.normal(size=k) for k in n_obs],
        "flux_err": [rng.uniform(1, 2, k) for k in n_obs],
    }
    store = write_store(tmp_path / "lc", cols, kind="lightcurves")
    assert store.classes == {"SNII": 1, "SNIa": 1} and store.info()["n_unlabelled"] == 1
    lc = store.get("b")
    assert isinstance(lc, LightCurve) and lc.label is None
    np.testing.assert_array_equal(lc.band, cols["band"][1])
    np.testing.assert_allclose(lc.flux, cols["flux"][1], rtol=1e-6)  # stored as float32
    assert store.info()["summary"]["bands"] == ["g", "r"]


def test_opens_in_pandas_without_conversion(spectra_store):
    store, cols = spectra_store
    frame = pd.read_parquet(store.path)
    assert len(frame) == 200
    assert frame["object_id"].tolist() == cols["object_id"]
    np.testing.assert_array_equal(frame["flux"].iloc[5], cols["flux"][5])


def test_mismatched_array_lengths_name_the_object(tmp_path, make_spectra_columns):
    cols = make_spectra_columns(n=4, length=10)
    cols["ivar"][2] = cols["ivar"][2][:-1]
    with pytest.raises(DataFormatError, match=r"obj0002.*9 ivar values but 10"):
        write_store(tmp_path / "bad", cols, kind="spectra")


def test_missing_required_column(tmp_path, make_spectra_columns):
    cols = make_spectra_columns(n=4)
    del cols["ivar"]
    with pytest.raises(
        DataFormatError, match=r"missing required column\(s\) \['ivar'\]"
    ):
        write_store(tmp_path / "bad", cols, kind="spectra")


def test_interrupted_write_leaves_nothing_that_opens(tmp_path, make_spectra_columns):
    cols = make_spectra_columns(n=20)

    def batches():
        yield cols
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        write_store(tmp_path / "s", batches(), kind="spectra")
    assert not (tmp_path / "s").exists()
    assert list(tmp_path.iterdir()) == []  # temporary directory cleaned up


def test_overwrite_replaces_and_refuses_by_default(tmp_path, make_spectra_columns):
    write_store(tmp_path / "s", make_spectra_columns(n=5), kind="spectra")
    with pytest.raises(FileExistsError, match="already exists"):
        write_store(tmp_path / "s", make_spectra_columns(n=6), kind="spectra")
    store = write_store(
        tmp_path / "s", make_spectra_columns(n=6), kind="spectra", overwrite=True
    )
    assert store.n_objects == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_empty_store_is_valid(tmp_path):
    with StoreWriter(tmp_path / "e", kind="lightcurves"):
        pass
    store = open_store(tmp_path / "e")
    assert store.n_objects == 0 and list(store.iter_batches(10)) == []


# ---- stores that are not stores ------------------------------------------


def test_truncated_part_file(spectra_store):
    store, _ = spectra_store
    part = store.part_paths[0]
    data = part.read_bytes()
    part.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=f"{part}.*truncated"):
        open_store(store.path)


def test_corrupted_part_file_same_size(spectra_store):
    store, _ = spectra_store
    part = store.part_paths[0]
    data = bytearray(part.read_bytes())
    data[-12:-8] = b"\xff\xff\xff\x7f"  # footer length field
    part.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match=str(part)):
        open_store(store.path)


def test_missing_part_file(spectra_store):
    store, _ = spectra_store
    store.part_paths[0].unlink()
    with pytest.raises(DataFormatError, match="part file missing"):
        open_store(store.path)


def test_foreign_parquet_file_and_dataset(tmp_path):
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"x": [1, 2, 3]}), foreign)
    with pytest.raises(DataFormatError, match=f"{foreign}.*without skysift metadata"):
        open_store(foreign)
    directory = tmp_path / "dataset"
    directory.mkdir()
    shutil.copy(foreign, directory / "part-0.parquet")
    with pytest.raises(DataFormatError, match=f"{directory}.*no _skysift.json"):
        open_store(directory)


def test_wrong_schema_in_part(spectra_store):
    store, _ = spectra_store
    part = store.part_paths[0]
    table = pq.read_table(part).drop_columns(["ivar"])
    pq.write_table(table, part)
    manifest = json.loads((store.path / MANIFEST_NAME).read_text())
    manifest["parts"][0]["size_bytes"] = part.stat().st_size
    (store.path / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(DataFormatError, match=f"{part}.*'ivar' is missing"):
        open_store(store.path)


def test_newer_schema_version_and_bad_manifest(spectra_store, tmp_path):
    store, _ = spectra_store
    path = store.path / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = 99
    path.write_text(json.dumps(manifest))
    with pytest.raises(DataFormatError, match="schema version 99"):
        open_store(store.path)
    path.write_text("{not json")
    with pytest.raises(DataFormatError, match=f"{path}: unreadable manifest"):
        open_store(store.path)
    with pytest.raises(DataFormatError, match="no such file"):
        open_store(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="not a skysift store"):
        open_store(tmp_path / "empty")


def test_list_column_to_numpy_handles_slices_and_nulls():
    arr = pa.array([[1.0, 2.0], None, [3.0], [4.0, 5.0, 6.0]])
    out = list_column_to_numpy(arr.slice(2))
    assert [a.tolist() for a in out] == [[3.0], [4.0, 5.0, 6.0]]
    out = list_column_to_numpy(arr)
    assert [a.tolist() for a in out] == [[1.0, 2.0], [], [3.0], [4.0, 5.0, 6.0]]
