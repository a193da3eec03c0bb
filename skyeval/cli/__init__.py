"""The ``skyeval`` command: thin click commands over the library API."""

from __future__ import annotations

import click

from skyeval.cli import grade, report, run
from skyeval.clickutil import ErrorGroup


@click.group(cls=ErrorGroup)
@click.version_option(package_name="skyeval")
def main() -> None:
    """Evaluate math-reasoning models: run benchmarks, grade answers, report results."""


for _module in (grade, run, report):
    for _command in _module.commands:
        main.add_command(_command)
