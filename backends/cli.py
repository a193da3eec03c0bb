"""The ``skytrain`` command: thin click wrappers over :mod:`skytrain.api` and :mod:`skytrain.recipes`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any

import click
from click.core import ParameterSource

from skyeval.clickutil import ErrorGroup
from skyeval.errors import SkyevalError
from skytrain import api, recipes
from skytrain.launch import extra_arg_tokens
from skytrain.specs import PRIME_CHOICES, Checkpoints, Cluster, PrimeSettings, RLSpec, SFTSpec, Spec

DEFAULT_RECIPE = "sky-t1-7b"


@click.group(cls=ErrorGroup, invoke_without_command=True)
@click.version_option(package_name="skyeval")
@click.option(
    "--backend",
    type=click.Choice(sorted(api.BACKENDS)),
    default=None,
    help="Backend for sft, rl and the recipe steps that leave it open (a subcommand's own --backend wins). "
    f"Without a subcommand: plan the default recipe ({DEFAULT_RECIPE}) on it, then run it where this "
    "machine can, or stop with one line listing what is missing.",
)
@click.pass_context
def main(ctx: click.Context, backend: str | None) -> None:
    """Launch SFT and RL runs through TRL or OpenRLHF with skyeval's grader as the reward."""
    ctx.obj = {"backend": backend}
    if ctx.invoked_subcommand is not None:
        return
    if backend is None:
        click.echo(ctx.get_help())
        return
    plan = recipes.load(DEFAULT_RECIPE, backend=backend)
    _dry_run(plan)
    missing = recipes.missing_requirements(plan)
    if missing:
        raise SkyevalError(f"cannot run {plan.name} on this machine: {'; '.join(missing)}")
    recipes.execute(plan)


def _group_backend(ctx: click.Context) -> str | None:
    obj = ctx.find_root().obj
    return obj.get("backend") if isinstance(obj, dict) else None


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


