"""OpenRLHF 0.11 adapter: specs -> ``openrlhf.cli.train_sft`` / ``openrlhf.cli.train_ppo_ray`` command lines.

Flags are the dotted names OpenRLHF uses since 0.10.2, checked by OpenRLHF's own parser
(:mod:`skytrain.openrlhf_parser`).

Run sizes: one step is one rollout batch (``--rollout.batch_size`` prompts x ``--rollout.n_samples_per_prompt``
samples = ``--train.batch_size``, one optimizer step). OpenRLHF has no max-steps option: it trains until the
prompt loader is exhausted and sizes its LR schedule on ``prompts x n // train batch x episodes``. So
``--max-steps S`` bounds the data (a seeded sample of ``S x prompt_batch`` prompts, ``--data.max_samples``) and
thereby the schedule; under accuracy-band filtering, where a filtered prompt is replaced by a fresh one, the
data cannot bound the steps, so the run goes through :mod:`skytrain.openrlhf_entry`, which stops after S steps.

``--algo prime`` here is "PRIME-style filtering + RLOO": RLOO on the outcome reward plus PRIME's accuracy-band
prompt filter (prompts whose rollouts are all right or all wrong are dropped and replaced). PRIME's implicit
process reward model is NOT part of OpenRLHF and is not emulated (``--backend trl --algo prime`` trains it:
:mod:`skytrain.prime`), so the ``--prime-*`` settings are refused here (:data:`ALGO_SETTINGS`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.jsonl import write_jsonl
from skytrain.checkpoints import openrlhf_checkpoints, openrlhf_resume_check
from skytrain.data import load_val_rows
from skytrain.launch import Command, ray_job_submit
from skytrain.openrlhf_parser import validate_openrlhf
from skytrain.preflight import fitted_rl_rows, fitted_sft_rows, load_tokenizer
from skytrain.specs import PRIME_FILTER, Checkpoints, Cluster, RLSpec, SFTSpec, split_batch

REWARD_FILE = Path(__file__).with_name("openrlhf_reward.py")
PROMPTS_FILE = "openrlhf_prompts.jsonl"
VAL_FILE = "openrlhf_val.jsonl"
SFT_FILE = "openrlhf_sft.jsonl"
ESTIMATORS = {"rloo": "rloo", "prime": "rloo", "grpo": "group_norm"}  # --algo -> OpenRLHF estimator
SCHEDULES = {"constant": "constant_with_warmup", "cosine": "cosine", "linear": "linear"}

#: Flags ``--backend openrlhf`` does not support, with the reason (an explicitly passed one is an error).
UNSUPPORTED_SFT: dict[str, str] = {
    "distributed": "OpenRLHF always runs DeepSpeed ZeRO-3 here",
    "precision": "OpenRLHF runs bf16 here",
    "machine_rank": "the deepspeed launcher assigns ranks from --hostfile",
}
UNSUPPORTED_RL: dict[str, str] = {
    "distributed": "OpenRLHF always runs DeepSpeed ZeRO-3 here",
    "precision": "OpenRLHF runs bf16 here",
    "use_vllm": "OpenRLHF generates with vLLM",
    "main_process_ip": "OpenRLHF RL runs on Ray: use --ray-address",
    "main_process_port": "OpenRLHF RL runs on Ray: use --ray-address",
    "machine_rank": "OpenRLHF RL runs on Ray: use --ray-address",
}
#: RL spec fields only some ``--algo`` values read here -> those algorithms (PRIME's PRM settings: none).
ALGO_SETTINGS: dict[str, tuple[str, ...]] = {"prime": ()}

#: OpenRLHF flags skytrain emits from its own flags: ``--extra-arg`` must use the skytrain flag instead.
OWNED_HINTS: dict[str, str] = {
    "actor.adam.lr": "--lr",
    "adam.lr": "--lr",
    "rollout.batch_size": "--prompt-batch",
    "rollout.n_samples_per_prompt": "--rollouts",
    "train.batch_size": "--global-batch / --prompt-batch x --rollouts",
    "rollout.max_new_tokens": "--max-response-length",
    "data.max_len": "--max-length / --max-prompt-length + --max-response-length",
    "data.max_samples": "--max-steps",
    "ckpt.save_steps": "--save-steps",
    "ckpt.load_enable": "--resume",
    "ckpt.disable_ds": "--save-optimizer",
    "algo.kl.init_coef": "--kl-coef",
    "train.num_episodes": "--episodes",
    "train.max_epochs": "--epochs",
    "train.seed": "--seed",
    "eval.steps": "--val-steps",
    "eval.dataset": "--val-task",
}


def _flag(name: str, value: Any) -> list[str]:
    return [f"--{name}", str(value)]


def _checkpoint_argv(checkpoints: Checkpoints) -> list[str]:
    """HF weights every ``save_steps`` steps (``--ckpt.save_hf``); DeepSpeed's state only with --save-optimizer."""
    argv = [*_flag("ckpt.save_steps", checkpoints.save_steps), "--ckpt.save_hf"]
    if not checkpoints.save_optimizer:
        argv.append("--ckpt.disable_ds")
    if checkpoints.resume:
        if not checkpoints.save_optimizer:
            raise SkyevalError(
                "--resume on OpenRLHF continues from its DeepSpeed checkpoints (optimizer state): pass "
                "--save-optimizer as well (the run must have been started with it)"
            )
        argv.append("--ckpt.load_enable")
    return argv


