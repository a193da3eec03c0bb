"""Final-answer extraction from model responses (policy: docs/grading.md, "Extraction").

A response is first split at its reasoning block (``split_thinking``): the text after the last ``</think>`` is
the final part; a ``<think>`` that never closed leaves no final part, and its text is no answer source. In the
final part a closed ``<answer>…</answer>`` (the R1-Zero format) holds the answer. Otherwise the answer is, in
order: the last ``\\boxed{…}``/``\\fbox{…}`` (boxes joined only by ``,``/``;``/"and"/"or" glue, or under
distinct variable labels, form one multi-part answer), unless a later "final answer is …"/"Answer: …" marker
states a value; the text after such a marker; a short reply taken whole (unless it did not finish); a closing
"Therefore … is X." sentence; and, for a response known to have finished, a result in bold ending its last line.
Ordinal suffixes and unit annotations after a number are not part of the answer (``12^{\\text{th}}`` -> ``12``,
``300 \\text{ km/s}`` -> ``300``). Every scan is linear in the input length (no backtracking regexes over the
whole response) and nothing here raises on any ``str`` input.

Over 400 lines because it is one pipeline of small, ordered rules over one input; splitting it would scatter
the order that defines the policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ExtractConfig:
    """How to find the final answer in a response."""

    last_number_fallback: bool = False
    """Take the last number of a long response that has no marker (off: it grades truncated responses)."""
    short_answer_chars: int = 160
    """A response this short (one or two lines) with no marker is itself the answer."""
    max_boxes: int = 64
    """Only the last this-many ``\\boxed`` commands are parsed (bounds the work on adversarial inputs)."""
    open_thinking: bool = False
    """Lenient: read an answer from inside a ``<think>`` that never closed (off: such a response has none, and
    ``grade`` counts it ``incomplete_reasoning``)."""


@dataclass(frozen=True)
class Reasoning:
    """A response split at its reasoning block: ``thinking`` (inside ``<think>…</think>``) and ``final`` (after
    ``</think>``, or the whole text when there is no block). ``final`` is None when a ``<think>`` was opened and
    never closed: the reasoning did not finish, so the response has no final part."""

    thinking: str
    final: str | None


_THINK_START = "<think>"
_THINK_END = "</think>"


def split_thinking(text: str) -> Reasoning:
    """Split ``text`` at its last ``</think>`` (an opening ``<think>`` may sit in the prompt); see ``Reasoning``."""
    head, sep, tail = text.rpartition(_THINK_END)
    if sep:
        return Reasoning(head.replace(_THINK_START, ""), tail)
    start = text.find(_THINK_START)
    if start >= 0:
        return Reasoning(text[start + len(_THINK_START) :].replace(_THINK_START, ""), None)
    return Reasoning("", text)


def _answer_block(text: str) -> str | None:
    """The content of the last closed ``<answer>…</answer>`` (two reverse finds: linear), else None."""
    end = text.rfind("</answer>")
    start = text.rfind("<answer>", 0, end) if end >= 0 else -1
    return text[start + len("<answer>") : end] if start >= 0 else None


_BOX_RE = re.compile(r"\\(?:boxed|fbox)\b")
# "Final answer: 5", "the answer is 5", "Answer: 5", "Answer $5$" (but not "to find the answer, we...")
_MARKER_RE = re.compile(
    r"(?i)(?:final\s+answer\b\s*(?:is\b)?\s*[:：]?"
    r"|answer\s*(?:is|was|should\s+be|would\s+be|will\s+be)\b\s*[:：]?"
    r"|answer(?:\*{1,2}|_{1,2})?\s*[:：]"  # also Markdown's "**Answer**: 5"
    r"|answer\b(?=\s*(?:\$|\\\(|\\\[)))"
)
_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_MATH_RE = re.compile(
    r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\(([^\n]+?)\\\)|(?<!\\)\$([^$\n]+?)(?<!\\)\$", re.DOTALL
)
_COPULA_RE = re.compile(r"(?i)(?:\bis|\bare|\bit's|\bequals|\bbe|\bby)\s+|(?<=[a-z])\s+:\s*|(?<=[a-z]):\s+")
_HAS_VALUE_RE = re.compile(r"[\d\\^]|^\(?[A-Ea-e]\)?\.?$")


_BRACE_RE = re.compile(r"\\[\\{}]|[{}]")  # a line break ``\\`` or an escaped brace (both skipped), or a brace


def _brace_groups(text: str, start: int, last: int) -> dict[int, int]:
    """For each unescaped ``{`` at or after ``start``: the index just past the ``}`` closing it (unclosed ones
    are absent). One linear pass shared by all boxes (so many unclosed boxes never rescan the text); it stops
    once every brace opened before the balance point past ``last`` is closed."""
    closers: dict[int, int] = {}
    stack: list[int] = []
    for m in _BRACE_RE.finditer(text, start):
        c = m.group()
        if c == "{":
            stack.append(m.start())
        elif c == "}" and stack:
            closers[stack.pop()] = m.end()
            if not stack and m.start() > last:
                break
    return closers


def _boxes(text: str, max_boxes: int) -> list[tuple[int, int, str]]:
    """Top-level ``\\boxed``/``\\fbox`` commands as (start, end, content), left to right; nested ones skipped."""
    starts = [m for m in _BOX_RE.finditer(text)][-max_boxes:]
    found: list[tuple[int, int, str]] = []  # (start, end, content); empty boxes are skipped
    closers = _brace_groups(text, starts[0].end(), starts[-1].end()) if starts else {}
    end_of_last = -1
    for m in starts:
        if m.start() < end_of_last:
            continue
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            close = closers.get(i, -1)
            if close < 0:
                continue
            if text[i + 1 : close - 1].strip():
                found.append((m.start(), close, text[i + 1 : close - 1]))
            end_of_last = close
        else:  # "\boxed 5": one token
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in "$,;":
                j += 1
            token = text[i:j].rstrip(".")
            if token:
                found.append((m.start(), j, token))
                end_of_last = j
    return found


def last_boxed(text: str) -> str | None:
    """The content of the last non-empty top-level ``\\boxed{…}`` of ``text`` (e.g. the gold of a Minerva
    solution, by the Qwen2.5-Math harness's convention), else None."""
    boxes = _boxes(text, ExtractConfig.max_boxes)
    return boxes[-1][2].strip() if boxes else None


# What may join two boxes into one answer: spacing, math delimiters, list bullets and ",", ";", "and", "or".
_GLUE_TOKEN = (
    r"\s|,|;|&|\\\\|\$|\\[()\[\]]|\\(?:qquad|quad|[,;:! ])(?![a-zA-Z])|~|\b(?:and|or)\b"
    r"|\\text\s*\{\s*(?:and|or|,|;)?\s*\}|\n[ \t]*[*\u2022-](?=[ \t])"
)
_GLUE_ONLY_RE = re.compile(rf"(?i)(?:{_GLUE_TOKEN})*")
# A label right before a box: a variable ("x = ", "$y=", "f(1) = ", "AB = ", "\theta_1 &= ") or, at the start
# of a line, a short phrase and a colon ("* Minimum elements: $")
_LABEL_BEFORE_RE = re.compile(
    r"(?:(?<![A-Za-z\\])((?:[A-Za-z]{1,3}|\\[A-Za-z]+)(?:_\{[\w\\]+\}|_\w)?'*(?:\s*\(\s*[\w\\]+\s*\))?)\s*&?="
    r"|(?<![^\n])[ \t]*(?:[*\u2022-][ \t]+)?((?:[A-Za-z][\w'-]*[ \t]+){0,3}[A-Za-z][\w'-]*)[ \t]*:)"
    r"\s*(?:\$|\\\(|\\\[|\s)*$"
)
# A label after a box, before the glue to the next one: count nouns ("$\boxed{7}$ stuffed goats and ...") or a
# part reference ("\boxed{(3, 3)} \text{ for part (a) and } \boxed{(1, 1)}")
_AFTER_LABEL_RE = re.compile(
    r"(?:\$|\\\)|\\\])?[ \t]*(\\text\s*\{)?[ \t]*(?:((?:[a-z][a-z'-]*[ \t]+){0,2}[a-z][a-z'-]*)"
    r"|(?:(?:for|in)[ \t]+)?(?:(?:part|case|question)[ \t]*)?\([ \t]*(?:[a-z]|[ivx]{1,4}|\d{1,2})[ \t]*\))"
    r"(?=[ \t]*(?:,|;|and\b))"
)
_NOT_NOUNS = frozenset(
    "is are was were be been then so thus hence but not no or wrong correct incorrect right instead rather "
    "actually final finally first initially later earlier now wait oops correction corrected gives gave get got "
    "becomes became which that this it we i".split()
)
_MAX_GAP = 200
_LABEL_WINDOW = 60


def _label(text: str, start: int, end: int) -> tuple[int, str] | None:
    """Where the label ending ``text[start:end]`` (a box's label) starts, and its name (spacing and case
    ignored); searched in the last 60 characters."""
    m = _LABEL_BEFORE_RE.search(text, max(start, end - _LABEL_WINDOW), end)
    if m is None:
        return None
    name = m.group(1) if m.group(1) is not None else m.group(2).lower()
    return m.start(), "".join(name.split())


def _box_cluster(text: str, boxes: list[tuple[int, int, str]]) -> str:
    """The last box, joined with the boxes before it that pure glue, or distinct labels, connect to it."""
    labels = [_label(text, boxes[k - 1][1] if k else 0, boxes[k][0]) for k in range(len(boxes))]
    parts = [boxes[-1][2]]
    last = labels[-1]
    seen = {last[1]} if last else set()
    for k in range(len(boxes) - 1, 0, -1):
        gap_start, gap_end = boxes[k - 1][1], boxes[k][0]
        if gap_end - gap_start > _MAX_GAP:
            break
        glue = text[gap_start:gap_end]
        after = _AFTER_LABEL_RE.match(text, gap_start, gap_end)
        if after and not (after.group(2) and _NOT_NOUNS.intersection(after.group(2).lower().split())):
            gap_start = after.end()
            # the rest of a "\text{ for part (a) and }" closes its brace
            glue = text[gap_start:gap_end].replace("}", " ", 1) if after.group(1) else text[gap_start:gap_end]
        here, before = labels[k], labels[k - 1]
        if _GLUE_ONLY_RE.fullmatch(glue) is None:
            if here is None or before is None or before[1] in seen or here[0] < gap_start:
                break
            if _GLUE_ONLY_RE.fullmatch(text, gap_start, here[0]) is None:
                break
        if before is not None:
            seen.add(before[1])
        parts.append(boxes[k - 1][2])
    return ", ".join(p.strip() for p in reversed(parts))


def _strip_math(text: str) -> str:
    """Remove one layer of ``$…$``, ``\\(…\\)``, ``\\[…\\]`` around a whole answer, and a trailing period."""
    s = text.strip()
    for _ in range(3):
        before = s
        s = s.rstrip(" .")
        for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if s.startswith(left) and s.endswith(right) and len(s) >= len(left) + len(right):
                inner = s[len(left) : len(s) - len(right)]
                if left == "$" and "$" in inner.replace("\\$", ""):
                    continue
                s = inner.strip()
                break
        if s == before:
            break
    return s


def _math_segments(text: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None).strip() for m in _MATH_RE.finditer(text)]


