"""``skysift ingest spectra`` end to end."""

import json
import shutil
from pathlib import Path

from skysift.cli.main import main

DATA = Path(__file__).parents[1] / "data" / "spectra"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def inputs(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(DATA / "sn2002hd.lnw", d)
    shutil.copy(DATA / "ptf09cnd.p31.dat", d)
    shutil.copy(DATA / "oe270005.fits", d)
    (d / "notes.txt").write_text("observing log\n")
    return d


def test_ingest_group_lists_spectra(capsys):
    code, out, _ = run(capsys, "ingest", "--help")
    assert code == 0 and "spectra" in out
    code, out, _ = run(capsys, "ingest", "spectra", "--help")
    assert code == 0 and "--labels" in out and "--id-column" in out


def test_ingest_spectra_with_catalogue(capsys, tmp_path):
    d = inputs(tmp_path)
    cat = tmp_path / "cat.csv"
    cat.write_text("file,type\nptf09cnd.p31.dat,1\noe270005,2\n")
    out_dir = tmp_path / "store"
    code, out, err = run(
        capsys, "ingest", "spectra", d, "--labels", cat, "--id-column", "file",
        "--label-map", "1=SLSN-I,2=B-star", "--out", out_dir,
    )  # fmt: skip
    assert code == 0, err
    assert "files:   4 in, 3 read, 1 skipped" in out
    assert "spectra: 5 read, 5 written, 0 skipped" in out
    assert "snid.lnw" in out and "wcs1d.fits" in out
    assert "labels:  3 file, 2 catalogue" in out
    assert "matched 2 spectra (1 by object_id, 1 by file)" in out
    assert f"{out_dir}/_skipped.csv" in out and "unrecognised spectrum format" in out
    code, out, _ = run(capsys, "info", out_dir, "--json")
    info = json.loads(out)
    assert info["classes"] == {"B-star": 1, "Ia-norm": 3, "SLSN-I": 1}
    assert info["attrs"]["ingest"]["n_files"] == 4


def test_ingest_spectra_errors_exit_nonzero(capsys, tmp_path):
    d = inputs(tmp_path)
    code, _, err = run(
        capsys, "ingest", "spectra", d, "--id-column", "x", "--out", tmp_path / "s"
    )
    assert code == 2 and "need --labels" in err
    cat = tmp_path / "cat.csv"
    cat.write_text("id,label\na,b\n")
    code, _, err = run(
        capsys,
        "ingest",
        "spectra",
        d,
        "--labels",
        cat,
        "--label-column",
        "klass",
        "--out",
        tmp_path / "s",
    )
    assert code == 1 and "no label column 'klass'" in err
    code, _, err = run(
        capsys, "ingest", "spectra", d / "notes.txt", "--out", tmp_path / "s"
    )
    assert code == 1 and "no spectrum could be read from 1 file(s)" in err
    code, _, err = run(
        capsys, "ingest", "spectra", tmp_path / "nope", "--out", tmp_path / "s"
    )
    assert code == 1 and "no such file or directory" in err
    code, _, err = run(
        capsys,
        "ingest",
        "spectra",
        d,
        "--label-map",
        "oops",
        "--labels",
        cat,
        "--out",
        tmp_path / "s",
    )
    assert code == 2 and "OLD=NEW" in err
    assert not (tmp_path / "s").exists()
