"""Mathematical equivalence of two answers: a pure-Python fast path and a bounded sympy slow path.

``fast_equivalent`` decides the common cases (integers, decimals, simple fractions, percentages, words and
choice letters, tuples and lists of those) exactly with :class:`fractions.Fraction`, in microseconds, and
returns None when only the slow path can decide. ``is_equivalent`` returns the fast verdict when there is one,
else parses both answers with ``latex2sympy2_extended`` (an ANTLR parser that builds sympy objects; model text is
never passed to ``sympify``/``parse_expr``/``eval``) after bounding input length, nesting depth, exponent and
factorial sizes, and compares exactly. The policy is written down in ``docs/grading.md``.
"""

from __future__ import annotations

from typing import Any

from skyeval.grading.extract import extract_answer
from skyeval.grading.normalize import (
    LIST_KINDS,
    Item,
    canonical,
    label_free,
    parse_items,
    resolve_choices,
)
from skyeval.grading.numbers import EquivalenceConfig, atoms_equal, fast_atom, fast_number

__all__ = ["EquivalenceConfig", "fast_equivalent", "is_equivalent", "unwrap"]

_WRAPPERS = (
    "\\boxed",
    "\\fbox",
    "$",
    "\\(",
    "\\[",
    "nswer",
    "NSWER",
    " is ",
    " are ",
    "</think>",
    ":",
    "\n",
    "\\approx",
)


def _fast_item(item: Item) -> Any:
    """A fast-path value for one parsed item, or None when the slow path is needed."""
    if item.kind == "atom":
        return fast_atom(label_free(item.text))
    values = [_fast_item(x) for x in item.items]
    if any(v is None or isinstance(v, tuple) for v in values):
        return None
    return (item.kind, item.open, item.close, tuple(values))


def _fast_values_equal(a: Any, b: Any, config: EquivalenceConfig) -> bool | None:
    if not isinstance(a, tuple) and not isinstance(b, tuple):
        return atoms_equal(a, b, config)
    if not isinstance(a, tuple) or not isinstance(b, tuple):
        return None  # a list on one side only: a single item may still hide a list (the slow path decides)
    kind_a, open_a, close_a, items_a = a
    kind_b, open_b, close_b, items_b = b
    if kind_a in LIST_KINDS and kind_b in LIST_KINDS:
        return all(any(atoms_equal(x, y, config) for y in items_b) for x in items_a) and all(
            any(atoms_equal(x, y, config) for y in items_a) for x in items_b
        )
    if kind_a == "seq" and kind_b == "seq" and (open_a, close_a) == (open_b, close_b):
        return len(items_a) == len(items_b) and all(
            atoms_equal(x, y, config) for x, y in zip(items_a, items_b, strict=True)
        )
    return None


MAX_UNWRAP_CHARS = 4_000
"""``fast_equivalent`` leaves longer inputs (whole solutions as golds are shorter) to the slow path."""


def unwrap(answer: str) -> str:
    """An answer as given (gold or extracted prediction) reduced to its final answer text."""
    s = str(answer).strip()
    if len(s) <= 160 and not any(mark in s for mark in _WRAPPERS):
        return s  # already a bare answer: nothing to extract
    return extract_answer(s) or s


def fast_equivalent(pred: str, gold: str, config: EquivalenceConfig = EquivalenceConfig()) -> bool | None:
    """Decide the common cases in pure Python (no sympy), or None when only the slow path can decide.

    Bounded on any input: answers longer than ``config.max_chars`` (after unwrapping) are left to the slow path
    (None; it runs under the caller's timeout), so the in-process work stays in the low milliseconds."""
    p, g = str(pred).strip(), str(gold).strip()
    if p == g:
        return True
    if len(p) > MAX_UNWRAP_CHARS or len(g) > MAX_UNWRAP_CHARS:
        return None
    num_p, num_g = fast_number(p), fast_number(g)
    if num_p is not None and num_g is not None:
        # both plain numbers ("\frac{3}{4}", "0.75"): canonical/unwrap leave these unchanged, skip them
        return atoms_equal(num_p, num_g, config)
    p, g = unwrap(p), unwrap(g)
    if len(p) > config.max_chars or len(g) > config.max_chars:
        return True if p == g else None
    return _fast(canonical(p), canonical(g), config)


def _fast(p: str, g: str, config: EquivalenceConfig) -> bool | None:
    choices = resolve_choices(p, g)
    if isinstance(choices, bool):
        return choices
    p, g = choices
    if not p or not g:
        return False
    pi, gi = parse_items(p), parse_items(g)
    if pi is None or gi is None:
        return None
    pv, gv = _fast_item(pi), _fast_item(gi)
    if pv is None or gv is None:
        return None
    return _fast_values_equal(pv, gv, config)


def is_equivalent(pred: str, gold: str, config: EquivalenceConfig = EquivalenceConfig()) -> bool:
    """True when ``pred`` and ``gold`` denote the same mathematical answer (policy: docs/grading.md)."""
    p, g = canonical(unwrap(pred)), canonical(unwrap(gold))
    fast = _fast(p, g, config)
    if fast is not None:
        return fast
    from skyeval.grading.items import slow_equivalent

    return slow_equivalent(p, g, config)
