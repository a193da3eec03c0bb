"""skyeval.summary, the one definition of a run's numbers: scope, duplicates, task order, the canonical CI, and
the typed summary's JSON (one writer, one reader, optional fields for later extensions)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from skyeval import results
from skyeval.errors import SkyevalError
from skyeval.jsonl import write_jsonl
from skyeval.metrics import bootstrap_ci
from skyeval.summary import in_scope, problems_in_order, summarize_run
from skyeval.types import (
    RunConfig,
    RunSummary,
    SampleRecord,
    SamplingParams,
    from_json,
    to_json,
)

IDS = tuple(f"q{i}" for i in range(12))


def rec(pid: str, i: int, ok: bool, answer: str | None = None, level: int = 1) -> SampleRecord:
    extracted = answer if answer is not None else ("1" if ok else "2")
    return SampleRecord(
        pid, i, "q", "c", "stop", 2, 5, "1", extracted, ok, "equal" if ok else "not_equal", {"level": level}
    )


def config(n: int = 2, ids: tuple[str, ...] = IDS, meta_fields: tuple[str, ...] = ()) -> RunConfig:
    return RunConfig(
        "m", "t", "replay", SamplingParams(n=n), None, "{question}", problems=len(ids), problem_ids=ids,
        meta_fields=meta_fields,
    )  # fmt: skip


def test_the_ci_is_drawn_over_problems_in_task_order() -> None:
    verdicts = {pid: [i % 3 == 0, i % 2 == 0] for i, pid in enumerate(IDS)}
    records = [rec(pid, j, ok) for pid in reversed(IDS) for j, ok in enumerate(verdicts[pid])]
    s = summarize_run(records, config(), same=None)
    in_task_order = [sum(verdicts[pid]) / 2 for pid in IDS]
    assert s.scores is not None
    assert (s.scores.ci95.lo, s.scores.ci95.hi) == bootstrap_ci(in_task_order)
    assert bootstrap_ci(in_task_order) != bootstrap_ci(list(reversed(in_task_order)))  # the order matters
    assert [p.problem_id for p in problems_in_order(records, config())] == list(IDS)


def test_scope_keeps_to_the_runs_problems_first_indices_and_first_rows() -> None:
    cfg = config(n=2, ids=("q0", "q1"))
    records = [rec("q0", 0, True), rec("q0", 1, True), rec("q0", 2, False), rec("q9", 0, False)]
    records += [rec("q1", 0, False), rec("q1", 0, True)]  # a repeated key: the first row counts
    kept = in_scope(records, cfg)
    assert [(r.problem_id, r.sample_index, r.correct) for r in kept] == [
        ("q0", 0, True),
        ("q0", 1, True),
        ("q1", 0, False),
    ]
    s = summarize_run(records, cfg, duplicates=1, same=None)
    assert s.scores is not None and s.scores.pass_at_1 == 0.5  # q0: 2/2, q1: 0/1
    assert (s.samples, s.expected_samples, s.missing, s.complete) == (3, 4, 1, False)
    assert s.problems_complete == 1 and s.duplicates == 1


def test_nothing_scored_has_no_scores_but_counts_what_is_missing() -> None:
    s = summarize_run([], config(n=4, ids=("a", "b")))
    assert s.scores is None and s.missing == 8 and not s.complete and s.problems_scored == 0


def test_breakdown_values_in_natural_order() -> None:
    records = [rec(f"q{i}", 0, i % 2 == 0, level=lvl) for i, lvl in enumerate([10, 2, 2, 1, 10, 1])]
    cfg = config(n=1, ids=tuple(f"q{i}" for i in range(6)), meta_fields=("level", "absent"))
    s = summarize_run(records, cfg, same=None)
    assert s.scores is not None and list(s.scores.by) == ["level"]
    assert [(v, g.problems, g.pass_at_1) for v, g in s.scores.by["level"].items()] == [
        ("1", 2, 0.0),
        ("2", 2, 0.5),
        ("10", 2, 1.0),
    ]


def test_summary_json_round_trip_and_names(tmp_path: Path) -> None:
    records = [rec(pid, j, (j + k) % 3 != 0, level=k % 2) for k, pid in enumerate(IDS) for j in range(2)]
    s = summarize_run(records, config(meta_fields=("level",)), duplicates=2, same=None)
    results.write_summary(tmp_path, s)
    raw = json.loads((tmp_path / results.SUMMARY).read_text())
    assert raw["schema_version"] == 2 and raw["complete"] is True and raw["duplicates"] == 2
    assert set(raw["scores"]) >= {"pass@1", "ci95", "pass@k", "maj@n", "by", "response_tokens"}
    assert s.scores is not None and raw["scores"]["pass@k"]["2"] == s.scores.pass_at_k[2]
    assert raw["scores"]["by"]["level"]["0"]["pass@1"] == s.scores.by["level"]["0"].pass_at_1
    assert results.read_summary(tmp_path) == s


def test_optional_fields_extend_the_schema() -> None:
    """A field added later with a default reads files written before it; unknown keys are ignored."""

    @dataclass(frozen=True)
    class Extended:
        task: str
        side_by_side: dict[str, float] = field(default_factory=dict)

    assert from_json(Extended, {"task": "t"}) == Extended("t")
    assert from_json(Extended, {"task": "t", "side_by_side": {"a": 1}, "later": 3}) == Extended(
        "t", {"a": 1.0}
    )
    old = to_json(summarize_run([rec("q0", 0, True)], config(n=1, ids=("q0",)), same=None))
    del old["duplicates"], old["meta_fields"]
    parsed = from_json(RunSummary, old)
    assert parsed.duplicates == 0 and parsed.meta_fields == ()
    with pytest.raises(TypeError):
        from_json(RunSummary, {"task": "t"})


def test_a_malformed_summary_is_one_line(tmp_path: Path) -> None:
    (tmp_path / results.SUMMARY).write_text(json.dumps({"schema_version": 2, "task": "t"}))
    with pytest.raises(SkyevalError, match="malformed .*summary.json"):
        results.read_summary(tmp_path)
    (tmp_path / results.SUMMARY).write_text(json.dumps({"schema_version": "2"}))
    with pytest.raises(SkyevalError, match="malformed schema_version '2'"):
        results.read_summary(tmp_path)


def test_atomic_writes_leave_nothing_behind_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text('{"old": 1}\n')

    def rows() -> Iterator[dict[str, int]]:
        yield {"new": 1}
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_jsonl(target, rows())
    assert target.read_text() == '{"old": 1}\n' and [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    with pytest.raises(SkyevalError, match="cannot write"):
        write_jsonl(tmp_path / "no" / "dir" / "x.jsonl", [{"a": 1}], parents=False)
    assert write_jsonl(tmp_path / "u.jsonl", [{"s": "\udc80é"}], ensure_ascii=True) == 1
    assert (tmp_path / "u.jsonl").read_text() == '{"s": "\\udc80\\u00e9"}\n'


def test_the_rl_prompt_filter_reads_samples_through_the_same_reader(tmp_path: Path) -> None:
    """``skydata filter-prompts --samples`` counts a repeated row once (the first), like the run's summary."""
    from skydata.rlfilter import counts_from_samples

    rows = [rec("a", 0, True), rec("a", 0, False), rec("a", 1, False), rec("b", 0, False)]
    results.rewrite_samples(tmp_path, rows)
    assert counts_from_samples(tmp_path / results.SAMPLES) == {"a": (2, 1), "b": (1, 0)}
    newer = rows[0].to_json() | {"schema_version": 9}
    (tmp_path / "newer.jsonl").write_text(json.dumps(newer) + "\n")
    with pytest.raises(SkyevalError, match="newer.jsonl:1 has schema version 9"):
        counts_from_samples(tmp_path / "newer.jsonl")
