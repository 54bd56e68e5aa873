"""Ingesting files into a store: accounting, archives, labels, real data sets."""

import csv
import io
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skysift.exceptions import DataFormatError
from skysift.io.ingest import (
    META_FIELDS,
    REPORT_NAME,
    count_input_files,
    ingest_spectra,
)
from skysift.io.store import open_store

DATA = Path(__file__).parents[1] / "data" / "spectra"
SHARED = Path(__file__).parents[2].parent / "shared" / "data"
HA_AIR, HA_VAC = 6562.80, 6564.61


def shared(rel):
    path = SHARED / rel
    if not path.exists():
        pytest.skip(f"{path} not available (../shared/data)")
    return path


def report(store_path):
    with open(Path(store_path) / REPORT_NAME) as f:
        return list(csv.DictReader(f))


@pytest.fixture
def mixed_dir(tmp_path):
    d = tmp_path / "in"
    (d / "lamost").mkdir(parents=True)
    shutil.copy(DATA / "spec-55916-B5591606_sp01-001.fits", d / "lamost")
    shutil.copy(DATA / "spec-55939-B5593905_sp01-018.fits", d / "lamost")
    shutil.copy(DATA / "oe270005.fits", d)
    shutil.copy(DATA / "sn2002hd.lnw", d)
    shutil.copy(DATA / "desi_rebinned_no_wavelength.fits", d)
    (d / "README.md").write_text("# notes\nnot a spectrum\n")
    (d / "empty.fits").write_bytes(b"")
    return d


def test_every_file_and_spectrum_is_accounted_for(mixed_dir, tmp_path):
    out = tmp_path / "store"
    result = ingest_spectra(mixed_dir, out)
    assert result.n_files == 7 == result.n_files_read + result.n_files_skipped
    assert (result.n_files_read, result.n_files_skipped) == (4, 3)
    assert result.n_spectra_read == 6 == result.n_written + result.n_spectra_skipped
    assert result.formats == {
        "lamost.fits": [2, 2],
        "wcs1d.fits": [1, 1],
        "snid.lnw": [1, 3],
    }
    store = open_store(out)
    assert store.n_objects == 6
    assert store.manifest["attrs"]["ingest"]["n_files_skipped"] == 3
    rows = report(out)
    assert len(rows) == 3
    reasons = {Path(r["file"]).name: r["reason"] for r in rows}
    assert "no B_WAVELENGTH HDU" in reasons["desi_rebinned_no_wavelength.fits"]
    assert reasons["empty.fits"].startswith(
        "unrecognised spectrum format: an empty file"
    )
    assert "text file without wavelength/flux" in reasons["README.md"]
    assert all(str(mixed_dir) in r["file"] for r in rows)  # paths, not temp names
    assert result.skip_reasons()["unrecognised spectrum format"] == 2


def test_store_columns_and_values(mixed_dir, tmp_path):
    ingest_spectra(mixed_dir, tmp_path / "store")
    table = open_store(tmp_path / "store").to_pandas().set_index("object_id")
    for f in META_FIELDS:
        assert f.name in table.columns
    lnw = table.loc["sn2002hd:1"]
    assert (lnw.label, lnw.group, lnw.age_days, lnw.frame) == (
        "Ia-norm",
        "sn2002hd",
        12.0,
        "unknown",
    )
    assert lnw.source_file.endswith("sn2002hd.lnw") and lnw.label_source == "file"
    lamost = table.loc["spec-55916-B5591606_sp01-001"]
    assert (lamost.label, lamost.subclass, lamost.frame, lamost.format) == (
        "STAR",
        "K5",
        "vacuum",
        "lamost.fits",
    )
    assert lamost.redshift == pytest.approx(-0.00017148)
    raw = table.loc["oe270005"]
    assert (raw.frame, raw.ivar_source) == ("air", "der_snr") and pd.isna(
        raw.label_source
    )
    assert (
        len(raw.wavelength_aa)
        == len(raw.flux)
        == len(raw.ivar)
        == len(raw["mask"])
        == 1997
    )