_NOISE_RE = re.compile(r"(?i)\bI hope (?:it|this) is correct\.?|<\|[a-z_]+\|>.*$|</?s>", re.DOTALL)
_SEGMENT_GLUE_RE = re.compile(r"(?i)(?:\s|,|;|\\?\"|\band\b|\bor\b|\\quad|\\text\{\s*(?:and|or)\s*\})*")
_LEADING_VALUE_RE = re.compile(r"\$[^$]+\$|-?[\d.,/]*\d")


def _joined_segments(text: str) -> str | None:
    """``$1$ and $2$`` -> ``1, 2``: math segments separated only by "and"/"or"/commas form one answer."""
    segments = _math_segments(text)
    if len(segments) < 2:
        return None
    if _SEGMENT_GLUE_RE.fullmatch(_MATH_RE.sub(" ", text).strip(" .")) is None:
        return None
    return ", ".join(segments)


# "(A) $5$", "\textbf{(B)} 7": a choice label and its value form one answer (not just the last "$…$")
_CHOICE_LEAD_RE = re.compile(r"(?:\\(?:textbf|text|mathrm|mathbf)\{\s*)?\([A-E]\)|[A-E]\)\s")
# "C, not B", "(C) since B fails", "**C**. The others...": a choice letter, then prose that only argues for it
_LEADING_CHOICE_RE = re.compile(
    r"\s*(?:\*\*|\$|\\text(?:bf)?\{)*\s*(?:\(([A-E])\)|([A-E])(?=[\s*$}]*[,.;:!]|[\s*$}]*$))[\s*$}]*[,.;:!]?\s*"
)
_PROSE_START_RE = re.compile(r"(?i)(?!(?:and|or)\b)[a-z]{2,}\b")


