"""``skyeval report``. (Placeholder: the report work fills this in.)"""

from __future__ import annotations

import click

commands: list[click.Command] = []
