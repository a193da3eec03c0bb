"""Final-answer extraction from model responses.

The answer is, in order of preference: the last ``\\boxed{…}``/``\\fbox{…}`` (adjacent boxes joined by "and"/","
form one multi-part answer), the text after "final answer is"/"answer:", and, for a short response with no
marker, the response itself. Text after ``</think>`` is preferred over text inside it. Every scan is linear in the
input length (no backtracking regexes over the whole response) and nothing here raises on any ``str`` input.
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


_BOX_RE = re.compile(r"\\(?:boxed|fbox)\b")
# "Final answer: 5", "the answer is 5", "Answer: 5", "Answer $5$" (but not "to find the answer, we...")
_MARKER_RE = re.compile(
    r"(?i)(?:final\s+answer\b\s*(?:is\b)?\s*[:：]?"
    r"|answer\s*(?:is|was|should\s+be|would\s+be|will\s+be)\b\s*[:：]?"
    r"|answer(?:\*{1,2}|_{1,2})?\s*[:：]"  # also Markdown's "**Answer**: 5"
    r"|answer\b(?=\s*(?:\$|\\\(|\\\[)))"
)
_THINK_END = "</think>"
_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
# Words and symbols that may sit between two boxes of one multi-part answer ("\boxed{1} and \boxed{2}").
_GLUE_RE = re.compile(r"(?i)\b(?:and|or)\b|[,;]|\\quad|\\qquad")
# ...but not words that make the boxes successive steps ("\boxed{3}, then finally \boxed{4}")
_SEQUENCE_RE = re.compile(
    r"(?i)\b(?:then|finally|so|thus|therefore|hence|but|however|next|wait|gives?|get|becomes?|is|was|answer)\b"
)
_TEXT_RE = re.compile(r"\\text\{([^{}]*)\}")
_WORD_CHAR_RE = re.compile(r"\w")
_MATH_RE = re.compile(
    r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\(([^\n]+?)\\\)|(?<!\\)\$([^$\n]+?)(?<!\\)\$", re.DOTALL
)
_COPULA_RE = re.compile(r"(?i)(?:\bis|\bare|\bit's|\bequals|\bbe|\bby)\s+|(?<=[a-z])\s+:\s*|(?<=[a-z]):\s+")
_HAS_VALUE_RE = re.compile(r"[\d\\^]|^\(?[A-Ea-e]\)?\.?$")


_BRACE_RE = re.compile(r"\\[{}]|[{}]")  # an escaped brace (skipped) or a brace


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


def _is_glue(gap: str) -> bool:
    """True when the text between two boxes joins them into one answer ("\\boxed{1} and \\boxed{2}")."""
    core = _TEXT_RE.sub(r"\1", gap)
    core = core.replace("$", "").replace("\\(", "").replace("\\)", "").replace("\\[", "").replace("\\]", "")
    core = core.strip()
    if not core or (len(core) <= 40 and not _WORD_CHAR_RE.search(core)):
        return True
    return (
        len(core) <= 40
        and "\n\n" not in gap
        and _GLUE_RE.search(core) is not None
        and _SEQUENCE_RE.search(core) is None
    )


def _box_cluster(text: str, boxes: list[tuple[int, int, str]]) -> str:
    parts = [boxes[-1][2]]
    for prev, nxt in zip(reversed(boxes[:-1]), reversed(boxes[1:]), strict=True):
        if not _is_glue(text[prev[1] : nxt[0]]):
            break
        parts.append(prev[2])
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
_GLUE_ONLY_RE = re.compile(r"(?i)(?:\s|,|;|\\?\"|\band\b|\bor\b|\\quad|\\text\{\s*(?:and|or)\s*\})*")
_LEADING_VALUE_RE = re.compile(r"\$[^$]+\$|-?[\d.,/]*\d")


def _joined_segments(text: str) -> str | None:
    """``$1$ and $2$`` -> ``1, 2``: math segments separated only by "and"/"or"/commas form one answer."""
    segments = _math_segments(text)
    if len(segments) < 2:
        return None
    if _GLUE_ONLY_RE.fullmatch(_MATH_RE.sub(" ", text).strip(" .")) is None:
        return None
    return ", ".join(segments)


# "(A) $5$", "\textbf{(B)} 7": a choice label and its value form one answer (not just the last "$…$")
_CHOICE_LEAD_RE = re.compile(r"(?:\\(?:textbf|text|mathrm|mathbf)\{\s*)?\([A-E]\)|[A-E]\)\s")


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
_MAX_CONCLUSION_WORDS = 3
_MAX_CONCLUSION_CHARS = 160


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
    if not answer or not _HAS_VALUE_RE.search(answer) or len(answer) > _MAX_CONCLUSION_CHARS:
        return None
    prose = _PROSE_WORD_RE.findall(_MATH_RE.sub(" ", answer))
    return None if len(prose) > _MAX_CONCLUSION_WORDS else answer


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


def _after_marker(text: str, marker: re.Match[str] | None) -> str | None:
    """The answer after the last "final answer is"/"answer:" marker, up to the end of its paragraph."""
    if marker is None:
        return None
    rest = _NOISE_RE.sub("", text[marker.end() : marker.end() + 2000]).lstrip()
    rest = _MARKDOWN_LEAD_RE.sub("", rest)  # "**Final Answer**: 17", "**Answer:** 17"
    para = rest.split("\n\n", 1)[0] if rest.strip() else ""
    if not para.strip() or _BOX_RE.search(para):
        return None  # nothing stated, or only an empty/unclosed box
    joined = _joined_segments(para)
    if joined is not None:
        return joined
    segments = _math_segments(para)
    if segments and para.lstrip().startswith(("$", "\\(", "\\[")):
        return segments[0]
    answer = _from_sentence(para.split("\n")[0] if "$$" not in para and "\\[" not in para else para)
    numbers = _NUMBER_RE.findall(answer)
    if len(answer.split()) > 2 and len(numbers) == 1 and "$" not in answer and "\\" not in answer:
        return numbers[0]  # "Final Answer: Jane started 3 hours ago" -> 3
    return _strip_emphasis(answer) or None


def _strip_emphasis(answer: str) -> str:
    """``**17**`` / ``*17*`` -> ``17``: Markdown emphasis around a whole answer is not part of it."""
    s = answer.strip()
    while len(s) > 2 and s[0] in "*_" and s[-1] == s[0]:
        s = s[1:-1].strip()
    return s


def _extract(text: str, config: ExtractConfig) -> str | None:
    boxes = _boxes(text, config.max_boxes)
    marker = _last_marker(text, boxes[-1][1] if boxes else 0)
    if boxes and (marker is None or marker.start() < boxes[-1][1]):
        return _strip_math(_box_cluster(text, boxes))
    marked = _after_marker(text, marker)
    if marked:
        return marked
    if boxes:
        return _strip_math(_box_cluster(text, boxes))
    stripped = text.strip()
    if (
        stripped
        and len(stripped) <= config.short_answer_chars
        and stripped.count("\n") <= 4
        and not _BOX_RE.search(stripped)
    ):
        return _from_sentence(stripped) or None
    concluded = _conclusion(text)
    if concluded:
        return concluded
    if config.last_number_fallback:
        numbers = _NUMBER_RE.findall(text[-2000:])
        return numbers[-1] if numbers else None
    return None


def extract_answer(text: str, config: ExtractConfig = ExtractConfig()) -> str | None:
    """The final answer of a model response, or None when it states none (see the module docstring)."""
    if not isinstance(text, str):
        text = str(text)
    head, sep, tail = text.rpartition(_THINK_END)
    if sep:
        answer = _extract(tail, config)
        if answer is not None:
            return answer
        text = head
    return _extract(text.replace("<think>", ""), config)
