"""``skyeval run``, ``skyeval score`` and ``skyeval tasks``. (Placeholder: the runner work fills this in.)"""

from __future__ import annotations

import click

commands: list[click.Command] = []
