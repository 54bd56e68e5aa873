"""The UEA/UCR .ts reader and the UEA store builder."""

import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.interpolate import interp1d

from skysift.exceptions import DataFormatError
from skysift.io.store import open_store
from skysift.io.uea import build_uea_store, parse_ts, read_ts, to_fixed_length

DATA = Path(__file__).resolve().parents[1] / "data" / "uea"
SHARED_UEA = Path(__file__).resolve().parents[3] / "shared" / "data" / "uea_ucr_ts"

HEADER = """\
# a comment
@problemName Tiny
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
"""


def ts(body: str, header: str = HEADER) -> list[str]:
    return (header + textwrap.dedent(body)).splitlines()


def test_parse_values_labels_lines_and_missing():
    ds = parse_ts(ts("1,2,3:4,5,6:up\n\n7,?:9.5,-1e2:down\n"), source="tiny.ts")
    assert ds.problem_name == "Tiny"
    assert ds.labels == ["up", "down"] and ds.class_labels == ["up", "down"]
    assert ds.num_dimensions == 2 and ds.lengths.tolist() == [3, 2]
    # time along axis 0, dimension along axis 1
    np.testing.assert_array_equal(ds.series[0], [[1, 4], [2, 5], [3, 6]])
    assert np.isnan(ds.series[1][1, 0]) and ds.series[1][1, 1] == -100.0
    assert ds.line_numbers == [10, 12]  # 1-based, blank line skipped


def test_real_japanese_vowels_excerpt():
    # 4 cases of the real file (2 of speaker 1, 2 of speaker 2), see SOURCES.md
    path = DATA / "JapaneseVowels_TRAIN_4cases.ts"
    ds = read_ts(path)
    assert ds.problem_name == "JapaneseVowels" and ds.num_dimensions == 12
    assert ds.labels == ["1", "1", "2", "2"]
    assert ds.lengths.tolist() == [20, 26, 18, 17]
    # against a plain split of the text, independent of the parser
    line = path.read_text().splitlines()[ds.line_numbers[2] - 1]
    dims = line.split(":")[:-1]
    expected = np.array([[float(v) for v in d.split(",")] for d in dims]).T
    np.testing.assert_array_equal(ds.series[2], expected)


@pytest.mark.parametrize(
    ("body", "header", "match"),
    [
        ("1,2:3,x:up\n", HEADER, r"tiny\.ts, line 10, dimension 2: value 2 is 'x'"),
        ("1,2:3:up\n", HEADER, r"line 10: the dimensions of one case differ in length"),
        ("1,2:3,4:left\n", HEADER, r"line 10: class label 'left' is not one of"),
        ("1,2:up\n", HEADER, r"line 10: 1 dimension\(s\), expected 2"),
        (
            "1,2::up\n",
            HEADER.replace("@dimensions 2\n", ""),
            r"line 9: dimension 2 is empty",
        ),
        (
            "1,2\n",
            HEADER.replace("@dimensions 2", "@dimensions 1"),
            r"line 10: expected .* no ':'",
        ),
        ("1,inf:3,4:up\n", HEADER, r"value 2 is 'inf'; write missing values as '\?'"),
        (
            "1,?:3,4:up\n",
            HEADER.replace("@missing true", "@missing false"),
            r"'\?' .* @missing false",
        ),
        ("@dimensions 3\n", HEADER, r"line 10: header line .* after @data"),
        (
            "",
            HEADER.replace("@univariate false", "@univariate maybe"),
            r"line 5: @univariate: expected 'true' or 'false', got 'maybe'",
        ),
        (
            "",
            HEADER.replace("@problemName", "@problemTitle"),
            r"line 2: unknown header tag @problemTitle",
        ),
        (
            "",
            HEADER.replace("@timeStamps false", "@timeStamps true"),
            r"@timeStamps true .* not supported",
        ),
        (
            "",
            HEADER.replace("@classLabel true up down", "@targetLabel true"),
            r"@targetLabel .* regression",
        ),
        (
            "",
            HEADER.replace("@classLabel true up down\n", ""),
            r"no @classLabel line before @data",
        ),
        (
            "",
            HEADER.replace("@classLabel true up down", "@classLabel true"),
            r"lists no class labels",
        ),
        (
            "",
            HEADER.replace("@dimensions 2", "@dimensions two"),
            r"@dimensions needs a positive integer",
        ),
        (
            "",
            HEADER.replace("@missing true", "@missing true\n@missing true"),
            r"@missing appears twice",
        ),
        ("", HEADER, r"tiny\.ts: no cases after @data"),
        ("", HEADER.replace("@data\n", ""), r"no @data line"),
        ("1,2:3,4:up\n", "", r"line 1: data line before @data"),
        (
            "1,2:3,4:up\n1,2,3:4,5,6:down\n",
            HEADER.replace("@equalLength false", "@equalLength true\n@seriesLength 2"),
            r"line 12: series of length 3, but @seriesLength is 2",
        ),
        (
            "1,2:3,4:up\n1,2,3:4,5,6:down\n",
            HEADER.replace("@equalLength false", "@equalLength true"),
            r"@equalLength true, but the cases have lengths \[2, 3\]",
        ),
    ],
)
def test_malformed_input_names_file_line_and_reason(body, header, match):
    with pytest.raises(DataFormatError, match=match):
        parse_ts(ts(body, header), source="tiny.ts")


