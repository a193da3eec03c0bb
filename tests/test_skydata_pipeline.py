"""``curate`` end to end with a scripted engine: funnel accounting, checkpoints, resume, settings changes,
an interrupted teacher stage, rewrite and exports; plus the CLI's one-line errors."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import skydata.pipeline as pipeline
from skydata.backend import EngineConfig
from skydata.cli import main
from skydata.difficulty import JudgeConfig
from skydata.pipeline import CurateConfig, JudgeStage, RewriteStage, TeacherStage, curate
from skydata.reject import RejectConfig
from skydata.select import resolve_rules
from skydata.sources import make_spec
from skydata.teacher import resolve_teacher
from skyeval import engines
from skyeval.jsonl import read_jsonl
from skyeval.types import Completion, FinishReason, GenerationRequest, SamplingParams

ROWS = [
    {
        "source": "math",
        "problem": "Compute the value of 2 plus 3 times four minus one.",
        "solution": r"\boxed{13}",
    },
    {"source": "math", "problem": "Garbage judge: find 7 times 6 please now.", "solution": r"\boxed{42}"},
    {
        "source": "olympiads",
        "problem": "Find all primes p such that p plus 2 and p plus 4 are prime.",
        "solution": r"\boxed{3}",
    },
    {
        "source": "amc_aime",
        "problem": "How many positive divisors does 36 have in total?",
        "solution": r"\boxed{9}",
    },
    {
        "source": "amc_aime",
        "problem": "How many positive divisors does 36 have in total ?",
        "solution": r"\boxed{9}",
    },
    {"source": "amc_aime", "problem": "What is 1+1?", "solution": r"\boxed{2}"},
    {"source": "cn_k12", "problem": "Solve x + 1 = 2 for real x.", "solution": r"\boxed{1}"},
    {"source": "math", "problem": "No boxed answer here at all.", "solution": "answer 3"},
]
BENCH = [{"id": 0, "problem": "What is 1+1?", "answer": "2"}]


class Scripted:
    """Judge: level 5 unless the problem says 'Garbage'. Teacher: sample 0 right, sample 1 wrong, and
    'divisors' problems never finish. Rewrite: wraps the response in the Sky-T1 markers. Can crash midway."""

    name = "scripted"

    def __init__(self, crash_after: int | None = None) -> None:
        self.calls = 0
        self.crash_after = crash_after

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingParams
    ) -> Iterator[Completion]:
        for r in requests:
            system = r.messages[0].content if r.messages[0].role == "system" else ""
            user = r.messages[-1].content
            for i in r.sample_indices:
                if self.crash_after is not None and self.calls >= self.crash_after:
                    raise KeyboardInterrupt("simulated crash")
                self.calls += 1
                yield Completion(r.problem_id, i, *self.answer(system, user, i), 5, 20)

    def answer(self, system: str, user: str, i: int) -> tuple[str, FinishReason]:
        if "Art of" in system:
            return ("no idea" if "Garbage" in user else "hmm\nDifficulty: 5"), "stop"
        if "reformat" in system:
            body = user.split("Raw reasoning:\n", 1)[1]
            return (
                f"<|begin_of_thought|>{body}<|end_of_thought|><|begin_of_solution|>{body}<|end_of_solution|>",
                "stop",
            )
        gold = {"2 plus 3": "13", "primes": "3", "divisors": "9", "7 times": "42", "x + 1": "1"}
        ans = next((v for k, v in gold.items() if k in user), "0")
        if "divisors" in user:
            return "thinking forever", "length"
        return (f"so \\boxed{{{ans}}}" if i == 0 else "so \\boxed{-1}"), "stop"


@pytest.fixture
def src(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "numina.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "amc23.jsonl").write_text(json.dumps(BENCH[0]) + "\n")
    return data, bench


def config(data: Path, bench: Path, *, rewrite: bool = False, target: int | None = None) -> CurateConfig:
    ec = EngineConfig(
        "scripted", {"model": "m", "api_key_env": "SECRET_ENV", "base_url": "http://127.0.0.1:9/v1"}
    )
    return CurateConfig(
        sources=(make_spec("numina", str(data)),),
        rules=resolve_rules("sky-t1", ["math>4", "olympiads>4"]),
        judge=JudgeStage(ec, JudgeConfig("scripted:m", votes=1)),
        teacher=TeacherStage(resolve_teacher("qwq"), ec, SamplingParams(n=2, temperature=0.7)),
        reject=RejectConfig(target=target),
        rewrite=RewriteStage(ec) if rewrite else None,
        decontam_tasks=("amc23",),
        data_dir=str(bench),
    )


def scripted_factory(model: str, api_key_env: str | None = None, base_url: str | None = None) -> Scripted:
    """The option signature preflight checks the ``scripted`` engine against (tests build it themselves)."""
    raise AssertionError("tests patch pipeline.build_engine")


def use(monkeypatch: pytest.MonkeyPatch, engine: Scripted) -> list[EngineConfig]:
    """Register the ``scripted`` engine for preflight and have the pipeline build ``engine``; returns the
    configs the pipeline built engines from (a stage whose work is all cached builds none)."""
    spec = engines.EngineSpec(f"{__name__}:scripted_factory", (), "openai", neutral=("base_url",))
    monkeypatch.setitem(engines.ENGINES, "scripted", spec)
    monkeypatch.setenv("SECRET_ENV", "sk-never-written")
    built: list[EngineConfig] = []

    def fake(cfg: EngineConfig) -> Scripted:
        built.append(cfg)
        return engine

    monkeypatch.setattr(pipeline, "build_engine", fake)
    return built


def test_curate_funnel_resume_and_exports(
    tmp_path: Path, src: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, bench = src
    engine = Scripted()
    built = use(monkeypatch, engine)
    run = tmp_path / "run"
    manifest = curate(run, config(data, bench, rewrite=True), progress=False)
    funnel = {s["stage"]: s for s in manifest["funnel"]}
    assert funnel["source"]["dropped"] == {"no_gold": 1} and funnel["source"]["rows_out"] == 7
    assert funnel["dedup"]["dropped"] == {"duplicate": 1}
    assert funnel["decontam"]["dropped"] == {"contaminated": 1}
    assert funnel["select"]["dropped"] == {"source_not_selected": 1, "unparsable": 1}
    assert funnel["select"]["rows_out"] == 3  # math and olympiads judged 5 (> 4), one amc_aime
    # rows in == rows out + dropped at every filtering stage: nothing vanishes
    for s in ("source", "dedup", "decontam", "select"):
        assert funnel[s]["rows_in"] == funnel[s]["rows_out"] + sum(funnel[s]["dropped"].values())
    labelled = {r["id"]: r["meta"] for r in read_jsonl(run / "03_difficulty.jsonl")}
    assert sorted(m["difficulty_status"] for m in labelled.values()) == [
        "labelled",
        "labelled",
        "not_needed",
        "not_needed",
        "unparsable",
    ]
    assert manifest["stages"]["difficulty"]["extra"] == {
        "labelled": 2,
        "unparsable": 1,
        "judge_error": 0,
        "not_needed": 2,
    }
    reject = manifest["stages"]["reject"]
    assert reject["extra"]["samples_rejected"] == {"not_finished:length": 2, "wrong:not_equal": 2}
    assert reject["dropped"] == {"no_accepted_sample": 1}
    sft = list(read_jsonl(run / "sft_trl.jsonl"))
    assert len(sft) == 2 and all(m["messages"][-1]["content"].startswith("<|begin_of_thought|>") for m in sft)
    assert {r["source"] for r in sft} == {"math", "olympiads"}
    assert len(list(read_jsonl(run / "rl_openrlhf-rl.jsonl"))) == 3
    for name in ("sft_sharegpt.jsonl", "sft_openrlhf.jsonl", "rl_trl-rl.jsonl", "01_dedup.dropped.jsonl"):
        assert (run / name).is_file()
    text = (run / "manifest.json").read_text()
    assert "SECRET_ENV" in text and 'api_key"' not in text  # the env var's name, never a key
    assert not any("sk-never-written" in p.read_text() for p in run.iterdir() if p.is_file())
    assert manifest["config"]["teacher"]["teacher"]["model"] == "Qwen/QwQ-32B-Preview"
    assert manifest["config"]["teacher"]["teacher"]["name"] == "qwq"
    assert {r["teacher"] for r in read_jsonl(run / "06_reject.jsonl")} == {"qwq"}  # provenance: the alias
    files = manifest["stages"]["export"]["extra"]["files"]
    assert files["sft_trl.jsonl"] == {
        "format": "trl",
        "rows": 2,
        "system_prompt": "sky-t1",
        "user_suffix": "none",
    }
    assert files["rl_trl-rl.jsonl"]["system_prompt"] == "none"
    assert files["rl_trl-rl.jsonl"]["user_suffix"] == "step-by-step"

    calls = engine.calls
    again = curate(run, config(data, bench, rewrite=True), progress=False)
    assert engine.calls == calls and again["funnel"] == manifest["funnel"]  # a re-run is free

    # raising the target reruns only the teacher stage onwards, and the teacher resumes from its log
    del built[:]
    resumed = curate(run, config(data, bench, rewrite=True, target=1), progress=False)
    assert engine.calls == calls and not built  # everything was cached: no engine was even built
    assert len(list(read_jsonl(run / "sft_trl.jsonl"))) == 1
    teacher = resumed["stages"]["teacher"]  # D11: problems asked in the earlier run count as out
    assert (teacher["rows_in"], teacher["rows_out"], teacher["dropped"]) == (3, 3, {})
    assert resumed["stages"]["reject"]["dropped"] == {"over_target": 2}
    # switching the rewrite off drops it from the manifest and exports the raw responses
    manifest = curate(run, config(data, bench, target=1), progress=False)
    assert "rewrite" not in manifest["stages"] and engine.calls == calls
    (row,) = read_jsonl(run / "sft_trl.jsonl")
    assert row["messages"][-1]["content"] == "so \\boxed{13}"


def test_interrupted_teacher_resumes_without_losing_samples(
    tmp_path: Path, src: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, bench = src
    run = tmp_path / "run"
    use(monkeypatch, Scripted(crash_after=6))  # 5 judge calls (garbage asked 3 times), 1 teacher sample
    with pytest.raises(KeyboardInterrupt):
        curate(run, config(data, bench), progress=False)
    (log,) = run.glob("teacher-*[0-9a-f].jsonl")
    before = [(r["id"], r["sample_index"]) for r in read_jsonl(log)]
    assert len(before) == 1
    manifest = json.loads((run / "manifest.json").read_text())
    assert "teacher" not in manifest["stages"] and manifest["stages"]["select"]["status"] == "done"
    engine = Scripted()
    use(monkeypatch, engine)
    curate(run, config(data, bench), progress=False)
    after = [(r["id"], r["sample_index"]) for r in read_jsonl(log)]
    assert after[:1] == before and len(after) == len(set(after)) == 6
    assert engine.calls == 5  # only the missing samples were asked for


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["dedup", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 2 and res.output.strip().startswith("error: ") and "Traceback" not in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1"}\n')
    res = runner.invoke(main, ["select", str(bad), "-o", str(tmp_path / "o.jsonl"), "--preset", "sky-t1"])
    assert res.exit_code == 2 and "not a skydata item" in res.output
    res = runner.invoke(main, ["select", str(bad), "-o", str(tmp_path / "o.jsonl"), "--rule", "math>>1"])
    assert res.exit_code == 2 and "bad selection rule" in res.output
    res = runner.invoke(
        main, ["label", str(bad), "-o", str(tmp_path / "o.jsonl"), "--option", "api_key=sk-1", "--model", "m"]
    )
    assert res.exit_code == 2 and "environment variable" in res.output


def test_cli_stage_chain(tmp_path: Path, src: tuple[Path, Path]) -> None:
    data, bench = src
    runner = CliRunner()
    steps = [
        ["source", "numina", str(data), "-o", str(tmp_path / "s.jsonl")],
        ["dedup", str(tmp_path / "s.jsonl"), "-o", str(tmp_path / "d.jsonl")],
        ["decontam", str(tmp_path / "d.jsonl"), "-o", str(tmp_path / "c.jsonl"), "--data-dir", str(bench)],
        ["select", str(tmp_path / "c.jsonl"), "-o", str(tmp_path / "sel.jsonl"), "--rule", "amc_aime:all"],
        ["export", str(tmp_path / "sel.jsonl"), "-o", str(tmp_path / "rl.jsonl"), "--format", "openrlhf-rl"]
        + ["--data-dir", str(bench)],  # RL exports are decontaminated too
    ]
    for args in steps:
        res = runner.invoke(main, args)
        assert res.exit_code == 0, res.output
    rows = list(read_jsonl(tmp_path / "rl.jsonl"))
    assert [r["label"] for r in rows] == ["9"]
    dropped = list(read_jsonl(tmp_path / "c.dropped.jsonl"))
    assert dropped[0]["reason"] == "contaminated" and dropped[0]["detail"].startswith("amc23:0")


def test_one_curate_per_run_dir(
    tmp_path: Path, src: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    from skyeval.errors import SkyevalError

    data, bench = src
    use(monkeypatch, Scripted())
    run = tmp_path / "run"
    run.mkdir()
    with (run / ".lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(SkyevalError, match="another skydata curate"):
            curate(run, config(data, bench), progress=False)


def test_judge_settings_change_invalidates_the_cache_but_the_endpoint_does_not(
    tmp_path: Path, src: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, bench = src
    engine = Scripted()
    use(monkeypatch, engine)
    run = tmp_path / "run"
    base = config(data, bench)
    curate(run, base, progress=False)

    def judged() -> int:
        return len((run / "judge_cache.jsonl").read_text().splitlines())

    first = judged()
    assert first == 5  # two labelled problems, one garbage reply asked three times

    def judge_with(base_url: str | None = None, **changes: Any) -> CurateConfig:
        assert base.judge is not None
        options = {**base.judge.engine.options, **({"base_url": base_url} if base_url else {})}
        judge = JudgeStage(
            EngineConfig("scripted", options), dataclasses.replace(base.judge.config, **changes)
        )
        return dataclasses.replace(base, judge=judge)

    curate(run, judge_with(base_url="http://elsewhere:9/v1"), progress=False)
    assert judged() == first  # the same model behind another URL: every vote is a cache hit
    curate(run, judge_with(max_tokens=2048), progress=False)
    assert judged() == first + 5  # a larger budget changes a vote (D3): asked again
    manifest = curate(run, judge_with(max_tokens=2048), progress=False)
    assert judged() == first + 5 and manifest["stages"]["difficulty"]["status"] == "done"


def test_no_tmp_file_survives_a_stage_that_fails_midway(
    tmp_path: Path, src: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, bench = src
    run = tmp_path / "run"
    use(monkeypatch, Scripted(crash_after=1))  # dies inside the difficulty stage, while 03_*.tmp is open
    with pytest.raises(KeyboardInterrupt):
        curate(run, config(data, bench), progress=False)
    assert not list(run.glob("*.tmp")) and not (run / "03_difficulty.jsonl").exists()
    manifest = json.loads((run / "manifest.json").read_text())
    assert [s["stage"] for s in manifest["funnel"]] == ["source", "dedup", "decontam"]
    (run / "stale.jsonl.tmp").write_text("left by kill -9")
    use(monkeypatch, Scripted())
    curate(run, config(data, bench), progress=False)
    assert not list(run.glob("*.tmp"))
