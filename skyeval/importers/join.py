"""Joining a source's items to the task's problems, so golds come from the task's data and never the source's.

``index`` joins (qwen-harness) take the item's row index in the benchmark file and check that the question
there is the item's (after whitespace is normalised: the harness strips it); ``question`` joins look the
question up by its text, or, for a prompt that embeds it (lighteval's templated queries), the longest task
question the prompt contains. Any item that matches nothing, matches twice, or disagrees with its row refuses
the whole import in one line: grading against a wrong gold would be silent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from skyeval.errors import SkyevalError
from skyeval.importers.base import SourceItem
from skyeval.tasks import LoadedTask
from skyeval.types import Problem


@dataclass(frozen=True)
class Joined:
    """One source item and the task problem it is."""

    problem: Problem
    item: SourceItem


def normalized(text: str) -> str:
    """``text`` with runs of whitespace as one space, trimmed: how questions are compared."""
    return " ".join(text.split())


def _clip(text: str, limit: int = 70) -> str:
    flat = normalized(text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def join(items: Sequence[SourceItem], task: LoadedTask, by: str) -> list[Joined]:
    """Each item with its problem, in the task's order; a one-line ``SkyevalError`` for anything that does not
    join exactly (see the module docstring)."""
    joined = _by_index(items, task) if by == "index" else _by_question(items, task)
    seen: dict[str, str] = {}
    for j in joined:
        if j.problem.id in seen:
            raise SkyevalError(
                f"{j.item.where} and {seen[j.problem.id]} are both problem {j.problem.id!r} of {task.spec.name}"
            )
        seen[j.problem.id] = j.item.where
    order = {p.id: i for i, p in enumerate(task.problems)}
    return sorted(joined, key=lambda j: order[j.problem.id])


def _by_index(items: Sequence[SourceItem], task: LoadedTask) -> list[Joined]:
    out = []
    for item in items:
        if item.index is None or not 0 <= item.index < len(task.problems):
            raise SkyevalError(
                f"{item.where}: idx {item.index} is not a row of {task.source} ({len(task.problems)} rows)"
            )
        problem = task.problems[item.index]
        if item.question is None or normalized(item.question) != normalized(problem.question):
            raise SkyevalError(
                f"{item.where}: the question of idx {item.index} ({_clip(item.question or '')!r}) is not row "
                f"{item.index} of {task.source} ({_clip(problem.question)!r}); is that the harness's own data file?"
            )
        out.append(Joined(problem, item))
    return out


def _by_question(items: Sequence[SourceItem], task: LoadedTask) -> list[Joined]:
    by_text: dict[str, list[Problem]] = {}
    for p in task.problems:
        by_text.setdefault(normalized(p.question), []).append(p)
    out, unmatched = [], []
    for item in items:
        text = normalized(item.question or "")
        found = by_text.get(text, [])
        if not found and item.embedded and text:
            inside = [q for q in by_text if q and q in text]
            found = by_text[max(inside, key=len)] if inside else []
        if len(found) > 1:
            raise SkyevalError(f"{item.where}: its question is {len(found)} problems of {task.spec.name}")
        if found:
            out.append(Joined(found[0], item))
        else:
            unmatched.append(item)
    if unmatched:
        first = unmatched[0]
        raise SkyevalError(
            f"{len(unmatched)} of {len(items)} source problems are no problem of {task.spec.name} "
            f"({task.source}); first: {first.where} {_clip(first.question or '')!r}. Golds come from the "
            "task's data: use the data the source was run on (--data-dir, or --task file:PATH)"
        )
    return out
