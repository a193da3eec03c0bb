"""TRL adapter: specs -> ``SFTConfig`` / RL config keyword arguments -> TRL's trainers.

No training loop lives here: TRL trains. The config builders are pure (dicts you can print and diff);
``--extra-arg KEY=VALUE`` reaches any other field of TRL's config dataclass, parsed by transformers'
``HfArgumentParser`` (so names and types are TRL's own). The ``train_*`` functions check the model and the
token lengths, build the trainer, and save the final model to ``output_dir`` (``skyeval run --engine hf
--model OUTPUT_DIR`` evaluates it as is). Multi-GPU runs execute this module under ``accelerate launch -m
skytrain.trl_backend SPEC.json``.

RL algorithms are a registry (:data:`RL_ALGOS`): each names its config class, its trainer and any extra
config fields, so a new algorithm is one entry, not a branch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError, require
from skytrain.data import load_val_rows
from skytrain.launch import parse_quietly
from skytrain.preflight import fitted_rl_rows, fitted_sft_rows, load_tokenizer
from skytrain.specs import Checkpoints, Cluster, RLSpec, SFTSpec, Spec, read_spec, split_batch


@dataclass(frozen=True)
class TrainResult:
    """What a finished run left behind and how long it took."""

    output_dir: str
    steps: int
    train_loss: float | None
    seconds: float  # trainer construction (tokenization) + training + saving
    train_seconds: float | None = None  # the training loop alone, as the trainer measured it
    resumed_from: str | None = None


@dataclass(frozen=True)
class TRLAlgorithm:
    """One ``--algo`` on TRL: its config and trainer classes (loaded lazily) and extra config fields."""

    load: Callable[[], tuple[type, type]]  # -> (config class, trainer class)
    about: str
    extra_config: Callable[[RLSpec], dict[str, Any]] = field(default=lambda spec: {})


def _trl_classes(config: str, trainer: str) -> Callable[[], tuple[type, type]]:
    def load() -> tuple[type, type]:
        import trl

        return getattr(trl, config), getattr(trl, trainer)

    return load


#: ``--algo`` -> how TRL runs it. A new algorithm (e.g. PRIME with its implicit PRM) is a new entry.
RL_ALGOS: dict[str, TRLAlgorithm] = {
    "rloo": TRLAlgorithm(
        _trl_classes("RLOOConfig", "RLOOTrainer"), "TRL RLOOTrainer (leave-one-out baseline)"
    ),
    "grpo": TRLAlgorithm(_trl_classes("GRPOConfig", "GRPOTrainer"), "TRL GRPOTrainer (group-normalised)"),
}

#: TRL config fields that skytrain sets from its own flags: ``--extra-arg`` must use the flag instead.
SFT_FLAG_FIELDS: dict[str, str] = {
    "output_dir": "--output-dir",
    "num_train_epochs": "--epochs",
    "max_steps": "--max-steps",
    "learning_rate": "--lr",
    "warmup_steps": "--warmup",
    "per_device_train_batch_size": "--global-batch/--per-device-batch",
    "gradient_accumulation_steps": "--global-batch/--per-device-batch",
    "max_length": "--max-length",
    "packing": "--packing",
    "assistant_only_loss": "--assistant-only-loss",
    "chat_template_path": "--chat-template",
    "seed": "--seed",
    "bf16": "--precision",
    "save_steps": "--save-steps",
    "save_only_model": "--save-optimizer",
}
RL_FLAG_FIELDS: dict[str, str] = {
    "output_dir": "--output-dir",
    "num_train_epochs": "--episodes",
    "max_steps": "--max-steps",
    "learning_rate": "--lr",
    "lr_scheduler_type": "--lr-schedule",
    "warmup_steps": "--warmup",
    "per_device_train_batch_size": "--prompt-batch/--rollouts/--per-device-batch",
    "gradient_accumulation_steps": "--prompt-batch/--rollouts/--per-device-batch",
    "num_generations": "--rollouts",
    "max_completion_length": "--max-response-length",
    "temperature": "--temperature",
    "beta": "--kl-coef",
    "use_vllm": "--vllm/--no-vllm",
    "vllm_tensor_parallel_size": "--tensor-parallel",
    "seed": "--seed",
    "bf16": "--precision",
    "save_steps": "--save-steps",
    "save_only_model": "--save-optimizer",
    "eval_steps": "--val-steps",
}

#: Flags ``--backend trl`` does not support, with the reason (an explicitly passed one is an error).
UNSUPPORTED_SFT: dict[str, str] = {
    "hostfile": "TRL multi-node runs go through accelerate (--main-process-ip)"
}
UNSUPPORTED_RL: dict[str, str] = {
    "max_prompt_length": "TRL 1.16 has no prompt cutoff: prompts are never cut (lengths are reported)",
    "filter_range": "accuracy-band prompt filtering runs on --backend openrlhf",
    "ray_address": "TRL runs in this process or under accelerate, not as a Ray job",
}


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


def _checkpoint_flags(checkpoints: Checkpoints) -> dict[str, Any]:
    """HF-format weights every ``save_steps`` steps; the optimizer state too only with ``--save-optimizer``."""
    return {
        "save_strategy": "steps",
        "save_steps": checkpoints.save_steps,
        "save_only_model": not checkpoints.save_optimizer,
    }


def sft_config_kwargs(spec: SFTSpec, cluster: Cluster) -> dict[str, Any]:
    """The ``trl.SFTConfig`` arguments for ``spec`` (field names checked against TRL 1.16)."""
    split = split_batch(spec.global_batch, cluster.world_size, spec.per_device_max)
    base = {
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
        **_checkpoint_flags(spec.checkpoints),
        "logging_steps": 1,
        "report_to": "none",
        "seed": spec.seed,
        **_precision_flags(spec.precision, cluster),
    }
    return _with_extras(base, spec.extra_args, _sft_config_class, SFT_FLAG_FIELDS)


_SCHEDULES = {"constant": "constant", "cosine": "cosine", "linear": "linear"}


def rl_config_kwargs(spec: RLSpec, cluster: Cluster) -> dict[str, Any]:
    """The RL config arguments: the global batch counts samples (prompts x rollouts), one rollout batch a step."""
    algo = rl_algorithm(spec.algo)
    if spec.filter_range is not None:
        raise SkyevalError(f"--backend trl: {UNSUPPORTED_RL['filter_range']}")
    split = split_batch(spec.sample_batch, cluster.world_size, spec.per_device_max)
    schedule = _SCHEDULES[spec.lr_schedule]
    if schedule == "constant" and spec.warmup > 0:
        schedule = "constant_with_warmup"
    base: dict[str, Any] = {
        "output_dir": spec.output_dir,
        "learning_rate": spec.learning_rate,
        "lr_scheduler_type": schedule,
        "warmup_steps": spec.warmup,
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
        # TRL's RL configs default the deprecated gradient_checkpointing alias to True: name the new field
        "activation_checkpointing": True,
        "gradient_checkpointing": False,
        **_checkpoint_flags(spec.checkpoints),
        "logging_steps": 1,
        "report_to": "none",
        "seed": spec.seed,
        **_precision_flags(spec.precision, cluster),
    }
    if spec.val_tasks:
        base |= {
            "eval_strategy": "steps",
            "eval_steps": spec.val_steps,
            "per_device_eval_batch_size": spec.rollouts,  # one prompt's rollouts per device
        }
    base |= algo.extra_config(spec)
    return _with_extras(base, spec.extra_args, lambda: algo.load()[0], RL_FLAG_FIELDS)


def rl_algorithm(name: str) -> TRLAlgorithm:
    algo = RL_ALGOS.get(name)
    if algo is None:
        raise SkyevalError(f"--backend trl runs --algo {' or '.join(RL_ALGOS)}, not {name!r}")
    return algo


def _sft_config_class() -> type:
    from trl.trainer.sft_config import SFTConfig

    return SFTConfig


def parse_extra_args(config_cls: type, tokens: Sequence[str]) -> dict[str, Any]:
    """``--key value`` tokens -> ``{field: typed value}``, parsed by transformers' ``HfArgumentParser``."""
    if not tokens:
        return {}
    from transformers import HfArgumentParser

    parser = HfArgumentParser(config_cls)  # type: ignore[arg-type]  # a dataclass type, untyped as such
    what = f"TRL {config_cls.__name__}"
    namespace, unknown = parse_quietly(lambda: parser.parse_known_args(list(tokens)), what)
    if unknown:
        raise SkyevalError(f"{what} has no option {unknown[0]!r} (from --extra-arg)")
    actions = parser._option_string_actions  # argparse's table of option strings -> actions
    given = {
        actions[t.split("=", 1)[0]].dest
        for t in tokens
        if t.startswith("--") and t.split("=", 1)[0] in actions
    }
    return {name: getattr(namespace, name) for name in sorted(given)}


