"""Benchmark tasks: declarative definitions in ``tasks/*.toml`` and loading their problems.

Problems come from the Hugging Face Hub (``datasets``, the default) or from local JSONL files: ``--data-dir DIR``
(or ``SKYEVAL_DATA_DIR``) holding ``<task>.jsonl`` in the Qwen2.5-Math evaluation format, or any JSONL file as
an ad-hoc task (``file:PATH`` with an explicit field mapping; the path is made absolute, so a run's identity
does not depend on the folder it was started from). A task may read more than one local layout (``Layout``:
minerva_math reads skyeval's ``question``/``answer`` and the Qwen2.5-Math harness's ``problem``/``solution``, gold
= the last ``\\boxed{}`` of the solution); a file is read in the first layout whose fields its first row has, and
a file in none fails loading that task alone, in one line. A loaded task carries a fingerprint: a hash of its
problems (id, question, gold) that the run config records. The Hub is probed once (``skyeval.hub.probe``) before
``datasets`` is asked, so offline fails in a line and seconds, not retries.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from skyeval import hub
from skyeval.errors import SkyevalError
from skyeval.grading.extract import last_boxed
from skyeval.jsonl import iter_jsonl
from skyeval.layouts import GOLD_RULES, FieldMap, Layout, detect_layout
from skyeval.types import Problem, SamplingParams

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FILE_PREFIX = "file:"
DATA_DIR_ENV = "SKYEVAL_DATA_DIR"


@dataclass(frozen=True)
class HubSource:
    path: str
    split: str
    fields: FieldMap
    config: str | None = None
    filter_field: str = ""
    filter_contains: str = ""


@dataclass(frozen=True)
class TaskSpec:
    """A task definition (one ``tasks/<name>.toml``)."""

    name: str
    description: str
    prompt_template: str
    sampling: SamplingParams
    local_fields: FieldMap
    hub: HubSource | None = None
    answer_format: str = ""
    breakdown: tuple[str, ...] = ()
    local_layouts: tuple[Layout, ...] = ()  # further layouts a local file may have, tried after local_fields

    @property
    def layouts(self) -> tuple[Layout, ...]:
        """The local layouts, in the order a file is matched against them (``skyeval``'s own first)."""
        return (Layout("skyeval", self.local_fields), *self.local_layouts)


@dataclass(frozen=True)
class LoadedTask:
    spec: TaskSpec
    problems: tuple[Problem, ...]
    fingerprint: str
    source: str  # where the rows came from: "hub:<path>", a file path
    layout: str = ""  # the local layout the file was read in ("" for the Hub)


def task_names() -> list[str]:
    """The names of the built-in tasks."""
    root = resources.files("skyeval.task_defs")
    return sorted(p.name[: -len(".toml")] for p in root.iterdir() if p.name.endswith(".toml"))


def _field_map(raw: Mapping[str, Any]) -> FieldMap:
    return FieldMap(
        question=str(raw["question"]),
        gold=str(raw["gold"]),
        id=str(raw.get("id", "")),
        context=str(raw.get("context", "")),
        meta=tuple(raw.get("meta", ())),
    )


def get_task(name: str) -> TaskSpec:
    """The built-in task ``name``; unknown names fail with the list of known ones."""
    known = task_names()
    if name not in known:
        raise SkyevalError(f"unknown task {name!r}; known tasks: {', '.join(known)} (or file:PATH)")
    raw = tomllib.loads(
        resources.files("skyeval.task_defs").joinpath(f"{name}.toml").read_text(encoding="utf-8")
    )
    hub_raw = raw.get("hub")
    hub = None
    if hub_raw is not None:
        filt = hub_raw.get("filter", {})
        hub = HubSource(
            path=hub_raw["path"],
            split=hub_raw.get("split", "test"),
            config=hub_raw.get("config"),
            fields=_field_map(hub_raw["fields"]),
            filter_field=filt.get("field", ""),
            filter_contains=str(filt.get("contains", "")),
        )
    s = raw.get("sampling", {})
    local = raw["local"]
    layouts = tuple(
        Layout(
            name=str(alt["name"]),
            fields=_field_map(alt["fields"]),
            gold_from=str(alt.get("gold_from", "")),
            description=str(alt.get("description", "")),
        )
        for alt in local.get("layouts", ())
    )
    bad = [lay.gold_from for lay in layouts if lay.gold_from not in GOLD_RULES]
    if bad:
        raise SkyevalError(f"tasks/{name}.toml: unknown gold_from {bad[0]!r}; use one of {GOLD_RULES[1:]}")
    return TaskSpec(
        name=raw["name"],
        description=raw.get("description", ""),
        prompt_template=raw.get("prompt_template", "{question}"),
        sampling=SamplingParams(
            n=int(s.get("n", 1)),
            temperature=float(s.get("temperature", 0.0)),
            top_p=float(s.get("top_p", 1.0)),
            max_tokens=int(s.get("max_tokens", 32768)),
        ),
        local_fields=_field_map(local["fields"]),
        hub=hub,
        answer_format=raw.get("answer_format", ""),
        breakdown=tuple(raw.get("breakdown", ())),
        local_layouts=layouts,
    )


def file_task(path: str, fields: FieldMap, template: str = "{question}") -> TaskSpec:
    """An ad-hoc task over a local JSONL file (``--task file:PATH``, made absolute): greedy, one sample by default."""
    path = str(Path(path).expanduser().resolve())
    return TaskSpec(
        name=f"{FILE_PREFIX}{path}",
        description=f"local file {path}",
        prompt_template=template,
        sampling=SamplingParams(n=1, temperature=0.0, top_p=1.0, max_tokens=32768),
        local_fields=fields,
        breakdown=fields.meta,
    )


def resolve_task(name: str, fields: FieldMap | None = None) -> TaskSpec:
    """A built-in task by name, or ``file:PATH`` with ``fields`` (default: id/question/answer)."""
    if name.startswith(FILE_PREFIX):
        return file_task(name[len(FILE_PREFIX) :], fields or FieldMap(question="question", gold="answer"))
    return get_task(name)


def normalize_gold(value: Any) -> str:
    """A gold answer as a string: lists joined with ``", "``, ``27.0`` as ``27``, ``$...$`` unwrapped."""
    if isinstance(value, list | tuple):
        return ", ".join(normalize_gold(v) for v in value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if len(text) >= 2 and text.startswith("$") and text.endswith("$"):
        inner = text[1:-1].replace("$,$", ", ").replace("$, $", ", ")
        if "$" not in inner:
            text = inner.strip()
    return text


def rows_to_problems(
    rows: Iterable[Mapping[str, Any]],
    fields: FieldMap,
    where: str,
    line_numbers: Sequence[int] | None = None,
    gold_from: str = "",
) -> list[Problem]:
    """Map source rows to problems; a bad row (missing field, null or empty question or gold, duplicate id, no
    box in a ``gold_from="last_boxed"`` gold field) fails naming its line (``line_numbers``: a file's line of
    each row) or its row number."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, row in enumerate(rows):
        at = f"{where}:{line_numbers[i]}" if line_numbers is not None else f"{where}: row {i}"
        missing = [f for f in (fields.question, fields.gold, fields.id) if f and f not in row]
        if missing:
            raise SkyevalError(f"{at}: lacks field(s) {', '.join(missing)}")
        empty = [f for f in (fields.question, fields.gold, fields.id) if f and _is_empty(row[f])]
        if empty:
            raise SkyevalError(f"{at}: empty or null field(s) {', '.join(empty)}")
        pid = str(row[fields.id]) if fields.id else str(i)
        if pid in seen:
            raise SkyevalError(f"{at}: duplicate id {pid!r} in field {fields.id!r}")
        seen.add(pid)
        question = str(row[fields.question])
        context = row.get(fields.context) if fields.context else None
        if context:
            question = f"{context}\n\n{question}"
        meta = {k: row[k] for k in fields.meta if k in row and row[k] is not None}
        gold = row[fields.gold]
        if gold_from == "last_boxed":
            gold = last_boxed(str(gold))
            if gold is None or not gold.strip():
                raise SkyevalError(f"{at}: no \\boxed{{}} answer in field {fields.gold!r}")
        problems.append(Problem(pid, question, normalize_gold(gold), meta))
    return problems


def _is_empty(value: Any) -> bool:
    """``None``, a blank string or an empty list: a value a problem cannot be built from."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple) and not value


def _layout_of(spec: TaskSpec, path: Path, first: Mapping[str, Any] | None) -> Layout:
    """The layout ``spec``'s file at ``path`` is read in (``skyeval.layouts.detect_layout``; a ``file:`` task has
    only its field mapping)."""
    return detect_layout(spec.name, spec.layouts, path, first, fixed=spec.name.startswith(FILE_PREFIX))


def _file_problems(path: Path, spec: TaskSpec) -> tuple[list[Problem], Layout]:
    numbered = list(iter_jsonl(path))
    rows = [row for _, row in numbered]
    layout = _layout_of(spec, path, rows[0] if rows else None)
    problems = rows_to_problems(rows, layout.fields, str(path), [n for n, _ in numbered], layout.gold_from)
    return problems, layout


def fingerprint(problems: Sequence[Problem]) -> str:
    """A short hash of the problems' ids, questions and golds (order included)."""
    digest = hashlib.sha256()
    for p in problems:
        digest.update(json.dumps([p.id, p.question, p.gold], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def _load_hub(spec: TaskSpec, status: hub.HubStatus | None) -> tuple[list[Problem], str]:
    from skyeval.errors import require

    source = spec.hub
    if source is None:
        raise SkyevalError(f"task {spec.name!r} has no Hub source; use --data-dir")
    status = status or hub.probe()
    if not status.online:
        raise SkyevalError(offline_message(spec, status))
    require("datasets", extra="hf", what=f"loading {spec.name!r} from the Hugging Face Hub")
    import datasets

    try:
        ds = datasets.load_dataset(source.path, source.config, split=source.split)
    except (OSError, ValueError, ConnectionError) as err:
        raise SkyevalError(
            f"cannot load {source.path} from the Hub ({type(err).__name__}: {err}); "
            f"use --data-dir DIR with {spec.name}.jsonl offline"
        ) from err
    rows: Iterable[Mapping[str, Any]] = ds
    if source.filter_field:
        rows = [r for r in ds if source.filter_contains in str(r.get(source.filter_field, ""))]
    return rows_to_problems(rows, source.fields, f"hub:{source.path}"), f"hub:{source.path}"


def offline_message(spec: TaskSpec, status: hub.HubStatus) -> str:
    """The one line for a task that has no local data while the Hub is unreachable."""
    return (
        f"{spec.name}: no local data and the Hugging Face Hub is unreachable ({status.detail}); "
        f"use --data-dir DIR (or SKYEVAL_DATA_DIR) with {spec.name}.jsonl"
    )


def data_root(data_dir: str | Path | None) -> str | None:
    """The local data folder: ``data_dir``, else ``$SKYEVAL_DATA_DIR``; None: built-in tasks load from the Hub."""
    root = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    return str(root) if root else None


def local_path(spec: TaskSpec, data_dir: str | Path | None) -> Path | None:
    """The file a task's rows come from (a ``file:`` task's own, or ``<root>/<task>.jsonl``); None: the Hub."""
    if spec.name.startswith(FILE_PREFIX):
        return Path(spec.name[len(FILE_PREFIX) :])
    root = data_root(data_dir)
    return Path(root) / f"{spec.name}.jsonl" if root else None


def load_task(
    spec: TaskSpec,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    *,
    hub_status: hub.HubStatus | None = None,
) -> LoadedTask:
    """Load a task's problems: a ``file:`` task from its file, else ``data_dir``/``$SKYEVAL_DATA_DIR``, else Hub.

    ``limit`` keeps the first N problems; the fingerprint is of the problems kept. ``hub_status``: the result
    of a probe already made (``skyeval.hub.probe``); without it the Hub is probed before it is used.
    """
    path = local_path(spec, data_dir)
    layout = ""
    if path is None:
        problems, source = _load_hub(spec, hub_status)
    else:
        if not spec.name.startswith(FILE_PREFIX) and not path.is_file():
            if not path.parent.is_dir():
                raise SkyevalError(f"data dir not found: {path.parent}")
            raise SkyevalError(f"no {spec.name}.jsonl in data dir {path.parent}")
        problems, read_as = _file_problems(path, spec)
        source, layout = str(path), read_as.name
        if spec.name.startswith(FILE_PREFIX):
            absent = [f for f in spec.local_fields.meta if not any(f in p.meta for p in problems)]
            if absent:
                raise SkyevalError(f"--meta-field {', '.join(absent)}: no row of {path} has a value for it")
    if not problems:
        raise SkyevalError(f"task {spec.name!r} has no problems ({source})")
    if limit is not None:
        problems = problems[:limit]
    return LoadedTask(spec, tuple(problems), fingerprint(problems), source, layout)


def local_layout(spec: TaskSpec, data_dir: str | Path | None) -> str | None:
    """The layout the task's local file is in (its first row read; ``detect_layout``), None without a file."""
    path = local_path(spec, data_dir)
    if path is None or not path.is_file():
        return None
    first = next(iter_jsonl(path), None)
    return _layout_of(spec, path, first[1] if first else None).name


def count_rows(name: str, data_dir: str | Path | None = None) -> int | None:
    """Row count of a task from the data dir when available (never touches the network)."""
    root = data_root(data_dir)
    if not root:
        return None
    path = Path(root) / f"{name}.jsonl"
    if not path.is_file():
        return None
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


__all__ = [
    "FieldMap",
    "Layout",
    "LoadedTask",
    "TaskSpec",
    "count_rows",
    "data_root",
    "file_task",
    "fingerprint",
    "get_task",
    "load_task",
    "local_layout",
    "local_path",
    "normalize_gold",
    "resolve_task",
    "task_names",
]
