"""skydata: curate distillation and RL data (source -> dedup -> decontam -> difficulty -> select -> teacher -> reject
-> [rewrite] -> export; ``skydata.pipeline.STAGES``)."""

__version__ = "0.1.0"
