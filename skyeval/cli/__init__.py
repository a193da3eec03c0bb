"""The ``skyeval`` command: thin click commands over the library API."""

from __future__ import annotations

import sys

import click

from skyeval.cli import grade, report, run
from skyeval.errors import SkyevalError


class _Group(click.Group):
    """Turn user-facing errors into one line on stderr and exit status 2, with no traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SkyevalError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="skyeval")
def main() -> None:
    """Evaluate math-reasoning models: run benchmarks, grade answers, report results."""


for _module in (grade, run, report):
    for _command in _module.commands:
        main.add_command(_command)
