"""A loop that learns, on CPU in the default suite: a tiny model learns single-digit addition with ``\\boxed{}``
answers through ``skytrain sft``, improves its reward through ``skytrain rl`` (TRL RLOO with skyeval's grader),
and ``skyeval run --engine hf`` measures it on held-out problems. Fixed seeds; figures in docs/training.md.

The model is built here: a byte-level BPE tokenizer trained on the task's text (every digit its own token) and a
2-layer Qwen2 with random weights. RL runs on 8 training problems with 16 rollouts each: measured on this
2-core machine, 75 problems x 8 rollouts moved the reward by less than 0.1 in 40 steps at any stable learning
rate (lr >= 2e-3 made it fall), while 8 x 16 moves it by about 0.2 (see docs/training.md, "A loop that learns").
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from skyeval.testing import build_tiny_model

pytest.importorskip("trl")
torch = pytest.importorskip("torch")

TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] }}<|im_end|>{% endgeneration %}\n"
    "{% else %}{{ message['content'] }}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
HELD_OUT = 25
RL_PROBLEMS = 8


def _question(a: int, b: int) -> str:
    return f"What is {a} + {b}?"


def build_addition_model(path: Path, seed: int = 0) -> Path:
    """A 2-layer random Qwen2 with a BPE tokenizer trained on the addition task's text."""
    corpus = [
        f"{_question(a, b)} {a} + {b} = {a + b}. \\boxed{{{a + b}}}" for a in range(10) for b in range(10)
    ]
    return build_tiny_model(
        path,
        vocab_size=300,
        seed=seed,
        corpus=[*corpus, "user assistant system"],
        chat_template=TEMPLATE,
        max_positions=256,
    )


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def one_thread() -> Iterator[None]:
    """Tiny matrices on a shared 2-core machine: one torch thread is several times faster than two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _pass_at_1(model: Path, task: Path, out: Path) -> float:
    from skyeval.cli import main as skyeval

    result = CliRunner().invoke(
        skyeval,
        ["run", "--engine", "hf", "--model", str(model), "--task", f"file:{task}", "--system-prompt", "none"]
        + ["--max-tokens", "8", "--device", "cpu", "--output-dir", str(out), "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    (samples,) = out.rglob("samples.jsonl")
    records = [json.loads(line) for line in samples.read_text().splitlines() if line.strip()]
    assert len(records) == HELD_OUT
    return float(sum(r["correct"] for r in records) / len(records))


def _skytrain(args: list[str]) -> dict[str, Any]:
    from skytrain.cli import main as skytrain

    result = CliRunner().invoke(skytrain, args)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_sft_then_rl_learns_addition(tmp_path: Path, one_thread: None) -> None:
    pairs = [(a, b) for a in range(10) for b in range(10)]
    random.Random(0).shuffle(pairs)
    held, train = pairs[:HELD_OUT], pairs[HELD_OUT:]
    sft_rows = [
        {
            "messages": [
                {"role": "user", "content": _question(a, b)},
                {"role": "assistant", "content": f"\\boxed{{{a + b}}}"},
            ]
        }
        for a, b in train
    ] * 4
    sft_data = _write(tmp_path / "sft.jsonl", sft_rows)
    rl_data = _write(
        tmp_path / "rl.jsonl",
        [{"prompt": _question(a, b), "answer": str(a + b)} for a, b in train[:RL_PROBLEMS]],
    )
    held_task = _write(
        tmp_path / "held.jsonl", [{"question": _question(a, b), "answer": str(a + b)} for a, b in held]
    )
    timings: dict[str, float] = {}

    started = time.perf_counter()
    base = build_addition_model(tmp_path / "base")
    untrained = _pass_at_1(base, held_task, tmp_path / "eval-base")
    timings["build + eval untrained"] = time.perf_counter() - started

    started = time.perf_counter()
    sft = _skytrain(
        [
            "sft",
            "--backend",
            "trl",
            "--model",
            str(base),
            "--data",
            str(sft_data),
            "--output-dir",
            str(tmp_path / "sft"),
        ]
        + [
            "--epochs",
            "30",
            "--lr",
            "3e-3",
            "--global-batch",
            "32",
            "--per-device-batch",
            "32",
            "--max-length",
            "64",
        ]
        + ["--warmup", "0.05", "--seed", "0", "--precision", "fp32", "--save-steps", "100"]
    )
    timings["sft"] = time.perf_counter() - started
    started = time.perf_counter()
    after_sft = _pass_at_1(tmp_path / "sft", held_task, tmp_path / "eval-sft")
    timings["eval sft"] = time.perf_counter() - started

    started = time.perf_counter()
    rl = _skytrain(
        ["rl", "--backend", "trl", "--algo", "rloo", "--model", str(tmp_path / "sft"), "--data", str(rl_data)]
        + ["--output-dir", str(tmp_path / "rl"), "--rollouts", "16", "--prompt-batch", str(RL_PROBLEMS)]
        + ["--per-device-batch", "128", "--max-steps", "40", "--max-response-length", "8", "--lr", "1e-3"]
        + ["--warmup", "0.125", "--temperature", "1.0", "--no-vllm", "--seed", "0", "--precision", "fp32"]
        + ["--save-steps", "100"]
    )
    timings["rl"] = time.perf_counter() - started
    started = time.perf_counter()
    after_rl = _pass_at_1(tmp_path / "rl", held_task, tmp_path / "eval-rl")
    timings["eval rl"] = time.perf_counter() - started

    history = json.loads((tmp_path / "rl" / "trainer_state.json").read_text())["log_history"]
    rewards = [row["reward"] for row in history if "reward" in row]
    first, last = sum(rewards[:10]) / 10, sum(rewards[-10:]) / 10
    print(  # the figures docs/training.md quotes (run with -s to see them)
        json.dumps(
            {
                "pass@1": {"untrained": untrained, "sft": after_sft, "rl": after_rl},
                "rl_reward": {"first10": round(first, 3), "last10": round(last, 3), "steps": len(rewards)},
                "sft_steps": sft["steps"],
                "rl_steps": rl["steps"],
                "seconds": {k: round(v, 1) for k, v in timings.items()},
            }
        )
    )
    assert sft["steps"] == 300 and rl["steps"] == 40 and len(rewards) == 40
    assert after_sft >= 0.5 and after_sft >= untrained + 0.3
    assert last >= first + 0.1 or after_rl >= after_sft + 0.1
    logged = {key for row in history for key in row}
    assert {
        "skyeval/no_answer",
        "skyeval/grade_timeout",
        "skyeval/truncated",
    } <= logged  # the reward's own rates
