"""The runner in-process: run dirs, resume, top-up, torn lines, truncation, failures, summaries, score."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from testkit.fake_openai_server import FakeServer, Script

from skyeval import results
from skyeval.errors import SkyevalError
from skyeval.regrade import score
from skyeval.runner import RunOptions, run
from skyeval.summary import summarize_run
from skyeval.tasks import FieldMap
from skyeval.types import (
    Completion,
    GenerationRequest,
    Grade,
    RunConfig,
    RunSummary,
    SampleRecord,
    SamplingParams,
    Scores,
)


def _data(tmp_path: Path, count: int = 6) -> Path:
    rows = [
        {"id": i, "problem": f"Problem {i}?", "answer": "42" if i % 2 == 0 else "7"} for i in range(count)
    ]
    (tmp_path / "amc23.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def _replay_file(tmp_path: Path, samples: int = 4) -> Path:
    path = tmp_path / "gens.jsonl"
    rows = []
    for i in range(6):
        texts = [f"... \\boxed{{{42 if (i + j) % 3 else 7}}}" for j in range(samples)]
        reasons = ["length" if j == samples - 1 else "stop" for j in range(samples)]
        rows.append({"qid": str(i), "q": f"Problem {i}?", "gold": "42", "outs": texts, "why": reasons})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _replay_options(tmp_path: Path, path: Path, **overrides: Any) -> RunOptions:
    base = RunOptions(
        model="replay:gens",
        task=f"file:{path}",
        engine="replay",
        engine_options={"response_field": "outs", "finish_field": "why"},
        samples=4,
        output_dir=str(tmp_path / "runs"),
        fields=FieldMap(question="q", gold="gold", id="qid"),
        progress=False,
    )
    return dataclasses.replace(base, **overrides)


def _openai_options(tmp_path: Path, data: Path, *, samples: int, **engine_options: Any) -> RunOptions:
    """amc23 from ``data`` on the openai engine (a scripted server's ``base_url`` among the options)."""
    return RunOptions(
        model="m",
        task="amc23",
        engine="openai",
        engine_options=engine_options,
        samples=samples,
        data_dir=str(data),
        output_dir=str(tmp_path / "runs"),
        progress=False,
    )


def test_replay_run_writes_run_dir_and_summary(tmp_path: Path) -> None:
    res = run(_replay_options(tmp_path, _replay_file(tmp_path)))
    files = {p.name for p in res.run_dir.iterdir()}
    assert {"config.json", "samples.jsonl", "summary.json"} <= files
    config = results.read_config(res.run_dir)
    assert config.engine == "replay" and config.sampling.n == 4 and config.task_fingerprint
    rows = results.read_samples(res.run_dir)
    assert len(rows) == 24 and len(results.dedupe(rows)) == 24
    s = res.summary
    sc = _scores(s)
    expected = sum(((i + j) % 3 != 0) for i in range(6) for j in range(4)) / 24
    assert sc.pass_at_1 == pytest.approx(expected)
    assert sc.truncated == 6 and sc.truncation_rate == pytest.approx(0.25)
    assert set(sc.pass_at_k) == {1, 2, 4} and s.complete is True and s.missing == 0
    assert results.read_summary(res.run_dir) == s
    assert json.loads((res.run_dir / "summary.json").read_text())["scores"]["pass@1"] == pytest.approx(
        expected
    )


def test_resume_skips_done_and_tolerates_torn_line(tmp_path: Path) -> None:
    path = _replay_file(tmp_path, samples=8)
    first = run(_replay_options(tmp_path, path, limit=3, samples=2))
    samples = first.run_dir / "samples.jsonl"
    assert len(results.read_samples(first.run_dir)) == 6
    with samples.open("a") as fh:
        fh.write('{"problem_id": "5", "sample_ind')  # a row cut short by kill -9
    assert len(results.read_samples(first.run_dir)) == 6
    again = run(_replay_options(tmp_path, path, samples=4))  # no limit, more samples: same directory
    assert again.run_dir == first.run_dir
    rows = results.read_samples(again.run_dir)
    keys = [(r.problem_id, r.sample_index) for r in rows]
    assert len(keys) == len(set(keys)) == 24
    assert samples.read_text().endswith("\n")


def test_other_settings_get_another_dir_and_changed_data_is_refused(tmp_path: Path) -> None:
    path = _replay_file(tmp_path)
    a = run(_replay_options(tmp_path, path))
    b = run(_replay_options(tmp_path, path, max_tokens=100))
    assert a.run_dir != b.run_dir
    path.write_text(path.read_text().replace("Problem 0?", "Problem zero?"))
    with pytest.raises(SkyevalError, match="task data changed"):
        run(_replay_options(tmp_path, path))


def test_replay_missing_samples_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SkyevalError, match="lacks 12 requested sample"):
        run(_replay_options(tmp_path, _replay_file(tmp_path, samples=2)))