def test_missing_values_without_a_missing_tag_are_read():
    ds = parse_ts(ts("1,?:3,4:up\n", HEADER.replace("@missing true\n", "")))
    assert np.isnan(ds.series[0][1, 0]) and ds.series[0][1, 1] == 4.0


def test_read_ts_names_the_path(tmp_path):
    path = tmp_path / "bad.ts"
    path.write_text(HEADER + "1,2:3,four:up\n")
    with pytest.raises(
        DataFormatError, match=re.escape(f"{path}, line 10, dimension 2")
    ):
        read_ts(path)
    with pytest.raises(FileNotFoundError, match=r"absent\.ts"):
        read_ts(tmp_path / "absent.ts")
    path.write_bytes(b"\xff\xfe@data\n")
    with pytest.raises(DataFormatError, match="not UTF-8"):
        read_ts(path)
    path.write_text("")
    with pytest.raises(DataFormatError, match="no @data line"):
        read_ts(path)


def test_resample_matches_scipy_linear_interpolation():
    rng = np.random.default_rng(0)
    series = [rng.normal(size=(n, 3)) for n in (7, 12, 29)]
    x, rejected = to_fixed_length(series, 29)
    assert x.shape == (3, 29, 3) and x.dtype == np.float32 and rejected == []
    for case, out in zip(series, x, strict=True):
        n = len(case)
        ref = interp1d(np.arange(n), case, axis=0)(np.linspace(0, n - 1, 29))
        np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)
    # a case already at the length is unchanged; endpoints are kept exactly
    np.testing.assert_allclose(x[2], series[2], rtol=1e-6)
    np.testing.assert_allclose(x[0][[0, -1]], series[0][[0, -1]], rtol=1e-6)


def test_pad_missing_values_and_rejections():
    a = np.array([[1.0, 10.0], [np.nan, 20.0], [3.0, np.nan]])
    b = np.array([[1.0, np.nan], [2.0, np.nan]])  # dimension 2 has no value
    c = np.ones((5, 2))  # longer than the padded length
    x, rejected = to_fixed_length([a, b, c], 4, method="pad")
    # NaNs filled by linear interpolation (constant beyond the ends), zeros after
    np.testing.assert_array_equal(x[0], [[1, 10], [2, 20], [3, 20], [0, 0]])
    assert len(x) == 1
    assert rejected == [
        (1, "dimension(s) [2] have no values (all missing)"),
        (2, "5 steps, longer than length 4 (method pad)"),
    ]
    x, rejected = to_fixed_length([np.array([[4.0, 5.0]])], 3)
    np.testing.assert_array_equal(x[0], [[4, 5]] * 3)
    with pytest.raises(ValueError, match="method must be one of"):
        to_fixed_length([a], 4, method="cubic")
    with pytest.raises(ValueError, match="length must be >= 1"):
        to_fixed_length([a], 0)


def _write_problem(
    root: Path, name: str, train: str, test: str, header: str = HEADER
) -> None:
    (root / "uea_ucr_ts" / name).mkdir(parents=True)
    (root / "uea_ucr_ts" / name / f"{name}_TRAIN.ts").write_text(header + train)
    (root / "uea_ucr_ts" / name / f"{name}_TEST.ts").write_text(header + test)


