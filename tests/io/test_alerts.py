import gzip
import math
from pathlib import Path

import astropy.units as u
import fastavro
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skysift import DataFormatError
from skysift.io.alerts import (
    NJY_PER_FLUXCAL,
    ingest_alerts,
    magnitude_to_flux,
    read_alerts,
)
from skysift.io.store import open_store

DATA = Path(__file__).resolve().parents[1] / "data" / "alerts"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="real data in ../shared/data is not available"
)
FINK_AVRO = DATA / "fink_client_ztf_3alerts_snappy.avro"
FINK_ZTF_PQ = DATA / "fink_science_ztf_4alerts.parquet"
FINK_ELASTICC_PQ = DATA / "fink_science_elasticc_4alerts.parquet"


def collect(batches):
    batches = list(batches)
    parts = [b.table for b in batches if b.table is not None]
    table = pa.concat_tables(parts) if parts else None
    return table, [s for b in batches for s in b.skipped], sum(b.n_in for b in batches)


def raw_records(path):
    with open(path, "rb") as f:
        reader = fastavro.reader(f)
        return reader.writer_schema, list(reader)


# ---------------------------------------------------------------- conversion


def test_magnitude_to_flux_by_hand_and_against_astropy():
    # by hand: 10**(-0.4 * (20 - 27.5)) = 10**3; error 1000 * 0.4 * ln(10) * 0.1
    flux, err = magnitude_to_flux([20.0, 22.5], [0.1, 0.2], sign=[1, -1])
    assert flux[0] == pytest.approx(1000.0, rel=1e-12)
    assert err[0] == pytest.approx(92.10340371976183, rel=1e-12)
    assert flux[1] == pytest.approx(-100.0, rel=1e-12)
    assert err[1] == pytest.approx(100 * 0.4 * math.log(10) * 0.2, rel=1e-12)
    # the same fluxes from astropy's AB magnitude (3631 Jy zero point), in nJy
    njy = (np.array([20.0, 22.5]) * u.ABmag).to(u.nJy).value
    np.testing.assert_allclose(np.abs(flux) * NJY_PER_FLUXCAL, njy, rtol=1e-4)
    # the error is the first-order propagation of a magnitude error
    upper = (20.0 - 1e-6) * u.ABmag
    derivative = (
        (upper.to(u.nJy) - (20.0 * u.ABmag).to(u.nJy)).value / 1e-6
    ) / NJY_PER_FLUXCAL
    assert err[0] / 0.1 == pytest.approx(derivative, rel=1e-4)
    nano, _ = magnitude_to_flux(20.0, zero_point=31.4)
    assert nano == pytest.approx(njy[0], rel=1e-4)


# ---------------------------------------------------------------- ZTF Avro


def expected_from_packet(rec):
    """Detections and limits of a packet, computed here from the raw fields."""
    points = [rec["candidate"], *(rec["prv_candidates"] or [])]
    det = [p for p in points if p["magpsf"] is not None and p["fid"] in (1, 2)]
    lim = [p for p in points if p["magpsf"] is None and p["fid"] in (1, 2)]
    det.sort(key=lambda p: p["jd"])
    sign = [1.0 if str(p["isdiffpos"]) in ("t", "1") else -1.0 for p in det]
    flux = [
        s * 10 ** ((27.5 - p["magpsf"]) / 2.5) for s, p in zip(sign, det, strict=True)
    ]
    return {
        "time_mjd": [p["jd"] - 2400000.5 for p in det],
        "band": ["gr"[p["fid"] - 1] for p in det],
        "flux": flux,
        "flux_err": [
            abs(f) * math.log(10) / 2.5 * p["sigmapsf"]
            for f, p in zip(flux, det, strict=True)
        ],
        "upper_limit_mag": [p["diffmaglim"] for p in lim],
        "upper_limit_band": ["gr"[p["fid"] - 1] for p in lim],
    }


