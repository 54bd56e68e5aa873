import json
import re
import subprocess
import sys

import pytest

from skysift import __version__
from skysift.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_only_working_commands(capsys):
    from skysift.cli.main import cli

    code, out, _ = run(capsys, "--help")
    assert code == 0
    listed = [
        line.split()[0] for line in out.split("Commands:")[1].strip().splitlines()
    ]
    assert listed == sorted(cli.commands)
    assert {"demo", "info", "synth", "prepare", "train", "predict", "models"} <= set(listed)
    for command in listed:  # each one's own help works, and its subcommands' help
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and "Usage: " in out
        for sub in getattr(cli.commands[command], "commands", {}):
            code, out, _ = run(capsys, command, sub, "--help")
            assert code == 0 and "Usage: " in out, (command, sub)


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and __version__ in out


def test_synth_spectra_and_info_json(capsys, tmp_path):
    out_dir = tmp_path / "lines"
    code, out, _ = run(
        capsys,
        "synth",
        "spectra",
        "--kind",
        "gaussian-lines",
        "--n",
        "60",
        "--snr",
        "10",
        "--num-pixels",
        "200",
        "--out",
        str(out_dir),
    )
    assert code == 0 and "class_5" in out
    code, out, _ = run(capsys, "info", str(out_dir), "--json")
    assert code == 0
    info = json.loads(out)
    assert info["kind"] == "spectra" and info["n_objects"] == 60
    assert info["classes"] == {f"class_{k}": 10 for k in range(6)}
    assert info["attrs"]["synthetic"]["snr"] == 10.0
    code, out, _ = run(capsys, "info", str(out_dir))
    assert code == 0 and "60 in 1 part file(s)" in out and "3600.0 - 9800.0" in out


def test_synth_halpha_and_lightcurves(capsys, tmp_path):
    code, out, _ = run(
        capsys,
        "synth",
        "spectra",
        "--kind",
        "halpha",
        "--n",
        "30",
        "--resolving-power",
        "1800",
        "--out",
        str(tmp_path / "ha"),
    )
    assert code == 0 and "double-peak" in out
    code, out, _ = run(
        capsys,
        "synth",
        "lightcurves",
        "--n",
        "24",
        "--survey",
        "ztf",
        "--out",
        str(tmp_path / "lc"),
    )
    assert code == 0 and "lightcurves" in out
    assert re.search(r"bands\s+g r\n", out)
    code, out, _ = run(
        capsys,
        "synth",
        "lightcurves",
        "--n",
        "20",
        "--bands",
        "gri",
        "--classes",
        "SNIa,SNII",
        "--out",
        str(tmp_path / "lc2"),
    )
    assert code == 0 and "SNIa" in out and "AGN" not in out


def test_demo_runs(capsys, tmp_path):
    out_dir = tmp_path / "demo"
    code, out, _ = run(
        capsys, "demo", "--out", str(out_dir), "--n", "120", "--epochs", "1", "--no-progress"
    )
    assert code == 0
    for stage in ("1/5 synthesize", "2/5 prepare", "3/5 train", "4/5 evaluate", "5/5 predict"):
        assert stage in out
    assert (out_dir / "run" / "model.pt").exists()
    assert (out_dir / "run" / "report.html").exists()
    assert (out_dir / "predictions.parquet").exists()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["synth", "spectra", "--n", "0", "--out", "x"], 2, "0 is not in the range"),
        (["synth", "spectra", "--n", "5"], 2, "Missing option '--out'"),
        (["synth", "spectra", "--kind", "nope", "--n", "5", "--out", "x"], 2, "nope"),
        (
            ["synth", "lightcurves", "--n", "5", "--bands", "q", "--out", "{tmp}/q"],
            1,
            "bands 'q'",
        ),
        (
            [
                "synth",
                "lightcurves",
                "--n",
                "5",
                "--classes",
                "SNIa",
                "--out",
                "{tmp}/q",
            ],
            1,
            "at least two",
        ),
        (["info", "{tmp}/nothing"], 1, "nothing: no such file"),
        (["frobnicate"], 2, "No such command"),
    ],
)
def test_bad_arguments_exit_nonzero_with_message(capsys, tmp_path, argv, code, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    got, _, err = run(capsys, *argv)
    assert got == code
    assert message in err


def test_existing_output_is_refused(capsys, tmp_path):
    args = ["synth", "lightcurves", "--n", "12", "--out", str(tmp_path / "lc")]
    assert run(capsys, *args)[0] == 0
    code, _, err = run(capsys, *args)
    assert code == 1 and "already exists" in err and "--overwrite" in err
    assert run(capsys, *args, "--overwrite")[0] == 0


def test_info_on_a_foreign_parquet_file(capsys, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    code, _, err = run(capsys, "info", str(path))
    assert code == 1 and str(path) in err and "skysift metadata" in err


def test_console_script_entry_point(tmp_path):
    # the installed `skysift` program, as a user runs it
    result = subprocess.run(
        [sys.executable, "-m", "skysift.cli.main", "info", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "no such file or directory" in result.stderr


def test_info_describes_a_saved_model(capsys, tmp_path):
    from skysift.models import create_model
    from skysift.preprocessing import Pipeline
    from skysift.training.checkpoint import save_model

    model = create_model("mlp", num_classes=3, input_length=50, hidden_dims=[8])
    pipe = Pipeline.from_config({"kind": "spectra", "steps": [
        {"regrid": {"start_aa": 4000.0, "stop_aa": 9000.0, "num": 50}}, "standardize"]})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    save_model(run_dir / "model.pt", model, model_name="mlp",
               model_kwargs={"num_classes": 3, "input_length": 50, "hidden_dims": [8]},
               pipeline=pipe, class_names=["a", "b", "c"], input_shape=(1, 50),
               metadata={"test_metrics": {"accuracy": 0.91234, "n_test": 1200},
                         "prior_shift": [0.5, 0.3, 0.2]})
    code, out, _ = run(capsys, "info", str(run_dir))
    assert code == 0
    assert re.search(r"^model\s+mlp \([\d,]+ parameters\), classification$", out, re.M)
    assert "classes" in out and "3: a, b, c" in out
    assert "regrid(start_aa=4000.0" in out and "standardize(" in out
    assert "(0.500, 0.300, 0.200) divided out" in out
    assert re.search(r"^test accuracy\s+0.9123$", out, re.M)
    assert re.search(r"^test objects\s+1,200$", out, re.M)
    import platform

    import torch

    import skysift

    # what wrote it: this skysift (its commit when run from a checkout), Python and torch
    written = re.search(r"^written by\s+skysift (\S+)(?: \(commit ([0-9a-f]+(?:\+dirty)?)\))?, "
                        r"Python (\S+), torch (\S+)$", out, re.M)
    assert written, out
    assert written.group(1) == skysift.__version__
    assert written.group(3) == platform.python_version() and written.group(4) == torch.__version__
    assert written.group(2) == skysift.software_versions()["commit"]
    code, out, _ = run(capsys, "info", str(run_dir / "model.pt"), "--json")
    data = json.loads(out)
    assert code == 0 and data["classes"] == ["a", "b", "c"]
    assert data["n_parameters"] == sum(p.numel() for p in model.parameters())
    assert [s["step"] for s in data["preparation"]] == ["regrid", "standardize"]
