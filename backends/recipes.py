"""Training recipes as declarative plans: ordered steps, each a ``skydata`` / ``skytrain`` / ``skyeval`` command.

A recipe is a TOML file in ``backends/recipes/`` with ``[vars]`` (overridable with ``--set KEY=VALUE``),
``[variants.NAME]`` (the source a variant follows, its own ``vars``), ``[requires]`` (what a machine needs to
run it) and ``[[steps]]`` (``name``, ``about``, ``tool``, ``args``, ``inputs``, ``outputs``, and per variant
the ``source`` it cites and its ``departures`` from that source; ``variants`` limits a step to some variants).
``{var}`` in any string is replaced by the variable. Running a recipe runs each step's command; a step whose
outputs all exist is skipped and a training step with a resumable checkpoint gets ``--resume``, so an
interrupted recipe continues. A dry run prints every command and checks it with the tool's own CLI parser
(and, for ``skytrain`` steps, that step's own dry run).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import click

from skyeval.errors import SkyevalError
from skytrain.checkpoints import has_checkpoint
from skytrain.launch import Command, run
from skytrain.preflight import hub_cached, hub_reachable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TRAINING_COMMANDS = {"sft": "sft", "rl": "rl"}  # skytrain subcommands that take --backend


@dataclass(frozen=True)
class Step:
    name: str
    about: str
    tool: str
    args: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    source: str = ""
    departures: tuple[str, ...] = ()
    backend: str | None = None  # skytrain sft/rl steps: the backend the step runs on
    backend_origin: str = ""  # "recipe", "--backend" or "default"


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    variables: Mapping[str, str]
    steps: tuple[Step, ...]
    variant: str = ""
    source: str = ""
    variants: tuple[str, ...] = ()
    requires: Mapping[str, Any] | None = None


def available() -> list[str]:
    folder = resources.files("skytrain").joinpath("recipes")
    return sorted(
        entry.name.removesuffix(".toml") for entry in folder.iterdir() if entry.name.endswith(".toml")
    )


def parse_overrides(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SkyevalError(f"--set expects KEY=VALUE, got {pair!r}")
        values[key] = value
    return values


class _Vars(dict[str, str]):
    def __missing__(self, key: str) -> str:
        raise SkyevalError(f"recipe uses an undefined variable {{{key}}}")


def _fill(text: str, variables: _Vars) -> str:
    return text.format_map(variables)


def _per_variant(value: Any, variant: str) -> Any:
    """A step field given once (all variants) or as a table keyed by variant."""
    return value.get(variant) if isinstance(value, dict) else value


def _with_backend(
    tool: str, args: tuple[str, ...], backend: str | None
) -> tuple[tuple[str, ...], str | None, str]:
    """Insert ``--backend`` into a skytrain sft/rl step that leaves it open; report the step's backend."""
    if tool != "skytrain" or not args or args[0] not in TRAINING_COMMANDS:
        return args, None, ""
    if "--backend" in args:
        return args, args[args.index("--backend") + 1], "recipe"
    if backend is not None:
        return (args[0], "--backend", backend, *args[1:]), backend, "--backend"
    from skytrain.api import DEFAULT_BACKEND

    return args, DEFAULT_BACKEND[TRAINING_COMMANDS[args[0]]], "default"


