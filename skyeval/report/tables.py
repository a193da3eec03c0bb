"""The report's tables as pandas DataFrames (the library API behind ``skyeval report``).

pandas is the ``report`` extra and is imported when a table is built, never at ``import skyeval``. Every
table is long-form (one row per label x task x ...), so notebooks can pivot, filter and plot them freely;
``benchmark_wide`` and ``to_markdown`` format the headline table for people.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from skyeval.errors import SkyevalError, require
from skyeval.metrics import bootstrap_ci, maj_at_k, pass_at_k_curve
from skyeval.report.load import Run, problems
from skyeval.report.metrics import (
    Same,
    answer_diversity,
    apply_budget_grades,
    average_ci,
    budget_ladder,
    grade_budget_answers,
    load_cutter,
    paired_bootstrap,
    plan_budget,
)

if TYPE_CHECKING:
    import pandas as pd

TASK_ORDER = ("aime24", "amc23", "math500", "olympiadbench")
BREAKDOWN_FIELDS = ("level", "subject", "subfield")
AVERAGE = "average"


def _pd() -> ModuleType:
    require("pandas", extra="report", what="skyeval report")
    import pandas

    return pandas


def task_order(runs: Sequence[Run]) -> list[str]:
    """Tasks in the benchmark table's column order: the paper's four first, then the others as given."""
    seen = list(dict.fromkeys(r.task for r in runs))
    return [t for t in TASK_ORDER if t in seen] + [t for t in seen if t not in TASK_ORDER]


def label_order(runs: Sequence[Run]) -> list[str]:
    return list(dict.fromkeys(r.label for r in runs))


def _equivalent() -> Same:
    from skyeval import is_equivalent

    return is_equivalent


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="sample", disable=not enabled, leave=False)


# --- per problem ---------------------------------------------------------------------------------------------


def _memoised(same: Same) -> Same:
    cache: dict[tuple[str, str], bool] = {}

    def cached(a: str, b: str) -> bool:
        key = (a, b)
        if key not in cache:
            cache[key] = same(a, b)
        return cache[key]

    return cached


def per_problem_table(
    runs: Sequence[Run], *, same: Same | None = None, progress: bool = False
) -> pd.DataFrame:
    """One row per (label, task, problem): n, c, pass@1 (= c/n), maj@n, diversity, and the breakdown fields.

    ``same`` clusters answers for diversity and majority voting; default ``skyeval.is_equivalent`` (memoised
    for this table). ``maj@n`` is ``skyeval.metrics.maj_at_k`` over all n samples.
    """
    pd = _pd()
    same = _memoised(same or _equivalent())
    rows = []
    bar = _progress(sum(len(r.records) for r in runs), "per-problem metrics", progress)
    for run in runs:
        for p in problems(run):
            answers = [s.extracted for s in p.samples]
            verdicts = [s.correct for s in p.samples]
            div = answer_diversity(answers, verdicts, same)
            row = {
                "label": run.label,
                "task": run.task,
                "problem_id": p.problem_id,
                "n": p.n,
                "c": p.c,
                "pass@1": p.c / p.n,
                "maj@n": float(maj_at_k(answers, verdicts, same=same)),
                "n_answers": div.n_answers,
                "entropy_bits": div.entropy_bits,
                "no_answer": div.no_answer,
                "truncated": sum(s.finish_reason == "length" for s in p.samples),
            }
            for name in BREAKDOWN_FIELDS:
                row[name] = None if p.meta.get(name) is None else str(p.meta[name])
            rows.append(row)
            bar.update(p.n)
    bar.close()
    return pd.DataFrame(rows)


# --- benchmark table ------------------------------------------------------------------------------------------


def benchmark_table(
    per_problem: pd.DataFrame, *, confidence: float = 0.95, resamples: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Mean pass@1 with a bootstrap CI per (label, task), plus an ``average`` task per label.

    The average is the mean of the task means with a stratified bootstrap CI; it is NaN for a label that lacks
    some of the report's tasks (a partial average would not be comparable).
    """
    pd = _pd()
    tasks = list(dict.fromkeys(per_problem["task"]))
    rows = []
    for label, by_label in per_problem.groupby("label", sort=False):
        groups = []
        for task, df in by_label.groupby("task", sort=False):
            values = df["pass@1"].tolist()
            lo, hi = bootstrap_ci(values, confidence=confidence, resamples=resamples, seed=seed)
            rows.append(_bench_row(label, task, sum(values) / len(values), lo, hi, df))
            groups.append(values)
        if len(groups) > 1 and len(groups) == len(tasks):
            mean, lo, hi = average_ci(groups, confidence=confidence, resamples=resamples, seed=seed)
            rows.append(_bench_row(label, AVERAGE, mean, lo, hi, by_label))
        elif len(tasks) > 1:
            rows.append(_bench_row(label, AVERAGE, math.nan, math.nan, math.nan, by_label))
    return pd.DataFrame(rows)


