"""Problem sources, streamed row by row: NuminaMath-CoT, Eurus-2-RL-Data, STILL-3 RL data, local JSONL/Parquet.

Each source reads raw records (a local ``.jsonl``/``.parquet`` file, or the Hub through ``datasets`` streaming)
and maps them to ``Item``s; a record without a usable problem or gold becomes a ``Drop`` (never skipped silently).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skydata.records import Drop, Item
from skyeval.errors import SkyevalError, require

RawRecord = Mapping[str, Any]
Mapper = Callable[[str, RawRecord, "SourceSpec"], "Item | Drop"]


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, braces balanced; else None."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 0
    for j in range(i, len(text)):
        ch = text[j]
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return text[i:j].strip()
            depth -= 1
    return None


@dataclass(frozen=True)
class SourceSpec:
    """How to read one source. ``location`` is a local file or a Hub dataset id; ``fields`` maps our names
    (problem, gold, solution, source, id) to the record's columns; ``subsets`` keeps only those source values."""

    kind: str
    location: str
    split: str = "train"
    fields: Mapping[str, str] = field(default_factory=dict)
    subsets: tuple[str, ...] = ()
    limit: int | None = None

    def column(self, name: str, default: str) -> str:
        return self.fields.get(name, default)


def _field(record: RawRecord, column: str) -> Any:
    """A (possibly dotted, e.g. ``reward_model.ground_truth``) column of a record, or None."""
    value: Any = record
    for part in column.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _numina(rid: str, rec: RawRecord, spec: SourceSpec) -> Item | Drop:
    problem = _text(_field(rec, spec.column("problem", "problem")))
    solution = _text(_field(rec, spec.column("solution", "solution")))
    source = _text(_field(rec, spec.column("source", "source"))) or "numina"
    if not problem:
        return Drop(rid, "no_problem")
    gold = last_boxed(solution)
    if not gold:
        return Drop(rid, "no_gold", "solution has no \\boxed{} answer")
    return Item(rid, problem, gold, source, {"origin": spec.kind, "solution": solution})


_EURUS_SUFFIX = re.compile(r"\s*Present the answer in LaTe[Xx] format:\s*\\boxed\{Your answer\}\s*$")


def _eurus(rid: str, rec: RawRecord, spec: SourceSpec) -> Item | Drop:
    prompt = _field(rec, spec.column("problem", "prompt"))
    if isinstance(prompt, list):  # chat messages: the problem is the last user turn
        users = [m.get("content", "") for m in prompt if isinstance(m, Mapping) and m.get("role") == "user"]
        prompt = users[-1] if users else ""
    problem = _EURUS_SUFFIX.sub("", _text(prompt))
    gold = _text(_field(rec, spec.column("gold", "reward_model.ground_truth")))
    source = _text(_field(rec, spec.column("source", "data_source"))) or "eurus"
    ability = _text(_field(rec, "ability"))
    if ability and ability != "math":
        return Drop(rid, "not_math", f"ability={ability}")
    if not problem:
        return Drop(rid, "no_problem")
    if not gold:
        return Drop(rid, "no_gold", "empty reward_model.ground_truth")
    return Item(rid, problem, gold, source, {"origin": spec.kind})


def _mapped(rid: str, rec: RawRecord, spec: SourceSpec) -> Item | Drop:
    """STILL-3 and local files: problem/gold columns (or a solution whose last ``\\boxed{}`` is the gold)."""
    problem = _text(_field(rec, spec.column("problem", "problem" if spec.kind != "still3" else "question")))
    gold = _text(_field(rec, spec.column("gold", "answer")))
    if not gold and "solution" in spec.fields:
        gold = last_boxed(_text(_field(rec, spec.fields["solution"]))) or ""
    source = _text(_field(rec, spec.column("source", "source"))) or spec.kind
    if not problem:
        return Drop(rid, "no_problem")
    if not gold:
        return Drop(rid, "no_gold")
    return Item(rid, problem, gold, source, {"origin": spec.kind})


@dataclass(frozen=True)
class SourceKind:
    hub_id: str | None  # default Hub dataset when no local file is given
    mapper: Mapper
    doc: str


