"""The ``skyeval`` command: thin click commands over the library API."""

from __future__ import annotations

import click

from skyeval.cli import grade, import_, report, run
from skyeval.clickutil import ErrorGroup
from skyeval.signals import interrupt_on_signals


class _Main(ErrorGroup):
    """``skyeval``: SIGTERM and SIGHUP stop any command the way Ctrl-C does (``skyeval.signals``)."""

    def invoke(self, ctx: click.Context) -> object:
        with interrupt_on_signals():
            return super().invoke(ctx)


@click.group(cls=_Main)
@click.version_option(package_name="skyeval")
def main() -> None:
    """Evaluate math-reasoning models: run benchmarks, grade answers, report results."""


for _module in (grade, run, import_, report):
    for _command in _module.commands:
        main.add_command(_command)