def test_fink_client_snappy_packets_against_their_raw_fields():
    _, records = raw_records(FINK_AVRO)
    table, skipped, n_in = collect(read_alerts(FINK_AVRO))
    assert skipped == [] and n_in == table.num_rows == 3
    for rec, row in zip(records, table.to_pylist(), strict=True):
        want = expected_from_packet(rec)
        assert row["objectId"] == rec["objectId"]
        assert row["candid"] == rec["candid"] and row["object_id"] == str(rec["candid"])
        np.testing.assert_allclose(row["time_mjd"], want["time_mjd"])
        assert row["band"] == want["band"]
        np.testing.assert_allclose(row["flux"], want["flux"], rtol=1e-6)
        np.testing.assert_allclose(row["flux_err"], want["flux_err"], rtol=1e-6)
        assert sorted(row["upper_limit_mag"]) == pytest.approx(
            sorted(want["upper_limit_mag"])
        )
        assert sorted(row["upper_limit_band"]) == sorted(want["upper_limit_band"])
        assert row["n_upper_limits"] > 0 and row["n_detections"] == len(row["flux"])
        # non-detections never leak into the measurements
        assert not set(row["time_mjd"]) & set(row["upper_limit_time_mjd"])
        assert row["alert_time_mjd"] == pytest.approx(
            rec["candidate"]["jd"] - 2400000.5
        )


@pytest.mark.parametrize("codec", ["null", "deflate", "snappy"])
def test_codecs_single_and_multi_record_files_agree(tmp_path, codec):
    schema, records = raw_records(FINK_AVRO)
    reference, *_ = collect(read_alerts(FINK_AVRO))
    key = [
        "object_id",
        "objectId",
        "time_mjd",
        "band",
        "flux",
        "flux_err",
        "upper_limit_mag",
    ]
    with open(tmp_path / "multi.avro", "wb") as f:
        fastavro.writer(f, schema, records, codec=codec)
    for i, rec in enumerate(records):
        with open(tmp_path / f"single{i}.avro", "wb") as f:
            fastavro.writer(f, schema, [rec], codec=codec)
    multi, *_ = collect(read_alerts(tmp_path / "multi.avro"))
    singles, _, n_in = collect(read_alerts(sorted(tmp_path.glob("single*.avro"))))
    assert n_in == 3
    assert multi.select(key).equals(reference.select(key))
    assert singles.select(key).equals(reference.select(key))
    (tmp_path / "multi.avro.gz").write_bytes(
        gzip.compress((tmp_path / "multi.avro").read_bytes())
    )
    gz, *_ = collect(read_alerts(tmp_path / "multi.avro.gz"))
    assert gz.select(key).equals(reference.select(key))


def test_truncated_and_foreign_files_are_quarantined(tmp_path):
    schema, records = raw_records(FINK_AVRO)
    with open(tmp_path / "blocks.avro", "wb") as f:
        fastavro.writer(
            f, schema, records, codec="deflate", sync_interval=1
        )  # a block each
    raw = (tmp_path / "blocks.avro").read_bytes()
    (tmp_path / "cut.avro").write_bytes(raw[: len(raw) - 200])
    (tmp_path / "junk.avro").write_bytes(b"this is not avro")
    result = ingest_alerts(
        [tmp_path / "cut.avro", tmp_path / "junk.avro"], tmp_path / "s"
    )
    assert result.n_in == result.n_out + len(result.skipped)
    assert result.n_out == 2 and result.reasons() == {
        "truncated file": 1,
        "unreadable file": 1,
    }
    report = pd.read_csv(result.report)
    assert set(report["reason"]) == {"truncated file", "unreadable file"}


SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "alert",
        "fields": [
            {"name": "objectId", "type": ["null", "string"]},
            {
                "name": "candidate",
                "type": [
                    "null",
                    {
                        "type": "record",
                        "name": "candidate",
                        "fields": [
                            {"name": "candid", "type": "long"},
                            {"name": "jd", "type": "double"},
                            {"name": "fid", "type": "int"},
                            {"name": "magpsf", "type": ["null", "float"]},
                            {"name": "sigmapsf", "type": ["null", "float"]},
                            {"name": "isdiffpos", "type": ["null", "string"]},
                            {"name": "diffmaglim", "type": ["null", "float"]},
                        ],
                    },
                ],
            },
            {
                "name": "prv_candidates",
                "type": ["null", {"type": "array", "items": "candidate"}],
            },
        ],
    }
)


