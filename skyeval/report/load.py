"""Read run directories (``config.json`` + ``samples.jsonl``) into plain, typed values.

Nothing here needs pandas: ``Run`` holds the config and the sample records, and ``problems`` groups them per
problem. ``summary.json`` is never read: every number in a report is recomputed from the samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyeval import results
from skyeval.errors import SkyevalError
from skyeval.types import RunConfig, SampleRecord


@dataclass(frozen=True)
class ProblemSamples:
    """All samples of one problem in one run, ordered by ``sample_index``."""

    problem_id: str
    gold: str
    prompt: str
    meta: Mapping[str, Any]
    samples: tuple[SampleRecord, ...]

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def c(self) -> int:
        return sum(s.correct for s in self.samples)


@dataclass(frozen=True)
class Run:
    """One run directory: its config, its samples, and what loading had to drop (reported, never hidden)."""

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
    def notes(self) -> tuple[str, ...]:
        """What loading dropped, in words, for the report."""
        notes = []
        if self.torn_last_line:
            notes.append("skipped a torn last line of samples.jsonl")
        if self.duplicates:
            notes.append(f"{self.duplicates} repeated (problem_id, sample_index) rows: kept the last of each")
        return tuple(notes)


def in_scope(records: Sequence[SampleRecord], config: RunConfig) -> list[SampleRecord]:
    """The samples the run's own summary covers: its first ``n`` sample indices and, after ``--limit``, only
    the problems it was limited to (a run directory may hold more from an earlier, larger run)."""
    wanted = set(config.problem_ids)
    n = config.sampling.n
    return [r for r in records if r.sample_index < n and (not wanted or r.problem_id in wanted)]


def task_name(task: str) -> str:
    """``math500`` stays ``math500``; ``file:/data/my_set.jsonl`` becomes ``my_set``."""
    if task.startswith("file:"):
        return Path(task[len("file:") :]).stem or task
    return task


def default_label(config: RunConfig) -> str:
    """The model's last path component (``Qwen/Qwen2.5-Math-7B`` -> ``Qwen2.5-Math-7B``)."""
    return config.model.rstrip("/").rsplit("/", 1)[-1] or config.model


def read_samples(path: Path) -> tuple[list[SampleRecord], bool, int]:
    """Parse ``samples.jsonl``; returns (records, torn_last_line, duplicates).

    A last line without its newline is a write cut short and is skipped; any other bad line is an error. A
    repeated (problem_id, sample_index) keeps the last row (a re-graded sample).
    """
    from skyeval.jsonl import iter_jsonl

    by_key: dict[tuple[str, int], SampleRecord] = {}
    duplicates = 0
    for lineno, row in iter_jsonl(path, tolerate_torn_tail=True):
        try:
            record = SampleRecord.from_json(row)
        except (TypeError, AttributeError) as err:
            raise SkyevalError(f"{path}:{lineno}: malformed sample row ({err})") from None
        key = (str(record.problem_id), int(record.sample_index))
        duplicates += key in by_key
        by_key[key] = record
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(size - 1, 0))
        torn = size > 0 and fh.read(1) != b"\n"
    return list(by_key.values()), torn, duplicates


def load_run(path: str | Path, label: str | None = None) -> Run:
    """Load one run directory written by ``skyeval run``."""
    path = Path(path)
    if not path.is_dir():
        raise SkyevalError(f"{path}: not a run directory")
    config_path, samples_path = path / "config.json", path / "samples.jsonl"
    for needed in (config_path, samples_path):
        if not needed.is_file():
            raise SkyevalError(f"{path}: missing {needed.name}; is this a skyeval run directory?")
    config = results.read_config(path)
    records, torn, duplicates = read_samples(samples_path)
    records = in_scope(records, config)
    if not records:
        raise SkyevalError(f"{samples_path}: no samples")
    return Run(
        path=path,
        label=label or default_label(config),
        config=config,
        records=tuple(records),
        torn_last_line=torn,
        duplicates=duplicates,
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
    """Group a run's samples per problem, in first-seen problem order, samples by index."""
    groups: dict[str, list[SampleRecord]] = {}
    for record in run.records:
        groups.setdefault(str(record.problem_id), []).append(record)
    out = []
    for pid, recs in groups.items():
        recs.sort(key=lambda r: r.sample_index)
        first = recs[0]
        out.append(ProblemSamples(pid, str(first.gold), first.prompt, dict(first.meta), tuple(recs)))
    return out
