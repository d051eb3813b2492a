"""`specsim profile` (placeholder until its issue lands)."""

import click

from specsim.errors import SpecsimError


@click.command("profile")
def command() -> None:
    """Not built yet."""
    raise SpecsimError("'specsim profile' is not built yet")
