"""Entry point of the ``skysift`` command.

Subcommand modules import their heavy dependencies (numpy, pyarrow, torch)
inside the command function, so ``skysift --help`` stays instant.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from skysift import __version__
from skysift.cli import candidates as candidates_cmd
from skysift.cli import compare as compare_cmd
from skysift.cli import demo, info, prepare, synth
from skysift.cli import ensemble as ensemble_cmd
from skysift.cli import evaluate as evaluate_cmd
from skysift.cli import explain as explain_cmd
from skysift.cli import explore as explore_cmd
from skysift.cli import export as export_cmd
from skysift.cli import ingest as ingest_cmd
from skysift.cli import models as models_cmd
from skysift.cli import plot as plot_cmd
from skysift.cli import predict as predict_cmd
from skysift.cli import run as run_cmd
from skysift.cli import train as train_cmd
from skysift.cli import tune as tune_cmd
from skysift.exceptions import SkysiftError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="skysift")
def cli() -> None:
    """Sift survey-scale spectra and light curves with deep learning.

    Run `skysift demo` for the whole path on an embedded synthetic dataset.
    """


cli.add_command(candidates_cmd.candidates)
cli.add_command(compare_cmd.compare)
cli.add_command(demo.demo)
cli.add_command(ensemble_cmd.ensemble)
cli.add_command(explore_cmd.explore)
cli.add_command(export_cmd.export)
cli.add_command(ingest_cmd.ingest)
cli.add_command(info.info)
cli.add_command(plot_cmd.plot)
cli.add_command(prepare.prepare)
cli.add_command(synth.synth)
cli.add_command(models_cmd.models)
cli.add_command(evaluate_cmd.evaluate)
cli.add_command(explain_cmd.explain)
cli.add_command(predict_cmd.predict)
cli.add_command(run_cmd.run)
cli.add_command(train_cmd.train)
cli.add_command(tune_cmd.tune)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code.

    Errors the user can fix (a bad file, a bad value, an existing output)
    are printed as one line naming the object and the reason, exit code 1;
    anything else propagates with its traceback.
    """
    try:
        cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except (
        SkysiftError,
        FileExistsError,
        FileNotFoundError,
        ValueError,
        KeyError,
    ) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        click.echo(f"skysift: error: {message}", err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
