"""Commands as values: build, validate, print and run them. Accelerate configs and Ray job submission live here.

A :class:`Command` is an argv plus the files it needs written first (configs, specs, the reward file). Dry runs
print it; real runs write the files and execute it. Nothing here trains: the launched frameworks do.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skytrain.specs import Cluster


@dataclass(frozen=True)
class Command:
    """One process to start, the files to write before it, and what checked it."""

    argv: tuple[str, ...]
    files: Mapping[str, str] = field(default_factory=dict)  # path -> text
    validated_by: str = "not validated"
    notes: tuple[str, ...] = ()

    def render(self) -> str:
        return shlex.join(self.argv)


def write_files(command: Command) -> None:
    for path, text in command.files.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")


def local_executable(name: str) -> str:
    """``python`` and tools installed beside it (accelerate, deepspeed, skydata...) from this environment."""
    if name == "python":
        return sys.executable
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else name


def run(command: Command) -> None:
    """Write the command's files, run it in the foreground and fail with one line when it fails."""
    write_files(command)
    argv = (local_executable(command.argv[0]), *command.argv[1:])
    try:
        completed = subprocess.run(argv, check=False)  # noqa: S603 - argv built by us, no shell
    except FileNotFoundError as err:
        raise SkyevalError(f"cannot start {command.argv[0]!r}: is it installed and on PATH?") from err
    if completed.returncode != 0:
        raise SkyevalError(f"{command.argv[0]} exited with status {completed.returncode}: {command.render()}")


_SECRET_NAMES = {"key", "token", "secret", "password", "api_key"}


def is_secret_name(name: str) -> bool:
    """An option that carries a credential (``logger.wandb.key``, ``hub_token``): never on a command line."""
    last = name.rsplit(".", 1)[-1].lower()
    return last in _SECRET_NAMES or last.endswith(("_token", "_api_key", "_secret", "_password"))


def extra_arg_tokens(pairs: Sequence[str], passthrough: Sequence[str] = ()) -> tuple[str, ...]:
    """``--extra-arg KEY=VALUE`` / ``KEY`` (a switch) and ``-- ...`` pass-through as framework argv tokens.

    A credential option is refused: command lines and spec files are printed and written, so secrets go
    through the environment (``WANDB_API_KEY``, ``HF_TOKEN``).
    """
    tokens: list[str] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().removeprefix("--")
        if not key:
            raise SkyevalError(f"--extra-arg expects KEY=VALUE or KEY, got {pair!r}")
        tokens += [f"--{key}", value] if sep else [f"--{key}"]
    tokens += list(passthrough)
    for token in tokens:
        if token.startswith("--") and is_secret_name(token[2:].split("=", 1)[0]):
            raise SkyevalError(
                f"{token.split('=', 1)[0]} carries a credential: set it in the environment "
                "(e.g. WANDB_API_KEY, HF_TOKEN), never on the command line"
            )
    return tuple(tokens)


