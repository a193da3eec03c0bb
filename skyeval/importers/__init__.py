"""Importers of other harnesses' outputs (``skyeval import --from FORMAT``): a registry, one module per format.

Each ``ImporterSpec`` says where its reader lives (imported when used), what it needs installed, which options
it takes (``-S KEY=VALUE``) and how its problems are joined to the task's (``index``: the source's row index in
the benchmark file, checked against the question; ``question``: by question text). Readers turn files into a
``skyeval.importers.base.Source``; ``skyeval.importers.runner`` does the rest (join, grade, write a run
directory). Nothing outside this package branches on a format's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from skyeval.errors import SkyevalError, require
from skyeval.importers.base import Source


@dataclass(frozen=True)
class ImporterSpec:
    """One format's facts. ``reader`` names ``module:function``, ``(paths, options) -> Source``."""

    reader: str
    description: str
    join: Literal["index", "question"]
    options: Mapping[str, str] = field(default_factory=dict)  # option -> what it does
    requires: tuple[str, ...] = ()
    extra: str = ""


IMPORTERS: dict[str, ImporterSpec] = {
    "qwen-harness": ImporterSpec(
        "skyeval.importers.qwen_harness:read",
        "Qwen2.5-Math evaluation harness (math_eval.py): output JSONL (idx, code[], pred[], score[]) and its "
        "*_metrics.json",
        join="index",
    ),
    "skythought": ImporterSpec(
        "skyeval.importers.skythought:read",
        "results.json (and summary.json beside it) of `skythought evaluate`",
        join="question",
    ),
    "lighteval": ImporterSpec(
        "skyeval.importers.lighteval:read",
        "lighteval details parquet (details_<task>_<date>.parquet)",
        join="question",
        options={"metric": "the per-sample metric holding the verdict (default: the only 0/1 one)"},
        requires=("pyarrow",),
        extra="parquet",
    ),
    "lm-eval": ImporterSpec(
        "skyeval.importers.lm_eval:read",
        "lm-evaluation-harness samples_<task>_<date>.jsonl (--log_samples)",
        join="question",
        options={
            "filter": "which filter's rows to read when the file logs several",
            "metric": "the per-sample metric holding the verdict (default: exact_match, else the only one)",
            "question_field": "the doc field holding the question (default: problem, question or input)",
        },
    ),
}


def importer_spec(name: str) -> ImporterSpec:
    """The registry entry of format ``name``; unknown names fail with the list."""
    spec = IMPORTERS.get(name)
    if spec is None:
        raise SkyevalError(f"unknown import format {name!r}; choose one of: {', '.join(IMPORTERS)}")
    return spec


def check_options(name: str, options: Mapping[str, Any]) -> None:
    """Refuse options format ``name`` does not take (one line, listing those it takes) and missing extras."""
    spec = importer_spec(name)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        takes = ", ".join(spec.options) or "none"
        raise SkyevalError(f"format {name!r} does not take option(s) {', '.join(unknown)}; it takes: {takes}")
    for module in spec.requires:
        require(module, extra=spec.extra, what=f"importing {name!r} files")


def read_source(name: str, paths: Sequence[Path], options: Mapping[str, Any]) -> Source:
    """Read ``paths`` in format ``name`` (options checked first)."""
    check_options(name, options)
    module_name, attr = importer_spec(name).reader.split(":")
    reader: Callable[[Sequence[Path], Mapping[str, Any]], Source] = getattr(
        importlib.import_module(module_name), attr
    )
    return reader(paths, options)


__all__ = ["IMPORTERS", "ImporterSpec", "Source", "check_options", "importer_spec", "read_source"]
