"""``vllm``: offline ``vllm.LLM`` with prefix caching: ONE ``LLM.chat`` call for every prompt of a run.

Each prompt gets its own ``SamplingParams(n=len(sample_indices), seed=...)``; vLLM schedules all of them at
once (continuous batching), so there is no chunking and no one-request-per-sample. The per-prompt seed is
derived from (seed, problem_id, first sample index), so a prompt's samples do not depend on the other prompts.
Greedy decoding (``temperature == 0``) generates once per prompt and shares the text with every sample index.

Trade-off: ``LLM.chat`` returns only when every prompt is done, so a crash during the call loses its work; the
runner records nothing until it returns, and a re-run resumes from what was recorded before (docs/running.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from skyeval.engines._common import check_model_path, sample_seed
from skyeval.types import Completion, FinishReason, GenerationRequest, SamplingParams


class VLLMEngine:
    """Generate with ``vllm.LLM`` (the model is loaded when the engine is built)."""

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
    ) -> None:
        import vllm

        check_model_path(model)
        self.model = model
        self.seed = seed
        self.llm = vllm.LLM(
            model=model,
            tensor_parallel_size=tensor_parallel_size,
            dtype=dtype,
            max_model_len=max_model_len,
            seed=seed,
            gpu_memory_utilization=gpu_memory_utilization,
            enable_prefix_caching=enable_prefix_caching,
        )

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingParams
    ) -> Iterator[Completion]:
        import vllm

        todo = [req for req in requests if req.sample_indices]
        if not todo:
            return
        greedy = sampling.temperature == 0
        seed = sampling.seed if sampling.seed is not None else self.seed
        params = [
            vllm.SamplingParams(
                n=1 if greedy else len(req.sample_indices),
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
                seed=sample_seed(seed, req.problem_id, req.sample_indices[0]),
            )
            for req in todo
        ]
        conversations = [[{"role": m.role, "content": m.content} for m in req.messages] for req in todo]
        outputs = self.llm.chat(conversations, sampling_params=params, use_tqdm=True)
        for req, out in zip(todo, outputs, strict=True):
            yield from _completions(req, out, greedy)


def _completions(req: GenerationRequest, out: Any, greedy: bool) -> Iterator[Completion]:
    n_prompt = len(out.prompt_token_ids) if out.prompt_token_ids is not None else None
    choices = sorted(out.outputs, key=lambda o: o.index)
    for j, idx in enumerate(req.sample_indices):
        choice = choices[0 if greedy else j]
        finish: FinishReason = "length" if choice.finish_reason == "length" else "stop"
        yield Completion(req.problem_id, idx, choice.text, finish, n_prompt, len(choice.token_ids))
