"""skytrain: thin adapters that build and launch TRL and OpenRLHF training runs with skyeval's grader as reward."""

__version__ = "0.1.0"
