"""`specsim validate` (placeholder until its issue lands)."""

import click

from specsim.errors import SpecsimError


@click.command("validate")
def command() -> None:
    """Not built yet."""
    raise SpecsimError("'specsim validate' is not built yet")
