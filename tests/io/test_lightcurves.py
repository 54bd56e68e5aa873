import gzip
import io
import tarfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from astropy.table import Table

from skysift import DataFormatError
from skysift.exceptions import SkysiftWarning
from skysift.io.lightcurves import (
    PLASTICC_CLASSES,
    identify_lightcurve_format,
    ingest_lightcurves,
    read_lightcurves,
    read_plasticc,
    read_snana_fits,
    read_snana_text,
)
from skysift.io.store import list_column_to_numpy, open_store

DATA = Path(__file__).resolve().parents[1] / "data" / "lightcurves"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="real data in ../shared/data is not available"
)
T90 = DATA / "plasticc_test90_6objects.csv"
T90_META = DATA / "plasticc_test90_6objects_metadata.csv"


def tables(batches):
    batches = list(batches)
    parts = [b.table for b in batches if b.table is not None]
    table = pa.concat_tables(parts) if parts else None
    skipped = [s for b in batches for s in b.skipped]
    n_in = sum(b.n_in for b in batches)
    return table, skipped, n_in, batches


def rows_by_id(table):
    return {r["object_id"]: r for r in table.to_pylist()}


# ---------------------------------------------------------------- PLAsTiCC


def test_plasticc_class_names_are_seed_003_table_3_1():
    # the 14 class names of seed 003, Table 3.1, keyed by the PLAsTiCC codes
    seed_names = {
        "mu-Lens-Single", "TDE", "EB", "SNII", "SNIax", "Mira", "SNIbc", "KN",
        "M-dwarf", "SNIa-91bg", "AGN", "SNIa", "RRL", "SLSN-I",
    }  # fmt: skip
    training_codes = [6, 15, 16, 42, 52, 53, 62, 64, 65, 67, 88, 90, 92, 95]
    assert {PLASTICC_CLASSES[c] for c in training_codes} == seed_names
    assert (PLASTICC_CLASSES[90], PLASTICC_CLASSES[42], PLASTICC_CLASSES[62]) == (
        "SNIa",
        "SNII",
        "SNIbc",
    )


def test_plasticc_fixture_matches_the_raw_csv():
    table, skipped, n_in, _ = tables(read_plasticc(T90, T90_META))
    raw = pd.read_csv(T90)
    meta = pd.read_csv(T90_META).set_index("object_id")
    assert skipped == [] and n_in == table.num_rows == 6
    rows = rows_by_id(table)
    names = {42: "SNII", 62: "SNIbc", 90: "SNIa"}
    for oid, group in raw.groupby("object_id"):
        row = rows[str(oid)]
        assert row["label"] == names[meta.loc[oid, "target"]]
        assert row["redshift"] == pytest.approx(meta.loc[oid, "hostgal_photoz"])
        assert row["redshift_err"] == pytest.approx(meta.loc[oid, "hostgal_photoz_err"])
        assert row["ddf"] == meta.loc[oid, "ddf"] and row["has_metadata"]
        group = group.sort_values("mjd_rel", kind="stable")
        np.testing.assert_allclose(row["time_mjd"], group["mjd_rel"])
        np.testing.assert_allclose(row["flux"], group["flux"], rtol=1e-6)
        np.testing.assert_allclose(row["flux_err"], group["flux_err"], rtol=1e-6)
        assert row["band"] == ["ugrizy"[p] for p in group["passband"]]
        assert row["detected"] == list(group["detected"].astype(bool))


def test_plasticc_chunk_boundaries_do_not_change_the_result():
    whole, *_ = tables(read_plasticc(T90, T90_META))
    for chunk in (50, 255, 256, 1000):
        chunked, _, n_in, _ = tables(read_plasticc(T90, T90_META, chunk_rows=chunk))
        assert n_in == 6 and chunked.equals(whole)


def test_plasticc_without_metadata_and_with_missing_rows(tmp_path):
    table, *_ = tables(read_plasticc(T90))
    assert table.column("label").null_count == 6
    assert "target" not in table.column_names
    meta = pd.read_csv(T90_META)
    meta.iloc[:4].to_csv(tmp_path / "meta.csv", index=False)
    table, *_ = tables(read_plasticc(T90, tmp_path / "meta.csv"))
    assert sorted(table.column("has_metadata").to_pylist()) == [False] * 2 + [True] * 4
    assert table.column("label").null_count == 2


