"""The library behind ``skytrain sft`` and ``skytrain rl``: plan a launch, print it, or carry it out.

A :class:`Launch` is what would happen: TRL in this process (one device) or a command (``accelerate launch``,
``deepspeed``, ``python -m openrlhf...``, ``ray job submit``), with the config it uses, what validated it, and
the checks that run before it starts. Backends are entries of :data:`BACKENDS`; each planner validates with
the framework's own code, and each backend lists the flags it does not support and the settings only some of
its algorithms read (``--filter-range``, ``--prime-*``).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skytrain import openrlhf, trl_backend, trl_config
from skytrain.data import benchmark_warnings, load_sft_rows, spec_rl_rows
from skytrain.launch import Command, accelerate_command, accelerate_config, run, write_files
from skytrain.preflight import check_model
from skytrain.specs import Cluster, RLSpec, SFTSpec, Spec, changed_fields, spec_to_json

SPEC_FILE = "skytrain_spec.json"
ACCELERATE_FILE = "accelerate_config.json"

Announce = Callable[[str], object]


@dataclass(frozen=True)
class Launch:
    """A planned run: ``command`` to start, or ``in_process`` to call, plus the config for people to read."""

    summary: str
    config: dict[str, Any]
    command: Command
    in_process: Callable[[Announce], trl_backend.TrainResult] | None = None
    prepare: tuple[Callable[[Announce], object], ...] = field(default_factory=tuple)
    warnings: tuple[str, ...] = ()

    def describe(self) -> str:
        lines = [
            self.summary,
            f"command: {self.command.render()}",
            f"validated by: {self.command.validated_by}",
        ]
        lines += [f"writes: {path}" for path in self.command.files]
        lines += [f"note: {note}" for note in self.command.notes]
        lines += [f"warning: {warning}" for warning in self.warnings]
        if self.config:
            lines.append("config: " + json.dumps(self.config, indent=2, default=str))
        return "\n".join(lines)


@dataclass(frozen=True)
class LaunchOptions:
    """Launcher settings that are not part of the training spec."""

    hostfile: str | None = None  # DeepSpeed hostfile (OpenRLHF multi-node SFT)
    ray_address: str | None = None  # submit the OpenRLHF RL run as a Ray job to this cluster


def _check_inputs(spec: Spec) -> Callable[[Announce], object]:
    """Before launch: the model exists and every data row is well formed (one line otherwise)."""

    def check(announce: Announce) -> None:
        check_model(spec.model)
        if isinstance(spec, SFTSpec):
            rows = len(load_sft_rows(spec.data))
        else:
            rows = len(spec_rl_rows(spec))
        announce(f"data {spec.data}: {rows} rows checked")

    return check


def _trl_launch(
    spec: Spec, cluster: Cluster, config: dict[str, Any], train: Callable[[Announce], Any]
) -> Launch:
    out = Path(spec.output_dir)
    spec_path = out / SPEC_FILE
    files = {str(spec_path): json.dumps(spec_to_json(spec, cluster), indent=2) + "\n"}
    kind = "SFT" if isinstance(spec, SFTSpec) else f"RL ({spec.algo})"
    if cluster.world_size == 1:
        argv = ("python", "-m", "skytrain.trl_backend", str(spec_path))
        command = Command(argv, files, "TRL's config class")
        summary = f"TRL {kind} in this process (1 device)"
        return Launch(summary, config, command, in_process=train, prepare=(_check_inputs(spec),))
    bf16 = spec.precision != "fp32"  # "auto" resolves on the GPU machines; mixed precision is bf16 there
    accel = accelerate_command(
        cluster, out / ACCELERATE_FILE, spec_path, accelerate_config(cluster, bf16=bf16)
    )
    command = Command(accel.argv, {**files, **accel.files}, accel.validated_by, accel.notes)
    summary = f"TRL {kind} on {cluster.world_size} devices via accelerate ({cluster.distributed})"
    return Launch(summary, config, command, prepare=(_check_inputs(spec),))


def _with_notes(launch: Launch, notes: tuple[str, ...]) -> Launch:
    command = launch.command
    return replace(launch, command=replace(command, notes=(*command.notes, *notes)))


def _checkpoint_note(spec: Spec) -> str:
    every = spec.checkpoints.save_steps
    state = "weights and optimizer state" if spec.checkpoints.save_optimizer else "HF weights only"
    return f"checkpoints every {every} steps ({state}); see docs/training.md for the disk cost"


def plan_sft_trl(spec: SFTSpec, cluster: Cluster, options: LaunchOptions) -> Launch:
    kwargs = trl_config.sft_config_kwargs(spec, cluster)
    from trl.trainer.sft_config import SFTConfig

    notes = trl_config.check_config(SFTConfig, kwargs)
    launch = _trl_launch(
        spec, cluster, kwargs, lambda announce: trl_backend.train_sft(spec, cluster, announce=announce)
    )
    return _with_notes(launch, (*notes, _checkpoint_note(spec)))


def plan_sft_openrlhf(spec: SFTSpec, cluster: Cluster, options: LaunchOptions) -> Launch:
    command = openrlhf.sft_command(spec, cluster, hostfile=options.hostfile)
    target = openrlhf.sft_data_target(spec)
    note = f"the rows and their token lengths are checked and written to {target} before launch"
    prepare = (_check_inputs(spec), lambda announce: openrlhf.prepare_sft_data(spec, announce))
    launch = Launch("OpenRLHF SFT (DeepSpeed launcher)", {}, command, prepare=prepare)
    return _with_notes(launch, (note, _checkpoint_note(spec)))


def plan_rl_trl(spec: RLSpec, cluster: Cluster, options: LaunchOptions) -> Launch:
    kwargs = trl_config.rl_config_kwargs(spec, cluster)
    algo = trl_config.rl_algorithm(spec.algo)
    notes = trl_config.check_config(algo.load()[0], kwargs)
    if algo.multi_device_note and cluster.world_size > 1:
        notes = (*notes, algo.multi_device_note)
    if spec.use_vllm and importlib.util.find_spec("vllm") is None:
        notes = (
            *notes,
            "vllm is not installed here: pip install 'skyeval[vllm]' on the GPU machines, or --no-vllm",
        )
    launch = _trl_launch(
        spec, cluster, kwargs, lambda announce: trl_backend.train_rl(spec, cluster, announce=announce)
    )
    launch = replace(launch, warnings=tuple(benchmark_warnings(spec.val_tasks)))
    return _with_notes(launch, (*notes, _checkpoint_note(spec)))


def plan_rl_openrlhf(spec: RLSpec, cluster: Cluster, options: LaunchOptions) -> Launch:
    command = openrlhf.rl_command(spec, cluster, ray_address=options.ray_address)
    target = openrlhf.prompts_target(spec, ray=options.ray_address is not None)
    where = f"Ray job at {options.ray_address}" if options.ray_address else "this machine's Ray"
    steps = openrlhf.planned_steps(spec)
    size = f"{steps} steps" if steps is not None else "one pass over the prompts per episode"
    notes = (
        f"the prompts and their token lengths are checked and written to {target} before launch",
        f"run size: {size} of {spec.prompt_batch} prompts x {spec.rollouts} rollouts = {spec.sample_batch} samples",
        _checkpoint_note(spec),
    )
    prepare = (_check_inputs(spec), lambda announce: openrlhf.prepare_rl_prompts(spec, target, announce))
    launch = Launch(
        f"OpenRLHF RL ({spec.algo}) on {where}",
        {},
        command,
        prepare=prepare,
        warnings=tuple(benchmark_warnings(spec.val_tasks)),
    )
    return _with_notes(launch, notes)


@dataclass(frozen=True)
class Backend:
    """One training framework: its planners and the flags it does not support (flag name -> reason)."""

    plan_sft: Callable[[SFTSpec, Cluster, LaunchOptions], Launch]
    plan_rl: Callable[[RLSpec, Cluster, LaunchOptions], Launch]
    unsupported_sft: Mapping[str, str]
    unsupported_rl: Mapping[str, str]
    rl_algos: tuple[str, ...]
    algo_settings: Mapping[str, tuple[str, ...]]  # RLSpec fields only some --algo values read -> those


BACKENDS: dict[str, Backend] = {
    "trl": Backend(
        plan_sft_trl,
        plan_rl_trl,
        trl_config.UNSUPPORTED_SFT,
        trl_config.UNSUPPORTED_RL,
        tuple(trl_config.RL_ALGOS),
        trl_config.algo_settings(),
    ),
    "openrlhf": Backend(
        plan_sft_openrlhf,
        plan_rl_openrlhf,
        openrlhf.UNSUPPORTED_SFT,
        openrlhf.UNSUPPORTED_RL,
        tuple(openrlhf.ESTIMATORS),
        openrlhf.ALGO_SETTINGS,
    ),
}
DEFAULT_BACKEND = {"sft": "trl", "rl": "openrlhf"}


def rl_algos() -> tuple[str, ...]:
    """Every ``--algo`` some backend runs."""
    return tuple(dict.fromkeys(a for backend in BACKENDS.values() for a in backend.rl_algos))


def get_backend(name: str) -> Backend:
    backend = BACKENDS.get(name)
    if backend is None:
        raise SkyevalError(f"unknown backend {name!r}; choose one of: {', '.join(sorted(BACKENDS))}")
    return backend


def check_supported(name: str, spec: Spec, explicit: Mapping[str, str]) -> None:
    """Refuse explicitly passed flags the backend ignores (``explicit``: spec field or option -> flag text)."""
    backend = get_backend(name)
    table = backend.unsupported_sft if isinstance(spec, SFTSpec) else backend.unsupported_rl
    for option, flag in explicit.items():
        if option in table:
            raise SkyevalError(f"--backend {name} does not support {flag}: {table[option]}")
    if isinstance(spec, RLSpec):
        if spec.algo not in backend.rl_algos:
            raise SkyevalError(
                f"--backend {name} runs --algo {' or '.join(backend.rl_algos)}, not {spec.algo!r}"
            )
        _check_algo_settings(name, spec, explicit)


def _readers(spec_field: str) -> str:
    """Every backend and algorithm that reads ``spec_field``, for an error message."""
    readers = []
    for name, backend in BACKENDS.items():
        algos = backend.algo_settings.get(spec_field, backend.rl_algos)
        readers += [f"--backend {name} --algo {'/'.join(algos)}"] if algos else []
    return " and ".join(readers)


def _check_algo_settings(name: str, spec: RLSpec, explicit: Mapping[str, str]) -> None:
    """A setting only some algorithms read (``--filter-range``, ``--prime-*``), given to another one, is an error.

    Given means passed on the command line (option ``FIELD`` or ``FIELD_SUB``: ``--prime-beta`` sets
    ``prime.beta``) or set away from its default in the spec.
    """
    for spec_field, algos in get_backend(name).algo_settings.items():
        if spec.algo in algos:
            continue
        flags = [
            f for option, f in explicit.items() if option == spec_field or option.startswith(f"{spec_field}_")
        ]
        if flags or changed_fields(spec, [spec_field]):
            given = ", ".join(flags) or f"a {spec_field} setting"
            raise SkyevalError(
                f"--backend {name} --algo {spec.algo} does not read {given}; it is read by {_readers(spec_field)}"
            )


def plan(
    backend: str,
    spec: Spec,
    cluster: Cluster = Cluster(),
    options: LaunchOptions = LaunchOptions(),
    explicit: Mapping[str, str] | None = None,
) -> Launch:
    """Plan ``spec`` on ``backend`` (validated; nothing is written or started)."""
    check_supported(backend, spec, explicit or {})
    chosen = get_backend(backend)
    if isinstance(spec, SFTSpec):
        return chosen.plan_sft(spec, cluster, options)
    return chosen.plan_rl(spec, cluster, options)


def execute(launch: Launch, announce: Announce = lambda _: None) -> trl_backend.TrainResult | None:
    """Carry out a planned launch: check and prepare the inputs, announce, write the files, then train or run."""
    for warning in launch.warnings:
        announce(f"warning: {warning}")
    for step in launch.prepare:
        step(announce)
    announce(f"{launch.summary}\n{launch.command.render()}")
    if launch.in_process is not None:
        write_files(launch.command)
        return launch.in_process(announce)
    run(launch.command)
    return None


def dry_run_notes(spec: Spec) -> list[str]:
    """Dry run: check the training data now when it exists (a bad row is an error); say what is missing.

    A recipe's later steps read files that earlier steps write, so a missing input is a note, not an error.
    """
    notes = []
    if not Path(spec.data).is_file():
        notes.append(
            f"data {spec.data} does not exist (yet): its rows and token lengths are checked at launch"
        )
    elif isinstance(spec, SFTSpec):
        notes.append(f"data {spec.data}: {len(load_sft_rows(spec.data))} rows checked")
    else:
        notes.append(f"data {spec.data}: {len(spec_rl_rows(spec))} rows checked")
    try:
        check_model(spec.model)
    except SkyevalError as err:
        notes.append(f"{err} (yet): checked again at launch")
    return notes
