"""The sympy path of the equivalence check on answer trees (``normalize.Item``): lists, sets, tuples, intervals.

``slow_verdict`` compares a canonical prediction with a canonical gold item by item with ``sympy_compare``,
reusing the fast path's verdict on atoms it can read (numbers, exact arithmetic, words, times); it answers
``equal``, ``not_equal`` or ``too_large`` (a value beyond the size bound whose magnitude does not settle the
question). Imported lazily (it imports sympy).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import sympy
from sympy.core.relational import Relational

from skyeval.grading.exact import TooLarge
from skyeval.grading.labels import label_free
from skyeval.grading.normalize import LIST_KINDS, Item, parse_items, resolve_choices
from skyeval.grading.numbers import (
    DEC_RE,
    Atom,
    EquivalenceConfig,
    Num,
    Verdict,
    approximates,
    atoms_equal,
    decimal_literals,
    fast_atom,
    fast_number,
)
from skyeval.grading.sympy_compare import Sides, as_set, constant_value, sets_equal, sym_equal
from skyeval.grading.sympy_parse import to_sympy

logger = logging.getLogger(__name__)

_DECIMAL_COMMA_RE = re.compile(r"[+-]?\d+,\d+")

# sympy raises these when a comparison is undecidable (ordering a complex number, a relational with a
# non-numeric side, a polynomial operation on a non-polynomial): the answers are then not shown equal.
_SYMPY_UNDECIDED = (
    TypeError,
    ValueError,
    ArithmeticError,
    NotImplementedError,
    RecursionError,
    sympy.SympifyError,
    sympy.PolynomialError,
)


def _sides(config: EquivalenceConfig, pred: str, gold: str) -> Sides:
    return Sides(config, decimal_literals(pred), decimal_literals(gold))


def _fast(text: str, config: EquivalenceConfig) -> Atom | TooLarge | None:
    try:
        return fast_atom(label_free(text), config)
    except TooLarge as err:
        return err


def _atom_equal(p: str, g: str, config: EquivalenceConfig) -> bool:
    """A predicted and a gold atom: the fast path's verdict when both are plain, else sympy's."""
    if p == g:
        return True
    fp, fg = _fast(p, config), _fast(g, config)
    if fp is not None and fg is not None and not isinstance(fp, TooLarge) and not isinstance(fg, TooLarge):
        return atoms_equal(fp, fg, config)
    sp, sg = to_sympy(p, config), to_sympy(g, config)
    if sp is None or sg is None:
        if isinstance(fp, TooLarge) or isinstance(fg, TooLarge):
            raise TooLarge("a value beyond the size bound that the parser cannot read")
        return False
    if sym_equal(sp, sg, _sides(config, p, g)):
        return True
    # a decimal literal against an irrational constant: the approximation policy
    if isinstance(fp, Num) and fp.places is not None and (exact := constant_value(sg)) is not None:
        return approximates(fp.value, fp.places, fp.digits, exact, "pred", config)
    if isinstance(fg, Num) and fg.places is not None and (exact := constant_value(sp)) is not None:
        return approximates(fg.value, fg.places, fg.digits, exact, "gold", config)
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
    """A parsed item as one sympy object (a Tuple for a sequence, a FiniteSet for a set or list), or None."""
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


def _seq_vs_relation(seq: Item, other: Item, sides: Sides) -> bool | None:
    """``(a, b)``/``[a, b)`` against an inequality or a set (``x < 3``, ``x \\in [0, 1)``), or None."""
    if seq.kind != "seq" or other.kind != "atom":
        return None
    parsed = to_sympy(other.text, sides.config)
    if not isinstance(parsed, (sympy.Set, Relational, sympy.And, sympy.Or)):
        return None
    return sym_equal(_interval(seq, sides.config), parsed, sides)


def _list_vs_atom(many: Item, one: Item, sides: Sides, flipped: bool) -> bool | None:
    """A list against one atom: the same answer boxed twice (``6, 6`` is ``6``), or a union of intervals;
    None when neither reading applies (the answers are then compared as sympy objects)."""
    if all(items_equal(one, i, sides.swap()) if flipped else items_equal(i, one, sides) for i in many.items):
        return True
    if many.kind != "list":
        return None
    union = _union_of(many, sides.config)
    other = to_sympy(one.text, sides.config)
    other_set = other if isinstance(other, sympy.Set) else as_set(other)
    if union is None or other_set is None:
        return None
    return sets_equal(other_set, union, sides.swap()) if flipped else sets_equal(union, other_set, sides)


def items_equal(a: Item, b: Item, sides: Sides) -> bool:
    """A predicted item ``a`` against a gold item ``b`` (see the module docstring)."""
    config = sides.config
    if a.kind == "atom" and b.kind == "atom" and "=" in a.text and "=" in b.text:
        if _atom_equal(a.text, b.text, config):
            return True
    a, b = _reparse(a), _reparse(b)
    verdict = _seq_vs_relation(a, b, sides)
    if verdict is None:
        verdict = _seq_vs_relation(b, a, sides.swap())
    if verdict is not None:
        return verdict
    if a.kind == "atom" and b.kind == "atom":
        return _atom_equal(a.text, b.text, config)
    if a.kind in LIST_KINDS and b.kind in LIST_KINDS:
        return all(any(items_equal(x, y, sides) for y in b.items) for x in a.items) and all(
            any(items_equal(x, y, sides) for x in a.items) for y in b.items
        )
    if a.kind == "seq" and b.kind == "seq":
        # brackets matter for intervals ("[1,2)" vs "[1,2]"); longer vectors may use either ("[1,2,3]", "(1,2,3)")
        maybe_interval = len(a.items) == 2 or len(b.items) == 2
        if maybe_interval and (a.open, a.close) != (b.open, b.close):
            return False
        return len(a.items) == len(b.items) and all(
            items_equal(x, y, sides) for x, y in zip(a.items, b.items, strict=True)
        )
    if a.kind in LIST_KINDS and b.kind == "atom":
        verdict = _list_vs_atom(a, b, sides, flipped=False)
    elif b.kind in LIST_KINDS and a.kind == "atom":
        verdict = _list_vs_atom(b, a, sides, flipped=True)
    if verdict is not None:
        return verdict
    if {a.kind, b.kind} <= {"seq", "list", "set"}:
        # "(1,3)" vs "{1,3}": compared in order (a tuple written as a set keeps its order); "[1,2]" is an interval
        seq = a if a.kind == "seq" else b
        if (seq.open, seq.close) != ("(", ")"):
            return False
        return len(a.items) == len(b.items) and all(
            items_equal(x, y, sides) for x, y in zip(a.items, b.items, strict=True)
        )
    return sym_equal(_item_to_sympy(a, config), _item_to_sympy(b, config), sides)


def _decimal_comma(pred: str, gold: str) -> bool:
    """A predicted ``1000,99`` for the gold ``1000.99``: the same decimal literal with a comma (a locale's
    notation). Only in the prediction, and only with a non-zero fractional part: a gold ``-3,0`` is a list."""
    if (
        not _DECIMAL_COMMA_RE.fullmatch(pred)
        or not DEC_RE.fullmatch(gold)
        or not pred.split(",")[1].strip("0")
    ):
        return False
    p, g = fast_number(pred.replace(",", ".")), fast_number(gold)
    return isinstance(p, Num) and isinstance(g, Num) and (p.value, p.places) == (g.value, g.places)


def slow_verdict(pred: str, gold: str, config: EquivalenceConfig) -> Verdict:
    """The sympy verdict on a canonical prediction and gold (see ``equivalence.compare``)."""
    choices = resolve_choices(pred, gold)
    if isinstance(choices, bool):
        return "equal" if choices else "not_equal"
    pred, gold = choices
    if _decimal_comma(pred, gold):
        return "equal"
    if len(pred) > config.max_chars or len(gold) > config.max_chars:
        return "not_equal"
    a, b = parse_items(pred), parse_items(gold)
    if a is None or b is None:
        return "not_equal"
    try:
        return "equal" if items_equal(a, b, _sides(config, pred, gold)) else "not_equal"
    except TooLarge:
        return "too_large"
    except _SYMPY_UNDECIDED:
        logger.debug("undecided: %.120r vs %.120r", pred, gold, exc_info=True)
        return "not_equal"
