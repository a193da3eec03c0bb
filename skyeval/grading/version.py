"""The grader's version: a string bumped whenever any verdict of ``skyeval.grade`` changes.

Run directories record it (with the grading policy) in ``config.json`` and in every sample, so a directory
graded by another version is re-graded, without generating, when it is run or scored again.
"""

GRADER_VERSION = "2"
