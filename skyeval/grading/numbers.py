"""Number primitives and the comparison policy: the leaf of the grader's comparison layers (no sympy).

``EquivalenceConfig`` says how answers are compared and ``policy(name)`` returns a named preset of it;
``fast_atom`` reads a plain number, base numeral, word or time of day; ``atoms_equal`` and
``approximates`` apply the exactness and decimal-approximation rules (docs/grading.md, "Policy") shared by
the fast path (``equivalence``) and the sympy path (``sympy_compare``, ``items``). Comparisons are directed:
the first answer is the prediction, the second the gold, because a decimal gold and a decimal prediction
mean different things (a gold is a rounded value; a prediction must carry enough digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from skyeval.errors import SkyevalError
from skyeval.grading.exact import TooLarge, evaluate, to_int


@dataclass(frozen=True)
class EquivalenceConfig:
    """How two answers are compared. Every limit bounds work on hostile input; none loosens equality.

    Named presets: ``policy("default")`` (these defaults) and ``policy("qwen-harness")`` (the numeric leniency
    of the Qwen2.5-Math evaluation harness, for users who must reproduce published numbers).
    """

    rel_tol: float = 0.0
    """Relative tolerance for every numeric comparison (0: exact, apart from the approximation rules)."""
    decimal_rounding: bool = True
    """The approximation rules: a decimal gold with >= 2 significant digits equals an exact prediction that
    rounds to it; a decimal prediction equals an exact gold when it is that gold rounded to at least
    ``approx_digits`` significant digits. Off: decimals equal only their exact value."""
    approx_digits: int = 6
    """Significant digits a decimal prediction of an exact gold needs (``0.333333`` = 1/3; ``0.333`` is not)."""
    percent_scaling: bool = False
    """A number also equals the gold times 100 or divided by 100 (the harness's ``include_percentage``)."""
    base_values: bool = False
    """A base-subscripted numeral (``1101_2``) also equals its decimal value (``13``), not only its digits."""
    max_chars: int = 600
    """Longer answers (after extraction) are not parsed by the slow path: unequal unless identical."""
    max_depth: int = 24
    """Deeper brace/bracket nesting is not parsed by the slow path (the LaTeX parser is exponential in it)."""
    max_bits: int = 20_000
    """Largest exact value (bits of numerator plus denominator) computed; beyond it the verdict is
    ``not_equal`` when the magnitudes differ and ``too_large`` when they cannot be told apart."""


Verdict = Literal["equal", "not_equal", "too_large"]
"""The outcome of comparing two answers; ``too_large``: not shown equal because a value is beyond the size
bound and the magnitudes do not settle it (it counts as not equal)."""


_PRESETS = {
    "default": EquivalenceConfig(),
    # evaluation/grader.py of QwenLM/Qwen2.5-Math: math_equal's numeric_equal (math.isclose, rel_tol=1e-4) and
    # include_percentage=True; its string manipulations (bracket stripping, choice cleaning) are not emulated.
    "qwen-harness": EquivalenceConfig(rel_tol=1e-4, percent_scaling=True),
}
POLICIES: tuple[str, ...] = tuple(_PRESETS)
"""The names of the policy presets ``policy`` accepts."""


def policy(name: str) -> EquivalenceConfig:
    """The named policy preset (``default``, ``qwen-harness``); an unknown name is a one-line SkyevalError."""
    try:
        return _PRESETS[name]
    except KeyError:
        raise SkyevalError(f"unknown grading policy {name!r}; choose one of: {', '.join(POLICIES)}") from None


def resolve_policy(value: str | EquivalenceConfig) -> EquivalenceConfig:
    """A policy given by name or as a config, as a config (``grade(..., policy=...)`` accepts both)."""
    return value if isinstance(value, EquivalenceConfig) else policy(value)


def policy_name(config: EquivalenceConfig) -> str:
    """The preset name of ``config`` (for records and reports), or ``custom``."""
    return next((name for name, preset in _PRESETS.items() if preset == config), "custom")


_INT_RE = re.compile(r"[+-]?\d+")
DEC_RE = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
"""A decimal literal (``0.25``, ``.5``, ``5.``)."""
_SCI_RE = re.compile(
    r"([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:[eE]|\s*(?:\\times|\\cdot|\*)\s*10\s*\^\s*)"
    r"(?:\{\s*([+-]?\d{1,4})\s*\}|([+-]?\d{1,4}))"
)
_BASE_RE = re.compile(r"(\d[0-9A-Za-z]{0,63})_\{?(\d{1,2})\}?")
_SLASH_RE = re.compile(r"([+-]?\d+)/([+-]?\d+)")
_FRAC_RE = re.compile(r"([+-]?)\\[dt]?frac(?:\{([+-]?\d+)\}|(\d))(?:\{([+-]?\d+)\}|(\d))")
_MIXED_RE = re.compile(r"([+-]?)(\d+)\s*(?:\\frac(?:\{(\d+)\}|(\d))(?:\{(\d+)\}|(\d))|\s(\d+)/(\d+))")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z ]*")
_REPEATING_RE = re.compile(r"([+-]?)(\d*)\.(\d*)\\overline\{(\d+)\}")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap])?\.?(?:m\.?)?", re.IGNORECASE)
_NOT_WORDS = frozenset({"e", "i", "pi", "inf", "infinity", "oo"})
_BITS_PER_DIGIT = 3.33