def packet(candid, **cand):
    base = {"candid": candid, "jd": 2459000.5, "fid": 1, "magpsf": 20.0, "sigmapsf": 0.1,
            "isdiffpos": "t", "diffmaglim": 21.0}  # fmt: skip
    return {
        "objectId": f"ZTF20obj{candid}",
        "candidate": {**base, **cand},
        "prv_candidates": [],
    }


def prv(candid=0, **fields):
    base = {"candid": candid, "jd": 2458990.5, "fid": 2, "magpsf": None, "sigmapsf": None,
            "isdiffpos": None, "diffmaglim": 20.5}  # fmt: skip
    return {**base, **fields}


def test_bad_packets_are_quarantined_with_reasons(tmp_path):
    good = packet(1)
    good["prv_candidates"] = [
        prv(),  # an upper limit in r
        prv(9, jd=2458995.5, fid=1, magpsf=21.0, sigmapsf=0.2, isdiffpos="f"),
        prv(8, jd=2458996.5, fid=3, magpsf=19.0, sigmapsf=0.1, isdiffpos="t"),  # ZTF i
    ]
    bad = {
        2: {**packet(2), "candidate": None},
        3: packet(3, magpsf=float("nan")),
        4: packet(4, sigmapsf=0.0),
        5: packet(5, isdiffpos="x"),
        6: {**packet(6), "prv_candidates": [prv(diffmaglim=None)]},
        7: packet(7, fid=5),
        10: {**packet(10), "objectId": None},
        11: packet(11, isdiffpos=None),
    }
    with open(tmp_path / "alerts.avro", "wb") as f:
        fastavro.writer(
            f, SCHEMA, [good, *bad.values(), packet(1)]
        )  # last: a duplicate
    result = ingest_alerts(tmp_path / "alerts.avro", tmp_path / "s")
    assert (result.n_in, result.n_out) == (10, 1)
    assert result.n_in == result.n_out + len(result.skipped)
    reasons = [s.reason for s in result.skipped]
    assert reasons == [
        "missing field",
        "NaN magnitude",
        "bad value",
        "bad value",
        "missing field",
        "bad value",
        "missing field",
        "missing field",
        "duplicate object_id",
    ]
    details = " | ".join(s.detail for s in result.skipped)
    for text in ("candidate is missing", "sigmapsf=0.0", "isdiffpos='x'", "diffmaglim",
                 "unknown fid 5", "isdiffpos is missing"):  # fmt: skip
        assert text in details
    row = open_store(result.store).read().to_pylist()[0]
    assert row["n_other_band"] == 1 and row["band"] == ["g", "g"]
    # prv detection with isdiffpos f is a negative difference flux
    assert row["flux"] == pytest.approx(
        [-(10 ** ((27.5 - 21.0) / 2.5)), 1000.0], rel=1e-6
    )
    assert row["upper_limit_band"] == ["r"] and row["upper_limit_mag"] == [20.5]
    assert row["upper_limit_flux"] == pytest.approx(
        [10 ** ((27.5 - 20.5) / 2.5)], rel=1e-6
    )
    assert result.stats == {
        "detections": 2,
        "upper limits": 1,
        "points in other bands dropped": 1,
    }
    # asking for all three ZTF bands keeps the i point
    table, *_ = collect(read_alerts(tmp_path / "alerts.avro", bands="gri"))
    assert table.column("band").to_pylist()[0] == ["g", "i", "g"]  # time order


def test_nothing_readable_is_an_error(tmp_path):
    (tmp_path / "junk.avro").write_bytes(b"junk")
    with pytest.raises(
        DataFormatError, match=r"no alerts could be read.*unreadable file"
    ):
        ingest_alerts(tmp_path / "junk.avro", tmp_path / "s")
    assert not (tmp_path / "s").exists()


