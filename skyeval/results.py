"""Run directories: ``config.json``, ``samples.jsonl`` (append-only, flushed per sample) and ``summary.json``.

``samples.jsonl`` is the source of truth: one graded sample per line, keyed by (problem_id, sample_index).
A process killed mid-write leaves at most a torn last line; reading drops it and ``open_writer`` cuts it off
before appending, so a resumed run never glues a new row onto a torn one. A lock file keeps two runs from
writing the same directory at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from skyeval.errors import SkyevalError
from skyeval.jsonl import cut_torn_tail, iter_jsonl, write_jsonl
from skyeval.types import RunConfig, SampleRecord, SamplingParams

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

    Model, task, engine, sampling (not ``n`` or ``limit``: they can grow on resume), seed, system prompt
    and template, plus every engine option that changes generations (``option.<name>``: hf/vllm ``dtype``,
    ``seed``, vllm ``max_model_len``, openai ``mode``, the replay file and fields ...). Options the engine's
    registry entry lists as neutral (concurrency, retries, timeouts, batch size, device, tensor parallelism,
    server URL ...) and options left at their default are not part of it, so changing them resumes.
    """
    from skyeval.engines import generation_options

    s = config.sampling
    ident: dict[str, Any] = {
        "model": config.model,
        "task": config.task,
        "engine": config.engine,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "max_tokens": s.max_tokens,
        "seed": s.seed,
        "system_prompt": config.system_prompt,
        "prompt_template": config.prompt_template,
    }
    for key, value in generation_options(config.engine, config.engine_options).items():
        ident[f"option.{key}"] = value
    return ident


def identity_changes(old: RunConfig, new: RunConfig) -> list[str]:
    """The names of the identity settings that differ between two configs (empty: the same run)."""
    a, b = run_identity(old), run_identity(new)
    return sorted(k for k in a.keys() | b.keys() if (k in a) != (k in b) or a.get(k) != b.get(k))


def run_dir_for(output_dir: str | Path, config: RunConfig, prompt_name: str) -> Path:
    """``OUTPUT/<model>/<task>/<engine>-t<T>-p<top_p>-m<max_tokens>-s<seed>-<prompt>-<hash>``."""
    ident = json.dumps(run_identity(config), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:8]
    s = config.sampling
    task = config.task
    if task.startswith("file:"):
        task = "file-" + Path(task[len("file:") :]).stem
    name = f"{config.engine}-t{s.temperature:g}-p{s.top_p:g}-m{s.max_tokens}-s{s.seed}-{prompt_name}-{digest}"
    return Path(output_dir) / slug(config.model) / slug(task) / slug(name)


def config_to_json(config: RunConfig) -> dict[str, Any]:
    return asdict(config)


def config_from_json(row: Mapping[str, Any]) -> RunConfig:
    known = set(RunConfig.__dataclass_fields__)
    values = {k: v for k, v in row.items() if k in known}
    values["sampling"] = SamplingParams(**row["sampling"])
    if "problem_ids" in values:
        values["problem_ids"] = tuple(str(pid) for pid in values["problem_ids"])
    return RunConfig(**values)


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (temp file + rename): readers never see a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_config(run_dir: Path) -> RunConfig:
    path = run_dir / CONFIG
    if not path.is_file():
        raise SkyevalError(f"not a run directory (no {CONFIG}): {run_dir}")
    try:
        return config_from_json(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise SkyevalError(f"malformed {path}: {err}") from err


def read_samples(run_dir: Path) -> list[SampleRecord]:
    """All complete rows of ``samples.jsonl`` in file order; a torn last line is ignored.

    A malformed line anywhere else is corruption, not a crash artefact, and fails with its line number.
    """
    path = run_dir / SAMPLES
    if not path.is_file():
        return []
    records = []
    for lineno, row in iter_jsonl(path, tolerate_torn_tail=True):
        try:
            records.append(SampleRecord.from_json(row))
        except (TypeError, AttributeError) as err:
            raise SkyevalError(f"{path}:{lineno}: malformed sample row ({err})") from err
    return records


def dedupe(records: list[SampleRecord]) -> dict[tuple[str, int], SampleRecord]:
    """Records keyed by (problem_id, sample_index); the first row of a key wins."""
    by_key: dict[tuple[str, int], SampleRecord] = {}
    for rec in records:
        by_key.setdefault((rec.problem_id, rec.sample_index), rec)
    return by_key


@contextmanager
def lock(run_dir: Path) -> Iterator[None]:
    """Hold the run directory's lock (released by the OS even on kill -9)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fh = (run_dir / LOCK).open("w")
    except OSError as err:
        raise SkyevalError(f"cannot write run directory {run_dir}: {err.strerror or err}") from err
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise SkyevalError(f"another skyeval process is writing {run_dir}") from err
        yield


class SampleWriter:
    """Append ``SampleRecord`` rows to ``samples.jsonl``, flushing each so a kill loses none that was written."""

    def __init__(self, fh: IO[str]) -> None:
        self._fh = fh

    def write(self, record: SampleRecord) -> None:
        self._fh.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
        self._fh.flush()


@contextmanager
def open_writer(run_dir: Path) -> Iterator[SampleWriter]:
    """A writer appending to ``samples.jsonl``, after cutting off a torn last line if there is one."""
    path = run_dir / SAMPLES
    cut_torn_tail(path)
    with path.open("a", encoding="utf-8") as fh:
        yield SampleWriter(fh)


def rewrite_samples(run_dir: Path, records: list[SampleRecord]) -> None:
    """Replace ``samples.jsonl`` atomically (``skyeval score`` after re-grading)."""
    write_jsonl(run_dir / SAMPLES, (rec.to_json() for rec in records))


def read_summary(run_dir: Path) -> dict[str, Any]:
    path = run_dir / SUMMARY
    if not path.is_file():
        raise SkyevalError(f"no {SUMMARY} in {run_dir}")
    try:
        result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SkyevalError(f"malformed {path}: {err}") from err
    return result
