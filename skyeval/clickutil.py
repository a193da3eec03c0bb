"""Shared click pieces for the ``skyeval``, ``skydata`` and ``skytrain`` commands."""

from __future__ import annotations

import sys

import click

from skyeval.errors import SkyevalError


class ErrorGroup(click.Group):
    """User-facing errors become one line on stderr and exit status 2, with no traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SkyevalError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
