"""`specsim simulate` (placeholder until its issue lands)."""

import click

from specsim.errors import SpecsimError


@click.command("simulate")
def command() -> None:
    """Not built yet."""
    raise SpecsimError("'specsim simulate' is not built yet")
