"""Pure-string normalisation of answers and their split into items (lists, tuples, sets), shared by both paths.

Nothing here imports sympy. ``canonical`` removes notation that never changes a value (spacing commands,
``\\left``, ``\\dfrac``, degree signs, currency, unit words after a number) and ``parse_items`` splits the result
into a small tree: a bare list (``1, 2``), a bracketed sequence (``(1,2)``, ``[0,1)``), a brace set (``\\{1,2\\}``)
or an atom.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from skyeval.grading.labels import free_letters
from skyeval.grading.notation import to_latex

LIST_KINDS = frozenset({"list", "set"})
MAX_ITEMS = 64

_UNIT_WORDS = (
    "square units|square feet|square inches|square meters|square centimeters|square miles|square yards|"
    "sq units|sq ft|cubic units|cubic feet|cubic inches|cubic meters|cubic centimeters|units|unit|"
    "centimeters|centimetres|centimeter|meters|metres|meter|kilometers|kilometer|millimeters|cm|mm|km|"
    "inches|inch|feet|foot|ft|yards|yard|miles|mile|mph|kg|grams|gram|pounds|pound|lbs|ounces|ounce|"
    "liters|litres|liter|ml|gallons|gallon|seconds|second|sec|minutes|minute|min|hours|hour|hrs|days|day|"
    "weeks|week|months|month|years|year|dollars|dollar|cents|cent|yuan|euros|euro|people|students|"
    "degrees|degree|radians|ways|points|marbles|books|pages|apples|coins|handshakes|games|boxes"
)
_DOUBLE_SLASH_RE = re.compile(r"(?<!\\)\\\\(?=[a-zA-Z]{2,})")
_SPACING_RE = re.compile(r"(?<!\\)\\(?:[!,;:> ]|quad\b|qquad\b|displaystyle\b|textstyle\b|limits\b)|~")
_LEFT_RIGHT_RE = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![a-zA-Z])\s*")
_TEXT_CMD_RE = re.compile(
    r"\\(?:text|textbf|textit|textnormal|mathrm|mathbf|mathit|mbox|operatorname)\s*\{([^{}]*)\}"
)
_DEGREE_RE = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree")
_UNIT_AFTER_NUMBER_RE = re.compile(
    r"(?<=[\d}])\s*(?:(?:\\(?:text|textnormal|textbf|textit|mbox|mathrm)\s*)?\{\s*(?:"
    + _UNIT_WORDS
    + r")\s*\}|"
    r"(?:" + _UNIT_WORDS + r")\b)(?:\s*\^\s*\{?[23]\}?|²|³)?"
)
_SQUARE_UNIT_RE = re.compile(r"(?<=\d)\s*(?:m|cm|km|mm|ft|in)(?:²|³|\^\{?[23]\}?)")
_TRIG_DEGREES_RE = re.compile(r"(?<!\d)(\d+(?:\.\d+)?)\s*(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|°)")
_LEX_RE = re.compile(r"\\(le|ge|lt|gt)(?=[a-z](?![a-z]))")
_PAREN_OR_RE = re.compile(r"\)\s*(?:or|and)\s*\(")
_SUBSCRIPT_RE = re.compile(r"_\{(\w)\}")
_SUPERSCRIPT_RE = re.compile(r"\^\{(\w)\}")
_DIGIT_SPACE_LETTER_RE = re.compile(r"(?<=\d)\s+(?=[A-Za-z](?![A-Za-z]))")
_EMPTY_SET_RE = re.compile(r"\\varnothing\b|\\\{\s*\\\}|\\O\b")
# {x | x < 0}, \{x : x \le 1\}, \{x \in \mathbb{R} \mid x > 2\}: the set of the values meeting the condition
_SET_BUILDER_RE = re.compile(
    r"\\\{\s*([A-Za-z])\s*(?:\\in\s*\\mathbb\{R\}\s*)?(?:\\mid|\||:|\\colon)\s*(.+?)\s*\\\}"
)
_RELATION_RE = re.compile(r"<|>|\\le\b|\\ge\b|\\ne\b")
_TEXT_AFTER_NUMBER_RE = re.compile(
    r"(?<=\d)\s*\\(?:text|textnormal|mbox)\s*\{\s*[a-zA-Z][a-zA-Z ]*\}(?:\^\{?[23]\}?)?$"
)
# (?<!\s) starts a match only at the start of a run of spaces: linear, not quadratic, on long runs
_PERCENT_RE = re.compile(r"(?<!\s)\s*(?:\\%|%|\bpercentage\b|\bpercent\b|\bpct\b)")
_CURRENCY_RE = re.compile(r"\\\$|\$|€|£|¥|\\euro\b|\\pounds\b")
_AND_RE = re.compile(r"(?<!\s)\s*\\text\{\s*(and|or)\s*\}\s*|(?<!\s)\s+(and|or)\s+")
_CHOICE_RE = re.compile(r"\(?([A-Ea-e])\)")
_THOUSANDS_RE = re.compile(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")
_SPACE_THOUSANDS_RE = re.compile(r"[+-]?[1-9]\d{0,2}(?: \d{3})+(?:\.\d+)?")
_SEP_THOUSANDS_RE = re.compile(r"(?<=\d)(?:\{,\}|,\\!|\\,|\\!)\s*(?=\d{3}\b)")
_SINGLE_COMMAND_RE = re.compile(r"(?<!\\)\\[a-zA-Z]")
_TRIG_RE = re.compile(r"\\(?:sin|cos|tan|cot|sec|csc)")
_BRACED_THOUSANDS_RE = re.compile(r"(?<=\{)[1-9]\d{0,2}(?:,\d{3})+(?=\})")
_CASES_RE = re.compile(r"\\begin\{cases\}(.*?)\\end\{cases\}")
_PLUS_INFINITY_RE = re.compile(r"(?:(?<=^)|(?<=[(\[,\s]))\+\s*\\infty")
_PLAIN_RE = re.compile(r"[+-]?\d+(?:[./]\d+)?")


def canonical(answer: str) -> str:
    """Remove notation that never changes the value of an answer; the result is compared or parsed further."""
    s = answer.strip()
    if _PLAIN_RE.fullmatch(s):  # digits, signs, "." and "/" only: nothing to normalise
        return s
    if "\\\\" in s and not _SINGLE_COMMAND_RE.search(s):
        s = s.replace("\\\\", "\\")  # a wholly double-escaped answer ("\\frac{1}{2}")
    s = to_latex(s)  # "x²", "√3", "pi/3", "x**2", "oo"
    s = _DOUBLE_SLASH_RE.sub(r"\\", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    s = s.replace("\n", " ").replace("\t", " ").replace("**", "")  # markdown bold
    s = _LEFT_RIGHT_RE.sub("", s)
    s = s.replace("\\sqrt{}{", "\\sqrt{")  # a known malformed MATH gold: \frac{3\sqrt{}{3}}{2}
    s = _CASES_RE.sub(
        lambda m: m.group(1).replace("\\\\", ",").replace("&", ""), s
    )  # a system: its equations
    s = _SEP_THOUSANDS_RE.sub("", s)
    s = _BRACED_THOUSANDS_RE.sub(lambda m: m.group(0).replace(",", ""), s)
    s = _SPACING_RE.sub(" ", s)
    s = (
        s.replace("\\lt", "<")
        .replace("\\gt", ">")
        .replace("\\leqslant", "\\le")
        .replace("\\geqslant", "\\ge")
    )
    s = s.replace("\\leq", "\\le").replace("\\geq", "\\ge").replace("\\neq", "\\ne")
    s = s.replace("<=", "\\le ").replace(">=", "\\ge ").replace("!=", "\\ne ").replace("≤", "\\le ")
    s = s.replace("≥", "\\ge ").replace("≠", "\\ne ").replace("−", "-").replace("\\cdot", "\\cdot ")
    if _TRIG_RE.search(s):  # degrees inside trigonometry become radians
        s = _TRIG_DEGREES_RE.sub(r"(\\frac{\1\\pi}{180})", s)
    s = _LEX_RE.sub(r"\\\1 ", s)
    s = _DEGREE_RE.sub("", s)
    s = _PERCENT_RE.sub("%", s)
    s = _CURRENCY_RE.sub("", s)
    s = _AND_RE.sub(lambda m: f" {m.group(1) or m.group(2)} ", s)
    s = _SQUARE_UNIT_RE.sub("", s)
    s = _UNIT_AFTER_NUMBER_RE.sub("", s)
    s = _PAREN_OR_RE.sub("), (", s)
    s = _SUBSCRIPT_RE.sub(r"_\1", s)
    s = _SUPERSCRIPT_RE.sub(r"^\1", s)  # R_{\odot}^{2} is R_{\odot}^2
    s = _DIGIT_SPACE_LETTER_RE.sub("", s)  # 2 E_1 is 2E_1 (a space never separates a factor from its number)
    s = _EMPTY_SET_RE.sub(r"\\emptyset", s)
    s = _TEXT_AFTER_NUMBER_RE.sub("", s)
    for _ in range(3):
        s = _TEXT_CMD_RE.sub(lambda m: m.group(1).strip(), s)
    s = " ".join(s.split()).strip().rstrip(".").strip()
    if s.endswith("\\") and not s.endswith("\\\\"):
        s = s[:-1].strip()
    s = _PLUS_INFINITY_RE.sub(r"\\infty", s)  # (1, +\infty)
    s = _strip_outer_braces(s)
    if "((" in s:
        s = _collapse_parentheses(s)
    m = _CHOICE_RE.fullmatch(s)
    if m:
        s = m.group(1).upper()
    s = _set_builder(s)
    if _THOUSANDS_RE.fullmatch(s) or _SPACE_THOUSANDS_RE.fullmatch(s):
        s = s.replace(",", "").replace(" ", "")
    return s


def _set_builder(s: str) -> str:
    """``\\{x \\mid x < 0\\}`` -> ``x < 0`` (an inequality in one variable is compared as its solution set).

    Only a condition that is a relation in the builder's variable alone, with no top-level comma or "and"
    (which would mean a conjunction), is rewritten; any other set-builder stays as written."""
    m = _SET_BUILDER_RE.fullmatch(s)
    if m is None:
        return s
    var, condition = m.group(1), m.group(2)
    if (
        free_letters(condition) != {var}
        or not _RELATION_RE.search(condition)
        or len(split_top(condition) or ()) != 1
    ):
        return s
    return condition


def _collapse_parentheses(s: str) -> str:
    """``((x))`` -> ``(x)``: a pair of parentheses directly around another pair adds nothing (one linear pass)."""
    closing: dict[int, int] = {}
    stack: list[int] = []
    for k, c in enumerate(s):
        if c == "(":
            stack.append(k)
        elif c == ")" and stack:
            closing[stack.pop()] = k
    drop = {i for i, j in closing.items() if s[i + 1 : i + 2] == "(" and closing.get(i + 1) == j - 1}
    if not drop:
        return s
    dropped = drop | {closing[i] for i in drop}
    return "".join(c for k, c in enumerate(s) if k not in dropped)


def _strip_outer_braces(s: str) -> str:
    """``{{ 5 }}`` -> ``5``: braces around the whole answer (never a set ``{1,2}``), in one linear pass."""
    if not (s.startswith("{") and s.endswith("}")) or "," in s:
        return s
    closing: dict[int, int] = {}  # index of each bracket -> index of the bracket closing it (any kind)
    stack: list[int] = []
    for k, c in enumerate(s):
        if c in "([{":
            stack.append(k)
        elif c in ")]}" and stack:
            closing[stack.pop()] = k
    i, j = 0, len(s) - 1
    while i < j and s[i] == "{" and s[j] == "}" and closing.get(i) == j:
        i, j = i + 1, j - 1
        while i <= j and s[i].isspace():
            i += 1
        while j >= i and s[j].isspace():
            j -= 1
    return s[i : j + 1]


_CHOICE_LETTERS = frozenset("ABCDE")
# "(A) 5", "(A)5" (from "\textbf{(A) }5"), "A) 5": a choice label A-E, then its value; not "(A)^2", "(A) \cup (B)"
_CHOICE_VALUE_RE = re.compile(
    r"(?:\(([A-E])\)\s*|([A-E])\)\s+)"
    r"(?![\s^_*/=+)!,;:<>|.'])(?!\\(?:cup|cap|cdot|times|div|le|ge|ne|setminus|pm|mp|in|to)\b)"
    r"(?!.*(?:\([A-E]\)|\b[A-E]\)))(.+)"  # one label only: "(A) 5, (B) 6" is two choices
)


def split_choice(s: str) -> tuple[str, str] | None:
    """``(A) 5`` -> ``("A", "5")``: a canonical answer that is a choice label followed by its value."""
    m = _CHOICE_VALUE_RE.fullmatch(s)
    if m is None:
        return None
    value = canonical(m.group(3))
    return ((m.group(1) or m.group(2)), value) if value and value not in _CHOICE_LETTERS else None


def resolve_choices(pred: str, gold: str) -> tuple[str, str] | bool:
    """Multiple choice with a value, on canonical answers: a verdict, or the (pred, gold) pair to compare.

    ``(A) 5`` vs a bare choice letter compares the letters (``A`` equal, ``B`` not); vs another labelled value
    the letters must agree and the values are compared; vs anything else (the gold ``5``) the value is compared.
    Identical strings, before or after that, are equal.
    """
    if pred == gold:
        return True
    cp, cg = split_choice(pred), split_choice(gold)
    pair: tuple[str, str] | bool
    if cp is not None and cg is not None:
        pair = (cp[1], cg[1]) if cp[0] == cg[0] else False
    elif cp is not None:
        pair = cp[0] == gold if gold in _CHOICE_LETTERS else (cp[1], gold)
    elif cg is not None:
        pair = cg[0] == pred if pred in _CHOICE_LETTERS else (pred, cg[1])
    else:
        pair = (pred, gold)
    if isinstance(pair, tuple) and pair[0] == pair[1]:
        return True
    return pair


@dataclass(frozen=True)
class Item:
    """One parsed answer: an ``atom`` (text), or ``list``/``set`` (unordered) / ``seq`` (ordered, with brackets)."""

    kind: str
    text: str = ""
    items: tuple[Item, ...] = ()
    open: str = ""
    close: str = ""


_OPENERS = {"(": ")", "[": "]", "{": "}"}


def _closing(s: str, i: int) -> int:
    """Index of the bracket closing the one at ``i`` (any of ``([{``, counting all kinds), or -1."""
    depth = 0
    for j in range(i, len(s)):
        c = s[j]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return j
    return -1


def split_top(s: str, max_depth: int = 64, seps: str = ",;") -> list[str] | None:
    """Split on top-level ``,``/``;``/``and``/``or``; None when brackets are unbalanced or nested too deep."""
    parts: list[str] = []
    depth, start, i = 0, 0, 0
    while i < len(s):
        c = s[i]
        if c in "([{":
            depth += 1
            if depth > max_depth:
                return None
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and c in seps:
            parts.append(s[start:i])
            start = i + 1
        elif depth == 0 and c == " " and seps == ",;" and s.startswith((" and ", " or "), i):
            parts.append(s[start:i])
            i += 4 if s.startswith(" or ", i) else 5
            start = i
            continue
        i += 1
    if depth < 0:
        return None
    parts.append(s[start:])
    return [p.strip() for p in parts if p.strip()]


def _parse_one(s: str, depth: int) -> Item | None:
    s = s.strip()
    if depth > 8:
        return None
    for left, right, kind in (
        ("\\{", "\\}", "set"),
        ("(", ")", "seq"),
        ("[", "]", "seq"),
        ("(", "]", "seq"),
        ("[", ")", "seq"),
        ("{", "}", "set"),
    ):
        if not (s.startswith(left) and s.endswith(right)):
            continue
        inner = s[len(left) : len(s) - len(right)]
        if kind == "seq" and _closing(s, 0) not in (len(s) - 1, -1):
            continue
        if kind == "set" and left == "{" and _closing(s, 0) != len(s) - 1:
            continue
        parts = split_top(inner)
        if parts is None or len(parts) > MAX_ITEMS:
            return None
        if kind == "seq" and len(parts) < 2:
            continue  # "(5)" is just 5
        children = [_parse_one(p, depth + 1) for p in parts]
        if any(c is None for c in children):
            return None
        return Item(kind, items=tuple(c for c in children if c is not None), open=left, close=right)
    return Item("atom", text=s)


def parse_items(s: str) -> Item | None:
    """The item tree of a canonical answer, or None when it is malformed or too large."""
    groups = split_top(s, seps=";")
    if groups is not None and len(groups) > 1 and all(len(split_top(g, seps=",") or ()) > 1 for g in groups):
        # "p=5,q=2;p=7,q=2": solutions separated by ";", the values of one solution by ","
        seqs = [_parse_one(f"({g})", 1) for g in groups]
        if any(x is None for x in seqs) or len(seqs) > MAX_ITEMS:
            return None
        return Item("list", items=tuple(x for x in seqs if x is not None))
    parts = split_top(s)
    if not parts or len(parts) > MAX_ITEMS:
        return None
    if len(parts) == 1:
        return _parse_one(parts[0], 0)
    children = [_parse_one(p, 1) for p in parts]
    if any(c is None for c in children):
        return None
    return Item("list", items=tuple(c for c in children if c is not None))