def _with_extras(argv: list[str], extras: Sequence[str]) -> list[str]:
    """Append ``--extra-arg`` / pass-through tokens; a flag skytrain already emits must come from its flag."""
    emitted = {token[2:] for token in argv if token.startswith("--")}
    for token in extras:
        name = token[2:].split("=", 1)[0] if token.startswith("--") else None
        if name is not None and name in emitted:
            hint = OWNED_HINTS.get(name, "its skytrain flag")
            raise SkyevalError(f"--extra-arg {name}: skytrain sets it; use {hint}")
    return [*argv, *extras]


def sft_data_target(spec: SFTSpec) -> Path:
    return Path(spec.output_dir) / SFT_FILE


def sft_argv(spec: SFTSpec, cluster: Cluster) -> list[str]:
    """Arguments of ``openrlhf.cli.train_sft`` for chat ``messages`` rows (loss on the last assistant turn)."""
    split = split_batch(spec.global_batch, cluster.world_size, spec.per_device_max)
    argv = [
        *_flag("model.model_name_or_path", spec.model),
        *_flag("data.dataset", sft_data_target(spec)),
        *_flag("data.input_key", "messages"),
        "--data.apply_chat_template",
        *_flag("data.max_len", spec.max_length),
        *_flag("train.batch_size", split.global_batch),
        *_flag("train.micro_batch_size", split.per_device),
        *_flag("train.max_epochs", int(spec.epochs)),
        *_flag("adam.lr", spec.learning_rate),
        *_flag("lr_warmup_ratio", spec.warmup),
        *_flag("ds.zero_stage", 3),
        *_flag("ds.param_dtype", "bf16"),
        *_flag("train.seed", spec.seed),
        *_flag("ckpt.output_dir", spec.output_dir),
        *_flag("ckpt.path", openrlhf_checkpoints(spec.output_dir)),
        *_checkpoint_argv(spec.checkpoints),
    ]
    if spec.gradient_checkpointing:
        argv.append("--model.gradient_checkpointing_enable")
    if spec.packing:
        argv.append("--ds.packing_samples")
    if spec.chat_template:
        argv += _flag("data.tokenizer_chat_template", Path(spec.chat_template).read_text(encoding="utf-8"))
    return _with_extras(argv, spec.extra_args)


def sft_command(spec: SFTSpec, cluster: Cluster, *, hostfile: str | None = None) -> Command:
    """``deepspeed --module openrlhf.cli.train_sft ...`` (multi-node through a DeepSpeed hostfile)."""
    if spec.epochs != int(spec.epochs):
        raise SkyevalError("OpenRLHF trains whole epochs; pass an integer --epochs")
    if spec.max_steps > 0:
        raise SkyevalError(
            "OpenRLHF train_sft has no max-steps option; use --backend trl for step-limited SFT runs"
        )
    launcher = ["deepspeed", "--num_gpus", str(cluster.gpus_per_node)]
    if cluster.nodes > 1:
        if not (hostfile and cluster.main_process_ip):
            raise SkyevalError("multi-node OpenRLHF SFT needs --hostfile and --main-process-ip")
        launcher += ["--num_nodes", str(cluster.nodes), "--hostfile", hostfile]
        launcher += [
            "--master_addr",
            cluster.main_process_ip,
            "--master_port",
            str(cluster.main_process_port),
        ]
    argv = sft_argv(spec, cluster)
    return validate_openrlhf(
        Command((*launcher, "--module", "openrlhf.cli.train_sft", *argv)), "train_sft", argv
    )


