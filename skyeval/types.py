"""The one vocabulary every stage of skyeval, skydata and skytrain speaks: small frozen dataclasses.

Stages pass these values in one direction (task -> prompts -> engine -> extract -> grade -> metrics -> report);
only the runner composes them. Records written to disk carry ``SCHEMA_VERSION``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

SCHEMA_VERSION = 1

GradeReason = Literal["equal", "not_equal", "no_answer", "timeout", "too_large", "unparsable", "error"]
FinishReason = Literal["stop", "length", "error"]


@dataclass(frozen=True)
class Grade:
    """The verdict on one response: was its final answer equal to the gold, what was extracted, and why."""

    correct: bool
    extracted: str | None
    reason: GradeReason
    detail: str = ""


@dataclass(frozen=True)
class Problem:
    """One benchmark or curation problem. ``meta`` holds breakdown fields (subject, level, subfield, source)."""

    id: str
    question: str
    gold: str
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings shared by every engine. ``n`` is samples per prompt."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 4096
    seed: int | None = 0


@dataclass(frozen=True)
class GenerationRequest:
    """Ask an engine for the samples ``sample_indices`` of one prompt (chat messages)."""

    problem_id: str
    messages: tuple[Message, ...]
    sample_indices: tuple[int, ...]


@dataclass(frozen=True)
class Completion:
    """One generated sample, as an engine returns it."""

    problem_id: str
    sample_index: int
    text: str
    finish_reason: FinishReason
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Engine(Protocol):
    """A text generator. Yields completions as they finish (any order); the runner records them one by one."""

    name: str

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingParams
    ) -> Iterator[Completion]: ...


@dataclass(frozen=True)
class SampleRecord:
    """One line of ``samples.jsonl``: a graded sample. Append-only; keyed by (problem_id, sample_index)."""

    problem_id: str
    sample_index: int
    prompt: str
    completion: str
    finish_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None
    gold: str
    extracted: str | None
    correct: bool
    reason: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> SampleRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in row.items() if k in known})


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to reproduce a run; written to ``config.json``."""

    model: str
    task: str
    engine: str
    sampling: SamplingParams
    system_prompt: str | None
    prompt_template: str
    task_fingerprint: str = ""
    limit: int | None = None
    engine_options: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    problems: int | None = None  # problems the run covers: the task's count, or its first ``limit``
    problem_ids: tuple[str, ...] = ()  # with ``limit``: the ids of those problems (``score`` keeps to them)
