"""Optional rewrite: an LLM reformats each kept response into the Sky-T1 thought/solution layout; the rewrite
is graded again and dropped when it no longer reaches the gold (or did not finish). Results are appended to a
log as they arrive, so an interrupted rewrite resumes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from skydata.backend import Grader
from skydata.io import stable_hash
from skydata.records import Drop
from skyeval.jsonl import AppendLog, read_jsonl
from skyeval.types import Engine, GenerationRequest, Message, SamplingParams

REWRITE_SYSTEM = (
    "You reformat worked solutions without changing their mathematics. Given a problem and a solver's raw "
    "reasoning, output exactly two sections: <|begin_of_thought|> followed by the reasoning, lightly cleaned "
    "(keep the exploration, checks and corrections, remove repetition and filler), then <|end_of_thought|>; "
    "then <|begin_of_solution|> followed by a concise, self-contained final solution ending with the final "
    "answer in \\boxed{}, then <|end_of_solution|>. Do not add new ideas and do not change the final answer."
)
REWRITE_VERSION = "sky-t1-format-v1"


def rewrite_messages(problem: str, response: str) -> tuple[Message, ...]:
    return (
        Message("system", REWRITE_SYSTEM),
        Message("user", f"Problem:\n{problem}\n\nRaw reasoning:\n{response}"),
    )


def well_formed(text: str) -> bool:
    marks = ("<|begin_of_thought|>", "<|end_of_thought|>", "<|begin_of_solution|>", "<|end_of_solution|>")
    positions = [text.find(m) for m in marks]
    return all(p >= 0 for p in positions) and positions == sorted(positions)


def _key(row: Mapping[str, Any]) -> str:
    return stable_hash(f"{row['problem']}\x00{row['response']}")


def rewrite(
    rows: Iterable[Mapping[str, Any]],
    make_engine: Callable[[], Engine],
    sampling: SamplingParams,
    grader: Grader,
    log_path: str | Path,
    *,
    require_format: bool = True,
    chunk: int = 64,
) -> Iterator[dict[str, Any] | Drop]:
    """Rewritten SFT rows (``response`` replaced, the original kept in ``meta.original_response``) or drops."""
    done: dict[str, dict[str, Any]] = {}
    if Path(log_path).exists():
        for rec in read_jsonl(log_path, tolerate_torn_tail=True):
            done[rec["id"]] = rec
    built: list[Engine] = []
    one = SamplingParams(
        n=1,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        max_tokens=sampling.max_tokens,
        seed=sampling.seed,
    )
    with AppendLog(log_path) as log:
        batch: list[Mapping[str, Any]] = []

        def run(batch: list[Mapping[str, Any]]) -> Iterator[dict[str, Any] | Drop]:
            todo = [r for r in batch if _key(r) not in done]
            if todo:
                if not built:
                    built.append(make_engine())
                by_id = {_key(r): r for r in todo}
                requests = [
                    GenerationRequest(k, rewrite_messages(r["problem"], r["response"]), (0,))
                    for k, r in by_id.items()
                ]
                outs = [c for c in built[0].generate(requests, one) if c.finish_reason != "error"]
                grades = grader([c.text for c in outs], [by_id[c.problem_id]["gold"] for c in outs])
                for c, g in zip(outs, grades, strict=True):
                    rec: dict[str, Any] = {
                        "id": c.problem_id,
                        "text": c.text,
                        "finish_reason": c.finish_reason,
                        "correct": g.correct,
                        "reason": g.reason,
                    }
                    log.write(rec)
                    done[c.problem_id] = rec
            for r in batch:
                got = done.get(_key(r))
                if got is None:
                    yield Drop(
                        r["id"], "rewrite_error", "the engine returned no rewrite (retried on the next run)"
                    )
                elif got["finish_reason"] != "stop":
                    yield Drop(r["id"], "rewrite_not_finished", got["finish_reason"])
                elif not got["correct"]:
                    yield Drop(r["id"], "rewrite_wrong", got["reason"])
                elif require_format and not well_formed(got["text"]):
                    yield Drop(
                        r["id"], "rewrite_bad_format", "missing or misordered thought/solution markers"
                    )
                else:
                    meta = {
                        **r.get("meta", {}),
                        "original_response": r["response"],
                        "rewrite": REWRITE_VERSION,
                    }
                    yield {**r, "response": got["text"], "meta": meta}

        for row in rows:
            batch.append(row)
            if len(batch) >= chunk:
                yield from run(batch)
                batch = []
        if batch:
            yield from run(batch)
