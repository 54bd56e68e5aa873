"""Catalogue reading and the label/redshift join."""

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from skysift.data.containers import Spectrum
from skysift.exceptions import DataFormatError
from skysift.io.labels import Catalogue, join_labels, read_catalogue
from skysift.io.registry import read_spectra

SHARED = Path(__file__).parents[2].parent / "shared" / "data"


def spectrum(oid, source=None, group=None, label=None):
    meta = {}
    if source:
        meta["source_file"] = source
    if group:
        meta["group"] = group
    return Spectrum(oid, np.array([4000.0, 4001.0]), np.ones(2), label=label, meta=meta)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_auto_columns_and_label_map(tmp_path):
    p = write(tmp_path, "cat.csv", "id, label ,z\nA,0,0.1\nB,3,\n")
    cat = read_catalogue(p, label_map={"0": "emission", "3": "double-peak"})
    assert (cat.id_column, cat.label_column, cat.redshift_column) == (
        "id",
        "label",
        "z",
    )
    assert cat.rows == {"A": ("emission", 0.1, None), "B": ("double-peak", None, None)}


def test_explicit_columns_whitespace_table(tmp_path):
    p = write(tmp_path, "cat.txt", "name   kind  zspec  zerr\nsn1 Ia 0.02 0.001\n")
    cat = read_catalogue(
        p,
        id_column="name",
        label_column="kind",
        redshift_column="zspec",
        redshift_err_column="zerr",
    )
    assert cat.rows["sn1"] == ("Ia", 0.02, 0.001)


def test_missing_columns_are_named(tmp_path):
    p = write(tmp_path, "cat.csv", "id,label\nA,x\n")
    with pytest.raises(
        DataFormatError, match=r"no label column 'klass'; columns are \['id', 'label'\]"
    ):
        read_catalogue(p, label_column="klass")
    p = write(tmp_path, "cat2.csv", "name,label\nA,x\n")
    with pytest.raises(DataFormatError, match="no id column found"):
        read_catalogue(p)
    p = write(tmp_path, "cat3.csv", "id,ra\nA,1\n")
    with pytest.raises(DataFormatError, match="no label or redshift column"):
        read_catalogue(p)


def test_conflicting_duplicate_ids_rejected(tmp_path):
    p = write(tmp_path, "cat.csv", "id,label\nA,x\nA,x\nB,y\nB,z\n")
    with pytest.raises(
        DataFormatError, match=r"1 id\(s\) appear more than once .* \['B'\]"
    ):
        read_catalogue(p)


def test_fits_table_catalogue_with_integer_ids(tmp_path):
    path = tmp_path / "cat.fits"
    Table(
        {
            "TARGETID": np.array([39627000000001, 2]),
            "SPECTYPE": ["QSO", "STAR"],
            "Z": [2.1, 0.0],
        }
    ).write(path)
    cat = read_catalogue(path)
    assert cat.rows["39627000000001"] == ("QSO", 2.1, None)


def test_join_by_id_file_suffix_basename_and_group():
    cat = Catalogue(
        "cat",
        "id",
        "label",
        "z",
        None,
        {
            "obj1": ("A", 0.5, None),
            "SLSN/x.m05.dat": ("SLSN-I", None, None),
            "/lamost/GAC/spec-1.fits": ("emission", None, None),
            "sn1999x": ("Ia", None, None),
            "unused": ("B", None, None),
        },
    )
    spectra = [
        spectrum("obj1"),
        spectrum("x.m05", source="data.tar.gz/training_set/SLSN/x.m05.dat"),
        spectrum("spec-1", source="/data/spec-1.fits"),
        spectrum("t7:0", source="t/template_7.lnw", group="sn1999x", label="Ia"),
        spectrum("nothing", source="y.dat"),
    ]
    summary = join_labels(spectra, cat)
    assert [s.label for s in spectra] == ["A", "SLSN-I", "emission", "Ia", None]
    assert spectra[0].redshift == 0.5
    assert summary.n_matched == 4 and summary.n_label_conflicts == 0
    assert dict(summary.matched_by) == {"object_id": 1, "file": 2, "group": 1}
    assert summary.unused_ids(cat) == ["unused"]
    # the group match agreed with the file's label: it stays a file label
    assert "label_source" not in spectra[3].meta
    assert spectra[1].meta["label_source"] == "catalogue"


def test_join_conflicts_counted_catalogue_wins_and_match_on_meta_key():
    cat = Catalogue(
        "cat", "obsid", "label", None, None, {"123": ("GALAXY", None, None)}
    )
    s = spectrum("spec-a", label="STAR")
    s.meta["obsid"] = 123
    summary = join_labels([s], cat, match_on="object_id")
    assert summary.n_matched == 0
    summary = join_labels([s], cat, match_on="obsid")
    assert s.label == "GALAXY" and summary.n_label_conflicts == 1
    assert summary.conflicts == [("spec-a", "STAR", "GALAXY")]


def test_ambiguous_basenames_are_not_matched_by_name():
    cat = Catalogue(
        "cat",
        "path",
        "label",
        None,
        None,
        {"a/x.fits": ("1", None, None), "b/x.fits": ("2", None, None)},
    )
    s = spectrum("x", source="elsewhere/x.fits")
    assert join_labels([s], cat).n_matched == 0


def test_real_ondrejov_catalogue_labels_vo_spectra():
    labels = SHARED / "ondrejov_lamost_spectra/bt-spectraldl/ondrejov-dataset.csv"
    gamma_cas = SHARED / "ondrejov_lamost_spectra/bt-spectraldl/gamma-cas-emission.fits"
    if not labels.exists():
        pytest.skip("../shared/data not available")
    cat = read_catalogue(labels, label_map={"0": "emission", "1": "absorption"})
    assert len(cat) == 13334
    spectra = read_spectra(gamma_cas)
    assert join_labels(spectra, cat).matched_by["object_id"] == 1
    assert spectra[0].label == "emission"