@dataclass(frozen=True)
class Num:
    """An exact number, or a decimal literal: its value, the decimal places of its last digit (``places``,
    negative for ``3.1e8``) and its significant digits. ``places`` is None for an exact value."""

    value: Fraction
    percent: bool = False
    places: int | None = None
    digits: int = 0


@dataclass(frozen=True)
class BaseNum:
    """A numeral with a base subscript (``1101_2``): its digits (lower case, no leading zeros) and base."""

    digits: str
    base: int
    value: int


@dataclass(frozen=True)
class Word:
    """A word (``evelyn``), a time of day, or an integer literal too long to convert: equal only to itself."""

    text: str


Atom = Num | BaseNum | Word


def _decimal(sign: str, whole: str, frac: str, exponent: int, percent: bool) -> Num:
    """The decimal literal ``whole.frac × 10^exponent``: its last digit sits at ``len(frac) - exponent`` places."""
    value = Fraction(to_int((whole or "0") + frac), 10 ** len(frac)) * Fraction(10) ** exponent
    digits = len((whole + frac).lstrip("0")) or 1
    return Num(-value if sign == "-" else value, percent, len(frac) - exponent, digits)


def fast_number(s: str, max_bits: int = EquivalenceConfig.max_bits) -> Num | Word | None:
    """A number written plainly: integer, decimal, scientific notation, fraction, mixed number, repeating
    decimal, each optionally with ``%``. An integer literal beyond ``max_bits`` is a ``Word`` of its digits."""
    percent = s.endswith("%")
    if percent:
        s = s[:-1].strip()
    if _INT_RE.fullmatch(s):
        sign, digits = ("-", s[1:]) if s[0] == "-" else ("", s.lstrip("+"))
        digits = digits.lstrip("0") or "0"
        if len(digits) * _BITS_PER_DIGIT > max_bits:
            return Word(
                f"integer {sign}{digits}{'%' if percent else ''}"
            )  # compared as written, never converted
        return Num(Fraction(to_int(digits)) * (-1 if sign else 1), percent)
    if len(s) * _BITS_PER_DIGIT > max_bits:
        return None
    if DEC_RE.fullmatch(s):
        sign = "-" if s[0] == "-" else ""
        whole, _, frac = s.lstrip("+-").partition(".")
        if not frac.strip("0"):  # "5." and "27.0" (a float's str) are the integer: exact, not a rounded value
            return Num(Fraction(to_int(whole or "0")) * (-1 if sign else 1), percent)
        return _decimal(sign, whole, frac, 0, percent)
    m = _SCI_RE.fullmatch(s)
    if m:  # 1e+20 (str() of a float gold), 2.5E-3, 3.1 \times 10^{8}
        exponent = int(m.group(3) or m.group(4))
        if abs(exponent) * _BITS_PER_DIGIT > max_bits:
            return None
        whole, _, frac = m.group(2).partition(".")
        return _decimal(m.group(1), whole, frac, exponent, percent)
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
        integer = int(m.group(2))
        numerator = int(m.group(3) or m.group(4) or m.group(7))
        denominator = int(m.group(5) or m.group(6) or m.group(8))
        if denominator == 0 or numerator >= denominator:
            return None
        return Num((integer + Fraction(numerator, denominator)) * (-1 if m.group(1) == "-" else 1), percent)
    return None


