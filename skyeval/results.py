"""Run directories, the one layer that reads and writes them: ``config.json``, ``samples.jsonl`` (append-only,
flushed per sample) and ``summary.json``, their file names and schema checks.

``samples.jsonl`` is the source of truth: one graded sample per line, keyed by (problem_id, sample_index); the
first row of a key wins. A process killed mid-write leaves at most a torn last line; reading drops it and
``open_writer`` cuts it off before appending, so a resumed run never glues a new row onto a torn one. A lock
file keeps two runs from writing the same directory at once. Every reader refuses a file written with a newer
schema version than this skyeval knows (``skyeval.types.SCHEMA_VERSION``, ``SUMMARY_SCHEMA_VERSION``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import platform
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.fingerprint import identity_fields
from skyeval.jsonl import AppendLog, has_torn_tail, iter_jsonl, read_json, write_json, write_jsonl
from skyeval.tasks import FILE_PREFIX
from skyeval.types import (
    SCHEMA_VERSION,
    SUMMARY_SCHEMA_VERSION,
    RunConfig,
    RunSummary,
    SampleRecord,
    from_json,
    to_json,
)

CONFIG = "config.json"
SAMPLES = "samples.jsonl"
SUMMARY = "summary.json"
LOCK = ".lock"


def slug(text: str) -> str:
    """A filesystem-safe name: ``Qwen/Qwen2.5-7B`` -> ``Qwen--Qwen2.5-7B``, ``/ckpt/step-9`` -> ``ckpt--step-9``."""
    text = text.strip("/.~").replace("/", "--")
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", text).strip("_.") or "x"


def run_identity(config: RunConfig) -> dict[str, Any]:
    """The settings that make two runs the same run: everything that changes what is generated.

    The model as resolved (``model_source``: a local path made absolute plus its content fingerprint and chat
    template hash, or a Hub id with its revision; the string as typed when there is none), the task (a ``file:``
    task by its absolute path), engine, sampling (not ``n`` or ``limit``: they can grow on resume), seed, system
    prompt and template, plus every engine option that changes generations (``option.<name>``: hf/vllm
    ``dtype``, ``seed``, vllm ``max_model_len``, openai ``mode``, the replay file and fields ...). Options the
    engine's registry entry lists as neutral (concurrency, retries, timeouts, batch size, device, tensor
    parallelism, server URL ...) and options left at their default are not part of it, so changing them resumes.
    Recorded but not identity: the grader version and policy (a change re-grades), versions, ``files``.
    """
    from skyeval.engines import generation_options

    s = config.sampling
    ident: dict[str, Any] = {"model": config.model}
    if config.model_source is not None:
        ident.update(identity_fields(config.model_source))
    ident.update(
        {
            "task": config.task,
            "engine": config.engine,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": s.seed,
            "system_prompt": config.system_prompt,
            "prompt_template": config.prompt_template,
        }
    )
    if config.response_prefill:
        ident["response_prefill"] = config.response_prefill
    if config.source is not None:  # an imported run is its source files, not an engine's generations
        ident["source"] = [f.sha256 for f in config.source.files]
        return ident
    for key, value in generation_options(config.engine, config.engine_options).items():
        ident[f"option.{key}"] = value
    return ident


def identity_changes(old: RunConfig, new: RunConfig) -> list[str]:
    """The names of the identity settings that differ between two configs (empty: the same run)."""
    a, b = run_identity(old), run_identity(new)
    return sorted(k for k in a.keys() | b.keys() if (k in a) != (k in b) or a.get(k) != b.get(k))


def run_dir_for(output_dir: str | Path, config: RunConfig, prompt_name: str) -> Path:
    """``OUTPUT/<model>/<task>/<engine>-t<T>-p<top_p>-m<max_tokens>-s<seed>-<prompt>-<hash>``.

    ``<model>`` is a local model's folder name (``./tiny`` and ``/abs/tiny`` are one run) or the model string.
    """
    ident = json.dumps(run_identity(config), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:8]
    s = config.sampling
    source = config.model_source
    model = Path(source.id).name if source is not None and source.kind == "local" else config.model
    task = config.task
    if task.startswith(FILE_PREFIX):
        task = "file-" + Path(task[len(FILE_PREFIX) :]).stem
    parts = {"t": f"{s.temperature:g}", "p": f"{s.top_p:g}", "m": f"{s.max_tokens}", "s": f"{s.seed}"}
    if config.source is not None:  # an import names what its source records (``unknown``: placeholders)
        known = {"t": "temperature", "p": "top_p", "m": "max_tokens", "s": "seed"}
        tags = [f"{k}{v}" for k, v in parts.items() if known[k] not in config.unknown] + [f"n{s.n}"]
        name = "-".join([config.engine, *tags, digest])
    else:
        name = "-".join([config.engine, *(k + v for k, v in parts.items()), prompt_name, digest])
    return Path(output_dir) / slug(model) / slug(task) / slug(name)


def check_schema(found: object, supported: int, where: str) -> None:
    """Refuse a file (or row) written with a schema newer than ``supported``: one line naming both versions."""
    if not isinstance(found, int) or isinstance(found, bool):
        raise SkyevalError(f"{where}: malformed schema_version {found!r}")
    if found > supported:
        raise SkyevalError(
            f"{where} has schema version {found}, newer than this skyeval reads ({supported}); upgrade skyeval"
        )


def config_to_json(config: RunConfig) -> dict[str, Any]:
    row: dict[str, Any] = to_json(config)
    return row


def config_from_json(row: Mapping[str, Any], where: str = CONFIG) -> RunConfig:
    """A ``RunConfig`` from its JSON; a newer schema is refused, an older one read with defaults."""
    check_schema(row.get("schema_version", 1), SCHEMA_VERSION, where)
    return from_json(RunConfig, dict(row))


# Packages whose versions a run (or a curation manifest) records.
VERSIONED = (
    "skyeval",
    "torch",
    "transformers",
    "vllm",
    "openai",
    "httpx",
    "sympy",
    "math-verify",
    "datasets",
    "ray",
)


def versions(packages: Iterable[str] = VERSIONED) -> dict[str, str]:
    """Installed versions of ``packages`` (absent ones left out) and Python's: the one version collector."""
    found = {"python": platform.python_version()}
    for dist in packages:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found