def test_duplicates_and_unusable_spectra_are_skipped_not_dropped(tmp_path):
    d = tmp_path / "in"
    (d / "copy").mkdir(parents=True)
    shutil.copy(DATA / "oe270005.fits", d)
    shutil.copy(DATA / "oe270005.fits", d / "copy")
    rows = "".join(
        f"{6500 + i} 1 0\n" for i in range(30)
    )  # error 0 -> ivar 0 everywhere
    (d / "dead.txt").write_text("wave flux ivar\n" + rows)
    with pytest.raises(DataFormatError, match="no usable pixel"):
        ingest_spectra(d / "dead.txt", tmp_path / "never")
    assert not (tmp_path / "never").exists()
    result = ingest_spectra(d, tmp_path / "store")
    assert (result.n_files_read, result.n_spectra_read, result.n_written) == (2, 2, 1)
    rows = {r["object_id"]: r for r in report(tmp_path / "store")}
    dup, dead = rows["oe270005"], rows[""]
    assert "duplicate object_id 'oe270005' (already read from" in dup["reason"]
    assert "copy/oe270005.fits" in dup["reason"]  # rglob order: copy/ first
    assert dead["file"].endswith("dead.txt") and "no usable pixel" in dead["reason"]


def test_tar_archive_members_streamed_and_named(tmp_path):
    archive = tmp_path / "templates.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(DATA / "sn2002hd.lnw", arcname="training_set/sn2002hd.lnw")
        tar.add(DATA / "ptf09cnd.p31.dat", arcname="training_set/SLSN/ptf09cnd.p31.dat")
        info = tarfile.TarInfo("training_set/templist.txt")
        payload = b"sn2002hd.lnw\n"
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
        link = tarfile.TarInfo("training_set/link.lnw")
        link.type = tarfile.SYMTYPE
        link.linkname = "sn2002hd.lnw"
        tar.addfile(link)
        evil = tarfile.TarInfo("../evil.dat")
        evil.size = len(payload)
        tar.addfile(evil, io.BytesIO(payload))
    assert count_input_files(archive) == 5
    labels = tmp_path / "index.csv"
    labels.write_text(
        "file,snid_type\nsn2002hd.lnw,Ia-norm\nSLSN/ptf09cnd.p31.dat,SLSN-I\n"
    )
    result = ingest_spectra(archive, tmp_path / "store", labels=labels)
    assert (result.n_files, result.n_files_read, result.n_written) == (5, 2, 4)
    assert result.label_sources == {"file": 3, "catalogue": 1}
    store = open_store(tmp_path / "store")
    assert store.classes == {"Ia-norm": 3, "SLSN-I": 1}
    sources = store.read(["source_file"]).column(0).to_pylist()
    assert f"{archive}/training_set/SLSN/ptf09cnd.p31.dat" in sources
    reasons = {
        r["file"].rsplit("/", 1)[-1]: r["reason"] for r in report(tmp_path / "store")
    }
    assert "link or device" in reasons["link.lnw"]
    assert "unsafe archive member name" in reasons["evil.dat"]
    assert "unrecognised" in reasons["templist.txt"]
    assert not (tmp_path / "evil.dat").exists()


def test_label_from_directory_and_glob(tmp_path):
    for kind in ("Ia", "II"):
        (tmp_path / "sne" / kind).mkdir(parents=True)
        rows = "".join(f"{4000 + i} {1 + 0.1 * (i % 3)}\n" for i in range(40))
        (tmp_path / "sne" / kind / f"sn_{kind}.p01.dat").write_text(rows)
    result = ingest_spectra(
        str(tmp_path / "sne" / "**" / "*.dat"),
        tmp_path / "store",
        label_from_directory=True,
    )
    assert result.classes == {"II": 1, "Ia": 1} and result.label_sources == {
        "directory": 2
    }
    with pytest.raises(FileNotFoundError, match="no file matches"):
        ingest_spectra(str(tmp_path / "nothing" / "*.fits"), tmp_path / "s2")
    with pytest.raises(FileNotFoundError, match="no such file"):
        ingest_spectra(tmp_path / "missing", tmp_path / "s3")
    with pytest.raises(FileExistsError):
        ingest_spectra(tmp_path / "sne", tmp_path / "store")


