"""Mathematical equivalence of two answers. (Placeholder: replaced by the grader work.)"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EquivalenceConfig:
    """How strictly two answers are compared."""

    rel_tol: float = 0.0


def is_equivalent(pred: str, gold: str, config: EquivalenceConfig = EquivalenceConfig()) -> bool:
    """True when ``pred`` and ``gold`` denote the same mathematical answer."""
    return pred.strip() == str(gold).strip()