def _bench_row(label: Any, task: Any, mean: float, lo: float, hi: float, df: pd.DataFrame) -> dict[str, Any]:
    return {
        "label": label,
        "task": task,
        "pass@1": mean,
        "ci_lo": lo,
        "ci_hi": hi,
        "n_problems": len(df),
        "n_samples": int(df["n"].sum()),
    }


def format_cell(mean: float, lo: float, hi: float, n: int) -> str:
    """``45.2 [41.0, 49.5] n=500`` in percent; ``—`` when missing."""
    if math.isnan(mean):
        return "—"
    return f"{100 * mean:.1f} [{100 * lo:.1f}, {100 * hi:.1f}] n={n}"


def benchmark_wide(bench: pd.DataFrame, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """The headline table: rows = labels, columns = tasks then ``average``, cells formatted by ``format_cell``."""
    pd = _pd()
    tasks = list(tasks) if tasks is not None else [t for t in dict.fromkeys(bench["task"]) if t != AVERAGE]
    columns = tasks + ([AVERAGE] if AVERAGE in set(bench["task"]) else [])
    rows = []
    for label, df in bench.groupby("label", sort=False):
        cells = {
            r["task"]: format_cell(r["pass@1"], r["ci_lo"], r["ci_hi"], r["n_problems"])
            for _, r in df.iterrows()
        }
        rows.append({"model": label, **{t: cells.get(t, "—") for t in columns}})
    return pd.DataFrame(rows, columns=["model", *columns])


# --- pass@k, diversity, breakdowns ------------------------------------------------------------------------------


def pass_at_k_table(per_problem: pd.DataFrame) -> pd.DataFrame:
    """Mean unbiased pass@k per (label, task) for k = 1, 2, 4, ... up to the smallest n of the run."""
    pd = _pd()
    rows = []
    for (label, task), df in per_problem.groupby(["label", "task"], sort=False):
        curve = pass_at_k_curve(list(zip(df["n"], df["c"], strict=True)))
        rows += [{"label": label, "task": task, "k": k, "pass@k": v} for k, v in curve.items()]
    return pd.DataFrame(rows)


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


def _natural(value: str) -> tuple[int, str]:
    digits = "".join(ch for ch in value if ch.isdigit())
    return (int(digits) if digits else 1 << 30, value)


def breakdown_table(per_problem: pd.DataFrame, fields: Sequence[str] = BREAKDOWN_FIELDS) -> pd.DataFrame:
    """Mean pass@1 per (label, task, field, value) for each breakdown field the problems carry."""
    pd = _pd()
    rows = []
    for name in fields:
        if name not in per_problem.columns:
            continue
        df = per_problem[per_problem[name].notna()]
        for (label, task, value), g in df.groupby(["label", "task", name], sort=False):
            rows.append(
                {
                    "label": label,
                    "task": task,
                    "field": name,
                    "value": value,
                    "problems": len(g),
                    "pass@1": g["pass@1"].mean(),
                }
            )
    out = pd.DataFrame(rows, columns=["label", "task", "field", "value", "problems", "pass@1"])
    if out.empty:
        return out
    out["_key"] = [_natural(str(v)) for v in out["value"]]
    return (
        out.sort_values(["task", "field", "_key", "label"], kind="stable")
        .drop(columns="_key")
        .reset_index(drop=True)
    )


def breakdown_wide(breakdown: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    """Per (task, field): rows = field values (natural order), one column per label with ``pass@1 % (n=problems)``."""
    pd = _pd()
    out = {}
    for (task, name), df in breakdown.groupby(["task", "field"], sort=False):
        values = list(dict.fromkeys(df["value"]))
        labels = list(dict.fromkeys(df["label"]))
        cells = {
            (r["value"], r["label"]): f"{100 * r['pass@1']:.1f} (n={r['problems']})" for _, r in df.iterrows()
        }
        rows = [{name: v, **{str(lab): cells.get((v, lab), "—") for lab in labels}} for v in values]
        out[(str(task), str(name))] = pd.DataFrame(rows, columns=[name, *map(str, labels)])
    return out


# --- budget ------------------------------------------------------------------------------------------------------


def budget_table(
    runs: Sequence[Run],
    *,
    tokenizer: str = "auto",
    min_budget: int = 1024,
    timeout: float = 5.0,
    progress: bool = False,
) -> pd.DataFrame:
    """Accuracy (mean over problems of the fraction of correct samples) if completions were cut at each budget.

    Budgets are ``min_budget`` (1k), 2k, 4k, ... tokens up to the run's ``max_tokens``; ``method`` says whether
    the model's own tokenizer or the chars-per-token approximation cut the text (``tokenizer='chars'`` forces
    the latter).
    """
    pd = _pd()
    bar = _progress(sum(len(r.records) for r in runs), "budget cuts", progress)
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
            rows.append(
                {
                    "label": run.label,
                    "task": run.task,
                    "budget": budget,
                    "accuracy": sum(fractions) / len(fractions),
                    "samples_cut": result.cut[j],
                    "method": method,
                }
            )
    return pd.DataFrame(rows)


# --- paired comparison -------------------------------------------------------------------------------------------


def comparison_pairs(runs: Sequence[Run], explicit: Sequence[tuple[str, str]] = ()) -> list[tuple[Run, Run]]:
    """Which runs to compare: each explicit (label A, label B) on every task both ran; by default, on each task
    with several runs, every run against the first one given (the baseline)."""
    by_key = {(r.label, r.task): r for r in runs}
    labels = set(label_order(runs))
    pairs: list[tuple[Run, Run]] = []
    if explicit:
        for a, b in explicit:
            for name in (a, b):
                if name not in labels:
                    raise SkyevalError(
                        f"--compare: no run labelled {name!r}; labels: {', '.join(sorted(labels))}"
                    )
            shared = [t for t in task_order(runs) if (a, t) in by_key and (b, t) in by_key]
            if not shared:
                raise SkyevalError(f"--compare: {a!r} and {b!r} share no task")
            pairs += [(by_key[(a, t)], by_key[(b, t)]) for t in shared]
        return pairs
    for task in task_order(runs):
        on_task = [r for r in runs if r.task == task]
        pairs += [(r, on_task[0]) for r in on_task[1:]]
    return pairs


@dataclass(frozen=True)
class Comparison:
    """A paired comparison: the summary (one row per pair) and the problems only one side solves."""

    summary: pd.DataFrame
    unique: pd.DataFrame


def compare_runs(
    pairs: Sequence[tuple[Run, Run]], *, confidence: float = 0.95, resamples: int = 1000, seed: int = 0
) -> Comparison:
    """Paired pass@1 difference (A - B) on the problems both runs have, with a paired bootstrap CI.

    A problem is *solved* by a run when at least one of its samples is correct; ``unique`` lists the problems
    one run solves and the other does not.
    """
    pd = _pd()
    rows, unique = [], []
    for a, b in pairs:
        pa = {p.problem_id: p for p in problems(a)}
        pb = {p.problem_id: p for p in problems(b)}
        shared = [pid for pid in pa if pid in pb]
        if not shared:
            raise SkyevalError(f"runs {a.path} and {b.path} share no problem ids on {a.task!r}")
        diff = paired_bootstrap(
            [pa[i].c / pa[i].n for i in shared],
            [pb[i].c / pb[i].n for i in shared],
            confidence=confidence,
            resamples=resamples,
            seed=seed,
        )
        only_a = [i for i in shared if pa[i].c > 0 and pb[i].c == 0]
        only_b = [i for i in shared if pb[i].c > 0 and pa[i].c == 0]
        rows.append(
            {
                "task": a.task,
                "a": a.label,
                "b": b.label,
                "shared_problems": diff.n,
                "unpaired_problems": len(pa) + len(pb) - 2 * diff.n,
                "pass@1_a": diff.mean_a,
                "pass@1_b": diff.mean_b,
                "diff": diff.diff,
                "ci_lo": diff.lo,
                "ci_hi": diff.hi,
                "solved_only_by_a": len(only_a),
                "solved_only_by_b": len(only_b),
            }
        )
        for winner, ids in ((a.label, only_a), (b.label, only_b)):
            unique += [
                {
                    "task": a.task,
                    "a": a.label,
                    "b": b.label,
                    "solved_only_by": winner,
                    "problem_id": i,
                    "c_a": pa[i].c,
                    "n_a": pa[i].n,
                    "c_b": pb[i].c,
                    "n_b": pb[i].n,
                }
                for i in ids
            ]
    columns = ["task", "a", "b", "solved_only_by", "problem_id", "c_a", "n_a", "c_b", "n_b"]
    return Comparison(pd.DataFrame(rows), pd.DataFrame(unique, columns=columns))


# --- formatting --------------------------------------------------------------------------------------------------


def _fmt(value: Any, floatfmt: str) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else format(value, floatfmt)
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A GitHub-flavoured Markdown table (no ``tabulate`` needed)."""
    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(_fmt(v, floatfmt) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *body])


@dataclass(frozen=True)
class ReportTables:
    """Every table of a report, built by ``build_tables``."""

    runs: tuple[Run, ...]
    per_problem: pd.DataFrame
    benchmark: pd.DataFrame
    benchmark_wide: pd.DataFrame
    pass_at_k: pd.DataFrame
    diversity: pd.DataFrame
    breakdown: pd.DataFrame
    budget: pd.DataFrame | None
    comparison: Comparison | None


def build_tables(
    runs: Sequence[Run],
    *,
    compare: Sequence[tuple[str, str]] = (),
    budget: bool = True,
    tokenizer: str = "auto",
    min_budget: int = 1024,
    same: Same | None = None,
    resamples: int = 1000,
    seed: int = 0,
    progress: bool = False,
) -> ReportTables:
    """Compute all report tables for ``runs`` (see each table function for its definition)."""
    pp = per_problem_table(runs, same=same, progress=progress)
    bench = benchmark_table(pp, resamples=resamples, seed=seed)
    pairs = comparison_pairs(runs, compare)
    return ReportTables(
        runs=tuple(runs),
        per_problem=pp,
        benchmark=bench,
        benchmark_wide=benchmark_wide(bench, task_order(runs)),
        pass_at_k=pass_at_k_table(pp),
        diversity=diversity_table(pp),
        breakdown=breakdown_table(pp),
        budget=budget_table(runs, tokenizer=tokenizer, min_budget=min_budget, progress=progress)
        if budget
        else None,
        comparison=compare_runs(pairs, resamples=resamples, seed=seed) if pairs else None,
    )
