"""The `specsim` command: one click group, one module per subcommand.

Subcommands that need torch import it inside their function, so `specsim --help` and the
simulator work without it.
"""

from __future__ import annotations

import sys

import click

from specsim.errors import SpecsimError

# The `torch` extra: calibrate, realrun and validate import these inside their functions.
TORCH_MODULES = ("torch", "transformers", "accelerate")


class SpecsimGroup(click.Group):
    """Turns every SpecsimError into one line on stderr and exit code 2 — never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SpecsimError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
        except ModuleNotFoundError as error:
            if error.name not in TORCH_MODULES:
                raise
            click.echo(f"error: this command needs {error.name}, which is not installed: "
                       "pip install 'specsim[torch]'", err=True)
            sys.exit(2)


@click.group(cls=SpecsimGroup)
@click.version_option(package_name="specsim")
def main() -> None:
    """Decide how to serve an LLM with speculative decoding: calibrate a profile, simulate
    policies under traffic, and validate the simulator against real hardware."""


def _register() -> None:
    from specsim.cli import calibrate, profile, realrun, simulate, sweep, validate

    for module in (simulate, sweep, profile, calibrate, realrun, validate):
        main.add_command(module.command)


_register()
