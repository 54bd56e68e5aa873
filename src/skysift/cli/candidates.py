"""``skysift candidates``: an HTML gallery of the top candidates of a class."""

from __future__ import annotations

import os

import click

from skysift.cli._summary import _size


@click.command()
@click.argument("predictions", type=click.Path(exists=True, path_type=str))
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=str),
    help="The store the predictions were made on (raw spectra or light curves).",
)
@click.option(
    "--class",
    "class_name",
    default=None,
    help="Show the objects with the highest probability of this class.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Number of objects to show.",
)
@click.option(
    "--uncertain",
    is_flag=True,
    help="Show the least confident objects instead (with --class: among those "
    "predicted as that class).",
)
@click.option(
    "--by",
    "uncertainty",
    type=click.Choice(["top-prob", "entropy"]),
    default="top-prob",
    show_default=True,
    help="With --uncertain: lowest top-class probability first, or highest "
    "entropy of the class probabilities first.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="HTML file to write (self-contained: images embedded).",
)
@click.option(
    "--title", default=None, help="Page heading (default: what was selected)."
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def candidates(
    predictions,
    data_path,
    class_name,
    top,
    uncertain,
    uncertainty,
    out,
    title,
    overwrite,
) -> None:
    """Write a gallery of candidates from PREDICTIONS (from skysift predict).

    Each object is drawn small (its spectrum, or its light curve per band
    with error bars) with its id, its label if the store knows it, and its
    class probabilities. Objects are read from --data by id.

    \b
    Examples:
      skysift candidates predictions.parquet --data data/lamost --class emission --top 50 --out emission.html
      skysift candidates predictions.parquet --data data/lamost --uncertain --out unsure.html
    """
    from skysift.serving.gallery import write_gallery

    if class_name is None and not uncertain:
        raise click.UsageError(
            "give --class NAME, or --uncertain for the least confident objects"
        )
    if uncertainty != "top-prob" and not uncertain:
        raise click.UsageError("--by applies only with --uncertain")
    result = write_gallery(
        predictions,
        data_path,
        out,
        class_name=class_name,
        top=top,
        uncertain=uncertain,
        uncertainty=uncertainty.replace("-", "_"),
        title=title,
        overwrite=overwrite,
    )
    click.echo(
        f"{result['criterion']}, of {result['n_predictions']:,} predicted objects"
    )
    click.echo(f"wrote {out} ({_size(os.path.getsize(out))})")
