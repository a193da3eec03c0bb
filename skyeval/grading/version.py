"""The grader's version: a string bumped whenever any verdict of ``skyeval.grade`` changes.

Run directories record it (with the grading policy) in ``config.json`` and in every sample, so a directory
graded by another version is re-graded, without generating, when it is run or scored again.

"3": issue 12 (exact big values with a size bound and the ``too_large`` verdict, the directed approximation
policy, values after ``=``, plain-text/Unicode notation, set-builder sets, base numerals, policy presets,
extraction of real output shapes: ``<answer>``, remarks after the box, choice letters with prose, box
clusters, ordinals and units, bold last lines of finished responses).
"""

from __future__ import annotations

GRADER_VERSION = "3"
