"""Train -> eval loop on CPU with the tiny random Qwen2: TRL SFT, then TRL RLOO with skyeval's reward, then
``skyeval run --engine hf`` on the saved checkpoint as is. Step counts are minimal (a smoke run, not learning)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from skytrain.cli import main as skytrain

pytest.importorskip("trl")
pytest.importorskip("datasets")

# The tiny model's chat template with {% generation %} markers around the assistant turn (assistant-only loss).
TRAINING_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] }}<|im_end|>\n{% endgeneration %}"
    "{% else %}{{ message['content'] }}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _write_jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _invoke(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(skytrain, args)
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.fixture(scope="module")
def sft_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("skytrain-sft")
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"What is {i} + 1?"},
                {"role": "assistant", "content": f"{i} + 1 = {i + 1}. The answer is \\boxed{{{i + 1}}}."},
            ]
        }
        for i in range(8)
    ]
    (work / "template.jinja").write_text(TRAINING_TEMPLATE, encoding="utf-8")
    result = _invoke(
        [
            "sft",
            "--backend",
            "trl",
            "--model",
            str(tiny_model_dir),
            "--data",
            str(_write_jsonl(work / "sft.jsonl", rows)),
        ]
        + [
            "--output-dir",
            str(work / "model"),
            "--global-batch",
            "4",
            "--per-device-batch",
            "4",
            "--max-steps",
            "2",
        ]
        + ["--max-length", "128", "--chat-template", str(work / "template.jinja"), "--no-packing"]
    )
    assert result["steps"] == 2 and result["train_loss"] is not None
    return work / "model"


def test_trl_sft_saves_a_loadable_checkpoint(sft_model: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert (sft_model / "model.safetensors").is_file() and (sft_model / "skytrain_spec.json").is_file()
    AutoTokenizer.from_pretrained(sft_model)
    AutoModelForCausalLM.from_pretrained(sft_model)


def test_assistant_only_loss_needs_generation_markers(tiny_model_dir: Path, tmp_path: Path) -> None:
    data = _write_jsonl(
        tmp_path / "sft.jsonl",
        [{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}],
    )
    result = CliRunner().invoke(
        skytrain,
        ["sft", "--model", str(tiny_model_dir), "--data", str(data), "--output-dir", str(tmp_path / "o")]
        + ["--global-batch", "1", "--max-steps", "1"],
    )
    assert result.exit_code == 2
    assert "--chat-template" in result.output and "Traceback" not in result.output


def test_trl_rloo_then_skyeval_run_evaluates_the_checkpoint(sft_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("skyeval.rewards")
    from skyeval.cli import main as skyeval

    prompts = [{"prompt": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(4)]
    result = _invoke(
        ["rl", "--backend", "trl", "--algo", "rloo", "--model", str(sft_model)]
        + ["--data", str(_write_jsonl(tmp_path / "rl.jsonl", prompts)), "--output-dir", str(tmp_path / "rl")]
        + ["--rollouts", "2", "--prompt-batch", "2", "--per-device-batch", "4", "--max-steps", "1"]
        + ["--max-response-length", "12", "--no-vllm"]
    )
    assert result["steps"] == 1
    rl_model = tmp_path / "rl"
    assert (rl_model / "model.safetensors").is_file()

    problems = [{"question": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(2)]
    task = _write_jsonl(tmp_path / "problems.jsonl", problems)
    evaluated = CliRunner().invoke(
        skyeval,
        ["run", "--engine", "hf", "--model", str(rl_model), "--task", f"file:{task}", "-n", "1"]
        + ["--max-tokens", "8", "--device", "cpu", "--output-dir", str(tmp_path / "eval"), "--no-progress"],
    )
    assert evaluated.exit_code == 0, evaluated.output
    samples = list((tmp_path / "eval").rglob("samples.jsonl"))
    assert len(samples) == 1
    records = [json.loads(line) for line in samples[0].read_text().splitlines() if line.strip()]
    assert sorted(r["problem_id"] for r in records) and len(records) == 2
    assert all(r["gold"] in ("1", "2") for r in records)


def test_accelerate_entry_point_trains_from_the_written_spec(sft_model: Path, tmp_path: Path) -> None:
    """``accelerate launch -m skytrain.trl_backend SPEC.json`` runs this entry point in every process."""
    from dataclasses import replace

    from skytrain.specs import SFTSpec, read_spec, write_spec
    from skytrain.trl_backend import main as entry_point

    spec, cluster = read_spec(sft_model / "skytrain_spec.json")
    assert isinstance(spec, SFTSpec)
    spec_path = write_spec(
        replace(spec, output_dir=str(tmp_path / "out"), max_steps=1), cluster, tmp_path / "s.json"
    )
    entry_point([str(spec_path)])
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_trl_rl_validation_set_is_scored_every_val_steps(sft_model: Path, tmp_path: Path) -> None:
    """``--val-task file:PATH`` becomes TRL's eval set, graded by the same reward (``eval_reward`` per check)."""
    prompts = [{"prompt": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(4)]
    held = [{"question": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(4, 6)]
    result = _invoke(
        [
            "rl",
            "--backend",
            "trl",
            "--model",
            str(sft_model),
            "--data",
            str(_write_jsonl(tmp_path / "rl.jsonl", prompts)),
        ]
        + [
            "--output-dir",
            str(tmp_path / "rl"),
            "--rollouts",
            "2",
            "--prompt-batch",
            "2",
            "--per-device-batch",
            "4",
        ]
        + ["--max-steps", "2", "--max-response-length", "8", "--no-vllm", "--val-steps", "1"]
        + ["--val-task", f"file:{_write_jsonl(tmp_path / 'held.jsonl', held)}"]
    )
    assert result["steps"] == 2
    history = json.loads((tmp_path / "rl" / "trainer_state.json").read_text())["log_history"]
    checks = [row for row in history if "eval_reward" in row]
    assert len(checks) == 2 and all("eval_skyeval/no_answer" in row for row in checks)
