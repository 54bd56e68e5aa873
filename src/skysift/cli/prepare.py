"""``skysift prepare``: run a preparation pipeline over a store."""

from __future__ import annotations

import sys

import click


@click.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.argument("out", type=click.Path(path_type=str))
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="YAML file with 'kind:' and 'steps:' (see README).",
)
@click.option(
    "--pipeline",
    "pipeline_path",
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="A fitted pipeline (_pipeline.json of an earlier prepare) to apply "
    "without refitting, e.g. to a test set.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=4096, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes preparing chunks at once, one thread each; the result is the "
    "same. Default: one per core for the gp step (up to one per chunk), else 1.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT.")
def prepare(source, out, config_path, pipeline_path, batch_size, workers, overwrite) -> None:
    """Prepare the store SOURCE into the model-ready store OUT.

    The pipeline comes from --config (fitted on SOURCE) or from --pipeline
    (already fitted). The fitted pipeline is saved as OUT/_pipeline.json;
    objects that cannot be prepared are listed in OUT/_rejected.csv.
    The gp step (about a millisecond per light curve and core) runs in a
    process per core by default; --workers 1 keeps it to one core.

    \b
    Example prep.yaml (seed 001's grid):
      kind: spectra
      steps:
        - regrid: {start_aa: 6519, stop_aa: 6732, num: 140}
        - standardize
    """
    import yaml

    from skysift.io.store import open_store
    from skysift.preprocessing.pipeline import Pipeline, load_pipeline
    from skysift.preprocessing.prepare import prepare_store

    if bool(config_path) == bool(pipeline_path):
        raise click.UsageError("give exactly one of --config or --pipeline")
    if config_path:
        with open(config_path) as f:
            config = yaml.safe_load(f) or {}
        if not isinstance(config, dict):
            raise click.UsageError(f"{config_path}: expected a mapping with kind/steps")
        pipeline = Pipeline.from_config(config)
    else:
        pipeline = load_pipeline(pipeline_path)
    n = open_store(source).n_objects
    with click.progressbar(length=n, label="prepare", file=sys.stderr) as bar:
        result = prepare_store(
            source,
            out,
            pipeline,
            fit=config_path is not None,
            batch_size=batch_size,
            overwrite=overwrite,
            progress=bar.update,
            workers=workers,
        )
    click.echo(
        f"read {result['n_in']:,} objects: {result['n_out']:,} prepared, "
        f"{result['n_rejected']:,} rejected"
        + (f" (reasons in {out}/_rejected.csv)" if result["n_rejected"] else "")
    )
    click.echo(
        f"model input shape {tuple(result['input_shape'])}, "
        f"{result['n_extra']} extra feature(s); pipeline saved to {out}/_pipeline.json"
    )
