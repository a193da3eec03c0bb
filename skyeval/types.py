"""skyeval's shared vocabulary: small frozen dataclasses that its stages pass in one direction.

task -> prompts -> engine -> extract -> grade -> metrics -> report; only the runner composes them. What is
written to a run directory carries a schema version that every reader checks (a newer file is refused):
``SCHEMA_VERSION`` for ``config.json`` and the rows of ``samples.jsonl``, ``SUMMARY_SCHEMA_VERSION`` for
``summary.json``. ``to_json``/``from_json`` convert any of these dataclasses to and from JSON, so a field added
with a default is written and read without further code.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import Field, asdict, dataclass, field, fields, is_dataclass
from typing import Any, Literal, Protocol, TypeVar

SCHEMA_VERSION = (
    2  # config.json and samples.jsonl rows; 1 was the pre-release format (no task order recorded)
)
SUMMARY_SCHEMA_VERSION = 2  # summary.json; 1 was the pre-release untyped summary

GradeReason = Literal[
    "equal", "not_equal", "no_answer", "incomplete_reasoning", "timeout", "too_large", "unparsable", "error"
]
"""``incomplete_reasoning``: the response opened a ``<think>`` block and never closed it (no answer is read
from inside it), told apart from ``no_answer`` (finished, but states none) and from truncation."""
FinishReason = Literal["stop", "length", "error"]
UNKNOWN_FINISH = "unknown"
"""The ``finish_reason`` of an imported sample whose source does not say how it ended."""


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
    prefill: str = (
        ""  # the assistant turn starts with this (``<think>\n``), unless the chat template opens it
    )


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
    grader: str = ""  # "<GRADER_VERSION>/<policy>" that graded it ("": before grader versions were recorded)
    # imported runs (``skyeval import``): the source harness's own extracted answer and verdict (None: unknown)
    source_extracted: str | None = None
    source_correct: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> SampleRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in row.items() if k in known})


@dataclass(frozen=True)
class ModelSource:
    """Which model a run used, beyond the string typed: what ``run_identity`` hashes for the model.

    ``local``: ``id`` is the absolute path, ``fingerprint`` a hash of its weight, config and tokenizer files
    (``files`` lists each one's entry) and ``chat_template`` a hash of the chat template's text. ``hub``: ``id`` is
    the Hub id and ``revision`` the commit it resolved to ("" offline, when no cached copy says). ``name``: a
    served model name or a label (openai, replay), identified by ``id`` alone.
    """

    kind: Literal["local", "hub", "name"]
    id: str
    revision: str = ""
    fingerprint: str = ""
    chat_template: str = ""
    files: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceFile:
    """One file an imported run was read from: its path (absolute), content hash and row count."""

    path: str
    sha256: str
    rows: int


@dataclass(frozen=True)
class ImportSource:
    """Where an imported run's samples come from: the harness format, its files, the numbers it published
    (``metrics``: e.g. the Qwen2.5-Math harness's ``acc``, in its own units), the generation settings its files
    record (``settings``) and the importer options used."""

    format: str
    files: tuple[SourceFile, ...]
    metrics: Mapping[str, float] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


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
    problem_ids: tuple[
        str, ...
    ] = ()  # the ids of those problems in task order (``score``/``report`` keep to them)
    meta_fields: tuple[str, ...] = ()  # breakdown fields: the task's declared ones, or ``--meta-field``s
    system_prompt_name: str = (
        ""  # the registry name ``system_prompt`` was resolved from (recorded, not identity)
    )
    model_source: ModelSource | None = None  # the resolved model (None: identified by ``model`` as typed)
    grader_version: str = ""  # recorded, not part of the identity: a change re-grades the samples
    grade_policy: str = "default"
    protocol: str = ""  # the ``--protocol`` preset the settings were resolved with ("" for none)
    # how each setting was resolved: name -> {"value": ..., "source": "flag" | "protocol NAME" | "task NAME" ...}
    resolved: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    response_prefill: str = ""  # the assistant turn is opened with this (deepseek-r1: "<think>\n"); identity
    source: ImportSource | None = None  # set for ``skyeval import``: where the samples came from
    unknown: tuple[str, ...] = ()  # settings the source does not record (their values here are placeholders)


# --- the summary of a run (summary.json) ----------------------------------------------------------------------

CI_CONFIDENCE = 0.95
CI_RESAMPLES = 1000
CI_SEED = 0


@dataclass(frozen=True)
class BootstrapCI:
    """A percentile bootstrap CI of the mean over problems (resampled in task order) and how it was drawn."""

    lo: float
    hi: float
    confidence: float = CI_CONFIDENCE
    resamples: int = CI_RESAMPLES
    seed: int = CI_SEED

    @property
    def canonical(self) -> bool:
        """Drawn with the settings ``summary.json`` uses (95%, 1000 resamples, seed 0)."""
        return (self.confidence, self.resamples, self.seed) == (CI_CONFIDENCE, CI_RESAMPLES, CI_SEED)


@dataclass(frozen=True)
class TokenStats:
    """Completion token counts over the samples that report one (``counted`` of them)."""

    mean: float | None
    median: float | None
    counted: int


@dataclass(frozen=True)
class GroupScore:
    """pass@1 over the problems of one breakdown value (e.g. ``level = Level 5``)."""

    problems: int
    pass_at_1: float = field(metadata={"json": "pass@1"})


@dataclass(frozen=True)
class Scores:
    """The metrics of the scored problems (pass@1 = mean over problems of the fraction of correct samples)."""

    pass_at_1: float = field(metadata={"json": "pass@1"})
    ci95: BootstrapCI
    pass_at_k: Mapping[int, float] = field(metadata={"json": "pass@k"})  # unbiased, k = 1, 2, 4, ..., min n
    maj_at_n: float = field(metadata={"json": "maj@n"})  # majority vote over each problem's samples
    truncated: int
    truncation_rate: float
    truncated_correct: int
    response_tokens: TokenStats
    reasons: Mapping[str, int]  # samples per grade reason
    by: Mapping[str, Mapping[str, GroupScore]] = field(default_factory=dict)  # field -> value -> score
    incomplete_reasoning: int = 0  # samples whose <think> never closed (counted apart from truncation)
    finish_unknown: int = 0  # imported samples whose source does not say whether they were cut off


@dataclass(frozen=True)
class SourceScores:
    """An imported run scored by its source's own verdicts, beside ours on the same samples.

    ``samples`` counts the samples with a source verdict (the scores cover the problems all of whose samples
    have one). ``maj_at_n`` clusters the source's extracted answers (None when it records none).
    ``disagreements`` = samples on which the source and we differ: ``only_ours`` correct for us alone,
    ``only_source`` for the source alone.
    """

    samples: int
    problems: int
    pass_at_1: float = field(metadata={"json": "pass@1"})
    pass_at_k: Mapping[int, float] = field(metadata={"json": "pass@k"})
    maj_at_n: float | None = field(metadata={"json": "maj@n"})
    disagreements: int
    only_ours: int
    only_source: int


@dataclass(frozen=True)
class RunSummary:
    """``summary.json``: what a run covers, how complete it is, and its scores (None when nothing is scored).

    ``problems`` is the number of problems the run covers and ``expected_samples`` = problems x n; ``missing``
    samples make the run incomplete. ``duplicates`` counts repeated (problem_id, sample_index) rows, of which the
    first was kept. Later fields extend it with defaults (older summaries of this schema then read as before).
    """

    task: str
    model: str
    engine: str
    n: int
    task_fingerprint: str
    problems: int
    problems_scored: int
    problems_complete: int
    samples: int
    expected_samples: int
    missing: int
    complete: bool
    duplicates: int = 0
    meta_fields: tuple[str, ...] = ()
    scores: Scores | None = None
    schema_version: int = SUMMARY_SCHEMA_VERSION
    source_scores: SourceScores | None = None  # imported runs: the same numbers by the source's verdicts


# --- JSON conversion of these dataclasses ---------------------------------------------------------------------

_T = TypeVar("_T")


def _key(f: Field[Any]) -> str:
    return str(f.metadata.get("json", f.name))


def to_json(value: Any) -> Any:
    """A dataclass (nested ones, mappings, tuples) as JSON-ready values; ``field(metadata={"json": k})`` renames."""
    if is_dataclass(value) and not isinstance(value, type):
        return {_key(f): to_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def _decode(tp: Any, raw: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        if raw is None:
            return None
        arms = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(arms[0], raw) if len(arms) == 1 else raw
    if isinstance(tp, type) and is_dataclass(tp):
        return from_json(tp, raw)
    if origin in (Mapping, dict):
        if not isinstance(raw, dict):
            raise TypeError(f"expected an object, got {type(raw).__name__}")
        key_type, value_type = typing.get_args(tp)
        return {_decode(key_type, k): _decode(value_type, v) for k, v in raw.items()}
    if origin is tuple:
        if not isinstance(raw, list | tuple):
            raise TypeError(f"expected a list, got {type(raw).__name__}")
        return tuple(_decode(typing.get_args(tp)[0], v) for v in raw)
    if tp is float and isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if tp is int and isinstance(raw, str):
        return int(raw)  # mapping keys (pass@k's k) are strings in JSON
    return raw


def from_json(cls: type[_T], row: Any) -> _T:
    """Build ``cls`` from ``to_json`` output; unknown keys are ignored and absent ones take their defaults.

    A missing required key or a value of the wrong shape raises ``TypeError``/``ValueError``.
    """
    if not isinstance(row, dict):
        raise TypeError(f"expected an object for {cls.__name__}, got {type(row).__name__}")
    hints = typing.get_type_hints(cls)
    values = {f.name: _decode(hints[f.name], row[_key(f)]) for f in fields(cls) if _key(f) in row}  # type: ignore[arg-type]
    return cls(**values)
