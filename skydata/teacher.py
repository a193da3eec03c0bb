"""Teacher generation: n samples per problem from a named teacher (or any model id) through a skyeval engine.

Each sample is graded against the gold as soon as its batch finishes and appended to a generation log
(``Generation`` rows); on resume, samples already in the log are not requested again. Generation can stop early
once ``target`` problems have an accepted sample.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from skydata.backend import Grader
from skydata.io import stable_hash
from skydata.records import Generation, Item
from skydata.reject import Acceptance
from skyeval.jsonl import AppendLog, read_jsonl
from skyeval.types import Completion, Engine, GenerationRequest, Message, SamplingParams

STEP_BY_STEP = "{problem}\n\nPlease reason step by step, and put your final answer within \\boxed{{}}."

SKY_T1_SYSTEM = (
    "Work through the question in two parts. First, inside <|begin_of_thought|> ... <|end_of_thought|>, think "
    "it over at length: restate the problem, explore approaches, check each step, catch and fix mistakes, and "
    "reflect before concluding. Then, inside <|begin_of_solution|> ... <|end_of_solution|>, give a clean, "
    "concise and correct final solution that follows from that thinking, with the final answer in \\boxed{}."
)


@dataclass(frozen=True)
class Teacher:
    """A teacher model with its own system prompt, user template and recommended sampling."""

    model: str
    system_prompt: str | None = None
    user_template: str = STEP_BY_STEP
    temperature: float = 0.7
    top_p: float = 1.0

    def messages(self, problem: str) -> tuple[Message, ...]:
        user = Message("user", self.user_template.format(problem=problem))
        return (Message("system", self.system_prompt), user) if self.system_prompt else (user,)


def _r1(size: str) -> Teacher:
    """DeepSeek-R1 distills: no system prompt (instructions in the user turn), T 0.6, top-p 0.95."""
    return Teacher(f"deepseek-ai/DeepSeek-R1-Distill-{size}", None, temperature=0.6, top_p=0.95)


TEACHERS: dict[str, Teacher] = {
    "qwq": Teacher(
        "Qwen/QwQ-32B-Preview",
        "You are a helpful and harmless assistant. You are Qwen developed by Alibaba. You should think step-by-step.",
    ),
    "qwq-32b": Teacher(
        "Qwen/QwQ-32B",
        None,
        temperature=0.6,
        top_p=0.95,
    ),
    "r1-distill-qwen-1.5b": _r1("Qwen-1.5B"),
    "r1-distill-qwen-7b": _r1("Qwen-7B"),
    "r1-distill-qwen-14b": _r1("Qwen-14B"),
    "r1-distill-qwen-32b": _r1("Qwen-32B"),
    "r1-distill-llama-8b": _r1("Llama-8B"),
    "r1-distill-llama-70b": _r1("Llama-70B"),
    "sky-t1-32b": Teacher("NovaSky-AI/Sky-T1-32B-Preview", SKY_T1_SYSTEM),
}


def resolve_teacher(name: str, *, system_prompt: str | None = None, model: str | None = None) -> Teacher:
    """An alias from ``TEACHERS`` or any model id / local path (no system prompt, step-by-step template).

    ``system_prompt`` overrides the teacher's ("" removes it); ``model`` overrides the model id sent to the
    engine (e.g. the name a local server registered it under).
    """
    teacher = TEACHERS.get(name.lower(), Teacher(name))
    if system_prompt is not None:
        teacher = replace(teacher, system_prompt=system_prompt or None)
    if model is not None:
        teacher = replace(teacher, model=model)
    return teacher


def problem_key(item: Item) -> str:
    """Samples are logged under a hash of the problem text, so they stay valid if upstream ids change."""
    return stable_hash(item.problem)


def grades_path(log_path: str | Path) -> Path:
    log_path = Path(log_path)
    return log_path.with_name(log_path.stem + ".grades.jsonl")


def load_generations(log_path: str | Path, *, with_text: bool = True) -> Iterator[Generation]:
    """Graded samples: the raw log joined with its verdict log (ungraded raw rows are not yielded).

    ``with_text=False`` yields light records (no text, with the line's byte offset; see ``read_text``)."""
    verdicts = {}
    if grades_path(log_path).exists():
        for row in read_jsonl(grades_path(log_path), tolerate_torn_tail=True):
            verdicts[(row["id"], row["sample_index"])] = row
    if not Path(log_path).exists():
        return
    with Path(log_path).open("rb") as fh:
        offset = 0
        for raw in fh:
            start, offset = offset, offset + len(raw)
            if not raw.endswith(b"\n"):
                return  # a torn last line from a crash
            if not raw.strip():
                continue
            row = json.loads(raw)
            v = verdicts.get((row["id"], row["sample_index"]))
            if v is not None:
                text = row["text"]
                yield Generation(
                    id=row["id"],
                    sample_index=row["sample_index"],
                    text=text if with_text else "",
                    chars=len(text),
                    finish_reason=row["finish_reason"],
                    completion_tokens=row.get("completion_tokens"),
                    correct=v["correct"],
                    grade_reason=v["reason"],
                    extracted=v.get("extracted"),
                    offset=start,
                )


def read_text(log_path: str | Path) -> Callable[[Generation], str]:
    """A reader of light records' texts (by byte offset into the raw log)."""

    def text_of(g: Generation) -> str:
        if g.text or g.offset < 0:
            return g.text
        with Path(log_path).open("rb") as fh:
            fh.seek(g.offset)
            return str(json.loads(fh.readline())["text"])

    return text_of


class _GradedLog:
    """Raw samples are appended the moment they arrive; verdicts follow in batches in a second log, so a
    kill loses no completed sample (ungraded ones are graded on resume)."""

    def __init__(
        self, log_path: str | Path, grader: Grader, golds: Callable[[str], str], batch: int = 32
    ) -> None:
        self.raw = AppendLog(log_path)
        self.verdicts = AppendLog(grades_path(log_path))
        self.grader = grader
        self.golds = golds
        self.batch = batch
        self.pending: list[dict[str, object]] = []
        self.graded: list[Generation] = []

    def add(self, row: dict[str, object], *, write: bool = True) -> None:
        if write:
            self.raw.write(row)
        self.pending.append(row)
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        rows, self.pending = self.pending, []
        grades = self.grader([str(r["text"]) for r in rows], [self.golds(str(r["id"])) for r in rows])
        for r, g in zip(rows, grades, strict=True):
            self.verdicts.write(
                {
                    "id": r["id"],
                    "sample_index": r["sample_index"],
                    "correct": g.correct,
                    "reason": g.reason,
                    "extracted": g.extracted,
                }
            )
            tokens = r.get("completion_tokens")
            self.graded.append(
                Generation(
                    str(r["id"]),
                    int(str(r["sample_index"])),
                    "",  # only the verdict is needed here; the text is in the log
                    len(str(r["text"])),
                    str(r["finish_reason"]),
                    int(str(tokens)) if tokens is not None else None,
                    g.correct,
                    g.reason,
                    g.extracted,
                )
            )

    def close(self) -> None:
        self.flush()
        self.raw.close()
        self.verdicts.close()


def generate(
    items: Iterable[Item],
    make_engine: Callable[[], Engine],
    teacher: Teacher,
    sampling: SamplingParams,
    grader: Grader,
    log_path: str | Path,
    *,
    acceptance: Acceptance | None = None,
    target: int | None = None,
    chunk: int = 64,
    on_done: Callable[[int], object] = lambda n: None,
) -> dict[str, int]:
    """Sample ``sampling.n`` responses per item, grade them and log them under ``log_path`` (keyed by
    ``problem_key``).

    Resumes from the logs. With ``target``, stops after the chunk in which ``target`` problems first have a
    sample passing ``acceptance``. Returns counts: problems, generated, resumed, errors, accepted_problems.
    """
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
    resumed = len(graded_keys) + sum(len(v) for v in leftovers.values())
    counts = {"problems": 0, "generated": 0, "resumed": resumed, "errors": 0}
    built: list[Engine] = []
    golds: dict[str, str] = {}
    log = _GradedLog(log_path, grader, golds.__getitem__)

    def harvest() -> None:
        log.flush()
        for g in log.graded:
            if accept.check(g) is None:
                accepted.add(g.id)
        log.graded.clear()

    def run(batch: list[Item]) -> None:
        requests = []
        for it in batch:
            key = problem_key(it)
            missing = tuple(i for i in range(sampling.n) if i not in done.get(key, set()))
            if missing:
                requests.append(GenerationRequest(key, teacher.messages(it.problem), missing))
        if requests:
            if not built:
                built.append(make_engine())
            for c in built[0].generate(requests, sampling):
                if c.finish_reason == "error":
                    counts["errors"] += 1  # not logged: requested again on the next run
                    continue
                done.setdefault(c.problem_id, set()).add(c.sample_index)
                counts["generated"] += 1
                log.add(_raw(c))
        harvest()

    try:
        batch: list[Item] = []
        for item in items:
            key = problem_key(item)
            golds[key] = item.gold
            for r in leftovers.pop(key, []):
                log.add(r, write=False)
            if target is not None and len(accepted) >= target:
                break
            counts["problems"] += 1
            batch.append(item)
            if len(batch) >= chunk:
                run(batch)
                on_done(len(batch))
                batch = []
        if batch:
            run(batch)
            on_done(len(batch))
        harvest()
    finally:
        log.close()
    counts["accepted_problems"] = len(accepted)
    return counts


def _raw(c: Completion) -> dict[str, object]:
    return {
        "id": c.problem_id,
        "sample_index": c.sample_index,
        "text": c.text,
        "finish_reason": c.finish_reason,
        "completion_tokens": c.completion_tokens,
    }
