"""Protocol presets: precedence (flag > protocol > model > task), what ``config.json`` records, and
``--protocol sky-t1`` / ``--protocol deepseek-r1`` run end to end with the hf engine on a tiny model whose chat
template opens ``<think>`` (every token ends its reply, so 64 samples at 32,768 max tokens take seconds)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from testkit.reasoning import think_model

from skyeval import prompts
from skyeval.cli import main
from skyeval.errors import SkyevalError
from skyeval.protocols import PROTOCOLS, get_protocol, resolve
from skyeval.tasks import get_task


def test_every_preset_cites_a_source_and_is_listed() -> None:
    assert list(PROTOCOLS) == ["sky-t1", "sky-t1-mini", "deepseek-r1", "deepscaler", "qwen-math"]
    out = CliRunner().invoke(main, ["tasks", "--protocols"])
    assert out.exit_code == 0
    for name, preset in PROTOCOLS.items():
        assert preset.source and "@" in preset.source  # a repository at a commit
        assert any(line.startswith(name + " ") and preset.source in line for line in out.output.splitlines())


def test_precedence_flag_over_protocol_over_model_over_task() -> None:
    aime = get_task("aime24")
    r = resolve(aime, "NovaSky-AI/Sky-T1-7B", "deepseek-r1", samples=4)
    assert (r.sampling.n, r.sampling.temperature, r.sampling.top_p, r.sampling.max_tokens) == (
        4,
        0.6,
        0.95,
        32768,
    )
    assert r.sources["samples"] == {"value": 4, "source": "flag"}
    assert r.sources["temperature"]["source"] == "protocol deepseek-r1"
    assert (r.prompt_name, r.system_prompt) == ("none", None)  # the protocol beats the model's own prompt
    assert r.prompt_template == "{question}\n\n" + prompts.QWEN_COT and r.prefill == "<think>\n"
    plain = resolve(aime, "NovaSky-AI/Sky-T1-7B")
    assert plain.sources["system_prompt"] == {"value": "sky-t1", "source": "model NovaSky-AI/Sky-T1-7B"}
    assert plain.sources["samples"] == {"value": 8, "source": "task aime24"} and plain.prefill == ""
    assert resolve(aime, "./ckpt").sources["system_prompt"] == {"value": "qwen-cot", "source": "default"}
    mini = resolve(get_task("math500"), "m", "sky-t1-mini", system_prompt="qwq")
    assert (mini.prompt_name, mini.sampling.temperature, mini.sampling.n) == ("qwq", 0.0, 1)
    scaler = resolve(get_task("amc23"), "m", "deepscaler")
    assert scaler.prompt_template == "{question} " + prompts.DEEPSCALER_STEP and scaler.sampling.n == 16
    qwen = resolve(get_task("minerva_math"), "m", "qwen-math")
    assert (qwen.prompt_name, qwen.sampling.max_tokens, qwen.sampling.temperature) == ("qwen-cot", 2048, 0.0)
    with pytest.raises(SkyevalError, match="unknown protocol 'r2'; choose one of: sky-t1"):
        get_protocol("r2")


@pytest.fixture(scope="module")
def think_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return think_model(tiny_model_dir, tmp_path_factory.mktemp("think") / "r1-tiny")


def _run(model: Path, out: Path, *args: str) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    shared = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    result = CliRunner().invoke(
        main,
        ["run", "-m", str(model), "--engine", "hf", "--device", "cpu", "--limit", "1", "--data-dir",
         str(shared), "-o", str(out), "--no-progress", *args],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in out.glob("*/*/*") if p.is_dir()]
    config = json.loads((run_dir / "config.json").read_text())
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    return config, samples, json.loads((run_dir / "summary.json").read_text())


def test_deepseek_r1_protocol_end_to_end(think_dir: Path, tmp_path: Path, shared_dir: Path) -> None:
    config, samples, summary = _run(
        think_dir, tmp_path / "r1", "--task", "aime24", "--protocol", "deepseek-r1"
    )
    assert config["sampling"] == {"n": 64, "temperature": 0.6, "top_p": 0.95, "max_tokens": 32768, "seed": 0}
    assert config["system_prompt"] is None and config["system_prompt_name"] == "none"
    assert (
        config["prompt_template"]
        == "{question}\n\nPlease reason step by step, and put your final answer within \\boxed{}."
    )
    assert config["response_prefill"] == "<think>\n" and config["protocol"] == "deepseek-r1"
    assert {k: v["source"] for k, v in config["resolved"].items()} == {
        k: "protocol deepseek-r1"
        for k in ("samples", "temperature", "top_p", "max_tokens", "system_prompt", "user_suffix",
                  "prompt_template", "prefill")
    }  # fmt: skip
    assert len(samples) == 64 and all(s["prompt"].endswith(prompts.QWEN_COT) for s in samples)
    # the template opened <think>: the reply starts inside it, once, and never closed it
    assert all(
        s["completion"].startswith("<think>\n") and s["completion"].count("<think>") == 1 for s in samples
    )
    assert {s["reason"] for s in samples} == {"incomplete_reasoning"}
    scores = summary["scores"]
    assert scores["incomplete_reasoning"] == 64 and scores["truncated"] == 0
    assert scores["reasons"] == {"incomplete_reasoning": 64}


def test_sky_t1_protocol_sets_per_task_sampling_and_its_prompt(
    think_dir: Path, tmp_path: Path, shared_dir: Path
) -> None:
    config, samples, _ = _run(think_dir, tmp_path / "aime", "--task", "aime24", "--protocol", "sky-t1")
    assert config["sampling"] == {"n": 8, "temperature": 0.6, "top_p": 0.95, "max_tokens": 32768, "seed": 0}
    assert config["system_prompt"] == prompts.SKY_T1 and config["system_prompt_name"] == "sky-t1"
    assert config["prompt_template"] == "{question}" and config["response_prefill"] == ""
    assert config["resolved"]["system_prompt"] == {"value": "sky-t1", "source": "protocol sky-t1"}
    assert len(samples) == 8 and all(s["completion"].startswith("<think>\n") for s in samples)
    config, samples, _ = _run(
        think_dir, tmp_path / "math", "--task", "math500", "--protocol", "sky-t1", "--max-tokens", "64"
    )
    assert config["sampling"] == {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 64, "seed": 0}
    assert config["resolved"]["max_tokens"] == {"value": 64, "source": "flag"}
    assert config["resolved"]["temperature"] == {"value": 0.0, "source": "protocol sky-t1"}
