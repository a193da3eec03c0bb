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
import platform
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.fingerprint import identity_fields
from skyeval.jsonl import AppendLog, iter_jsonl, write_jsonl
from skyeval.types import ModelSource, RunConfig, SampleRecord, SamplingParams

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
    if task.startswith("file:"):
        task = "file-" + Path(task[len("file:") :]).stem
    name = f"{config.engine}-t{s.temperature:g}-p{s.top_p:g}-m{s.max_tokens}-s{s.seed}-{prompt_name}-{digest}"
    return Path(output_dir) / slug(model) / slug(task) / slug(name)


def config_to_json(config: RunConfig) -> dict[str, Any]:
    return asdict(config)


def config_from_json(row: Mapping[str, Any]) -> RunConfig:
    known = set(RunConfig.__dataclass_fields__)
    values = {k: v for k, v in row.items() if k in known}
    values["sampling"] = SamplingParams(**row["sampling"])
    if "problem_ids" in values:
        values["problem_ids"] = tuple(str(pid) for pid in values["problem_ids"])
    if values.get("model_source") is not None:
        values["model_source"] = ModelSource.from_json(values["model_source"])
    return RunConfig(**values)


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
