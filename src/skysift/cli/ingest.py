"""``skysift ingest``: read survey files into a store.

Each subcommand lives in its own module and is added to the group here.
"""

from __future__ import annotations

import click

from skysift.cli.ingest_lightcurves import alerts, lightcurves
from skysift.cli.ingest_spectra import spectra


@click.group()
def ingest() -> None:
    """Read real survey files (FITS spectra, light-curve tables, alerts) into a store.

    Every ingest prints how many files/objects were read, skipped and why;
    skipped ones are listed with their reason in a report file next to the
    store. Nothing is dropped silently.
    """


ingest.add_command(spectra)
ingest.add_command(lightcurves)
ingest.add_command(alerts)
