"""The ``skydata`` command. (Placeholder: the curation work fills this in.)"""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """Curate math training data: difficulty labels, teacher generations, rejection sampling, export."""
