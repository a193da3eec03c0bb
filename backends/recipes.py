"""Training recipes as declarative plans: ordered steps, each a ``skydata`` / ``skytrain`` / ``skyeval`` command.

A recipe is a TOML file in ``backends/recipes/`` with ``[vars]`` (overridable with ``--set KEY=VALUE``) and
``[[steps]]`` (``name``, ``about``, ``tool``, ``args``, ``inputs``, ``outputs``). ``{var}`` in any string is
replaced by the variable. Running a recipe runs each step's command; a step whose outputs all exist is skipped,
so an interrupted recipe resumes. A dry run prints every command and checks it with the tool's own CLI parser
(and, for ``skytrain`` steps, that step's own dry run).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import click

from skyeval.errors import SkyevalError
from skytrain.launch import Command, run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class Step:
    name: str
    about: str
    tool: str
    args: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    variables: Mapping[str, str]
    steps: tuple[Step, ...]


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


def load(name: str, overrides: Mapping[str, str] | None = None) -> Recipe:
    """Read recipe ``name`` and substitute its variables (``overrides`` first must name known variables)."""
    if name not in available():
        raise SkyevalError(f"unknown recipe {name!r}; choose one of: {', '.join(available())}")
    text = resources.files("skytrain").joinpath("recipes", f"{name}.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    declared = {k: str(v) for k, v in raw.get("vars", {}).items()}
    unknown = set(overrides or {}) - set(declared)
    if unknown:
        raise SkyevalError(f"recipe {name} has no variables {sorted(unknown)}; it has {sorted(declared)}")
    variables = _Vars({**declared, **(overrides or {})})
    steps = tuple(
        Step(
            name=row["name"],
            about=_fill(row.get("about", ""), variables),
            tool=row["tool"],
            args=tuple(_fill(str(a), variables) for a in row["args"]),
            inputs=tuple(_fill(p, variables) for p in row.get("inputs", [])),
            outputs=tuple(_fill(p, variables) for p in row.get("outputs", [])),
        )
        for row in raw["steps"]
    )
    return Recipe(name=name, summary=raw.get("summary", ""), variables=dict(variables), steps=steps)


def describe(recipe: Recipe) -> str:
    lines = [
        f"recipe {recipe.name}: {recipe.summary}",
        "vars: " + ", ".join(f"{k}={v}" for k, v in recipe.variables.items()),
    ]
    for number, step in enumerate(recipe.steps, start=1):
        lines += [
            f"[{number}] {step.name}: {step.about}",
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


# --- execution ---------------------------------------------------------------------------------------------


def execute(recipe: Recipe, *, echo: Callable[[str], Any] = click.echo) -> None:
    """Run the steps in order; skip those whose outputs exist; stop at the first failing step."""
    for number, step in enumerate(recipe.steps, start=1):
        if step.outputs and all(Path(p).exists() for p in step.outputs):
            echo(f"[{number}] {step.name}: outputs exist, skipped")
            continue
        missing = [p for p in step.inputs if not Path(p).exists()]
        if missing:
            raise SkyevalError(f"step {step.name}: missing inputs {missing}")
        echo(f"[{number}] {step.name}: {step.about}")
        run(Command((step.tool, *step.args)))