def prepare_sft_data(spec: SFTSpec, announce: Callable[[str], object]) -> Path:
    """Check the SFT rows and their token lengths, then write the rows OpenRLHF reads (dropped ones removed)."""
    kept = fitted_sft_rows(spec, load_tokenizer(spec.model), announce)
    openrlhf_resume_check(spec)
    return _write_jsonl(sft_data_target(spec), kept)


# --- RL ----------------------------------------------------------------------------------------------------


def filter_range(spec: RLSpec) -> tuple[float, float] | None:
    return spec.filter_range or (PRIME_FILTER if spec.algo == "prime" else None)


def prompts_needed(spec: RLSpec) -> int | None:
    """Prompts that make exactly ``max_steps`` steps without filtering (None: unbounded or filtered)."""
    if spec.max_steps <= 0 or filter_range(spec) is not None:
        return None
    return math.ceil(spec.max_steps / spec.episodes) * spec.prompt_batch


def planned_steps(spec: RLSpec, prompts: int | None = None) -> int | None:
    """Steps the run takes: ``max_steps`` when set, else OpenRLHF's own count from ``prompts`` rows."""
    if spec.max_steps > 0:
        return spec.max_steps
    if prompts is None:
        return None
    return prompts * spec.rollouts // spec.sample_batch * spec.episodes


def prompts_target(spec: RLSpec, *, ray: bool) -> Path:
    """Where the checked prompts go before launch: beside the outputs, or in the Ray job's working directory."""
    return Path(spec.output_dir) / ("ray_job" if ray else "") / PROMPTS_FILE


