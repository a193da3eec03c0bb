"""Answer extraction (``extract``), equivalence (``equivalence``) and safe, time-bounded grading (``grade``)."""
