"""`specsim sweep` (placeholder until its issue lands)."""

import click

from specsim.errors import SpecsimError


@click.command("sweep")
def command() -> None:
    """Not built yet."""
    raise SpecsimError("'specsim sweep' is not built yet")
