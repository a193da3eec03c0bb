"""The library behind ``skytrain sft`` and ``skytrain rl``: plan a launch, print it, or carry it out.

A :class:`Launch` is what would happen: TRL in this process (one device) or a command (``accelerate launch``,
``deepspeed``, ``python -m openrlhf...``, ``ray job submit``), with the config it uses and what validated it.
Backends are looked up in tables keyed by name; each planner validates with the framework's own code.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skytrain import openrlhf, trl_backend
from skytrain.data import load_rl_rows, load_sft_rows
from skytrain.launch import Command, accelerate_command, accelerate_config, run, write_files
from skytrain.specs import Cluster, RLSpec, SFTSpec, spec_to_json

SPEC_FILE = "skytrain_spec.json"
ACCELERATE_FILE = "accelerate_config.json"


@dataclass(frozen=True)
class Launch:
    """A planned run: ``command`` to start, or ``in_process`` to call, plus the config for people to read."""

    summary: str
    config: dict[str, Any]
    command: Command
    in_process: Callable[[], trl_backend.TrainResult] | None = None
    prepare: tuple[Callable[[], object], ...] = field(default_factory=tuple)

    def describe(self) -> str:
        lines = [
            self.summary,
            f"command: {self.command.render()}",
            f"validated by: {self.command.validated_by}",
        ]
        lines += [f"writes: {path}" for path in self.command.files]
        lines += [f"note: {note}" for note in self.command.notes]
        if self.config:
            lines.append("config: " + json.dumps(self.config, indent=2, default=str))
        return "\n".join(lines)


@dataclass(frozen=True)
class LaunchOptions:
    """Launcher settings that are not part of the training spec."""

    hostfile: str | None = None  # DeepSpeed hostfile (OpenRLHF multi-node SFT)
    ray_address: str | None = None  # submit the OpenRLHF RL run as a Ray job to this cluster


def _trl_launch(
    spec: SFTSpec | RLSpec,
    cluster: Cluster,
    config: dict[str, Any],
    train: Callable[[], Any],
    check_data: Callable[[], object],
) -> Launch:
    out = Path(spec.output_dir)
    spec_path = out / SPEC_FILE
    files = {str(spec_path): json.dumps(spec_to_json(spec, cluster), indent=2) + "\n"}
    kind = "SFT" if isinstance(spec, SFTSpec) else f"RL ({spec.algo})"
    if cluster.world_size == 1:
        argv = ("python", "-m", "skytrain.trl_backend", str(spec_path))
        command = Command(argv, files, "TRL's config class")
        summary = f"TRL {kind} in this process (1 device)"
        return Launch(summary, config, command, in_process=train, prepare=(check_data,))
    bf16 = spec.precision != "fp32"  # "auto" resolves on the GPU machines; mixed precision is bf16 there
    accel = accelerate_command(
        cluster, out / ACCELERATE_FILE, spec_path, accelerate_config(cluster, bf16=bf16)
    )
    command = Command(accel.argv, {**files, **accel.files}, accel.validated_by, accel.notes)
    summary = f"TRL {kind} on {cluster.world_size} devices via accelerate ({cluster.distributed})"
    return Launch(summary, config, command, prepare=(check_data,))


def _check_trl_config(config_cls: Any, kwargs: dict[str, Any]) -> tuple[str, ...]:
    """Build TRL's own config dataclass (or PRIME's subclass of it) from ``kwargs``: it validates names and values.

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


PRIME_REPLICATED_NOTE = (
    "PRIME's implicit PRM (fp32 weights, gradients and AdamW state: 16 bytes per parameter) and its frozen "
    "reference are replicated on every device, not sharded by ZeRO-3/FSDP: about 18 bytes per parameter per "
    "device on top of the policy (a 7B model: ~126 GB)"
)


def _with_notes(launch: Launch, notes: tuple[str, ...]) -> Launch:
    command = launch.command
    return replace(launch, command=replace(command, notes=(*command.notes, *notes)))


