"""The ``skytrain`` command. (Placeholder: the training work fills this in.)"""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """Launch SFT and RL runs through TRL or OpenRLHF with skyeval's grader as the reward."""
