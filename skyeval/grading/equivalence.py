"""Mathematical equivalence of two answers: a pure-Python fast path and a bounded sympy slow path.

``fast_equivalent`` decides the common cases (integers, decimals, simple fractions, percentages, words and
choice letters, tuples and lists of those) exactly with :class:`fractions.Fraction`, in microseconds, and
returns None when only the slow path can decide. ``is_equivalent`` returns the fast verdict when there is one,
else parses both answers with ``latex2sympy2_extended`` (an ANTLR parser that builds sympy objects; model text is
never passed to ``sympify``/``parse_expr``/``eval``) after bounding input length, nesting depth, exponent and
factorial sizes, and compares exactly. The policy is written down in ``docs/grading.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
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


@dataclass(frozen=True)
class EquivalenceConfig:
    """How two answers are compared. Every limit bounds work on hostile input; none loosens equality."""

    rel_tol: float = 0.0
    """Extra relative tolerance for numeric comparison (0: exact, apart from the decimal-rounding rule)."""
    decimal_rounding: bool = True
    """A decimal with >= 2 places equals an exact value that it rounds or truncates (``0.333`` vs ``1/3``)."""
    max_chars: int = 600
    """Longer answers (after extraction) are not parsed by the slow path: unequal unless identical."""
    max_depth: int = 24
    """Deeper brace/bracket nesting is not parsed by the slow path."""
    max_bits: int = 20_000
    """Largest integer power (in bits) or factorial the slow path may evaluate exactly."""


# ---------------------------------------------------------------------------------------------- fast path

_INT_RE = re.compile(r"[+-]?\d+")
_DEC_RE = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_E_NOTATION_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d{1,3}")
_BASE_RE = re.compile(r"(\d[0-9A-Za-z]{0,40})_\{?(\d{1,2})\}?")
_SLASH_RE = re.compile(r"([+-]?\d+)/([+-]?\d+)")
_FRAC_RE = re.compile(r"([+-]?)\\[dt]?frac(?:\{([+-]?\d+)\}|(\d))(?:\{([+-]?\d+)\}|(\d))")
_MIXED_RE = re.compile(r"([+-]?)(\d+)\s*(?:\\frac(?:\{(\d+)\}|(\d))(?:\{(\d+)\}|(\d))|\s(\d+)/(\d+))")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z ]*")
_REPEATING_RE = re.compile(r"([+-]?)(\d*)\.(\d*)\\overline\{(\d+)\}")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap])?\.?(?:m\.?)?", re.IGNORECASE)


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


@dataclass(frozen=True)
class _Num:
    value: Fraction
    percent: bool = False
    decimals: int | None = None  # places, when written as a decimal literal


@dataclass(frozen=True)
class _Word:
    text: str


def _fast_number(s: str) -> _Num | None:
    percent = s.endswith("%")
    if percent:
        s = s[:-1].strip()
    if len(s) > 60:
        return None
    if _INT_RE.fullmatch(s):
        return _Num(Fraction(int(s)), percent)
    if _E_NOTATION_RE.fullmatch(s):  # 1e+20, 2.5E-3 (str() of a float gold)
        return _Num(Fraction(s), percent)
    if _DEC_RE.fullmatch(s):
        places = len(s.split(".")[1])
        return _Num(Fraction(s), percent, places or None)  # "5." is the integer 5
    m = _REPEATING_RE.fullmatch(s)
    if m:
        head, fixed, rep = m.group(2) or "0", m.group(3), m.group(4)
        value = Fraction(int(head)) + Fraction(int(fixed or "0"), 10 ** len(fixed))
        value += Fraction(int(rep), (10 ** len(rep) - 1) * 10 ** len(fixed))
        return _Num(-value if m.group(1) == "-" else value, percent)
    m = _SLASH_RE.fullmatch(s)
    if m and int(m.group(2)) != 0:
        return _Num(Fraction(int(m.group(1)), int(m.group(2))), percent)
    m = _FRAC_RE.fullmatch(s)
    if m:
        num, den = int(m.group(2) or m.group(3)), int(m.group(4) or m.group(5))
        if den == 0:
            return None
        return _Num(Fraction(num, den) * (-1 if m.group(1) == "-" else 1), percent)
    m = _MIXED_RE.fullmatch(s)
    if m:
        whole = int(m.group(2))
        num = int(m.group(3) or m.group(4) or m.group(7))
        den = int(m.group(5) or m.group(6) or m.group(8))
        if den == 0 or num >= den:
            return None
        return _Num((whole + Fraction(num, den)) * (-1 if m.group(1) == "-" else 1), percent)
    return None


def fast_atom(s: str) -> _Num | _Word | None:
    num = _fast_number(s)
    if num is not None:
        return num
    m = _BASE_RE.fullmatch(s)
    if m:  # a numeral in base 2..36: 204_5 == 204_{5} == 54
        base = int(m.group(2))
        try:
            return _Num(Fraction(int(m.group(1), base))) if 2 <= base <= 36 else None
        except ValueError:
            return None
    m = _TIME_RE.fullmatch(s)
    if m and int(m.group(2)) < 60:  # a time of day: 20:34 == 20:34:00 == 8:34 p.m.
        hours = int(m.group(1))
        if m.group(4):
            hours = hours % 12 + (12 if m.group(4).lower() == "p" else 0)
        return _Word(f"time {hours * 60 + int(m.group(2))}:{int(m.group(3) or 0)}")
    if _WORD_RE.fullmatch(s) and s.lower() not in {"e", "i", "pi", "inf", "infinity", "oo"}:
        return _Word(" ".join(s.lower().split()))
    return None


def numbers_equal(
    a: Fraction, b: Fraction, a_places: int | None, b_places: int | None, rounding: bool
) -> bool:
    """Exact equality, or the decimal-rounding rule: a decimal literal with >= 2 places equals an exact value
    that is not itself a decimal of at most that many places and that it rounds or truncates to."""
    if a == b:
        return True
    if not rounding:
        return False
    for dec, places, exact, exact_places in ((a, a_places, b, b_places), (b, b_places, a, a_places)):
        if places is None or places < 2 or exact_places is not None:
            continue
        if (exact * 10**places).denominator == 1:
            continue  # the exact value is itself a short decimal: only exact equality counts
        if decimal_matches(dec, exact, Fraction(1, 10**places)):
            return True
    return False


def decimal_matches(dec: Any, exact: Any, ulp: Any) -> bool:
    """``dec`` is ``exact`` rounded (to nearest) or truncated (toward zero) to a multiple of ``ulp``: 6.28 and
    6.283 match 2*pi, 6.29 does not. Works on Fractions and on sympy numbers alike."""
    if bool(abs(exact - dec) * 2 <= ulp):
        return True
    return bool(dec * exact > 0) and bool(abs(dec) <= abs(exact)) and bool(abs(exact) < abs(dec) + ulp)


def atoms_equal(a: _Num | _Word, b: _Num | _Word, config: EquivalenceConfig) -> bool:
    """Equality of two fast-path atoms (numbers with their percent/decimal marks, words, times)."""
    if isinstance(a, _Word) or isinstance(b, _Word):
        return a == b
    if numbers_equal(a.value, b.value, a.decimals, b.decimals, config.decimal_rounding):
        return True
    # "10%" equals both 10 and 0.1; without a % sign on either side, 10 never equals 0.1
    if a.percent and numbers_equal(a.value / 100, b.value, None, b.decimals, config.decimal_rounding):
        return True
    return b.percent and numbers_equal(a.value, b.value / 100, a.decimals, None, config.decimal_rounding)


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
    num_p, num_g = _fast_number(p), _fast_number(g)
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
    from skyeval.grading.symbolic import slow_equivalent

    return slow_equivalent(p, g, config)
