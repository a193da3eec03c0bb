"""``lighteval``: the details parquet (``details_<task>_<date>.parquet``) that lighteval writes per task.

Read against huggingface/lighteval at commit 3fd1526: ``src/lighteval/logging/evaluation_tracker.py``
(``save_results``, ``save_details``) writes ``Dataset.from_list([asdict(detail)])`` with its columns sorted, one
row per document; ``src/lighteval/logging/info_loggers.py`` (``DetailsLogger.Detail``) makes each row ``doc``
(``src/lighteval/tasks/requests.py`` ``Doc``: ``query``, ``choices``, ``gold_index``, ``original_query``,
``generation_size``, ``num_samples``, ``stop_sequences`` ...), ``model_response``
(``src/lighteval/models/model_output.py`` ``ModelResponse``: ``text`` (one per sample), ``input_tokens``,
``output_tokens`` ...) and ``metric`` (name -> value, e.g. ``"pass@k:k=1&n=1"`` of ``math_500``). The query is
the task's template around the problem, so the problem is found inside it. The verdict is the metric (the only
one, or ``-S metric=NAME``) when the row has one sample; with several the metric is the document's, so per-sample
verdicts are unknown. lighteval keeps no extracted answer, finish reason or sampling temperature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.importers.base import Source, SourceItem, SourceSample, field_of, one_of, source_file, verdict

FORMAT = "lighteval"


def _rows(path: Path) -> list[dict[str, Any]]:
    import pyarrow
    import pyarrow.parquet as pq

    try:
        rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    except (OSError, pyarrow.ArrowInvalid) as err:
        raise SkyevalError(f"{path}: not a readable parquet file ({err})") from None
    return rows


def _metric(metric: Mapping[str, Any], where: str, wanted: str | None) -> str:
    if wanted:
        if wanted not in metric:
            raise SkyevalError(f"{where}: no metric {wanted!r} (the row has {', '.join(metric) or 'none'})")
        return wanted
    if len(metric) == 1:
        return next(iter(metric))
    raise SkyevalError(f"{where}: metrics {', '.join(metric)}: say which one is the verdict (-S metric=NAME)")


def _item(where: str, row: Mapping[str, Any], options: Mapping[str, Any]) -> SourceItem:
    doc = field_of(row, "doc", where, dict)
    response = field_of(row, "model_response", where, dict)
    metric = field_of(row, "metric", where, dict)
    texts = field_of(response, "text", f"{where} model_response", list)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise SkyevalError(f"{where}: model_response.text must hold the generated texts")
    name = _metric(metric, where, options.get("metric"))
    correct = verdict(metric[name], where, name) if len(texts) == 1 else None
    outputs = response.get("output_tokens") or []
    prompt_tokens = len(response["input_tokens"]) if isinstance(response.get("input_tokens"), list) else None
    samples = tuple(
        SourceSample(
            t,
            correct=correct,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(outputs[i]) if i < len(outputs) and isinstance(outputs[i], list) else None,
        )
        for i, t in enumerate(texts)
    )
    query = field_of(doc, "query", f"{where} doc", str)
    original = doc.get("original_query")
    if isinstance(original, str) and original.strip():
        return SourceItem(where, samples, question=original, prompt=query)
    return SourceItem(where, samples, question=query, embedded=True, prompt=query)


def read(paths: Sequence[Path], options: Mapping[str, Any]) -> Source:
    """lighteval details files ``paths`` (``*.parquet``)."""
    details = one_of(paths, (".parquet",), "lighteval details parquet")
    items: list[SourceItem] = []
    files = []
    settings: dict[str, Any] = {}
    for path in details:
        rows = _rows(path)
        items += [_item(f"{path} row {i}", row, options) for i, row in enumerate(rows)]
        files.append(source_file(path, len(rows)))
        if rows and isinstance(doc := rows[0].get("doc"), dict):
            if isinstance(doc.get("generation_size"), int):
                settings["max_tokens"] = doc["generation_size"]
            if isinstance(doc.get("stop_sequences"), list):
                settings["stop"] = doc["stop_sequences"]
    if items:
        settings["n"] = max(len(i.samples) for i in items)
    notes = []
    if items and settings["n"] > 1:
        notes.append("lighteval's metric is per document with several samples: per-sample verdicts unknown")
    return Source(
        format=FORMAT, items=tuple(items), files=tuple(files), settings=settings, notes=tuple(notes)
    )
