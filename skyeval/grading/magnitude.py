"""Sign and size (log2 magnitude) of a constant too large to compute: how oversized answers are still compared.

An answer holding ``10^{10^{10}}`` cannot be evaluated exactly, but its size can be bounded with float arithmetic
on logarithms: ``log2 |10^{10^{10}}|`` is ``10^{10} * log2 10``. ``magnitude`` returns the sign and an interval
around ``log2 |x|`` for powers, products, factorials, exponentials and sums dominated by one term, without
evaluating anything large; two values whose signs differ or whose intervals are disjoint are unequal.
Imported lazily (it imports sympy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy

_EPS = 1e-12  # relative slack on a float log2 (its own rounding error is ~1e-16)
_MAX_TERMS = 64


@dataclass(frozen=True)
class Magnitude:
    """``x`` has sign ``sign`` (-1, 0, 1) and ``lo <= log2 |x| <= hi`` (both -inf for 0; inf when too big
    even for a float)."""

    sign: int
    lo: float
    hi: float

    def differs(self, other: Magnitude) -> bool:
        """True when the two values are certainly unequal."""
        return self.sign != other.sign or self.hi < other.lo or other.hi < self.lo


_ZERO = Magnitude(0, -math.inf, -math.inf)


def _around(sign: int, value: float) -> Magnitude:
    slack = _EPS * (abs(value) + 1.0)
    return Magnitude(sign, value - slack, value + slack)


def _float_range(m: Magnitude) -> tuple[float, float]:
    """The value range of ``x`` itself (not its log), with infinities where it overflows."""
    ends = []
    for e in (m.lo, m.hi):
        ends.append(math.inf if e > 1000 else 2.0**e)
    lo, hi = ends
    return (lo, hi) if m.sign >= 0 else (-hi, -lo)


def _products(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float] | None:
    values = [x * y for x in a for y in b]
    if any(math.isnan(v) for v in values):
        return None
    return min(values), max(values)


def magnitude(expr: sympy.Basic, budget: list[int] | None = None) -> Magnitude | None:
    """Sign and log2 interval of a constant expression, or None when they cannot be bounded cheaply."""
    budget = budget if budget is not None else [_MAX_TERMS * 4]
    budget[0] -= 1
    if budget[0] < 0 or not isinstance(expr, sympy.Expr) or expr.free_symbols:
        return None
    if isinstance(expr, sympy.Rational):
        if expr == 0:
            return _ZERO
        p, q = abs(int(expr.p)), int(expr.q)
        return _around(1 if expr > 0 else -1, math.log2(p) - math.log2(q))
    if isinstance(expr, sympy.Pow):
        return _power(expr.args[0], expr.args[1], budget)
    if isinstance(expr, sympy.exp):
        return _power(sympy.E, expr.args[0], budget)
    if isinstance(expr, sympy.Mul):
        parts = [magnitude(arg, budget) for arg in expr.args]
        if any(m is None for m in parts):
            return None
        known = [m for m in parts if m is not None]
        if any(m.sign == 0 for m in known):
            return _ZERO
        sign = math.prod(m.sign for m in known)
        return Magnitude(sign, sum(m.lo for m in known), sum(m.hi for m in known))
    if isinstance(expr, sympy.Add):
        return _sum(list(expr.args), budget)
    if isinstance(expr, sympy.factorial):
        n = magnitude(expr.args[0], budget)
        if n is None or n.sign < 0:
            return None
        lo, hi = _float_range(n)
        if math.isinf(hi):
            return Magnitude(1, math.inf if math.isinf(lo) else lo, math.inf)
        to_log2 = 1 / math.log(2)
        return Magnitude(
            1, math.lgamma(lo + 1) * to_log2 * (1 - _EPS), math.lgamma(hi + 1) * to_log2 * (1 + _EPS)
        )
    if expr.is_number and len(expr.args) <= 2 and not expr.has(sympy.Pow, sympy.factorial):
        value = expr.evalf(20)  # a small constant: pi, E, sqrt(2), log(3)
        if value.is_real and value != 0:
            return _around(1 if value > 0 else -1, math.log2(abs(float(value))))
    return None


def _power(base: sympy.Basic, exponent: sympy.Basic, budget: list[int]) -> Magnitude | None:
    b, e = magnitude(base, budget), magnitude(exponent, budget)
    if b is None or e is None:
        return None
    if b.sign == 0:
        return _ZERO if e.sign > 0 else None
    sign = 1
    if b.sign < 0:
        if exponent.is_even:
            sign = 1
        elif exponent.is_odd:
            sign = -1
        else:
            return None
    log_range = _products(_float_range(e), (b.lo, b.hi))
    if log_range is None:
        return None
    return Magnitude(sign, *log_range)


def _sum(terms: list[sympy.Basic], budget: list[int]) -> Magnitude | None:
    """A sum whose largest term outweighs all the others together (no cancellation is possible)."""
    if len(terms) > _MAX_TERMS:
        return None
    parts = [magnitude(t, budget) for t in terms]
    if any(m is None for m in parts):
        return None
    nonzero = sorted((m for m in parts if m is not None and m.sign != 0), key=lambda m: m.hi)
    if not nonzero:
        return _ZERO
    top, rest = nonzero[-1], nonzero[:-1]
    if not rest:
        return top
    if rest[-1].hi + math.log2(len(rest)) + 2 >= top.lo:
        return None  # comparable terms: the sum may cancel
    return Magnitude(top.sign, top.lo - 1, top.hi + 1)
