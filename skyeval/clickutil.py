"""Shared click pieces for the ``skyeval``, ``skydata`` and ``skytrain`` commands."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from skyeval.errors import SkyevalError


class ErrorGroup(click.Group):
    """User-facing errors, and click's own usage errors (a bad option value), become one line on stderr and
    exit status 2, with no traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SkyevalError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
        except click.UsageError as err:
            where = f" (see: {err.ctx.command_path} --help)" if err.ctx is not None else ""
            click.echo(f"error: {' '.join(err.format_message().split())}{where}", err=True)
            sys.exit(err.exit_code)


#: ``--grade-timeout`` of every skyeval command that grades (``skyeval.regrade`` checks the value).
grade_timeout_option = click.option(
    "--grade-timeout", type=float, default=5.0, show_default=True, help="Seconds per grading."
)

#: ``--grade-policy`` of every skyeval command that grades (an unknown name is the grader's one-line error).
grade_policy_option = click.option(
    "--grade-policy",
    default="default",
    show_default=True,
    help="Grading policy (skyeval.grading's presets), recorded with every sample.",
)


def parse_engine_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from ``-E``/``--option``: the value as JSON when it parses (``4``, ``true``), else text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SkyevalError(f"engine option must be KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value
