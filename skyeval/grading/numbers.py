"""Number primitives and the comparison policy: the leaf of the grader (pure Python, no sympy).

``EquivalenceConfig`` says how answers are compared; ``fast_atom`` reads a plain number, word or time of day;
``numbers_equal``/``atoms_equal`` apply the exactness and decimal-approximation rules shared by the fast path
(``equivalence``) and the sympy path (``sympy_compare``, ``items``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any


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


_INT_RE = re.compile(r"[+-]?\d+")
DEC_RE = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_E_NOTATION_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)[eE][+-]?\d{1,3}")
_BASE_RE = re.compile(r"(\d[0-9A-Za-z]{0,40})_\{?(\d{1,2})\}?")
_SLASH_RE = re.compile(r"([+-]?\d+)/([+-]?\d+)")
_FRAC_RE = re.compile(r"([+-]?)\\[dt]?frac(?:\{([+-]?\d+)\}|(\d))(?:\{([+-]?\d+)\}|(\d))")
_MIXED_RE = re.compile(r"([+-]?)(\d+)\s*(?:\\frac(?:\{(\d+)\}|(\d))(?:\{(\d+)\}|(\d))|\s(\d+)/(\d+))")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z ]*")
_REPEATING_RE = re.compile(r"([+-]?)(\d*)\.(\d*)\\overline\{(\d+)\}")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap])?\.?(?:m\.?)?", re.IGNORECASE)


@dataclass(frozen=True)
class Num:
    value: Fraction
    percent: bool = False
    decimals: int | None = None  # places, when written as a decimal literal


@dataclass(frozen=True)
class Word:
    text: str


def fast_number(s: str) -> Num | None:
    percent = s.endswith("%")
    if percent:
        s = s[:-1].strip()
    if len(s) > 60:
        return None
    if _INT_RE.fullmatch(s):
        return Num(Fraction(int(s)), percent)
    if _E_NOTATION_RE.fullmatch(s):  # 1e+20, 2.5E-3 (str() of a float gold)
        return Num(Fraction(s), percent)
    if DEC_RE.fullmatch(s):
        places = len(s.split(".")[1])
        return Num(Fraction(s), percent, places or None)  # "5." is the integer 5
    m = _REPEATING_RE.fullmatch(s)
    if m:
        head, fixed, rep = m.group(2) or "0", m.group(3), m.group(4)
        value = Fraction(int(head)) + Fraction(int(fixed or "0"), 10 ** len(fixed))
        value += Fraction(int(rep), (10 ** len(rep) - 1) * 10 ** len(fixed))
        return Num(-value if m.group(1) == "-" else value, percent)
    m = _SLASH_RE.fullmatch(s)
    if m and int(m.group(2)) != 0:
        return Num(Fraction(int(m.group(1)), int(m.group(2))), percent)
    m = _FRAC_RE.fullmatch(s)
    if m:
        num, den = int(m.group(2) or m.group(3)), int(m.group(4) or m.group(5))
        if den == 0:
            return None
        return Num(Fraction(num, den) * (-1 if m.group(1) == "-" else 1), percent)
    m = _MIXED_RE.fullmatch(s)
    if m:
        whole = int(m.group(2))
        num = int(m.group(3) or m.group(4) or m.group(7))
        den = int(m.group(5) or m.group(6) or m.group(8))
        if den == 0 or num >= den:
            return None
        return Num((whole + Fraction(num, den)) * (-1 if m.group(1) == "-" else 1), percent)
    return None


def fast_atom(s: str) -> Num | Word | None:
    num = fast_number(s)
    if num is not None:
        return num
    m = _BASE_RE.fullmatch(s)
    if m:  # a numeral in base 2..36: 204_5 == 204_{5} == 54
        base = int(m.group(2))
        try:
            return Num(Fraction(int(m.group(1), base))) if 2 <= base <= 36 else None
        except ValueError:
            return None
    m = _TIME_RE.fullmatch(s)
    if m and int(m.group(2)) < 60:  # a time of day: 20:34 == 20:34:00 == 8:34 p.m.
        hours = int(m.group(1))
        if m.group(4):
            hours = hours % 12 + (12 if m.group(4).lower() == "p" else 0)
        return Word(f"time {hours * 60 + int(m.group(2))}:{int(m.group(3) or 0)}")
    if _WORD_RE.fullmatch(s) and s.lower() not in {"e", "i", "pi", "inf", "infinity", "oo"}:
        return Word(" ".join(s.lower().split()))
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


def atoms_equal(a: Num | Word, b: Num | Word, config: EquivalenceConfig) -> bool:
    """Equality of two fast-path atoms (numbers with their percent/decimal marks, words, times)."""
    if isinstance(a, Word) or isinstance(b, Word):
        return a == b
    if numbers_equal(a.value, b.value, a.decimals, b.decimals, config.decimal_rounding):
        return True
    # "10%" equals both 10 and 0.1; without a % sign on either side, 10 never equals 0.1
    if a.percent and numbers_equal(a.value / 100, b.value, None, b.decimals, config.decimal_rounding):
        return True
    return b.percent and numbers_equal(a.value, b.value / 100, a.decimals, None, config.decimal_rounding)
