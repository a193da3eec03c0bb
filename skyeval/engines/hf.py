"""``hf``: transformers ``generate`` on CPU or GPU, batched; for small models and tests.

Deterministic given seeds: greedy when ``temperature == 0`` (one generation per prompt, shared by all its sample
indices); when sampling, every row draws its tokens from its own ``torch.Generator`` seeded from
(seed, problem_id, sample_index), so a sample does not depend on which batch it landed in (up to the float
noise that padding can add). A chat template that opens ``<think>`` is seen in the rendered prompt
(``skyeval.engines.reasoning``): a requested prefill is not added again and the completion is recorded from the
opening on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyeval.engines._common import check_model_path, expand, sample_seed
from skyeval.engines.reasoning import Opening, opening, with_opening
from skyeval.errors import SkyevalError
from skyeval.types import Completion, GenerationRequest, Message, SamplingParams

if TYPE_CHECKING:
    import torch


class _SeededSampler:
    """A logits processor that samples each row with its own generator and forces that token.

    It returns scores that are ``-inf`` everywhere except the drawn token, so a greedy ``generate`` emits it.
    """

    def __init__(self, generators: list[torch.Generator], temperature: float, top_p: float) -> None:
        self.generators = generators
        self.temperature = temperature
        self.top_p = top_p

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        logits = scores.float() / self.temperature
        if self.top_p < 1.0:
            sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
            cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
            drop = cumulative - torch.softmax(sorted_logits, dim=-1) >= self.top_p  # keep the top token
            sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
            logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
        probs = torch.softmax(logits, dim=-1)
        forced = torch.full_like(scores, float("-inf"))
        for row, gen in enumerate(self.generators):
            token = torch.multinomial(probs[row], 1, generator=gen)
            forced[row, token] = 0.0
        return forced


def resolve_device(device: str) -> str:
    """The torch device ``device`` names (``auto``: CUDA when torch sees one, else CPU), checked to exist here.

    One-line ``SkyevalError`` for a name torch does not know (``nosuch``), a device type this machine lacks
    (``cuda`` without a GPU) or an index past the last device (``cuda:3`` with two GPUs).
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise SkyevalError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if parsed.type == "cpu":
        return device
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise SkyevalError(
                f"device {device!r} asked for, but torch sees no CUDA device; use --device cpu"
            )
        if parsed.index is not None and parsed.index >= count:
            raise SkyevalError(f"device {device!r} asked for, but torch sees {count} CUDA device(s)")
        return device
    if parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise SkyevalError(f"device {device!r} asked for, but torch sees no MPS device; use --device cpu")
        return device
    raise SkyevalError(
        f"device type {parsed.type!r} is not supported by the hf engine; use auto, cpu, cuda or mps"
    )


def _check_model_dir(model: str) -> None:
    check_model_path(model)
    if Path(model).expanduser().is_dir() and not (Path(model).expanduser() / "config.json").is_file():
        raise SkyevalError(f"not a Hugging Face model directory (no config.json): {model}")


def preflight(options: Mapping[str, Any]) -> None:
    """The hf engine's own check, without loading anything: the model path (when local) and the device."""
    _check_model_dir(str(options.get("model", "")))
    resolve_device(str(options.get("device", "auto")))


class HFEngine:
    """Generate with a local or Hub transformers causal LM, ``batch_size`` prompts at a time."""

    name = "hf"

    def __init__(
        self,
        model: str,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        seed: int | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        _check_model_dir(model)
        if batch_size < 1:
            raise SkyevalError(f"batch_size must be >= 1, got {batch_size}")
        self.model_name = model
        self.batch_size = batch_size
        self.seed = seed
        self.device = resolve_device(device)
        torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype, None)
        if not isinstance(torch_dtype, str | torch.dtype):
            raise SkyevalError(f"unknown dtype {dtype!r}; use auto, bfloat16, float16 or float32")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, padding_side="left")
            loaded: Any = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype)
            self.model = loaded.to(self.device)
        except (OSError, ValueError) as err:  # not a model directory, no usable tokenizer, bad config
            detail = " ".join(str(err).split()) or type(err).__name__
            raise SkyevalError(f"cannot load model {model!r}: {detail}") from err
        self.model.eval()
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_ids: set[int] = set(eos) if isinstance(eos, list) else {int(eos)}

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text the tokenizer's chat template makes of ``messages``."""
        chat = [{"role": m.role, "content": m.content} for m in messages]
        return str(self.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))

    def prompt(self, req: GenerationRequest) -> tuple[str, Opening]:
        """The text generation continues from (the rendered chat plus a prefill the template did not open) and
        the opening the recorded completion starts with."""
        rendered = self.render(req.messages)
        op = opening(rendered, req.prefill)
        return rendered + op.append, op

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingParams
    ) -> Iterator[Completion]:
        greedy = sampling.temperature == 0
        items: list[tuple[GenerationRequest, int]]
        if greedy:  # one generation per prompt, copied to every requested sample index
            items = [(req, req.sample_indices[0]) for req in requests if req.sample_indices]
        else:
            items = expand(requests)
        lengths = {req.problem_id: len(self.render(req.messages)) for req in requests}
        items.sort(key=lambda item: lengths[item[0].problem_id])  # less padding; rows are seeded, not ordered
        seed = self.seed if self.seed is not None else (sampling.seed or 0)
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            for (req, idx), (text, finish, n_prompt, n_out) in zip(
                batch, self._generate_batch(batch, sampling, seed, greedy), strict=True
            ):
                indices = req.sample_indices if greedy else (idx,)
                for i in indices:
                    yield Completion(req.problem_id, i, text, finish, n_prompt, n_out)

    def _generate_batch(
        self,
        batch: list[tuple[GenerationRequest, int]],
        sampling: SamplingParams,
        seed: int,
        greedy: bool,
    ) -> list[tuple[str, Any, int, int]]:
        import torch
        from transformers import LogitsProcessorList

        rendered = [self.prompt(req) for req, _ in batch]
        prompts = [text for text, _ in rendered]
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        processors = LogitsProcessorList()
        if not greedy:
            gens = []
            for req, idx in batch:
                gen = torch.Generator(device=self.device)
                gen.manual_seed(sample_seed(seed, req.problem_id, idx))
                gens.append(gen)
            processors.append(_SeededSampler(gens, sampling.temperature, sampling.top_p))
        with torch.no_grad():
            out = self.model.generate(
                **enc,
                max_new_tokens=sampling.max_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                logits_processor=processors,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=sorted(self.eos_ids),
            )
        prompt_lens = enc["attention_mask"].sum(dim=1).tolist()
        width = enc["input_ids"].shape[1]
        results = []
        for row in range(len(batch)):
            tokens = out[row, width:].tolist()
            n_out = len(tokens)
            for pos, tok in enumerate(tokens):
                if tok in self.eos_ids:
                    n_out = pos + 1
                    break
            finish = "stop" if tokens and tokens[n_out - 1] in self.eos_ids else "length"
            text = str(self.tokenizer.decode(tokens[:n_out], skip_special_tokens=True))
            text = with_opening(rendered[row][1].record, text)
            results.append((text, finish, int(prompt_lens[row]), n_out))
        return results