def fast_atom(s: str, config: EquivalenceConfig) -> Atom | None:
    """A number, base numeral, time of day, word or exact arithmetic value (``7^{150}+1``); None otherwise.

    Raises :class:`~skyeval.grading.exact.TooLarge` when the exact value would exceed ``config.max_bits``."""
    num = fast_number(s, config.max_bits)
    if num is not None:
        return num
    m = _BASE_RE.fullmatch(s)
    if m:  # a numeral in base 2..36: 204_5 == 204_{5}; 54_{10} is 54
        base = int(m.group(2))
        digits = m.group(1).lower().lstrip("0") or "0"
        if not 2 <= base <= 36:
            return None
        try:
            numeral = int(digits, base)
        except ValueError:
            return None
        return BaseNum(digits, base, numeral)
    m = _TIME_RE.fullmatch(s)
    if m and int(m.group(2)) < 60:  # a time of day: 20:34 == 20:34:00 == 8:34 p.m.
        hours = int(m.group(1))
        if m.group(4):
            hours = hours % 12 + (12 if m.group(4).lower() == "p" else 0)
        return Word(f"time {hours * 60 + int(m.group(2))}:{int(m.group(3) or 0)}")
    if _WORD_RE.fullmatch(s) and s.lower() not in _NOT_WORDS:
        return Word(" ".join(s.lower().split()))
    exact = evaluate(s, config.max_bits)
    return Num(exact) if exact is not None else None


_DECIMAL_LITERAL_RE = re.compile(
    r"(?<![\w.])(\d*\.\d+|\d+\.\d*)(?:\s*(?:[eE]|\\times\s*10\s*\^)\s*\{?\s*([+-]?\d{1,4})\s*\}?)?(?![\w.])"
)
Decimals = tuple[Num, ...]
"""The decimal literals written in one answer (their values with the places and digits they were written with)."""


def decimal_literals(text: str) -> Decimals:
    """Every decimal literal written in ``text`` (``0.50``, ``1.732050``, ``3.1e8``, ``2.5 \\times 10^{-3}``), so
    that a value parsed by sympy can be matched to the precision it was written with (a trailing 0 counts)."""
    found = []
    for m in _DECIMAL_LITERAL_RE.finditer(text):
        whole, _, frac = m.group(1).partition(".")
        if frac.strip("0") or m.group(2):  # "27.0" is an exact integer (see fast_number)
            found.append(_decimal("", whole, frac, int(m.group(2) or 0), False))
    return tuple(found)


def _ulp(places: int) -> Fraction:
    return Fraction(1, 10**places) if places >= 0 else Fraction(10 ** (-places))