def _leading_choice(text: str) -> str | None:
    """The choice letter that opens ``text`` when only prose follows it (``C, not B`` -> ``C``), else None."""
    m = _LEADING_CHOICE_RE.match(text)
    if m is None:
        return None
    rest = text[m.end() :]
    if rest.strip(" .") and _PROSE_START_RE.match(rest) is None:
        return None
    return m.group(1) or m.group(2)


def _from_sentence(text: str) -> str:
    """The answer inside one short sentence: after the last "is", else its last math segment, else all of it."""
    s = _NOISE_RE.sub("", text).strip().rstrip(".").strip()
    if not s:
        return s
    joined = _joined_segments(s)
    if joined is not None:
        return joined
    for copula in reversed(list(_COPULA_RE.finditer(s))):
        tail = s[copula.end() :].strip()
        if not tail or not _HAS_VALUE_RE.search(tail):
            continue
        choice = _leading_choice(tail)
        if choice is not None:
            return choice
        if _CHOICE_LEAD_RE.match(tail):
            return _strip_math(tail)
        joined = _joined_segments(tail)
        if joined is not None:
            return joined
        segments = _math_segments(tail)
        if segments:
            return segments[0]
        lead = _LEADING_VALUE_RE.match(tail)
        rest = tail[lead.end() :].split() if lead else []
        # "12 distinct sequences" -> 12; but "1 : 2" and "3 + 4" stay whole
        if lead and len(rest) >= 2 and rest[0][:1] not in ":=+-*/^<>" and not rest[0][:1].isdigit():
            return _strip_math(lead.group(0)).rstrip(".,")
        return _strip_math(tail)
    segments = _math_segments(s)
    if segments and not _CHOICE_LEAD_RE.match(s):
        return segments[-1]
    return _strip_math(s)


