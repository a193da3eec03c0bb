"""Reward functions for TRL, OpenRLHF and veRL: calling conventions, special tokens, never raising."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

import pytest

from skyeval import rewards

QWEN_PROMPT = (
    "<|im_start|>system\nPlease reason step by step.<|im_end|>\n"
    "<|im_start|>user\nWhat is 2+3? Put the answer in \\boxed{}.<|im_end|>\n<|im_start|>assistant\n"
)
DEEPSEEK_PROMPT = "<｜begin▁of▁sentence｜><｜User｜>What is 2+3?<｜Assistant｜><think>\n"


def test_trl_reward_strings_and_chat_format() -> None:
    completions = [r"So \boxed{5}.", r"So \boxed{6}.", r"\boxed{5}"]
    assert rewards.reward(["p"] * 3, completions, answer=["5", "5", None]) == [1.0, 0.0, None]
    chat = [
        [{"role": "assistant", "content": r"It is \boxed{5}."}],
        [{"role": "assistant", "content": [{"type": "text", "text": r"It is \boxed{4}."}]}],
    ]
    prompts = [[{"role": "user", "content": "2+3?"}]] * 2
    assert rewards.reward(prompts, chat, answer=[5, "5"]) == [1.0, 0.0]


def test_trl_reward_accepts_trainer_kwargs() -> None:
    """GRPOTrainer calls reward_func(prompts=, completions=, completion_ids=, **columns, trainer_state=, ...)."""
    out = rewards.reward(
        prompts=["p", "p"],
        completions=[r"\boxed{1}", r"\boxed{2}"],
        completion_ids=[[1], [2]],
        answer=["1", "1"],
        trainer_state=object(),
        log_extra=lambda *a: None,
        log_metric=lambda *a: None,
        problem=["q", "q"],
    )
    assert out == [1.0, 0.0]


def test_trl_reward_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="skyeval.rewards"):
        assert rewards.reward(["p"], [r"\boxed{1}", "x"], answer=["1"]) == [0.0, 0.0]
    assert "2 completions but 1 answers" in caplog.text

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="skyeval.rewards"):
        assert rewards.reward(["p", "p"], [r"\boxed{1}", Unprintable()], answer=["1", "1"]) == [0.0, 0.0]
    assert "RuntimeError: boom" in caplog.text
    assert rewards.reward(["p"], [r"\boxed{1}"]) == [None]


def test_openrlhf_reward_func_contract() -> None:
    torch = pytest.importorskip("torch")
    queries = [
        QWEN_PROMPT + r"2+3=5, so \boxed{5}.<|im_end|><|endoftext|>",
        QWEN_PROMPT + r"\boxed{6}<|im_end|>",
        DEEPSEEK_PROMPT + r"think...</think> So \boxed{5}<｜end▁of▁sentence｜>",
        "garbled prefix " + QWEN_PROMPT[5:] + r"\boxed{5}<|im_end|>",
    ]
    prompts = [QWEN_PROMPT, QWEN_PROMPT, DEEPSEEK_PROMPT, QWEN_PROMPT]
    out = rewards.reward_func(queries, prompts, ["5", "5", "5", "5"])
    assert set(out) == {"rewards", "scores", "extra_logs"}
    assert isinstance(out["rewards"], torch.Tensor) and out["rewards"].shape == (4,)
    assert out["rewards"].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert out["scores"].tolist() == out["rewards"].tolist()
    assert all(v.shape == (4,) for v in out["extra_logs"].values())


def test_openrlhf_calls_it_through_asyncio_to_thread() -> None:
    """OpenRLHF 0.11's SingleTurnAgentExecutor offloads reward_func with asyncio.to_thread, one query per call."""
    pytest.importorskip("torch")

    async def main() -> list[dict[str, Any]]:
        calls = [
            asyncio.to_thread(rewards.reward_func, [QWEN_PROMPT + rf"\boxed{{{i}}}"], [QWEN_PROMPT], ["3"])
            for i in range(5)
        ]
        return list(await asyncio.gather(*calls))

    results = asyncio.run(main())
    assert [r["rewards"].tolist() for r in results] == [[0.0], [0.0], [0.0], [1.0], [0.0]]


def test_openrlhf_reward_func_never_raises() -> None:
    pytest.importorskip("torch")
    out = rewards.reward_func(["a", "b"], ["a"], ["1", "2"])
    assert out["rewards"].tolist() == [0.0, 0.0]
    assert rewards.reward_func([QWEN_PROMPT + r"\boxed{1}"], [QWEN_PROMPT], [None])["rewards"].tolist() == [
        0.0
    ]


def test_verl_compute_score() -> None:
    assert rewards.compute_score("math500", r"... \boxed{\frac{1}{2}}<|im_end|>", "0.5") == 1.0
    assert rewards.compute_score("aime", r"\boxed{24}", 25, extra_info={"index": 3}) == 0.0
    assert rewards.compute_score("x", None, None) == 0.0
    assert (
        rewards.compute_score("x", r"\boxed{7}", "7", None, sandbox_fusion_url=None, memory_limit_mb=1024)
        == 1.0
    )
    params = list(inspect.signature(rewards.compute_score).parameters)
    assert params[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]


def test_strip_special_tokens() -> None:
    assert rewards.strip_special_tokens("\\boxed{5}<|im_end|>\n<|endoftext|>") == r"\boxed{5}"
    assert rewards.strip_special_tokens("5<｜end▁of▁sentence｜>") == "5"
    assert rewards.strip_special_tokens("5<|some_future_token|>") == "5"
    assert rewards.strip_special_tokens("0<|x|>1 is false") == "0<|x|>1 is false"
    long_text = " " * 200_000 + "x"
    assert rewards.strip_special_tokens(long_text) == long_text


def test_reward_policy_from_keyword_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """policy= wins, else $SKYEVAL_GRADE_POLICY, else default; the harness preset accepts 3.1416 for pi."""
    from skyeval.errors import SkyevalError

    monkeypatch.delenv(rewards.POLICY_ENV, raising=False)
    completion, gold = r"So \boxed{3.1416}.", r"\pi"
    assert rewards.reward(["p"], [completion], answer=[gold]) == [0.0]
    assert rewards.reward(["p"], [completion], answer=[gold], policy="qwen-harness") == [1.0]
    assert rewards.compute_score("math", completion, gold) == 0.0
    assert rewards.compute_score("math", completion, gold, policy="qwen-harness") == 1.0
    query = QWEN_PROMPT + completion + "<|im_end|>"
    assert rewards.reward_func([query], [QWEN_PROMPT], [gold])["rewards"].tolist() == [0.0]
    monkeypatch.setenv(rewards.POLICY_ENV, "qwen-harness")
    assert rewards.reward(["p"], [completion], answer=[gold]) == [1.0]
    assert rewards.compute_score("math", completion, gold) == 1.0
    assert rewards.reward_func([query], [QWEN_PROMPT], [gold])["rewards"].tolist() == [1.0]
    assert rewards.reward(["p"], [completion], answer=[gold], policy="default") == [0.0]
    monkeypatch.setenv(rewards.POLICY_ENV, "qwen")
    with pytest.raises(SkyevalError, match="unknown grading policy"):
        rewards.compute_score("math", completion, gold)
