"""The ``skytrain`` command: thin click wrappers over :mod:`skytrain.api` and :mod:`skytrain.recipes`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any

import click

from skyeval.clickutil import ErrorGroup
from skyeval.errors import SkyevalError
from skytrain import api, recipes
from skytrain.specs import Cluster, PrimeSettings, RLSpec, SFTSpec


@click.group(cls=ErrorGroup)
@click.version_option(package_name="skyeval")
def main() -> None:
    """Launch SFT and RL runs through TRL or OpenRLHF with skyeval's grader as the reward."""


def _cluster_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--nodes", default=1, show_default=True, help="Machines in the run."),
        click.option("--gpus-per-node", default=1, show_default=True, help="Accelerators per machine."),
        click.option(
            "--distributed",
            type=click.Choice(["zero3", "fsdp", "ddp"]),
            default="zero3",
            show_default=True,
            help="TRL multi-device strategy (accelerate config): DeepSpeed ZeRO-3, FSDP2 or DDP.",
        ),
        click.option("--main-process-ip", default=None, help="Address of the rank-0 machine (multi-node)."),
        click.option("--main-process-port", default=29500, show_default=True),
        click.option(
            "--machine-rank", default=0, show_default=True, help="This machine's rank (accelerate)."
        ),
        click.option(
            "--dry-run", is_flag=True, help="Print and validate the command and config; start nothing."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _cluster(kw: dict[str, Any]) -> Cluster:
    return Cluster(
        nodes=kw.pop("nodes"),
        gpus_per_node=kw.pop("gpus_per_node"),
        distributed=kw.pop("distributed"),
        main_process_ip=kw.pop("main_process_ip"),
        main_process_port=kw.pop("main_process_port"),
        machine_rank=kw.pop("machine_rank"),
    )


def _input_notes(spec: SFTSpec | RLSpec) -> list[str]:
    """Dry run: check the training data now when it exists (a bad row is an error); say what is missing.

    A recipe's later steps read files that earlier steps write, so a missing input is a note, not an error.
    """
    from pathlib import Path

    from skytrain.data import load_rl_rows, load_sft_rows

    notes = []
    if not Path(spec.data).is_file():
        notes.append(f"data {spec.data} does not exist (yet): its rows are checked at launch")
    elif isinstance(spec, SFTSpec):
        notes.append(f"data {spec.data}: {len(load_sft_rows(spec.data))} rows checked")
    else:
        rows = load_rl_rows(
            spec.data,
            prompt_key=spec.prompt_key,
            answer_key=spec.answer_key,
            system_prompt=spec.system_prompt,
        )
        notes.append(f"data {spec.data}: {len(rows)} rows checked")
    if spec.model.startswith(("/", "./", "../", "~")) and not Path(spec.model).expanduser().exists():
        notes.append(f"model path {spec.model} does not exist (yet)")
    return notes


def _launch(
    backend: str, spec: SFTSpec | RLSpec, cluster: Cluster, options: api.LaunchOptions, dry_run: bool
) -> None:
    launch = api.plan(backend, spec, cluster, options)
    if dry_run:
        click.echo(launch.describe())
        for note in _input_notes(spec):
            click.echo(f"note: {note}")
        return
    result = api.execute(launch, announce=lambda text: click.echo(text, err=True))
    if result is not None:
        click.echo(json.dumps(asdict(result)))
    click.echo(f"evaluate with: skyeval run --engine hf --model {spec.output_dir} --task TASK", err=True)


@main.command()
@click.option("--backend", type=click.Choice(sorted(api.SFT_BACKENDS)), default="trl", show_default=True)
@click.option("--model", required=True, help="Base model: a local path or a Hub id.")
@click.option(
    "--data", required=True, help="JSONL of chat rows {'messages': [...]} ending with the assistant."
)
@click.option("--output-dir", required=True, help="Where the trained model (HF format) is saved.")
@click.option("--epochs", default=3.0, show_default=True)
@click.option("--lr", "learning_rate", default=1e-5, show_default=True)
@click.option(
    "--global-batch", default=96, show_default=True, help="Sequences per optimizer step, all devices."
)
@click.option(
    "--per-device-batch", "per_device_max", default=1, show_default=True, help="Largest per-device batch."
)
@click.option("--max-length", default=16384, show_default=True, help="Token cutoff (long CoT needs 16k+).")
@click.option("--packing/--no-packing", default=False, show_default=True)
@click.option("--assistant-only-loss/--no-assistant-only-loss", default=True, show_default=True)
@click.option("--chat-template", default=None, help="Jinja file with {% generation %} markers (TRL).")
@click.option("--max-steps", default=-1, show_default=True, help="Stop after N steps (-1: run the epochs).")
@click.option("--warmup", default=0.1, show_default=True, help="Warmup as a ratio of all steps.")
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]), default="auto", show_default=True)
@click.option("--seed", default=42, show_default=True)
@click.option("--save-steps", default=None, type=int, help="Checkpoint every N steps (default: each epoch).")
@click.option("--hostfile", default=None, help="DeepSpeed hostfile for multi-node OpenRLHF SFT.")
@_cluster_options
def sft(backend: str, hostfile: str | None, dry_run: bool, **kw: Any) -> None:
    """Supervised fine-tuning on chat `messages` (TRL SFTTrainer, or OpenRLHF train_sft).

    Recipe defaults: 3 epochs, lr 1e-5, global batch 96 = per-device x gradient accumulation x GPUs, loss on
    the assistant turns only. One device trains in this process; more go through `accelerate launch` with a
    generated DeepSpeed ZeRO-3 / FSDP2 config (TRL) or the `deepspeed` launcher (OpenRLHF).
    """
    cluster = _cluster(kw)
    _launch(backend, SFTSpec(**kw), cluster, api.LaunchOptions(hostfile=hostfile), dry_run)


