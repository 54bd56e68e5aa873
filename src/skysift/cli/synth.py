"""``skysift synth``: write labelled, seed-reproducible synthetic datasets."""

from __future__ import annotations

import sys

import click

from skysift.cli._summary import format_summary

_common = [
    click.option(
        "--n", "n", type=click.IntRange(min=1), required=True, help="Number of objects."
    ),
    click.option(
        "--out",
        type=click.Path(path_type=str),
        required=True,
        help="Store directory to write.",
    ),
    click.option("--seed", type=int, default=0, show_default=True, help="Random seed."),
    click.option(
        "--overwrite", is_flag=True, help="Replace an existing store at --out."
    ),
]


def _with_common(f):
    for option in reversed(_common):
        f = option(f)
    return f


def _run(out: str, generator: str, n: int, overwrite: bool, **params) -> None:
    from skysift.data.synthetic import synthesize_store

    with click.progressbar(
        length=n, label=f"synth {generator}", file=sys.stderr
    ) as bar:
        store = synthesize_store(
            out, generator, n, overwrite=overwrite, progress=bar.update, **params
        )
    click.echo(format_summary(store.info()))


@click.group()
def synth() -> None:
    """Generate synthetic labelled datasets (the seeds' validation sets)."""


@synth.command()
@click.option(
    "--kind",
    type=click.Choice(["gaussian-lines", "halpha"]),
    default="gaussian-lines",
    show_default=True,
    help="gaussian-lines: continuum plus class-specific emission lines (seed 000); "
    "halpha: emission / absorption / double-peak H-alpha profiles (seed 001).",
)
@_with_common
@click.option(
    "--snr",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Signal-to-noise: max line amplitude / noise for gaussian-lines "
    "(default 10); continuum / noise for halpha (default 50).",
)
@click.option(
    "--num-pixels",
    type=click.IntRange(min=8),
    default=None,
    help="Pixels per spectrum (default 3600 gaussian-lines, 800 halpha).",
)
@click.option(
    "--wavelength-range",
    nargs=2,
    type=float,
    default=None,
    metavar="MIN MAX",
    help="Wavelength range in Angstrom (default 3600 9800; halpha 6519 6732).",
)
@click.option(
    "--num-classes",
    type=click.IntRange(min=2),
    default=6,
    show_default=True,
    help="gaussian-lines: number of classes.",
)
@click.option(
    "--lines-per-class",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="gaussian-lines: emission lines per class.",
)
@click.option(
    "--continuum",
    type=click.Choice(["mixed", "flat", "sloped", "blackbody"]),
    default="mixed",
    show_default=True,
    help="gaussian-lines: continuum shape.",
)
@click.option(
    "--resolving-power",
    type=float,
    default=13000.0,
    show_default=True,
    help="halpha: instrumental R = lambda/FWHM (1800 is LAMOST-like; 0 for none).",
)
@click.option(
    "--frame",
    type=click.Choice(["air", "vacuum"]),
    default="air",
    show_default=True,
    help="halpha: wavelength frame.",
)
def spectra(
    kind,
    n,
    out,
    seed,
    overwrite,
    snr,
    num_pixels,
    wavelength_range,
    num_classes,
    lines_per_class,
    continuum,
    resolving_power,
    frame,
) -> None:
    """Write N synthetic labelled spectra to the store OUT.

    \b
    Example:
      skysift synth spectra --kind gaussian-lines --n 20000 --snr 10 --out data/lines
      skysift synth spectra --kind halpha --n 5000 --resolving-power 1800 --out data/ha
    """
    params: dict = {"seed": seed}
    if snr is not None:
        params["snr"] = snr
    if num_pixels is not None:
        params["num_pixels"] = num_pixels
    if wavelength_range is not None:
        params["wavelength_range_aa"] = tuple(wavelength_range)
    if kind == "gaussian-lines":
        params.update(
            num_classes=num_classes,
            lines_per_class=lines_per_class,
            continuum=continuum,
        )
    else:
        params.update(resolving_power=resolving_power or None, frame=frame)
    _run(out, kind, n, overwrite, **params)


@synth.command()
@_with_common
@click.option(
    "--survey",
    type=click.Choice(["lsst", "ztf"]),
    default="lsst",
    show_default=True,
    help="Passbands: LSST ugrizy or ZTF gr.",
)
@click.option(
    "--bands", default=None, help="A subset of the survey's bands, e.g. griz."
)
@click.option(
    "--classes",
    default=None,
    help="Comma-separated subset of SNIa,SNIbc,SNII,periodic,flare,AGN (default all).",
)
def lightcurves(n, out, seed, overwrite, survey, bands, classes) -> None:
    """Write N synthetic labelled light curves to the store OUT.

    Supernovae of three types (Ia, Ib/c, II), periodic variables, flares and
    AGN, sampled irregularly per band with seasonal gaps and heteroscedastic
    errors.

    \b
    Example:
      skysift synth lightcurves --n 5000 --out data/lc
    """
    params: dict = {"seed": seed, "survey": survey}
    if bands:
        params["bands"] = bands
    if classes:
        params["classes"] = [c.strip() for c in classes.split(",") if c.strip()]
    _run(out, "lightcurves", n, overwrite, **params)
