"""Problem sources, streamed row by row: NuminaMath-CoT, Eurus-2-RL-Data, STILL-3 RL data, local JSONL/Parquet.

Each source reads raw records (a local ``.jsonl``/``.parquet`` file, or the Hub through ``datasets`` streaming)
and maps them to ``Item``s; a record without a usable problem or gold becomes a ``Drop`` (never skipped silently).
A line of a local JSONL file that is not a JSON object stops the source with its file:line, or with
``skip_malformed`` becomes a ``malformed`` drop naming its file:line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skydata.records import Drop, Item
from skydata.stage import StageResult, run_stage
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


@dataclass(frozen=True)
class Malformed:
    """A source line that is not a JSON object: its ``file:line`` and what is wrong with it."""

    message: str


def _read_jsonl(path: Path) -> Iterator[RawRecord | Malformed]:
    """The objects of a JSONL file, and a ``Malformed`` for every line that is not one (never raises on a line)."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as err:
                yield Malformed(f"{path}:{number}: not UTF-8 ({err.reason})")
                continue
            except json.JSONDecodeError as err:
                yield Malformed(f"{path}:{number}: malformed JSON ({err.msg})")
                continue
            if isinstance(row, dict):
                yield row
            else:
                yield Malformed(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")


def _read_local(path: Path) -> Iterator[RawRecord | Malformed]:
    if path.suffix == ".parquet":
        require("pyarrow", extra="hf", what="reading Parquet sources")
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            yield from batch.to_pylist()
    elif path.suffix in (".jsonl", ".json"):
        yield from _read_jsonl(path)
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


def is_local(spec: SourceSpec) -> bool:
    """Whether ``spec`` reads a local file (else the Hub); a file-like location that does not exist fails."""
    if Path(spec.location).exists():
        return True
    if spec.kind == "local" or spec.location.endswith((".jsonl", ".parquet", ".json")):
        raise SkyevalError(f"no such source file: {spec.location}")
    return False


def raw_records(spec: SourceSpec) -> Iterator[RawRecord | Malformed]:
    """The source's raw records: from the local file when ``location`` is one, else from the Hub."""
    if is_local(spec):
        return _read_local(Path(spec.location))
    return _read_hub(spec.location, spec.split)


def _source_kind(name: str) -> SourceKind:
    kind = SOURCE_KINDS.get(name)
    if kind is None:
        raise SkyevalError(f"unknown source {name!r}; choose one of: {', '.join(sorted(SOURCE_KINDS))}")
    return kind


def read_source(spec: SourceSpec, *, skip_malformed: bool = False) -> Iterator[Item | Drop]:
    """Stream ``Item``s (and ``Drop``s for unusable or out-of-subset records) from one source; a malformed
    line fails with its file:line, or with ``skip_malformed`` is a ``malformed`` drop."""
    kind = _source_kind(spec.kind)
    subsets = set(spec.subsets)
    for index, record in enumerate(raw_records(spec)):
        if spec.limit is not None and index >= spec.limit:
            return
        if isinstance(record, Malformed):
            if not skip_malformed:
                raise SkyevalError(f"{record.message} (--skip-malformed records such rows as drops)")
            yield Drop(f"{spec.kind}-{index:07d}", "malformed", record.message)
            continue
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
    known = _source_kind(kind)
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


def run(
    specs: Iterable[SourceSpec], out: str | Path, *, skip_malformed: bool = False, progress: bool = True
) -> StageResult:
    """The source stage: every source's items, in order, to ``out`` (drops beside it)."""

    def rows() -> Iterator[Item | Drop]:
        for spec in specs:
            yield from read_source(spec, skip_malformed=skip_malformed)

    return run_stage("source", rows(), lambda rs: rs, out, progress=progress)
