"""Plain-text, sympy-style and Unicode math notation rewritten as the LaTeX the rest of the grader reads.

Models write ``pi/3``, ``2*pi``, ``exp(2)``, ``sqrt(3)``, ``oo``, ``x**2``, ``x²``, ``½``, ``√3``, ``π``, ``×``,
``·``, ``−``, ``≤`` as often as LaTeX. ``to_latex`` rewrites each of these into the LaTeX it stands for
(``\\frac{\\pi}{3}`` needs no rewriting: it is already read), in one linear pass per rule. A rule fires only on
a whole token (``pi`` in ``pink`` or ``\\pi`` stays), so text answers are unchanged. Pure string code.
"""

from __future__ import annotations

import re

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ", "0123456789+-=()ni")
_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎", "0123456789+-=()")
_SUPERSCRIPT_RUN_RE = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ]+")
_SUBSCRIPT_RUN_RE = re.compile(r"[₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎]+")
_VULGAR = {
    "½": (1, 2), "⅓": (1, 3), "⅔": (2, 3), "¼": (1, 4), "¾": (3, 4), "⅕": (1, 5), "⅖": (2, 5), "⅗": (3, 5),
    "⅘": (4, 5), "⅙": (1, 6), "⅚": (5, 6), "⅐": (1, 7), "⅛": (1, 8), "⅜": (3, 8), "⅝": (5, 8), "⅞": (7, 8),
    "⅑": (1, 9), "⅒": (1, 10),
}  # fmt: skip
_VULGAR_RE = re.compile("[" + "".join(_VULGAR) + "]")
_SYMBOLS = {
    "π": "\\pi ", "∞": "\\infty ", "×": "\\times ", "·": "\\cdot ", "⋅": "\\cdot ", "∙": "\\cdot ",
    "÷": "\\div ", "−": "-", "±": "\\pm ", "∓": "\\mp ", "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ",
    "≈": "\\approx ", "∈": "\\in ", "∉": "\\notin ", "∪": "\\cup ", "∩": "\\cap ", "∅": "\\emptyset ",
    "→": "\\to ", "∖": "\\setminus ", "ℝ": "\\mathbb{R}", "ℤ": "\\mathbb{Z}", "ℕ": "\\mathbb{N}",
    "ℚ": "\\mathbb{Q}", "ℂ": "\\mathbb{C}", "∠": "\\angle ", "′": "'", "⁄": "/",
    "α": "\\alpha ", "β": "\\beta ", "γ": "\\gamma ", "δ": "\\delta ", "ε": "\\epsilon ", "θ": "\\theta ",
    "λ": "\\lambda ", "μ": "\\mu ", "ρ": "\\rho ", "σ": "\\sigma ", "τ": "\\tau ", "φ": "\\phi ",
    "ω": "\\omega ", "Δ": "\\Delta ", "Ω": "\\Omega ",
}  # fmt: skip
_SYMBOL_RE = re.compile("[" + "".join(_SYMBOLS) + "]")
_ROOTS = {"√": "", "∛": "[3]", "∜": "[4]"}
_ROOT_RE = re.compile(r"([√∛∜])\s*(?:(\d+(?:\.\d+)?|[A-Za-z]|\\[A-Za-z]+)|(?=[({]))")
_NON_ASCII_RE = re.compile(r"[^\x00-\x7f]")
# plain text: "**" (a power) and "*" between two operands, with no space around them or a space on both sides;
# elsewhere "**" is Markdown bold ("**194**", "**5** and"), removed later by canonical
_OPERAND_BEFORE, _OPERAND_AFTER = r"(?<=[\w)\]}])", r"(?=[\w(\[{\\])"
_POWER_RE = re.compile(_OPERAND_BEFORE + r"(?:\*\*|\s+\*\*\s+)(?=[\w(\[{\\+-])")
_TIMES_RE = re.compile(_OPERAND_BEFORE + r"(?:(?<!\*)\*(?!\*)|\s+\*\s+)" + _OPERAND_AFTER)
_FUNCTION_RE = re.compile(
    r"(?<![\\A-Za-z])(arcsin|arccos|arctan|sinh|cosh|tanh|sin|cos|tan|cot|sec|csc|ln|log|exp)(?=\s*\()"
)
_CONSTANT_RE = re.compile(r"(?<![\\A-Za-z])(pi|oo|infinity|inf)(?![A-Za-z])")
_SQRT_CALL_RE = re.compile(r"(?<![\\A-Za-z])sqrt\s*(?=\()")
_PLAIN_HINT_RE = re.compile(
    r"\*|(?<![\\A-Za-z])(?:pi|oo|inf|infinity|sqrt|exp|ln|log|sin|cos|tan)(?![A-Za-z])"
)
_CONSTANTS = {"pi": "\\pi ", "oo": "\\infty ", "inf": "\\infty ", "infinity": "\\infty "}


