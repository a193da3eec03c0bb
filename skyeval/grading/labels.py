"""The value an answer states: naming left-hand sides and computations before ``=`` dropped (pure strings).

``label_free`` turns ``x = 5``, ``v_{\\max} = \\frac{c}{2}``, ``\\binom{6}{3} = 20`` and ``x = 1 + 1 = 2`` into
the value after the last ``=``, and ``\\Delta E \\approx 3.2`` into ``3.2``, while a real equation
(``2x + z = 1``, ``7 = 11a + c``) stays whole. ``free_letters`` finds an answer's variables (letters outside
command names and bound variables), which decides what counts as a computation.
"""

from __future__ import annotations

import re

_REL_RE = re.compile(r"(?<![<>!\\])=(?!=)")
_IN_RE = re.compile(r"\\in(?![a-zA-Z])")
_LETTER_RE = re.compile(r"[a-zA-Z]")
# A name: a letter, a word or a command (not a constant or an operator), with a subscript and primes:
# x, a_3, v_{\max}, R_{\odot}, \Delta, Area, x'.
_NAME = (
    r"(?:[A-Za-z]+|\\(?!(?:pi|infty|sqrt|frac|binom|cdot|times|div|pm|log|ln|exp|sin|cos|tan)\b)[A-Za-z]+)"
    r"(?:_(?:\{[^{}]*\}|\\[A-Za-z]+|\w))?'*"
)
_NAMES = rf"{_NAME}(?:\s*{_NAME}){{0,2}}"  # \Delta E, m\angle A
_LABEL_RE = re.compile(
    rf"\s*(?:{_NAMES}|{_NAME}\s*\(\s*{_NAMES}(?:\s*,\s*{_NAMES})*\s*\)|\|{_NAMES}\||\[{_NAMES}\]"
    rf"|\(\s*{_NAME}(?:\s*,\s*{_NAME})+\s*\)|{_NAMES}\s*:\s*{_NAMES}|\\frac\{{{_NAMES}\}}\{{{_NAMES}\}}"
    rf"|\\overline\{{{_NAMES}\}})\s*"
)
_COMMAND_RE = re.compile(r"\\[A-Za-z]+")
_ENVIRONMENT_RE = re.compile(r"\\(?:begin|end)\{[A-Za-z*]*\}")
_OPERATOR_WORD_RE = re.compile(r"\b(?:mod|gcd|lcm|det|max|min)\b")
# a variable bound by a limit, sum, product or integral: \lim_{n \to \infty}, \sum_{k=1}^{n}, \int ... dx
_BOUND_RE = re.compile(
    r"\\(?:lim|sum|prod|bigcup|bigcap)\s*_\s*\{?\s*([A-Za-z])\s*(?:\\to|\\rightarrow|=|\\in)"
)
_DIFFERENTIAL_RE = re.compile(r"(?<![A-Za-z])d\s*([A-Za-z])(?![A-Za-z])")


def split_relation(s: str) -> list[str]:
    """``a = b = c`` -> [a, b, c] (``<=``, ``\\ne`` and friends are not split)."""
    return [p.strip() for p in _REL_RE.split(s)]


def is_label(s: str) -> bool:
    """A left-hand side that only names the answer: ``x``, ``a_3``, ``f(x)``, ``|AB|``, ``A:B``, ``\\frac{NO}{BO}``."""
    return _LABEL_RE.fullmatch(s) is not None


def free_letters(s: str) -> set[str]:
    """The variable letters of ``s``: outside command names, environments, operator words (mod, det, ...) and
    variables bound by ``\\lim``/``\\sum``/``\\prod``/``\\int``."""
    bound = set(_BOUND_RE.findall(s))
    if "\\int" in s:
        bound |= {"d", *_DIFFERENTIAL_RE.findall(s)}
    rest = _OPERATOR_WORD_RE.sub(" ", _COMMAND_RE.sub(" ", _ENVIRONMENT_RE.sub(" ", s)))
    return set(_LETTER_RE.findall(rest)) - bound


def is_computation(lhs: str, rhs: str) -> bool:
    """``lhs = rhs`` states the value of a computation: ``lhs`` holds numbers and no free variable and ``rhs``
    is a constant too (``\\binom{6}{3} = 20``, ``\\log_3 27 = 3``, ``19 \\bmod 4 = 3``, ``\\lim_{n\\to\\infty}
    \\frac1n = 0``). ``7 = 11a + c`` is an equation, not a computation."""
    has_number = any(c.isdigit() for c in lhs) or "\\infty" in lhs
    return has_number and not free_letters(lhs) and not free_letters(rhs)


def label_free(s: str) -> str:
    """The value an answer states: after a naming left-hand side or a computation (``x = 5``, ``v_{\\max} =
    \\frac{c}{2}``, ``\\binom{6}{3} = 20`` -> the right-hand side), the last of a chain (``x = 1+1 = 2`` -> ``2``);
    ``x \\approx 0.33`` -> ``0.33``; ``1/3 \\approx 0.33`` -> ``1/3``. A real equation (``2x + z = 1``) stays."""
    s = s.strip()
    if "\\in " in s or s.count("\\in") == 1 and _IN_RE.search(s):
        lhs, _, rhs = s.partition("\\in")
        if is_label(lhs):
            s = rhs.strip()
    parts = split_relation(s)
    if (
        len(parts) > 1
        and all(parts)
        and (len(parts) > 2 or is_label(parts[0]) or is_computation(parts[0], parts[-1]))
    ):
        s = parts[-1]  # the value after "=": x = 5, \\binom{6}{3} = 20, x = 1 + 1 = 2
    if "\\approx" in s:
        pieces = [p.strip() for p in s.split("\\approx") if p.strip()]
        if pieces:
            s = pieces[1] if is_label(pieces[0]) and len(pieces) > 1 else pieces[0]
    return s