# ---------------------------------------------------------------- Parquet


def test_fink_ztf_parquet_matches_its_raw_rows():
    raw = pq.read_table(FINK_ZTF_PQ).to_pylist()
    table, skipped, n_in = collect(read_alerts(FINK_ZTF_PQ))
    assert skipped == [] and n_in == table.num_rows == 4
    for rec, row in zip(raw, table.to_pylist(), strict=True):
        want = expected_from_packet(rec)
        assert (row["objectId"], row["candid"]) == (rec["objectId"], rec["candid"])
        np.testing.assert_allclose(row["flux"], want["flux"], rtol=1e-6)
        assert row["band"] == want["band"]
        assert len(row["upper_limit_mag"]) == len(want["upper_limit_mag"])


def test_elasticc_parquet_fluxes_labels_and_redshifts():
    raw = pq.read_table(FINK_ELASTICC_PQ).to_pylist()
    table, skipped, n_in = collect(read_alerts(FINK_ELASTICC_PQ))
    assert skipped == [] and n_in == 4
    for rec, row in zip(raw, table.to_pylist(), strict=True):
        points = [rec["diaSource"], *(rec["prvDiaSources"] or [])]
        points.sort(key=lambda p: p["midPointTai"])
        assert row["label"] == "10"  # GENTYPE, the simulated type code
        assert row["object_id"] == str(rec["diaSource"]["diaSourceId"])
        assert row["diaObjectId"] == rec["diaSource"]["diaObjectId"]
        assert row["alertId"] == rec["alertId"]
        assert row["time_mjd"] == [p["midPointTai"] for p in points]
        assert row["band"] == [p["filterName"].replace("Y", "y") for p in points]
        # psFlux is nJy: through astropy, nJy -> AB mag -> FLUXCAL (zero point 27.5)
        mags = (np.array([p["psFlux"] for p in points]) * u.nJy).to(u.ABmag).value
        np.testing.assert_allclose(row["flux"], 10 ** ((27.5 - mags) / 2.5), rtol=1e-4)
        assert row["redshift"] == pytest.approx(rec["diaObject"]["z_final"])


def test_layouts_do_not_mix(tmp_path):
    result = ingest_alerts([FINK_ZTF_PQ, FINK_ELASTICC_PQ], tmp_path / "s")
    assert (result.n_in, result.n_out) == (8, 4)
    assert result.reasons() == {"other survey": 4}
    assert open_store(result.store).manifest["attrs"]["survey"] == "ztf"


def test_directories_skip_spark_markers_and_report_other_files(tmp_path):
    folder = tmp_path / "spark.avro"
    folder.mkdir()
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-1.avro.crc").write_bytes(b"x")
    (folder / "schema.json").write_text("{}")
    (folder / "part-1.avro").write_bytes(FINK_AVRO.read_bytes())
    pq.write_table(pa.table({"objid": [1]}), folder / "tns.parquet")
    result = ingest_alerts(folder, tmp_path / "s")
    assert (result.n_in, result.n_out, result.skipped) == (3, 3, [])
    assert sorted(s.reason for s in result.ignored) == [
        "not an alert file",
        "not an alert table",
    ]


def test_label_field(tmp_path):
    table = pq.read_table(FINK_ZTF_PQ)
    table = table.append_column(
        "tnsclass", pa.array(["SN Ia", "Unknown", None, "SN II"])
    )
    pq.write_table(table, tmp_path / "labelled.parquet")
    got, *_ = collect(
        read_alerts(tmp_path / "labelled.parquet", label_field="tnsclass")
    )
    assert got.column("label").to_pylist() == ["SN Ia", None, None, "SN II"]


# ---------------------------------------------------------------- real data