def test_plasticc_raw_codes_and_true_target_preferred(tmp_path):
    meta = pd.read_csv(T90_META)
    meta["target"] = 0  # blinded, as in the public test set
    meta.to_csv(tmp_path / "meta.csv", index=False)
    table, *_ = tables(read_plasticc(T90, tmp_path / "meta.csv", class_names="raw"))
    assert sorted(set(table.column("label").to_pylist())) == ["42", "62", "90"]


def test_plasticc_bad_rows_are_reported_per_object(tmp_path):
    (tmp_path / "obs.csv").write_text(
        "object_id,mjd,passband,flux,flux_err,detected_bool\n"
        "1,60000.0,0,1.0,0.5,0\n1,60001.0,1,2.0,0.5,1\n"
        "2,60000.0,1,nan,0.5,0\n2,60001.0,1,2.0,0.5,0\n"
        "3,60000.0,9,1.0,0.5,0\n"
        "4,60000.0,2,abc,0.5,0\n"
        "5,60000.0,2,1.0,-9.0,0\n5,60001.0,2,3.0,1.0,1\n"
        "6,60000.0,2,1.0,-9.0,0\n"
    )
    result = ingest_lightcurves(tmp_path / "obs.csv", tmp_path / "store")
    assert (result.n_in, result.n_out) == (6, 2)
    assert result.n_in == result.n_out + len(result.skipped)
    why = {s.item: (s.reason, s.detail) for s in result.skipped}
    assert why["2"][0] == why["4"][0] == "bad value" and "non-numeric" in why["2"][1]
    assert why["3"][0] == "bad value" and "unknown passband 9" in why["3"][1]
    assert why["6"][0] == "no observations"
    assert result.stats == {"points with undefined flux dropped": 1}
    rows = rows_by_id(open_store(result.store).read())
    assert rows["5"]["flux"] == [3.0] and rows["5"]["detected"] == [True]
    report = pd.read_csv(result.report, dtype=str)
    assert list(report.columns) == ["file", "object_id", "reason", "detail"]
    assert sorted(report["object_id"]) == ["2", "3", "4", "6"]


def test_plasticc_unsorted_rows_are_refused(tmp_path):
    raw = pd.read_csv(T90)
    raw.sample(frac=1.0, random_state=0).to_csv(tmp_path / "shuffled.csv", index=False)
    with pytest.raises(DataFormatError, match="not contiguous"):
        list(read_plasticc(tmp_path / "shuffled.csv", chunk_rows=100))
    # small enough for one chunk: grouping still works
    table, *_ = tables(read_plasticc(tmp_path / "shuffled.csv"))
    assert table.num_rows == 6


def test_plasticc_missing_column_and_bad_metadata(tmp_path):
    (tmp_path / "obs.csv").write_text("object_id,mjd,flux,flux_err\n1,2.0,3.0,1.0\n")
    with pytest.raises(DataFormatError, match="passband"):
        list(read_plasticc(tmp_path / "obs.csv"))
    (tmp_path / "meta.csv").write_text("object_id,target\n1,90\n1,42\n")
    with pytest.raises(DataFormatError, match="duplicate object id"):
        list(read_plasticc(T90, tmp_path / "meta.csv"))
    (tmp_path / "meta2.csv").write_text("id,target\n1,90\n")
    with pytest.raises(DataFormatError, match="no object id column"):
        list(read_plasticc(T90, tmp_path / "meta2.csv"))


def test_plasticc_parquet_with_snana_names_and_index(tmp_path):
    raw = pd.read_csv(T90)
    names = {"object_id": "SNID", "mjd_rel": "MJD", "flux": "FLUXCAL"}
    frame = raw.rename(columns={**names, "flux_err": "FLUXCALERR"})
    frame["BAND"] = np.array(list("ugrizY"))[frame.pop("passband")]
    frame.set_index("SNID").to_parquet(tmp_path / "lc.parquet")
    table, *_ = tables(read_plasticc(tmp_path / "lc.parquet"))
    reference, *_ = tables(read_plasticc(T90))
    assert table.column("band").equals(reference.column("band"))  # Y -> y
    assert table.column("flux").equals(reference.column("flux"))


