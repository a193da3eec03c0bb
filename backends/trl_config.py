"""TRL configs: specs -> ``SFTConfig`` / RL config keyword arguments, checked by TRL's own config classes.

The builders are pure (dicts you can print and diff); ``--extra-arg KEY=VALUE`` reaches any other field of
TRL's config dataclass, parsed by transformers' ``HfArgumentParser`` (so names and types are TRL's own).
RL algorithms are a registry (:data:`RL_ALGOS`): each names its config class, its trainer, any extra config
fields and the spec settings only it reads, so PRIME with its implicit PRM (:mod:`skytrain.prime`) is one entry,
not a branch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from skyeval.errors import SkyevalError
from skytrain.checkpoints import PRIME_STATE
from skytrain.launch import parse_quietly
from skytrain.specs import (
    PRIME_FILTER,
    Checkpoints,
    Cluster,
    PrimeSettings,
    RLSpec,
    SFTSpec,
    changed_fields,
    split_batch,
)


@dataclass(frozen=True)
class TRLAlgorithm:
    """One ``--algo`` on TRL: its config and trainer classes (loaded lazily), extra config fields, and extra
    trainer arguments (beyond model, reward_funcs, args, train_dataset, eval_dataset, callbacks).

    ``reads``: RLSpec fields no other TRL algorithm reads (set for another one, they are refused);
    ``owned``: its extra config fields that skytrain flags set (``--extra-arg`` must use the flag);
    ``checkpoint_state``: what it adds to each ``checkpoint-N`` and needs back to resume;
    ``multi_device_note``: what a multi-device plan should tell about its memory.
    """

    load: Callable[[], tuple[type, type]]  # -> (config class, trainer class)
    about: str
    extra_config: Callable[[RLSpec], dict[str, Any]] = field(default=lambda spec: {})
    trainer_kwargs: Callable[[RLSpec], dict[str, Any]] = field(default=lambda spec: {})
    reads: tuple[str, ...] = ()
    owned: Mapping[str, str] = field(default_factory=dict)
    checkpoint_state: tuple[str, ...] = ()
    multi_device_note: str = ""


def _trl_classes(config: str, trainer: str) -> Callable[[], tuple[type, type]]:
    def load() -> tuple[type, type]:
        import trl

        return getattr(trl, config), getattr(trl, trainer)

    return load


def _prime_classes() -> tuple[type, type]:
    from skytrain.prime import PrimeConfig, PrimeTrainer

    return PrimeConfig, PrimeTrainer


_PRIME_NAMES = tuple(f.name for f in fields(PrimeSettings))


def _prime_config(spec: RLSpec) -> dict[str, Any]:
    """``PrimeConfig``'s own fields: ``prime_<setting>`` for each :class:`PrimeSettings` field, and the band."""
    low, high = spec.filter_range or PRIME_FILTER
    settings = {f"prime_{name}": getattr(spec.prime, name) for name in _PRIME_NAMES}
    return {**settings, "prime_filter_low": low, "prime_filter_high": high}


PRIME_REPLICATED_NOTE = (
    "PRIME's implicit PRM (fp32 weights, gradients and AdamW state: 16 bytes per parameter) and its frozen "
    "reference are replicated on every device, not sharded by ZeRO-3/FSDP: about 18 bytes per parameter per "
    "device on top of the policy (Qwen2.5-Math-7B, 7.6B parameters: ~137 GB)"
)

#: ``--algo`` -> how TRL runs it; each algorithm is one entry.
RL_ALGOS: dict[str, TRLAlgorithm] = {
    "rloo": TRLAlgorithm(
        _trl_classes("RLOOConfig", "RLOOTrainer"), "TRL RLOOTrainer (leave-one-out baseline)"
    ),
    "grpo": TRLAlgorithm(_trl_classes("GRPOConfig", "GRPOTrainer"), "TRL GRPOTrainer (group-normalised)"),
    "prime": TRLAlgorithm(
        _prime_classes,
        "PRIME on TRL's GRPOTrainer: implicit PRM trained online, RLOO process + outcome advantages, "
        "accuracy-band filter (skytrain.prime)",
        extra_config=_prime_config,
        reads=("filter_range", "prime"),
        owned={
            **{f"prime_{name}": "--prime-" + name.replace("_", "-") for name in _PRIME_NAMES},
            "prime_filter_low": "--filter-range",
            "prime_filter_high": "--filter-range",
        },
        checkpoint_state=PRIME_STATE,
        multi_device_note=PRIME_REPLICATED_NOTE,
    ),
}


def algo_settings() -> dict[str, tuple[str, ...]]:
    """RLSpec fields only some TRL algorithms read -> those algorithms (``filter_range``, ``prime``: PRIME)."""
    readers: dict[str, tuple[str, ...]] = {}
    for name, algo in RL_ALGOS.items():
        for spec_field in algo.reads:
            readers[spec_field] = (*readers.get(spec_field, ()), name)
    return readers


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
    ignored = changed_fields(spec, [name for name in algo_settings() if name not in algo.reads])
    if ignored:  # the library path; skytrain.api refuses these first, naming the flags
        raise SkyevalError(f"--backend trl --algo {spec.algo} does not read the spec's {', '.join(ignored)}")
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
    return _with_extras(base, spec.extra_args, lambda: algo.load()[0], {**RL_FLAG_FIELDS, **algo.owned})


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
