"""The rejects file writer shared by ingest, prepare, train and predict."""

import csv

import pytest

from skysift.io.rejects import write_rejects


def test_rows_round_trip_with_commas_and_quotes(tmp_path):
    rows = [("sn,1", 'no "flux" column'), ("sn2", "NaN in flux_err")]
    path = write_rejects(tmp_path / "r.csv", rows)
    with open(path, newline="") as f:
        back = list(csv.reader(f))
    assert back == [["object_id", "reason"], *map(list, rows)]


def test_no_rows_is_a_header_and_no_temporary_file_is_left(tmp_path):
    path = write_rejects(tmp_path / "r.csv", iter([]), ("file", "object_id", "reason"))
    assert path.read_text().splitlines() == ["file,object_id,reason"]
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_a_failing_row_source_keeps_the_previous_file(tmp_path):
    path = write_rejects(tmp_path / "r.csv", [("a", "old reason")])

    def rows():
        yield ("b", "new reason")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        write_rejects(path, rows())
    assert path.read_text().splitlines() == ["object_id,reason", "a,old reason"]
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]