SOURCE_KINDS: dict[str, SourceKind] = {
    "numina": SourceKind(
        "AI-MO/NuminaMath-CoT", _numina, "NuminaMath-CoT: gold = last \\boxed{} of solution"
    ),
    "eurus": SourceKind(
        "PRIME-RL/Eurus-2-RL-Data", _eurus, "Eurus-2-RL-Data: gold = reward_model.ground_truth"
    ),
    "still3": SourceKind("RUC-AIBOX/STILL-3-Preview-RL-Data", _mapped, "STILL-3 RL data: question + answer"),
    "local": SourceKind(None, _mapped, "a local JSONL/Parquet file with a field mapping"),
}


def _read_local(path: Path) -> Iterator[RawRecord]:
    from skyeval.jsonl import read_jsonl

    if path.suffix == ".parquet":
        require("pyarrow", extra="hf", what="reading Parquet sources")
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            yield from batch.to_pylist()
    elif path.suffix in (".jsonl", ".json"):
        yield from read_jsonl(path)
    else:
        raise SkyevalError(f"{path}: unsupported source file type (use .jsonl or .parquet)")


def _read_hub(name: str, split: str) -> Iterator[RawRecord]:
    require("datasets", extra="hf", what=f"streaming {name} from the Hugging Face Hub")
    import datasets

    try:
        stream = datasets.load_dataset(name, split=split, streaming=True)
    except (OSError, ValueError, ConnectionError) as err:
        raise SkyevalError(f"cannot stream {name} ({split}) from the Hub: {err}") from None
    yield from stream


def raw_records(spec: SourceSpec) -> Iterator[RawRecord]:
    """The source's raw records: from the local file when ``location`` is one, else from the Hub."""
    path = Path(spec.location)
    if path.exists():
        return _read_local(path)
    if spec.kind == "local" or spec.location.endswith((".jsonl", ".parquet", ".json")):
        raise SkyevalError(f"no such source file: {spec.location}")
    return _read_hub(spec.location, spec.split)


def read_source(spec: SourceSpec) -> Iterator[Item | Drop]:
    """Stream ``Item``s (and ``Drop``s for unusable or out-of-subset records) from one source."""
    kind = SOURCE_KINDS.get(spec.kind)
    if kind is None:
        raise SkyevalError(f"unknown source {spec.kind!r}; choose one of: {', '.join(sorted(SOURCE_KINDS))}")
    subsets = set(spec.subsets)
    for index, record in enumerate(raw_records(spec)):
        if spec.limit is not None and index >= spec.limit:
            return
        rid = _text(_field(record, spec.fields["id"])) if "id" in spec.fields else f"{spec.kind}-{index:07d}"
        out = kind.mapper(rid, record, spec)
        if isinstance(out, Item) and subsets and out.source not in subsets:
            yield Drop(rid, "other_subset", out.source)
        else:
            yield out


def make_spec(
    kind: str,
    location: str | None = None,
    *,
    split: str = "train",
    fields: Mapping[str, str] | None = None,
    subsets: tuple[str, ...] = (),
    limit: int | None = None,
) -> SourceSpec:
    """A ``SourceSpec`` with the kind's default Hub dataset when no location is given."""
    known = SOURCE_KINDS.get(kind)
    if known is None:
        raise SkyevalError(f"unknown source {kind!r}; choose one of: {', '.join(sorted(SOURCE_KINDS))}")
    where = location or known.hub_id
    if where is None:
        raise SkyevalError(f"source {kind!r} needs a file path")
    return SourceSpec(kind, where, split, dict(fields or {}), subsets, limit)


def parse_fields(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("problem=question", "gold=answer")`` -> ``{"problem": "question", "gold": "answer"}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        ours, sep, theirs = pair.partition("=")
        if not sep or ours not in ("problem", "gold", "solution", "source", "id") or not theirs:
            raise SkyevalError(
                f"bad field mapping {pair!r}; use NAME=COLUMN with NAME in problem/gold/solution/source/id"
            )
        out[ours] = theirs
    return out
