"""Mathematical equivalence of a predicted and a gold answer: the public facade of the grader's layers.

``fast_equivalent`` decides the common cases (integers, decimals, fractions, exact arithmetic such as
``7^{150}+1``, percentages, words and choice letters, tuples and lists of those) exactly in pure Python, in
microseconds, and returns None when only the slow path can decide. ``compare`` returns the fast verdict when
there is one, else the sympy path's (``items.slow_verdict``: bounded parsing with latex2sympy2_extended, an ANTLR
parser; model text is never passed to ``sympify``/``parse_expr``/``eval``). ``is_equivalent`` is ``compare(...) ==
"equal"``. The order of the arguments matters (prediction first): a decimal gold is a rounded value, a decimal
prediction must carry enough digits. The policy is written down in ``docs/grading.md``; ``numbers.policy``
names its presets.

Layers, each importing only those below it: ``exact`` (bounded rational arithmetic) <- ``numbers`` (config,
atoms, approximation policy), ``notation`` and ``labels`` <- ``normalize`` (strings, item trees) <- ``sympy_parse`` <-
``magnitude`` <- ``sympy_compare`` <- ``items`` (answer trees) <- ``equivalence`` (this facade).
"""

from __future__ import annotations

import re
from typing import Any

from skyeval.grading.exact import TooLarge
from skyeval.grading.extract import extract_answer
from skyeval.grading.labels import label_free
from skyeval.grading.normalize import LIST_KINDS, Item, canonical, parse_items, resolve_choices
from skyeval.grading.numbers import EquivalenceConfig, Verdict, atoms_equal, fast_atom, fast_number

__all__ = ["EquivalenceConfig", "compare", "fast_equivalent", "is_equivalent", "unwrap"]

_DEFAULT = EquivalenceConfig()
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


_COMMAND_RE = re.compile(r"\\[A-Za-z]+\s*(?:\{[^{}]*\})?")
_PROSE_RE = re.compile(r"(?<![A-Za-z])(?!(?:and|or)\b)[A-Za-z]{2,}")


def _fast_item(item: Item, config: EquivalenceConfig) -> Any:
    """A fast-path value for one parsed item, or None when the slow path is needed (TooLarge propagates)."""
    if item.kind == "atom":
        return fast_atom(label_free(item.text), config)
    values = [_fast_item(x, config) for x in item.items]
    if any(v is None or isinstance(v, tuple) for v in values):
        return None
    return (item.kind, item.open, item.close, tuple(values))


def _fast_values_equal(p: Any, g: Any, config: EquivalenceConfig) -> bool | None:
    if not isinstance(p, tuple) and not isinstance(g, tuple):
        return atoms_equal(p, g, config)
    if not isinstance(p, tuple) or not isinstance(g, tuple):
        return None  # a list on one side only: a single item may still hide a list (the slow path decides)
    kind_p, open_p, close_p, items_p = p
    kind_g, open_g, close_g, items_g = g
    if kind_p in LIST_KINDS and kind_g in LIST_KINDS:
        return all(any(atoms_equal(x, y, config) for y in items_g) for x in items_p) and all(
            any(atoms_equal(x, y, config) for x in items_p) for y in items_g
        )
    if kind_p == "seq" and kind_g == "seq" and (open_p, close_p) == (open_g, close_g):
        return len(items_p) == len(items_g) and all(
            atoms_equal(x, y, config) for x, y in zip(items_p, items_g, strict=True)
        )
    return None


MAX_UNWRAP_CHARS = 4_000
"""Longer inputs are left to the worker by ``fast_equivalent``; ``compare`` compares longer answers (after
unwrapping) as written: equal only when identical."""


def unwrap(answer: str) -> str:
    """An answer as given (gold or extracted prediction) reduced to its final answer text."""
    s = str(answer).strip()
    if not any(mark in s for mark in _WRAPPERS):
        return s  # already a bare answer: nothing to extract
    if s.startswith("\\{") and s.endswith("\\}") and "$" not in s:
        return s  # a set, set-builder ones included (\{x : x \le 1\} is no sentence)
    if (
        s.startswith("$")
        and s.endswith("$")
        and s.count("$") > 2
        and not _PROSE_RE.search(_COMMAND_RE.sub("", s))
    ):
        return s.replace("$", "")  # math segments and separators only: "$-1$,$2$", "$221,$8$" (a typo'd gold)
    return extract_answer(s) or s


def fast_equivalent(pred: str, gold: str, config: EquivalenceConfig = _DEFAULT) -> bool | None:
    """Decide the common cases in pure Python (no sympy), or None when only the slow path can decide.

    Bounded on any input: answers longer than ``config.max_chars`` (after unwrapping) are left to the slow path
    (None; it runs under the caller's timeout), so the in-process work stays in the low milliseconds."""
    p, g = str(pred).strip(), str(gold).strip()
    if p == g:
        return True
    if len(p) > MAX_UNWRAP_CHARS or len(g) > MAX_UNWRAP_CHARS:
        return None
    num_p, num_g = fast_number(p, config.max_bits), fast_number(g, config.max_bits)
    if num_p is not None and num_g is not None:
        # both plain numbers ("\\frac{3}{4}", "0.75"): canonical/unwrap leave these unchanged, skip them
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
    try:
        pv, gv = _fast_item(pi, config), _fast_item(gi, config)
    except TooLarge:
        return None  # the slow path compares magnitudes
    if pv is None or gv is None:
        return None
    return _fast_values_equal(pv, gv, config)


def compare(pred: str, gold: str, config: EquivalenceConfig = _DEFAULT) -> Verdict:
    """``equal``, ``not_equal`` or ``too_large`` for a prediction against a gold (policy: docs/grading.md).

    The full comparison in this process, without a timeout: ``grade`` runs it in a killable worker."""
    p, g = unwrap(pred), unwrap(gold)
    if len(p) > MAX_UNWRAP_CHARS or len(g) > MAX_UNWRAP_CHARS:
        return "equal" if p == g else "not_equal"  # beyond any answer's size: compared as written
    p, g = canonical(p), canonical(g)
    fast = _fast(p, g, config)
    if fast is not None:
        return "equal" if fast else "not_equal"
    from skyeval.grading.items import slow_verdict  # sympy is imported on first use only

    return slow_verdict(p, g, config)


def is_equivalent(pred: str, gold: str, config: EquivalenceConfig = _DEFAULT) -> bool:
    """True when the prediction ``pred`` denotes the gold answer ``gold`` (``compare(...) == "equal"``)."""
    return compare(pred, gold, config) == "equal"