def read_config(run_dir: Path) -> RunConfig:
    path = run_dir / CONFIG
    if not path.is_file():
        raise SkyevalError(f"not a run directory (no {CONFIG}): {run_dir}")
    row = read_json(path)
    try:
        return config_from_json(row, str(path))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise SkyevalError(f"malformed {path}: {err}") from err


def write_config(run_dir: Path, config: RunConfig) -> None:
    """Write ``config.json`` atomically."""
    write_json(run_dir / CONFIG, config_to_json(config))


def read_sample_file(path: Path) -> list[SampleRecord]:
    """All complete rows of a ``samples.jsonl`` file in file order; a torn last line is ignored.

    A malformed line anywhere else is corruption, not a crash artefact, and fails with its line number; so
    does a row of a newer schema. The one reader of the format (``read_samples`` for a run directory).
    """
    records = []
    for lineno, row in iter_jsonl(path, tolerate_torn_tail=True):
        check_schema(row.get("schema_version", 1), SCHEMA_VERSION, f"{path}:{lineno}")
        try:
            records.append(SampleRecord.from_json(row))
        except (TypeError, AttributeError) as err:
            raise SkyevalError(f"{path}:{lineno}: malformed sample row ({err})") from err
    return records


def read_samples(run_dir: Path) -> list[SampleRecord]:
    """The rows of a run directory's ``samples.jsonl`` (``read_sample_file``); none when it has no file yet."""
    path = run_dir / SAMPLES
    return read_sample_file(path) if path.is_file() else []


