"""``skysift ingest lightcurves`` and ``skysift ingest alerts``."""

from __future__ import annotations

from collections import Counter

import click


def _echo_result(result, *, what: str, fmt: str) -> None:
    """Print read / written / skipped-and-why, then where the report is."""
    skipped = len(result.skipped)
    click.echo(
        f"read {result.n_in:,} {what} ({fmt}) in {result.seconds:.1f} s: "
        f"{result.n_out:,} written to {result.store}, {skipped:,} skipped"
    )
    for reason, count in result.reasons().most_common():
        example = next(s for s in result.skipped if s.reason == reason)
        where = f"{example.source}" + (f" [{example.item}]" if example.item else "")
        click.echo(f"  {count:>8,}  {reason}  (e.g. {where}: {example.detail})")
    if result.ignored:
        kinds = Counter(s.reason for s in result.ignored)
        click.echo(
            f"ignored {len(result.ignored):,} file(s) holding no {what}: "
            + ", ".join(f"{k} ({v})" for k, v in kinds.most_common())
        )
    if result.classes:
        shown = ", ".join(f"{k} {v:,}" for k, v in list(result.classes.items())[:12])
        more = len(result.classes) - 12
        click.echo(
            f"classes: {len(result.classes)} ({shown}{f', ... {more} more' if more > 0 else ''})"
        )
    for key, value in result.stats.items():
        click.echo(f"{key}: {value:,}")
    click.echo(f"skipped items and reasons: {result.report}")


@click.command("lightcurves")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, path_type=str)
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=str),
    help="Store directory to create; skipped items are listed in OUT/_skipped.csv.",
)
@click.option(
    "--metadata",
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="PLAsTiCC metadata table (object_id, hostgal_photoz, target, ...).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "plasticc", "snana", "snana-fits"]),
    default="auto",
    show_default=True,
    help="Input format; auto tells it from names and contents.",
)
@click.option(
    "--class-names",
    type=click.Choice(["auto", "plasticc", "raw"]),
    default="auto",
    show_default=True,
    help="Map class codes to PLAsTiCC names (auto: for plasticc tables) or keep them.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing store.")
def lightcurves(files, out, metadata, fmt, class_names, overwrite) -> None:
    """Read light-curve FILES into the store OUT.

    FILES are PLAsTiCC / ELAsTiCC observation tables (.csv, .parquet),
    SNANA text light curves (.DAT files, folders or .tar.gz archives, as
    in SNPCC) or SNANA FITS HEAD/PHOT pairs. Fluxes are stored in FLUXCAL
    units (AB zero point 27.5).

    \b
    Examples:
      skysift ingest lightcurves training_set.csv \\
          --metadata training_set_metadata.csv --out plasticc
      skysift ingest lightcurves SIMGEN_PUBLIC_DES.tar.gz --out snpcc
    """
    from skysift.io.lightcurves import ingest_lightcurves

    result = ingest_lightcurves(
        list(files),
        out,
        format=fmt,
        metadata=metadata,
        class_names=class_names,
        overwrite=overwrite,
    )
    _echo_result(result, what="light curves", fmt=_recorded(result, "format"))


def _recorded(result, key: str) -> str:
    """Return what the ingest recorded in the manifest (resolved format or survey)."""
    from skysift.io.store import open_store

    attrs = open_store(result.store).manifest["attrs"]
    return str(attrs.get(key) or attrs.get("ingest", {}).get(key, "?"))


@click.command("alerts")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=str)
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=str),
    help="Store directory to create; quarantined packets are listed in OUT/_skipped.csv.",
)
@click.option(
    "--label-field",
    default=None,
    help="Top-level alert field holding the class (e.g. tnsclass); "
    "default: ELAsTiCC GENTYPE where present, else unlabelled.",
)
@click.option(
    "--bands",
    default=None,
    help="Bands to keep, e.g. gr (default: gr for ZTF, ugrizy for LSST).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing store.")
def alerts(paths, out, label_field, bands, overwrite) -> None:
    """Read alert packets from PATHS (files or folders) into the store OUT.

    ZTF Avro packets (single or multi-record, null / deflate / snappy),
    Spark folders of them, and broker Parquet tables (ZTF candidate /
    prv_candidates, ELAsTiCC and Rubin diaSource / prvDiaSources). One alert
    is one light curve of its detections; upper limits are kept apart in
    upper_limit_* columns; bad packets are quarantined with a reason.

    \b
    Example:
      skysift ingest alerts ztf_alerts/ --out alerts
    """
    from skysift.io.alerts import ingest_alerts

    result = ingest_alerts(
        list(paths),
        out,
        label_field=label_field,
        bands=tuple(bands) if bands else None,
        overwrite=overwrite,
    )
    _echo_result(result, what="alerts", fmt=_recorded(result, "survey"))
