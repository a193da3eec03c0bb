"""What a training run is, as frozen values: the cluster shape, the SFT run and the RL run.

Specs are pure data. Backends turn them into a framework config (TRL) or a command line (OpenRLHF); the CLI
builds them from flags and the recipes from TOML. A spec is written next to its run as ``skytrain_spec.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

from skyeval.errors import SkyevalError

Distributed = Literal["zero3", "fsdp", "ddp"]
RLAlgo = Literal["rloo", "grpo", "prime"]


@dataclass(frozen=True)
class Cluster:
    """Where a run goes: ``nodes`` machines with ``gpus_per_node`` accelerators each (1 x 1 = in-process)."""

    nodes: int = 1
    gpus_per_node: int = 1
    distributed: Distributed = "zero3"
    main_process_ip: str | None = None
    main_process_port: int = 29500
    machine_rank: int = 0

    @property
    def world_size(self) -> int:
        return self.nodes * self.gpus_per_node


@dataclass(frozen=True)
class BatchSplit:
    """A global batch as ``per_device x grad_accum x world_size``."""

    per_device: int
    grad_accum: int
    world_size: int

    @property
    def global_batch(self) -> int:
        return self.per_device * self.grad_accum * self.world_size


def split_batch(global_batch: int, world_size: int, per_device_max: int) -> BatchSplit:
    """Split ``global_batch`` over ``world_size`` devices with the largest per-device batch <= ``per_device_max``."""
    if global_batch < 1 or world_size < 1 or per_device_max < 1:
        raise SkyevalError(
            f"batch sizes must be positive (global {global_batch}, world {world_size}, per-device {per_device_max})"
        )
    if global_batch % world_size:
        raise SkyevalError(f"global batch {global_batch} is not divisible by the world size {world_size}")
    per_rank = global_batch // world_size
    per_device = max(d for d in range(1, min(per_device_max, per_rank) + 1) if per_rank % d == 0)
    return BatchSplit(per_device=per_device, grad_accum=per_rank // per_device, world_size=world_size)


@dataclass(frozen=True)
class SFTSpec:
    """Supervised fine-tuning on chat ``messages`` rows. Defaults are the Sky-T1 recipe (3 epochs, lr 1e-5, 96)."""

    model: str
    data: str
    output_dir: str
    epochs: float = 3.0
    learning_rate: float = 1e-5
    global_batch: int = 96
    per_device_max: int = 1
    max_length: int = 16384
    packing: bool = False
    assistant_only_loss: bool = True
    chat_template: str | None = (
        None  # a Jinja file with {% generation %} markers, for templates TRL cannot patch
    )
    max_steps: int = -1
    warmup: float = 0.1
    gradient_checkpointing: bool = True
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    seed: int = 42
    save_steps: int | None = None  # None: save at the end of each epoch


@dataclass(frozen=True)
class PrimeSettings:
    """PRIME's own settings (``--backend trl --algo prime``); defaults from the paper and its released run script.

    The accuracy band is ``RLSpec.filter_range`` (default (0.2, 0.8) under ``--algo prime``).
    """

    beta: float = 0.05  # implicit reward scale (reward_model.prime_model.beta_train)
    lr: float = 1e-6  # PRM learning rate (reward_model.prime_model.optim.lr)
    process_coef: float = 5.0  # weight of the process rewards (reward_model.rm_coef)
    outcome_coef: float = 5.0  # weight of the outcome reward (verifier.reward_coef)
    update: Literal["after", "before"] = "after"  # rewards from the PRM before / after its update
    reward_norm: Literal["batch_norm", "none"] = "batch_norm"  # reward_model.prime_norm
    grad_clip: float = 10.0  # PRM gradient-norm clip (reward_model.prime_model.optim.grad_clip)


@dataclass(frozen=True)
class RLSpec:
    """RL with skyeval's grader as the outcome reward. Batches count prompts; samples = prompts x rollouts."""

    model: str
    data: str
    output_dir: str
    algo: RLAlgo = "rloo"
    rollouts: int = 8
    prompt_batch: int = 256
    learning_rate: float = 1e-6
    max_prompt_length: int = 1024
    max_response_length: int = 8192
    temperature: float = 1.0
    kl_coef: float = 0.0
    episodes: int = 1
    max_steps: int = -1
    per_device_max: int = 1
    filter_range: tuple[float, float] | None = None  # keep prompts whose mean reward is strictly inside
    prompt_key: str = "prompt"
    answer_key: str = "answer"
    system_prompt: str | None = None
    use_vllm: bool = True
    tensor_parallel: int = 1
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    seed: int = 42
    save_steps: int | None = None  # TRL: checkpoint every N steps (None: no intermediate checkpoints)
    resume: bool = False  # TRL: continue from the last checkpoint-N in output_dir
    prime: PrimeSettings = PrimeSettings()

    @property
    def sample_batch(self) -> int:
        return self.prompt_batch * self.rollouts


def spec_to_json(spec: SFTSpec | RLSpec, cluster: Cluster) -> dict[str, Any]:
    kind = "sft" if isinstance(spec, SFTSpec) else "rl"
    return {"kind": kind, "spec": asdict(spec), "cluster": asdict(cluster)}


def write_spec(spec: SFTSpec | RLSpec, cluster: Cluster, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(spec_to_json(spec, cluster), indent=2) + "\n", encoding="utf-8")
    return path


def read_spec(path: Path) -> tuple[SFTSpec | RLSpec, Cluster]:
    """Read a spec written by :func:`write_spec` (unknown keys are an error: nothing is silently dropped)."""
    try:
        row = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise SkyevalError(f"cannot read training spec {path}: {err}") from err
    kinds: dict[str, type[SFTSpec] | type[RLSpec]] = {"sft": SFTSpec, "rl": RLSpec}
    cls = kinds.get(row.get("kind", ""))
    if cls is None:
        raise SkyevalError(f"{path}: 'kind' must be one of {sorted(kinds)}")
    values = dict(row.get("spec", {}))
    unknown = set(values) - {f.name for f in fields(cls)}
    if unknown:
        raise SkyevalError(f"{path}: unknown spec fields {sorted(unknown)}")
    if values.get("filter_range") is not None:
        values["filter_range"] = tuple(values["filter_range"])
    if isinstance(values.get("prime"), dict):
        prime = values["prime"]
        unknown = set(prime) - {f.name for f in fields(PrimeSettings)}
        if unknown:
            raise SkyevalError(f"{path}: unknown spec fields {sorted('prime.' + k for k in unknown)}")
        values["prime"] = PrimeSettings(**prime)
    return cls(**values), Cluster(**row.get("cluster", {}))
