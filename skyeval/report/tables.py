"""The report's tables as pandas DataFrames (the library API behind ``skyeval report``), and their assembly.

pandas is the ``report`` extra and is imported when a table is built, never at ``import skyeval``. Every
table is long-form (one row per label x task x ...), so notebooks can pivot, filter and plot them freely;
``skyeval.report.format`` makes the headline tables for people. A run's numbers come from ``skyeval.summary``,
the code that writes ``summary.json``, so the report and the run agree. (Over 400 lines: every table of the
report, one short function each, and their assembly in ``ReportTables``.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skyeval import summary as summary_mod
from skyeval.metrics import Same, bootstrap_ci, pass_at_k
from skyeval.report.budget import budget_table
from skyeval.report.compare import Comparison, compare_runs, comparison_pairs
from skyeval.report.format import (
    AVERAGE,
    benchmark_wide,
    label_order,
    pandas_module,
    progress_bar,
    run_marks,
    task_order,
)
from skyeval.report.format import breakdown_wide as breakdown_wide  # re-exported for report/html.py
from skyeval.report.load import Run, problems
from skyeval.report.metrics import average_ci
from skyeval.report.verdicts import grader_delta, verdicts_pass_at_k, verdicts_table
from skyeval.summary import (
    ProblemSamples,
    ProblemScore,
    equivalent,
    memoised,
    natural_order,
    score_problem,
    summarize,
)
from skyeval.types import CI_CONFIDENCE, CI_RESAMPLES, CI_SEED, RunSummary

if TYPE_CHECKING:
    import pandas as pd


# --- a run's numbers: skyeval.summary, the code that writes summary.json -----------------------------------------


@dataclass(frozen=True)
class ScoredRun:
    """A run with its problems (task order), their scores and its summary, all from ``skyeval.summary``."""

    run: Run
    problems: tuple[ProblemSamples, ...]
    scores: tuple[ProblemScore, ...]
    summary: RunSummary


def score_runs(
    runs: Sequence[Run],
    *,
    same: Same | None = None,
    resamples: int = CI_RESAMPLES,
    seed: int = CI_SEED,
    progress: bool = False,
) -> list[ScoredRun]:
    """Summarise each run exactly as ``skyeval run`` does (at the default ``resamples``/``seed``, the numbers of
    its ``summary.json``). ``same`` clusters answers; default ``skyeval.is_equivalent``, memoised across runs."""
    cached = memoised(same if same is not None else equivalent)
    bar = progress_bar(sum(len(r.records) for r in runs), "per-problem metrics", progress)
    out = []
    for run in runs:
        groups = problems(run)
        scores = []
        for p in groups:
            scores.append(score_problem(p, cached))
            bar.update(p.n)
        total = summary_mod.problem_total(run.config, run.records)
        summ = summarize(
            run.config, groups, scores, total=total, duplicates=run.duplicates, resamples=resamples, seed=seed
        )
        out.append(ScoredRun(run, tuple(groups), tuple(scores), summ))
    bar.close()
    return out


def different_problem_sets(runs: Sequence[Run]) -> set[str]:
    """The tasks on which the runs cover different problem sets (their cells are not directly comparable)."""
    sets: dict[str, set[frozenset[str]]] = {}
    for run in runs:
        sets.setdefault(run.task, set()).add(frozenset(run.problem_ids))
    return {task for task, found in sets.items() if len(found) > 1}


# --- per problem ---------------------------------------------------------------------------------------------


def per_problem_table(scored: Sequence[ScoredRun]) -> pd.DataFrame:
    """One row per (label, task, problem), problems in task order: n, c, pass@1 (= c/n), maj@n, diversity,
    truncated samples, and the runs' breakdown fields (``config.meta_fields``)."""
    pd = pandas_module()
    fields = list(dict.fromkeys(f for s in scored for f in s.run.config.meta_fields))
    rows = []
    for sr in scored:
        for p, score in zip(sr.problems, sr.scores, strict=True):
            row: dict[str, Any] = {
                "label": sr.run.label,
                "task": sr.run.task,
                "problem_id": p.problem_id,
                "n": score.n,
                "c": score.c,
                "pass@1": score.pass_at_1,
                "maj@n": float(score.maj_correct),
                "n_answers": score.diversity.n_answers,
                "entropy_bits": score.diversity.entropy_bits,
                "no_answer": score.diversity.no_answer,
                "truncated": score.truncated,
            }
            for name in fields:
                row[name] = None if p.meta.get(name) is None else str(p.meta[name])
            rows.append(row)
    columns = ["label", "task", "problem_id", "n", "c", "pass@1", "maj@n", "n_answers", "entropy_bits"]
    return pd.DataFrame(rows, columns=[*columns, "no_answer", "truncated", *fields])