@needs_shared
def test_real_official_ztf_packets(tmp_path):
    d = SHARED / "ztf_alerts/ztf-avro-alert"
    result = ingest_alerts(d, tmp_path / "s")
    assert (result.n_in, result.n_out, result.skipped) == (2, 2, [])
    rows = {r["objectId"]: r for r in open_store(result.store).read().to_pylist()}
    _, (rec,) = raw_records(d / "2019_01_10_739260766315010006.avro")
    row = rows["ZTF17aaacxxf"]
    assert row["candid"] == 739260766315010006 == rec["candid"]
    assert rec["candidate"]["isdiffpos"] == "f"
    i = int(
        np.argmin(
            np.abs(np.array(row["time_mjd"]) - (rec["candidate"]["jd"] - 2400000.5))
        )
    )
    assert row["flux"][i] == pytest.approx(
        -(10 ** ((27.5 - rec["candidate"]["magpsf"]) / 2.5)), rel=1e-6
    )
    want = expected_from_packet(rec)
    np.testing.assert_allclose(row["flux"], want["flux"], rtol=1e-6)


@needs_shared
def test_real_fink_client_alerce_and_fink_science(tmp_path):
    z = SHARED / "ztf_alerts"
    result = ingest_alerts(z / "fink-client/tests/sample.avro", tmp_path / "snappy")
    assert (result.n_in, result.n_out, result.skipped) == (110, 110, [])
    result = ingest_alerts(
        [
            z / "fink-client/datatest/avro_multi_alerts.avro",
            z / "fink-client/datatest/ztf",
        ],
        tmp_path / "multi",
    )
    assert (result.n_out, result.skipped) == (42, [])
    assert result.stats["points in other bands dropped"] > 0  # fid 3 in the 2026 alerts
    result = ingest_alerts(z / "alerce-pipeline", tmp_path / "alerce")
    assert (result.n_in, result.n_out) == (98, 98)
    store = open_store(result.store)
    assert len(set(store.read(["objectId"]).column("objectId").to_pylist())) == 87
    result = ingest_alerts(z / "fink-science", tmp_path / "fs")
    assert result.n_in == result.n_out + len(result.skipped)
    assert set(result.reasons()) == {"duplicate object_id", "other survey"}
    assert result.reasons()["other survey"] == 25  # the Rubin sample beside ZTF tables


@needs_shared
def test_real_elasticc_and_rubin_alerts(tmp_path):
    e = SHARED / "elasticc"
    result = ingest_alerts(
        e / "fink-science/elasticc_parquet/test_elasticc_earlysnia.parquet",
        tmp_path / "ia",
    )
    assert (result.n_in, result.n_out, result.classes) == (556, 556, {"10": 556})
    result = ingest_alerts(e / "tallamjr_fink_transfer_KN", tmp_path / "kn")
    assert (result.n_out, result.classes) == (40, {"50": 9, "51": 31})
    result = ingest_alerts(
        SHARED / "ztf_alerts/fink-client/datatest/lsst", tmp_path / "rubin"
    )
    assert (result.n_in, result.n_out, result.skipped) == (7, 7, [])
    assert open_store(result.store).manifest["attrs"]["survey"] == "lsst"


def test_elasticc_nondetection_limits_are_kept_apart(tmp_path):
    rows = pq.read_table(FINK_ELASTICC_PQ).to_pylist()[:1]
    limit = {
        "ccdVisitId": 1,
        "midPointTai": 60000.5,
        "filterName": "Y",
        "diaNoise": 36.3078,
    }
    rows[0]["prvDiaNondetectionLimits"] = [limit]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "limits.parquet")
    table, skipped, _ = collect(read_alerts(tmp_path / "limits.parquet"))
    row = table.to_pylist()[0]
    assert skipped == [] and 60000.5 not in row["time_mjd"]
    assert row["upper_limit_time_mjd"] == [60000.5] and row["upper_limit_band"] == ["y"]
    # 5 x diaNoise = 181.5 nJy = 5 FLUXCAL, i.e. 27.5 - 2.5 log10(5) mag
    assert row["upper_limit_flux"] == pytest.approx([5.0], rel=1e-4)
    assert row["upper_limit_mag"] == pytest.approx(
        [27.5 - 2.5 * math.log10(5)], rel=1e-5
    )