# ---------------------------------------------------------------- SNANA text

SNANA_HEADER = """SURVEY: DES
SNID:   {snid}
SNTYPE:  {sntype}
FILTERS: griz
RA:      52.500000  deg
DECL:    -27.500000  deg
MWEBV:   0.0097    MW E(B-V)
REDSHIFT_FINAL:   0.92728 +- 0.01610  (CMB)
REDSHIFT_SPEC:    -9.00000 +- 9.00000
HOST_GALAXY_PHOTO-Z:   0.9273  +- 0.0161
SIM_NON1a:      32   (non1a index)
SIM_COMMENT:  SN Type = {sim_type} , MODEL = SDSS-018109
SIM_REDSHIFT:  0.9270
SIM_PEAKMJD:   56217.285156  days

# ============================================
NOBS: {nobs}
NVAR: 6
VARLIST:  MJD  FLT FIELD   FLUXCAL   FLUXCALERR   SNR
"""


def snana_text(snid="101", sim_type="II", sntype=-9, rows=None, nobs=None):
    rows = rows or [
        "56176.160  z NULL   1.337e+00   3.581e+00   0.37",
        "56171.051  g NULL  -3.679e+01   7.809e+01  -0.47",
        "DETECTION:  6 MJDs satisfy g+r+i+z",
        "56172.039  r NULL   4.410e+00   1.758e+01   0.25",
        "56208.191  z NULL  -9.000e+00  -9.000e+00   1.00",
    ]
    obs = [r if r.startswith("DETECTION") else f"OBS: {r}" for r in rows]
    n = sum(not r.startswith("DETECTION") for r in rows) if nobs is None else nobs
    return (
        SNANA_HEADER.format(snid=snid, sntype=sntype, sim_type=sim_type, nobs=n)
        + "\n".join(obs)
        + "\nEND:\n"
    )


def test_snana_text_reads_header_and_rows(tmp_path):
    path = tmp_path / "DES_SN000101.DAT"
    path.write_text(snana_text())
    (batch,) = read_snana_text(path)
    row = batch.table.to_pylist()[0]
    assert (row["object_id"], row["label"], row["sim_type"]) == ("101", "II", "II")
    assert row["redshift"] == 0.92728 and row["redshift_err"] == 0.0161
    assert row["hostgal_photoz"] == 0.9273 and row["redshift_spec"] is None
    assert (row["sntype"], row["spectro_confirmed"], row["sim_non1a"]) == (
        -9,
        False,
        32,
    )
    assert row["sim_model"] == "SDSS-018109" and row["survey"] == "DES"
    # rows sorted by time; the DETECTION line and the undefined (-9) row are not points
    assert row["time_mjd"] == [56171.051, 56172.039, 56176.16]
    assert row["band"] == ["g", "r", "z"]
    np.testing.assert_allclose(row["flux"], [-36.79, 4.41, 1.337], rtol=1e-6)
    np.testing.assert_allclose(row["flux_err"], [78.09, 17.58, 3.581], rtol=1e-6)
    assert batch.stats == {"points with undefined flux dropped": 1}