def parse_quietly(parse: Callable[[], Any], what: str) -> Any:
    """Call an argparse-based ``parse``; turn its usage error (SystemExit) into one SkyevalError line."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            return parse()
    except SystemExit as err:
        lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
        raise SkyevalError(f"{what} rejects the command: {lines[-1] if lines else err}") from None


# --- accelerate -------------------------------------------------------------------------------------------


def _deepspeed_zero3(cluster: Cluster) -> dict[str, Any]:
    return {
        "distributed_type": "DEEPSPEED",
        "deepspeed_config": {
            "deepspeed_multinode_launcher": "standard",
            "offload_optimizer_device": "none",
            "offload_param_device": "none",
            "zero3_init_flag": True,
            "zero3_save_16bit_model": True,
            "zero_stage": 3,
        },
    }


def _fsdp2(cluster: Cluster) -> dict[str, Any]:
    return {
        "distributed_type": "FSDP",
        "fsdp_config": {
            "fsdp_version": 2,
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_offload_params": False,
            "fsdp_reshard_after_forward": True,
            "fsdp_state_dict_type": "FULL_STATE_DICT",
            "fsdp_activation_checkpointing": False,
        },
    }


def _ddp(cluster: Cluster) -> dict[str, Any]:
    return {"distributed_type": "MULTI_GPU"}


ACCELERATE_STRATEGIES: dict[str, Callable[[Cluster], dict[str, Any]]] = {
    "zero3": _deepspeed_zero3,
    "fsdp": _fsdp2,
    "ddp": _ddp,
}


def accelerate_config(cluster: Cluster, *, bf16: bool = True) -> dict[str, Any]:
    """An accelerate config file (as a dict) for ``cluster`` with DeepSpeed ZeRO-3, FSDP2 or plain DDP."""
    strategy = ACCELERATE_STRATEGIES.get(cluster.distributed)
    if strategy is None:
        raise SkyevalError(
            f"unknown --distributed {cluster.distributed!r}; choose {sorted(ACCELERATE_STRATEGIES)}"
        )
    return {
        "compute_environment": "LOCAL_MACHINE",
        "debug": False,
        **strategy(cluster),
        "machine_rank": cluster.machine_rank,
        "main_training_function": "main",
        "mixed_precision": "bf16" if bf16 else "no",
        "num_machines": cluster.nodes,
        "num_processes": cluster.world_size,
        "rdzv_backend": "static",
        "same_network": True,
        "use_cpu": False,
    }


def accelerate_command(
    cluster: Cluster, config_path: Path, spec_path: Path, config: dict[str, Any]
) -> Command:
    """``accelerate launch --config_file ... -m skytrain.trl_backend SPEC.json``, checked by accelerate itself."""
    argv = [
        "accelerate",
        "launch",
        "--config_file",
        str(config_path),
        "--num_processes",
        str(cluster.world_size),
        "--num_machines",
        str(cluster.nodes),
        "--machine_rank",
        str(cluster.machine_rank),
        "--main_process_port",
        str(cluster.main_process_port),
    ]
    if cluster.nodes > 1:
        if not cluster.main_process_ip:
            raise SkyevalError("multi-node runs need --main-process-ip (the address of the rank-0 machine)")
        argv += ["--main_process_ip", cluster.main_process_ip]
    argv += ["-m", "skytrain.trl_backend", str(spec_path)]
    command = Command(
        argv=tuple(argv),
        files={str(config_path): json.dumps(config, indent=2) + "\n"},
        notes=(f"run the same command on every machine with --machine-rank 0..{cluster.nodes - 1}",)
        if cluster.nodes > 1
        else (),
    )
    return validate_accelerate(command, config)


def validate_accelerate(command: Command, config: dict[str, Any]) -> Command:
    """Parse the argv with accelerate's own ``launch`` parser and the config with accelerate's config class."""
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.commands.launch import launch_command_parser

    args = parse_quietly(
        lambda: launch_command_parser().parse_args(list(command.argv[2:])), "accelerate launch"
    )
    if not args.module or args.training_script != "skytrain.trl_backend":
        raise SkyevalError("accelerate launch must run the module skytrain.trl_backend")
    try:
        ClusterConfig(**config)
    except (TypeError, ValueError) as err:
        raise SkyevalError(f"accelerate rejects the generated config: {err}") from err
    return Command(command.argv, command.files, "accelerate's launch parser and ClusterConfig", command.notes)


# --- Ray -------------------------------------------------------------------------------------------------


def ray_job_submit(
    address: str, working_dir: Path, entrypoint: tuple[str, ...], files: Mapping[str, str]
) -> Command:
    """``ray job submit --address ... --working-dir DIR -- ENTRYPOINT``: DIR (with the reward file) ships to the job."""
    runtime_env = {"env_vars": {"TOKENIZERS_PARALLELISM": "true"}}
    argv = (
        "ray",
        "job",
        "submit",
        "--address",
        address,
        "--working-dir",
        str(working_dir),
        "--runtime-env-json",
        json.dumps(runtime_env),
        "--",
        *entrypoint,
    )
    return Command(argv=argv, files=files)
