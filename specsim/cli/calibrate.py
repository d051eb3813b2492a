"""`specsim calibrate` (placeholder until its issue lands)."""

import click

from specsim.errors import SpecsimError


@click.command("calibrate")
def command() -> None:
    """Not built yet."""
    raise SpecsimError("'specsim calibrate' is not built yet")
