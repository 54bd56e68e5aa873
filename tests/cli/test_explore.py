"""``skysift explore`` end to end on synthetic stand-ins for Ondrejov and LAMOST."""

import pytest

from skysift.cli.main import main

PNG = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def archives(tmp_path, capsys):
    ondrejov, lamost = tmp_path / "ondrejov", tmp_path / "lamost"
    assert (
        run(
            capsys,
            "synth",
            "spectra",
            "--kind",
            "halpha",
            "--n",
            90,
            "--seed",
            1,
            "--resolving-power",
            13000,
            "--out",
            ondrejov,
        )[0]
        == 0
    )
    assert (
        run(
            capsys,
            "synth",
            "spectra",
            "--kind",
            "halpha",
            "--n",
            60,
            "--seed",
            2,
            "--resolving-power",
            1800,
            "--frame",
            "vacuum",
            "--num-pixels",
            140,
            "--out",
            lamost,
        )[0]
        == 0
    )
    return ondrejov, lamost


def test_explore_two_raw_stores(archives, tmp_path, capsys):
    out = tmp_path / "maps" / "pca.png"
    code, text, err = run(
        capsys,
        "explore",
        *archives,
        "--out",
        out,
        "--name",
        "Ondrejov",
        "--name",
        "LAMOST",
    )
    assert code == 0, err
    assert "mapped 90 (Ondrejov) + 60 (LAMOST) spectra with pca" in text
    assert "% of the variance" in text and f"wrote {out}" in text
    assert out.read_bytes()[:8] == PNG
    code, _, err = run(capsys, "explore", *archives, "--out", out)
    assert code == 1 and "already exists" in err and "--overwrite" in err
    code, text, _ = run(
        capsys,
        "explore",
        archives[1],
        "--out",
        out,
        "--overwrite",
        "--method",
        "tsne",
        "--max-per-dataset",
        40,
    )
    assert code == 0 and "mapped 40 (lamost) spectra with tsne" in text


def test_explore_after_domain_adaptation(archives, tmp_path, capsys):
    ondrejov, lamost = archives
    adapt = (
        tmp_path / "adapt.yaml"
    )  # seed 001 ch. 7: air -> vacuum, blur, regrid, scale
    adapt.write_text(
        "kind: spectra\nsteps:\n  - air_to_vacuum\n  - blur: {sigma_px: 7}\n"
        "  - regrid: {start_aa: 6519, stop_aa: 6732, num: 140}\n  - standardize\n"
    )
    plain = tmp_path / "plain.yaml"
    plain.write_text("kind: spectra\nsteps:\n  - regrid: {num: 140}\n  - standardize\n")
    assert (
        run(capsys, "prepare", "--config", adapt, ondrejov, tmp_path / "p_ond")[0] == 0
    )
    assert run(capsys, "prepare", "--config", plain, lamost, tmp_path / "p_lam")[0] == 0
    out = tmp_path / "adapted.png"
    code, text, err = run(
        capsys, "explore", tmp_path / "p_ond", tmp_path / "p_lam", "--out", out
    )
    assert code == 0, err
    assert "mapped 90 (p_ond) + 60 (p_lam)" in text and out.read_bytes()[:8] == PNG


def test_explore_errors(archives, tmp_path, capsys):
    out = tmp_path / "m.png"
    code, _, err = run(capsys, "explore", *archives, "--out", out, "--name", "only-one")
    assert code == 2 and "--name given 1 time(s) for 2 store(s)" in err
    lc = tmp_path / "lc"
    assert run(capsys, "synth", "lightcurves", "--n", 12, "--out", lc)[0] == 0
    code, _, err = run(capsys, "explore", lc, "--out", out)
    assert code == 1 and err.startswith("skysift: error:") and "light curves" in err
    code, _, err = run(capsys, "explore", *archives, "--out", out, "--method", "umap")
    assert code == 2 and "umap" in err
    assert not out.exists()
