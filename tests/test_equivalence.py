"""is_equivalent / fast_equivalent: the labelled cases of tests/grader_cases/, policy edge cases and safety."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyeval.grading.equivalence import EquivalenceConfig, fast_equivalent, is_equivalent, unwrap
from skyeval.grading.extract import extract_answer
from skyeval.grading.items import slow_verdict
from skyeval.grading.normalize import canonical

CASES_DIR = Path(__file__).parent / "grader_cases"


def _cases() -> list[tuple[str, str, bool, str]]:
    rows = []
    for path in sorted(CASES_DIR.glob("*.jsonl")):
        for i, line in enumerate(path.read_text().splitlines()):
            row = json.loads(line)
            rows.append((str(row["pred"]), str(row["gold"]), bool(row["expected"]), f"{path.stem}:{i}"))
    return rows


CASES = _cases()


@pytest.mark.parametrize(("pred", "gold", "expected", "where"), CASES, ids=[c[3] for c in CASES])
def test_labelled_cases(pred: str, gold: str, expected: bool, where: str) -> None:
    extracted = extract_answer(pred)
    assert extracted is not None, where
    assert is_equivalent(extracted, gold) is expected, (where, extracted, gold)


@pytest.mark.parametrize(("pred", "gold", "expected", "where"), CASES, ids=[c[3] for c in CASES])
def test_fast_path_agrees_with_slow_path(pred: str, gold: str, expected: bool, where: str) -> None:
    """Where the fast path decides, the sympy path (run on its own) reaches the same verdict."""
    extracted = extract_answer(pred) or ""
    fast = fast_equivalent(extracted, gold)
    if fast is not None:
        slow = (
            slow_verdict(canonical(unwrap(extracted)), canonical(unwrap(gold)), EquivalenceConfig())
            == "equal"
        )
        assert fast == slow == is_equivalent(extracted, gold), where


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        ("42", "42"),
        ("025", "25"),
        ("27", "27.0"),
        ("1,000", "1000"),
        ("3/4", "\\frac{3}{4}"),
        ("0.75", "3/4"),
        ("-\\frac{1}{2}", "-0.5"),
        ("\\frac34", "0.75"),
        ("10\\%", "10"),
        ("\\$5", "5"),
        ("(1, 2)", "(1,2)"),
        ("1, 2, 3", "3, 2, 1"),
        ("\\text{(B)}", "B"),
        ("x = 5", "5"),
        ("Evelyn", "\\text{Evelyn}"),
    ],
)
def test_fast_path_decides_common_answers(pred: str, gold: str) -> None:
    assert fast_equivalent(pred, gold) is True


@pytest.mark.parametrize(
    ("pred", "gold"), [("5", "6"), ("0.5", "0.6"), ("1/3", "0.3"), ("A", "B"), ("500", "5")]
)
def test_fast_path_rejects_common_answers(pred: str, gold: str) -> None:
    assert fast_equivalent(pred, gold) is False


def test_gold_may_be_wrapped_or_a_number() -> None:
    assert is_equivalent("25", "$025$")
    assert is_equivalent("\\frac{1}{2}", "\\boxed{0.5}")
    assert is_equivalent("27", str(27.0))


def test_exact_mode_turns_off_decimal_rounding() -> None:
    assert is_equivalent("\\pi", "3.14")  # a decimal gold is a rounded value
    assert is_equivalent("3.14159", "\\pi")  # a decimal prediction needs 6 significant digits
    assert not is_equivalent("\\pi", "3.14", EquivalenceConfig(decimal_rounding=False))
    assert not is_equivalent("3.14159", "\\pi", EquivalenceConfig(decimal_rounding=False))


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        ("10^{10^{10}}", "10^{10^{10}}+1"),
        ("2^{2^{100}}", "2^{2^{100}}-1"),
        ("9!!!!!!", "9!!!!!!!"),
        ("(10^{9})!", "(10^{9})!+1"),
        ("\\sqrt{" * 500 + "2" + "}" * 500, "3"),
        ("x^{99999999}", "x^{99999998}"),
        ("1" * 100_000, "2"),
        ("(" * 50_000, ")" * 50_000),
    ],
)
def test_hostile_inputs_are_rejected_quickly(pred: str, gold: str) -> None:
    assert is_equivalent(pred, gold) is False


def test_model_text_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payloads = [
        f"__import__('os').system('touch {marker}')",
        f"\\boxed{{__import__('os').system('touch {marker}')}}",
        f"eval(\"open('{marker}', 'w')\")",
    ]
    for payload in payloads:
        is_equivalent(payload, "0")
        is_equivalent("0", payload)
    assert not marker.exists()


def test_import_stays_light() -> None:
    code = (
        "import sys, skyeval\n"
        "from skyeval.grading.equivalence import fast_equivalent\n"
        "assert fast_equivalent('1/2', '0.5') is True\n"
        "heavy = [m for m in ('sympy', 'torch', 'latex2sympy2_extended') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# Verdicts are symmetric except where the policy depends on which side is the gold: decimal literals (a decimal
# gold is a rounded value, a decimal prediction needs 6 significant digits) and a decimal comma (prediction only).
_DIRECTED = re.compile(r"\d\.\d|(?<![\w.])\.\d|\d[eE][+-]?\d|\d,\d")
SYMMETRIC_CASES = [c for c in CASES if not _DIRECTED.search(c[0]) and not _DIRECTED.search(c[1])]


@pytest.mark.parametrize(
    ("pred", "gold", "expected", "where"), SYMMETRIC_CASES, ids=[c[3] for c in SYMMETRIC_CASES]
)
def test_symmetric(pred: str, gold: str, expected: bool, where: str) -> None:
    extracted = extract_answer(pred) or ""
    assert is_equivalent(extracted, gold) == is_equivalent(gold, extracted), where


_PIECES = list("0123456789+-*/^_{}()[],.=<>!|%$ \\xyzabei") + [
    "\\frac", "\\sqrt", "\\pi", "\\infty", "\\cup", "\\le", "\\text{", "\\boxed{", "\\begin{pmatrix}",
    "\\end{pmatrix}", "&", "\\\\", "\\log", "\\sin", "\\pm", "\\in", ":", ";", " and ", "\\approx", "\\overline{",
    "²", "√", "π", "½", "∞", "**", "*", "oo", "pi", "sqrt(", "exp(", "\\mid", "\\{", "\\}", "\\varnothing", "_{\\max}",
    "E_", "e8", "1e", "\\binom{", "!", "\\bmod", "_2", "7^{150}", "10^{10^{10}}", "\\lim_{n\\to\\infty}", "0.333333",
]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.lists(st.sampled_from(_PIECES), max_size=12), st.lists(st.sampled_from(_PIECES), max_size=12))
def test_never_raises_on_latex_soup(a: list[str], b: list[str]) -> None:
    pred, gold = "".join(a), "".join(b)
    assert isinstance(is_equivalent(pred, gold), bool)
    assert fast_equivalent(pred, gold) in (None, True, False)
    assert is_equivalent(pred, pred) is True


@pytest.mark.parametrize(
    "answer",
    [
        "{" * 5_000 + "1" + "}" * 5_000,
        "(" * 5_000 + "1" + ")" * 5_000,
        "\\frac{" * 500 + "1" + "}{2}" * 500,
        "1" + " " * 998 + "1",
        "(A) " + "1" * 996,
        "\\boxed{" + "{" * 5_000 + "1" + "}" * 5_000 + "}",
        "x" * 100_000,
    ],
)
def test_fast_path_leaves_long_answers_to_the_slow_path(answer: str) -> None:
    """Answers over max_chars are undecided in-process (the killable worker decides), unless identical."""
    assert fast_equivalent(answer, "1") is None
    assert fast_equivalent(answer, answer) is True


def test_canonical_strips_deeply_nested_braces_linearly() -> None:
    assert canonical("{" * 5_000 + "1" + "}" * 5_000) == "1"
    assert canonical("{ {1} }") == "1"
    assert canonical("{1}{2}") == "{1}{2}"
    assert canonical("1" + " " * 5_000 + "%") == "1%"


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("(A) 5", "A", True),
        ("(A) 5", "(A)", True),
        ("(A) 5", "5", True),
        ("(B) 5", "A", False),
        ("(A) 5", "(B) 5", False),
        ("(A) 5", "a", False),
        ("a+b", "c+b", False),
        ("(A) a+b", "A", True),
    ],
)
def test_multiple_choice_with_a_value(pred: str, gold: str, expected: bool) -> None:
    assert fast_equivalent(pred, gold) in (expected, None)
    assert is_equivalent(pred, gold) is expected
    assert is_equivalent(gold, pred) is expected


GRADING = Path(__file__).resolve().parents[1] / "skyeval" / "grading"
# The comparison layers, lowest first: each module imports only modules listed before it (issue 10, item 4).
LAYERS = [
    "exact",
    "numbers",
    "notation",
    "labels",
    "normalize",
    "sympy_parse",
    "magnitude",
    "sympy_compare",
    "items",
    "equivalence",
]


def _grading_imports(name: str) -> set[str]:
    """The skyeval.grading modules ``name`` imports anywhere (function-level imports included)."""
    import ast

    tree = ast.parse((GRADING / f"{name}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("skyeval.grading."):
            found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("skyeval.grading.")}
    return found


@pytest.mark.parametrize("name", LAYERS)
def test_comparison_layers_form_a_line(name: str) -> None:
    below = set(LAYERS[: LAYERS.index(name)])
    inside = _grading_imports(name) & set(LAYERS)
    assert inside <= below, (name, inside - below)


@pytest.mark.parametrize("name", LAYERS)
def test_layers_are_small_or_say_why(name: str) -> None:
    text = (GRADING / f"{name}.py").read_text()
    assert len(text.splitlines()) <= 400 or "400 lines" in text.split('"""')[1], name


