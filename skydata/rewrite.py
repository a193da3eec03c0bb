"""Optional rewrite: an LLM reformats each kept response into the Sky-T1 thought/solution layout; the rewrite
is graded again and dropped when it no longer reaches the gold (or did not finish). Results are appended to a
log as they arrive, so an interrupted rewrite resumes; failed requests are counted, never logged, and asked
again on the next run."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from skydata.backend import Grader
from skydata.calls import Tally, ask, chunked
from skydata.hashing import stable_hash
from skydata.records import Drop
from skydata.stage import StageResult, count_lines, run_stage
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
    engine: Engine,
    sampling: SamplingParams,
    grader: Grader,
    log_path: str | Path,
    *,
    require_format: bool = True,
    chunk: int = 64,
    tally: Tally | None = None,
) -> Iterator[dict[str, Any] | Drop]:
    """Rewritten SFT rows (``response`` replaced, the original kept in ``meta.original_response``) or drops;
    failed requests are counted in ``tally`` and their rows dropped as ``rewrite_error``."""
    tally = tally if tally is not None else Tally()
    done: dict[str, dict[str, Any]] = {}
    if Path(log_path).exists():
        for logged in read_jsonl(log_path, tolerate_torn_tail=True):
            done[logged["id"]] = logged
    one = replace(sampling, n=1)
    with AppendLog(log_path) as log:
        for batch in chunked(rows, chunk):
            by_key = {_key(r): r for r in batch if _key(r) not in done}
            tally.work += len(by_key)
            requests = [
                GenerationRequest(k, rewrite_messages(r["problem"], r["response"]), (0,))
                for k, r in by_key.items()
            ]
            outs = list(ask(engine, requests, one, tally))
            grades = grader(
                [c.text for c in outs],
                [by_key[c.problem_id]["gold"] for c in outs],
                [c.finish_reason == "stop" for c in outs],
            )
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
                yield _verdict(r, done.get(_key(r)), require_format)


def _verdict(
    row: Mapping[str, Any], got: Mapping[str, Any] | None, require_format: bool
) -> dict[str, Any] | Drop:
    if got is None:
        return Drop(row["id"], "rewrite_error", "the rewrite request failed (asked again on the next run)")
    if got["finish_reason"] != "stop":
        return Drop(row["id"], "rewrite_not_finished", got["finish_reason"])
    if not got["correct"]:
        return Drop(row["id"], "rewrite_wrong", got["reason"])
    if require_format and not well_formed(got["text"]):
        return Drop(row["id"], "rewrite_bad_format", "missing or misordered thought/solution markers")
    meta = {**row.get("meta", {}), "original_response": row["response"], "rewrite": REWRITE_VERSION}
    return {**row, "response": got["text"], "meta": meta}


def run(
    src: str | Path,
    out: str | Path,
    engine: Engine,
    sampling: SamplingParams,
    grader: Grader,
    log_path: str | Path,
    *,
    require_format: bool = True,
    progress: bool = True,
) -> StageResult:
    """The rewrite stage: the SFT rows of ``src`` rewritten into ``out`` (resumable through ``log_path``)."""
    tally = Tally()
    res = run_stage(
        "rewrite",
        read_jsonl(src),
        lambda rows: rewrite(
            rows, engine, sampling, grader, log_path, require_format=require_format, tally=tally
        ),
        out,
        total=count_lines(src),
        progress=progress,
    )
    return res.with_tally(tally)
