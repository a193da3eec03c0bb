"""grade() and grade_many(): reasons, input coercion, hostile inputs, thread safety, the in-process fast path."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import skyeval
from skyeval.grading import grade as grade_module
from skyeval.types import Grade

HOSTILE_TIMEOUT = 1.0


def test_importing_the_grader_stays_light() -> None:
    code = (
        "import sys, skyeval, skyeval.grading.grade, skyeval.rewards, skyeval.cli.grade\n"
        "heavy = {'sympy', 'torch', 'transformers', 'vllm', 'ray', 'datasets', 'pandas', 'latex2sympy2_extended'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_public_names() -> None:
    assert skyeval.grade is grade_module.grade
    assert skyeval.grade_many is grade_module.grade_many


@pytest.mark.parametrize(
    ("response", "gold", "correct", "reason"),
    [
        (r"The answer is $\boxed{25}$.", "25", True, "equal"),
        (r"so \boxed{25}", "025", True, "equal"),
        (r"so \boxed{27}", 27.0, True, "equal"),
        (r"so \boxed{27}", 27, True, "equal"),
        (r"so \boxed{26}", 27, False, "not_equal"),
        (r"so \boxed{\frac{1}{2}}", r"\frac{1}{2}", True, "equal"),
        (r"so \boxed{\frac{1}{2}}", "0.5", True, "equal"),
        (r"so \boxed{\frac{1}{3}}", r"\frac{1}{2}", False, "not_equal"),
    ],
)
def test_grades(response: str, gold: object, correct: bool, reason: str) -> None:
    graded = skyeval.grade(response, gold)
    assert (graded.correct, graded.reason) == (correct, reason)


NO_ANSWER = (
    "Let me think step by step. First I expand the square, then I am not sure how to go on from here. " * 3
)


def test_no_answer_and_missing_gold() -> None:
    assert skyeval.grade(NO_ANSWER, "5") == Grade(False, None, "no_answer")
    assert skyeval.grade(None, "5") == Grade(False, None, "no_answer")
    missing = skyeval.grade(r"\boxed{5}", None)
    assert (missing.correct, missing.reason, missing.detail) == (False, "error", "no gold answer")
    assert skyeval.grade(r"\boxed{5}", "  ").reason == "error"


def test_input_coercion() -> None:
    assert skyeval.grade(rb"so \boxed{5}", b"5").correct
    assert skyeval.grade(r"so \boxed{5}", ["5"]).correct
    assert grade_module.as_text([r"$1$", r"$2$"]) == "$1$, $2$"
    assert grade_module.as_text(27.0) == "27.0"


class _Hostile:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def test_never_raises_on_odd_objects() -> None:
    for response, gold in [(_Hostile(), "1"), (r"\boxed{1}", _Hostile()), (object(), 1), (12, {"a": 1})]:
        graded = skyeval.grade(response, gold)
        assert isinstance(graded, Grade) and not (graded.reason == "equal" and graded.extracted is None)
    assert skyeval.grade(_Hostile(), "1").reason == "error"


def _hostile_cases(tmp_path: Path) -> list[tuple[str, str]]:
    pwned = tmp_path / "pwned"
    return [
        (r"\boxed{10^{10^{10}}}", "1"),
        (r"\boxed{2^{2^{2^{100}}}}", "2"),
        (r"\boxed{" + "{" * 500_000 + "}" * 500_000 + "}", "1"),
        (r"\boxed{" + "1" * 100_000 + "}", "1" * 99_999 + "2"),
        (r"\boxed{" + "x+" * 50_000 + "1}", "x+1"),
        (rf"\boxed{{__import__('os').system('touch {pwned}')}}", "0"),
        (
            r"\boxed{__import__('os').system('touch " + str(pwned) + r"')}",
            f"__import__('os').system('touch {pwned}')",
        ),
        ("\\boxed{1\x002}", "12"),
        ("\\boxed{\ud800\udfff}", "\udc80"),
        ("\x00" * 1000, "\x00"),
        (r"\boxed{\frac{" * 5000 + "1" + "}" * 10000, "1"),
        (r"\boxed{" + r"\sqrt{" * 2000 + "2" + "}" * 2001, "2"),
    ]


def test_hostile_inputs_cost_at_most_about_the_timeout(tmp_path: Path) -> None:
    for response, gold in _hostile_cases(tmp_path):
        # Wait for a warm worker first (after a timeout kill, its replacement may still be starting):
        # start-up is paid once per worker and is not part of a grade's budget.
        assert skyeval.grade(r"\boxed{x+1}", "1+x").correct
        start = time.monotonic()
        graded = skyeval.grade(response, gold, timeout=HOSTILE_TIMEOUT)
        elapsed = time.monotonic() - start
        assert isinstance(graded, Grade)
        assert elapsed < HOSTILE_TIMEOUT + 5.0, (response[:60], elapsed, graded)
    assert not (tmp_path / "pwned").exists()


def test_hostile_inputs_in_a_batch(tmp_path: Path) -> None:
    cases = _hostile_cases(tmp_path)
    start = time.monotonic()
    grades = skyeval.grade_many(
        [r for r, _ in cases], [g for _, g in cases], timeout=HOSTILE_TIMEOUT, workers=2
    )
    assert len(grades) == len(cases)
    assert time.monotonic() - start < len(cases) * (HOSTILE_TIMEOUT + 1.0) / 2 + 10
    assert not (tmp_path / "pwned").exists()


PAIRS = [
    (r"\boxed{5}", "5"),
    (r"\boxed{x^2+2x+1}", "(x+1)^2"),
    (r"\boxed{\frac{\sqrt{3}}{2}}", r"\frac{1}{2}\sqrt{3}"),
    (r"\boxed{[1,2)}", "[1,2]"),
    (r"\boxed{6}", "7"),
    (NO_ANSWER, "3"),
    (r"\boxed{\pi}", r"\pi"),
    (r"\boxed{x=3}", "3"),
]


def test_threads_get_the_serial_answers() -> None:
    serial = [skyeval.grade(r, g) for r, g in PAIRS]
    with ThreadPoolExecutor(max_workers=8) as executor:
        concurrent = list(executor.map(lambda pair: skyeval.grade(*pair), PAIRS * 4))
    assert concurrent == serial * 4


def test_grade_many_keeps_order_and_matches_grade() -> None:
    serial = [skyeval.grade(r, g) for r, g in PAIRS]
    assert skyeval.grade_many([r for r, _ in PAIRS], [g for _, g in PAIRS], workers=2) == serial
    assert skyeval.grade_many([], []) == []
    with pytest.raises(ValueError):
        skyeval.grade_many(["a"], [])


class _NoPool:
    def get(self) -> object:
        raise AssertionError("the fast path must not need a worker")


@pytest.mark.parametrize(
    ("response", "gold"),
    [
        (r"\boxed{42}", "42"),
        (r"\boxed{-7}", "7"),
        (r"\boxed{\frac{3}{4}}", r"\frac{3}{4}"),
        (r"\boxed{0.5}", "1/2"),
    ],
)
def test_integers_and_simple_fractions_stay_in_process(
    monkeypatch: pytest.MonkeyPatch, response: str, gold: str
) -> None:
    monkeypatch.setattr(grade_module, "_POOL", _NoPool())
    assert skyeval.grade(response, gold).reason in ("equal", "not_equal")


class _CountingPool:
    """Delegates to the real pool and counts the calls that needed a worker."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.calls = 0

    def get(self) -> object:
        self.calls += 1
        return self.real.get()  # type: ignore[attr-defined]


def test_real_responses_are_decided_in_process(monkeypatch: pytest.MonkeyPatch, shared_dir: Path) -> None:
    """The speed property behind the benchmark: almost every real response never needs a worker."""
    import json

    path = shared_dir / "generations" / "qwen25math_eval_rm_maj_example_math_cot_100.jsonl"
    pairs = [(code, row["gt"]) for row in map(json.loads, path.open()) for code in row["code"]]
    counting = _CountingPool(grade_module._POOL)
    monkeypatch.setattr(grade_module, "_POOL", counting)
    grades = [skyeval.grade(r, g) for r, g in pairs]
    assert len(grades) == 800 and all(g.reason in ("equal", "not_equal") for g in grades)
    assert counting.calls <= 16  # 3 of 800 when measured (docs/grading.md, Performance)
