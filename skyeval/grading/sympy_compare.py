"""Exact comparison of two parsed sympy answers: numbers, expressions, sets, intervals, tuples, matrices, relations.

Constants are compared exactly (rationals) or at high precision; expressions with symbols at sample points;
the decimal-approximation rule of ``numbers`` applies to decimal literals. Imported lazily (it imports sympy).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

import sympy
from sympy.core.relational import Relational

from skyeval.grading.numbers import DEC_RE, EquivalenceConfig, decimal_matches, numbers_equal

_PRECISION = 60
# Positive sample points (answers are usually stated for positive quantities: sqrt(r0/(r+r0)) forms);
# expressions with |.| are also sampled at the negative points, so |x| never equals x.
_POINTS = (
    (sympy.Rational(7, 5), sympy.Rational(3, 7), sympy.Rational(11, 13), sympy.Rational(5, 3)),
    (sympy.Rational(17, 9), sympy.Rational(2, 11), sympy.Rational(13, 6), sympy.Rational(3, 4)),
    (sympy.Rational(5, 11), sympy.Rational(9, 4), sympy.Rational(7, 17), sympy.Rational(8, 5)),
    (sympy.Rational(37, 3), sympy.Rational(71, 4), sympy.Rational(113, 7), sympy.Rational(59, 2)),
)
_NEGATIVE_POINTS = (
    (sympy.Rational(-7, 5), sympy.Rational(-3, 7), sympy.Rational(-11, 13), sympy.Rational(-5, 3)),
    (sympy.Rational(-17, 9), sympy.Rational(2, 11), sympy.Rational(-13, 6), sympy.Rational(3, 4)),
)


_UNEVALUATED = (sympy.Sum, sympy.Product, sympy.Integral, sympy.Limit, sympy.Derivative)


def _number(expr: Any) -> Any:
    """The numeric value of a constant expression at high precision (a sympy Float/complex), or None."""
    if not isinstance(expr, sympy.Expr) or expr.free_symbols:
        return None
    value = expr.evalf(_PRECISION)
    if value.is_number and not value.has(sympy.zoo, sympy.nan):
        return value
    return None


def _close(a: Any, b: Any, config: EquivalenceConfig) -> bool:
    if a.is_infinite or b.is_infinite:
        return bool(a == b)
    diff = abs(sympy.N(a - b, _PRECISION))
    scale = max(abs(a), abs(b), sympy.Integer(1))
    return bool(diff <= scale * sympy.Float(10) ** (-(_PRECISION - 12))) or bool(
        config.rel_tol > 0 and diff <= scale * config.rel_tol
    )


def _places(r: Any) -> int | None:
    """Decimal places of a rational written as a terminating decimal (7/500 = 0.014 -> 3), else None."""
    q = int(r.q)
    twos = fives = 0
    while q % 2 == 0:
        q //= 2
        twos += 1
    while q % 5 == 0:
        q //= 5
        fives += 1
    return max(twos, fives) if q == 1 else None


def _const_equal(a: sympy.Expr, b: sympy.Expr, config: EquivalenceConfig) -> bool:
    if a.is_Rational and b.is_Rational:
        return numbers_equal(
            Fraction(int(a.p), int(a.q)),
            Fraction(int(b.p), int(b.q)),
            _places(a),
            _places(b),
            config.decimal_rounding,
        )
    if a.has(sympy.zoo, sympy.nan) or b.has(sympy.zoo, sympy.nan):
        return False  # undefined values (1/0) are equal to nothing
    va, vb = _number(a), _number(b)
    if va is None or vb is None:
        return bool(a == b)
    if _close(va, vb, config):
        return True
    # a terminating decimal inside a structure (0.33 in a vector) against an irrational: the rounding rule
    for dec, exact in ((a, vb), (b, va)):
        places = _places(dec) if dec.is_Rational else None
        if config.decimal_rounding and places is not None and places >= 2 and exact.is_real:
            if decimal_matches(dec, exact, sympy.Rational(1, 10**places)):
                return True
    return False


def _expr_equal(a: Any, b: Any, config: EquivalenceConfig) -> bool:
    if isinstance(a, sympy.Basic) and isinstance(b, sympy.Basic):
        if a.has(sympy.zoo, sympy.nan) or b.has(sympy.zoo, sympy.nan):
            return False  # undefined values (1/0) are equal to nothing
    if a == b:
        return True
    if not isinstance(a, sympy.Expr) or not isinstance(b, sympy.Expr):
        return False
    if a.has(*_UNEVALUATED) or b.has(*_UNEVALUATED):
        return str(a) == str(b)  # sums, integrals, limits: compared as written, never evaluated
    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    if not symbols:
        return _const_equal(a, b, config)
    if (
        len(symbols) > len(_POINTS[0])
        or a.has(sympy.core.function.AppliedUndef)
        or b.has(sympy.core.function.AppliedUndef)
    ):
        return _simplify_equal(a, b)
    decided = 0
    points = _POINTS + _NEGATIVE_POINTS if _sign_sensitive(a, b) else _POINTS
    for point in points:
        subs = dict(zip(symbols, point, strict=False))
        va, vb = _number(a.xreplace(subs)), _number(b.xreplace(subs))
        if va is None or vb is None:
            continue
        if not _close(va, vb, config):
            return False
        decided += 1
    return decided >= 3 or _simplify_equal(a, b)


def _has_root(expr: sympy.Expr) -> bool:
    return any(p.exp.is_Rational and not p.exp.is_Integer for p in expr.atoms(sympy.Pow))


def _sign_sensitive(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Sample negative points too when |.| appears or only one side takes a root (sqrt(x^2) vs x): equalities
    that hold only for positive values are then caught; two root forms (sqrt(r/(r+s)) rewritten) are not."""
    return a.has(sympy.Abs) or b.has(sympy.Abs) or _has_root(a) != _has_root(b)


