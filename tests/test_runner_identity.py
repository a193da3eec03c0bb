"""Run identity: settings that change generations get another run directory (or a refusal naming them);
settings that do not (concurrency, retries, batch size, device, ...) resume the same directory. The model is
identified as resolved (path and content, or Hub revision), the grader is recorded but re-grades instead."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from testkit.fake_openai_server import FakeServer, Script

from skyeval import hub, results
from skyeval.cli import main
from skyeval.errors import SkyevalError
from skyeval.grading.version import GRADER_VERSION
from skyeval.regrade import score
from skyeval.runner import RunOptions, prepare_all, run
from skyeval.types import ModelSource, RunConfig, SamplingParams

BASE = RunConfig(
    model="org/model",
    task="amc23",
    engine="hf",
    sampling=SamplingParams(n=4, temperature=0.6, top_p=0.95, max_tokens=64, seed=0),
    system_prompt="Reason step by step.",
    prompt_template="{question}",
)


def _dir(engine: str, options: dict[str, Any] | None = None, **changes: Any) -> Path:
    config = replace(BASE, engine=engine, engine_options=options or {}, **changes)
    return results.run_dir_for("runs", config, "qwen-cot")


@pytest.mark.parametrize(
    ("engine", "changes", "neutral"),
    [
        ("hf", {"dtype": "float32"}, {"batch_size": 1, "device": "cpu", "dtype": "auto"}),
        ("hf", {"seed": 3}, {"seed": None}),
        ("vllm", {"dtype": "bfloat16"}, {"tensor_parallel_size": 4, "gpu_memory_utilization": 0.5}),
        ("vllm", {"max_model_len": 4096}, {"enable_prefix_caching": False, "seed": 0}),
        ("vllm", {"seed": 1}, {"dtype": "auto", "max_model_len": None}),
        (
            "openai",
            {"mode": "completion"},
            {"concurrency": 64, "max_retries": 2, "request_timeout": 30, "base_url": "http://h:1/v1"},
        ),
        ("replay", {"path": "other.jsonl"}, {"id_field": "id"}),
        ("replay", {"response_field": "code"}, {"finish_field": ""}),
    ],
)
def test_generation_options_change_the_run_dir_and_neutral_ones_do_not(
    engine: str, changes: dict[str, Any], neutral: dict[str, Any]
) -> None:
    base = _dir(engine)
    assert _dir(engine, changes) != base
    assert _dir(engine, neutral) == base
    assert _dir(engine, {**neutral, **changes}) == _dir(engine, changes)


def test_prompt_and_sampling_are_identity_but_samples_and_limit_are_not() -> None:
    base = _dir("hf")
    assert _dir("hf", system_prompt=None) != base
    assert _dir("hf", prompt_template="Q: {question}") != base
    assert _dir("hf", sampling=replace(BASE.sampling, top_p=0.9)) != base
    assert _dir("hf", sampling=replace(BASE.sampling, seed=1)) != base
    assert _dir("hf", sampling=replace(BASE.sampling, n=16), limit=3) == base


def _data(tmp_path: Path) -> Path:
    rows = [{"id": i, "problem": f"Problem {i}?", "answer": "42"} for i in range(2)]
    (tmp_path / "amc23.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def test_openai_resumes_with_more_concurrency_and_splits_on_mode(tmp_path: Path) -> None:
    script = Script()
    with FakeServer(script) as url:
        base = RunOptions(
            model="m",
            task="amc23",
            engine="openai",
            engine_options={"base_url": url, "concurrency": 1},
            samples=1,
            data_dir=str(_data(tmp_path)),
            output_dir=str(tmp_path / "runs"),
            progress=False,
        )
        first = run(base)
        more = {"base_url": url, "concurrency": 8, "max_retries": 2, "request_timeout": 30, "use_n": False}
        again = run(replace(base, engine_options=more, samples=2))
        assert again.run_dir == first.run_dir and again.summary.samples == 4
        assert len(script.requests) == 4  # two for the first run, then only the two missing samples
        other = run(replace(base, engine_options={"base_url": url, "mode": "completion"}))
        assert other.run_dir != first.run_dir
        assert script.requests[-1]["path"].endswith("/completions")
        assert run(replace(base, system_prompt="none")).run_dir not in {first.run_dir, other.run_dir}

        # a directory whose config.json disagrees with the settings is refused, naming the setting
        config = json.loads((first.run_dir / "config.json").read_text())
        config["engine_options"]["mode"] = "completion"
        (first.run_dir / "config.json").write_text(json.dumps(config))
        with pytest.raises(SkyevalError, match=r"different settings \(option\.mode\)"):
            run(base)


# -- the model and task as resolved: paths, content, Hub revisions ---------------------------------------------


def _hf_run(model: str, out: Path, data: Path) -> Result:
    args = ["run", "--model", model, "--engine", "hf", "--task", "amc23", "--limit", "1", "-n", "1"]
    args += ["--max-tokens", "2", "--data-dir", str(data), "-o", str(out), "--no-progress"]
    return CliRunner().invoke(main, args)


def _results_dir(result: Result) -> Path:
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("results: ")]
    return Path(line.removeprefix("results: "))


def _double_every_weight_keeping_header_size_and_mtime(weights: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    before = weights.read_bytes()
    stat = weights.stat()
    with safe_open(str(weights), "pt") as fh:
        metadata = fh.metadata()
    save_file({k: v * 2 for k, v in load_file(str(weights)).items()}, str(weights), metadata=metadata)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = weights.read_bytes()
    head = 8 + int.from_bytes(before[:8], "little")
    assert after[:head] == before[:head] and len(after) == len(before) and after != before


def test_a_rewritten_checkpoint_at_the_same_path_gets_a_new_run_directory(
    tiny_model_dir: Path, shared_dir: Path, tmp_path: Path
) -> None:
    """Every weight changed, with the same safetensors header, size and mtime: only the content tells."""
    model = tmp_path / "ckpt"
    shutil.copytree(tiny_model_dir, model)
    first = _results_dir(_hf_run(str(model), tmp_path / "runs", shared_dir / "data"))
    assert len(results.read_samples(first)) == 1
    _double_every_weight_keeping_header_size_and_mtime(model / "model.safetensors")
    second = _results_dir(_hf_run(str(model), tmp_path / "runs", shared_dir / "data"))
    assert second != first and second.parent == first.parent
    assert len(results.read_samples(second)) == 1  # generated by the new weights, not resumed
    old, new = results.read_config(first).model_source, results.read_config(second).model_source
    assert old is not None and new is not None and old.id == new.id == str(model)
    assert old.fingerprint != new.fingerprint


def test_the_same_model_by_relative_and_absolute_path_is_one_run(
    tiny_model_dir: Path, shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(tiny_model_dir, tmp_path / "tiny")
    monkeypatch.chdir(tmp_path)
    first = _results_dir(_hf_run("./tiny", tmp_path / "runs", shared_dir / "data"))
    samples = (first / results.SAMPLES).read_bytes()
    again = _results_dir(_hf_run(str(tmp_path / "tiny"), tmp_path / "runs", shared_dir / "data"))
    assert again == first and first.parts[-3] == "tiny"
    assert (first / results.SAMPLES).read_bytes() == samples  # resumed: nothing generated


def _prepared_dir(model: str, tmp_path: Path, data: Path, hub_client: Any = None, **kw: Any) -> Path:
    options = RunOptions(
        model=model,
        task=kw.pop("task", "amc23"),
        engine=kw.pop("engine", "hf"),
        samples=1,
        limit=1,
        data_dir=str(data),
        output_dir=str(tmp_path / "runs"),
        progress=False,
    )
    return prepare_all([replace(options, **kw)], hub_client=hub_client)[0].run_dir


def test_another_model_at_the_same_relative_path_from_another_folder_is_another_run(
    tiny_model_dir: Path, shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in ("a", "b"):
        shutil.copytree(tiny_model_dir, tmp_path / folder / "ckpt")
    _double_every_weight_keeping_header_size_and_mtime(tmp_path / "b" / "ckpt" / "model.safetensors")
    monkeypatch.chdir(tmp_path / "a")
    in_a = _prepared_dir("./ckpt", tmp_path, shared_dir / "data")
    monkeypatch.chdir(tmp_path / "b")
    in_b = _prepared_dir("./ckpt", tmp_path, shared_dir / "data")
    assert in_a != in_b and in_a.parent == in_b.parent


def test_a_file_task_by_relative_and_absolute_path_is_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "set.jsonl").write_text('{"question": "1+1?", "answer": "2", "response": "\\\\boxed{2}"}\n')
    monkeypatch.chdir(tmp_path / "sub")
    common = {"engine": "replay", "engine_options": {"response_field": "response"}}
    rel = _prepared_dir("r", tmp_path, tmp_path, task="file:../set.jsonl", **common)
    absolute = _prepared_dir("r", tmp_path, tmp_path, task=f"file:{tmp_path / 'set.jsonl'}", **common)
    assert rel == absolute


class StubHub:
    def __init__(self, online: str = "", cached: str | None = None) -> None:
        self.online, self.cached = online, cached

    def revision(self, repo_id: str) -> str:
        return self.online

    def cached_revision(self, repo_id: str) -> str | None:
        return self.cached


def test_a_hub_model_is_identified_by_its_revision_online_and_its_cached_one_offline(
    shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def at(status: hub.HubStatus, client: StubHub) -> Path:
        monkeypatch.setattr(hub, "probe", lambda: status)
        return _prepared_dir("org/model", tmp_path, shared_dir / "data", hub_client=client)

    online, offline = hub.HubStatus(True), hub.HubStatus(False, "no network")
    first = at(online, StubHub(online="a" * 40))
    assert at(online, StubHub(online="a" * 40)) == first
    assert at(online, StubHub(online="b" * 40)) != first  # a new revision pushed: a new run
    assert at(offline, StubHub(cached="a" * 40)) == first  # offline, the cached copy is what loads

    notes: list[str] = []
    options = RunOptions(
        model="org/model",
        task="amc23",
        engine="hf",
        samples=1,
        limit=1,
        data_dir=str(shared_dir / "data"),
        output_dir=str(tmp_path / "runs"),
    )
    monkeypatch.setattr(hub, "probe", lambda: offline)
    (ready,) = prepare_all([options], hub_client=StubHub(cached=None), log=notes.append)
    assert ready.run_dir.parent == first.parent and ready.run_dir != first
    assert ready.config.model_source == ModelSource("hub", "org/model")
    assert notes == [
        "note: the Hugging Face Hub is unreachable (no network): working offline; model 'org/model' is "
        "identified by its name only"
    ]


# -- the grader: recorded, not identity; another version re-grades without generating ---------------------------


def test_grader_version_and_policy_are_recorded_but_not_identity() -> None:
    base = _dir("hf")
    assert _dir("hf", grader_version="99", grade_policy="other") == base


def test_samples_graded_by_another_grader_are_regraded_without_generating(tmp_path: Path) -> None:
    script = Script()
    notes: list[str] = []
    with FakeServer(script) as url:
        options = RunOptions(
            model="m",
            task="amc23",
            engine="openai",
            engine_options={"base_url": url},
            samples=1,
            data_dir=str(_data(tmp_path)),
            output_dir=str(tmp_path / "runs"),
            progress=False,
        )
        first = run(options, log=notes.append)
        assert len(script.requests) == 2 and notes == []
        assert results.read_config(first.run_dir).grader_version == GRADER_VERSION
        rows = results.read_samples(first.run_dir)
        assert {r.grader for r in rows} == {f"{GRADER_VERSION}/default"} and all(r.correct for r in rows)
        old = [replace(r, grader="1/default", correct=False, reason="not_equal") for r in rows]
        results.rewrite_samples(first.run_dir, [old[0], replace(old[1], grader="")])

        again = run(options, log=notes.append)
        assert len(script.requests) == 2  # nothing generated
        assert notes == [
            f"note: 2 sample(s) in {first.run_dir} were graded by graders 1/default, an unrecorded one; "
            f"re-graded with grader {GRADER_VERSION}/default (nothing generated)"
        ]
        rows = results.read_samples(first.run_dir)
        assert all(r.correct and r.grader == f"{GRADER_VERSION}/default" for r in rows)
        assert json.loads((again.run_dir / "summary.json").read_text())["samples"] == 2

        notes.clear()
        results.rewrite_samples(first.run_dir, [replace(rows[0], grader="1/default"), rows[1]])
        score(first.run_dir, progress=False, log=notes.append)
        assert notes == [
            f"note: 1 sample(s) in {first.run_dir} had been graded by grader 1/default; now by grader "
            f"{GRADER_VERSION}/default"
        ]
        run(options, log=notes.append)
        assert len(notes) == 1 and len(script.requests) == 2  # all current: nothing re-graded or generated
