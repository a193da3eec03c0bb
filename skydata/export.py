"""Export curated rows to trainer formats. SFT rows (``problem`` + ``response``) go to TRL chat ``messages``,
ShareGPT (LLaMA-Factory) or OpenRLHF SFT; problem rows (``Item``s: ``problem`` + ``gold``) go to RL prompt sets
for OpenRLHF (``prompt`` + ``label``) or TRL (``prompt`` + ``answer``). Provenance travels in extra keys.

Prompts come from ``skyeval.prompts`` by name: SFT formats default to the ``sky-t1`` system prompt with the bare
problem as the user turn (as Sky-T1's SFT data); RL formats to no system prompt and the ``step-by-step``
user-turn suffix. Every export reports which prompts it used. An export of zero rows is an error unless asked
for (``allow_empty``): an empty training set is never written silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.jsonl import write_jsonl
from skyeval.prompts import NONE, prompt_text, with_suffix

Row = Mapping[str, Any]


def _chat(system: str | None, user: str, assistant: str | None = None) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": system}] if system else []
    msgs.append({"role": "user", "content": user})
    if assistant is not None:
        msgs.append({"role": "assistant", "content": assistant})
    return msgs


def _provenance(row: Row) -> dict[str, Any]:
    keep = ("id", "source", "teacher", "mixture")
    return {k: row[k] for k in keep if k in row}


def _trl_sft(row: Row, system: str | None, user: str) -> dict[str, Any]:
    return {"messages": _chat(system, user, row["response"]), **_provenance(row)}


def _sharegpt(row: Row, system: str | None, user: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "conversations": [{"from": "human", "value": user}, {"from": "gpt", "value": row["response"]}],
        **_provenance(row),
    }
    if system:
        out["system"] = system
    return out


def _openrlhf_sft(row: Row, system: str | None, user: str) -> dict[str, Any]:
    # OpenRLHF 0.11 train_sft: --data.input_key input --data.output_key output --data.apply_chat_template
    return {
        "input": _chat(system, user),
        "output": [{"role": "assistant", "content": row["response"]}],
        **_provenance(row),
    }


def _openrlhf_rl(row: Row, system: str | None, user: str) -> dict[str, Any]:
    # OpenRLHF 0.11 train_ppo_ray: --data.input_key prompt --data.label_key label --data.apply_chat_template
    return {"prompt": _chat(system, user), "label": row["gold"], **_provenance(row)}


def _trl_rl(row: Row, system: str | None, user: str) -> dict[str, Any]:
    # TRL GRPOTrainer: conversational "prompt"; extra columns ("answer") reach the reward functions
    return {"prompt": _chat(system, user), "answer": row["gold"], **_provenance(row)}


@dataclass(frozen=True)
class Format:
    convert: Callable[[Row, str | None, str], dict[str, Any]]
    kind: str  # "sft" (needs response) or "rl" (needs gold)
    system_prompt: str  # default system prompt (a skyeval.prompts name)
    user_suffix: str  # user-turn suffix (a skyeval.prompts name)

    def needs(self) -> tuple[str, ...]:
        return ("problem", "response") if self.kind == "sft" else ("problem", "gold")


FORMATS: dict[str, Format] = {
    "trl": Format(_trl_sft, "sft", "sky-t1", NONE),
    "sharegpt": Format(_sharegpt, "sft", "sky-t1", NONE),
    "openrlhf": Format(_openrlhf_sft, "sft", "sky-t1", NONE),
    "openrlhf-rl": Format(_openrlhf_rl, "rl", NONE, "step-by-step"),
    "trl-rl": Format(_trl_rl, "rl", NONE, "step-by-step"),
}


def get_format(name: str, kind: str | None = None) -> Format:
    """Format ``name`` (of ``kind`` "sft"/"rl" when given); others fail with the choices."""
    fmt = FORMATS.get(name)
    if fmt is None or (kind is not None and fmt.kind != kind):
        names = sorted(n for n, f in FORMATS.items() if kind is None or f.kind == kind)
        what = f"{kind.upper()} export format" if kind else "export format"
        raise SkyevalError(f"unknown {what} {name!r}; choose one of: {', '.join(names)}")
    return fmt


@dataclass(frozen=True)
class ExportPrompts:
    """The prompts an export used, by registry name: what a manifest records."""

    system_prompt: str
    user_suffix: str

    def to_json(self) -> dict[str, str]:
        return {"system_prompt": self.system_prompt, "user_suffix": self.user_suffix}


def prompts_for(fmt: str, system_prompt: str | None = None) -> ExportPrompts:
    """The prompts format ``fmt`` uses: ``system_prompt`` (a prompt name, ``none``) or the format's default."""
    spec = get_format(fmt)
    chosen = spec.system_prompt if system_prompt is None else system_prompt
    prompt_text(chosen, "system")  # unknown names fail here
    return ExportPrompts(chosen, spec.user_suffix)


def export_rows(
    rows: Iterable[Row], fmt: str, *, system_prompt: str | None = None
) -> Iterator[dict[str, Any]]:
    """Convert rows; ``system_prompt`` is a ``skyeval.prompts`` name (None: the format's default, ``none``:
    no system message)."""
    spec = get_format(fmt)
    prompts = prompts_for(fmt, system_prompt)
    system = prompt_text(prompts.system_prompt, "system")
    need = spec.needs()
    for n, row in enumerate(rows, start=1):
        missing = [k for k in need if k not in row]
        if missing:
            raise SkyevalError(
                f"row {n}: format {fmt!r} needs {', '.join(need)}; missing {', '.join(missing)}"
            )
        yield spec.convert(row, system, with_suffix(row["problem"], prompts.user_suffix))


class EmptyExport(SkyevalError):
    """An export would write zero rows and ``allow_empty`` was not given."""


def refuse_empty(what: str, why: str) -> EmptyExport:
    return EmptyExport(f"export: 0 rows for {what} ({why}); pass --allow-empty to write empty files anyway")


def write(
    rows: Iterable[Row],
    out: str | Path,
    fmt: str,
    *,
    system_prompt: str | None = None,
    allow_empty: bool = False,
    why_empty: str = "the input has no rows",
) -> int:
    """Write ``rows`` to ``out`` in format ``fmt`` (atomically); returns the row count. Zero rows raise
    ``EmptyExport`` (nothing is written) unless ``allow_empty``."""
    converted = export_rows(rows, fmt, system_prompt=system_prompt)
    first = next(converted, None)
    if first is None and not allow_empty:
        raise refuse_empty(str(out), why_empty)

    def chain() -> Iterator[dict[str, Any]]:
        if first is not None:
            yield first
            yield from converted

    return write_jsonl(out, chain())
