"""What a training run is, as frozen values: the cluster shape, the SFT run and the RL run.

Specs are pure data. Backends turn them into a framework config (TRL) or a command line (OpenRLHF); the CLI
builds them from flags and the recipes from TOML. A spec is written next to its run as ``skytrain_spec.json``.

A training step means the same on every backend: one optimizer step over one batch (SFT: ``global_batch``
sequences; RL: one rollout batch of ``prompt_batch`` prompts x ``rollouts`` samples). ``max_steps`` counts
those steps everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from skyeval.errors import SkyevalError
from skyeval.jsonl import read_json, write_json

Distributed = Literal["zero3", "fsdp", "ddp"]
Precision = Literal["auto", "bf16", "fp32"]
LRSchedule = Literal["constant", "cosine", "linear"]


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
class Checkpoints:
    """Interval checkpoints: HF-format weights every ``save_steps`` steps; optimizer state only on request.

    ``resume`` continues from the newest checkpoint in the output folder; it needs ``save_optimizer`` (an
    exact continuation: optimizer moments, LR schedule, data position), so a resumable run says so up front.
    """

    save_steps: int = 50
    save_optimizer: bool = False
    resume: bool = False


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
    precision: Precision = "auto"
    seed: int = 42
    checkpoints: Checkpoints = Checkpoints()
    drop_long: bool = False  # drop (and count) rows longer than max_length instead of refusing the data
    extra_args: tuple[str, ...] = ()  # framework arguments as argv tokens ("--key", "value", "--flag")


#: PRIME's accuracy band: prompts whose mean reward is strictly inside are kept (the paper's code: 0.2 <= acc <= 0.8)
PRIME_FILTER = (0.2, 0.8)
#: The PRIME settings that are a choice, and their values.
PRIME_CHOICES: dict[str, tuple[str, ...]] = {
    "update": ("after", "before"),
    "reward_norm": ("batch_norm", "none"),
}


def _prime(default: Any, about: str) -> Any:
    return field(default=default, metadata={"help": about})


@dataclass(frozen=True)
class PrimeSettings:
    """PRIME's implicit-PRM settings (``--backend trl --algo prime``); defaults: the paper and its run script.

    Each field is the ``--prime-NAME`` flag and the ``prime_NAME`` field of ``skytrain.prime.PrimeConfig``
    (the help text is theirs). The accuracy band is ``RLSpec.filter_range`` (default :data:`PRIME_FILTER`).
    """

    # reward_model.prime_model.beta_train
    beta: float = _prime(0.05, "beta of the implicit reward r_t = beta log(pi_phi/pi_ref).")
    # reward_model.prime_model.optim.lr
    lr: float = _prime(1e-6, "learning rate of the implicit PRM.")
    # reward_model.rm_coef, verifier.reward_coef
    process_coef: float = _prime(5.0, "weight of the process rewards.")
    outcome_coef: float = _prime(5.0, "weight of the outcome reward.")
    # reward_model.prime_model.update
    update: Literal["after", "before"] = _prime(
        "after",
        "after = rewards from the PRM's forward before its update (one forward); before = update, then score.",
    )
    # reward_model.prime_norm
    reward_norm: Literal["batch_norm", "none"] = _prime(
        "batch_norm",
        "batch_norm = divide the process rewards by the batch's largest |return|; none = as they are.",
    )
    # reward_model.prime_model.optim.grad_clip
    grad_clip: float = _prime(10.0, "gradient-norm clip of the PRM update.")


@dataclass(frozen=True)
class RLSpec:
    """RL with skyeval's grader as the outcome reward. Batches count prompts; samples = prompts x rollouts."""

    model: str
    data: str
    output_dir: str
    algo: str = "rloo"
    rollouts: int = 8
    prompt_batch: int = 256
    learning_rate: float = 1e-6
    lr_schedule: LRSchedule = "constant"
    warmup: float = 0.0  # ratio of all steps
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
    precision: Precision = "auto"
    seed: int = 42
    checkpoints: Checkpoints = Checkpoints(save_steps=15)
    drop_long: bool = False  # drop (and count) prompts longer than max_prompt_length instead of refusing
    val_tasks: tuple[str, ...] = ()  # skyeval task names or file:PATH, scored every ``val_steps`` steps
    val_steps: int = 15
    val_data_dir: str | None = None
    extra_args: tuple[str, ...] = ()
    prime: PrimeSettings = PrimeSettings()  # read by --backend trl --algo prime only

    @property
    def sample_batch(self) -> int:
        return self.prompt_batch * self.rollouts


Spec = SFTSpec | RLSpec


def changed_fields(spec: RLSpec, names: Iterable[str]) -> list[str]:
    """Which of the fields ``names`` ``spec`` sets away from their defaults (settings some algorithms ignore)."""
    defaults = {f.name: f.default for f in fields(RLSpec)}
    return [name for name in names if getattr(spec, name) != defaults[name]]


def spec_to_json(spec: Spec, cluster: Cluster) -> dict[str, Any]:
    kind = "sft" if isinstance(spec, SFTSpec) else "rl"
    return {"kind": kind, "spec": asdict(spec), "cluster": asdict(cluster)}


def write_spec(spec: Spec, cluster: Cluster, path: Path) -> Path:
    """Write what :func:`read_spec` reads (atomically, as every JSON file of the project is written)."""
    write_json(path, spec_to_json(spec, cluster))
    return path


def _check_fields(cls: type, values: dict[str, Any], where: str) -> None:
    unknown = set(values) - {f.name for f in fields(cls)}
    if unknown:
        raise SkyevalError(f"{where}: unknown spec fields {sorted(unknown)}")


def read_spec(path: Path) -> tuple[Spec, Cluster]:
    """Read a spec written by :func:`write_spec` (unknown keys are an error: nothing is silently dropped)."""
    row = read_json(path)
    kinds: dict[str, type[SFTSpec] | type[RLSpec]] = {"sft": SFTSpec, "rl": RLSpec}
    cls = kinds.get(row.get("kind", ""))
    if cls is None:
        raise SkyevalError(f"{path}: 'kind' must be one of {sorted(kinds)}")
    values = dict(row.get("spec", {}))
    _check_fields(cls, values, str(path))
    checkpoints = dict(values.pop("checkpoints", {}))
    _check_fields(Checkpoints, checkpoints, f"{path} (checkpoints)")
    nested: dict[str, Any] = {"checkpoints": Checkpoints(**checkpoints)}
    if cls is RLSpec:
        prime = dict(values.pop("prime", {}))
        _check_fields(PrimeSettings, prime, f"{path} (prime)")
        nested["prime"] = PrimeSettings(**prime)
    for key in ("filter_range", "val_tasks", "extra_args"):
        if values.get(key) is not None:
            values[key] = tuple(values[key])
    spec: Spec = cls(**values, **nested)
    return spec, Cluster(**row.get("cluster", {}))