def test_openai_run_unreachable_keeps_partial_results(tmp_path: Path) -> None:
    data = _data(tmp_path)
    script = Script(fail=lambda i: 500 if i >= 3 else None, retry_after="0.01")
    with FakeServer(script) as url:
        opts = _openai_options(tmp_path, data, samples=2, base_url=url, max_retries=1, concurrency=1)
        with pytest.raises(SkyevalError, match="partial results kept"):
            run(opts)
    run_dirs = list((tmp_path / "runs").glob("*/*/*"))
    assert len(run_dirs) == 1
    assert len(results.read_samples(run_dirs[0])) == 6  # three n=2 requests succeeded
    assert results.read_summary(run_dirs[0]).complete is False
    with FakeServer(Script()) as url:
        done = run(dataclasses.replace(opts, engine_options={**opts.engine_options, "base_url": url}))
    assert done.summary.samples == 12 and _scores(done.summary).pass_at_1 == pytest.approx(0.5)


def test_refused_samples_are_not_recorded(tmp_path: Path) -> None:
    data = _data(tmp_path, count=2)
    with FakeServer(Script(fail=lambda i: 400 if i == 0 else None)) as url:
        opts = _openai_options(tmp_path, data, samples=1, base_url=url, concurrency=1, use_n=False)
        with pytest.raises(SkyevalError, match="1 sample\\(s\\) failed"):
            run(opts)
        assert run(opts).summary.samples == 2


def test_summary_metrics_and_breakdown() -> None:
    verdicts = {"a": [True, True, False, False], "b": [False, False, False, True]}
    answers = {"a": ["1", "1", "3", "4"], "b": ["5", "5", "6", "2"]}
    records = [
        SampleRecord(
            pid,
            j,
            "q",
            "c",
            "length" if j == 0 else "stop",
            3,
            10 * (j + 1),
            "g",
            answers[pid][j],
            ok,
            "x",
            meta={"level": 1 if pid == "a" else 2},
        )
        for pid in "ba"  # file order differs from task order
        for j, ok in enumerate(verdicts[pid])
    ]
    config = RunConfig(
        "m", "t", "replay", SamplingParams(n=4), None, "{question}", problems=2, problem_ids=("a", "b"),
        meta_fields=("level",),
    )  # fmt: skip
    s = summarize_run(records, config, same=None)
    sc = _scores(s)
    assert sc.pass_at_1 == pytest.approx(0.375)
    assert sc.pass_at_k[4] == pytest.approx(1.0) and sc.pass_at_k[1] == pytest.approx(0.375)
    assert sc.maj_at_n == pytest.approx(0.5)
    assert sc.truncated == 2 and sc.response_tokens.median == pytest.approx(25.0)
    assert {k: (g.problems, g.pass_at_1) for k, g in sc.by["level"].items()} == {
        "1": (1, 0.5),
        "2": (1, 0.25),
    }
    assert s.complete and s.samples == s.expected_samples == 8
    # task order, not file order: the CI equals the bootstrap over [a, b]
    from skyeval.metrics import bootstrap_ci

    assert (sc.ci95.lo, sc.ci95.hi) == bootstrap_ci([0.5, 0.25])
    assert summarize_run(list(reversed(records)), config, same=None) == s
    short = summarize_run(records[:6], config, same=None)  # b's 4 and a's first 2
    assert not short.complete and short.missing == 2 and short.problems_complete == 1


def _scores(summary: RunSummary) -> Scores:
    assert summary.scores is not None
    return summary.scores


def test_score_regrades(tmp_path: Path) -> None:
    res = run(_replay_options(tmp_path, _replay_file(tmp_path)))
    rows = results.read_samples(res.run_dir)
    flipped = [SampleRecord.from_json({**r.to_json(), "correct": not r.correct}) for r in rows]
    results.rewrite_samples(res.run_dir, flipped)
    summary = score(res.run_dir, progress=False)
    assert summary == res.summary
    with pytest.raises(SkyevalError, match="not a run directory"):
        score(tmp_path, progress=False)


def test_ray_wraps_the_engine_and_score_grades_on_ray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    from skyeval.engines import get_engine

    made: list[dict[str, object]] = []
    graded: list[dict[str, object]] = []

    class FakeRayEngine:
        name = "ray"

        def __init__(self, engine: str, engine_options: dict[str, Any], replicas: int, address: str) -> None:
            made.append(
                {"engine": engine, "options": engine_options, "replicas": replicas, "address": address}
            )
            self.inner = get_engine(engine, **engine_options)

        def generate(
            self, requests: Sequence[GenerationRequest], sampling: SamplingParams
        ) -> Iterator[Completion]:
            return self.inner.generate(requests, sampling)

    def fake_ray_grade_many(
        responses: Sequence[str],
        golds: Sequence[str],
        *,
        address: str | None,
        replicas: int,
        timeout: float,
        progress: bool = False,
        finished: Sequence[bool | None] | None = None,
        policy: str = "default",
    ) -> list[Grade]:
        from skyeval import grade_many

        graded.append({"address": address, "replicas": replicas, "count": len(responses)})
        return grade_many(responses, golds, timeout=timeout, finished=finished, policy=policy)

    module = types.ModuleType("skyeval.scaleout")
    module.RayEngine = FakeRayEngine  # type: ignore[attr-defined]
    module.ray_grade_many = fake_ray_grade_many  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "skyeval.scaleout", module)
    path = _replay_file(tmp_path)
    res = run(_replay_options(tmp_path, path, ray_address="auto", replicas=3))
    assert made == [
        {
            "engine": "replay",
            "options": {
                "response_field": "outs",
                "finish_field": "why",
                "path": str(path),
                "id_field": "qid",
            },
            "replicas": 3,
            "address": "auto",
        }
    ]
    assert res.summary.samples == 24
    summary = score(res.run_dir, ray_address="auto", replicas=2, progress=False)
    assert graded == [{"address": "auto", "replicas": 2, "count": 24}]
    assert summary == res.summary


