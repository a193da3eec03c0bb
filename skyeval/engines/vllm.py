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
index. The calls were checked against vLLM 0.33.0 (``tests/data/vllm_api_snapshot.json``).
"""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any

from skyeval.engines._common import check_model_path, extra_sampling, sample_seed
from skyeval.errors import SkyevalError
from skyeval.types import Completion, FinishReason, GenerationRequest, SamplingParams


class VLLMEngine:
    """Generate with ``vllm.LLM`` (the model is loaded when the engine is built).

    ``top_k``, ``min_p``, ``repetition_penalty`` and ``stop`` go to ``vllm.SamplingParams`` when set.
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
        pending: dict[str, GenerationRequest] = {}
        try:
            for req in todo:
                request_id = f"skyeval-{next(self._request_ids)}"
                prompt = {"prompt_token_ids": _prompt_tokens(tokenizer, req)}
                engine.add_request(request_id, prompt, self._params(req, sampling, greedy, seed))
                pending[request_id] = req
            while pending:
                if not engine.has_unfinished_requests():
                    raise SkyevalError(f"vLLM stopped with {len(pending)} request(s) unanswered")
                for out in engine.step():
                    if out.finished and out.request_id in pending:
                        yield from _completions(pending.pop(out.request_id), out, greedy)
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


def _prompt_tokens(tokenizer: Any, req: GenerationRequest) -> list[int]:
    chat = [{"role": m.role, "content": m.content} for m in req.messages]
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    if not isinstance(text, str):
        raise SkyevalError(f"the model's chat template did not render text for problem {req.problem_id!r}")
    return list(tokenizer.encode(text, add_special_tokens=False))


def _completions(req: GenerationRequest, out: Any, greedy: bool) -> Iterator[Completion]:
    n_prompt = len(out.prompt_token_ids) if out.prompt_token_ids is not None else None
    choices = sorted(out.outputs, key=lambda o: o.index)
    for j, idx in enumerate(req.sample_indices):
        choice = choices[0 if greedy else j]
        finish: FinishReason = "length" if choice.finish_reason == "length" else "stop"
        yield Completion(req.problem_id, idx, choice.text, finish, n_prompt, len(choice.token_ids))


def preflight(options: Mapping[str, Any]) -> None:
    """The vllm engine's own check, without importing vLLM: the model path (when local) and sampling extras."""
    check_model_path(str(options.get("model", "")))
    extra_sampling(
        options.get("top_k"), options.get("min_p"), options.get("repetition_penalty"), options.get("stop")
    )
