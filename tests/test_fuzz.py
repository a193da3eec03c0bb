"""Property-based fuzzing: grade() never raises, always returns a consistent Grade, on any input."""

from __future__ import annotations

import typing

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import skyeval
from skyeval.types import Grade, GradeReason

REASONS = set(typing.get_args(GradeReason))  # every reason the type declares

# Pieces of LaTeX and chat text that exercise the extractor and both comparison paths.
TOKENS = [
    "\\boxed{",
    "\\boxed ",
    "\\fbox{",
    "{",
    "}",
    "\\frac{",
    "\\dfrac",
    "\\sqrt{",
    "\\sqrt[3]{",
    "^",
    "_",
    "1",
    "2",
    "025",
    "0.5",
    "-",
    "+",
    "x",
    "y",
    "=",
    "<",
    "\\le",
    ",",
    "{,}",
    "\\,",
    "(",
    ")",
    "[",
    "]",
    "\\left(",
    "\\right)",
    "\\infty",
    "\\pi",
    "e",
    "!",
    "\\text{",
    "\\%",
    "^\\circ",
    "\\$",
    "$",
    "$$",
    "\\(",
    "\\)",
    "\\cup",
    "i",
    "\\begin{pmatrix}",
    "\\end{pmatrix}",
    "&",
    "\\\\",
    "The answer is ",
    "Final Answer: ",
    "</think>",
    "<think>",
    " and ",
    "\n",
    "\x00",
    "\ud800",
    "\udfff",
    "答案",
    "10^{10^{10}}",
    "9" * 40,
    "\\log",
    "\\binom{",
    "\\cdot",
    "__import__('os')",
    "\\mathrm{",
    "\\over",
    "1e5",
    ":",
    "²",
    "√",
    "π",
    "½",
    "**",
    "oo",
    "pi",
    "sqrt(",
    "\\mid",
    "\\{",
    "\\}",
    "\\varnothing",
    "_{\\max}",
    "E_",
    "1101_2",
    "7^{150}",
    "80!",
    "\\bmod",
    "0.333333",
]
latexish = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=200)
golds = st.one_of(
    latexish, any_text, st.integers(), st.floats(allow_nan=True), st.none(), st.lists(latexish, max_size=3)
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(response=st.one_of(latexish, any_text, st.none()), gold=golds)
def test_grade_never_raises(response: object, gold: object) -> None:
    graded = skyeval.grade(response, gold, timeout=2.0)
    assert isinstance(graded, Grade)
    assert graded.reason in REASONS
    assert graded.correct == (graded.reason == "equal")
    assert graded.extracted is None or isinstance(graded.extracted, str)
    if graded.reason == "no_answer":
        assert graded.extracted is None


# Tokens that change what is extracted from a box or how a gold is unwrapped (markers, math delimiters, think
# tags, other boxes, escaped braces); an answer free of them, with balanced braces, is recovered from its box
# as it is.
_EXTRACTION_TOKENS = (
    "$", "\\boxed", "\\fbox", "think>", "\\(", "\\)", "Answer", "\n", "答案", ":", "\x00", "\\{", "\\}"
)  # fmt: skip


def _recoverable(answer: str) -> bool:
    depth = 0
    for c in answer:
        depth += {"{": 1, "}": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0 and bool(answer.strip()) and not any(t in answer for t in _EXTRACTION_TOKENS)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(answer=latexish)
def test_boxed_answers_equal_themselves(answer: str) -> None:
    graded = skyeval.grade(f"Thus \\boxed{{{answer}}}.", answer, timeout=2.0)
    assert graded.reason in REASONS
    assert graded.correct == (graded.reason == "equal")
    if _recoverable(answer) and graded.extracted == answer.strip().rstrip("."):
        assert graded.correct, (answer, graded)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(answer=latexish.filter(_recoverable))
def test_an_answer_equals_itself(answer: str) -> None:
    """Self-equality, whatever the answer: the one verdict every grader must give (the box gives the answer back
    as it is, a trailing ``\\`` line break included)."""
    graded = skyeval.grade(f"Thus \\boxed{{{answer}}}.", answer, timeout=5.0)
    assert graded.extracted == answer.strip().rstrip(". ") and graded.correct, (answer, graded)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(text=st.one_of(latexish, any_text), gold=golds)
def test_reward_functions_never_raise(text: str, gold: object) -> None:
    from skyeval import rewards

    special = "<|im_end|><|endoftext|><｜end▁of▁sentence｜>"
    assert rewards.compute_score("fuzz", text + special, gold, timeout=2.0) in (0.0, 1.0)
    assert isinstance(rewards.strip_special_tokens(text + special), str)
    out = rewards.reward(["p"], [[{"role": "assistant", "content": text}]], answer=[gold], timeout=2.0)
    assert len(out) == 1 and out[0] in (0.0, 1.0, None)
