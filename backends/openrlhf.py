"""OpenRLHF 0.11 adapter: specs -> ``openrlhf.cli.train_sft`` / ``openrlhf.cli.train_ppo_ray`` command lines.

Flags are the dotted names OpenRLHF uses since 0.10.2. ``validate_openrlhf`` checks an argv with OpenRLHF's own
argument parser and its own post-parse checks: both live in the ``if __name__ == "__main__":`` block of the CLI
module (no importable function builds them), so the block is read from the installed OpenRLHF source, its
``parse_args()`` pointed at our argv and its final ``train(args)`` left out. Only that installed library code
is compiled; the parser part needs nothing but the standard library, the checks import ``openrlhf.utils``
(torch, pylatexenc) and are skipped with a note when those are missing.

``--algo prime`` here is RLOO on the outcome reward plus PRIME's accuracy-band prompt filtering: prompts whose
rollouts are all right or all wrong (mean reward outside (0.2, 0.8) with 4 rollouts) are dropped and replaced
by fresh prompts, which is how OpenRLHF oversamples. PRIME's implicit process reward model is NOT part of
OpenRLHF and is not emulated.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
from dataclasses import replace
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.jsonl import write_jsonl
from skytrain.data import load_rl_rows
from skytrain.launch import Command, parse_quietly, ray_job_submit
from skytrain.specs import Cluster, RLSpec, SFTSpec, split_batch

REWARD_FILE = Path(__file__).with_name("openrlhf_reward.py")
PROMPTS_FILE = "openrlhf_prompts.jsonl"
PRIME_FILTER = (0.2, 0.8)
ESTIMATORS = {"rloo": "rloo", "prime": "rloo"}


def _flag(name: str, value: Any) -> list[str]:
    return [f"--{name}", str(value)]


def sft_argv(spec: SFTSpec, cluster: Cluster) -> list[str]:
    """Arguments of ``openrlhf.cli.train_sft`` for chat ``messages`` rows (loss on the last assistant turn)."""
    split = split_batch(spec.global_batch, cluster.world_size, spec.per_device_max)
    argv = [
        *_flag("model.model_name_or_path", spec.model),
        *_flag("data.dataset", spec.data),
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
        *_flag("ckpt.path", str(Path(spec.output_dir) / "checkpoints")),
    ]
    if spec.gradient_checkpointing:
        argv.append("--model.gradient_checkpointing_enable")
    if spec.packing:
        argv.append("--ds.packing_samples")
    if spec.save_steps:
        argv += _flag("ckpt.save_steps", spec.save_steps)
    if spec.chat_template:
        argv += _flag("data.tokenizer_chat_template", Path(spec.chat_template).read_text(encoding="utf-8"))
    return argv


def sft_command(spec: SFTSpec, cluster: Cluster, *, hostfile: str | None = None) -> Command:
    """``deepspeed --module openrlhf.cli.train_sft ...`` (multi-node through a DeepSpeed hostfile)."""
    if spec.epochs != int(spec.epochs):
        raise SkyevalError("OpenRLHF trains whole epochs; pass an integer --epochs")
    if spec.max_steps > 0:
        raise SkyevalError(
            "OpenRLHF train_sft has no max-steps option; use --backend trl for step-limited runs"
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


def prompts_target(spec: RLSpec, *, ray: bool) -> Path:
    """Where the checked prompts go before launch: beside the outputs, or in the Ray job's working directory."""
    return Path(spec.output_dir) / ("ray_job" if ray else "") / PROMPTS_FILE


def rl_argv(spec: RLSpec, cluster: Cluster, *, reward_file: str, prompts: str) -> list[str]:
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
        *_flag("ds.zero_stage", 3),
        *_flag("ds.param_dtype", "bf16"),
        "--actor.gradient_checkpointing_enable",
        "--ds.packing_samples",
        *_flag("ckpt.output_dir", spec.output_dir),
        *_flag("ckpt.path", str(Path(spec.output_dir) / "checkpoints")),
        "--ckpt.save_hf",
    ]
    if spec.kl_coef > 0:
        argv += [
            *_flag("ref.num_nodes", cluster.nodes),
            *_flag("ref.num_gpus_per_node", cluster.gpus_per_node),
        ]
    filter_range = spec.filter_range or (PRIME_FILTER if spec.algo == "prime" else None)
    if filter_range is not None:
        argv += ["--algo.dynamic_filtering_enable", "--algo.dynamic_filtering_range", *map(str, filter_range)]
    return argv


