"""The grader's version: a string bumped whenever verdicts change, recorded with graded results.

"3": issue 12 (exact big values with a size bound and the ``too_large`` verdict, the directed approximation
policy, values after ``=``, plain-text/Unicode notation, set-builder sets, base numerals, policy presets).
"""

from __future__ import annotations

GRADER_VERSION = "3"
