"""TRL adapter: specs -> ``SFTConfig`` / ``RLOOConfig`` / ``GRPOConfig`` keyword arguments -> TRL's trainers.

No training loop lives here: TRL trains. The config builders are pure (dicts you can print and diff); the
``train_*`` functions load the data, build the trainer and save the final model to ``output_dir`` so that
``skyeval run --engine hf --model OUTPUT_DIR`` evaluates it as is. Multi-GPU runs execute this module under
``accelerate launch -m skytrain.trl_backend SPEC.json``.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError, require
from skytrain.data import load_rl_rows, load_sft_rows
from skytrain.specs import Cluster, RLSpec, SFTSpec, read_spec, split_batch


@dataclass(frozen=True)
class TrainResult:
    """What a finished run left behind and how long it took."""

    output_dir: str
    steps: int
    train_loss: float | None
    seconds: float  # trainer construction (tokenization) + training + saving
    train_seconds: float | None = None  # the training loop alone, as the trainer measured it


def _use_bf16(precision: str, cluster: Cluster) -> bool:
    """``auto``: bf16 on GPUs (a multi-device run only happens on GPUs), fp32 on a CPU-only machine."""
    if precision != "auto":
        return precision == "bf16"
    if cluster.world_size > 1:
        return True
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def _precision_flags(precision: str, cluster: Cluster) -> dict[str, Any]:
    bf16 = _use_bf16(precision, cluster)
    return {"bf16": bf16, "fp16": False, "model_init_kwargs": {"dtype": "bfloat16" if bf16 else "float32"}}


def sft_config_kwargs(spec: SFTSpec, cluster: Cluster) -> dict[str, Any]:
    """The ``trl.SFTConfig`` arguments for ``spec`` (field names checked against TRL 1.16)."""
    split = split_batch(spec.global_batch, cluster.world_size, spec.per_device_max)
    return {
        "output_dir": spec.output_dir,
        "num_train_epochs": spec.epochs,
        "max_steps": spec.max_steps,
        "learning_rate": spec.learning_rate,
        "lr_scheduler_type": "cosine",
        "warmup_steps": spec.warmup,
        "per_device_train_batch_size": split.per_device,
        "gradient_accumulation_steps": split.grad_accum,
        "max_length": spec.max_length,
        "packing": spec.packing,
        "assistant_only_loss": spec.assistant_only_loss,
        "chat_template_path": spec.chat_template,
        "activation_checkpointing": spec.gradient_checkpointing,
        "save_strategy": "steps" if spec.save_steps else "epoch",
        "save_steps": spec.save_steps or 500,
        "logging_steps": 1,
        "report_to": "none",
        "seed": spec.seed,
        **_precision_flags(spec.precision, cluster),
    }


def rl_config_kwargs(spec: RLSpec, cluster: Cluster) -> dict[str, Any]:
    """The ``trl.RLOOConfig`` / ``trl.GRPOConfig`` arguments: the global batch counts samples (prompts x rollouts)."""
    if spec.filter_range is not None and spec.algo != "prime":
        raise SkyevalError("accuracy-band prompt filtering (--filter-range) is part of --algo prime")
    split = split_batch(spec.sample_batch, cluster.world_size, spec.per_device_max)
    return {
        "output_dir": spec.output_dir,
        "learning_rate": spec.learning_rate,
        "num_train_epochs": spec.episodes,
        "max_steps": spec.max_steps,
        "per_device_train_batch_size": split.per_device,
        "gradient_accumulation_steps": split.grad_accum,
        "num_generations": spec.rollouts,
        "max_completion_length": spec.max_response_length,
        "temperature": spec.temperature,
        "beta": spec.kl_coef,
        "use_vllm": spec.use_vllm,
        "vllm_mode": "colocate",
        "vllm_tensor_parallel_size": spec.tensor_parallel,
        "save_strategy": "steps" if spec.save_steps else "no",
        "save_steps": spec.save_steps or 500,
        "logging_steps": 1,
        "report_to": "none",
        "seed": spec.seed,
        **_precision_flags(spec.precision, cluster),
    }


PRIME_FILTER = (0.2, 0.8)  # the paper's accuracy band (0.2 <= acc <= 0.8 in its code; strict here)


def prime_config_kwargs(spec: RLSpec, cluster: Cluster) -> dict[str, Any]:
    """The ``skytrain.prime.PrimeConfig`` arguments: GRPO's plus PRIME's settings and accuracy band."""
    low, high = spec.filter_range or PRIME_FILTER
    prime = spec.prime
    return {
        **rl_config_kwargs(spec, cluster),
        "prime_beta": prime.beta,
        "prime_lr": prime.lr,
        "prime_process_coef": prime.process_coef,
        "prime_outcome_coef": prime.outcome_coef,
        "prime_filter_low": low,
        "prime_filter_high": high,
        "prime_update": prime.update,
        "prime_reward_norm": prime.reward_norm,
        "prime_grad_clip": prime.grad_clip,
    }


@dataclass(frozen=True)
class TrlAlgo:
    """An ``--algo`` on TRL: where its config and trainer classes live (imported at use) and its config builder."""

    module: str
    config: str
    trainer: str
    config_kwargs: Callable[[RLSpec, Cluster], dict[str, Any]]

    def classes(self) -> tuple[Any, Any]:
        """``(config class, trainer class)``, importing their module now."""
        module = importlib.import_module(self.module)
        return getattr(module, self.config), getattr(module, self.trainer)


RL_ALGOS: dict[str, TrlAlgo] = {
    "rloo": TrlAlgo("trl", "RLOOConfig", "RLOOTrainer", rl_config_kwargs),
    "grpo": TrlAlgo("trl", "GRPOConfig", "GRPOTrainer", rl_config_kwargs),
    "prime": TrlAlgo("skytrain.prime", "PrimeConfig", "PrimeTrainer", prime_config_kwargs),
}


def rl_algo(name: str) -> TrlAlgo:
    algo = RL_ALGOS.get(name)
    if algo is None:
        raise SkyevalError(f"--backend trl supports --algo {', '.join(RL_ALGOS)}, not {name!r}")
    return algo


def check_chat_template(spec: SFTSpec) -> None:
    """Fail early (one line) when assistant-only loss cannot work with the model's chat template."""
    if not spec.assistant_only_loss:
        return
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if spec.chat_template is not None:
        path = Path(spec.chat_template)
        if not path.is_file() or path.suffix not in (".jinja", ".j2"):
            raise SkyevalError(f"--chat-template {path} must be an existing .jinja file")
        if not has_generation_markers(path.read_text(encoding="utf-8")):
            raise SkyevalError(f"--chat-template {path} has no {{% generation %}} markers")
        return
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.model)
    except OSError as err:
        raise SkyevalError(f"cannot load the tokenizer of {spec.model}: {err}") from err
    if not tokenizer.chat_template:
        raise SkyevalError(f"{spec.model} has no chat template; pass --chat-template FILE.jinja")
    try:
        get_training_chat_template(tokenizer)
    except ValueError as err:
        raise SkyevalError(
            f"TRL cannot add {{% generation %}} markers to the chat template of {spec.model}: pass "
            "--chat-template FILE.jinja with markers around the assistant turn, or --no-assistant-only-loss"
        ) from err


