"""``skysift models``: the registered architectures and their sizes."""

from __future__ import annotations

import click


@click.command()
@click.argument("pattern", default="*")
@click.option("--num-classes", type=click.IntRange(min=1), help="Output width to count parameters for.")
@click.option("--in-channels", type=click.IntRange(min=1), help="Channels (spectra) or passbands M (light curves).")
@click.option("--input-length", type=click.IntRange(min=1), help="Pixels per spectrum or time steps L.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
def models(pattern, num_classes, in_channels, input_length, as_json) -> None:
    """List registered models matching PATTERN with parameter counts.

    Counts are for the seed's default input shape unless --num-classes,
    --in-channels or --input-length say otherwise.

    \b
    Example:
      skysift models
      skysift models 't*' --input-length 50 --in-channels 2
    """
    import json

    from skysift.models import create_model, list_models

    rows = []
    for name in list_models(pattern):
        kwargs = {
            k: v
            for k, v in (
                ("num_classes", num_classes),
                ("in_channels", in_channels),
                ("input_length", input_length),
            )
            if v is not None
        }
        model = create_model(name, **kwargs)
        rows.append(
            {
                "name": name,
                "task": model.task,
                "input_shape": list(model.input_shape),
                "num_classes": model.num_classes,
                "parameters": model.num_parameters(),
                "doc": (type(model).__doc__ or "").strip().splitlines()[0],
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        raise click.ClickException(f"no registered model matches {pattern!r}")
    click.echo(f"{'model':<26}{'task':<16}{'input':<14}{'outputs':>8}{'parameters':>13}")
    for r in rows:
        shape = "x".join(map(str, r["input_shape"]))
        click.echo(f"{r['name']:<26}{r['task']:<16}{shape:<14}{r['num_classes']:>8}{r['parameters']:>13,}")
