"""``skysift run``: run a recipe (one published experiment) end to end."""

from __future__ import annotations

import click


@click.command("run")
@click.argument("recipe", type=click.Path(exists=True, dir_okay=False, path_type=str))
@click.option("--quick", is_flag=True, help="Use the recipe's quick block (a subset, few epochs), as CI does.")
@click.option("--out", type=click.Path(file_okay=False, path_type=str), help="Output directory (default: the recipe's out, or runs/recipes/NAME).")
@click.option("--runs", "runs", metavar="NAME,...", help="Do only these runs of the recipe (comma-separated names).")
def run(recipe, quick, out, runs) -> None:
    """Run RECIPE: ingest, prepare, train every model run and the baseline, tabulate.

    Ingested and prepared data are cached under OUT/work; each run gets a
    run directory OUT/runs/NAME (model.pt, report.html, metrics.json); the
    split is recorded as id lists in OUT/splits/; the results table with the
    command, machine and date is written to OUT/results.md and results.json
    (after every run). A finished run with an unchanged config is reused.

    \b
    Examples:
      skysift run recipes/snpcc.yaml
      skysift run recipes/snpcc.yaml --runs baseline_z_ia_biased
      skysift run recipes/snpcc_representative.yaml --quick --out /tmp/snpcc-quick
    """
    from pathlib import Path

    from skysift.recipes import run_recipe

    names = [n.strip() for n in runs.split(",") if n.strip()] if runs else None
    summary = run_recipe(recipe, quick=quick, out=out, runs=names)
    click.echo(Path(summary["results_md"]).read_text())
    click.echo(f"results: {summary['results_md']}")