_CONCLUSION_RE = re.compile(
    r"(?i)\b((?:therefore|thus|hence|so|in conclusion)\b[^.!\n]*?(?:\bis|\bare|\bby|=)[^\n]*)$"
)


# a word of prose: letters not part of a LaTeX command ("\\frac") and outside math segments
_PROSE_WORD_RE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_WORD_RE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]+")
_MAX_PROSE_WORDS = 3
_MAX_STATED_CHARS = 160


def _states_value(answer: str) -> bool:
    """True when ``answer`` is a short value (a digit, LaTeX or a choice letter; at most three words of prose),
    not a remark about the answer ("clearly highlighted", "to the problem")."""
    if not answer or not _HAS_VALUE_RE.search(answer) or len(answer) > _MAX_STATED_CHARS:
        return False
    return len(_PROSE_WORD_RE.findall(_MATH_RE.sub(" ", answer))) <= _MAX_PROSE_WORDS


def _is_remark(reply: str) -> bool:
    """True for a short reply that is a remark, not an answer: no digit, LaTeX or choice letter, and more than
    three words of plain text ("I am not sure"); "Evelyn", "no solution" and "\\text{…}" stay answers."""
    return _HAS_VALUE_RE.search(reply) is None and len(_WORD_RE.findall(reply)) > _MAX_PROSE_WORDS