def approximates(
    dec: Fraction, places: int, digits: int, exact: Any, role: str, config: EquivalenceConfig
) -> bool:
    """The approximation policy: the decimal literal ``dec`` (its last digit at ``places``, ``digits``
    significant digits) stands for the exact value ``exact`` (a Fraction or a real sympy number).

    ``role`` says which side the decimal is. A decimal gold (``role="gold"``) is a rounded value: it needs >= 2
    significant digits and the prediction (exact, or a decimal with more places) must round to it. A decimal prediction (``role="pred"``) needs
    ``config.approx_digits`` significant digits and must be the exact gold rounded, not truncated. Rounding is
    strict (a tie at half an ulp does not count), and an exact value that is itself a decimal of at most
    ``places`` places is matched only exactly (``0.26`` is not ``1/4``, ``419.99`` is not ``420``).
    """
    if not config.decimal_rounding or digits < (2 if role == "gold" else config.approx_digits):
        return False
    ulp = _ulp(places)
    if isinstance(exact, Fraction) and (exact / ulp).denominator == 1:
        return False
    return bool(abs(exact - dec) * 2 < ulp)


def _num_equal(p: Num, g: Num, config: EquivalenceConfig) -> bool:
    if p.value == g.value:
        return True
    if config.rel_tol and abs(p.value - g.value) <= Fraction(config.rel_tol) * max(
        abs(p.value), abs(g.value)
    ):
        return True
    if p.places is not None and g.places is None:
        return approximates(p.value, p.places, p.digits, g.value, "pred", config)
    if g.places is not None and (p.places is None or p.places > g.places):
        # a decimal gold is a rounded value: an exact prediction, or a more precise decimal, that rounds to it
        return approximates(g.value, g.places, g.digits, p.value, "gold", config)
    return False  # two exact values, or decimals as precise as each other: only equal values are equal


def _scaled(n: Num, factor: Fraction, shift: int) -> Num:
    return Num(n.value * factor, False, None if n.places is None else n.places + shift, n.digits)


def _base_equal(p: BaseNum, g: Atom, config: EquivalenceConfig) -> bool:
    """``1101_2`` equals ``1101_2``/``1101_{2}`` and the bare digits ``1101``; its decimal value ``13`` only
    with ``config.base_values``. A numeral written in base 10 (``54_{10}``) is its value."""
    if isinstance(g, BaseNum):
        return (p.digits, p.base) == (g.digits, g.base) or (config.base_values and p.value == g.value)
    if isinstance(g, Num) and g.places is None and not g.percent and g.value.denominator == 1:
        if p.base == 10 or config.base_values:
            return g.value == p.value  # 54_{10} is the number 54
        return abs(g.value.numerator) < 10**64 and str(g.value.numerator) == p.digits
    return False


def atoms_equal(p: Atom, g: Atom, config: EquivalenceConfig) -> bool:
    """Equality of a predicted and a gold atom (numbers with their percent/decimal marks, words, times)."""
    if isinstance(p, BaseNum):
        return _base_equal(p, g, config)
    if isinstance(g, BaseNum):
        return _base_equal(g, p, config)
    if isinstance(p, Word) or isinstance(g, Word):
        return p == g
    if _num_equal(p, g, config):
        return True
    # "10%" equals both 10 and 0.1; without a % sign on either side, 10 never equals 0.1
    if p.percent and _num_equal(_scaled(p, Fraction(1, 100), 2), g, config):
        return True
    if g.percent and _num_equal(p, _scaled(g, Fraction(1, 100), 2), config):
        return True
    if config.percent_scaling:  # the harness's include_percentage: the gold, or 100x it, or 1/100 of it
        return any(
            _num_equal(p, _scaled(g, f, s), config) for f, s in ((Fraction(100), -2), (Fraction(1, 100), 2))
        )
    return False


__all__ = [
    "DEC_RE",
    "POLICIES",
    "Atom",
    "BaseNum",
    "Decimals",
    "EquivalenceConfig",
    "Num",
    "TooLarge",
    "Verdict",
    "Word",
    "approximates",
    "atoms_equal",
    "decimal_literals",
    "fast_atom",
    "fast_number",
    "policy",
    "policy_name",
    "resolve_policy",
]
