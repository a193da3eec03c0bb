"""Exact comparison of a predicted and a gold answer parsed by sympy: numbers, expressions, sets, intervals,
tuples, matrices and relations.

Constants are compared exactly when both are rational (after a bounded ``doit``), else numerically to 40 digits
after the point (relative below 1), at a precision that grows with their size so big values stay exact;
expressions with symbols are compared at sample points. Decimal literals follow the approximation policy of
``numbers.approximates`` (which side is the gold matters, so every function takes the prediction first).
Oversized values are compared by magnitude (``magnitude``): unequal when their sizes differ, else
:class:`~skyeval.grading.exact.TooLarge`. Imported lazily (it imports sympy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import sympy
from sympy.core.relational import Relational

from skyeval.grading.exact import TooLarge
from skyeval.grading.magnitude import magnitude
from skyeval.grading.numbers import Decimals, EquivalenceConfig, Num, approximates, atoms_equal
from skyeval.grading.sympy_parse import Oversized

_DIGITS = 40  # constants agree when they agree to this many digits after the point (relative below 1)
_GUARD = 20

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
_STEP_FUNCTIONS = (sympy.floor, sympy.ceiling, sympy.frac, sympy.Mod, sympy.sign, sympy.Heaviside)


@dataclass(frozen=True)
class Sides:
    """The comparison of a prediction with a gold: the policy, and the decimal literals written on each side (a
    parsed rational equal to one of them stands for that decimal, at its written precision). Swapped when a rule
    looks from the gold side."""

    config: EquivalenceConfig
    pred_decimals: Decimals = ()
    gold_decimals: Decimals = ()

    def swap(self) -> Sides:
        return replace(self, pred_decimals=self.gold_decimals, gold_decimals=self.pred_decimals)


def _number(expr: Any, digits: int = _DIGITS + _GUARD) -> Any:
    """The numeric value of a constant expression (a sympy Float/complex) at ``digits`` digits, or None."""
    if not isinstance(expr, sympy.Expr) or expr.free_symbols:
        return None
    value = expr.evalf(digits)
    if value.is_number and not value.has(sympy.zoo, sympy.nan):
        return value
    return None


def _size_digits(*values: Any) -> int:
    """Decimal digits before the point of the largest of ``values`` (0 below 1)."""
    biggest = max((abs(v) for v in values), default=sympy.Integer(0))
    return max(0, int(math.log10(int(biggest))) + 1) if biggest >= 1 and biggest.is_finite else 0


def _close(a: Any, b: Any, config: EquivalenceConfig) -> bool:
    """``a`` and ``b`` agree to ``_DIGITS`` digits after the point (relative below 1), or within ``rel_tol``."""
    if a.is_infinite or b.is_infinite:
        return bool(a == b)
    scale = max(abs(a), abs(b))
    diff = abs(a - b)
    if config.rel_tol > 0 and bool(diff <= scale * config.rel_tol):
        return True
    return bool(diff <= min(scale, sympy.Integer(1)) * sympy.Float(10, 30) ** (-_DIGITS))


def _values_close(a: Any, b: Any, config: EquivalenceConfig) -> bool:
    """Compare two constants at a precision that grows with their size (``2^{100}`` and ``2^{100}+1`` differ).

    Agreement to ``_DIGITS`` digits is confirmed at twice the precision: a true equality agrees there to the
    new precision, while a tiny true difference (``\\pi + 10^{-50}`` against ``\\pi``) stays the same size."""
    va, vb = _number(a, 15), _number(b, 15)
    if va is None or vb is None:
        return False
    digits = _size_digits(va, vb) + _DIGITS + _GUARD
    va, vb = _number(a, digits), _number(b, digits)
    if va is None or vb is None or not _close(va, vb, config):
        return False
    if va == vb or (config.rel_tol > 0 and bool(abs(va - vb) <= max(abs(va), abs(vb)) * config.rel_tol)):
        return True
    va, vb = _number(a, 2 * digits), _number(b, 2 * digits)
    if va is None or vb is None or va.is_infinite or vb.is_infinite:
        return bool(va == vb)
    scale = max(abs(va), abs(vb), sympy.Integer(1))
    return bool(abs(va - vb) <= scale * sympy.Float(10, 30) ** (-(2 * digits - _GUARD)))


def _as_num(r: Any, decimals: Decimals) -> Num:
    """A sympy rational as a fast-path number: the decimal literal of its side with that value, else exact."""
    value = Fraction(int(r.p), int(r.q))
    for literal in decimals:
        if abs(literal.value) == abs(value):
            return Num(value, places=literal.places, digits=literal.digits)
    return Num(value)


def _exact(expr: sympy.Expr) -> sympy.Expr:
    """An unevaluated constant (``7**150 + 1`` as parsed) evaluated exactly; sizes were bounded at parse time."""
    if expr.is_Rational or expr.has(*_UNEVALUATED):
        return expr
    try:
        value: sympy.Expr = expr.doit()
    except (TypeError, ValueError, ArithmeticError, NotImplementedError):
        return expr
    return value


def _const_equal(p: sympy.Expr, g: sympy.Expr, sides: Sides) -> bool:
    config = sides.config
    if p.has(sympy.zoo, sympy.nan) or g.has(sympy.zoo, sympy.nan):
        return False  # undefined values (1/0) are equal to nothing
    p, g = _exact(p), _exact(g)
    if p.is_Rational and g.is_Rational:
        return atoms_equal(_as_num(p, sides.pred_decimals), _as_num(g, sides.gold_decimals), config)
    if _values_close(p, g, config):
        return True
    # a decimal literal inside a structure (0.33 in a vector) against an irrational: the approximation policy
    if p.is_Rational and sides.pred_decimals:
        n, exact = _as_num(p, sides.pred_decimals), _number(g)
        role = "pred"
    elif g.is_Rational and sides.gold_decimals:
        n, exact = _as_num(g, sides.gold_decimals), _number(p)
        role = "gold"
    else:
        return False
    if n.places is None or exact is None or not exact.is_real:
        return False
    return approximates(n.value, n.places, n.digits, exact, role, config)


def _oversized_equal(p: Any, g: Any) -> bool:
    """Compare answers where a value is beyond the size bound: False when their magnitudes differ, else raise
    TooLarge (the verdict is then ``too_large``: not shown equal, and not computed)."""
    a = p.expr if isinstance(p, Oversized) else p
    b = g.expr if isinstance(g, Oversized) else g
    ma = magnitude(a) if isinstance(a, sympy.Expr) else None
    mb = magnitude(b) if isinstance(b, sympy.Expr) else None
    if ma is not None and mb is not None and ma.differs(mb):
        return False
    raise TooLarge("a value beyond the size bound")


def _expr_equal(a: Any, b: Any, sides: Sides) -> bool:
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
        return _const_equal(a, b, sides)
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
        va, vb = a.xreplace(subs), b.xreplace(subs)
        if va.has(sympy.zoo, sympy.nan) or vb.has(sympy.zoo, sympy.nan) or _number(va, 15) is None:
            continue  # undefined at this point
        if _number(vb, 15) is None:
            continue
        if va.is_Rational and vb.is_Rational:
            same = va == vb or _close(_number(va), _number(vb), sides.config) and sides.config.rel_tol > 0
        else:
            same = _values_close(va, vb, sides.config)
        if not same:
            return False
        decided += 1
    if a.has(*_STEP_FUNCTIONS) or b.has(*_STEP_FUNCTIONS):
        return _simplify_equal(a, b)  # step functions agree on whole intervals: sample points prove nothing
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
    """A left-hand side that only names the value: a symbol, f(x), |x|, or a product/ratio of symbols (never
    ``-x``: ``-x = 5`` says x is -5)."""
    if isinstance(expr, (sympy.Symbol, sympy.core.function.AppliedUndef)):
        return True
    if isinstance(expr, sympy.Pow):
        return names_value(expr.base) and expr.exp == -1
    if isinstance(expr, (sympy.Mul, sympy.Abs)):
        return all(names_value(arg) for arg in expr.args)
    return False


def as_set(expr: Any) -> Any:
    """An inequality (or ``\\ne``, or a conjunction) in one variable as its solution set, else None."""
    if isinstance(expr, (Relational, sympy.And, sympy.Or)) and not isinstance(expr, sympy.Eq):
        condition: sympy.Basic = expr
        undefined = condition.atoms(sympy.core.function.AppliedUndef)
        if undefined:
            expr = condition.xreplace({f: sympy.Dummy() for f in undefined})
        symbols = expr.free_symbols
        if len(symbols) == 1:
            try:
                return expr.as_set()
            except (NotImplementedError, TypeError, ValueError):
                return None
    if isinstance(expr, sympy.Eq) and isinstance(expr.rhs, sympy.Set) and names_value(expr.lhs):
        return expr.rhs
    return None


def sets_equal(a: Any, b: Any, sides: Sides) -> bool:
    """Two sympy sets: intervals end by end, finite sets and unions element by element, others structurally."""
    if isinstance(a, sympy.Interval) and isinstance(b, sympy.Interval):
        return (
            a.left_open == b.left_open
            and a.right_open == b.right_open
            and _expr_equal(a.start, b.start, sides)
            and _expr_equal(a.end, b.end, sides)
        )
    if isinstance(a, sympy.FiniteSet) and isinstance(b, sympy.FiniteSet):
        return _match_all(list(a.args), list(b.args), sides)
    if isinstance(a, sympy.Union) and isinstance(b, sympy.Union):
        return _match_all(list(a.args), list(b.args), sides)
    if isinstance(a, sympy.Set) and isinstance(b, sympy.Set):
        return bool(a == b)
    return False


def _match_all(xs: list[Any], ys: list[Any], sides: Sides) -> bool:
    """Set equality: every element of each side equals some element of the other."""
    return all(any(sym_equal(x, y, sides) for y in ys) for x in xs) and all(
        any(sym_equal(x, y, sides) for x in xs) for y in ys
    )


def _equation_equal(a: Any, b: Any, sides: Sides) -> bool:
    """Two equations: same named value, or one is a non-zero multiple of the other (rearranged)."""
    if names_value(a.lhs) and names_value(b.lhs) and sym_equal(a.rhs, b.rhs, sides):
        return True
    if a.lhs == b.lhs and sym_equal(a.rhs, b.rhs, sides):
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
    return len(ratios) >= 2 and ratios[0] != 0 and all(_close(r, ratios[0], sides.config) for r in ratios[1:])


def _flat(m: Any) -> list[Any] | None:
    if isinstance(m, sympy.MatrixBase) and 1 in m.shape:
        return list(m.flat())
    if isinstance(m, sympy.Tuple):
        return list(m.args)
    return None


def _names_equal(eq: Any, other: Any, sides: Sides) -> bool:
    """``x = v`` against a value: the value ``v`` when the left side only names it."""
    return names_value(eq.lhs) and sym_equal(eq.rhs, other, sides)


def sym_equal(a: Any, b: Any, sides: Sides) -> bool:
    """Equality of a parsed prediction ``a`` and gold ``b`` (numbers, expressions, sets, intervals, tuples,
    matrices, relations). Raises TooLarge when an oversized value cannot be told apart by its magnitude."""
    if a is None or b is None:
        return False
    if isinstance(a, Oversized) or isinstance(b, Oversized):
        return _oversized_equal(a, b)
    if isinstance(a, sympy.MatrixBase) or isinstance(b, sympy.MatrixBase):
        if isinstance(a, sympy.MatrixBase) and isinstance(b, sympy.MatrixBase) and a.shape == b.shape:
            return all(_expr_equal(x, y, sides) for x, y in zip(a.flat(), b.flat(), strict=True))
        fa, fb = _flat(a), _flat(b)
        return (
            fa is not None
            and fb is not None
            and len(fa) == len(fb)
            and all(sym_equal(x, y, sides) for x, y in zip(fa, fb, strict=True))
        )
    if isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq):
        return _equation_equal(a, b, sides)
    not_relation = (sympy.Eq, Relational, sympy.And)
    if isinstance(a, sympy.Eq) and not isinstance(b, not_relation):
        return _names_equal(a, b, sides)
    if isinstance(b, sympy.Eq) and not isinstance(a, not_relation):
        return _names_equal(b, a, sides.swap())
    sa = as_set(a) if not isinstance(a, sympy.Set) else a
    sb = as_set(b) if not isinstance(b, sympy.Set) else b
    if sa is not None and sb is not None:
        return sets_equal(sa, sb, sides)
    if isinstance(a, Relational) and isinstance(b, Relational):
        return bool(a.canonical == b.canonical) or bool(a.reversed.canonical == b.canonical)
    if isinstance(a, sympy.Tuple) and isinstance(b, sympy.Tuple):
        return len(a) == len(b) and all(sym_equal(x, y, sides) for x, y in zip(a, b, strict=True))
    if isinstance(a, (sympy.Basic, sympy.MatrixBase)) and isinstance(b, (sympy.Basic, sympy.MatrixBase)):
        return _expr_equal(a, b, sides)
    return False


def constant_value(expr: Any) -> Any:
    """The real numeric value of a parsed constant (for the approximation policy on atoms), or None."""
    if isinstance(expr, Oversized) or not isinstance(expr, sympy.Expr) or expr.free_symbols:
        return None
    value = _number(expr)
    return value if value is not None and value.is_real else None
