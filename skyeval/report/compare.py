"""Paired comparison of runs on the problems both have: pass@1 difference with a paired bootstrap CI, and
the problems only one of them solves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from skyeval.errors import SkyevalError
from skyeval.report.format import label_order, pandas_module, task_order
from skyeval.report.load import Run, problems
from skyeval.report.metrics import paired_bootstrap

if TYPE_CHECKING:
    import pandas as pd


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
    pd = pandas_module()
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