def test_forced_format_skips_other_files(mixed_dir, tmp_path):
    result = ingest_spectra(mixed_dir, tmp_path / "store", format="lamost.fits")
    assert result.n_files_read == 2 and result.n_files_skipped == 5
    with pytest.raises(
        ValueError, match=r"unknown spectrum format 'lamost'.*lamost\.fits"
    ):
        ingest_spectra(mixed_dir, tmp_path / "other", format="lamost")


# -- acceptance on the real data sets in ../shared/data -------------------------------


@pytest.mark.slow
def test_dash_training_set_every_epoch_lands_labelled(tmp_path):
    archive = shared("astrodash_sn_spectra/dash_training_set_snid_templates.tar.gz")
    index = shared("astrodash_sn_spectra/training_set_index.csv")
    result = ingest_spectra(archive, tmp_path / "dash", labels=index, id_column="file")
    assert result.formats == {"snid.lnw": [514, 4813], "text": [124, 124]}
    assert result.n_spectra_skipped == 0 and result.n_written == 4937
    assert (
        result.n_files_skipped == 4
    )  # templist.txt, texplist, tfirstlist, create_templist.py
    assert result.join.n_label_conflicts == 0 and result.n_catalogue_unused == 0
    table = open_store(tmp_path / "dash").to_pandas(
        columns=["label", "format", "group", "age_days"]
    )
    lnw = table[table.format == "snid.lnw"]
    assert (
        lnw.label.nunique() == 18
        and lnw.label.notna().all()
        and lnw.age_days.notna().all()
    )
    assert lnw.group.nunique() == 506  # 514 template files of 506 supernovae
    assert (table[table.format == "text"].label == "SLSN-I").all()


def _line_center(w, f, m, ref):
    sel = (np.abs(w - ref) < 25) & ~m
    w, f = w[sel], f[sel]
    edge = np.abs(w - ref) > 15
    d = f / np.polyval(np.polyfit(w[edge], f[edge], 1), w) - 1
    core = np.abs(w - ref) < 12
    sign = 1 if d[core].max() > -d[core].min() else -1
    weight = np.clip(sign * d, 0, None) * core
    return (w * weight).sum() / weight.sum()


def test_ondrejov_and_lamost_halpha_in_the_right_frame(tmp_path):
    root = shared("ondrejov_lamost_spectra")
    labels = root / "bt-spectraldl" / "ondrejov-dataset.csv"
    result = ingest_spectra(
        root,
        tmp_path / "ond",
        labels=labels,
        label_map={"0": "emission", "1": "absorption"},
    )
    assert result.formats["lamost.fits"] == [39, 39] and result.formats[
        "vo-sdm.fits"
    ] == [25, 25]
    assert result.n_spectra_skipped == 0
    table = open_store(tmp_path / "ond").to_pandas().set_index("object_id")
    gamma_cas = table.loc["ivo://asu.cas.cz/stel/ccd700/uk220017"]
    assert (gamma_cas.label, gamma_cas.frame) == ("emission", "air")
    centre = _line_center(
        *(np.asarray(gamma_cas[c]) for c in ("wavelength_aa", "flux", "mask")), HA_AIR
    )
    assert abs(centre - HA_AIR) < 0.5  # gamma Cas RV is about -7 km/s = -0.15 A
    # the star's own H-alpha, corrected by the pipeline redshift, sits at the
    # vacuum wavelength in LAMOST spectra (air would be 80 km/s off)
    lamost = table[table.format == "lamost.fits"]
    offsets = []
    for _, row in lamost.iterrows():
        w, f, m = (np.asarray(row[c]) for c in ("wavelength_aa", "flux", "mask"))
        z = row.redshift if np.isfinite(row.redshift) else 0.0
        if (np.abs(w - HA_VAC) < 25).sum() - m[np.abs(w - HA_VAC) < 25].sum() < 20:
            continue
        offsets.append(
            (_line_center(w, f, m, HA_VAC * (1 + z)) / (1 + z) - HA_VAC) / HA_VAC * 3e5
        )
    assert len(offsets) > 25 and abs(np.median(offsets)) < 20  # km/s