def test_a_parser_failure_is_logged_not_hidden(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What the slow path swallows (the LaTeX parser refusing a text) is logged at debug level."""
    import logging

    from skyeval.grading import sympy_parse

    def refuse(*args: object, **kwargs: object) -> object:
        raise ValueError("cannot parse")

    monkeypatch.setattr(sympy_parse, "latex2sympy", refuse)
    with caplog.at_level(logging.DEBUG, logger="skyeval.grading.sympy_parse"):
        assert sympy_parse.to_sympy("x^2", EquivalenceConfig()) is None
    assert "not parsed" in caplog.text and "cannot parse" in caplog.text


@pytest.mark.parametrize(
    ("pred", "gold", "verdict"),
    [
        ("7^{150}+1", "7^{150}", "not_equal"),
        ("2^{100}", "1267650600228229401496703205376", "equal"),
        ("10^{10^{10}}", "1", "not_equal"),
        ("10^{10^{10}}+1", "10^{10^{10}}", "too_large"),
        ("2^{30000}", "2^{30000}+1", "too_large"),
        ("2^{2^{2^{100}}}", "2^{2^{2^{100}}}+1", "too_large"),
        ("\\pi^{100}+1", "\\pi^{100}", "not_equal"),
        ("\\pi + 10^{-50}", "\\pi", "not_equal"),
        ("\\sqrt{5+2\\sqrt{6}}", "\\sqrt{2}+\\sqrt{3}", "equal"),
    ],
)
def test_compare_verdicts(pred: str, gold: str, verdict: str) -> None:
    from skyeval.grading.equivalence import compare

    assert compare(pred, gold) == verdict


def test_too_large_is_decided_quickly() -> None:
    """Beyond the size bound the verdict comes from magnitudes, never from computing the value."""
    import time

    from skyeval.grading.equivalence import compare

    compare("x+1", "1+x")  # sympy and the parser imported
    start = time.perf_counter()
    verdicts = [compare(f"7^{{{n}}}+1", f"7^{{{n}}}") for n in (30_000, 10**6, 10**9)]
    assert verdicts == ["too_large"] * 3
    assert time.perf_counter() - start < 30  # a generous bound for a loaded machine: each takes milliseconds


def test_directed_policy_helpers() -> None:
    from fractions import Fraction

    from skyeval.grading.numbers import approximates, decimal_literals

    config = EquivalenceConfig()
    third = Fraction(1, 3)
    assert approximates(Fraction("0.333333"), 6, 6, third, "pred", config)
    assert not approximates(Fraction("0.333"), 3, 3, third, "pred", config)
    assert approximates(Fraction("0.333"), 3, 3, third, "gold", config)
    assert not approximates(Fraction("0.3"), 1, 1, third, "gold", config)  # one significant digit
    assert not approximates(Fraction("0.26"), 2, 2, Fraction(1, 4), "gold", config)  # 1/4 is itself short
    literals = decimal_literals("(1.732050, 3.1e8, 2.5 \\times 10^{-3}, 7)")
    assert [(n.places, n.digits) for n in literals] == [(6, 7), (-7, 2), (4, 2)]