def test_build_store_counts_labels_lengths_and_rejects(tmp_path):
    train = "1,2,3:4,5,6:up\n1,2:3,4:down\n?,?:1,2:up\n1,2,3,4:5,6,7,8:down\n"
    test = "0,1,2,3,4,5:5,4,3,2,1,0:up\n9,8:7,6:down\n"
    _write_problem(tmp_path, "Tiny", train, test)
    info = build_uea_store(tmp_path / "store", data_dir=tmp_path, name="Tiny")
    assert (info["n_in"], info["n_out"], info["n_rejected"]) == (6, 5, 1)
    assert (info["n_train"], info["n_test"]) == (3, 2)
    assert info["input_shape"] == [6, 2] and info["length"] == 6  # the longest case
    store = open_store(tmp_path / "store")
    assert store.kind == "prepared"
    table = store.to_pandas()
    assert table["object_id"].tolist() == [
        "Tiny_TRAIN_0000",
        "Tiny_TRAIN_0001",
        "Tiny_TRAIN_0003",
        "Tiny_TEST_0000",
        "Tiny_TEST_0001",
    ]
    assert table["label"].tolist() == ["up", "down", "down", "up", "down"]
    assert table["split"].tolist() == ["TRAIN"] * 3 + ["TEST"] * 2
    assert table["series_length"].tolist() == [3, 2, 4, 6, 2]
    assert table["source_line"].tolist() == [10, 11, 13, 10, 11]
    x = np.stack(table["x"].to_numpy()).reshape(5, 6, 2)
    np.testing.assert_allclose(x[0, :, 0], np.linspace(1, 3, 6), rtol=1e-6)
    np.testing.assert_allclose(x[3], [[i, 5 - i] for i in range(6)])
    rejected = pd.read_csv(tmp_path / "store" / "_rejected.csv")
    assert rejected["object_id"].tolist() == ["Tiny_TRAIN_0002"]
    assert (
        "Tiny_TRAIN.ts, line 12: dimension(s) [1] have no values"
        in rejected["reason"][0]
    )
    attrs = store.info()["attrs"]
    assert (
        attrs["n_in"] == 6
        and attrs["n_rejected"] == 1
        and attrs["source_kind"] == "lightcurves"
    )

    padded = build_uea_store(
        tmp_path / "padded", data_dir=tmp_path, name="Tiny", method="pad"
    )
    xp = np.stack(
        open_store(tmp_path / "padded")
        .read(["x"])
        .column(0)
        .to_numpy(zero_copy_only=False)
    )
    np.testing.assert_array_equal(xp[0].reshape(6, 2)[:, 1], [4, 5, 6, 0, 0, 0])
    assert padded["n_out"] == 5


def test_build_store_is_what_training_reads(tmp_path):
    from skysift.training.data import load_training_data

    rng = np.random.default_rng(1)
    cases = []
    for i in range(20):
        n = int(rng.integers(4, 9))
        dims = [",".join(f"{v:.3f}" for v in rng.normal(size=n)) for _ in range(2)]
        cases.append(":".join([*dims, "up" if i % 2 else "down"]))
    _write_problem(tmp_path, "Tiny", "\n".join(cases[:12]), "\n".join(cases[12:]))
    build_uea_store(tmp_path / "store", data_dir=tmp_path, name="Tiny", length=10)
    data = load_training_data(tmp_path / "store", test_size=0.25, val_size=0.25, seed=0)
    assert data.kind == "lightcurves" and data.x.shape == (20, 10, 2)
    assert data.input_shape == (10, 2) and data.class_names == ["down", "up"]


def test_build_store_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'Nope'.*problems in .*: none"):
        build_uea_store(tmp_path / "s", data_dir=tmp_path, name="Nope")
    _write_problem(
        tmp_path,
        "Two",
        "1,2:3,4:up\n",
        "1,2:down\n",
        header=HEADER.replace("@dimensions 2\n", ""),
    )
    with pytest.raises(DataFormatError, match="TRAIN has 2 dimension"):
        build_uea_store(tmp_path / "s", data_dir=tmp_path, name="Two")
    with pytest.raises(FileNotFoundError, match=r"problems in .*\['Two'\]"):
        build_uea_store(tmp_path / "s", data_dir=tmp_path, name="Three")
    with pytest.raises(ValueError, match="method must be one of"):
        build_uea_store(tmp_path / "s", data_dir=tmp_path, name="Two", method="spline")


@pytest.mark.skipif(not SHARED_UEA.is_dir(), reason="needs ../shared/data/uea_ucr_ts")
def test_japanese_vowels_store_from_shared_data(tmp_path):
    info = build_uea_store(tmp_path / "jv", data_dir=SHARED_UEA.parent)
    # UCI / the file's own description: 9 speakers, 30 training utterances
    # each, 370 test utterances, 12 LPC coefficients, 7-29 frames
    assert (info["n_train"], info["n_test"], info["n_rejected"]) == (270, 370, 0)
    assert info["input_shape"] == [29, 12]
    table = open_store(tmp_path / "jv").to_pandas()
    train = table[table["split"] == "TRAIN"]
    assert train["label"].value_counts().to_dict() == {str(k): 30 for k in range(1, 10)}
    assert table["series_length"].min() == 7 and table["series_length"].max() == 29
