"""LaTeX answers as MathML for the HTML report, converted when the report is built (no JS math library, no
network at view time).

``latex2mathml`` (the ``report`` extra) does the conversion; its output is then checked before it may enter the
page: it must parse as XML, hold only MathML elements and presentation attributes of an allow-list, give every
fraction, script and root its operands, and name no command the converter did not know (it passes those through
as ``<mi>\\foo</mi>``). Anything else, and any input over ``MAX_LATEX_CHARS``, is shown as escaped text instead:
a model's answer that cannot be rendered faithfully is shown as written, never half-rendered and never raised.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections.abc import Callable

from skyeval.errors import require

MAX_LATEX_CHARS = 300
"""Longer answers are shown as text: a bound on conversion time (pure Python, ~20 ms at this size) and page size."""

_NS = "{http://www.w3.org/1998/Math/MathML}"
# Elements whose children are operands in a fixed number (a fraction without denominator renders as a lie).
_ARITY = {
    "mfrac": 2,
    "msup": 2,
    "msub": 2,
    "mroot": 2,
    "munder": 2,
    "mover": 2,
    "msubsup": 3,
    "munderover": 3,
}
_ELEMENTS = frozenset(
    {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msqrt", "mstyle", "menclose", "mpadded"}
    | {"mphantom", "mtable", "mtr", "mtd", "none", *_ARITY}
)
_ATTRIBUTES = frozenset(
    {
        "display",
        "mathvariant",
        "mathsize",
        "stretchy",
        "fence",
        "form",
        "separator",
        "accent",
        "movablelimits",
    }
    | {"lspace", "rspace", "minsize", "maxsize", "width", "height", "depth", "voffset", "linebreak"}
    | {"displaystyle", "scriptlevel", "notation", "linethickness", "columnalign", "columnlines"}
    | {"columnspacing", "rowlines", "rowspacing"}
)
_TOKENS = frozenset({"mi", "mn", "mo", "ms", "mtext"})


def to_mathml(latex: str | None) -> str | None:
    """``latex`` as one checked ``<math>`` element (HTML text), or None: show the answer as escaped text."""
    if not latex or not latex.strip() or len(latex) > MAX_LATEX_CHARS:
        return None
    require("latex2mathml", extra="report", what="MathML answers in the HTML report")
    from latex2mathml.converter import convert

    try:
        raw = convert(latex)
    # latex2mathml raises its own errors and, on odd input, IndexError, KeyError, RecursionError...: whatever it
    # raises, the answer is shown as text (the documented fallback), so no error type may escape here.
    except Exception:  # noqa: BLE001
        return None
    try:
        root = ET.fromstring(raw)
    except ET.ParseError:  # e.g. a raw "&" that the converter copied through
        return None
    return _serialise(root) if _faithful(root) else None


def mathml_converter() -> Callable[[str | None], str | None]:
    """``to_mathml`` remembering each answer it converted (a report repeats the same answers many times)."""
    cache: dict[str | None, str | None] = {}

    def convert(latex: str | None) -> str | None:
        if latex not in cache:
            cache[latex] = to_mathml(latex)
        return cache[latex]

    return convert


def _name(element: ET.Element) -> str:
    return element.tag[len(_NS) :] if element.tag.startswith(_NS) else ""


def _faithful(element: ET.Element) -> bool:
    """Only allowed elements and attributes, operands complete, no command passed through unconverted."""
    name = _name(element)
    if name not in _ELEMENTS or any(a not in _ATTRIBUTES for a in element.attrib):
        return False
    if name in _ARITY and len(element) != _ARITY[name]:
        return False
    if name in _TOKENS and (element.text or "").lstrip().startswith("\\"):
        return False
    return all(_faithful(child) for child in element)


def _serialise(element: ET.Element) -> str:
    """HTML for a checked tree: names without the namespace (HTML puts ``<math>`` in it), text escaped."""
    name = _name(element)
    attrs = "".join(f' {k}="{html.escape(v)}"' for k, v in sorted(element.attrib.items()))
    inner = html.escape(element.text or "", quote=False) + "".join(
        _serialise(child) + html.escape(child.tail or "", quote=False) for child in element
    )
    return f"<{name}{attrs}>{inner}</{name}>"
