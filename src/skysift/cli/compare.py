"""``skysift compare``: whether two runs really differ on their test set."""

from __future__ import annotations

import click


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@click.option("--metric", type=click.Choice(["log_loss", "accuracy", "roc_auc"]), default="log_loss",
              show_default=True, help="Flat-weighted log-loss (seed 003 eq. 3.20), accuracy, or macro ROC AUC.")
@click.option("--n-boot", type=click.IntRange(min=100), default=2000, show_default=True,
              help="Bootstrap resamples of the test objects.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the resampling.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list instead.")
def compare(runs: tuple[str, ...], metric: str, n_boot: int, seed: int, as_json: bool) -> None:
    """Compare RUNS (run directories) on their common test set, each against the first.

    For every run after the first: its metric minus the first run's, with a
    95% interval from a paired bootstrap (the test objects resampled with
    replacement, both runs scored on each resample), and the share of
    resamples in which the difference is >= 0. An interval that contains 0
    means the test set cannot tell the two runs apart. The runs must have
    predicted the same objects (one recipe split, for example).

    \b
    Examples:
      skysift compare runs/recipes/snpcc/runs/baseline_z_ia_shift runs/recipes/snpcc/runs/t2_wide_asinh_z_ia_shift_x3
      skysift compare runs/a runs/b runs/c --metric accuracy --json
    """
    import json

    from skysift.evaluation.evaluate import compare_runs

    if len(runs) < 2:
        raise click.UsageError("compare needs at least two runs")
    rows = compare_runs(list(runs), metric=metric, n_boot=n_boot, seed=seed)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(r["run"]) for r in rows)
    click.echo(f"{'run':<{width}}  {metric:>9}  {'- first':>8}  {'95% interval':>20}  {'share >= 0':>10}")
    for r in rows:
        line = f"{r['run']:<{width}}  {r['value']:>9.4f}"
        if "difference" in r:
            line += (f"  {r['difference']:>+8.4f}  [{r['low']:>+8.4f}, {r['high']:>+8.4f}]"
                     f"  {r['p_not_below']:>10.3f}")
        click.echo(line)
    lower = metric == "log_loss"
    for r in rows[1:]:
        if r["low"] > 0 or r["high"] < 0:
            better = (r["high"] < 0) == lower
            verdict = "better" if better else "worse"
            click.echo(f"{r['run']}: {verdict} than {rows[0]['run']} beyond the resampling noise")
        else:
            click.echo(f"{r['run']}: not distinguishable from {rows[0]['run']} on this test set")