def _conclusion(text: str) -> str | None:
    """The value stated by a final "Therefore, … is X." sentence (a marker, not a last-number guess).

    Only a short, value-like X counts: a run of prose after "so … is" (a response cut mid-sentence, say) is
    no answer, rather than hundreds of characters for the equivalence check to parse.
    """
    tail = _NOISE_RE.sub("", text[-600:]).rstrip().rstrip(".")
    m = _CONCLUSION_RE.search(tail)
    if m is None:
        return None
    answer = _from_sentence(m.group(1))
    return answer if _states_value(answer) else None


def _last_marker(text: str, start: int = 0) -> re.Match[str] | None:
    """The last "answer" marker at or after ``start`` (found with one C-level rfind, then one regex match)."""
    i = text.lower().rfind("answer", start)
    if i < 0:
        return None
    for m in _MARKER_RE.finditer(text, max(start, i - 16)):
        if m.end() > i:
            return m
    return None


_MARKDOWN_LEAD_RE = re.compile(r"^(?:[*_]{1,3}(?:[ \t]*[:：])?(?=\s|$)\s*)+")
_STATEMENT_END_RE = re.compile(r"(?i)(?:\bis|\bwas|\bbe|[:：])\s*$")


def _after_marker(text: str, marker: re.Match[str] | None) -> str | None:
    """The answer after the last "final answer is"/"answer:" marker, up to the end of its paragraph."""
    if marker is None:
        return None
    rest = _NOISE_RE.sub("", text[marker.end() : marker.end() + 2000]).lstrip()
    rest = _MARKDOWN_LEAD_RE.sub("", rest)  # "**Final Answer**: 17", "**Answer:** 17"
    para = rest.split("\n\n", 1)[0] if rest.strip() else ""
    if not para.strip() or _BOX_RE.search(para):
        return None  # nothing stated, or only an empty/unclosed box
    choice = _leading_choice(para.split("\n")[0])
    if choice is not None:
        return choice  # "The answer is C, not B." -> C
    joined = _joined_segments(para)
    if joined is not None:
        return joined
    segments = _math_segments(para)
    if segments and para.lstrip().startswith(("$", "\\(", "\\[")):
        return segments[0]
    answer = _from_sentence(para.split("\n")[0] if "$$" not in para and "\\[" not in para else para)
    numbers: list[str] = _NUMBER_RE.findall(answer)
    if len(answer.split()) > 2 and len(numbers) == 1 and "$" not in answer and "\\" not in answer:
        return numbers[0]  # "Final Answer: Jane started 3 hours ago" -> 3
    return _strip_emphasis(answer) or None


def _marker_replaces_box(text: str, marker: re.Match[str], answer: str) -> bool:
    """A marker after the last box replaces it only when it states a value: "… the final answer is $3$", not
    "ensuring that the final answer is clearly highlighted" or "This is the final answer to the problem"."""
    after = _MARKDOWN_LEAD_RE.sub("", text[marker.end() : marker.end() + 40].lstrip(" \t"))
    stated = _STATEMENT_END_RE.search(marker.group(0)) is not None or after.startswith(
        ("\n", "$", "\\(", "\\[")
    )
    return stated and _states_value(answer)


def _strip_emphasis(answer: str) -> str:
    """``**17**`` / ``*17*`` -> ``17``: Markdown emphasis around a whole answer is not part of it."""
    s = answer.strip()
    while len(s) > 2 and s[0] in "*_" and s[-1] == s[0]:
        s = s[1:-1].strip()
    tail = len(s) - len(s.rstrip("*"))
    return s[: len(s) - tail].rstrip() if tail and s.count("*") == tail else s  # "**Answer: 12**" -> 12


_RESULT_LEAD_RE = re.compile(r"(?i)(?:=|:|≈|\\approx|\bis|\bare|\bequals|\bbe)\s*$")