# --- benchmark table ------------------------------------------------------------------------------------------

BENCHMARK_COLUMNS = (
    "label",
    "task",
    "pass@1",
    "ci_lo",
    "ci_hi",
    "n_problems",
    "n_samples",
    "maj@n",
    "truncation_rate",
    "incomplete_reasoning_rate",
    "mean_response_tokens",
    "problems",
    "expected_samples",
    "missing_samples",
    "complete",
    "same_problems",
)


def benchmark_table(
    scored: Sequence[ScoredRun],
    *,
    confidence: float = CI_CONFIDENCE,
    resamples: int = CI_RESAMPLES,
    seed: int = CI_SEED,
) -> pd.DataFrame:
    """One row per (label, task): the run's summary (pass@1 with its bootstrap CI, maj@n, truncation rate,
    mean response tokens) and its completeness: ``problems`` covered, ``expected_samples`` = problems x n,
    ``missing_samples``, ``complete``, and ``same_problems`` (False when runs on the task cover different
    problem sets). Plus an ``average`` task per label: the mean of the task means with a stratified bootstrap
    CI, NaN for a label that lacks some of the report's tasks (a partial average would not be comparable).
    """
    pd = pandas_module()
    runs = [s.run for s in scored]
    tasks = task_order(runs)
    differ = different_problem_sets(runs)
    rows = []
    for label in label_order(runs):
        mine = [s for s in scored if s.run.label == label]
        for sr in mine:
            rows.append(_bench_row(sr, sr.run.task not in differ))
        if len(tasks) < 2:
            continue
        if len(mine) == len(tasks) and all(s.summary.scores is not None for s in mine):
            groups = [[p.pass_at_1 for p in s.scores] for s in mine]
            mean, lo, hi = average_ci(groups, confidence=confidence, resamples=resamples, seed=seed)
            rows.append(_average_row(label, mean, lo, hi, [r for r in rows if r["label"] == label], differ))
        else:
            rows.append(
                _average_row(
                    label, math.nan, math.nan, math.nan, [r for r in rows if r["label"] == label], differ
                )
            )
    return pd.DataFrame(rows, columns=list(BENCHMARK_COLUMNS))


def _bench_row(sr: ScoredRun, same_problems: bool) -> dict[str, Any]:
    s, sc = sr.summary, sr.summary.scores
    tokens = sc.response_tokens.mean if sc is not None else None
    return {
        "label": sr.run.label,
        "task": sr.run.task,
        "pass@1": sc.pass_at_1 if sc is not None else math.nan,
        "ci_lo": sc.ci95.lo if sc is not None else math.nan,
        "ci_hi": sc.ci95.hi if sc is not None else math.nan,
        "n_problems": s.problems_scored,
        "n_samples": s.samples,
        "maj@n": sc.maj_at_n if sc is not None else math.nan,
        "truncation_rate": sc.truncation_rate if sc is not None else math.nan,
        "incomplete_reasoning_rate": sc.incomplete_reasoning / s.samples if sc is not None else math.nan,
        "mean_response_tokens": tokens if tokens is not None else math.nan,
        "problems": s.problems,
        "expected_samples": s.expected_samples,
        "missing_samples": s.missing,
        "complete": s.complete,
        "same_problems": same_problems,
    }