def _with_extras(
    base: dict[str, Any], tokens: Sequence[str], config_cls: Callable[[], type], owned: Mapping[str, str]
) -> dict[str, Any]:
    """``base`` updated with the ``--extra-arg`` fields; a field a skytrain flag owns must use that flag."""
    if not tokens:
        return base
    extras = parse_extra_args(config_cls(), tokens)
    for name in extras:
        if name in owned:
            raise SkyevalError(f"--extra-arg {name}: set it with {owned[name]}")
    return {**base, **extras}


def check_config(config_cls: type, kwargs: dict[str, Any]) -> tuple[str, ...]:
    """Build TRL's own config dataclass from ``kwargs``: TRL validates names and values.

    Planning a GPU run on a machine without CUDA: transformers refuses ``bf16`` there, so that one flag is
    checked with ``bf16=False`` and a note says so.
    """
    import torch

    notes: tuple[str, ...] = ()
    if kwargs.get("bf16") and not torch.cuda.is_available():
        kwargs = {**kwargs, "bf16": False}
        notes = ("bf16 is checked on the GPU machines (this one has no CUDA)",)
    try:
        config_cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise SkyevalError(f"TRL {config_cls.__name__} rejects the settings: {err}") from err
    return notes


def check_chat_template(spec: SFTSpec, tokenizer: Any) -> None:
    """Fail early (one line) when assistant-only loss cannot work with the model's chat template."""
    if not spec.assistant_only_loss:
        return
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if spec.chat_template is not None:
        if not has_generation_markers(tokenizer.chat_template or ""):
            raise SkyevalError(f"--chat-template {spec.chat_template} has no {{% generation %}} markers")
        return
    if not tokenizer.chat_template:
        raise SkyevalError(f"{spec.model} has no chat template; pass --chat-template FILE.jinja")
    try:
        get_training_chat_template(tokenizer)
    except ValueError as err:
        raise SkyevalError(
            f"TRL cannot add {{% generation %}} markers to the chat template of {spec.model}: pass "
            "--chat-template FILE.jinja with markers around the assistant turn, or --no-assistant-only-loss"
        ) from err