def _matching(s: str, i: int) -> int:
    """Index of the bracket closing ``s[i]`` (``(`` or ``{``), or -1."""
    opener = s[i]
    closer = ")" if opener == "(" else "}"
    depth = 0
    for j in range(i, len(s)):
        if s[j] == opener:
            depth += 1
        elif s[j] == closer:
            depth -= 1
            if depth == 0:
                return j
    return -1


def _braced_argument(s: str, start: int, command: str) -> str:
    """``command`` applied to the bracket group at ``start`` (``(x+1)`` -> ``\\sqrt{x+1}``), rest appended."""
    end = _matching(s, start)
    if end < 0:
        return command + s[start:]
    return command + "{" + s[start + 1 : end] + "}" + s[end + 1 :]


def _roots(s: str) -> str:
    """``√3`` -> ``\\sqrt{3}``, ``√(x+1)`` -> ``\\sqrt{x+1}``, ``∛x`` -> ``\\sqrt[3]{x}`` (right to left: nested)."""
    for m in reversed(list(_ROOT_RE.finditer(s))):
        command = "\\sqrt" + _ROOTS[m.group(1)]
        if m.group(2) is not None:
            s = s[: m.start()] + command + "{" + m.group(2) + "}" + s[m.end() :]
        else:
            s = s[: m.start()] + _braced_argument(s, m.end(), command)
    return s


def _sqrt_calls(s: str) -> str:
    """``sqrt(x+1)`` -> ``\\sqrt{x+1}`` (right to left, so nested calls work)."""
    for m in reversed(list(_SQRT_CALL_RE.finditer(s))):
        s = s[: m.start()] + _braced_argument(s, m.end(), "\\sqrt")
    return s


def _unicode(s: str) -> str:
    s = _SUPERSCRIPT_RUN_RE.sub(lambda m: "^{" + m.group(0).translate(_SUPERSCRIPTS) + "}", s)
    s = _SUBSCRIPT_RUN_RE.sub(lambda m: "_{" + m.group(0).translate(_SUBSCRIPTS) + "}", s)
    s = _VULGAR_RE.sub(lambda m: "\\frac{{{}}}{{{}}}".format(*_VULGAR[m.group(0)]), s)
    if "√" in s or "∛" in s or "∜" in s:
        s = _roots(s)
    return _SYMBOL_RE.sub(lambda m: _SYMBOLS[m.group(0)], s)


def _plain(s: str) -> str:
    s = _POWER_RE.sub("^", s)
    s = _TIMES_RE.sub(" \\\\cdot ", s)
    s = _CONSTANT_RE.sub(lambda m: _CONSTANTS[m.group(1)], s)
    if "sqrt" in s:
        s = _sqrt_calls(s)
    return _FUNCTION_RE.sub(r"\\\1", s)


def to_latex(answer: str) -> str:
    """``answer`` with its Unicode and plain-text (sympy-style) math notation written as LaTeX."""
    if _NON_ASCII_RE.search(answer):
        answer = _unicode(answer)
    if _PLAIN_HINT_RE.search(answer):
        answer = _plain(answer)
    return answer