def write_bad_snana_set(folder):
    folder.mkdir()
    good = [
        snana_text(snid=str(i), sim_type=t) for i, t in enumerate("Ia II Ibc".split())
    ]
    for i, text in enumerate(good):
        (folder / f"SN{i}.DAT").write_text(text)
    (folder / "SN_trunc.DAT").write_text(snana_text(snid="900", nobs=9))
    (folder / "SN_novarlist.DAT").write_text(
        "SNID: 901\nNOBS: 1\nOBS: 1 g NULL 1 1 1\n"
    )
    (folder / "SN_text.DAT").write_text(
        snana_text(snid="902", rows=["56171.0 g NULL abc 1.0 1.0"])
    )
    (folder / "SN_extra.DAT").write_text(
        snana_text(snid="903", rows=["56171.0 g NULL 1.0 1.0 1.0 7.0"])
    )
    (folder / "SN_short.DAT").write_text(
        snana_text(
            snid="904", rows=["56171.0 g NULL 1.0 1.0", "56172.0 r NULL 1.0 1.0 2"]
        )
    )
    (folder / "SN_nocols.DAT").write_text(
        snana_text(snid="905").replace("FLUXCALERR", "ERR")
    )
    (folder / "SN_gz.DAT.gz").write_bytes(
        gzip.compress(snana_text(snid="906").encode())
    )
    (folder / "filter_g.dat").write_text("3000 0.1\n3100 0.2\n")  # not a light curve
    return 3 + 1, 6  # good, bad


def test_snana_text_bad_files_are_skipped_with_reasons(tmp_path):
    n_good, n_bad = write_bad_snana_set(tmp_path / "v")
    result = ingest_lightcurves(tmp_path / "v", tmp_path / "store")
    assert (result.n_in, result.n_out, len(result.skipped)) == (
        n_good + n_bad,
        n_good,
        n_bad,
    )
    why = {Path(s.source).name: (s.reason, s.detail) for s in result.skipped}
    assert why["SN_trunc.DAT"] == ("truncated file", "header NOBS: 9 but 4 OBS: rows")
    assert why["SN_novarlist.DAT"][0] == "missing field"
    assert why["SN_text.DAT"][0] == "bad value" and "abc" in why["SN_text.DAT"][1]
    assert why["SN_extra.DAT"][0] == "bad value" and "extra" in why["SN_extra.DAT"][1]
    assert why["SN_short.DAT"][0] == "bad value"
    assert why["SN_nocols.DAT"][0] == "missing field"
    assert [Path(s.source).name for s in result.ignored] == ["filter_g.dat"]
    assert sorted(open_store(result.store).ids()) == ["0", "1", "2", "906"]
    report = pd.read_csv(result.report)
    assert len(report) == n_bad + 1  # the ignored filter file is listed too


