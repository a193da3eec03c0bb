"""The sympy path of ``is_equivalent`` on answer trees (``normalize.Item``): lists, sets, tuples, intervals, atoms.

``slow_equivalent`` compares two canonical answers item by item with ``sympy_compare``; the fast path's verdict
on plain numbers, words and times is reused for atoms. Imported lazily (it imports sympy).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import sympy
from sympy.core.relational import Relational

from skyeval.grading.normalize import LIST_KINDS, Item, label_free, parse_items, resolve_choices
from skyeval.grading.numbers import EquivalenceConfig, atoms_equal, fast_atom
from skyeval.grading.sympy_compare import as_set, decimal_rule, sets_equal, sym_equal
from skyeval.grading.sympy_parse import to_sympy

logger = logging.getLogger(__name__)

_DECIMAL_COMMA_RE = re.compile(r"[+-]?\d+,\d+")

_SYMPY_UNDECIDED = (
    TypeError,
    ValueError,
    ArithmeticError,
    NotImplementedError,
    RecursionError,
    sympy.SympifyError,
    sympy.PolynomialError,
)


def _atom_equal(a: str, b: str, config: EquivalenceConfig) -> bool:
    if a == b:
        return True
    fa, fb = fast_atom(label_free(a)), fast_atom(label_free(b))
    if fa is not None and fb is not None:
        return atoms_equal(fa, fb, config)  # the fast path's verdict on plain numbers, words and times
    sa, sb = to_sympy(a, config), to_sympy(b, config)
    if sa is not None and sb is not None and sym_equal(sa, sb, config):
        return True
    if decimal_rule(a, sb, config) or decimal_rule(b, sa, config):
        return True
    return False


def _reparse(item: Item) -> Item:
    """An atom whose label or computation chain hides a structure (``(p,q)=(3,2)``) parsed again."""
    if item.kind != "atom":
        return item
    text = label_free(item.text)
    if text == item.text:
        return item
    again = parse_items(text)
    return again if again is not None else Item("atom", text=text)


def _item_to_sympy(item: Item, config: EquivalenceConfig) -> Any:
    if item.kind == "atom":
        return to_sympy(item.text, config)
    children = [_item_to_sympy(x, config) for x in item.items]
    if any(c is None for c in children):
        return None
    if item.kind == "seq":
        return sympy.Tuple(*children)
    return sympy.FiniteSet(*children) if all(isinstance(c, sympy.Basic) for c in children) else None


def _interval(item: Item, config: EquivalenceConfig) -> Any:
    """``(a, b)``/``[a, b)``… as a sympy Interval (for comparison with an inequality or a set)."""
    if item.kind != "seq" or len(item.items) != 2 or item.open not in "([" or item.close not in ")]":
        return None
    ends = [_item_to_sympy(x, config) for x in item.items]
    if not all(isinstance(e, sympy.Expr) for e in ends):
        return None
    return sympy.Interval(ends[0], ends[1], item.open == "(", item.close == ")")


def _union_of(item: Item, config: EquivalenceConfig) -> Any:
    """A list of inequalities/intervals ("-5 <= x <= 1, 3 <= x <= 9") as the union of their sets, or None."""
    sets = []
    for x in item.items:
        s = _interval(x, config) if x.kind == "seq" else None
        if s is None and x.kind == "atom":
            parsed = to_sympy(label_free(x.text), config)
            s = parsed if isinstance(parsed, sympy.Interval) else as_set(parsed)
        if s is None:
            return None
        sets.append(s)
    return sympy.Union(*sets)


def items_equal(a: Item, b: Item, config: EquivalenceConfig) -> bool:
    if a.kind == "atom" and b.kind == "atom" and "=" in a.text and "=" in b.text:
        if _atom_equal(a.text, b.text, config):
            return True
    a, b = _reparse(a), _reparse(b)
    for x, y in ((a, b), (b, a)):
        if x.kind == "seq" and y.kind == "atom":
            other = to_sympy(y.text, config)
            if isinstance(other, (sympy.Set, Relational, sympy.And, sympy.Or)):
                return sym_equal(_interval(x, config), other, config)
    if a.kind == "atom" and b.kind == "atom":
        return _atom_equal(a.text, b.text, config)
    if a.kind in LIST_KINDS and b.kind in LIST_KINDS:
        return all(any(items_equal(x, y, config) for y in b.items) for x in a.items) and all(
            any(items_equal(x, y, config) for x in a.items) for y in b.items
        )
    if a.kind == "seq" and b.kind == "seq":
        # brackets matter for intervals ("[1,2)" vs "[1,2]"); longer vectors may use either ("[1,2,3]", "(1,2,3)")
        maybe_interval = len(a.items) == 2 or len(b.items) == 2
        if maybe_interval and (a.open, a.close) != (b.open, b.close):
            return False
        return len(a.items) == len(b.items) and all(
            items_equal(x, y, config) for x, y in zip(a.items, b.items, strict=True)
        )
    for x, y in ((a, b), (b, a)):
        if x.kind in LIST_KINDS and y.kind == "atom" and all(items_equal(i, y, config) for i in x.items):
            return True  # "6, 6" (the same answer boxed twice) is the set {6}
        if x.kind == "list" and y.kind == "atom":
            union = _union_of(x, config)
            other = to_sympy(y.text, config)
            other_set = other if isinstance(other, sympy.Set) else as_set(other)
            if union is not None and other_set is not None:
                return sets_equal(union, other_set, config)
    if {a.kind, b.kind} <= {"seq", "list", "set"}:
        # "(1,3)" vs "{1,3}": compared in order (a tuple written as a set keeps its order); "[1,2]" is an interval
        seq = a if a.kind == "seq" else b
        if (seq.open, seq.close) != ("(", ")"):
            return False
        return len(a.items) == len(b.items) and all(
            items_equal(x, y, config) for x, y in zip(a.items, b.items, strict=True)
        )
    return sym_equal(_item_to_sympy(a, config), _item_to_sympy(b, config), config)


def slow_equivalent(pred: str, gold: str, config: EquivalenceConfig) -> bool:
    """The sympy verdict on two canonical answers (see ``is_equivalent``)."""
    choices = resolve_choices(pred, gold)
    if isinstance(choices, bool):
        return choices
    pred, gold = choices
    if len(pred) > config.max_chars or len(gold) > config.max_chars:
        return False
    a, b = parse_items(pred), parse_items(gold)
    if a is None or b is None:
        return False
    try:
        if items_equal(a, b, config):
            return True
        # "1,22" / "1000,99": a decimal comma, tried only after the list reading failed
        for x, y in ((pred, gold), (gold, pred)):
            if _DECIMAL_COMMA_RE.fullmatch(x) and not _DECIMAL_COMMA_RE.fullmatch(y):
                return _atom_equal(x.replace(",", "."), y, config)
    # sympy raises these when a comparison is undecidable (ordering a complex number, a relational with a
    # non-numeric side, a polynomial operation on a non-polynomial): the answers are then not shown equal.
    except _SYMPY_UNDECIDED:
        logger.debug("undecided: %.120r vs %.120r", pred, gold, exc_info=True)
        return False
    return False
