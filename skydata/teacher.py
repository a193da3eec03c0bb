"""Teacher generation: n samples per problem from a named teacher (or any model id) through a skyeval engine.

Each sample is graded against the gold as soon as its batch finishes and appended to a generation log
(``skydata.samplelog``); on resume, samples already in the log are not requested again, and failed requests
(never logged) are. Generation can stop early once ``target`` problems have an accepted sample.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from skydata.backend import Grader
from skydata.calls import Tally, ask, chunked
from skydata.records import Item
from skydata.reject import Acceptance
from skydata.samplelog import GradedLog, load_generations, problem_key, raw_row
from skydata.stage import StageResult, count_lines, read_items
from skyeval.errors import SkyevalError
from skyeval.jsonl import read_jsonl
from skyeval.prompts import NONE, get_prompt, with_suffix
from skyeval.types import Engine, GenerationRequest, Message, SamplingParams

__all__ = ["TEACHERS", "Teacher", "generate", "problem_key", "resolve_teacher", "run"]


@dataclass(frozen=True)
class Teacher:
    """A teacher: its name (an alias, or the model id), the model id the engine asks for, its system prompt
    and user-turn suffix (``skyeval.prompts`` names; ``none`` for none) and its recommended sampling."""

    name: str
    model: str
    system_prompt: str = NONE
    user_suffix: str = "step-by-step"
    temperature: float = 0.7
    top_p: float = 1.0

    def __post_init__(self) -> None:  # unknown prompt names fail here, before any request
        get_prompt(self.system_prompt, "system")
        get_prompt(self.user_suffix, "user_suffix")

    def messages(self, problem: str) -> tuple[Message, ...]:
        user = Message("user", with_suffix(problem, self.user_suffix))
        system = get_prompt(self.system_prompt, "system")
        return (Message("system", system.text), user) if system is not None else (user,)


def _r1(size: str) -> Teacher:
    """DeepSeek-R1 distills: no system prompt (instructions in the user turn), T 0.6, top-p 0.95."""
    return Teacher("", f"deepseek-ai/DeepSeek-R1-Distill-{size}", NONE, temperature=0.6, top_p=0.95)


_ALIASES: dict[str, Teacher] = {
    "qwq": Teacher("", "Qwen/QwQ-32B-Preview", "qwq"),
    "qwq-32b": Teacher("", "Qwen/QwQ-32B", NONE, temperature=0.6, top_p=0.95),
    "r1-distill-qwen-1.5b": _r1("Qwen-1.5B"),
    "r1-distill-qwen-7b": _r1("Qwen-7B"),
    "r1-distill-qwen-14b": _r1("Qwen-14B"),
    "r1-distill-qwen-32b": _r1("Qwen-32B"),
    "r1-distill-llama-8b": _r1("Llama-8B"),
    "r1-distill-llama-70b": _r1("Llama-70B"),
    "sky-t1-32b": Teacher("", "NovaSky-AI/Sky-T1-32B-Preview", "sky-t1"),
}
#: Teacher aliases (each named after its alias).
TEACHERS: dict[str, Teacher] = {alias: replace(t, name=alias) for alias, t in _ALIASES.items()}


def _is_model_id(name: str) -> bool:
    """``org/name`` Hub ids and local paths are model ids; a bare word must be an alias."""
    return "/" in name or Path(name).expanduser().exists()


def resolve_teacher(
    name: str | None, *, model: str | None = None, system_prompt: str | None = None
) -> Teacher:
    """The teacher ``name`` (an alias from ``TEACHERS``, or a model id: ``org/name`` or a local path) or,
    without a name, the model id ``model`` (no system prompt, step-by-step user turn).

    ``model`` overrides the model id sent to the engine (the name a server registered the teacher under);
    ``system_prompt`` (a prompt name, ``none`` for none) overrides the teacher's. A bare word that is not an
    alias fails: a typo must not silently become a model id."""
    if name is not None and name.lower() in TEACHERS:
        teacher = TEACHERS[name.lower()]
    elif name is not None and _is_model_id(name):
        teacher = Teacher(name, name)
    elif name is not None:
        raise SkyevalError(
            f"unknown teacher alias {name!r}; choose one of: {', '.join(TEACHERS)}, or give a model id "
            "(org/name or a local path)"
        )
    elif model is not None:
        teacher = Teacher(model, model)
    else:
        raise SkyevalError("no teacher: give --teacher ALIAS (or a model id: org/name or a local path)")
    if model is not None:
        teacher = replace(teacher, model=model)
    if system_prompt is not None:
        teacher = replace(teacher, system_prompt=system_prompt)
    return teacher


@dataclass
class TeacherCounts:
    """What one teacher run did: problems with samples, those never asked (target reached), samples."""

    problems: int = 0  # input problems
    with_samples: int = 0
    not_needed: int = 0  # never asked: the target was reached first
    no_samples: int = 0  # asked, but every request for them failed
    generated: int = 0
    resumed: int = 0
    accepted_problems: int = 0
    tally: Tally = field(default_factory=Tally)

    def result(self) -> StageResult:
        dropped = {"not_needed_target_reached": self.not_needed, "request_failed": self.no_samples}
        extra = {
            "generated": self.generated,
            "resumed": self.resumed,
            "errors": self.tally.errors,
            "accepted_problems": self.accepted_problems,
        }
        return StageResult(
            "teacher", self.problems, self.with_samples, {k: v for k, v in dropped.items() if v}, extra
        ).with_tally(self.tally)


def generate(
    items: Iterable[Item],
    engine: Engine,
    teacher: Teacher,
    sampling: SamplingParams,
    grader: Grader,
    log_path: str | Path,
    *,
    acceptance: Acceptance | None = None,
    target: int | None = None,
    chunk: int = 64,
    on_done: Callable[[int], object] = lambda n: None,
) -> TeacherCounts:
    """Sample ``sampling.n`` responses per item, grade them and log them under ``log_path`` (keyed by
    ``problem_key``).

    Resumes from the logs: problems whose samples are all logged are counted without a request. With
    ``target``, no new problem is asked once ``target`` problems have a sample passing ``acceptance``.
    Failed requests are counted (``TeacherCounts.tally``), never logged, so the next run asks them again."""
    accept = acceptance or Acceptance()
    done: dict[str, set[int]] = {}
    accepted: set[str] = set()
    graded_keys = set()
    for g in load_generations(log_path):
        graded_keys.add((g.id, g.sample_index))
        done.setdefault(g.id, set()).add(g.sample_index)
        if accept.check(g) is None:
            accepted.add(g.id)
    leftovers: dict[str, list[dict[str, object]]] = {}  # logged before a crash but never graded
    if Path(log_path).exists():
        for row in read_jsonl(log_path, tolerate_torn_tail=True):
            if (row["id"], row["sample_index"]) not in graded_keys:
                leftovers.setdefault(row["id"], []).append(row)
                done.setdefault(row["id"], set()).add(int(row["sample_index"]))
    counts = TeacherCounts(resumed=len(graded_keys) + sum(len(v) for v in leftovers.values()))
    golds: dict[str, str] = {}
    log = GradedLog(log_path, grader, golds.__getitem__)

    def harvest() -> None:
        log.flush()
        for g in log.graded:
            if accept.check(g) is None:
                accepted.add(g.id)
        log.graded.clear()

    def missing(key: str) -> tuple[int, ...]:
        return tuple(i for i in range(sampling.n) if i not in done.get(key, set()))

    def run_chunk(batch: list[Item]) -> None:
        requests: dict[str, GenerationRequest] = {}
        for it in batch:
            key = problem_key(it)
            todo = missing(key)
            if not todo or key in requests:
                continue
            if target is not None and len(accepted) >= target:
                counts.not_needed += key not in done  # never asked: the target was reached first
                continue
            requests[key] = GenerationRequest(key, teacher.messages(it.problem), todo)
        counts.tally.work += sum(len(r.sample_indices) for r in requests.values())
        for c in ask(engine, list(requests.values()), sampling, counts.tally):
            done.setdefault(c.problem_id, set()).add(c.sample_index)
            counts.generated += 1
            log.add(raw_row(c))
        harvest()
        for it in batch:
            key = problem_key(it)
            if key in done:
                counts.with_samples += 1
            elif key in requests:
                counts.no_samples += 1

    try:
        for batch in chunked(items, chunk):
            for item in batch:
                key = problem_key(item)
                golds[key] = item.gold
                for r in leftovers.pop(key, []):
                    log.add(r, write=False)
            counts.problems += len(batch)
            run_chunk(batch)
            on_done(len(batch))
        harvest()
    finally:
        log.close()
    counts.accepted_problems = len(accepted)
    return counts


def run(
    src: str | Path,
    log_path: str | Path,
    engine: Engine,
    teacher: Teacher,
    sampling: SamplingParams,
    grader: Grader,
    *,
    acceptance: Acceptance | None = None,
    target: int | None = None,
    chunk: int = 64,
    progress: bool = True,
) -> StageResult:
    """The teacher stage: ``generate`` over the items of ``src`` with a progress bar; one funnel line."""
    from tqdm import tqdm

    with tqdm(desc="teacher", total=count_lines(src), unit="problem", disable=not progress) as bar:
        counts = generate(
            read_items(src),
            engine,
            teacher,
            sampling,
            grader,
            log_path,
            acceptance=acceptance,
            target=target,
            chunk=chunk,
            on_done=bar.update,
        )
    return counts.result()