def _simplify_equal(a: sympy.Expr, b: sympy.Expr) -> bool:
    diff = a - b
    if sympy.count_ops(diff) > 200:
        return False
    return bool(sympy.simplify(diff) == 0)


def names_value(expr: Any) -> bool:
    """A left-hand side that only names the value: a symbol, f(x), or a product/ratio of symbols."""
    if isinstance(expr, (sympy.Symbol, sympy.core.function.AppliedUndef)):
        return True
    if isinstance(expr, (sympy.Mul, sympy.Pow, sympy.Abs)):
        return all(names_value(arg) or arg == -1 for arg in expr.args)
    return False


def as_set(expr: Any) -> Any:
    """An inequality (or ``\\ne``, or a conjunction) in one variable as its solution set, else None."""
    if isinstance(expr, (Relational, sympy.And, sympy.Or)) and not isinstance(expr, sympy.Eq):
        undefined = expr.atoms(sympy.core.function.AppliedUndef)
        if undefined:
            expr = expr.xreplace({f: sympy.Dummy() for f in undefined})
        symbols = expr.free_symbols
        if len(symbols) == 1:
            try:
                return expr.as_set()
            except (NotImplementedError, TypeError, ValueError):
                return None
    if isinstance(expr, sympy.Eq) and isinstance(expr.rhs, sympy.Set) and names_value(expr.lhs):
        return expr.rhs
    return None


def sets_equal(a: Any, b: Any, config: EquivalenceConfig) -> bool:
    if isinstance(a, sympy.Interval) and isinstance(b, sympy.Interval):
        return (
            a.left_open == b.left_open
            and a.right_open == b.right_open
            and _expr_equal(a.start, b.start, config)
            and _expr_equal(a.end, b.end, config)
        )
    if isinstance(a, sympy.FiniteSet) and isinstance(b, sympy.FiniteSet):
        return _match_all(list(a.args), list(b.args), config)
    if isinstance(a, sympy.Union) and isinstance(b, sympy.Union):
        return _match_all(list(a.args), list(b.args), config)
    if isinstance(a, sympy.Set) and isinstance(b, sympy.Set):
        return bool(a == b)
    return False


def _match_all(xs: list[Any], ys: list[Any], config: EquivalenceConfig) -> bool:
    """Set equality: every element of each side equals some element of the other."""
    return all(any(sym_equal(x, y, config) for y in ys) for x in xs) and all(
        any(sym_equal(x, y, config) for x in xs) for y in ys
    )


