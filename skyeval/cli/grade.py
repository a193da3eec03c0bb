"""``skyeval grade FILE.jsonl``: add correct/extracted/reason to each row and print accuracy."""

from __future__ import annotations

import click


@click.command("grade")
@click.argument("path", type=click.Path(dir_okay=False))
def grade_cmd(path: str) -> None:
    """Grade a JSONL file of responses against gold answers. (Placeholder.)"""
    raise click.ClickException("not implemented yet")


commands = [grade_cmd]
