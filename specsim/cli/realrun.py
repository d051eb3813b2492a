"""`specsim realrun` (placeholder until its issue lands)."""

import click

from specsim.errors import SpecsimError


@click.command("realrun")
def command() -> None:
    """Not built yet."""
    raise SpecsimError("'specsim realrun' is not built yet")
