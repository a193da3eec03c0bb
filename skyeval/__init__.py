"""skyeval: evaluate math-reasoning models with a fast, exact and safe answer grader.

Public API (imported lazily so ``import skyeval`` stays light: no sympy, torch or vllm until used)::

    from skyeval import extract_answer, is_equivalent, grade, grade_many, pass_at_k, Grade
    from skyeval import compare, policy, POLICIES, GRADER_VERSION  # verdicts, policy presets, grader version
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "extract_answer": "skyeval.grading.extract",
    "ExtractConfig": "skyeval.grading.extract",
    "is_equivalent": "skyeval.grading.equivalence",
    "compare": "skyeval.grading.equivalence",
    "EquivalenceConfig": "skyeval.grading.numbers",
    "POLICIES": "skyeval.grading.numbers",
    "policy": "skyeval.grading.numbers",
    "GRADER_VERSION": "skyeval.grading.version",
    "grade": "skyeval.grading.grade",
    "grade_many": "skyeval.grading.grade",
    "pass_at_k": "skyeval.metrics",
    "Grade": "skyeval.types",
    "Problem": "skyeval.types",
    "SampleRecord": "skyeval.types",
}

__all__ = [
    "GRADER_VERSION",
    "POLICIES",
    "EquivalenceConfig",
    "ExtractConfig",
    "Grade",
    "Problem",
    "SampleRecord",
    "compare",
    "extract_answer",
    "grade",
    "grade_many",
    "is_equivalent",
    "pass_at_k",
    "policy",
]

if TYPE_CHECKING:
    from skyeval.grading.equivalence import compare, is_equivalent
    from skyeval.grading.extract import ExtractConfig, extract_answer
    from skyeval.grading.grade import grade, grade_many
    from skyeval.grading.numbers import POLICIES, EquivalenceConfig, policy
    from skyeval.grading.version import GRADER_VERSION
    from skyeval.metrics import pass_at_k
    from skyeval.types import Grade, Problem, SampleRecord


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'skyeval' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
