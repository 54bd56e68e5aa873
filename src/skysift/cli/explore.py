"""``skysift explore``: the PCA or t-SNE map of one or more stores (seed 001 ch. 8)."""

from __future__ import annotations

import os

import click

from skysift.cli._summary import _size


@click.command()
@click.argument(
    "stores",
    metavar="IN [IN2 ...]",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=str),
)
@click.option(
    "--method",
    type=click.Choice(["pca", "tsne"]),
    default="pca",
    show_default=True,
    help="pca: the first two principal components; tsne: t-SNE on the first 30 "
    "principal components (seed 001).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=str),
    required=True,
    help="Figure to write (.png, .pdf or .svg).",
)
@click.option(
    "--name",
    "names",
    multiple=True,
    help="Legend name of a store; give it once per store, in order (default: "
    "the directory names).",
)
@click.option(
    "--max-per-dataset",
    type=click.IntRange(min=3),
    default=5000,
    show_default=True,
    help="Random sample of each store (seed 001 mapped 5,000 LAMOST spectra).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="Preparation pipeline YAML (as for skysift prepare) for spectra stores; "
    "fitted on the first store's sample. Default: regrid onto --range/--num, "
    "then standardize.",
)
@click.option(
    "--range",
    "wl_range",
    nargs=2,
    type=float,
    default=None,
    metavar="MIN MAX",
    help="Grid of the default preparation in Angstrom (default: the range all "
    "stores share).",
)
@click.option(
    "--num",
    type=click.IntRange(min=2),
    default=140,
    show_default=True,
    help="Points of the default preparation's grid.",
)
@click.option(
    "--perplexity",
    type=click.FloatRange(min=1.0),
    default=40.0,
    show_default=True,
    help="t-SNE perplexity (seed 001: 40).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Threads for the embedding (more help t-SNE on an otherwise idle machine).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def explore(
    stores,
    method,
    out,
    names,
    max_per_dataset,
    config_path,
    wl_range,
    num,
    perplexity,
    jobs,
    seed,
    overwrite,
) -> None:
    """Draw the 2D map of the store IN, or of several stores on the same axes.

    Points are coloured by class and marked by store, so a source and a
    target archive (seed 001: Ondrejov and LAMOST) can be compared. Raw
    spectra stores are brought onto one grid first; prepared stores (from
    skysift prepare) are mapped as they are.

    \b
    Example:
      skysift explore data/ondrejov data/lamost --method tsne --out map.png
    """
    from skysift.data.explore import explore_stores

    if len(stores) > 6:
        raise click.UsageError(f"at most 6 stores can share one map, got {len(stores)}")
    name_list = list(names) or None
    if name_list and len(name_list) != len(stores):
        raise click.UsageError(
            f"--name given {len(name_list)} time(s) for {len(stores)} store(s)"
        )
    if os.path.exists(out) and not overwrite:
        raise FileExistsError(f"{out} already exists; pass --overwrite to replace it")
    pipeline = None
    if config_path:
        import yaml

        from skysift.preprocessing.pipeline import Pipeline

        with open(config_path) as f:
            config = yaml.safe_load(f) or {}
        if not isinstance(config, dict):
            raise click.UsageError(f"{config_path}: expected a mapping with kind/steps")
        pipeline = Pipeline.from_config(config)
    result = explore_stores(
        list(stores),
        method=method,
        out=out,
        names=name_list,
        max_per_dataset=max_per_dataset,
        pipeline=pipeline,
        grid=None if wl_range is None else (wl_range[0], wl_range[1], num),
        seed=seed,
        perplexity=perplexity,
        n_jobs=jobs,
    )
    counts = " + ".join(
        f"{c:,} ({n})" for c, n in zip(result["counts"], result["names"], strict=True)
    )
    info = result["info"]
    if info["method"] == "pca":
        r = info["explained_variance_ratio"]
        detail = f"PC 1 and PC 2 explain {100 * r[0]:.1f}% and {100 * r[1]:.1f}% of the variance"
    else:
        detail = f"t-SNE perplexity {info['perplexity']:g}, KL divergence {info['kl_divergence']:.3f}"
    click.echo(f"mapped {counts} spectra with {method}; {detail}")
    if result["rejected"]:
        click.echo(
            f"{len(result['rejected']):,} spectra could not be prepared and are left out "
            f"(e.g. {result['rejected'][0][0]}: {result['rejected'][0][1]})"
        )
    click.echo(f"wrote {out} ({_size(os.path.getsize(out))})")
