"""The vllm engine's exact calls, checked with a fake ``vllm`` module (vLLM is not installable here).

The fake mirrors vLLM's documented offline API: ``LLM(model=..., tensor_parallel_size=..., dtype=...,
max_model_len=..., seed=..., gpu_memory_utilization=..., enable_prefix_caching=...)``,
``LLM.chat(messages: list[list[dict]], sampling_params: SamplingParams | list[SamplingParams], use_tqdm=...)``
returning one ``RequestOutput`` per conversation (``prompt_token_ids``, ``outputs``: ``CompletionOutput`` with
``index``, ``text``, ``token_ids``, ``finish_reason``).
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest

from skyeval.engines import get_engine
from skyeval.types import GenerationRequest, Message, SamplingParams


@dataclass
class FakeSamplingParams:
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = 16
    seed: int | None = None


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str | None


@dataclass
class RequestOutput:
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]


@dataclass
class FakeLLM:
    kwargs: dict[str, Any]
    calls: list[tuple[Any, Any, dict[str, Any]]] = field(default_factory=list)

    def chat(self, messages, sampling_params=None, use_tqdm=True, **kw):
        self.calls.append((messages, sampling_params, {"use_tqdm": use_tqdm, **kw}))
        outs = []
        for conv, sp in zip(messages, sampling_params, strict=True):
            assert isinstance(sp, FakeSamplingParams)
            outs.append(
                RequestOutput(
                    prompt_token_ids=[1] * len(conv[-1]["content"]),
                    outputs=[
                        CompletionOutput(
                            i, f"{conv[-1]['content']}#{i}", [1, 2, 3], "length" if i == 1 else "stop"
                        )
                        for i in reversed(range(sp.n))
                    ],
                )
            )
        return outs


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch):
    module = types.ModuleType("vllm")
    module.LLM = lambda **kw: FakeLLM(kw)  # type: ignore[attr-defined]
    module.SamplingParams = FakeSamplingParams  # type: ignore[attr-defined]
    module.__spec__ = types.SimpleNamespace(name="vllm")  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: object())
    return module


def test_one_chat_call_with_per_prompt_sampling_params(fake_vllm) -> None:
    engine = get_engine("vllm", model="org/model", tensor_parallel_size=2, max_model_len=4096, seed=5)
    llm = engine.llm
    assert llm.kwargs == {
        "model": "org/model",
        "tensor_parallel_size": 2,
        "dtype": "auto",
        "max_model_len": 4096,
        "seed": 5,
        "gpu_memory_utilization": 0.9,
        "enable_prefix_caching": True,
    }
    reqs = [
        GenerationRequest("a", (Message("system", "sys"), Message("user", "qa")), (0, 1, 2)),
        GenerationRequest("b", (Message("user", "qb"),), (5, 6)),  # a top-up: indices 5 and 6
    ]
    out = list(
        engine.generate(reqs, SamplingParams(n=8, temperature=0.6, top_p=0.95, max_tokens=100, seed=1))
    )
    assert len(llm.calls) == 1
    messages, params, _ = llm.calls[0]
    assert messages == [
        [{"role": "system", "content": "sys"}, {"role": "user", "content": "qa"}],
        [{"role": "user", "content": "qb"}],
    ]
    assert [p.n for p in params] == [3, 2]
    assert all(p.temperature == 0.6 and p.top_p == 0.95 and p.max_tokens == 100 for p in params)
    assert params[0].seed != params[1].seed
    got = {(c.problem_id, c.sample_index): (c.text, c.finish_reason) for c in out}
    assert got == {
        ("a", 0): ("qa#0", "stop"),
        ("a", 1): ("qa#1", "length"),
        ("a", 2): ("qa#2", "stop"),
        ("b", 5): ("qb#0", "stop"),
        ("b", 6): ("qb#1", "length"),
    }
    assert all(c.completion_tokens == 3 and c.prompt_tokens == 2 for c in out)


def test_greedy_generates_once_per_prompt(fake_vllm) -> None:
    engine = get_engine("vllm", model="org/model")
    out = list(
        engine.generate([GenerationRequest("a", (Message("user", "q"),), (0, 1))], SamplingParams(n=2))
    )
    assert [p.n for p in engine.llm.calls[0][1]] == [1]
    assert [c.text for c in out] == ["q#0", "q#0"]