def _bold_last_line(text: str) -> str | None:
    """``… m + n = 25 + 169 = **194**``: the bold value that ends the last line, after "=", ":" or "is" (or
    alone on the line). Only used for a response known to have finished (see ``extract_answer``)."""
    stripped = text.rstrip()
    line = stripped[stripped.rfind("\n") + 1 :].rstrip(" .!")
    if not line.endswith("**") or len(line) < 5:
        return None
    start = line.rfind("**", 0, len(line) - 2)
    if start < 0:
        return None
    value = _strip_math(line[start + 2 : -2])
    lead = line[max(0, start - 200) : start].strip(" \t*-")
    if "*" in value or (lead and _RESULT_LEAD_RE.search(lead) is None):
        return None
    return value if _states_value(value) else None


def _is_short_reply(text: str, config: ExtractConfig) -> bool:
    return len(text) <= config.short_answer_chars and text.count("\n") <= 4 and not _BOX_RE.search(text)


def _extract(text: str, config: ExtractConfig, finished: bool | None) -> str | None:
    boxes = _boxes(text, config.max_boxes)
    marker = _last_marker(text, boxes[-1][1] if boxes else 0)
    if boxes:
        marked = _after_marker(text, marker) if marker is not None else None
        if marker is not None and marked and _marker_replaces_box(text, marker, marked):
            return marked
        return _strip_math(_box_cluster(text, boxes))
    marked = _after_marker(text, marker)
    if marked:
        return marked
    stripped = text.strip()
    if stripped and finished is not False and _is_short_reply(stripped, config):
        whole = _from_sentence(stripped)
        return whole if whole and not _is_remark(whole) else None
    concluded = _conclusion(text)
    if concluded:
        return concluded
    if finished:
        bold = _bold_last_line(text)
        if bold:
            return bold
    if config.last_number_fallback:
        numbers = _NUMBER_RE.findall(text[-2000:])
        return numbers[-1] if numbers else None
    return None


_ORDINAL_RE = re.compile(
    r"(?<![\d.])(\d+)\s*(?:\^\s*\{\s*(?:\\(?:text|mathrm|textrm)\s*\{\s*(st|nd|rd|th)\s*\}|\\rm\s*(st|nd|rd|th)"
    r"|(st|nd|rd|th))\s*\}|\^\s*\\(?:text|mathrm|textrm)\s*\{\s*(st|nd|rd|th)\s*\}"
    r"|\\(?:text|textrm|mathrm|textsuperscript)\s*\{\s*(st|nd|rd|th)\s*\}|(st|nd|rd|th))(?![A-Za-z])"
)


def _ordinal_suffix(number: str) -> str:
    n = int(number[-2:])
    if 10 < n < 14:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _drop_ordinal(m: re.Match[str]) -> str:
    suffix = next(g for g in m.groups()[1:] if g is not None)
    return m.group(1) if suffix == _ordinal_suffix(m.group(1)) else m.group(0)


# Units after a number at the end of an answer (or of a list item): marked-up words ("\text{ km/s}",
# "\mathrm{~mL}", "\text{ kcal m}^{-2} \text{ yr}^{-1}") and plain compound or multi-letter symbols ("g/mol").
# each word is matched whole (the lookahead): no two ways to split a run of letters, so no backtracking blow-up
_UNIT_TOKEN = r"(?:[A-Za-zÅμµΩ°]+(?![A-Za-zÅμµΩ°])\.?|/|·|-)"
_UNIT_TEXT_RE = re.compile(rf"[~\s]*{_UNIT_TOKEN}(?:[~\s]*{_UNIT_TOKEN})*[~\s]*")
_NOT_UNIT_WORDS = frozenset(
    "and or not no nor is are if for where when than more less least most only except e i d".split()
)
_UNIT_SYMBOL = (
    r"(?:[kMGmµμnpc]?(?:m|g|s|L|Hz|N|J|eV|W|V|A|K|mol|cal|Pa|C|T|Ω)|mL|ml|rad|sr|atm|yr|yrs|hr|hrs|h|min"
    r"|Å|AU|pc|kpc|Mpc|ly)(?:\^\{?-?\d\}?)?"
)
_PLAIN_UNIT_RE = re.compile(
    rf"\s+(?:{_UNIT_SYMBOL}(?:\s*(?:/|·|\\cdot)\s*{_UNIT_SYMBOL})+"
    r"|(?:[kMGmµμnpc]?(?:Hz|eV|mol|cal|Pa)|mL|atm|Å|AU|kpc|Mpc))\s*$"
)
_MARKUP_UNIT_RE = re.compile(
    r"(?:\s|\\[,;:! ]|~)*\\(?:text|textrm|mathrm|mbox|rm)\s*\{([^{}]*)\}(?:\s*\^\s*\{?-?\d+\}?)?\s*$"
)
_NUMBER_END_RE = re.compile(r"(?:\d|\\pi|\})\s*$")
_TEXT_GROUP_END_RE = re.compile(r"\\(?:text|textrm|mathrm|mbox|rm|textbf|mathbf)\s*\{[^{}]*\}\s*$")
_ITEM_SPLIT_RE = re.compile(r"(\s*(?<!\\)[,;]\s*)")