def test_snana_chunking_and_archives_give_the_same_store(tmp_path):
    write_bad_snana_set(tmp_path / "v")
    one, *_ = tables(read_snana_text(tmp_path / "v", files_per_chunk=1))
    many, skipped, n_in, _ = tables(
        read_snana_text(tmp_path / "v", files_per_chunk=1000)
    )
    key = ["object_id", "label", "time_mjd", "band", "flux", "flux_err"]
    assert (
        one.select(key)
        .sort_by("object_id")
        .equals(many.select(key).sort_by("object_id"))
    )
    with tarfile.open(tmp_path / "v.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "v", arcname="v")
    packed, skipped2, n_in2, _ = tables(read_snana_text(tmp_path / "v.tar.gz"))
    assert n_in2 == n_in and len(skipped2) == len(skipped)
    assert (
        packed.select(key)
        .sort_by("object_id")
        .equals(many.select(key).sort_by("object_id"))
    )


def test_snana_list_file_reports_missing_members(tmp_path):
    folder = tmp_path / "v"
    folder.mkdir()
    (folder / "A.DAT").write_text(snana_text(snid="1"))
    (folder / "V.LIST").write_text("A.DAT\nB.DAT\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname="v")
    for source in (folder, tmp_path / "v.tgz"):
        (tmp_path / "v.tgz").write_bytes(buf.getvalue())
        _, skipped, n_in, _ = tables(read_snana_text(source))
        assert n_in == 2 and [s.reason for s in skipped] == ["missing file"]
        assert skipped[0].source.endswith("B.DAT") and "V.LIST" in skipped[0].detail


def test_snana_truncated_archive_keeps_what_was_read(tmp_path):
    with tarfile.open(tmp_path / "v.tar.gz", "w:gz") as tar:
        for i in range(40):
            data = snana_text(snid=str(i)).encode() + b"#" * 3000  # incompressible-ish
            info = tarfile.TarInfo(f"v/SN{i}.DAT")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    raw = (tmp_path / "v.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(raw[: len(raw) // 2])
    table, skipped, n_in, _ = tables(read_snana_text(tmp_path / "cut.tar.gz"))
    assert 0 < table.num_rows < 40 and [s.reason for s in skipped] == ["truncated file"]
    assert n_in == table.num_rows + 1


def test_read_lightcurves_warns_about_skipped_items(tmp_path):
    write_bad_snana_set(tmp_path / "v")
    with pytest.warns(SkysiftWarning, match="6 item"):
        curves = read_lightcurves(tmp_path / "v")
    assert sorted(c.label for c in curves) == ["II", "II", "Ia", "Ibc"]


# ---------------------------------------------------------------- SNANA FITS


def write_snana_fits(folder, *, gz=False):
    folder.mkdir(exist_ok=True)
    head = Table(
        {
            "SNID": ["11", "12", "13", "14"],
            "SNTYPE": [111, 111, 142, 111],
            "PTROBS_MIN": [1, 5, 8, 99],
            "PTROBS_MAX": [3, 6, 8, 100],
            "REDSHIFT_FINAL": [0.1, 0.2, -9.0, 0.4],
            "REDSHIFT_FINAL_ERR": [0.01, 0.02, -9.0, 0.04],
            "SIM_TYPE_INDEX": [90, 42, 90, 90],
            "SIM_TYPE_NAME": ["UNKNOWN", "SNII", "UNKNOWN", "UNKNOWN"],
            "HOSTGAL_PHOTOZ": [0.11, -9.0, 0.3, 0.4],
        }
    )
    phot = Table(
        {
            "MJD": [
                60002.0,
                60000.0,
                60001.0,
                -777.0,
                60000.0,
                60003.0,
                -777.0,
                60000.0,
                -777.0,
            ],
            "FLT": ["g ", "r ", "Y ", "- ", "u", "z", "-", "g", "-"],
            "FLUXCAL": [5.0, 6.0, 7.0, -777.0, 1.0, 2.0, -777.0, 3.0, -777.0],
            "FLUXCALERR": [1.0, 1.5, 2.0, -777.0, 0.5, -9.0, -777.0, np.nan, -777.0],
            "PHOTFLAG": [4096, 0, 6144, 0, 0, 0, 0, 0, 0],
        }
    )
    suffix = ".FITS.gz" if gz else ".FITS"
    head.write(folder / f"SIM_HEAD{suffix}", overwrite=True)
    phot.write(folder / f"SIM_PHOT{suffix}", overwrite=True)
    return folder / f"SIM_HEAD{suffix}"


@pytest.mark.parametrize("gz", [False, True])
def test_snana_fits_pairs(tmp_path, gz):
    head = write_snana_fits(tmp_path / "f", gz=gz)
    table, skipped, n_in, batches = tables(read_snana_fits(head))
    assert n_in == 4 and table.num_rows == 2
    why = {s.item: s.reason for s in skipped}
    assert why == {
        "13": "bad value",
        "14": "bad value",
    }  # NaN error; pointers past the end
    rows = rows_by_id(table)
    a, b = rows["11"], rows["12"]
    assert (a["label"], b["label"]) == (
        "90",
        "SNII",
    )  # code kept, informative name used
    assert a["time_mjd"] == [60000.0, 60001.0, 60002.0] and a["band"] == ["r", "y", "g"]
    assert a["flux"] == [6.0, 7.0, 5.0] and a["detected"] == [False, True, True]
    assert a["photflag"] == [0, 6144, 4096]
    assert a["redshift"] == pytest.approx(0.1) and a["hostgal_photoz"] == pytest.approx(
        0.11
    )
    assert b["hostgal_photoz"] is None and b["flux"] == [1.0]  # -9 and undefined point
    assert batches[0].stats == {"points with undefined flux dropped": 1}
    # the PHOT file given instead of the HEAD file, and class_names
    table, *_ = tables(read_snana_fits(head.parent / head.name.replace("HEAD", "PHOT"),
                                       class_names="plasticc"))  # fmt: skip
    assert sorted(table.column("label").to_pylist()) == ["SNII", "SNIa"]


def test_snana_fits_missing_phot_and_not_a_head(tmp_path):
    head = write_snana_fits(tmp_path / "f")
    (head.parent / "SIM_PHOT.FITS").unlink()
    _, skipped, n_in, _ = tables(read_snana_fits(head))
    assert n_in == 4 and {s.reason for s in skipped} == {"missing file"}
    Table({"X": [1]}).write(tmp_path / "OTHER_HEAD.FITS")
    with pytest.raises(DataFormatError, match="PTROBS"):
        list(read_snana_fits(tmp_path / "OTHER_HEAD.FITS"))


# ---------------------------------------------------------------- dispatch


def test_identify_format(tmp_path):
    assert identify_lightcurve_format(T90) == "plasticc"
    assert (
        identify_lightcurve_format("x/LSST_WFD_NONIa-0004_PHOT.FITS.gz") == "snana-fits"
    )
    assert identify_lightcurve_format("DES_SN000017.DAT") == "snana"
    write_bad_snana_set(tmp_path / "v")
    assert identify_lightcurve_format(tmp_path / "v") == "snana"
    write_snana_fits(tmp_path / "f")
    assert identify_lightcurve_format(tmp_path / "f") == "snana-fits"
    (tmp_path / "mystery.bin").write_bytes(b"\x00\x01")
    with pytest.raises(DataFormatError, match="plasticc"):
        identify_lightcurve_format(tmp_path / "mystery.bin")
    with pytest.raises(DataFormatError, match="mix light-curve formats"):
        ingest_lightcurves([T90, tmp_path / "v"], tmp_path / "s")
    with pytest.raises(ValueError, match="metadata table applies to the plasticc"):
        ingest_lightcurves(tmp_path / "v", tmp_path / "s", metadata=T90_META)


def test_ingest_refuses_existing_store_and_empty_input(tmp_path):
    ingest_lightcurves(T90, tmp_path / "s", metadata=T90_META)
    with pytest.raises(FileExistsError):
        ingest_lightcurves(T90, tmp_path / "s")
    assert ingest_lightcurves(T90, tmp_path / "s", overwrite=True).n_out == 6
    (tmp_path / "bad.csv").write_text(
        "object_id,mjd,passband,flux,flux_err\n1,x,0,1,1\n"
    )
    with pytest.raises(
        DataFormatError, match=r"no light curves could be read.*bad value"
    ):
        ingest_lightcurves(tmp_path / "bad.csv", tmp_path / "s2")
    assert not (tmp_path / "s2").exists()


# ---------------------------------------------------------------- real data


@needs_shared
def test_real_plasticc_test90_and_kaggle_sample(tmp_path):
    d = SHARED / "plasticc"
    r = ingest_lightcurves(
        d / "test90_snmachine/plasticc_test90_lightcurves.csv",
        tmp_path / "t90",
        metadata=d / "test90_snmachine/plasticc_test90_metadata.csv",
    )
    assert (r.n_in, r.n_out, r.classes) == (
        90,
        90,
        {"SNII": 30, "SNIa": 30, "SNIbc": 30},
    )
    raw = pd.read_csv(d / "kaggle_sample_rygao/training_set.csv")
    meta = pd.read_csv(d / "kaggle_sample_rygao/training_set_metadata.csv")
    r = ingest_lightcurves(
        d / "kaggle_sample_rygao/training_set.csv",
        tmp_path / "kaggle",
        metadata=d / "kaggle_sample_rygao/training_set_metadata.csv",
    )
    store = open_store(r.store)
    assert r.n_out == 10 and store.manifest["summary"]["bands"] == list("giruyz")
    rows = rows_by_id(store.read())
    for m in meta.itertuples():
        row = rows[str(m.object_id)]
        assert row["label"] == PLASTICC_CLASSES[m.target]
        assert len(row["flux"]) == (raw.object_id == m.object_id).sum()
        assert sum(row["detected"]) == raw.detected[raw.object_id == m.object_id].sum()
    # the unblinded snmachine metadata is space-padded; it joins all the same
    r = ingest_lightcurves(
        d / "kaggle_sample_rygao/training_set.csv",
        tmp_path / "unblinded",
        metadata=d / "unblinded_metadata_snmachine/plasticc_train_metadata.csv",
    )
    unblinded = rows_by_id(open_store(r.store).read())
    assert {k: v["label"] for k, v in unblinded.items()} == {
        k: v["label"] for k, v in rows.items()
    }
    assert all(v["has_metadata"] for v in unblinded.values())


@needs_shared
def test_real_snana_fits_against_astropy_slices(tmp_path):
    folder = SHARED / "plasticc/snana_fits_sn-pwv/alt_sched/LSST_WFD_alt_sched_MODEL11"
    r = ingest_lightcurves(folder, tmp_path / "pwv")
    assert (r.n_in, r.n_out, r.skipped) == (115, 115, [])
    rows = rows_by_id(open_store(r.store).read())
    head = Table.read(folder / "LSST_WFD_NONIa-0004_HEAD.FITS")
    phot = Table.read(folder / "LSST_WFD_NONIa-0004_PHOT.FITS")
    for k in (0, 57, len(head) - 1):
        lo, hi = head["PTROBS_MIN"][k] - 1, head["PTROBS_MAX"][k]
        part = phot[lo:hi]
        part = part[np.argsort(part["MJD"], kind="stable")]
        row = rows[head["SNID"][k].strip()]
        np.testing.assert_allclose(row["time_mjd"], part["MJD"])
        np.testing.assert_allclose(row["flux"], part["FLUXCAL"], rtol=1e-6)
        assert row["band"] == [b.strip().replace("Y", "y") for b in part["FLT"]]
        assert row["redshift"] == pytest.approx(head["REDSHIFT_FINAL"][k])
    el = (
        SHARED
        / "elasticc/plasticc_alerts_snana/MLAG_HOSTLIB_ALLCLASS_NONIaMODEL0-0010_HEAD.FITS.gz"
    )
    r = ingest_lightcurves(el, tmp_path / "el", class_names="plasticc")
    assert (r.n_in, r.n_out, r.classes) == (200, 200, {"SNIa": 200})


@needs_shared
def test_real_elasticc_light_curve_chunk(tmp_path):
    d = SHARED / "elasticc/alerce_lc_classifier"
    r = ingest_lightcurves(
        d / "elasticc_lc_chunk.parquet",
        tmp_path / "el",
        metadata=d / "elasticc_metadata_chunk.parquet",
    )
    raw = pd.read_parquet(d / "elasticc_lc_chunk.parquet")
    assert r.n_out == 10 == raw.index.nunique()
    store = open_store(r.store)
    lengths = [
        len(x) for x in list_column_to_numpy(store.read(["flux"]).column("flux"))
    ]
    assert sum(lengths) == len(raw)
    assert (
        store.read(["has_metadata"]).column("has_metadata").to_pylist() == [True] * 10
    )


@needs_shared
@pytest.mark.slow
def test_real_snpcc_ingests_completely(tmp_path):
    archive = SHARED / "snpcc_des/SIMGEN_PUBLIC_DES.tar.gz"
    labels = pd.read_csv(SHARED / "snpcc_des/snpcc_labels.csv")
    start = time.perf_counter()
    result = ingest_lightcurves(archive, tmp_path / "snpcc")
    seconds = time.perf_counter() - start
    print(f"SNPCC: {result.n_out} light curves ingested in {seconds:.1f} s")
    assert result.n_in == result.n_out == len(labels) == 21_319
    assert result.skipped == []
    store = open_store(result.store)
    assert store.n_objects == 21_319
    got = store.read(["object_id", "label", "sim_redshift", "sntype"]).to_pandas()
    merged = got.merge(
        labels.astype({"snid": str}), left_on="object_id", right_on="snid"
    )
    assert len(merged) == 21_319
    assert (merged["label"] == merged["sim_type"]).all()
    assert (merged["sntype_x"] == merged["sntype_y"]).all()
    np.testing.assert_allclose(merged["sim_redshift_x"], merged["sim_redshift_y"])
    assert store.manifest["classes"] == labels["sim_type"].value_counts().to_dict()
