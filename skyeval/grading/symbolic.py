"""The slow path of ``is_equivalent``: bounded parsing with latex2sympy2_extended and exact sympy comparison.

Imported lazily (it imports sympy). Answers are parsed by an ANTLR grammar into sympy objects; model text is
never handed to ``sympify``, ``parse_expr``, ``eval`` or ``exec``. Before anything is evaluated the tree is checked
against size limits (powers, factorials, node count), so ``10^{10^{10}}`` or ``9!!!!!!`` is rejected in
microseconds instead of being computed.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

import sympy
from sympy.core.relational import Relational

from skyeval.grading.equivalence import (
    EquivalenceConfig,
    atoms_equal,
    decimal_matches,
    fast_atom,
    numbers_equal,
)
from skyeval.grading.normalize import LIST_KINDS, Item, label_free, parse_items, resolve_choices

_DEC_RE = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_DECIMAL_COMMA_RE = re.compile(r"[+-]?\d+,\d+")
_MAX_NODES = 400
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


_SYMPY_UNDECIDED = (
    TypeError,
    ValueError,
    ArithmeticError,
    NotImplementedError,
    RecursionError,
    sympy.SympifyError,
    sympy.PolynomialError,
)


class _Unsafe(Exception):
    """The expression would be too expensive to evaluate exactly (huge power, factorial, too many nodes)."""


def _approx(expr: sympy.Basic, config: EquivalenceConfig) -> float | None:
    """A float estimate of a numeric subtree already checked safe, or None when it is not a plain number."""
    if not isinstance(expr, sympy.Expr) or expr.free_symbols:
        return None
    _check_safe(expr, config)
    value = expr.evalf(15)
    if value.is_real and value.is_finite:
        return float(value)
    return None


def _check_safe(expr: sympy.Basic, config: EquivalenceConfig, budget: list[int] | None = None) -> None:
    """Raise _Unsafe when evaluating ``expr`` exactly could take unbounded time or memory."""
    budget = budget if budget is not None else [_MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise _Unsafe("too many nodes")
    if isinstance(expr, sympy.Pow):
        base, exp = expr.args
        _check_safe(base, config, budget)
        _check_safe(exp, config, budget)
        e = _approx(exp, config)
        if e is not None:
            b = _approx(base, config)
            size = abs(e) * math.log2(abs(b) + 2) if b is not None else abs(e)
            if size > config.max_bits:
                raise _Unsafe("power too large")
        return
    if isinstance(expr, sympy.exp):
        _check_safe(expr.args[0], config, budget)
        e = _approx(expr.args[0], config)
        if e is not None and abs(e) > config.max_bits:
            raise _Unsafe("exponential too large")
        return
    if isinstance(expr, (sympy.factorial, sympy.factorial2, sympy.binomial, sympy.gamma, sympy.subfactorial)):
        for arg in expr.args:
            _check_safe(arg, config, budget)
            n = _approx(arg, config)
            if n is not None and abs(n) * math.log2(abs(n) + 2) > config.max_bits:
                raise _Unsafe("factorial too large")
        return
    for arg in expr.args:
        _check_safe(arg, config, budget)


def _normalization() -> Any:
    from latex2sympy2_extended.math_normalization import NormalizationConfig

    return NormalizationConfig(
        basic_latex=True, units=False, malformed_operators=True, nits=False, boxed="none", equations=False
    )


def _floats_to_rationals(expr: Any) -> Any:
    if isinstance(expr, sympy.MatrixBase):
        return expr.applyfunc(_floats_to_rationals)
    if isinstance(expr, sympy.Basic):
        floats = expr.atoms(sympy.Float)
        if floats:
            expr = expr.xreplace({f: sympy.Rational(str(f)) for f in floats})
    return expr


def to_sympy(text: str, config: EquivalenceConfig) -> Any:
    """Parse one answer into a sympy object, or None when it cannot be parsed safely."""
    if len(text) > config.max_chars or not text.strip():
        return None
    depth = 0
    for c in text:
        depth += c in "{[("
        depth -= c in "}])"
        if depth > config.max_depth:
            return None
    from latex2sympy2_extended import latex2sympy
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig

    try:
        expr = latex2sympy(
            text,
            normalization_config=_normalization(),
            conversion_config=ConversionConfig(lowercase_symbols=False),
        )
    # The ANTLR front end raises bare Exception (and sympy Type/Value errors) for text it cannot parse: any
    # failure here means "not a formula", which is the verdict we return; nothing of ours runs inside.
    except Exception:  # noqa: BLE001
        return None
    if isinstance(expr, sympy.Basic):
        try:
            _check_safe(expr, config)
        except _Unsafe:
            return None
    if isinstance(expr, (sympy.MatAdd, sympy.MatMul)):
        expr = expr.doit()  # a sum or product of explicit matrices (never a power: its size is unbounded)
    expr = _floats_to_rationals(expr)
    if isinstance(expr, sympy.Basic) and sympy.Symbol("i") in getattr(expr, "free_symbols", set()):
        expr = expr.xreplace({sympy.Symbol("i"): sympy.I})
    return expr


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


def _is_label(expr: Any) -> bool:
    """A left-hand side that only names the value: a symbol, f(x), or a product/ratio of symbols."""
    if isinstance(expr, (sympy.Symbol, sympy.core.function.AppliedUndef)):
        return True
    if isinstance(expr, (sympy.Mul, sympy.Pow, sympy.Abs)):
        return all(_is_label(arg) or arg == -1 for arg in expr.args)
    return False


def _as_set(expr: Any) -> Any:
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
    if isinstance(expr, sympy.Eq) and isinstance(expr.rhs, sympy.Set) and _is_label(expr.lhs):
        return expr.rhs
    return None


def _sets_equal(a: Any, b: Any, config: EquivalenceConfig) -> bool:
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
    if _is_label(a.lhs) and _is_label(b.lhs) and sym_equal(a.rhs, b.rhs, config):
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
            return _is_label(x.lhs) and sym_equal(x.rhs, y, config)
    sa = _as_set(a) if not isinstance(a, sympy.Set) else a
    sb = _as_set(b) if not isinstance(b, sympy.Set) else b
    if sa is not None and sb is not None:
        return _sets_equal(sa, sb, config)
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
    if _DEC_RE.fullmatch(text):
        return Fraction(text), len(text.split(".")[1])
    m = _SCI_RE.fullmatch(text)
    if m:
        exponent = int(m.group(3))
        return Fraction(m.group(1)) * Fraction(10) ** exponent, len(m.group(2)) - exponent
    return None


def _decimal_rule(a_text: str, b: Any, config: EquivalenceConfig) -> bool:
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


def _atom_equal(a: str, b: str, config: EquivalenceConfig) -> bool:
    if a == b:
        return True
    fa, fb = fast_atom(label_free(a)), fast_atom(label_free(b))
    if fa is not None and fb is not None:
        return atoms_equal(fa, fb, config)  # the fast path's verdict on plain numbers, words and times
    sa, sb = to_sympy(a, config), to_sympy(b, config)
    if sa is not None and sb is not None and sym_equal(sa, sb, config):
        return True
    if _decimal_rule(a, sb, config) or _decimal_rule(b, sa, config):
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
            s = parsed if isinstance(parsed, sympy.Interval) else _as_set(parsed)
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
            other_set = other if isinstance(other, sympy.Set) else _as_set(other)
            if union is not None and other_set is not None:
                return _sets_equal(union, other_set, config)
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
        return False
    return False
