"""Exact rational arithmetic on plain numeric answers, bounded in size: the lowest layer of the grader.

``evaluate`` reads an answer made only of numbers and arithmetic (``7^{150}+1``, ``80!-1``, ``\\binom{6}{3}``,
``\\frac{3}{4}``, ``1+1+…+1``, ``((((1))))``, ``\\sqrt{\\sqrt{16}}``) and returns its exact value as a
:class:`fractions.Fraction`, or None for anything else (a letter, an irrational root, an unknown command). It is a
hand-written tokenizer and an iterative shunting-yard evaluator (no recursion, so nesting depth costs nothing;
model text is never executed). Every intermediate value is bounded by ``max_bits``: a larger one raises
:class:`TooLarge` *before* it is computed, so ``10^{10^{10}}`` costs microseconds.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_TOKEN_RE = re.compile(
    r"\s+|(\d+(?:\.\d+)?)|\\(frac|sqrt|binom|times|cdot|div)(?![a-zA-Z])|(\*\*|[-+*/^!(){}\[\]])"
)
_INT_CHUNK = 4_000  # below Python's int/str conversion limit (4,300 digits)
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "^": 4}
_FUNCTIONS = {"sqrt": 1, "frac": 2, "binom": 2}
_OPEN = {"(": ")", "[": "]", "{": "}"}
_DIGITS_RE = {1: re.compile(r"\d"), 2: re.compile(r"\d\d")}


class TooLarge(Exception):
    """An exact value (or its computation) would exceed the size bound in bits."""


def to_int(digits: str) -> int:
    """``int(digits)`` for any length (Python refuses more than 4,300 digits in one conversion)."""
    if len(digits) <= _INT_CHUNK:
        return int(digits)
    value = 0
    for start in range(0, len(digits), _INT_CHUNK):
        chunk = digits[start : start + _INT_CHUNK]
        value = value * 10 ** len(chunk) + int(chunk)
    return value


def bits(x: Fraction) -> int:
    """Size of an exact value: bits of its numerator plus bits of its denominator."""
    return x.numerator.bit_length() + x.denominator.bit_length()


def _log2(x: Fraction) -> float:
    """Bits needed for the numerator and denominator of a positive rational (an estimate, to bound powers)."""
    return math.log2(x.numerator) + math.log2(x.denominator) if x.numerator > 1 else math.log2(x.denominator)


def _tokens(text: str) -> list[str] | None:
    """Numbers, operators and brackets; ``\\frac{a}{b}`` becomes ``frac ( a , b )`` (likewise ``binom``,
    ``sqrt``). None when the text holds anything else."""
    out: list[str] = []
    closers: list[str] = []  # what each open bracket emits when it closes
    need_open: str | None = None  # the next token must be "{", opening an argument that closes with this
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            return None
        pos = m.end()
        number, command, op = m.groups()
        if number is None and command is None and op is None:
            continue  # spacing
        if need_open is not None:
            if op != "{":
                return None
            closers.append(need_open)
            need_open = None
        elif number is not None:
            out.append(number)
        elif command in ("times", "cdot") or op in ("*", "/"):
            out.append("/" if op == "/" else "*")
        elif command == "div":
            out.append("/")
        elif command is not None:
            arity = _FUNCTIONS[command]
            digits = _DIGITS_RE[arity].match(text, pos)  # "\\frac12", "\\sqrt2": one digit per argument
            if digits is not None:
                out += [command, "(", *",".join(digits.group(0)).replace(",", " , ").split(), ")"]
                pos = digits.end()
                continue
            out += [command, "("]
            need_open = "," if arity == 2 else ")"
        elif op == "**":
            out.append("^")
        elif op in _OPEN:
            out.append("(")
            closers.append(")")
        elif op in ")]}":
            if not closers:
                return None
            close = closers.pop()
            out.append(close)
            if close == ",":
                need_open = ")"
        elif op is not None:
            out.append(op)
    return out if not closers and need_open is None else None


def _apply(op: str, args: list[Fraction], max_bits: int) -> Fraction | None:
    """One operation on exact values, refusing (TooLarge) any result over ``max_bits`` before computing it."""
    if op == "neg":
        return -args[0]
    if op == "!":
        n = args[0]
        if n.denominator != 1 or n < 0:
            return None
        if n > 2 and int(n) * math.log2(int(n)) > max_bits:
            raise TooLarge("factorial")
        return Fraction(math.factorial(int(n)))
    if op == "sqrt":
        x = args[0]
        if x < 0:
            return None
        num, den = math.isqrt(x.numerator), math.isqrt(x.denominator)
        return Fraction(num, den) if num * num == x.numerator and den * den == x.denominator else None
    a, b = args
    if op == "+":
        result = a + b
    elif op == "-":
        result = a - b
    elif op == "*":
        if bits(a) + bits(b) > 2 * max_bits:
            raise TooLarge("product")
        result = a * b
    elif op in ("/", "frac"):
        if b == 0:
            return None
        result = a / b
    elif op == "binom":
        if a.denominator != 1 or b.denominator != 1 or a < 0:
            return None
        if min(b, a - b) * math.log2(int(a) + 1) > max_bits:
            raise TooLarge("binomial")
        result = Fraction(math.comb(int(a), int(b)) if 0 <= b else 0)
    else:  # "^"
        if b.denominator != 1:
            return None  # a fractional power: an irrational root in general (sympy decides)
        if a == 0 and b < 0:
            return None
        if abs(a) != 1 and a != 0 and abs(b) * _log2(abs(a)) > max_bits:
            raise TooLarge("power")
        result = a ** int(b)
    if bits(result) > max_bits + 2:
        raise TooLarge("value")
    return result


def evaluate(text: str, max_bits: int) -> Fraction | None:
    """The exact value of a numbers-and-arithmetic answer, or None when it is anything else (see module doc).

    Raises :class:`TooLarge` when a value would exceed ``max_bits``. Implicit multiplication is read only before
    an opening bracket or a command (``2(3+1)``, ``(2)(3)``, ``2\\sqrt{4}``); two adjacent numbers (``2 3``) and
    a number directly followed by ``\\frac`` (a mixed number, decided elsewhere) are left undecided.
    """
    tokens = _tokens(text)
    if not tokens:
        return None
    values: list[Fraction] = []
    ops: list[str] = []  # pending operators, "(" markers and function names
    args: list[int] = []  # for each "(" on ``ops``: how many arguments it has seen so far
    expect_operand = True

    def reduce_top() -> bool:
        op = ops.pop()
        arity = _FUNCTIONS.get(op, 1 if op == "neg" else 2)
        if len(values) < arity:
            return False
        operands = values[len(values) - arity :]
        del values[len(values) - arity :]
        result = _apply(op, operands, max_bits)
        if result is None:
            return False
        values.append(result)
        return True

    def reduce_group() -> bool:
        while ops and ops[-1] != "(":
            if not reduce_top():
                return False
        return bool(ops)

    for i, tok in enumerate(tokens):
        if not expect_operand and (tok == "(" or tok in _FUNCTIONS or tok[0].isdigit()):
            if tok[0].isdigit() or (tok == "frac" and tokens[i - 1][0].isdigit()):
                return None
            tok_prec = _PRECEDENCE["*"]
            while ops and ops[-1] in _PRECEDENCE and _PRECEDENCE[ops[-1]] >= tok_prec:
                if not reduce_top():
                    return None
            ops.append("*")
            expect_operand = True
        if tok[0].isdigit():
            whole, _, frac = tok.partition(".")
            values.append(Fraction(to_int(whole + frac), 10 ** len(frac)))
            expect_operand = False
        elif tok in _FUNCTIONS:
            ops.append(tok)
        elif tok == "(":
            ops.append("(")
            args.append(1)
            expect_operand = True
        elif tok == ",":
            if expect_operand or not reduce_group():
                return None
            args[-1] += 1
            expect_operand = True
        elif tok == ")":
            if expect_operand or not reduce_group():
                return None
            ops.pop()
            count = args.pop()
            function = ops[-1] if ops and ops[-1] in _FUNCTIONS else None
            if (function is None and count != 1) or (function is not None and count != _FUNCTIONS[function]):
                return None
            if function is not None and not reduce_top():
                return None
            expect_operand = False
        elif tok == "!":
            if expect_operand:
                return None
            result = _apply("!", [values.pop()], max_bits)
            if result is None:
                return None
            values.append(result)
        elif tok in ("+", "-") and expect_operand:
            if tok == "-":
                ops.append("neg")
        elif tok in _PRECEDENCE and tok != "neg":
            if expect_operand:
                return None
            prec = _PRECEDENCE[tok]
            while ops and ops[-1] in _PRECEDENCE:
                top = _PRECEDENCE[ops[-1]]
                if top > prec or (top == prec and tok != "^"):
                    if not reduce_top():
                        return None
                else:
                    break
            ops.append(tok)
            expect_operand = True
        else:
            return None
    if expect_operand:
        return None
    while ops:
        if ops[-1] not in _PRECEDENCE or not reduce_top():
            return None
    return values[0] if len(values) == 1 else None