def _average_row(
    label: str, mean: float, lo: float, hi: float, task_rows: list[dict[str, Any]], differ: set[str]
) -> dict[str, Any]:
    def avg(name: str) -> float:
        values = [float(r[name]) for r in task_rows]
        return math.nan if not values else sum(values) / len(values)

    return {
        "label": label,
        "task": AVERAGE,
        "pass@1": mean,
        "ci_lo": lo,
        "ci_hi": hi,
        "n_problems": sum(r["n_problems"] for r in task_rows),
        "n_samples": sum(r["n_samples"] for r in task_rows),
        "maj@n": avg("maj@n") if not math.isnan(mean) else math.nan,
        "truncation_rate": avg("truncation_rate") if not math.isnan(mean) else math.nan,
        "incomplete_reasoning_rate": avg("incomplete_reasoning_rate") if not math.isnan(mean) else math.nan,
        "mean_response_tokens": avg("mean_response_tokens") if not math.isnan(mean) else math.nan,
        "problems": sum(r["problems"] for r in task_rows),
        "expected_samples": sum(r["expected_samples"] for r in task_rows),
        "missing_samples": sum(r["missing_samples"] for r in task_rows),
        "complete": all(r["complete"] for r in task_rows),
        "same_problems": not differ,
    }


# --- pass@k, diversity, breakdowns ------------------------------------------------------------------------------


def pass_at_k_table(
    scored: Sequence[ScoredRun],
    *,
    confidence: float = CI_CONFIDENCE,
    resamples: int = CI_RESAMPLES,
    seed: int = CI_SEED,
) -> pd.DataFrame:
    """Mean unbiased pass@k per (label, task) for k = 1, 2, 4, ... up to the smallest n of the run, with the
    canonical bootstrap CI of each mean (the summary's resampling of problems in task order; at k=1 it is the
    summary's ``ci95`` itself)."""
    pd = pandas_module()
    rows = []
    for sr in scored:
        sc = sr.summary.scores
        if sc is None:
            continue
        canonical = (sc.ci95.confidence, sc.ci95.resamples, sc.ci95.seed) == (confidence, resamples, seed)
        for k, value in sc.pass_at_k.items():
            if k == 1 and canonical:  # the summary's own CI (1 - (n-c)/n can differ from c/n in the last bit)
                lo, hi = sc.ci95.lo, sc.ci95.hi
            else:
                per_problem = [pass_at_k(s.n, s.c, k) for s in sr.scores]
                lo, hi = bootstrap_ci(per_problem, confidence=confidence, resamples=resamples, seed=seed)
            rows.append((sr.run.label, sr.run.task, k, value, lo, hi))
    return pd.DataFrame(rows, columns=["label", "task", "k", "pass@k", "ci_lo", "ci_hi"])


def diversity_table(per_problem: pd.DataFrame) -> pd.DataFrame:
    """Per (label, task): mean distinct answers, mean entropy (bits), no-answer rate, pass@1 and maj@n."""
    grouped = per_problem.groupby(["label", "task"], sort=False)
    out = grouped.agg(
        problems=("problem_id", "count"),
        samples=("n", "sum"),
        mean_answers=("n_answers", "mean"),
        mean_entropy_bits=("entropy_bits", "mean"),
        no_answer=("no_answer", "sum"),
        pass1=("pass@1", "mean"),
        maj=("maj@n", "mean"),
    ).reset_index()
    out["no_answer_rate"] = out["no_answer"] / out["samples"]
    return out.drop(columns=["no_answer"]).rename(columns={"pass1": "pass@1", "maj": "maj@n"})


def breakdown_table(scored: Sequence[ScoredRun]) -> pd.DataFrame:
    """Mean pass@1 per (label, task, field, value): the summary's ``by`` block, for each run's breakdown fields
    (the task's declared ones or its ``--meta-field``s), values in natural order."""
    pd = pandas_module()
    rows = []
    for sr in scored:
        if sr.summary.scores is None:
            continue
        for name, values in sr.summary.scores.by.items():
            for value, group in values.items():
                rows.append(
                    {
                        "label": sr.run.label,
                        "task": sr.run.task,
                        "field": name,
                        "value": value,
                        "problems": group.problems,
                        "pass@1": group.pass_at_1,
                    }
                )
    out = pd.DataFrame(rows, columns=["label", "task", "field", "value", "problems", "pass@1"])
    if out.empty:
        return out
    out["_key"] = [natural_order(str(v)) for v in out["value"]]
    return (
        out.sort_values(["task", "field", "_key", "label"], kind="stable")
        .drop(columns="_key")
        .reset_index(drop=True)
    )