def plan_sft_trl(spec: SFTSpec, cluster: Cluster, options: LaunchOptions) -> Launch:
    kwargs = trl_backend.sft_config_kwargs(spec, cluster)
    from trl.trainer.sft_config import SFTConfig

    notes = _check_trl_config(SFTConfig, kwargs)
    launch = _trl_launch(
        spec, cluster, kwargs, lambda: trl_backend.train_sft(spec, cluster), lambda: load_sft_rows(spec.data)
    )
    return _with_notes(launch, notes)


def plan_sft_openrlhf(spec: SFTSpec, cluster: Cluster, options: LaunchOptions) -> Launch:
    command = openrlhf.sft_command(spec, cluster, hostfile=options.hostfile)
    return Launch("OpenRLHF SFT (DeepSpeed launcher)", {}, command)


def plan_rl_trl(spec: RLSpec, cluster: Cluster, options: LaunchOptions) -> Launch:
    algo = trl_backend.rl_algo(spec.algo)
    kwargs = algo.config_kwargs(spec, cluster)
    notes = _check_trl_config(algo.classes()[0], kwargs)
    if spec.algo == "prime" and cluster.world_size > 1:
        notes = (*notes, PRIME_REPLICATED_NOTE)
    if spec.use_vllm and importlib.util.find_spec("vllm") is None:
        notes = (
            *notes,
            "vllm is not installed here: pip install 'skyeval[vllm]' on the GPU machines, or --no-vllm",
        )
    launch = _trl_launch(
        spec,
        cluster,
        kwargs,
        lambda: trl_backend.train_rl(spec, cluster),
        lambda: load_rl_rows(
            spec.data,
            prompt_key=spec.prompt_key,
            answer_key=spec.answer_key,
            system_prompt=spec.system_prompt,
        ),
    )
    return _with_notes(launch, notes)


def plan_rl_openrlhf(spec: RLSpec, cluster: Cluster, options: LaunchOptions) -> Launch:
    command = openrlhf.rl_command(spec, cluster, ray_address=options.ray_address)
    target = openrlhf.prompts_target(spec, ray=options.ray_address is not None)
    where = f"Ray job at {options.ray_address}" if options.ray_address else "this machine's Ray"
    note = f"the prompts are checked and written to {target} before launch"
    prepare = (lambda: openrlhf.prepare_rl_prompts(spec, target),)
    return _with_notes(Launch(f"OpenRLHF RL ({spec.algo}) on {where}", {}, command, prepare=prepare), (note,))


SFT_BACKENDS: dict[str, Callable[[SFTSpec, Cluster, LaunchOptions], Launch]] = {
    "trl": plan_sft_trl,
    "openrlhf": plan_sft_openrlhf,
}
RL_BACKENDS: dict[str, Callable[[RLSpec, Cluster, LaunchOptions], Launch]] = {
    "trl": plan_rl_trl,
    "openrlhf": plan_rl_openrlhf,
}


def plan(
    backend: str,
    spec: SFTSpec | RLSpec,
    cluster: Cluster = Cluster(),
    options: LaunchOptions = LaunchOptions(),
) -> Launch:
    """Plan ``spec`` on ``backend`` (validated; nothing is written or started)."""
    table: dict[str, Any] = SFT_BACKENDS if isinstance(spec, SFTSpec) else RL_BACKENDS
    planner = table.get(backend)
    if planner is None:
        raise SkyevalError(f"unknown backend {backend!r}; choose one of: {', '.join(sorted(table))}")
    launch: Launch = planner(spec, cluster, options)
    return launch


def execute(
    launch: Launch, announce: Callable[[str], object] = lambda _: None
) -> trl_backend.TrainResult | None:
    """Carry out a planned launch: check and prepare the data, announce, write the files, then train or run."""
    for step in launch.prepare:
        step()
    announce(f"{launch.summary}\n{launch.command.render()}")
    if launch.in_process is not None:
        write_files(launch.command)
        return launch.in_process()
    run(launch.command)
    return None
