"""``skysift info``: what a store holds."""

from __future__ import annotations

import click


@click.command()
@click.argument("store", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead.")
def info(store: str, as_json: bool) -> None:
    """Print what STORE holds: kind, objects, classes, columns, size on disk.

    With --json the same is printed as one JSON object (keys include kind,
    n_objects, classes, columns, size_bytes) for scripts.
    """
    import json

    from skysift.cli._summary import format_summary
    from skysift.io.store import open_store

    summary = open_store(store).info()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(format_summary(summary))