def test_importing_the_runner_and_cli_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, skyeval, skyeval.runner, skyeval.cli, skyeval.results, skyeval.tasks;"
        "heavy = [m for m in ('torch', 'transformers', 'vllm', 'ray', 'datasets', 'pandas', 'sympy', 'httpx')"
        " if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ctrl_c_keeps_partial_results_and_summary_then_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import skyeval
    from skyeval.runner import Interrupted

    real_grade = skyeval.grade
    calls = []

    def interrupting_grade(response: str, gold: str, **kw: Any) -> Grade:
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return real_grade(response, gold, **kw)

    path = _replay_file(tmp_path)
    monkeypatch.setattr(skyeval, "grade", interrupting_grade)
    with pytest.raises(Interrupted, match="5 sample") as info:
        run(_replay_options(tmp_path, path))
    run_dir = info.value.run_dir
    assert len(results.read_samples(run_dir)) == 5
    partial = results.read_summary(run_dir)
    assert partial.samples == 5 and partial.complete is False and partial.problems == 6
    assert partial.missing == 19 and partial.expected_samples == 24
    monkeypatch.setattr(skyeval, "grade", real_grade)
    again = run(_replay_options(tmp_path, path))
    keys = [(r.problem_id, r.sample_index) for r in results.read_samples(again.run_dir)]
    assert len(keys) == len(set(keys)) == 24 and again.summary.complete is True


def test_score_of_a_partial_run_keeps_the_task_size(tmp_path: Path) -> None:
    res = run(_replay_options(tmp_path, _replay_file(tmp_path)))
    rows = results.read_samples(res.run_dir)
    results.rewrite_samples(res.run_dir, [r for r in rows if r.problem_id in {"0", "1"}])
    summary = score(res.run_dir, progress=False)
    assert summary.problems == 6 and summary.problems_scored == 2 and summary.complete is False
    assert summary.missing == 16


def test_unwritable_output_dir_and_malformed_rows_are_one_line_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SkyevalError, match="cannot write run directory"):
        run(_replay_options(tmp_path, _replay_file(tmp_path), output_dir=str(blocker)))
    res = run(_replay_options(tmp_path, _replay_file(tmp_path)))
    samples = res.run_dir / "samples.jsonl"
    samples.write_text("[1, 2]\n" + samples.read_text())
    with pytest.raises(SkyevalError, match=r"samples.jsonl:1: (malformed sample row|expected a JSON object)"):
        results.read_samples(res.run_dir)
    (res.run_dir / "summary.json").write_text("{")
    with pytest.raises(SkyevalError, match="malformed"):
        results.read_summary(res.run_dir)


def test_missing_engine_extra_fails_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "vllm", None)  # not installed, also where it is
    options = RunOptions(
        model="org/model",
        task="amc23",
        engine="vllm",
        data_dir=str(_data(tmp_path)),
        output_dir=str(tmp_path / "r"),
    )
    with pytest.raises(SkyevalError, match=r"pip install 'skyeval\[vllm\]'"):
        run(options)
    assert not (tmp_path / "r").exists()


def test_replay_files_of_one_name_are_different_runs(tmp_path: Path) -> None:
    data = _data(tmp_path)
    runs = []
    for sub, answer in (("a", "42"), ("b", "7")):
        (tmp_path / sub).mkdir()
        path = tmp_path / sub / "gens.jsonl"
        path.write_text(
            "".join(json.dumps({"id": i, "completion": f"\\boxed{{{answer}}}"}) + "\n" for i in range(6))
        )
        options = RunOptions(
            model="replay:gens.jsonl",
            task="amc23",
            engine="replay",
            engine_options={"path": str(path)},
            samples=1,
            data_dir=str(data),
            output_dir=str(tmp_path / "runs"),
            progress=False,
        )
        runs.append(run(options))
    assert runs[0].run_dir != runs[1].run_dir
    assert _scores(runs[0].summary).pass_at_1 == pytest.approx(0.5) == _scores(runs[1].summary).pass_at_1
    assert {r.completion for r in results.read_samples(runs[1].run_dir)} == {"\\boxed{7}"}