def rl_argv(spec: RLSpec, cluster: Cluster, *, reward_file: str, prompts: str, val: str | None) -> list[str]:
    """Arguments of ``openrlhf.cli.train_ppo_ray`` for RLOO (``--algo rloo``) or RLOO + filtering (``prime``).

    ``--rollout.batch_size`` counts prompts, ``--train.batch_size`` counts samples (prompts x rollouts). The
    actor, vLLM engines and (with a KL term) the reference model share every GPU (``--train.colocate_all``).
    """
    estimator = ESTIMATORS.get(spec.algo)
    if estimator is None:
        raise SkyevalError(f"--backend openrlhf supports --algo {' or '.join(ESTIMATORS)}, not {spec.algo!r}")
    if cluster.world_size % spec.tensor_parallel:
        raise SkyevalError(
            f"{cluster.world_size} GPUs cannot hold vLLM engines of tensor-parallel size {spec.tensor_parallel}"
        )
    split = split_batch(spec.sample_batch, cluster.world_size, spec.per_device_max)
    argv = [
        *_flag("actor.model_name_or_path", spec.model),
        *_flag("actor.num_nodes", cluster.nodes),
        *_flag("actor.num_gpus_per_node", cluster.gpus_per_node),
        *_flag("vllm.num_engines", cluster.world_size // spec.tensor_parallel),
        *_flag("vllm.tensor_parallel_size", spec.tensor_parallel),
        *_flag("vllm.gpu_memory_utilization", 0.6),
        "--vllm.enable_sleep",
        "--ds.enable_sleep",
        "--train.colocate_all",
        *_flag("reward.remote_url", reward_file),
        *_flag("data.prompt_dataset", prompts),
        *_flag("data.input_key", "prompt"),
        *_flag("data.label_key", "answer"),
        "--data.apply_chat_template",
        *_flag("data.max_len", spec.max_prompt_length + spec.max_response_length),
        *_flag("rollout.max_new_tokens", spec.max_response_length),
        *_flag("rollout.batch_size", spec.prompt_batch),
        *_flag("rollout.n_samples_per_prompt", spec.rollouts),
        *_flag("rollout.micro_batch_size", split.per_device),
        *_flag("rollout.temperature", spec.temperature),
        *_flag("train.batch_size", spec.sample_batch),
        *_flag("train.micro_batch_size", split.per_device),
        *_flag("train.num_episodes", spec.episodes),
        *_flag("train.max_epochs", 1),
        *_flag("train.seed", spec.seed),
        *_flag("algo.advantage.estimator", estimator),
        *_flag("algo.kl.init_coef", spec.kl_coef),
        *_flag("actor.adam.lr", spec.learning_rate),
        *_flag("actor.lr_scheduler", SCHEDULES[spec.lr_schedule]),
        *_flag("actor.lr_warmup_ratio", spec.warmup),
        *_flag("ds.zero_stage", 3),
        *_flag("ds.param_dtype", "bf16"),
        "--actor.gradient_checkpointing_enable",
        "--ds.packing_samples",
        *_flag("ckpt.output_dir", spec.output_dir),
        *_flag("ckpt.path", openrlhf_checkpoints(spec.output_dir)),
        *_checkpoint_argv(spec.checkpoints),
    ]
    needed = prompts_needed(spec)
    if needed is not None:
        argv += _flag("data.max_samples", needed)
    if spec.kl_coef > 0:
        argv += [
            *_flag("ref.num_nodes", cluster.nodes),
            *_flag("ref.num_gpus_per_node", cluster.gpus_per_node),
        ]
    band = filter_range(spec)
    if band is not None:
        argv += ["--algo.dynamic_filtering_enable", "--algo.dynamic_filtering_range", *map(str, band)]
    if val is not None:
        argv += [*_flag("eval.dataset", val), *_flag("eval.steps", spec.val_steps)]
    return _with_extras(argv, spec.extra_args)


def _entrypoint(spec: RLSpec) -> tuple[str, ...]:
    """The launched program: OpenRLHF's own CLI, or skytrain's step-bounded runner of it where the data alone
    cannot make exactly ``max_steps`` steps (filtering, or a bound the episodes do not divide)."""
    if spec.max_steps > 0 and (filter_range(spec) is not None or spec.max_steps % spec.episodes):
        return ("python", "-m", "skytrain.openrlhf_entry", "--max-steps", str(spec.max_steps), "--")
    return ("python", "-m", "openrlhf.cli.train_ppo_ray")


def rl_command(spec: RLSpec, cluster: Cluster, *, ray_address: str | None = None) -> Command:
    """The RL launch: the OpenRLHF command locally, or a ``ray job submit`` of it to a cluster.

    For a Ray job the reward file and the prepared prompts are written into ``OUTPUT/ray_job/``, which is the
    job's working directory, so the workers find both by relative path.
    """
    ray = ray_address is not None
    target = prompts_target(spec, ray=ray)
    val = str(target.with_name(VAL_FILE)) if spec.val_tasks else None
    if not ray:
        argv = rl_argv(spec, cluster, reward_file=str(REWARD_FILE), prompts=str(target), val=val)
        return validate_openrlhf(Command((*_entrypoint(spec), *argv)), "train_ppo_ray", argv)
    argv = rl_argv(
        spec, cluster, reward_file=REWARD_FILE.name, prompts=PROMPTS_FILE, val=VAL_FILE if val else None
    )
    files = {str(target.parent / REWARD_FILE.name): REWARD_FILE.read_text(encoding="utf-8")}
    assert ray_address is not None
    command = ray_job_submit(ray_address, target.parent, (*_entrypoint(spec), *argv), files)
    return validate_openrlhf(command, "train_ppo_ray", argv)


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    write_jsonl(
        path, rows, ensure_ascii=True
    )  # atomic: a failed launch never leaves a half-written prompt file
    return path


def prepare_rl_prompts(spec: RLSpec, destination: Path, announce: Callable[[str], object]) -> Path:
    """Check the RL rows and their prompt lengths, bound them to the run size, and write OpenRLHF's prompts.

    Without filtering, ``--max-steps`` takes a seeded random sample of exactly the prompts the steps consume
    (a file in source order would otherwise give the first subsets only).
    """
    rows = fitted_rl_rows(spec, load_tokenizer(spec.model), spec.max_prompt_length, announce)
    needed = prompts_needed(spec)
    if needed is not None:
        if len(rows) < needed:
            raise SkyevalError(
                f"{spec.data} has {len(rows)} usable prompts; --max-steps {spec.max_steps} x --prompt-batch "
                f"{spec.prompt_batch} over {spec.episodes} episode(s) needs {needed} (raise --episodes)"
            )
        rows = random.Random(spec.seed).sample(rows, needed)
        announce(f"--max-steps {spec.max_steps}: {needed} of the prompts, sampled with seed {spec.seed}")
    openrlhf_resume_check(spec)
    if spec.val_tasks:
        val = load_val_rows(spec.val_tasks, data_dir=spec.val_data_dir, system_prompt=spec.system_prompt)
        _write_jsonl(destination.with_name(VAL_FILE), val)
    return _write_jsonl(destination, rows)