def _sft_tokenizer(spec: SFTSpec) -> Any:
    tokenizer = load_tokenizer(spec.model)
    if spec.chat_template is not None:
        path = Path(spec.chat_template)
        if not path.is_file() or path.suffix not in (".jinja", ".j2"):
            raise SkyevalError(f"--chat-template {path} must be an existing .jinja file")
        tokenizer.chat_template = path.read_text(encoding="utf-8")
    return tokenizer


# --- checkpoints ---------------------------------------------------------------------------------------------


def last_checkpoint(output_dir: str) -> Path | None:
    """The newest ``checkpoint-N`` folder of a TRL run, if any."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    found = [p for p in folder.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


def has_optimizer_state(checkpoint: Path) -> bool:
    """Whether a checkpoint can continue training exactly (optimizer and scheduler state were saved)."""
    return (checkpoint / "optimizer.pt").is_file() or any(checkpoint.glob("global_step*"))


def resume_point(spec: Spec) -> Path | None:
    """The checkpoint to continue from (``--resume``), or None for a fresh run; refuses to clobber one."""
    checkpoint = last_checkpoint(spec.output_dir)
    if not spec.checkpoints.resume:
        if checkpoint is not None:
            raise SkyevalError(
                f"{spec.output_dir} holds checkpoints of an earlier run ({checkpoint.name}): pass --resume to "
                "continue it, or choose another --output-dir"
            )
        return None
    if checkpoint is None:
        raise SkyevalError(f"--resume: no checkpoint-N folder in {spec.output_dir}")
    if not has_optimizer_state(checkpoint):
        raise SkyevalError(
            f"--resume: {checkpoint} holds weights only (saved without --save-optimizer), so training cannot "
            f"continue exactly; start a new run from it with --model {checkpoint}, and pass --save-optimizer "
            "to runs you want to resume"
        )
    return checkpoint


# --- training --------------------------------------------------------------------------------------------------


def _result(trainer: Any, output_dir: str, started: float, resumed: Path | None) -> TrainResult:
    summary: dict[str, Any] = next(
        (row for row in reversed(trainer.state.log_history) if "train_loss" in row), {}
    )
    return TrainResult(
        output_dir,
        trainer.state.global_step,
        summary.get("train_loss"),
        time.perf_counter() - started,
        summary.get("train_runtime"),
        str(resumed) if resumed else None,
    )


def _train_and_save(trainer: Any, spec: Spec, started: float, resumed: Path | None) -> TrainResult:
    trainer.train(resume_from_checkpoint=str(resumed) if resumed else None)
    trainer.save_model(spec.output_dir)
    trainer.save_state()  # trainer_state.json: every logged step (loss, reward, lr) beside the model
    return _result(trainer, spec.output_dir, started, resumed)


def _announce(text: str) -> None:
    print(text, file=sys.stderr)


def train_sft(
    spec: SFTSpec,
    cluster: Cluster = Cluster(),
    *,
    callbacks: Sequence[Any] = (),
    announce: Callable[[str], object] = _announce,
) -> TrainResult:
    """Run TRL SFT on ``spec.data`` and save the final model and tokenizer to ``spec.output_dir``."""
    for module in ("trl", "datasets", "torch"):
        require(module, extra="train", what="skytrain sft --backend trl")
    from datasets import Dataset
    from trl.trainer.sft_config import SFTConfig
    from trl.trainer.sft_trainer import SFTTrainer

    tokenizer = _sft_tokenizer(spec)
    check_chat_template(spec, tokenizer)
    rows = fitted_sft_rows(spec, tokenizer, announce)
    resumed = resume_point(spec)
    started = time.perf_counter()
    trainer = SFTTrainer(
        model=spec.model,
        args=SFTConfig(**sft_config_kwargs(spec, cluster)),
        train_dataset=Dataset.from_list(rows),
        callbacks=list(callbacks),
    )
    return _train_and_save(trainer, spec, started, resumed)


def train_rl(
    spec: RLSpec,
    cluster: Cluster = Cluster(),
    *,
    callbacks: Sequence[Any] = (),
    announce: Callable[[str], object] = _announce,
) -> TrainResult:
    """Run a TRL RL algorithm with skyeval's grader as reward (the dataset's ``answer`` reaches it by name)."""
    for module in ("trl", "datasets", "torch"):
        require(module, extra="train", what=f"skytrain rl --backend trl --algo {spec.algo}")
    if spec.use_vllm:
        require(
            "vllm", extra="vllm", what="generation with vLLM (pass --no-vllm to generate with transformers)"
        )
    from datasets import Dataset

    from skytrain.trl_reward import reward_for

    config_cls, trainer_cls = rl_algorithm(spec.algo).load()
    rows = fitted_rl_rows(spec, load_tokenizer(spec.model), None, announce)
    val = load_val_rows(spec.val_tasks, data_dir=spec.val_data_dir, system_prompt=spec.system_prompt)
    resumed = resume_point(spec)
    started = time.perf_counter()
    trainer = trainer_cls(
        model=spec.model,
        reward_funcs=[reward_for(spec.max_response_length)],
        args=config_cls(**rl_config_kwargs(spec, cluster)),
        train_dataset=Dataset.from_list(rows),
        eval_dataset=Dataset.from_list(val) if val else None,
        callbacks=list(callbacks),
    )
    return _train_and_save(trainer, spec, started, resumed)


RUNNERS: dict[type, Callable[..., TrainResult]] = {SFTSpec: train_sft, RLSpec: train_rl}


def main(argv: list[str] | None = None) -> None:
    """Entry point for ``accelerate launch -m skytrain.trl_backend SPEC.json`` (one process per device)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m skytrain.trl_backend SPEC.json")
    spec, cluster = read_spec(Path(args[0]))
    try:
        RUNNERS[type(spec)](spec, cluster)
    except SkyevalError as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    main()
