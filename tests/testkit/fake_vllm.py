"""A fake ``vllm`` module: the part of vLLM's offline API the vllm engine calls, runnable without a GPU.

Every class and method here declares a subset of the real parameters, with the real defaults
(``tests/test_engines_vllm.py`` checks that against ``tests/data/vllm_api_snapshot.json``, recorded from a real
vLLM by ``scripts/vllm_api_snapshot.py``), so the engine cannot call anything the real vLLM would refuse.

The fake ``LLMEngine`` finishes one request per ``step`` (in ``VLLMScript.order``), like continuous batching
where requests end at different times; it can raise ``KeyboardInterrupt`` or hang after some requests, to test
what a kill leaves behind. ``modules(script)`` makes the modules to put in ``sys.modules``.
"""

from __future__ import annotations

import enum
import importlib.machinery
import threading
import types
from dataclasses import dataclass, field
from typing import Any, Literal

# LLM(**kwargs) options the fake takes beyond its named parameters: fields of vLLM's EngineArgs
ENGINE_ARGS = ("max_model_len", "enable_prefix_caching")


class RequestOutputKind(enum.Enum):
    CUMULATIVE = 0
    DELTA = 1
    FINAL_ONLY = 2


class SamplingParams:
    def __init__(
        self,
        n: int = 1,
        repetition_penalty: float = 1.0,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        min_p: float = 0.0,
        seed: int | None = None,
        stop: str | list[str] | None = None,
        max_tokens: int | None = 16,
        output_kind: RequestOutputKind = RequestOutputKind.CUMULATIVE,
    ) -> None:
        self.n = n
        self.repetition_penalty = repetition_penalty
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k
        self.min_p = min_p
        self.seed = seed
        self.stop = stop
        self.max_tokens = max_tokens
        self.output_kind = output_kind


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: Any
    finish_reason: str | None = None


class RequestOutput:
    def __init__(
        self,
        request_id: str,
        prompt: str | None,
        prompt_token_ids: list[int] | None,
        prompt_logprobs: Any,
        outputs: list[CompletionOutput],
        finished: bool,
    ) -> None:
        self.request_id = request_id
        self.prompt = prompt
        self.prompt_token_ids = prompt_token_ids
        self.prompt_logprobs = prompt_logprobs
        self.outputs = outputs
        self.finished = finished


class Tokenizer:
    """Renders ``role: content`` lines and encodes each character as its code point (decodable by ``chr``)."""

    def apply_chat_template(
        self, messages: list[Any], tools: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> Any:
        assert kwargs == {"tokenize": False, "add_generation_prompt": True}, kwargs
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"

    def encode(
        self,
        text: str,
        truncation: bool | None = None,
        max_length: int | None = None,
        add_special_tokens: bool = True,
    ) -> list[int]:
        assert add_special_tokens is False  # the chat template emits any special tokens itself
        return [ord(c) for c in text]


@dataclass
class VLLMScript:
    """How the fake behaves, and what it saw."""

    order: Literal["fifo", "reverse"] = "reverse"  # the order requests finish in
    interrupt_after: int | None = None  # raise KeyboardInterrupt in the step after this many finished
    hang_after: int | None = None  # block forever in the step after this many finished (for kill -9 tests)
    llms: list[LLM] = field(default_factory=list)


class LLMEngine:
    def __init__(self, script: VLLMScript) -> None:
        self.script = script
        self.queue: list[tuple[str, list[int], SamplingParams]] = []
        self.added: list[tuple[str, list[int], SamplingParams]] = []
        self.aborted: list[str] = []
        self.finished = 0

    def add_request(self, request_id: str, prompt: dict[str, Any], params: SamplingParams) -> str:
        assert set(prompt) == {"prompt_token_ids"}, prompt  # a TokensPrompt
        assert (
            params.output_kind is RequestOutputKind.FINAL_ONLY
        )  # else every step would return every request
        assert all(rid != request_id for rid, _, _ in self.queue), f"duplicate request id {request_id}"
        self.queue.append((request_id, prompt["prompt_token_ids"], params))
        self.added.append(self.queue[-1])
        return f"{request_id}-deadbeef"  # vLLM returns its internal id (the outputs carry the one given)

    def has_unfinished_requests(self) -> bool:
        return bool(self.queue)

    def step(self) -> list[RequestOutput]:
        if self.script.interrupt_after is not None and self.finished >= self.script.interrupt_after:
            raise KeyboardInterrupt
        if self.script.hang_after is not None and self.finished >= self.script.hang_after:
            threading.Event().wait()  # until the process is killed
        request_id, ids, params = self.queue.pop(-1 if self.script.order == "reverse" else 0)
        self.finished += 1
        prompt = "".join(map(chr, ids))
        question = prompt.rsplit("user: ", 1)[-1].split("\n", 1)[0]
        outputs = [
            CompletionOutput(i, f"{question}#{i}", [1, 2, 3], None, None, "length" if i == 1 else "stop")
            for i in reversed(range(params.n))
        ]
        return [RequestOutput(request_id, prompt, ids, None, outputs, True)]

    def abort_request(self, request_ids: list[str], internal: bool = False) -> None:
        assert not internal  # the engine aborts by the ids it gave
        self.aborted.extend(request_ids)
        self.queue = [entry for entry in self.queue if entry[0] not in request_ids]


class LLM:
    def __init__(
        self,
        model: str,
        *,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        seed: int = 0,
        gpu_memory_utilization: float = 0.92,
        **kwargs: Any,
    ) -> None:
        unknown = set(kwargs) - set(ENGINE_ARGS)
        assert not unknown, f"LLM() got options the fake does not know: {unknown}"
        self.kwargs = {
            "model": model,
            "tensor_parallel_size": tensor_parallel_size,
            "dtype": dtype,
            "seed": seed,
            "gpu_memory_utilization": gpu_memory_utilization,
            **kwargs,
        }
        script = type(self).script
        assert script is not None, "use modules(script), which binds the script"
        self.llm_engine = LLMEngine(script)
        script.llms.append(self)

    script: VLLMScript | None = None  # set on the class modules() makes

    def get_tokenizer(self) -> Tokenizer:
        return Tokenizer()


def modules(script: VLLMScript) -> dict[str, types.ModuleType]:
    """Fake ``vllm`` and ``vllm.sampling_params`` modules bound to ``script``, by name: put them in
    ``sys.modules`` (a test with ``monkeypatch.setitem``, so they are removed again)."""
    vllm = types.ModuleType("vllm")
    sampling = types.ModuleType("vllm.sampling_params")
    for module in (vllm, sampling):
        module.__spec__ = importlib.machinery.ModuleSpec(module.__name__, None)  # find_spec sees it
    vllm.LLM = type("LLM", (LLM,), {"script": script})  # type: ignore[attr-defined]
    vllm.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    vllm.sampling_params = sampling  # type: ignore[attr-defined]
    sampling.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    sampling.RequestOutputKind = RequestOutputKind  # type: ignore[attr-defined]
    return {"vllm": vllm, "vllm.sampling_params": sampling}
