from pathlib import Path

import fastavro
import pandas as pd
import pytest

from skysift.cli.main import main
from skysift.io.store import open_store

DATA = Path(__file__).resolve().parents[1] / "data"
T90 = DATA / "lightcurves" / "plasticc_test90_6objects.csv"
T90_META = DATA / "lightcurves" / "plasticc_test90_6objects_metadata.csv"
FINK_AVRO = DATA / "alerts" / "fink_client_ztf_3alerts_snappy.avro"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_group_lists_both_commands(capsys):
    code, out, _ = run(capsys, "ingest", "--help")
    assert code == 0 and "lightcurves" in out and "alerts" in out
    for command in ("lightcurves", "alerts"):
        code, out, _ = run(capsys, "ingest", command, "--help")
        assert code == 0 and "--out" in out


def test_ingest_lightcurves_plasticc(capsys, tmp_path):
    out_dir = tmp_path / "t90"
    code, out, _ = run(
        capsys, "ingest", "lightcurves", T90, "--metadata", T90_META, "--out", out_dir
    )
    assert code == 0
    assert "read 6 light curves (plasticc)" in out and "6 written" in out
    assert "0 skipped" in out and "SNII 2, SNIa 2, SNIbc 2" in out
    assert f"{out_dir}/_skipped.csv" in out
    assert open_store(out_dir).n_objects == 6
    assert pd.read_csv(out_dir / "_skipped.csv").empty
    # an existing store is refused, with a one-line error
    code, _, err = run(capsys, "ingest", "lightcurves", T90, "--out", out_dir)
    assert code == 1 and "already exists" in err and "--overwrite" in err
    code, out, _ = run(
        capsys, "ingest", "lightcurves", T90, "--out", out_dir, "--overwrite"
    )
    assert code == 0 and "6 written" in out


def test_ingest_lightcurves_reports_skipped_files(capsys, tmp_path):
    folder = tmp_path / "snana"
    folder.mkdir()
    header = "SNID: {}\nSIM_COMMENT: SN Type = Ia , MODEL = x\nNOBS: {}\n"
    header += "VARLIST: MJD FLT FIELD FLUXCAL FLUXCALERR\n"
    (folder / "A.DAT").write_text(
        header.format(1, 1) + "OBS: 56000.0 g NULL 1.0 0.5\nEND:\n"
    )
    (folder / "B.DAT").write_text(header.format(2, 5) + "OBS: 56000.0 g NULL 1.0 0.5\n")
    code, out, _ = run(capsys, "ingest", "lightcurves", folder, "--out", tmp_path / "s")
    assert code == 0
    assert (
        "read 2 light curves (snana)" in out
        and "1 written" in out
        and "1 skipped" in out
    )
    assert "truncated file" in out and "B.DAT" in out
    report = pd.read_csv(tmp_path / "s" / "_skipped.csv")
    assert report.loc[0, "reason"] == "truncated file"
    assert report.loc[0, "detail"] == "header NOBS: 5 but 1 OBS: rows"


def test_ingest_lightcurves_errors(capsys, tmp_path):
    code, _, err = run(
        capsys, "ingest", "lightcurves", FINK_AVRO, "--out", tmp_path / "s"
    )
    assert code == 1 and "cannot tell its light-curve format" in err
    (tmp_path / "A.DAT").write_text("SNID: 1\nVARLIST: MJD FLT FLUXCAL FLUXCALERR\n")
    code, _, err = run(
        capsys, "ingest", "lightcurves", tmp_path / "A.DAT", "--metadata", T90_META,
        "--out", tmp_path / "s",
    )  # fmt: skip
    assert code == 1 and "metadata table applies to the plasticc format" in err
    code, _, err = run(
        capsys, "ingest", "lightcurves", tmp_path / "A.DAT", "--out", tmp_path / "s"
    )
    assert (
        code == 1
        and "no light curves could be read" in err
        and "no observations" in err
    )
    assert not (tmp_path / "s").exists()


def test_ingest_alerts_quarantines_bad_packets(capsys, tmp_path):
    with open(FINK_AVRO, "rb") as f:
        reader = fastavro.reader(f)
        schema, records = reader.writer_schema, list(reader)
    records[1]["candidate"]["magpsf"] = float("nan")
    folder = tmp_path / "alerts"
    folder.mkdir()
    with open(folder / "part-0.avro", "wb") as f:
        fastavro.writer(f, schema, records, codec="deflate")
    (folder / "_SUCCESS").write_text("")
    code, out, _ = run(capsys, "ingest", "alerts", folder, "--out", tmp_path / "s")
    assert code == 0
    assert "read 3 alerts (ztf)" in out and "2 written" in out and "1 skipped" in out
    assert "NaN magnitude" in out and "upper limits:" in out
    report = pd.read_csv(tmp_path / "s" / "_skipped.csv")
    assert list(report["reason"]) == ["NaN magnitude"]
    assert str(records[1]["objectId"]) in report.loc[0, "object_id"]
    store = open_store(tmp_path / "s")
    assert store.manifest["attrs"]["survey"] == "ztf"
    assert "upper_limit_mag" in store.columns and "candid" in store.columns


def test_ingest_alerts_with_bands_and_label_field(capsys, tmp_path):
    code, out, _ = run(
        capsys, "ingest", "alerts", FINK_AVRO, "--out", tmp_path / "s", "--bands", "g",
        "--label-field", "cdsxmatch",
    )  # fmt: skip
    assert code == 0 and "points in other bands dropped" in out
    store = open_store(tmp_path / "s")
    assert store.manifest["summary"]["bands"] == ["g"]
    assert store.manifest["n_unlabelled"] < store.n_objects  # cdsxmatch names classes


@pytest.mark.skipif(not SHARED.is_dir(), reason="real data in ../shared/data is absent")
def test_ingest_alerts_real_folder(capsys, tmp_path):
    code, out, _ = run(
        capsys,
        "ingest",
        "alerts",
        SHARED / "ztf_alerts/alerce-pipeline",
        "--out",
        tmp_path / "s",
    )
    assert code == 0 and "read 98 alerts (ztf)" in out and "98 written" in out
