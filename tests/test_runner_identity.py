"""Run identity: settings that change generations get another run directory (or a refusal naming them);
settings that do not (concurrency, retries, batch size, device, ...) resume the same directory."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from testkit.fake_openai_server import FakeServer, Script

from skyeval import results
from skyeval.errors import SkyevalError
from skyeval.runner import RunOptions, run
from skyeval.types import RunConfig, SamplingParams

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