def _run_options(save_steps: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Checkpoints, resume, length policy and framework pass-through, shared by ``sft`` and ``rl``."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option(
                "--save-steps",
                default=save_steps,
                show_default=True,
                help="Save an HF-format checkpoint every N steps.",
            ),
            click.option(
                "--save-optimizer",
                is_flag=True,
                help="Also save the optimizer state in checkpoints (needed by --resume; several times the "
                "weights' size).",
            ),
            click.option(
                "--resume", is_flag=True, help="Continue from the newest checkpoint in --output-dir."
            ),
            click.option(
                "--drop-long",
                is_flag=True,
                help="Drop (and count) rows longer than the token cutoff instead of refusing the data.",
            ),
            click.option(
                "--extra-arg",
                "extra_args",
                multiple=True,
                metavar="KEY=VALUE",
                help="A framework option (TRL: a field of its config class; OpenRLHF: a flag without the "
                "leading --); KEY alone is a switch. Arguments after -- pass through as they are.",
            ),
            click.argument("passthrough", nargs=-1, type=click.UNPROCESSED),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _prime_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--prime-NAME`` for each :class:`PrimeSettings` field (``--backend trl --algo prime``), its defaults."""
    defaults = PrimeSettings()
    for setting in reversed(fields(PrimeSettings)):
        choices = PRIME_CHOICES.get(setting.name)
        func = click.option(
            "--prime-" + setting.name.replace("_", "-"),
            type=click.Choice(choices) if choices else None,
            default=getattr(defaults, setting.name),
            show_default=True,
            help="PRIME: " + setting.metadata["help"],
        )(func)
    return func


def _prime_settings(kw: dict[str, Any]) -> PrimeSettings:
    """Pop the ``--prime-*`` options into :class:`PrimeSettings` (``--prime-beta`` -> ``beta``)."""
    return PrimeSettings(**{f.name: kw.pop(f"prime_{f.name}") for f in fields(PrimeSettings)})


def _cluster(kw: dict[str, Any]) -> Cluster:
    return Cluster(
        nodes=kw.pop("nodes"),
        gpus_per_node=kw.pop("gpus_per_node"),
        distributed=kw.pop("distributed"),
        main_process_ip=kw.pop("main_process_ip"),
        main_process_port=kw.pop("main_process_port"),
        machine_rank=kw.pop("machine_rank"),
    )


def _run_settings(kw: dict[str, Any]) -> dict[str, Any]:
    """Pop the shared run options into spec fields (``checkpoints``, ``extra_args``)."""
    passthrough = kw.pop("passthrough")
    if passthrough and not passthrough[0].startswith("-"):
        raise SkyevalError(f"unexpected argument {passthrough[0]!r}: framework arguments go after --")
    checkpoints = Checkpoints(
        save_steps=kw.pop("save_steps"), save_optimizer=kw.pop("save_optimizer"), resume=kw.pop("resume")
    )
    if checkpoints.save_steps < 1:
        raise SkyevalError("--save-steps must be at least 1")
    return {"checkpoints": checkpoints, "extra_args": extra_arg_tokens(kw.pop("extra_args"), passthrough)}


def _explicit(ctx: click.Context) -> dict[str, str]:
    """Options given on the command line: parameter name -> the flag as typed in help."""
    sources = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    return {
        param.name: param.opts[0]
        for param in ctx.command.params
        if param.name and param.opts and ctx.get_parameter_source(param.name) in sources
    }


def _launch(
    ctx: click.Context,
    kind: str,
    backend: str | None,
    spec: Spec,
    cluster: Cluster,
    options: api.LaunchOptions,
    dry_run: bool,
) -> None:
    chosen = backend or _group_backend(ctx) or api.DEFAULT_BACKEND[kind]
    launch = api.plan(chosen, spec, cluster, options, explicit=_explicit(ctx))
    if dry_run:
        click.echo(launch.describe())
        for note in api.dry_run_notes(spec):
            click.echo(f"note: {note}")
        return
    result = api.execute(launch, announce=lambda text: click.echo(text, err=True))
    if result is not None:
        click.echo(json.dumps(asdict(result)))
    click.echo(f"evaluate with: skyeval run --engine hf --model {spec.output_dir} --task TASK", err=True)


@main.command()
@click.option("--backend", type=click.Choice(sorted(api.BACKENDS)), default=None, help="Default: trl.")
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
@click.option(
    "--max-length",
    default=16384,
    show_default=True,
    help="Token cutoff of prompt + response; longer rows are refused (or --drop-long).",
)
@click.option("--packing/--no-packing", default=False, show_default=True)
@click.option("--assistant-only-loss/--no-assistant-only-loss", default=True, show_default=True)
@click.option("--chat-template", default=None, help="Jinja file with {% generation %} markers (TRL).")
@click.option("--max-steps", default=-1, show_default=True, help="Stop after N steps (-1: run the epochs).")
@click.option("--warmup", default=0.1, show_default=True, help="Warmup as a ratio of all steps.")
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]), default="auto", show_default=True)
@click.option("--seed", default=42, show_default=True)
@click.option("--hostfile", default=None, help="DeepSpeed hostfile for multi-node OpenRLHF SFT.")
@_run_options(save_steps=50)
@_cluster_options
@click.pass_context
def sft(ctx: click.Context, /, backend: str | None, hostfile: str | None, dry_run: bool, **kw: Any) -> None:
    """Supervised fine-tuning on chat `messages` (TRL SFTTrainer, or OpenRLHF train_sft).

    Recipe defaults: 3 epochs, lr 1e-5, global batch 96 = per-device x gradient accumulation x GPUs, loss on
    the assistant turns only. One device trains in this process; more go through `accelerate launch` with a
    generated DeepSpeed ZeRO-3 / FSDP2 config (TRL) or the `deepspeed` launcher (OpenRLHF). Before training,
    the token lengths of prompts and responses are reported against --max-length.
    """
    cluster = _cluster(kw)
    settings = _run_settings(kw)
    spec = SFTSpec(**kw, **settings)
    _launch(ctx, "sft", backend, spec, cluster, api.LaunchOptions(hostfile=hostfile), dry_run)


def _system_prompt(value: str | None) -> str | None:
    """A prompt name from skyeval's registry (``sky-t1``, ``qwen-cot``, ``none``) or the literal text."""
    if value is None:
        return None
    from skyeval.prompts import PROMPTS

    return PROMPTS[value] if value in PROMPTS else value