def dedupe(records: Iterable[SampleRecord]) -> dict[tuple[str, int], SampleRecord]:
    """Records keyed by (problem_id, sample_index), in file order; the first row of a key wins (the one
    duplicate policy: it is the row a resumed run counted as done)."""
    by_key: dict[tuple[str, int], SampleRecord] = {}
    for rec in records:
        by_key.setdefault((rec.problem_id, rec.sample_index), rec)
    return by_key


@dataclass(frozen=True)
class RunData:
    """A run directory as ``score`` and ``report`` read it: the config, the unique sample rows (first row of a
    key wins, file order) and what reading left out (repeated rows, a torn last line)."""

    path: Path
    config: RunConfig
    records: tuple[SampleRecord, ...]
    duplicates: int = 0
    torn_tail: bool = False


def read_run(run_dir: str | Path) -> RunData:
    """Read a run directory for summarising: the one reader behind ``skyeval score`` and ``skyeval report``.

    A pre-release ``config.json`` (schema 1) lacks the task order and breakdown fields that the summary needs:
    it is refused with the command that updates it (the same ``skyeval run``, which regenerates nothing).
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise SkyevalError(f"not a run directory: {path}")
    config = read_config(path)
    if config.schema_version < SCHEMA_VERSION:
        raise SkyevalError(
            f"{path / CONFIG} has schema version {config.schema_version} (pre-release skyeval); re-run the same "
            "`skyeval run` command to update it (nothing is regenerated)"
        )
    if not (path / SAMPLES).is_file():
        raise SkyevalError(f"{path}: missing {SAMPLES}; is this a skyeval run directory?")
    rows = read_samples(path)
    unique = dedupe(rows)
    return RunData(
        path, config, tuple(unique.values()), len(rows) - len(unique), has_torn_tail(path / SAMPLES)
    )


@contextmanager
def lock(run_dir: str | Path, *, holder: str = "skyeval process") -> Iterator[None]:
    """Hold a directory's lock (released by the OS even on kill -9): one writer per run or curation directory.

    ``holder`` names who holds it in the error a second writer gets (``another <holder> is writing DIR``).
    """
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fh = (run_dir / LOCK).open("a")
    except OSError as err:
        raise SkyevalError(f"cannot write run directory {run_dir}: {err.strerror or err}") from err
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise SkyevalError(f"another {holder} is writing {run_dir}") from err
        yield


class _SampleLog:
    """Append graded ``SampleRecord`` rows to ``samples.jsonl`` through the one append-only log."""

    def __init__(self, log: AppendLog) -> None:
        self._log = log

    def write(self, record: SampleRecord) -> None:
        self._log.write(record.to_json())


@contextmanager
def open_writer(run_dir: Path) -> Iterator[_SampleLog]:
    """A writer appending to ``samples.jsonl`` (a torn last line from a crash is cut off first)."""
    with AppendLog(run_dir / SAMPLES) as log:
        yield _SampleLog(log)


def rewrite_samples(run_dir: Path, records: Iterable[SampleRecord]) -> None:
    """Replace ``samples.jsonl`` atomically (``skyeval score`` after re-grading; test kits writing runs)."""
    write_jsonl(run_dir / SAMPLES, (rec.to_json() for rec in records))


def write_summary(run_dir: Path, summary: RunSummary) -> None:
    """Write ``summary.json`` atomically: the one writer of the typed summary."""
    write_json(run_dir / SUMMARY, to_json(summary))


def read_summary(run_dir: Path) -> RunSummary:
    """The typed ``summary.json``: the one reader. A newer schema, or the pre-release untyped one, is refused."""
    path = run_dir / SUMMARY
    if not path.is_file():
        raise SkyevalError(f"no {SUMMARY} in {run_dir}")
    row = read_json(path)
    found = row.get("schema_version", 1)
    check_schema(found, SUMMARY_SCHEMA_VERSION, str(path))
    if found < SUMMARY_SCHEMA_VERSION:
        raise SkyevalError(
            f"{path} has schema version {found} (pre-release skyeval); `skyeval score {run_dir}` rewrites it"
        )
    try:
        return from_json(RunSummary, row)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise SkyevalError(f"malformed {path}: {err}") from err
