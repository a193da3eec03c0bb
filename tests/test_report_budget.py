"""Budget analysis: the planned, de-duplicated grading gives exactly the verdicts of grading every cut alone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from testkit.synthetic import make_record, write_run_dir

import skyeval
from skyeval.report import load_runs
from skyeval.report.budget import budget_table
from skyeval.report.metrics import (
    CharCutter,
    TokenCutter,
    TokenizerCutter,
    budget_verdicts,
    plan_budget,
)
from skyeval.types import RunConfig, SampleRecord, SamplingParams

FILL = "We keep reasoning about the problem here.\n"  # 42 chars, no answer in it


def rec(pid: str, i: int, text: str, gold: str, tokens: int | None) -> SampleRecord:
    """A sample graded as the runner would (full text), so its verdict matches the grader's."""
    g = skyeval.grade(text, gold)
    return make_record(
        problem_id=pid,
        sample_index=i,
        completion=text,
        prompt_tokens=1,
        completion_tokens=tokens,
        gold=gold,
        extracted=g.extracted,
        correct=g.correct,
        reason=g.reason,
    )


def hand_made() -> list[SampleRecord]:
    """Cases a cut can hit: answer lost, wrong early answer, right early answer, an equal answer in another form
    (decided by the grader's slow path), repeated cut answers, no token count, no answer at all."""
    return [
        rec("a", 0, FILL * 4 + "\\boxed{12}", "12", None),
        rec("a", 1, "So \\boxed{7} first.\n" + FILL * 3 + "Final: \\boxed{12}", "12", 60),
        rec("a", 2, "So \\boxed{7} first.\n" + FILL * 3 + "Final: \\boxed{12}", "12", None),
        rec("a", 3, "Early \\boxed{12}.\n" + FILL * 3 + "Hmm, \\boxed{13}", "12", None),
        rec("b", 0, "We get \\boxed{\\frac{1}{2}}.\n" + FILL * 3 + "So \\boxed{0.4}", "0.5", None),
        rec("b", 1, "We get \\boxed{\\frac{2}{4}}.\n" + FILL * 3 + "So \\boxed{0.5}", "0.5", 45),
        rec("b", 2, "We get \\boxed{\\frac{1}{2}}.\n" + FILL * 3 + "So \\boxed{0.5}", "0.5", None),
        rec("b", 3, FILL * 5, "0.5", None),
        rec("c", 0, "The answer is $x^2+1$.\n" + FILL * 3 + "\\boxed{x^2 + 1}", "1+x^2", None),
        rec("c", 1, "\\boxed{2}", "1+x^2", None),
    ]


def reference(
    records: Sequence[SampleRecord], budgets: Sequence[int], max_tokens: int, cutter: TokenCutter
) -> tuple[list[list[bool]], list[int]]:
    """The unoptimised definition: cut each completion at each budget alone and grade the cut text alone."""
    verdicts, cut = [], [0] * len(budgets)
    for r in records:
        row = []
        tokens = r.completion_tokens if r.completion_tokens is not None else cutter.length(r.completion)
        for j, b in enumerate(budgets):
            if tokens <= b or b >= max_tokens:
                row.append(r.correct)
                continue
            cut[j] += 1
            text = cutter.cut(r.completion, [b])[0]
            same = skyeval.extract_answer(text) == r.extracted and r.extracted is not None
            row.append(r.correct if same else skyeval.grade(text, str(r.gold)).correct)
        verdicts.append(row)
    return verdicts, cut


class CharTokenizer:
    """One token per character (``encode`` counts its calls)."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, text: str, add_special_tokens: bool = False) -> list[str]:
        self.calls += 1
        return list(text)

    def decode(self, ids: list[str]) -> str:
        return "".join(ids)


@pytest.mark.parametrize("cutter", [CharCutter(1.0), CharCutter(2.5), TokenizerCutter(CharTokenizer())])
def test_budget_verdicts_equal_grading_each_cut_alone(cutter: Any) -> None:
    records = hand_made()
    budgets = [8, 16, 24, 32, 48, 64, 128, 200]
    expected, expected_cut = reference(records, budgets, 200, cutter)
    result = budget_verdicts(records, budgets, 200, cutter)
    assert result.verdicts == expected
    assert result.cut == expected_cut
    # the cases do exercise a change of verdict in both directions
    assert any(not row[2] and row[-1] for row in expected) and any(row[2] and not row[-1] for row in expected)


def test_each_distinct_answer_is_graded_once_and_the_tokenizer_runs_once_per_completion() -> None:
    records = hand_made()
    tok = CharTokenizer()
    plan = plan_budget(records, [8, 16, 24, 32, 48, 64, 128], 200, TokenizerCutter(tok))
    assert tok.calls == len(records)
    cells = [c for cs in plan.pending.values() for c in cs]
    assert len(cells) == len(set(cells)) and len(plan.pending) < len(
        cells
    )  # repeated (answer, gold) share one
    assert all(key in plan.responses for key in plan.pending)


def test_budget_table_grades_once_per_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = hand_made()
    config = RunConfig(
        model="m",
        task="t",
        engine="replay",
        sampling=SamplingParams(n=4, max_tokens=200),
        system_prompt=None,
        prompt_template="{question}",
    )
    paths = [write_run_dir(tmp_path / name, config, records) for name in ("r1", "r2")]
    runs = load_runs(paths, labels=["x", "y"])
    calls: list[int] = []
    real = skyeval.grade_many

    def counting(responses: Sequence[object], golds: Sequence[object], **kw: Any) -> list[skyeval.Grade]:
        calls.append(len(responses))
        return real(responses, golds, **kw)

    monkeypatch.setattr(skyeval, "grade_many", counting)
    table = budget_table(runs, tokenizer="chars", min_budget=8)
    assert len(calls) == 1  # both runs, every budget: one call, each distinct (answer, gold) once
    budgets = list(table[table.label == "x"].budget)
    # chars per token measured on the two samples that carry token counts
    cpt = (len(records[1].completion) + len(records[5].completion)) / (60 + 45)
    expected, expected_cut = reference(records, budgets, 200, CharCutter(cpt))
    by_problem: dict[str, list[list[bool]]] = {}
    for r, row in zip(records, expected, strict=True):
        by_problem.setdefault(r.problem_id, []).append(row)
    for j, b in enumerate(budgets):
        want = sum(sum(row[j] for row in rows) / len(rows) for rows in by_problem.values()) / len(by_problem)
        for label in ("x", "y"):
            got = table[(table.label == label) & (table.budget == b)].iloc[0]
            assert got.accuracy == pytest.approx(want) and got.samples_cut == expected_cut[j]