@main.command()
@click.option("--backend", type=click.Choice(sorted(api.BACKENDS)), default=None, help="Default: openrlhf.")
@click.option(
    "--algo",
    type=click.Choice(api.rl_algos()),
    default="rloo",
    show_default=True,
    help="rloo, grpo or prime on both backends. TRL prime = PRIME with its implicit process reward model "
    "trained online (dense token rewards + RLOO + accuracy-band filter; --prime-* settings). OpenRLHF prime = "
    "PRIME-style filtering + RLOO: PRIME's accuracy-band prompt filtering; PRIME's implicit process reward "
    "model is NOT in OpenRLHF and is not used there.",
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
    "--lr-schedule",
    type=click.Choice(["constant", "cosine", "linear"]),
    default="constant",
    show_default=True,
)
@click.option("--warmup", default=0.0, show_default=True, help="Warmup as a ratio of all steps.")
@click.option(
    "--max-prompt-length",
    default=1024,
    show_default=True,
    help="Prompt token cutoff (OpenRLHF); longer prompts are refused (or --drop-long).",
)
@click.option("--max-response-length", default=8192, show_default=True, help="Response token cutoff.")
@click.option("--temperature", default=1.0, show_default=True)
@click.option("--kl-coef", default=0.0, show_default=True, help="KL penalty (0: no reference model).")
@click.option("--episodes", default=1, show_default=True, help="Passes over the prompts.")
@click.option(
    "--max-steps",
    default=-1,
    show_default=True,
    help="Stop after N steps of one rollout batch each (-1: run the episodes).",
)
@click.option("--per-device-batch", "per_device_max", default=1, show_default=True)
@click.option(
    "--filter-range",
    type=(float, float),
    default=None,
    help="Keep prompts with mean reward in (LO, HI): OpenRLHF (any --algo), TRL --algo prime; --algo prime "
    "default 0.2 0.8.",
)
@click.option("--prompt-key", default="prompt", show_default=True)
@click.option("--answer-key", default="answer", show_default=True)
@click.option(
    "--system-prompt",
    default=None,
    help="Prepended to prompts without a system message: qwen-cot, sky-t1, none, or the text itself.",
)
@click.option(
    "--val-task",
    "val_tasks",
    multiple=True,
    help="Validation set: a skyeval task name or file:PATH (repeatable); scored every --val-steps steps.",
)
@click.option("--val-steps", default=15, show_default=True)
@click.option("--val-data-dir", default=None, help="Local <task>.jsonl files for --val-task.")
@click.option("--vllm/--no-vllm", "use_vllm", default=True, show_default=True, help="Generate with vLLM.")
@click.option("--tensor-parallel", default=1, show_default=True, help="vLLM tensor-parallel size.")
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]), default="auto", show_default=True)
@click.option("--seed", default=42, show_default=True)
@click.option("--ray-address", default=None, help="Submit the OpenRLHF run as a Ray job to this cluster.")
@_prime_options
@_run_options(save_steps=15)
@_cluster_options
@click.pass_context
def rl(ctx: click.Context, /, backend: str | None, ray_address: str | None, dry_run: bool, **kw: Any) -> None:
    """RL with skyeval's grader as the outcome reward (OpenRLHF train_ppo_ray, or TRL RLOO/GRPO/PRIME).

    One step is one optimizer step over one rollout batch (--prompt-batch x --rollouts samples) on every
    backend; --max-steps bounds the run on OpenRLHF too. `--backend trl --algo prime` is PRIME: an implicit
    PRM initialised from --model and trained online from the grader's labels gives token rewards, combined
    with the outcome reward through RLOO, on the prompts inside the accuracy band (docs/training.md).
    `--backend openrlhf --algo prime` is PRIME-style filtering + RLOO: prompts whose rollouts are all right or
    all wrong (mean reward outside 0.2-0.8) are replaced by fresh ones; PRIME's implicit process reward model
    is not used there.
    """
    cluster = _cluster(kw)
    kw["system_prompt"] = _system_prompt(kw["system_prompt"])
    settings = _run_settings(kw)
    prime = _prime_settings(kw)
    spec = RLSpec(**kw, **settings, prime=prime)
    _launch(ctx, "rl", backend, spec, cluster, api.LaunchOptions(ray_address=ray_address), dry_run)


def _dry_run(plan: recipes.Recipe) -> None:
    click.echo(recipes.describe(plan))
    for step in plan.steps:
        recipes.validate_step(step, main)


@main.command()
@click.argument("name", required=False)
@click.option(
    "--variant",
    default=None,
    help="Which source the settings follow: blog (default) or released-scripts; see docs/training.md.",
)
@click.option("--backend", type=click.Choice(sorted(api.BACKENDS)), default=None, help="For open steps.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe variable.")
@click.option("--dry-run", is_flag=True, help="Print every step's command and validate it; run nothing.")
@click.pass_context
def recipe(
    ctx: click.Context,
    name: str | None,
    variant: str | None,
    backend: str | None,
    overrides: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Run a training recipe (sky-t1-7b, sky-t1-mini): named steps chaining skydata and skytrain commands.

    Without NAME, list the recipes and their variants. Steps whose outputs all exist are skipped, and a
    training step with a resumable checkpoint is resumed, so a rerun continues where it stopped.
    """
    if name is None:
        for known in recipes.available():
            loaded = recipes.load(known)
            click.echo(f"{known}: {loaded.summary} (variants: {', '.join(loaded.variants)})")
        return
    plan = recipes.load(
        name,
        recipes.parse_overrides(overrides),
        variant=variant,
        backend=backend or _group_backend(ctx),
    )
    if dry_run:
        _dry_run(plan)
        return
    recipes.execute(plan)
