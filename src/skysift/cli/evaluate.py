"""``skysift evaluate``: a trained model on a labelled store -> report."""

from __future__ import annotations

import click


@click.command()
@click.argument("model", type=click.Path(exists=True, path_type=str))
@click.option("--data", "data_path", required=True, type=click.Path(exists=True, file_okay=False, path_type=str), help="Labelled store to evaluate on.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=str), help="Directory for report.html, metrics.json, predictions.parquet.")
@click.option("--cut", "cuts", multiple=True, type=click.FloatRange(0, 1), help="Extra confidence cut for the ladder (repeatable).")
@click.option("--binary", "binary", multiple=True, metavar="NAME=CLASS,CLASS", help="Binary view, e.g. --binary Ia=SNIa,SNIa-91bg (repeatable).")
@click.option("--batch-size", type=click.IntRange(min=1), default=4096, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="Torch device.")
def evaluate(model, data_path, out, cuts, binary, batch_size, device) -> None:
    """Evaluate MODEL (run directory or model.pt) on the labelled store --data.

    Writes OUT/report.html (one self-contained file with every figure),
    OUT/metrics.json and OUT/predictions.parquet, and prints a summary table.
    Objects that cannot be evaluated are listed in OUT/excluded.csv.

    \b
    Example:
      skysift evaluate runs/lines --data data/lines-test --out eval/lines
    """
    from skysift.evaluation.evaluate import evaluate_store
    from skysift.evaluation.report import format_summary_table

    groups = None
    if binary:
        groups = {}
        for item in binary:
            name, sep, classes = item.partition("=")
            if not sep or not classes:
                raise click.BadParameter(f"{item!r}: expected NAME=CLASS,CLASS", param_hint="--binary")
            groups[name] = [c.strip() for c in classes.split(",") if c.strip()]
    result = evaluate_store(
        model, data_path, out, cuts=list(cuts) or None, binary_groups=groups, batch_size=batch_size, device=device
    )
    click.echo(format_summary_table(result["metrics"]))
    click.echo(
        f"\nevaluated {result['n_evaluated']:,} of {result['n_in']:,} objects"
        + (f"; {len(result['excluded']):,} excluded (reasons in {out}/excluded.csv)" if result["excluded"] else "")
    )
    click.echo(f"report: {result['report']}")
