"""``skythought``: the ``results.json`` and ``summary.json`` that ``skythought evaluate`` writes.

Read against NovaSky-AI/SkyThought at commit 0d190f1: ``skythought/evals/inference_and_check.py``
(``generate_responses_for_dataset``, ``score_responses``, ``save_results``) writes ``results.json`` as an object
from each problem's ``_index`` (its row in the filtered dataset, a string) to the dataset row itself plus
``prompt`` (the user turn), ``input_conversation``, ``responses`` (``{"content", "correctness", "reason"}``
per sample; ``correctness`` None before ``skythought score``) and ``token_usages``
(``{"completion_tokens", "prompt_tokens"}`` per sample); ``skythought/evals/util/results.py``
(``SummaryResults``) writes ``summary.json``: ``configuration`` (``task.config.question_key``, ``model.name``,
``model.config.system_prompt``, ``sampling_params``), ``accuracy`` (correct responses / responses, four
decimals) and ``pass_at_k`` (``{"k=8": percent, ...}``, three decimals; ``util/metrics.py``). SkyThought keeps no
extracted answer and no finish reason: a sample whose completion tokens reach ``max_tokens`` is recorded as cut
off (``length``), the others as ``unknown``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.importers.base import (
    Source,
    SourceItem,
    SourceSample,
    field_of,
    one_of,
    optional_int,
    read_json,
    source_file,
    verdict,
)
from skyeval.metrics import pass_at_k
from skyeval.types import UNKNOWN_FINISH

FORMAT = "skythought"
_QUESTION_KEYS = ("problem", "question", "prompt")


def _summary(results_path: Path, paths: Sequence[Path]) -> tuple[Path | None, dict[str, Any]]:
    given = [p for p in paths if p.name == "summary.json"]
    path = given[0] if given else results_path.with_name("summary.json")
    if not path.is_file():
        return None, {}
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise SkyevalError(f"{path}: expected SkyThought's summary object")
    return path, raw


def _settings(summary: Mapping[str, Any]) -> tuple[dict[str, Any], str | None, str | None]:
    """(generation settings, model name, question key) from ``summary.json``'s ``configuration``."""
    config = summary.get("configuration") or {}
    sampling = config.get("sampling_params") or {}
    model = config.get("model") or {}
    task = (config.get("task") or {}).get("config") or {}
    settings: dict[str, Any] = {}
    for key in ("temperature", "top_p", "max_tokens", "n", "seed"):
        if isinstance(sampling.get(key), int | float) and not isinstance(sampling.get(key), bool):
            settings[key] = sampling[key]
    system = (model.get("config") or {}).get("system_prompt")
    if isinstance(system, str):
        settings["system_prompt"] = system
    template = (task.get("templating_parameters") or {}).get("template")
    if isinstance(template, str):
        settings["user_template"] = template
    model_name = model.get("name")
    question_key = task.get("question_key")
    return (
        settings,
        model_name if isinstance(model_name, str) else None,
        question_key if isinstance(question_key, str) else None,
    )


def _item(where: str, record: Mapping[str, Any], key: str | None, max_tokens: int | None) -> SourceItem:
    responses = field_of(record, "responses", where, list)
    usages = record.get("token_usages") or [{}] * len(responses)
    if not isinstance(usages, list) or len(usages) != len(responses):
        raise SkyevalError(f"{where}: token_usages must be a list parallel to responses")
    samples = []
    for i, (resp, usage) in enumerate(zip(responses, usages, strict=True)):
        at = f"{where} responses[{i}]"
        if not isinstance(resp, dict):
            raise SkyevalError(f"{at}: expected an object with content and correctness")
        content = field_of(resp, "content", at, str)
        correct = resp.get("correctness")
        tokens = optional_int(usage.get("completion_tokens")) if isinstance(usage, dict) else None
        cut = tokens is not None and max_tokens is not None and tokens >= max_tokens
        samples.append(
            SourceSample(
                completion=content,
                correct=None if correct is None else verdict(correct, at, "correctness"),
                finish_reason="length" if cut else UNKNOWN_FINISH,
                prompt_tokens=optional_int(usage.get("prompt_tokens")) if isinstance(usage, dict) else None,
                completion_tokens=tokens,
            )
        )
    keys = (key,) if key else _QUESTION_KEYS
    question = next((record[k] for k in keys if isinstance(record.get(k), str)), None)
    if question is None:
        raise SkyevalError(f"{where}: no question field ({', '.join(keys)})")
    prompt = record.get("prompt")
    return SourceItem(
        where, tuple(samples), question=question, prompt=prompt if isinstance(prompt, str) else ""
    )


def recompute(items: Sequence[SourceItem], ks: Sequence[str]) -> dict[str, tuple[float, float]]:
    """SkyThought's ``accuracy`` and ``pass_at_k`` from its verdicts, with half a unit of their precision."""
    verdicts = [s.correct for item in items for s in item.samples]
    if not verdicts or any(v is None for v in verdicts):
        return {}
    out = {"accuracy": (sum(bool(v) for v in verdicts) / len(verdicts), 0.00005 + 1e-9)}
    for name in ks:
        k = int(name.removeprefix("k="))
        scores = [pass_at_k(len(i.samples), sum(bool(s.correct) for s in i.samples), k) for i in items]
        out[f"pass_at_k.{name}"] = (100 * math.fsum(scores) / len(scores), 0.0005 + 1e-9)
    return out


def read(paths: Sequence[Path], options: Mapping[str, Any]) -> Source:
    """A SkyThought run: ``results.json`` (and ``summary.json``, given or beside it)."""
    (results_path,) = one_of(paths, ("results.json",), "SkyThought results.json")[:1]
    summary_path, summary = _summary(results_path, paths)
    settings, model, key = _settings(summary)
    raw = read_json(results_path)
    if not isinstance(raw, dict):
        raise SkyevalError(f"{results_path}: expected SkyThought's object of problems by _index")
    limit = settings.get("max_tokens")
    items = []
    for index, record in raw.items():
        where = f"{results_path} [{index!r}]"
        if not isinstance(record, dict):
            raise SkyevalError(f"{where}: expected a problem's record (an object)")
        items.append(_item(where, record, key, limit if isinstance(limit, int) else None))
    files = [source_file(results_path, len(items))]
    metrics: dict[str, float] = {}
    if summary_path is not None:
        files.append(source_file(summary_path, 1))
        if isinstance(summary.get("accuracy"), int | float):
            metrics["accuracy"] = float(summary["accuracy"])
        for name, value in (summary.get("pass_at_k") or {}).items():
            if isinstance(value, int | float):
                metrics[f"pass_at_k.{name}"] = float(value)
    ks = [m.removeprefix("pass_at_k.") for m in metrics if m.startswith("pass_at_k.")]
    notes = [] if summary_path else [f"no summary.json beside {results_path}: settings and model unknown"]
    return Source(
        format=FORMAT,
        items=tuple(items),
        files=tuple(files),
        model=model,
        settings=settings,
        metrics=metrics,
        recomputed=recompute(items, ks) if metrics else {},
        notes=tuple(notes),
    )