def rl_command(spec: RLSpec, cluster: Cluster, *, ray_address: str | None = None) -> Command:
    """The RL launch: ``python -m openrlhf.cli.train_ppo_ray ...`` locally, or a ``ray job submit`` to a cluster.

    For a Ray job the reward file and the prepared prompts are written into ``OUTPUT/ray_job/``, which is the
    job's working directory, so the workers find both by relative path.
    """
    if spec.max_steps > 0:
        raise SkyevalError("OpenRLHF train_ppo_ray has no max-steps option; bound the run with --episodes")
    if ray_address is None:
        reward, prompts = str(REWARD_FILE), str(prompts_target(spec, ray=False))
        argv = rl_argv(spec, cluster, reward_file=reward, prompts=prompts)
        command = Command(("python", "-m", "openrlhf.cli.train_ppo_ray", *argv))
        return validate_openrlhf(command, "train_ppo_ray", argv)
    job_dir = prompts_target(spec, ray=True).parent
    argv = rl_argv(spec, cluster, reward_file=REWARD_FILE.name, prompts=PROMPTS_FILE)
    files = {str(job_dir / REWARD_FILE.name): REWARD_FILE.read_text(encoding="utf-8")}
    command = ray_job_submit(
        ray_address, job_dir, ("python", "-m", "openrlhf.cli.train_ppo_ray", *argv), files
    )
    return validate_openrlhf(command, "train_ppo_ray", argv)


def prepare_rl_prompts(spec: RLSpec, destination: Path) -> Path:
    """Check the RL rows and write them as OpenRLHF prompts: ``prompt`` chat messages and a string ``answer``."""
    rows = load_rl_rows(
        spec.data, prompt_key=spec.prompt_key, answer_key=spec.answer_key, system_prompt=spec.system_prompt
    )
    write_jsonl(destination, rows, ensure_ascii=True)
    return destination


# --- validation with OpenRLHF's own parser --------------------------------------------------------------------


def _main_block(module: str) -> tuple[list[ast.stmt], list[ast.stmt]] | None:
    """The ``__main__`` block of ``openrlhf.cli.<module>`` split at ``args = parser.parse_args()``."""
    try:
        spec = importlib.util.find_spec(f"openrlhf.cli.{module}")
    except ModuleNotFoundError:
        return None
    if spec is None or spec.origin is None:
        return None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    block = next(
        (
            node
            for node in tree.body
            if isinstance(node, ast.If)
            and "__main__" in ast.unparse(node.test)
            and "__name__" in ast.unparse(node.test)
        ),
        None,
    )
    if block is None:
        raise SkyevalError(
            f"openrlhf.cli.{module} has no __main__ block: this OpenRLHF version is not supported"
        )
    split = next((i for i, stmt in enumerate(block.body) if "parser.parse_args()" in ast.unparse(stmt)), None)
    if split is None:
        raise SkyevalError(
            f"openrlhf.cli.{module} does not call parser.parse_args(): unsupported OpenRLHF version"
        )
    parse = [*block.body[:split], ast.parse("args = parser.parse_args(_skytrain_argv)").body[0]]
    checks = [stmt for stmt in block.body[split + 1 :] if ast.unparse(stmt).strip() != "train(args)"]
    return parse, checks


def _run_block(statements: list[ast.stmt], namespace: dict[str, Any], where: str) -> None:
    code = compile(ast.fix_missing_locations(ast.Module(body=statements, type_ignores=[])), where, "exec")
    exec(code, namespace)  # noqa: S102 - installed OpenRLHF source, never model text


def validate_openrlhf(command: Command, module: str, argv: list[str]) -> Command:
    """Check ``argv`` with OpenRLHF's parser (and its post-parse assertions when ``openrlhf.utils`` imports)."""
    import argparse
    import datetime
    import os

    blocks = _main_block(module)
    if blocks is None:
        return replace(command, validated_by="not validated (openrlhf is not installed)")
    parse, checks = blocks
    namespace: dict[str, Any] = {
        "argparse": argparse,
        "datetime": datetime.datetime,
        "os": os,
        "_skytrain_argv": argv,
        "__name__": f"skytrain_validate_{module}",
    }
    where = f"<openrlhf.cli.{module} __main__>"
    parse_quietly(lambda: _run_block(parse, namespace, where), f"OpenRLHF {module}")
    try:
        import openrlhf.utils.config  # noqa: F401 - its package imports torch and pylatexenc
    except ImportError as err:
        note = f"OpenRLHF's post-parse checks skipped: {err}"
        return replace(command, validated_by=f"OpenRLHF {module} parser", notes=(*command.notes, note))
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            _run_block(checks, namespace, where)
    except AssertionError as err:
        raise SkyevalError(f"OpenRLHF {module} rejects the command: {err}") from None
    warnings = tuple(f"OpenRLHF: {line}" for line in printed.getvalue().splitlines() if line.strip())
    return replace(
        command, validated_by=f"OpenRLHF {module} parser and checks", notes=(*command.notes, *warnings)
    )