def load(
    name: str,
    overrides: Mapping[str, str] | None = None,
    *,
    variant: str | None = None,
    backend: str | None = None,
) -> Recipe:
    """Read recipe ``name`` in ``variant`` (default: the recipe's) and substitute its variables.

    ``overrides`` must name known variables; ``backend`` applies to the training steps the recipe leaves open.
    """
    if name not in available():
        raise SkyevalError(f"unknown recipe {name!r}; choose one of: {', '.join(available())}")
    text = resources.files("skytrain").joinpath("recipes", f"{name}.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    variants = raw.get("variants", {})
    chosen = variant or raw.get("default_variant", "")
    if variants and chosen not in variants:
        raise SkyevalError(f"recipe {name} has no variant {chosen!r}; choose one of: {', '.join(variants)}")
    about_variant = variants.get(chosen, {})
    declared = {k: str(v) for k, v in {**raw.get("vars", {}), **about_variant.get("vars", {})}.items()}
    unknown = set(overrides or {}) - set(declared)
    if unknown:
        raise SkyevalError(f"recipe {name} has no variables {sorted(unknown)}; it has {sorted(declared)}")
    variables = _Vars({**declared, **(overrides or {})})
    steps = []
    for row in raw["steps"]:
        if chosen and chosen not in row.get("variants", list(variants) or [chosen]):
            continue
        args = tuple(_fill(str(a), variables) for a in row["args"])
        args, step_backend, origin = _with_backend(row["tool"], args, backend)
        departures = _per_variant(row.get("departures", []), chosen) or []
        steps.append(
            Step(
                name=row["name"],
                about=_fill(row.get("about", ""), variables),
                tool=row["tool"],
                args=args,
                inputs=tuple(_fill(p, variables) for p in row.get("inputs", [])),
                outputs=tuple(_fill(p, variables) for p in row.get("outputs", [])),
                source=_fill(_per_variant(row.get("source", ""), chosen) or "", variables),
                departures=tuple(_fill(d, variables) for d in departures),
                backend=step_backend,
                backend_origin=origin,
            )
        )
    needs: dict[str, Any] = dict(raw.get("requires", {}))
    for key, value in about_variant.get("requires", {}).items():  # a variant adds to the lists
        needs[key] = [*needs.get(key, []), *value] if isinstance(value, list) else value
    requires = {
        key: [_fill(str(v), variables) for v in value]
        if isinstance(value, list)
        else _fill(str(value), variables)
        for key, value in needs.items()
    }
    return Recipe(
        name=name,
        summary=raw.get("summary", ""),
        variables=dict(variables),
        steps=tuple(steps),
        variant=chosen,
        source=_fill(about_variant.get("source", ""), variables),
        variants=tuple(variants),
        requires=requires,
    )


def describe(recipe: Recipe) -> str:
    lines = [f"recipe {recipe.name}: {recipe.summary}"]
    if recipe.variant:
        lines.append(f"variant: {recipe.variant} (of {', '.join(recipe.variants)}); source: {recipe.source}")
    lines.append("vars: " + ", ".join(f"{k}={v}" for k, v in recipe.variables.items()))
    for number, step in enumerate(recipe.steps, start=1):
        lines.append(f"[{number}] {step.name}: {step.about}")
        if step.source:
            lines.append(f"    source:  {step.source}")
        lines += [f"    departs: {departure}" for departure in step.departures]
        if step.backend:
            lines.append(f"    backend: {step.backend} ({step.backend_origin})")
        lines += [
            f"    inputs:  {', '.join(step.inputs) or '-'}",
            f"    outputs: {', '.join(step.outputs) or '-'}",
            f"    $ {Command((step.tool, *step.args)).render()}",
        ]
    return "\n".join(lines)


# --- validation: each tool's own click parser --------------------------------------------------------------


def _resolve(group: click.Command, prog: str, args: tuple[str, ...]) -> tuple[click.Command, click.Context]:
    """Descend ``group`` by subcommand names and parse the leaf's options exactly as the CLI would."""
    command, words, parent = group, list(args), None
    while isinstance(command, click.Group):
        if not words:
            raise SkyevalError(f"{prog}: missing subcommand")
        context = click.Context(command, info_name=prog, parent=parent)
        sub = command.get_command(context, words[0])
        if sub is None:
            raise SkyevalError(f"{prog} has no command {words[0]!r}")
        command, prog, parent, words = sub, f"{prog} {words[0]}", context, words[1:]
    try:
        return command, command.make_context(prog, words, parent=parent)
    except click.UsageError as err:
        raise SkyevalError(f"{prog}: {err.format_message()}") from None


def _tool_groups() -> dict[str, Callable[[], click.Command]]:
    def skydata() -> click.Command:
        from skydata.cli import main

        return main

    def skyeval() -> click.Command:
        from skyeval.cli import main

        return main

    return {"skydata": skydata, "skyeval": skyeval}


def validate_step(step: Step, skytrain: click.Command) -> None:
    """Parse the step with its tool's CLI; ``skytrain`` steps also run their own ``--dry-run`` (printed)."""
    click.echo(f"--- check {step.name}")
    if step.tool == "skytrain":
        command, context = _resolve(skytrain, "skytrain", (*step.args, "--dry-run"))
        with context:
            command.invoke(context)
        return
    groups = _tool_groups()
    if step.tool not in groups:
        raise SkyevalError(f"step {step.name}: unknown tool {step.tool!r}")
    _resolve(groups[step.tool](), step.tool, step.args)
    click.echo(f"{step.tool} accepts: {Command((step.tool, *step.args)).render()}")


# --- what a machine needs ----------------------------------------------------------------------------------


def _gpus() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def _server_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/models", timeout=3):  # noqa: S310 - the recipe's URL
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _source_hub_id(source: str) -> tuple[str | None, str | None]:
    """``KIND`` or ``KIND=LOCATION`` of a skydata source -> (local file, Hub id)."""
    from skydata.sources import SOURCE_KINDS

    kind, _, location = source.partition("=")
    if location and (Path(location).exists() or location.endswith((".jsonl", ".json", ".parquet"))):
        return location, None
    known = SOURCE_KINDS.get(kind)
    return None, location or (known.hub_id if known else kind)


def missing_requirements(recipe: Recipe) -> list[str]:
    """Everything this machine lacks to run ``recipe`` (GPUs, models, data, servers, keys), one item each."""
    need: Mapping[str, Any] = recipe.requires or {}
    missing: list[str] = []
    wanted = int(need.get("gpus_per_node", 0) or 0)
    found = _gpus()
    if wanted and found < wanted:
        missing.append(f"{wanted} GPUs per node (found {found})")
    hub: bool | None = None

    def hub_ok() -> bool:
        nonlocal hub
        if hub is None:
            hub = hub_reachable()
        return hub

    for model in need.get("models", []):
        if Path(model).expanduser().exists():
            continue
        if model.startswith(("/", "./", "../", "~")) or not (hub_cached(model, "model") or hub_ok()):
            missing.append(f"model {model} (not local, not cached, Hub unreachable)")
    for source in need.get("sources", []):
        local, hub_id = _source_hub_id(source)
        if local is not None:
            if not Path(local).exists():
                missing.append(f"data file {local}")
        elif hub_id and not (hub_cached(hub_id, "dataset") or hub_ok()):
            missing.append(f"data set {hub_id} (not cached, Hub unreachable)")
    for url in need.get("servers", []):
        if not _server_up(url):
            missing.append(f"server {url} (not reachable)")
    for var in need.get("env", []):
        if not os.environ.get(var):
            missing.append(f"environment variable {var}")
    return missing


# --- execution ---------------------------------------------------------------------------------------------


def _resumable(step: Step) -> bool:
    """A skytrain sft/rl step whose output folder holds a checkpoint it can continue from."""
    if step.tool != "skytrain" or step.backend is None or "--resume" in step.args:
        return False
    if "--output-dir" not in step.args:
        return False
    return has_checkpoint(step.args[step.args.index("--output-dir") + 1])


def execute(recipe: Recipe, *, echo: Callable[[str], Any] = click.echo) -> None:
    """Run the steps in order; skip those whose outputs exist; resume interrupted training; stop at a failure."""
    for number, step in enumerate(recipe.steps, start=1):
        if step.outputs and all(Path(p).exists() for p in step.outputs):
            echo(f"[{number}] {step.name}: outputs exist, skipped")
            continue
        missing = [p for p in step.inputs if not Path(p).exists()]
        if missing:
            raise SkyevalError(f"step {step.name}: missing inputs {missing}")
        args = step.args
        if _resumable(step):
            args = (args[0], "--resume", *args[1:])
            echo(f"[{number}] {step.name}: resuming from the checkpoint in its output folder")
        echo(f"[{number}] {step.name}: {step.about}")
        run(Command((step.tool, *args)))
