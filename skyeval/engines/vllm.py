"""``vllm``: offline vLLM with prefix caching, recording as it goes.

Every prompt of a run is added to vLLM's engine at once (``LLM.llm_engine.add_request``), each with its own
``SamplingParams(n=len(sample_indices), seed=..., output_kind=FINAL_ONLY)``, and the engine is stepped
(``LLMEngine.step``) until all are done: continuous batching over the whole run, as one ``LLM.chat`` call
would do, but each request's completions are yielded as soon as that request finishes, so the runner grades
and appends them at once and a kill loses only the requests in flight. Requests still pending when the
caller stops (Ctrl-C, an error) are aborted, so the engine is clean for the next task.

Prompts are the model tokenizer's chat template (``apply_chat_template(add_generation_prompt=True)``, the text
the ``hf`` engine renders too), tokenized without adding special tokens, as ``LLM.chat`` does. The per-prompt
seed is derived from (seed, problem_id, first sample index), so a prompt's samples do not depend on the other
prompts. Greedy decoding (``temperature == 0``) generates once per prompt and shares the text with every sample
index. A template that opens ``<think>`` is seen in the rendered prompt: a requested prefill is not added twice
and completions are recorded from the opening on; ``stop`` is applied after generation, outside thinking
(``skyeval.engines.reasoning``), not by vLLM. The calls were checked against vLLM 0.33.0
(``tests/data/vllm_api_snapshot.json``).
"""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any

from skyeval.engines._common import check_model_path, extra_sampling, sample_seed
from skyeval.engines.reasoning import Opening, opening, recorded
from skyeval.errors import SkyevalError
from skyeval.types import Completion, FinishReason, GenerationRequest, SamplingParams


class VLLMEngine:
    """Generate with ``vllm.LLM`` (the model is loaded when the engine is built).

    ``top_k``, ``min_p`` and ``repetition_penalty`` go to ``vllm.SamplingParams`` when set; ``stop`` cuts each
    completion at its first stop sequence outside thinking (vLLM generates on to EOS or ``max_tokens``).
    """

    name = "vllm"

    def __init__(
        self,
        model: str,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        max_model_len: int | None = None,
        seed: int = 0,
        gpu_memory_utilization: float = 0.9,
        enable_prefix_caching: bool = True,
        top_k: int | None = None,
        min_p: float | None = None,
        repetition_penalty: float | None = None,
        stop: str | list[str] | None = None,
    ) -> None:
        import vllm

        check_model_path(model)
        self.model = model
        self.seed = seed
        self.extra = extra_sampling(top_k, min_p, repetition_penalty, stop)
        self.stops: list[str] = self.extra.pop("stop", [])
        self.llm = vllm.LLM(
            model=model,
            tensor_parallel_size=tensor_parallel_size,
            dtype=dtype,
            max_model_len=max_model_len,
            seed=seed,
            gpu_memory_utilization=gpu_memory_utilization,
            enable_prefix_caching=enable_prefix_caching,
        )
        self._request_ids = itertools.count()  # unique per engine across generate calls

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingParams
    ) -> Generator[Completion, None, None]:
        todo = [req for req in requests if req.sample_indices]
        if not todo:
            return
        greedy = sampling.temperature == 0
        seed = sampling.seed if sampling.seed is not None else self.seed
        engine = self.llm.llm_engine
        tokenizer = self.llm.get_tokenizer()
        pending: dict[str, tuple[GenerationRequest, Opening]] = {}
        try:
            for req in todo:
                request_id = f"skyeval-{next(self._request_ids)}"
                tokens, op = _prompt_tokens(tokenizer, req)
                engine.add_request(
                    request_id, {"prompt_token_ids": tokens}, self._params(req, sampling, greedy, seed)
                )
                pending[request_id] = (req, op)
            while pending:
                if not engine.has_unfinished_requests():
                    raise SkyevalError(f"vLLM stopped with {len(pending)} request(s) unanswered")
                for out in engine.step():
                    if out.finished and out.request_id in pending:
                        req, op = pending.pop(out.request_id)
                        yield from _completions(req, out, greedy, op, self.stops)
        finally:
            if pending:  # stopped early: free their slots and KV cache for whatever runs next
                engine.abort_request(list(pending))

    def _params(self, req: GenerationRequest, sampling: SamplingParams, greedy: bool, seed: int) -> Any:
        import vllm
        from vllm.sampling_params import RequestOutputKind

        return vllm.SamplingParams(
            n=1 if greedy else len(req.sample_indices),
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_tokens,
            seed=sample_seed(seed, req.problem_id, req.sample_indices[0]),
            output_kind=RequestOutputKind.FINAL_ONLY,
            **self.extra,
        )


def _prompt_tokens(tokenizer: Any, req: GenerationRequest) -> tuple[list[int], Opening]:
    """The prompt's tokens (the chat template, plus a prefill it did not open) and its ``Opening``."""
    chat = [{"role": m.role, "content": m.content} for m in req.messages]
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    if not isinstance(text, str):
        raise SkyevalError(f"the model's chat template did not render text for problem {req.problem_id!r}")
    op = opening(text, req.prefill)
    return list(tokenizer.encode(text + op.append, add_special_tokens=False)), op


def _completions(
    req: GenerationRequest, out: Any, greedy: bool, op: Opening, stops: list[str]
) -> Iterator[Completion]:
    n_prompt = len(out.prompt_token_ids) if out.prompt_token_ids is not None else None
    choices = sorted(out.outputs, key=lambda o: o.index)
    for j, idx in enumerate(req.sample_indices):
        choice = choices[0 if greedy else j]
        finish: FinishReason = "length" if choice.finish_reason == "length" else "stop"
        generated = Completion(req.problem_id, idx, choice.text, finish, n_prompt, len(choice.token_ids))
        yield recorded(generated, op, stops)


def preflight(options: Mapping[str, Any]) -> None:
    """The vllm engine's own check, without importing vLLM: the model path (when local) and sampling extras."""
    check_model_path(str(options.get("model", "")))
    extra_sampling(
        options.get("top_k"), options.get("min_p"), options.get("repetition_penalty"), options.get("stop")
    )
