"""Answer extraction (``extract``), equivalence (``equivalence``) and safe, time-bounded grading (``grade``).

Importing this package stays light (no sympy): it exposes the policy presets and the grader's version.
"""

from skyeval.grading.numbers import POLICIES, EquivalenceConfig, policy, policy_name
from skyeval.grading.version import GRADER_VERSION

__all__ = ["GRADER_VERSION", "POLICIES", "EquivalenceConfig", "policy", "policy_name"]