def _prime_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """PRIME's settings (``--backend trl --algo prime``); defaults: the paper and its released run script."""
    defaults = PrimeSettings()
    options = [
        click.option(
            "--prime-beta",
            default=defaults.beta,
            show_default=True,
            help="beta of r_t = beta log(pi_phi/pi_ref).",
        ),
        click.option(
            "--prime-lr", default=defaults.lr, show_default=True, help="Learning rate of the implicit PRM."
        ),
        click.option(
            "--prime-process-coef",
            default=defaults.process_coef,
            show_default=True,
            help="Weight of the process rewards.",
        ),
        click.option(
            "--prime-outcome-coef",
            default=defaults.outcome_coef,
            show_default=True,
            help="Weight of the outcome reward.",
        ),
        click.option(
            "--prime-update",
            type=click.Choice(["after", "before"]),
            default=defaults.update,
            show_default=True,
            help="after: rewards from the PRM's forward before its update (one forward); before: update, then score.",
        ),
        click.option(
            "--prime-reward-norm",
            type=click.Choice(["batch_norm", "none"]),
            default=defaults.reward_norm,
            show_default=True,
            help="batch_norm: divide process rewards by the batch's largest |return|.",
        ),
        click.option(
            "--prime-grad-clip", default=defaults.grad_clip, show_default=True, help="PRM gradient-norm clip."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _prime_settings(kw: dict[str, Any]) -> PrimeSettings:
    names = [f.name for f in fields(PrimeSettings)]
    return PrimeSettings(**{name: kw.pop(f"prime_{name}") for name in names})


def _refuse_unsupported(backend: str, algo: str) -> None:
    """An explicitly passed flag that this backend/algorithm ignores is an error, not a silent no-op."""
    context = click.get_current_context()
    given = {
        name
        for name in context.params
        if context.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
    }
    prime_only = sorted(n for n in given if n.startswith("prime_"))
    if prime_only and (backend, algo) != ("trl", "prime"):
        flags = ", ".join("--" + n.replace("_", "-") for n in prime_only)
        raise SkyevalError(f"{flags}: PRIME's implicit-PRM settings apply to --backend trl --algo prime only")
    trl_only = sorted(n for n in given & {"save_steps", "resume"})
    if trl_only and backend != "trl":
        flags = ", ".join("--" + n.replace("_", "-") for n in trl_only)
        raise SkyevalError(f"{flags}: checkpoints and resuming are wired for --backend trl only")


@main.command()
@click.option("--backend", type=click.Choice(sorted(api.RL_BACKENDS)), default="openrlhf", show_default=True)
@click.option(
    "--algo",
    type=click.Choice(["rloo", "grpo", "prime"]),
    default="rloo",
    show_default=True,
    help="TRL: rloo, grpo, or prime = PRIME with its implicit process reward model trained online (dense "
    "token rewards + RLOO + accuracy-band filter). OpenRLHF: rloo, or prime = PRIME-style filtering + RLOO: "
    "PRIME's implicit process reward model is NOT in OpenRLHF and is not used there.",
)
@click.option("--model", required=True, help="Policy to start from: a local path or a Hub id.")
@click.option(
    "--data", required=True, help="JSONL of prompts: a 'prompt' (text or messages) and an 'answer'."
)
@click.option("--output-dir", required=True, help="Where the trained model (HF format) is saved.")
@click.option("--rollouts", default=8, show_default=True, help="Samples per prompt.")
@click.option(
    "--prompt-batch", default=256, show_default=True, help="Prompts per step (samples = x rollouts)."
)
@click.option("--lr", "learning_rate", default=1e-6, show_default=True)
@click.option(
    "--max-prompt-length", default=1024, show_default=True, help="Prompt token budget (OpenRLHF max_len)."
)
@click.option("--max-response-length", default=8192, show_default=True, help="Response token cutoff.")
@click.option("--temperature", default=1.0, show_default=True)
@click.option("--kl-coef", default=0.0, show_default=True, help="KL penalty (0: no reference model).")
@click.option("--episodes", default=1, show_default=True, help="Passes over the prompts.")
@click.option("--max-steps", default=-1, show_default=True, help="Stop after N steps (TRL only).")
@click.option("--per-device-batch", "per_device_max", default=1, show_default=True)
@click.option(
    "--filter-range",
    type=(float, float),
    default=None,
    help="Keep prompts with mean reward in (LO, HI); --algo prime: default 0.2 0.8.",
)
@click.option("--prompt-key", default="prompt", show_default=True)
@click.option("--answer-key", default="answer", show_default=True)
@click.option("--system-prompt", default=None, help="Prepended to prompts that have no system message.")
@click.option("--vllm/--no-vllm", "use_vllm", default=True, show_default=True, help="Generate with vLLM.")
@click.option("--tensor-parallel", default=1, show_default=True, help="vLLM tensor-parallel size.")
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]), default="auto", show_default=True)
@click.option("--seed", default=42, show_default=True)
@click.option("--save-steps", default=None, type=int, help="TRL: checkpoint every N steps (default: none).")
@click.option("--resume", is_flag=True, help="TRL: continue from the newest checkpoint-N in --output-dir.")
@_prime_options
@click.option("--ray-address", default=None, help="Submit the OpenRLHF run as a Ray job to this cluster.")
@_cluster_options
def rl(backend: str, ray_address: str | None, dry_run: bool, **kw: Any) -> None:
    """RL with skyeval's grader as the outcome reward (OpenRLHF train_ppo_ray, or TRL RLOO/GRPO/PRIME).

    `--backend trl --algo prime` is PRIME: an implicit PRM initialised from --model, trained online from the
    grader's labels, gives token rewards combined with the outcome reward through RLOO (docs/training.md).
    `--backend openrlhf --algo prime` is PRIME-style filtering + RLOO: RLOO on the outcome reward with
    PRIME's prompt filtering (prompts whose 4 rollouts are all right or all wrong are replaced: mean reward
    kept inside 0.2-0.8); PRIME's implicit process reward model is not used there.
    """
    _refuse_unsupported(backend, kw["algo"])
    cluster = _cluster(kw)
    prime = _prime_settings(kw)
    _launch(backend, RLSpec(**kw, prime=prime), cluster, api.LaunchOptions(ray_address=ray_address), dry_run)


@main.command()
@click.argument("name", required=False)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe variable.")
@click.option("--dry-run", is_flag=True, help="Print every step's command and validate it; run nothing.")
def recipe(name: str | None, overrides: tuple[str, ...], dry_run: bool) -> None:
    """Run a training recipe (sky-t1-7b, sky-t1-mini): named steps chaining skydata and skytrain commands.

    Without NAME, list the recipes. Steps whose outputs all exist are skipped, so a rerun resumes.
    """
    if name is None:
        for known in recipes.available():
            click.echo(f"{known}: {recipes.load(known).summary}")
        return
    plan = recipes.load(name, recipes.parse_overrides(overrides))
    if dry_run:
        click.echo(recipes.describe(plan))
        for step in plan.steps:
            recipes.validate_step(step, main)
        return
    recipes.execute(plan)