def _result(trainer: Any, output_dir: str, started: float) -> TrainResult:
    summary: dict[str, Any] = next(
        (row for row in reversed(trainer.state.log_history) if "train_loss" in row), {}
    )
    return TrainResult(
        output_dir,
        trainer.state.global_step,
        summary.get("train_loss"),
        time.perf_counter() - started,
        summary.get("train_runtime"),
    )


def train_sft(spec: SFTSpec, cluster: Cluster = Cluster()) -> TrainResult:
    """Run TRL SFT on ``spec.data`` and save the final model and tokenizer to ``spec.output_dir``."""
    for module in ("trl", "datasets", "torch"):
        require(module, extra="train", what="skytrain sft --backend trl")
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    dataset = Dataset.from_list(load_sft_rows(spec.data))
    check_chat_template(spec)
    started = time.perf_counter()
    trainer = SFTTrainer(
        model=spec.model, args=SFTConfig(**sft_config_kwargs(spec, cluster)), train_dataset=dataset
    )
    trainer.train()
    trainer.save_model(spec.output_dir)
    return _result(trainer, spec.output_dir, started)


def train_rl(spec: RLSpec, cluster: Cluster = Cluster()) -> TrainResult:
    """Run TRL RLOO, GRPO or PRIME with ``skyeval.rewards.reward`` (the dataset's ``answer`` column reaches it by name)."""
    for module in ("trl", "datasets", "torch"):
        require(module, extra="train", what=f"skytrain rl --backend trl --algo {spec.algo}")
    if spec.use_vllm:
        require(
            "vllm", extra="vllm", what="generation with vLLM (pass --no-vllm to generate with transformers)"
        )
    from datasets import Dataset

    from skyeval.rewards import reward

    algo = rl_algo(spec.algo)
    config_cls, trainer_cls = algo.classes()
    rows = load_rl_rows(
        spec.data, prompt_key=spec.prompt_key, answer_key=spec.answer_key, system_prompt=spec.system_prompt
    )
    resume = resume_checkpoint(spec.output_dir) if spec.resume else None
    started = time.perf_counter()
    trainer = trainer_cls(
        model=spec.model,
        reward_funcs=[reward],
        args=config_cls(**algo.config_kwargs(spec, cluster)),
        train_dataset=Dataset.from_list(rows),
    )
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(spec.output_dir)
    return _result(trainer, spec.output_dir, started)


def resume_checkpoint(output_dir: str) -> str:
    """The newest ``checkpoint-N`` in ``output_dir`` (``--resume``); none is a one-line error."""
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None  # type: ignore[no-untyped-call]
    if last is None:
        raise SkyevalError(
            f"--resume: no checkpoint-N folder in {output_dir} (save them with --save-steps N)"
        )
    return str(last)


RUNNERS: dict[type, Callable[[Any, Cluster], TrainResult]] = {SFTSpec: train_sft, RLSpec: train_rl}


def main(argv: list[str] | None = None) -> None:
    """Entry point for ``accelerate launch -m skytrain.trl_backend SPEC.json`` (one process per device)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m skytrain.trl_backend SPEC.json")
    spec, cluster = read_spec(Path(args[0]))
    RUNNERS[type(spec)](spec, cluster)


if __name__ == "__main__":
    main()