_TIME_OF_DAY_RE = re.compile(r"(?i)[~\s]*[ap]\.?\s*m\.?[~\s]*")


def _is_unit_text(content: str) -> bool:
    """Unit words ("km/s", "~mL", "kcal m"): letters, "/", "·"; not a time of day ("p.m."), "and", "\\mathrm{i}"."""
    if _UNIT_TEXT_RE.fullmatch(content) is None or _TIME_OF_DAY_RE.fullmatch(content):
        return False
    words = re.findall(r"[A-Za-z]+", content)
    return bool(words) and not any(w.lower() in _NOT_UNIT_WORDS for w in words) and len(words) <= 4


def _strip_units(item: str) -> str:
    """``300 \\text{ km/s}`` -> ``300``: a chain of unit annotations after a number (never ``\\mathrm{i}``)."""
    s = item.rstrip()
    start = len(s)
    for _ in range(4):  # "\\text{ kcal m}^{-2} \\text{ yr}^{-1}": one group per round
        m = _MARKUP_UNIT_RE.search(s, max(0, start - 120), start)
        if m is None or not _is_unit_text(m.group(1)):
            m = _PLAIN_UNIT_RE.search(s, max(0, start - 60), start) if start == len(s) else None
        if m is None:
            break
        start = m.start()
    head = s[:start]
    if start == len(s) or _NUMBER_END_RE.search(head) is None or _TEXT_GROUP_END_RE.search(head):
        return s
    return head.rstrip()


def _clean(answer: str) -> str:
    """Drop ordinal suffixes and trailing units from an extracted answer (from each item of a list)."""
    s = _ORDINAL_RE.sub(_drop_ordinal, answer)
    if len(s) > 2000 or not any(c.isalpha() for c in s):
        return s
    items = _ITEM_SPLIT_RE.split(s)
    cleaned = "".join(_strip_units(p) if k % 2 == 0 else p for k, p in enumerate(items))
    return cleaned if cleaned.strip() else s


def extract_answer(
    text: str, config: ExtractConfig = ExtractConfig(), *, finished: bool | None = None
) -> str | None:
    """The final answer of a model response, or None when it states none (see the module docstring).

    ``finished`` says whether the response ended by itself (True), was cut off (False: e.g. ``finish_reason ==
    "length"``) or is not known (None). A reply that did not finish is never taken whole as a short answer; a
    bold result on the last line counts only when it is known to have finished; None keeps the short-reply
    rule (files of bare answers) but not the bold-line one.
    """
    if not isinstance(text, str):
        text = str(text)
    parts = split_thinking(text)
    if parts.final is None:  # the reasoning never closed: no final part to take an answer from
        if not config.open_thinking:
            return None
        answer = _extract(parts.thinking, config, finished)
        return _clean(answer) if answer is not None else None
    block = _answer_block(parts.final)
    if block is not None:
        answer = _extract(block, config, True)
    else:
        answer = _extract(parts.final.replace("<answer>", " "), config, finished)
        if answer is None and parts.thinking:
            answer = _extract(parts.thinking, config, finished)
    return _clean(answer) if answer is not None else None
