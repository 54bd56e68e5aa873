"""``skysift demo``: the main job on the embedded default dataset."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=str),
    default="demo-output",
    show_default=True,
    help="Directory for everything the demo writes.",
)
@click.option(
    "--n",
    "n",
    type=click.IntRange(min=60),
    default=6000,
    show_default=True,
    help="Number of synthetic spectra.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
def demo(out: str, n: int, seed: int) -> None:
    """Run the demo: synthesize S/N 10 Gaussian-line spectra and summarise them.

    Needs no data and no server; everything lands under OUT (replaced on
    each run).
    """
    from pathlib import Path

    from skysift.cli._summary import format_summary
    from skysift.data.synthetic import synthesize_store

    store_path = Path(out) / "lines"
    click.echo(
        f"1/1 synthesizing {n:,} Gaussian-line spectra (seed 000 sec. 3.1.1, S/N 10)"
    )
    store = synthesize_store(
        store_path, "gaussian-lines", n, snr=10.0, seed=seed, overwrite=True
    )
    click.echo(format_summary(store.info()))
    click.echo(
        f"\nstore written to {store_path}; inspect it with: skysift info {store_path}"
    )