@dataclass(frozen=True)
class ReportTables:
    """Every table of a report, built by ``build_tables``.

    ``summaries[i]`` is ``runs[i]``'s summary (the numbers ``summary.json`` holds at the default ``resamples``
    and ``seed``); ``benchmark`` carries each run's completeness (``complete``, ``missing_samples``,
    ``same_problems``) for anything that presents it.
    """

    runs: tuple[Run, ...]
    summaries: tuple[RunSummary, ...]
    per_problem: pd.DataFrame
    benchmark: pd.DataFrame
    benchmark_wide: pd.DataFrame
    pass_at_k: pd.DataFrame
    diversity: pd.DataFrame
    breakdown: pd.DataFrame
    budget: pd.DataFrame | None
    comparison: Comparison | None
    resamples: int = CI_RESAMPLES
    seed: int = CI_SEED
    # imported runs (``skyeval.report.verdicts``): None when no run carries its source's verdicts
    verdicts: pd.DataFrame | None = None
    verdicts_pass_at_k: pd.DataFrame | None = None
    grader_delta: pd.DataFrame | None = None

    @property
    def incomplete(self) -> tuple[Run, ...]:
        """The runs whose samples fall short of problems x n."""
        return tuple(r for r, s in zip(self.runs, self.summaries, strict=True) if not s.complete)

    @property
    def different_problems(self) -> set[str]:
        """The tasks whose runs cover different problem sets."""
        return different_problem_sets(self.runs)

    @property
    def marks(self) -> dict[tuple[str, str], str]:
        """(label, task) -> its benchmark cell's completeness marks (``format.run_marks``); plots and the HTML
        say the same words."""
        return run_marks(self.benchmark)

    @property
    def ci_note(self) -> str:
        """How the CIs were drawn, saying so when it is not the canonical draw of ``summary.json``."""
        how = f"95% percentile bootstrap over problems in task order, {self.resamples} resamples, seed {self.seed}"
        if (self.resamples, self.seed) == (CI_RESAMPLES, CI_SEED):
            return how + ", as in summary.json"
        return how + f"; NOT the {CI_RESAMPLES} resamples, seed {CI_SEED} of summary.json"

    def warnings(self) -> list[str]:
        """Everything a reader must know before trusting a cell: short runs and differing problem sets."""
        out = []
        for run, summ in zip(self.runs, self.summaries, strict=True):
            if not summ.complete:
                out.append(
                    f"{run.label} · {run.task}: incomplete, {summ.missing} of {summ.expected_samples} samples "
                    f"missing ({summ.problems_scored} of {summ.problems} problems have samples)"
                )
        for task in sorted(self.different_problems):
            sizes = ", ".join(f"{r.label}: {len(r.problem_ids)}" for r in self.runs if r.task == task)
            out.append(f"{task}: the runs cover different problem sets ({sizes} problems)")
        return out


def build_tables(
    runs: Sequence[Run],
    *,
    compare: Sequence[tuple[str, str]] = (),
    budget: bool = True,
    tokenizer: str = "auto",
    min_budget: int = 1024,
    same: Same | None = None,
    resamples: int = CI_RESAMPLES,
    seed: int = CI_SEED,
    progress: bool = False,
) -> ReportTables:
    """Compute all report tables for ``runs`` (see each table function for its definition)."""
    pairs = comparison_pairs(runs, compare)  # a bad --compare label fails before any work
    scored = score_runs(runs, same=same, resamples=resamples, seed=seed, progress=progress)
    pp = per_problem_table(scored)
    bench = benchmark_table(scored, resamples=resamples, seed=seed)
    imported = any(s.summary.source_scores is not None for s in scored)
    return ReportTables(
        runs=tuple(runs),
        summaries=tuple(s.summary for s in scored),
        per_problem=pp,
        benchmark=bench,
        benchmark_wide=benchmark_wide(bench, task_order(runs)),
        pass_at_k=pass_at_k_table(scored, resamples=resamples, seed=seed),
        diversity=diversity_table(pp),
        breakdown=breakdown_table(scored),
        budget=budget_table(
            runs,
            tokenizer=tokenizer,
            min_budget=min_budget,
            resamples=resamples,
            seed=seed,
            progress=progress,
        )
        if budget
        else None,
        comparison=compare_runs(pairs, resamples=resamples, seed=seed) if pairs else None,
        resamples=resamples,
        seed=seed,
        verdicts=verdicts_table(scored) if imported else None,
        verdicts_pass_at_k=verdicts_pass_at_k(scored) if imported else None,
        grader_delta=grader_delta(scored) if imported else None,
    )