def _equation_equal(a: Any, b: Any, config: EquivalenceConfig) -> bool:
    """Two equations: same named value, or one is a non-zero multiple of the other (rearranged)."""
    if names_value(a.lhs) and names_value(b.lhs) and sym_equal(a.rhs, b.rhs, config):
        return True
    if a.lhs == b.lhs and sym_equal(a.rhs, b.rhs, config):
        return True  # same left side, equal values (a - b = 1.732 vs a - b = \sqrt{3})
    if not all(isinstance(x, sympy.Expr) for x in (a.lhs, a.rhs, b.lhs, b.rhs)):
        return False
    da, db = a.lhs - a.rhs, b.lhs - b.rhs
    if da == 0 or db == 0:
        return bool(da == db)
    symbols = sorted(da.free_symbols | db.free_symbols, key=str)
    if not symbols or len(symbols) > len(_POINTS[0]):
        return False
    ratios = []
    for point in _POINTS:
        subs = dict(zip(symbols, point, strict=False))
        va, vb = _number(da.xreplace(subs)), _number(db.xreplace(subs))
        if va is None or vb is None or vb == 0:
            continue
        ratios.append(va / vb)
    return len(ratios) >= 2 and ratios[0] != 0 and all(_close(r, ratios[0], config) for r in ratios[1:])


def _flat(m: Any) -> list[Any] | None:
    if isinstance(m, sympy.MatrixBase) and 1 in m.shape:
        return list(m)
    if isinstance(m, sympy.Tuple):
        return list(m.args)
    return None


def sym_equal(a: Any, b: Any, config: EquivalenceConfig) -> bool:
    """Equality of two parsed answers (numbers, expressions, sets, intervals, tuples, matrices, relations)."""
    if a is None or b is None:
        return False
    if isinstance(a, sympy.MatrixBase) or isinstance(b, sympy.MatrixBase):
        if isinstance(a, sympy.MatrixBase) and isinstance(b, sympy.MatrixBase) and a.shape == b.shape:
            return all(_expr_equal(x, y, config) for x, y in zip(a, b, strict=True))
        fa, fb = _flat(a), _flat(b)
        return (
            fa is not None
            and fb is not None
            and len(fa) == len(fb)
            and all(sym_equal(x, y, config) for x, y in zip(fa, fb, strict=True))
        )
    if isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq):
        return _equation_equal(a, b, config)
    for x, y in ((a, b), (b, a)):
        if isinstance(x, sympy.Eq) and not isinstance(y, (sympy.Eq, Relational, sympy.And)):
            return names_value(x.lhs) and sym_equal(x.rhs, y, config)
    sa = as_set(a) if not isinstance(a, sympy.Set) else a
    sb = as_set(b) if not isinstance(b, sympy.Set) else b
    if sa is not None and sb is not None:
        return sets_equal(sa, sb, config)
    if isinstance(a, Relational) and isinstance(b, Relational):
        return bool(a.canonical == b.canonical) or bool(a.reversed.canonical == b.canonical)
    if isinstance(a, sympy.Tuple) and isinstance(b, sympy.Tuple):
        return len(a) == len(b) and all(sym_equal(x, y, config) for x, y in zip(a, b, strict=True))
    if isinstance(a, (sympy.Basic, sympy.MatrixBase)) and isinstance(b, (sympy.Basic, sympy.MatrixBase)):
        return _expr_equal(a, b, config)
    return False


_SCI_RE = re.compile(r"([+-]?\d+\.(\d+))\s*(?:\\times|\\cdot|\*)\s*10\^\{?([+-]?\d{1,3})\}?")


def _decimal(text: str) -> tuple[Fraction, int] | None:
    """A decimal literal (``0.333``, ``2.31 \\times 10^{-3}``) as (value, decimal places of its last digit)."""
    if DEC_RE.fullmatch(text):
        return Fraction(text), len(text.split(".")[1])
    m = _SCI_RE.fullmatch(text)
    if m:
        exponent = int(m.group(3))
        return Fraction(m.group(1)) * Fraction(10) ** exponent, len(m.group(2)) - exponent
    return None


def decimal_rule(a_text: str, b: Any, config: EquivalenceConfig) -> bool:
    """A decimal literal ``a_text`` (>= 2 places) equals the exact constant ``b`` it rounds or truncates."""
    decimal = _decimal(a_text)
    if decimal is None or not config.decimal_rounding or not isinstance(b, sympy.Expr) or b.free_symbols:
        return False
    value, places = decimal
    if b.is_Rational:
        return numbers_equal(value, Fraction(int(b.p), int(b.q)), places, None, True)
    vb = _number(b)
    if vb is None or not vb.is_real:
        return False
    if places < 2:
        return False
    return decimal_matches(
        sympy.Rational(value.numerator, value.denominator), vb, sympy.Rational(1, 10**places)
    )
