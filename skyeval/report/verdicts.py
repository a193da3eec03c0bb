"""Side-by-side verdicts of imported runs: the numbers by the source's verdicts and by ours, and the grader delta.

For every run whose samples carry the source harness's own verdicts (``skyeval import``): ``verdicts_table``
has one row per (run, verdicts) with pass@1, maj@n and the disagreements, ``verdicts_pass_at_k`` both pass@k
curves, and ``grader_delta`` every sample the two graders judge differently (problem, gold, both extractions,
both verdicts), found by ``skyeval.grading.disagreements.find_disagreements``. All numbers come from the run's
summary (``skyeval.summary.source_scores``), the one definition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from skyeval.grading.disagreements import find_disagreements
from skyeval.report.format import pandas_module
from skyeval.report.load import Run
from skyeval.summary import ProblemSamples, ProblemScore, verdict_pairs
from skyeval.types import RunSummary

if TYPE_CHECKING:
    import pandas as pd


class ScoredRun(Protocol):
    """What these tables read of ``skyeval.report.tables.ScoredRun`` (named here, so this module does not
    import the one that imports it)."""

    @property
    def run(self) -> Run: ...

    @property
    def problems(self) -> tuple[ProblemSamples, ...]: ...

    @property
    def scores(self) -> tuple[ProblemScore, ...]: ...

    @property
    def summary(self) -> RunSummary: ...


VERDICTS_COLUMNS = (
    "label",
    "task",
    "verdicts",
    "problems",
    "samples",
    "pass@1",
    "maj@n",
    "disagreements",
    "correct_only_here",
    "published",
)
DELTA_COLUMNS = (
    "label",
    "task",
    "problem_id",
    "sample",
    "gold",
    "skyeval_extracted",
    "source_extracted",
    "skyeval_correct",
    "source_correct",
    "skyeval_reason",
)


def _published(metrics: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in metrics.items())


def verdicts_table(scored: Sequence[ScoredRun]) -> pd.DataFrame:
    """Per imported run two rows, ``skyeval`` and ``source``: problems and samples judged, pass@1, maj@n (NaN
    when the source records no answers), the disagreements, those correct only by these verdicts, and (source
    row) the numbers the source published."""
    pd = pandas_module()
    rows: list[dict[str, Any]] = []
    for sr in scored:
        src, ours = sr.summary.source_scores, sr.summary.scores
        if src is None or ours is None:
            continue
        mine = [
            score
            for p, score in zip(sr.problems, sr.scores, strict=True)
            if all(s.source_correct is not None for s in p.samples)
        ]
        base = {"label": sr.run.label, "task": sr.run.task, "problems": src.problems, "samples": src.samples}
        rows.append(
            {
                **base,
                "verdicts": "skyeval",
                "pass@1": sum(s.pass_at_1 for s in mine) / len(mine) if mine else float("nan"),
                "maj@n": sum(s.maj_correct for s in mine) / len(mine) if mine else float("nan"),
                "disagreements": src.disagreements,
                "correct_only_here": src.only_ours,
                "published": "",
            }
        )
        source = sr.run.config.source
        rows.append(
            {
                **base,
                "verdicts": "source",
                "pass@1": src.pass_at_1,
                "maj@n": src.maj_at_n if src.maj_at_n is not None else float("nan"),
                "disagreements": src.disagreements,
                "correct_only_here": src.only_source,
                "published": _published(source.metrics) if source is not None else "",
            }
        )
    return pd.DataFrame(rows, columns=list(VERDICTS_COLUMNS))


def verdicts_pass_at_k(scored: Sequence[ScoredRun]) -> pd.DataFrame:
    """pass@k of each imported run by both verdicts (``verdicts`` = skyeval | source), over the problems the
    source judged."""
    from skyeval import metrics

    pd = pandas_module()
    rows = []
    for sr in scored:
        src = sr.summary.source_scores
        if src is None:
            continue
        judged = [p for p in sr.problems if all(s.source_correct is not None for s in p.samples)]
        ours = metrics.pass_at_k_curve([(p.n, p.c) for p in judged]) if judged else {}
        for name, curve in (("skyeval", ours), ("source", src.pass_at_k)):
            rows += [
                {"label": sr.run.label, "task": sr.run.task, "verdicts": name, "k": k, "pass@k": v}
                for k, v in curve.items()
            ]
    return pd.DataFrame(rows, columns=["label", "task", "verdicts", "k", "pass@k"])


def grader_delta(scored: Sequence[ScoredRun]) -> pd.DataFrame:
    """Every sample of an imported run on which the source's verdict and ours differ, in task order."""
    pd = pandas_module()
    rows = []
    for sr in scored:
        pairs = verdict_pairs(sr.problems)
        by_key = {(pair.row, pair.sample): record for record, pair in pairs}
        for d in find_disagreements(pair for _, pair in pairs):
            record = by_key[(d.row, d.sample)]
            rows.append(
                {
                    "label": sr.run.label,
                    "task": sr.run.task,
                    "problem_id": record.problem_id,
                    "sample": record.sample_index,
                    "gold": d.gold,
                    "skyeval_extracted": d.extracted,
                    "source_extracted": record.source_extracted,
                    "skyeval_correct": d.ours,
                    "source_correct": d.theirs,
                    "skyeval_reason": d.reason,
                }
            )
    return pd.DataFrame(rows, columns=list(DELTA_COLUMNS))
