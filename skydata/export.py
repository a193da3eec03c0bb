"""Export curated rows to trainer formats. SFT rows (``problem`` + ``response``) go to TRL chat ``messages``,
ShareGPT (LLaMA-Factory) or OpenRLHF SFT; problem rows (``Item``s: ``problem`` + ``gold``) go to RL prompt sets
for OpenRLHF (``prompt`` + ``label``) or TRL (``prompt`` + ``answer``). Provenance travels in ``meta``/extra keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from skydata.records import Drop
from skydata.teacher import SKY_T1_SYSTEM, STEP_BY_STEP
from skyeval.errors import SkyevalError

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


def _trl_sft(row: Row, system: str | None) -> dict[str, Any]:
    return {"messages": _chat(system, row["problem"], row["response"]), **_provenance(row)}


def _sharegpt(row: Row, system: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "conversations": [
            {"from": "human", "value": row["problem"]},
            {"from": "gpt", "value": row["response"]},
        ],
        **_provenance(row),
    }
    if system:
        out["system"] = system
    return out


def _openrlhf_sft(row: Row, system: str | None) -> dict[str, Any]:
    # train with: --input_key input --output_key output --apply_chat_template
    return {
        "input": _chat(system, row["problem"]),
        "output": [{"role": "assistant", "content": row["response"]}],
        **_provenance(row),
    }


def _rl_user(row: Row) -> str:
    return STEP_BY_STEP.format(problem=row["problem"])


def _openrlhf_rl(row: Row, system: str | None) -> dict[str, Any]:
    # train with: --input_key prompt --label_key label --apply_chat_template
    return {"prompt": _chat(system, _rl_user(row)), "label": row["gold"], **_provenance(row)}


def _trl_rl(row: Row, system: str | None) -> dict[str, Any]:
    # TRL GRPOTrainer: conversational "prompt"; extra columns ("answer") reach the reward functions
    return {"prompt": _chat(system, _rl_user(row)), "answer": row["gold"], **_provenance(row)}


@dataclass(frozen=True)
class Format:
    convert: Callable[[Row, str | None], dict[str, Any]]
    kind: str  # "sft" (needs response) or "rl" (needs gold)
    default_system: str | None


FORMATS: dict[str, Format] = {
    "trl": Format(_trl_sft, "sft", SKY_T1_SYSTEM),
    "sharegpt": Format(_sharegpt, "sft", SKY_T1_SYSTEM),
    "openrlhf": Format(_openrlhf_sft, "sft", SKY_T1_SYSTEM),
    "openrlhf-rl": Format(_openrlhf_rl, "rl", None),
    "trl-rl": Format(_trl_rl, "rl", None),
}


def get_format(name: str) -> Format:
    fmt = FORMATS.get(name)
    if fmt is None:
        raise SkyevalError(f"unknown export format {name!r}; choose one of: {', '.join(sorted(FORMATS))}")
    return fmt


def export_stream(
    rows: Iterable[Row | Drop], fmt: str, *, system_prompt: str | None = None
) -> Iterator[dict[str, Any] | Drop]:
    """Convert rows; ``Drop``s in the stream (rows decontamination removed) pass through, to be counted.
    ``system_prompt`` None uses the format's default, "" means no system prompt."""
    spec = get_format(fmt)
    system = spec.default_system if system_prompt is None else (system_prompt or None)
    need = ("problem", "response") if spec.kind == "sft" else ("problem", "gold")
    for n, row in enumerate(rows, start=1):
        if isinstance(row, Drop):
            yield row
            continue
        missing = [k for k in need if k not in row]
        if missing:
            raise SkyevalError(
                f"row {n}: format {fmt!r} needs {', '.join(need)}; missing {', '.join(missing)}"
            )
        yield spec.convert(row, system)


def export_rows(
    rows: Iterable[Row], fmt: str, *, system_prompt: str | None = None
) -> Iterator[dict[str, Any]]:
    """Convert rows (see ``export_stream``)."""
    for out in export_stream(rows, fmt, system_prompt=system_prompt):
        if not isinstance(out, Drop):
            yield out
