"""``skysift explain``: class activation and attention maps for chosen objects."""

from __future__ import annotations

import click


@click.command()
@click.argument("model", type=click.Path(exists=True, path_type=str))
@click.option("--data", "data_path", required=True, type=click.Path(exists=True, file_okay=False, path_type=str), help="Store holding the objects.")
@click.option("--ids", required=True, help="Comma-separated object ids.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=str), help="Directory for the PNG figures.")
@click.option("--target", "target_class", help="Class to explain (default: each object's predicted class).")
def explain(model, data_path, ids, out, target_class) -> None:
    """Draw class activation maps (and attention maps) for objects --ids.

    CAMs (seed 003 eq. 4.11) need a model ending in global average pooling
    plus a linear layer (t2, atx, cnn2d); the transformers (t2,
    spectral_vit) also get attention maps. One PNG per object and map.

    \b
    Example:
      skysift explain runs/lc --data data/lc --ids lc-00000001,lc-00000002 --out explain/
    """
    from skysift.interpret.explain import explain_objects

    wanted = [i.strip() for i in ids.split(",") if i.strip()]
    if not wanted:
        raise click.BadParameter("give at least one object id", param_hint="--ids")
    for line in explain_objects(model, data_path, wanted, out, target_class=target_class):
        click.echo(line)
