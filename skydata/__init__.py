"""skydata: curate distillation and RL data (sources -> difficulty -> selection -> teacher -> reject -> export)."""

__version__ = "0.1.0"
