"""Bounded parsing of one answer into a sympy object, through latex2sympy2_extended's ANTLR grammar only.

Model text is never handed to ``sympify``, ``parse_expr``, ``eval`` or ``exec``. Before anything is evaluated the
tree is checked against size limits (powers, factorials, node count), so ``10^{10^{10}}`` or ``9!!!!!!`` is
rejected in microseconds instead of being computed. Imported lazily (it imports sympy).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Any

import sympy
from latex2sympy2_extended import latex2sympy
from latex2sympy2_extended.latex2sympy2 import ConversionConfig
from latex2sympy2_extended.math_normalization import NormalizationConfig

from skyeval.grading.numbers import EquivalenceConfig

logger = logging.getLogger(__name__)

_MAX_NODES = 400
_MAX_PAREN_DEPTH = 10
"""Deeper parenthesis nesting is not parsed: the grammar's prediction costs ~0.1 s per level (1-3 s at 24 levels, on a loaded core)."""
# Built once, outside any ``try``: a failure to build our own parser configuration must surface, never be
# mistaken for "this answer is not a formula".
_NORMALIZATION = NormalizationConfig(
    basic_latex=True, units=False, malformed_operators=True, nits=False, boxed="none", equations=False
)
_CONVERSION = ConversionConfig(lowercase_symbols=False)


class Unsafe(Exception):
    """The expression has too many nodes to compare at a bounded cost."""


class Huge(Exception):
    """An exact value in the expression would exceed ``config.max_bits`` (a power, factorial or binomial)."""


@dataclass(frozen=True)
class Oversized:
    """A parsed answer holding a value beyond the size bound: compared by magnitude only, never evaluated."""

    expr: sympy.Basic


def _approx(expr: sympy.Basic, config: EquivalenceConfig) -> float | None:
    """A float estimate of a numeric subtree already checked safe, or None when it is not a plain number."""
    if not isinstance(expr, sympy.Expr) or expr.free_symbols:
        return None
    check_safe(expr, config)
    value = expr.evalf(15)
    if value.is_real and value.is_finite:
        return float(value)
    return None


def check_safe(expr: sympy.Basic, config: EquivalenceConfig, budget: list[int] | None = None) -> None:
    """Raise Unsafe (too many nodes) or Huge (a value over the size bound) before anything is evaluated."""
    budget = budget if budget is not None else [_MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise Unsafe("too many nodes")
    if isinstance(expr, sympy.Pow):
        base, exp = expr.args
        check_safe(base, config, budget)
        check_safe(exp, config, budget)
        e = _approx(exp, config)
        if e is not None:
            b = _approx(base, config)
            size = abs(e) * math.log2(abs(b) + 2) if b is not None else abs(e)
            if size > config.max_bits and b not in (0.0, 1.0, -1.0):
                raise Huge("power")
        return
    if isinstance(expr, sympy.exp):
        check_safe(expr.args[0], config, budget)
        e = _approx(expr.args[0], config)
        if e is not None and abs(e) > config.max_bits:
            raise Huge("exponential")
        return
    if isinstance(expr, (sympy.factorial, sympy.factorial2, sympy.binomial, sympy.gamma, sympy.subfactorial)):
        for arg in expr.args:
            check_safe(arg, config, budget)
            n = _approx(arg, config)
            if n is not None and abs(n) * math.log2(abs(n) + 2) > config.max_bits:
                raise Huge("factorial")
        return
    for arg in expr.args:
        check_safe(arg, config, budget)


def _floats_to_rationals(expr: Any) -> Any:
    if isinstance(expr, sympy.MatrixBase):
        return expr.applyfunc(_floats_to_rationals)
    if isinstance(expr, sympy.Basic):
        floats = expr.atoms(sympy.Float)
        if floats:
            expr = expr.xreplace({f: sympy.Rational(str(f)) for f in floats})
    return expr


# "3.1e8" -> 3.1 \times 10^{8} (the grammar reads "e" as Euler's number)
_E_NOTATION_RE = re.compile(r"(?<![A-Za-z\\.\d])(\d+(?:\.\d*)?|\.\d+)[eE]([+-]?\d{1,4})(?![A-Za-z\d])")
# a subscripted name: one letter or a command, then "_x", "_\max" or "_{...}" (no nested braces)
_SUBSCRIPTED_RE = re.compile(r"(\\[A-Za-z]+|(?<![\\A-Za-z])[A-Za-z])_(\{[^{}]*\}|\\[A-Za-z]+|[A-Za-z0-9])")
_SUBSCRIPT_NOISE_RE = re.compile(r"[\s\\{}]|\\[,;!: ]")


def _subscripted_name(m: re.Match[str]) -> str:
    """``E_{1}``, ``v_{\\max}``, ``R_{\\odot}`` -> one symbol the grammar reads (spacing and backslashes in the
    subscript do not change the name: ``E_{ 1 }`` is ``E_1``)."""
    base, sub = m.group(1), _SUBSCRIPT_NOISE_RE.sub("", m.group(2))
    if not sub:
        return m.group(0)
    return ("\\mathrm{E}" if base == "E" else base) + "_{" + sub + "}"


def prepare(text: str) -> str:
    """Notation the grammar misreads, rewritten: scientific ``e`` notation and subscripted names."""
    if "e" in text or "E" in text:
        text = _E_NOTATION_RE.sub(r"\1\\times 10^{\2}", text)
    if "_" in text:
        text = _SUBSCRIPTED_RE.sub(_subscripted_name, text)
    return text


# a numeral with a subscript (a base: 4210_{5}): the grammar would drop the subscript and read 4210
_SUBSCRIPTED_NUMERAL_RE = re.compile(r"(?<![A-Za-z\\])\d+\s*_")


def to_sympy(text: str, config: EquivalenceConfig) -> Any:
    """Parse one answer into a sympy object: None when it cannot be parsed at a bounded cost, ``Oversized``
    when it holds a value beyond ``config.max_bits``."""
    if len(text) > config.max_chars or not text.strip() or _SUBSCRIPTED_NUMERAL_RE.search(text):
        return None
    depth = parens = 0
    for c in text:
        depth += c in "{[("
        depth -= c in "}])"
        parens += (c == "(") - (c == ")")
        if depth > config.max_depth or parens > _MAX_PAREN_DEPTH:
            return None
    try:
        expr = latex2sympy(prepare(text), normalization_config=_NORMALIZATION, conversion_config=_CONVERSION)
    # The ANTLR front end raises bare Exception (and sympy Type/Value errors) for text it cannot parse: any
    # failure here means "not a formula", which is the verdict we return; only the library runs inside.
    except Exception:  # noqa: BLE001
        logger.debug("not parsed: %.120r", text, exc_info=True)
        return None
    if isinstance(expr, sympy.Basic):
        try:
            check_safe(expr, config)
        except Unsafe:
            return None
        except Huge:
            return Oversized(expr)
    if isinstance(expr, (sympy.MatAdd, sympy.MatMul)):
        product: sympy.MatrixExpr = expr
        expr = product.doit()  # a sum or product of explicit matrices (never a power: its size is unbounded)
    expr = _floats_to_rationals(expr)
    if isinstance(expr, sympy.Basic) and sympy.Symbol("i") in getattr(expr, "free_symbols", set()):
        expr = expr.xreplace({sympy.Symbol("i"): sympy.I})
    return expr
