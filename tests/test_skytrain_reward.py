"""The reward file OpenRLHF loads, exercised through OpenRLHF 0.11's own loading and calling code.

``SingleTurnAgentExecutor`` (openrlhf.utils.agent) imports ``--reward.remote_url FILE.py`` by path, decodes
prompt + response tokens into the query, and calls ``reward_func`` on a worker thread (``asyncio.to_thread``),
swallowing exceptions. Only the vLLM engine is replaced, by a fake that returns fixed response tokens.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from skytrain.openrlhf import REWARD_FILE

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

agent = pytest.importorskip("openrlhf.utils.agent", reason="OpenRLHF (with pylatexenc) is not installed")
pytest.importorskip("torch")


class FakeEngine:
    """Stands in for OpenRLHF's vLLM actor: ``generate`` returns one fixed response."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, response: str) -> None:
        self.ids = tokenizer(response, add_special_tokens=False)["input_ids"]
        self.text = response

    async def generate(
        self, prompt_ids: list[int], sampling_params: object, multi_modal_data: object = None
    ) -> SimpleNamespace:
        output = SimpleNamespace(token_ids=self.ids, text=self.text, finish_reason="stop", logprobs=None)
        return SimpleNamespace(outputs=[output])


@pytest.fixture(scope="module")
def executor() -> Any:  # an OpenRLHF object: the package ships no type information
    return agent.SingleTurnAgentExecutor(remote_rm_url=str(REWARD_FILE))


def _reward(executor: Any, tiny_model_dir: Path, response: str, label: str) -> dict[str, Any]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 6 times 7?"}], tokenize=False, add_generation_prompt=True
    )
    sampling = SimpleNamespace(max_tokens=4096, logprobs=None)
    return asyncio.run(
        executor.execute(prompt, label, sampling, 8192, tokenizer, FakeEngine(tokenizer, response))
    )


def test_openrlhf_loads_our_reward_file(executor: Any) -> None:
    assert executor.reward_func is not None
    assert executor.reward_func.__module__ == "reward_func"  # loaded by path


@pytest.mark.parametrize(
    ("response", "label", "expected"),
    [
        ("6 times 7 is 42. The answer is \\boxed{42}.<|im_end|>", "42", 1.0),
        ("I think it is \\boxed{41}.<|im_end|>", "42", 0.0),
        ("No final answer here.<|im_end|>", "42", 0.0),
    ],
)
def test_reward_through_openrlhf_executor(
    executor: Any, tiny_model_dir: Path, response: str, label: str, expected: float
) -> None:
    output = _reward(executor, tiny_model_dir, response, label)
    assert float(output["reward"]) == expected
    assert float(output["scores"]) == expected  # dynamic filtering reads the scores
    assert set(output["extra_logs"]) >= {"no_answer", "grade_timeout"}


@pytest.mark.parametrize(
    "response",
    [
        "\\boxed{9^{9^{9^{9^{9^{9}}}}}}",  # a naive sympy grader evaluates the power tower forever
        "\\boxed{" + "(" * 3000 + "1" + ")" * 3000 + "}",  # deep nesting: recursion errors in naive parsers
        "\\boxed{\\frac{1}{0}} \\boxed{\\sqrt{-}}" + "\\left(" * 200,  # malformed LaTeX
    ],
)
def test_pathological_responses_score_zero_quickly(
    executor: Any, tiny_model_dir: Path, response: str
) -> None:
    started = time.perf_counter()
    output = _reward(executor, tiny_model_dir, response + "<|im_end|>", "42")
    assert time.perf_counter() - started < 30
    assert output["reward"] is not None  # None would mean OpenRLHF swallowed an exception from our file
    assert float(output["reward"]) == 0.0
