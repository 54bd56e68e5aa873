"""``skysift ingest spectra``: read spectrum files into a store."""

from __future__ import annotations

import sys

import click


def _parse_label_map(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    mapping = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise click.BadParameter(
                f"expected OLD=NEW pairs separated by commas, got {item!r}",
                param_hint="--label-map",
            )
        mapping[key.strip()] = value.strip()
    return mapping


@click.command("spectra")
@click.argument("inputs", nargs=-1, required=True, metavar="DIR_OR_GLOB...")
@click.option(
    "--out",
    type=click.Path(path_type=str),
    required=True,
    help="Store directory to write.",
)
@click.option(
    "--format",
    "fmt",
    default="auto",
    show_default=True,
    help="Format of every file, or 'auto' to identify each file by its content "
    "(sdss.fits, lamost.fits, desi.fits, vo-sdm.fits, wcs1d.fits, snid.lnw, text).",
)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="Catalogue (CSV or FITS table) with labels and/or redshifts.",
)
@click.option("--id-column", help="Catalogue id column (default: guessed by name).")
@click.option("--label-column", help="Catalogue label column (default: guessed).")
@click.option("--redshift-column", help="Catalogue redshift column (default: guessed).")
@click.option("--redshift-err-column", help="Catalogue redshift error column.")
@click.option(
    "--match-on",
    default="auto",
    show_default=True,
    help="Match catalogue ids to object_id, file, group, or a metadata key; "
    "auto tries object_id, then the file path/name/stem, then group.",
)
@click.option(
    "--label-map",
    help="Rename catalogue labels: OLD=NEW pairs, e.g. "
    "'0=emission,1=absorption,2=unknown,3=double-peak'.",
)
@click.option(
    "--label-from-dir",
    is_flag=True,
    help="Label spectra that have no label with the name of their directory.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing store at --out.")
def spectra(
    inputs,
    out,
    fmt,
    labels,
    id_column,
    label_column,
    redshift_column,
    redshift_err_column,
    match_on,
    label_map,
    label_from_dir,
    overwrite,
) -> None:
    """Read spectrum files into the store OUT.

    DIR_OR_GLOB are files, directories (read recursively), glob patterns
    ('data/**/*.fits', quoted) or tar archives (.tar, .tar.gz, .tgz). Each
    file's format is identified from its content. Files that cannot be read
    and spectra that cannot be stored are counted, and listed with their
    reason in OUT/_skipped.csv.

    \b
    Examples:
      skysift ingest spectra dash_training_set_snid_templates.tar.gz \\
          --labels training_set_index.csv --id-column file --out data/dash
      skysift ingest spectra 'ondrejov/*.fits' --labels ondrejov-dataset.csv \\
          --label-map 0=emission,1=absorption,2=unknown,3=double-peak --out data/ond
    """
    from skysift.cli._summary import format_summary
    from skysift.io.ingest import count_input_files, ingest_spectra
    from skysift.io.store import open_store

    mapping = _parse_label_map(label_map)
    if labels is None and any(
        (id_column, label_column, redshift_column, redshift_err_column, mapping)
    ):
        raise click.UsageError("catalogue column options need --labels")
    total = count_input_files(list(inputs))
    with click.progressbar(length=total, label="ingest", file=sys.stderr) as bar:
        result = ingest_spectra(
            list(inputs),
            out,
            format=fmt,
            labels=labels,
            id_column=id_column,
            label_column=label_column,
            redshift_column=redshift_column,
            redshift_err_column=redshift_err_column,
            label_map=mapping,
            match_on=match_on,
            label_from_directory=label_from_dir,
            overwrite=overwrite,
            progress=bar.update,
        )
    click.echo(
        f"files:   {result.n_files:,} in, {result.n_files_read:,} read, "
        f"{result.n_files_skipped:,} skipped"
    )
    click.echo(
        f"spectra: {result.n_spectra_read:,} read, {result.n_written:,} written, "
        f"{result.n_spectra_skipped:,} skipped"
    )
    for name, (n_files, n_spectra) in sorted(result.formats.items()):
        click.echo(f"  {name:<12} {n_files:>7,} files  {n_spectra:>9,} spectra")
    sources = ", ".join(f"{n:,} {k}" for k, n in result.label_sources.most_common())
    click.echo(f"labels:  {sources}")
    if result.join is not None:
        j = result.join
        click.echo(
            f"catalogue: {result.n_catalogue_rows:,} rows; matched {j.n_matched:,} "
            f"spectra ({', '.join(f'{n:,} by {k}' for k, n in j.matched_by.items()) or 'none'}); "
            f"{result.n_catalogue_unused:,} rows matched nothing; "
            f"{j.n_label_conflicts:,} file labels replaced by a different catalogue label"
        )
    if result.skipped:
        click.echo(
            f"skipped ({len(result.skipped):,}; every one listed in {result.report_path}):"
        )
        for why, n in result.skip_reasons().most_common(10):
            click.echo(f"  {n:>7,}  {why}")
    click.echo(format_summary(open_store(out).info()))
