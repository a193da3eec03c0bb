"""OpenRLHF's own argument parser and post-parse checks, run on skytrain's command lines.

Both live only in the ``if __name__ == "__main__":`` block of ``openrlhf/cli/train_ppo_ray.py`` / ``train_sft.py``
(no importable function builds them), so the block is read from the installed OpenRLHF source, its
``parse_args()`` pointed at our argv and its final ``train(args)`` left out. Only that installed library code is
compiled; the parser part needs nothing but the standard library, the checks import ``openrlhf.utils`` (torch,
pylatexenc) and are skipped with a note when those are missing. ``--dry-run`` and the step-bounded entry point
(:mod:`skytrain.openrlhf_entry`) both parse through here.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skytrain.launch import Command, parse_quietly


def main_block(module: str) -> tuple[list[ast.stmt], list[ast.stmt]] | None:
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


def run_block(statements: list[ast.stmt], namespace: dict[str, Any], where: str) -> None:
    code = compile(ast.fix_missing_locations(ast.Module(body=statements, type_ignores=[])), where, "exec")
    exec(code, namespace)  # noqa: S102 - installed OpenRLHF source, never model text


def parse_openrlhf(module: str, argv: Sequence[str], *, checks: bool = True) -> tuple[Any, tuple[str, ...]]:
    """``args`` as OpenRLHF's own parser (and, with ``checks``, its post-parse checks) leave them, plus notes.

    Raises :class:`SkyevalError` for an unknown flag or a failed check; OpenRLHF's printed warnings are notes.
    """
    import argparse
    import datetime
    import os

    blocks = main_block(module)
    if blocks is None:
        raise SkyevalError("openrlhf is not installed: pip install 'skyeval[openrlhf]'")
    parse, post = blocks
    namespace: dict[str, Any] = {
        "argparse": argparse,
        "datetime": datetime.datetime,
        "os": os,
        "_skytrain_argv": list(argv),
        "__name__": f"skytrain_validate_{module}",
    }
    where = f"<openrlhf.cli.{module} __main__>"
    parse_quietly(lambda: run_block(parse, namespace, where), f"OpenRLHF {module}")
    if not checks:
        return namespace["args"], ()
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            run_block(post, namespace, where)
    except AssertionError as err:
        raise SkyevalError(f"OpenRLHF {module} rejects the command: {err}") from None
    notes = tuple(f"OpenRLHF: {line}" for line in printed.getvalue().splitlines() if line.strip())
    return namespace["args"], notes


def validate_openrlhf(command: Command, module: str, argv: list[str]) -> Command:
    """Check ``argv`` with OpenRLHF's parser (and its post-parse assertions when ``openrlhf.utils`` imports)."""
    if main_block(module) is None:
        return replace(command, validated_by="not validated (openrlhf is not installed)")
    try:
        import openrlhf.utils.config  # noqa: F401 - its package imports torch and pylatexenc
    except ImportError as err:
        parse_openrlhf(module, argv, checks=False)
        note = f"OpenRLHF's post-parse checks skipped: {err}"
        return replace(command, validated_by=f"OpenRLHF {module} parser", notes=(*command.notes, note))
    _, warnings = parse_openrlhf(module, argv)
    return replace(
        command, validated_by=f"OpenRLHF {module} parser and checks", notes=(*command.notes, *warnings)
    )
