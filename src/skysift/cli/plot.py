"""``skysift plot``: figures of single objects for a person to look at."""

from __future__ import annotations

import click


@click.group()
def plot() -> None:
    """Draw one object of a store as a PNG."""


def _gp_step(config_path: str | None, survey: str | None, object_survey: str | None):
    """Build the ``gp`` step from a config file, or from defaults and the survey."""
    import json
    from pathlib import Path

    import yaml

    from skysift.preprocessing.gp import GaussianProcessInterpolator
    from skysift.preprocessing.pipeline import Pipeline

    if config_path is None:
        return GaussianProcessInterpolator(survey=survey or object_survey or "lsst")
    text = Path(config_path).read_text()
    config = json.loads(text) if config_path.endswith(".json") else yaml.safe_load(text)
    if not isinstance(config, dict):
        raise click.UsageError(
            f"{config_path}: expected a mapping (gp parameters, a pipeline "
            "config with kind/steps, or a saved _pipeline.json)"
        )
    if "format_version" in config:  # a fitted pipeline saved by prepare
        steps = Pipeline.from_dict(config).steps
    elif "steps" in config:  # a pipeline config as given to prepare --config
        steps = Pipeline.from_config(config).steps
    else:  # the gp step's own parameters
        steps = [GaussianProcessInterpolator(**config)]
    for step in steps:
        if isinstance(step, GaussianProcessInterpolator):
            if survey is not None:
                step.survey = survey
            return step
    raise click.UsageError(f"{config_path}: the pipeline has no 'gp' step")


@plot.command("lightcurve")
@click.argument("store", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.argument("object_id")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=str),
    help="PNG to write (default: OBJECT_ID.png).",
)
@click.option(
    "--gp-config",
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="The 'gp' step to use: its parameters (YAML), a pipeline config "
    "(kind/steps YAML) or a saved _pipeline.json.",
)
@click.option(
    "--survey",
    type=click.Choice(["lsst", "ztf"]),
    help="Passbands for the GP (default: the object's 'survey' column, else lsst).",
)
@click.option("--no-gp", is_flag=True, help="Draw the observations only.")
@click.option("--dpi", type=click.IntRange(min=30), default=120, show_default=True)
def lightcurve(store, object_id, out, gp_config, survey, no_gp, dpi) -> None:
    """Plot light curve OBJECT_ID of STORE with its Gaussian-process fit.

    Raw points with error bars per band, and the GP mean with its 1-sigma
    band in the same colour (dashed for bands without observations).

    \b
    Example:
      skysift plot lightcurve lc_store lc-00000012 --out lc.png
    """
    import numpy as np

    from skysift.data.lightcurve_plot import plot_lightcurve
    from skysift.data.passbands import PASSBANDS
    from skysift.io.store import open_store

    src = open_store(store)
    if src.kind != "lightcurves":
        raise click.UsageError(f"{store} holds {src.kind}, not light curves")
    lc = src.get(object_id)
    result = None
    if not no_gp:
        object_survey = lc.meta.get("survey")
        step = _gp_step(
            gp_config, survey, object_survey if object_survey in PASSBANDS else None
        )
        batch = {
            "time_mjd": [np.asarray(lc.time_mjd)],
            "band": [np.asarray(lc.band)],
            "flux": [np.asarray(lc.flux)],
            "flux_err": [np.asarray(lc.flux_err)],
        }
        result = step.interpolate(batch, return_var=True)
    fig = plot_lightcurve(lc, result)
    out = out or f"{object_id}.png"
    fig.savefig(out, dpi=dpi)
    click.echo(f"wrote {out}")
    if result is not None:
        flags = ", ".join(result.flag_names(0)) or "none"
        click.echo(
            f"GP: amplitude {np.sqrt(result.amplitude[0]):.4g} (flux), time "
            f"length scale {result.length_scale_days[0]:.3g} d, log-likelihood "
            f"{result.log_likelihood[0]:.2f}, flags: {flags}"
        )
