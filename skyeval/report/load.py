"""Run directories for the report, read through ``skyeval.results`` (the one run-directory layer).

Nothing here needs pandas: ``Run`` holds the config and the run's in-scope sample rows (``skyeval.summary``'s
scope and duplicate policy), and ``problems`` groups them per problem in task order. ``summary.json`` is never
read: every number in a report is recomputed from the samples, by the same code that wrote ``summary.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from skyeval import results, summary
from skyeval.errors import SkyevalError
from skyeval.summary import ProblemSamples
from skyeval.tasks import FILE_PREFIX
from skyeval.types import RunConfig, SampleRecord

__all__ = ["ProblemSamples", "Run", "default_label", "load_run", "load_runs", "problems", "task_name"]


@dataclass(frozen=True)
class Run:
    """One run directory: its config, its in-scope samples, and what loading had to drop (reported, never
    hidden)."""

    path: Path
    label: str
    config: RunConfig
    records: tuple[SampleRecord, ...]
    torn_last_line: bool = False
    duplicates: int = 0

    @property
    def task(self) -> str:
        """The task's short name: ``file:/data/x.jsonl`` tasks are named by the file's stem (``x``)."""
        return task_name(self.config.task)

    @property
    def max_tokens(self) -> int:
        return self.config.sampling.max_tokens

    @property
    def problem_ids(self) -> tuple[str, ...]:
        """The problems the run covers, in task order."""
        return summary.scope(self.config, self.records)

    @property
    def expected_samples(self) -> int:
        """Problems the run covers x n."""
        return summary.problem_total(self.config, self.records) * self.config.sampling.n

    @property
    def missing(self) -> int:
        """Samples short of ``expected_samples`` (0: the run is complete)."""
        return max(0, self.expected_samples - len(self.records))

    @property
    def notes(self) -> tuple[str, ...]:
        """What loading found, in words, for the report: incompleteness, dropped lines and rows."""
        notes = []
        if self.missing:
            notes.append(f"incomplete: {self.missing} of {self.expected_samples} samples missing")
        if self.torn_last_line:
            notes.append("skipped a torn last line of samples.jsonl")
        if self.duplicates:
            notes.append(
                f"{self.duplicates} repeated (problem_id, sample_index) rows: kept the first of each"
            )
        source = self.config.source
        if source is not None and self.config.unknown:
            notes.append(
                f"imported from {source.format}: the source does not record {', '.join(self.config.unknown)} "
                "(placeholders in config.json)"
            )
        return tuple(notes)


def task_name(task: str) -> str:
    """``math500`` stays ``math500``; ``file:/data/my_set.jsonl`` becomes ``my_set``."""
    if task.startswith(FILE_PREFIX):
        return Path(task[len(FILE_PREFIX) :]).stem or task
    return task


def default_label(config: RunConfig) -> str:
    """The model's last path component (``Qwen/Qwen2.5-Math-7B`` -> ``Qwen2.5-Math-7B``)."""
    return config.model.rstrip("/").rsplit("/", 1)[-1] or config.model


def load_run(path: str | Path, label: str | None = None) -> Run:
    """Load one run directory written by ``skyeval run`` (``results.read_run``, then the summary's scope)."""
    data = results.read_run(path)
    records = summary.in_scope(data.records, data.config)
    if not records:
        raise SkyevalError(f"{data.path / results.SAMPLES}: no samples")
    return Run(
        path=data.path,
        label=label or default_label(data.config),
        config=data.config,
        records=tuple(records),
        torn_last_line=data.torn_tail,
        duplicates=data.duplicates,
    )


def load_runs(paths: Sequence[str | Path], labels: Sequence[str] | None = None) -> list[Run]:
    """Load several run directories; ``labels`` (one per path) override the model-derived row labels."""
    if labels and len(labels) != len(paths):
        raise SkyevalError(f"got {len(labels)} labels for {len(paths)} run directories; give one per run")
    runs = [load_run(p, labels[i] if labels else None) for i, p in enumerate(paths)]
    seen: dict[tuple[str, str], Path] = {}
    for run in runs:
        key = (run.label, run.task)
        if key in seen:
            raise SkyevalError(
                f"runs {seen[key]} and {run.path} are both {run.label!r} on {run.task!r}; "
                "tell them apart with --label"
            )
        seen[key] = run.path
    return runs


def problems(run: Run) -> list[ProblemSamples]:
    """A run's samples per problem, problems in task order, samples by index (``summary.problems_in_order``)."""
    return summary.problems_in_order(run.records, run.config)
