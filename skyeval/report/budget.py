"""The accuracy-vs-budget table: each run's completions cut at 1k, 2k, 4k, ... tokens and re-graded.

The pure parts (cutting, planning, one grading call) are ``skyeval.report.metrics``; this builds the DataFrame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from skyeval.metrics import bootstrap_ci
from skyeval.report.format import pandas_module, progress_bar
from skyeval.report.load import Run, problems
from skyeval.report.metrics import (
    apply_budget_grades,
    budget_ladder,
    grade_budget_answers,
    load_cutter,
    plan_budget,
)
from skyeval.types import CI_CONFIDENCE, CI_RESAMPLES, CI_SEED

if TYPE_CHECKING:
    import pandas as pd


def budget_table(
    runs: Sequence[Run],
    *,
    tokenizer: str = "auto",
    min_budget: int = 1024,
    timeout: float = 5.0,
    confidence: float = CI_CONFIDENCE,
    resamples: int = CI_RESAMPLES,
    seed: int = CI_SEED,
    progress: bool = False,
) -> pd.DataFrame:
    """Accuracy (mean over problems of the fraction of correct samples) if completions were cut at each budget.

    Budgets are ``min_budget`` (1k), 2k, 4k, ... tokens up to the run's ``max_tokens``; ``method`` says whether
    the model's own tokenizer or the chars-per-token approximation cut the text (``tokenizer='chars'`` forces
    the latter). ``ci_lo``/``ci_hi``: the canonical bootstrap CI of each accuracy (the summary's resampling of
    problems in task order; at ``max_tokens`` every sample keeps its verdict, so it is the benchmark CI).
    """
    pd = pandas_module()
    bar = progress_bar(sum(len(r.records) for r in runs), "budget cuts", progress)
    plans = []
    for run in runs:
        cutter = load_cutter(run.config.model, run.records, tokenizer)
        budgets = budget_ladder(run.max_tokens, min_budget)
        groups = problems(run)
        records = [s for p in groups for s in p.samples]
        plan = plan_budget(records, budgets, run.max_tokens, cutter, on_record=lambda: bar.update(1))
        plans.append((run, cutter.method, budgets, groups, plan))
    bar.close()
    # one grading call for the whole report: each distinct (answer, gold) is graded once, across runs too
    grades = grade_budget_answers([p[-1] for p in plans], timeout=timeout, progress=progress)
    rows = []
    for run, method, budgets, groups, plan in plans:
        result = apply_budget_grades(plan, grades)
        for j, budget in enumerate(budgets):
            fractions, start = [], 0
            for p in groups:
                fractions.append(sum(v[j] for v in result.verdicts[start : start + p.n]) / p.n)
                start += p.n
            lo, hi = bootstrap_ci(fractions, confidence=confidence, resamples=resamples, seed=seed)
            rows.append(
                {
                    "label": run.label,
                    "task": run.task,
                    "budget": budget,
                    "accuracy": sum(fractions) / len(fractions),
                    "ci_lo": lo,
                    "ci_hi": hi,
                    "samples_cut": result.cut[j],
                    "method": method,
                }
            )
    return pd.DataFrame(rows)
