"""``lm-eval``: the ``samples_<task>_<date>.jsonl`` that lm-evaluation-harness writes with ``--log_samples``.

Read against EleutherAI/lm-evaluation-harness at commit 4e7e0d4: ``lm_eval/evaluator.py`` (``evaluate``, the
``example`` dict) logs, per document and filter, ``doc_id``, ``doc`` (the dataset row), ``target``,
``arguments``, ``resps`` (per request, the list of its ``repeats`` responses), ``filtered_resps``, ``filter``,
``metrics`` (the metric names) and each metric's value; ``lm_eval/loggers/evaluation_tracker.py``
(``save_results_samples``) rewrites ``arguments`` as ``{"gen_args_0": {"arg_0": prompt, "arg_1": generation
kwargs}}`` and ``target`` as a string. A file holding several filters (``strict-match``, ``flexible-extract``)
needs ``-S filter=NAME``. The verdict is the metric (``exact_match`` by default) when the row has one response;
with ``repeats`` > 1 the metric is the document's, so per-sample verdicts are unknown. The filtered response is
the source's extracted answer unless the filter is ``none`` (the whole response). No finish reasons are logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.importers.base import (
    Source,
    SourceItem,
    SourceSample,
    field_of,
    jsonl_rows,
    one_of,
    source_file,
    verdict,
)

FORMAT = "lm-eval"
_QUESTION_FIELDS = ("problem", "question", "input")


def _question(doc: Mapping[str, Any], field: str | None) -> str | None:
    if field:
        value = doc.get(field)
        return value if isinstance(value, str) else None
    lowered = {str(k).lower(): v for k, v in doc.items()}
    return next((v for k in _QUESTION_FIELDS if isinstance(v := lowered.get(k), str)), None)


def _metric(row: Mapping[str, Any], where: str, wanted: str | None) -> str:
    names = [str(m) for m in row.get("metrics") or []]
    if wanted:
        if wanted not in row:
            raise SkyevalError(f"{where}: no metric {wanted!r} (the row has {', '.join(names) or 'none'})")
        return wanted
    if "exact_match" in names or len(names) == 1:
        return "exact_match" if "exact_match" in names else names[0]
    raise SkyevalError(f"{where}: metrics {', '.join(names)}: say which one is the verdict (-S metric=NAME)")


def _settings(row: Mapping[str, Any]) -> dict[str, Any]:
    kwargs = ((row.get("arguments") or {}).get("gen_args_0") or {}).get("arg_1")
    if not isinstance(kwargs, dict):
        return {}
    found: dict[str, Any] = {}
    if kwargs.get("do_sample") is False:
        found["temperature"] = 0.0
    for key, name in (("temperature", "temperature"), ("top_p", "top_p"), ("max_gen_toks", "max_tokens")):
        value = kwargs.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[name] = value
    if isinstance(kwargs.get("until"), list):
        found["until"] = kwargs["until"]
    return found


def _item(where: str, row: Mapping[str, Any], options: Mapping[str, Any]) -> SourceItem:
    doc = field_of(row, "doc", where, dict)
    resps = field_of(row, "resps", where, list)
    if len(resps) != 1 or not isinstance(resps[0], list) or not all(isinstance(r, str) for r in resps[0]):
        raise SkyevalError(
            f"{where}: resps must hold one request's list of responses (a generate_until task)"
        )
    texts = resps[0]
    metric = _metric(row, where, options.get("metric"))
    correct = verdict(row.get(metric), where, metric) if len(texts) == 1 else None
    filtered = (row.get("filtered_resps") or [None])[0]
    extracted = (
        filtered if row.get("filter") != "none" and isinstance(filtered, str) and len(texts) == 1 else None
    )
    samples = tuple(SourceSample(t, extracted=extracted, correct=correct) for t in texts)
    prompt = ((row.get("arguments") or {}).get("gen_args_0") or {}).get("arg_0")
    prompt = prompt if isinstance(prompt, str) else ""
    question = _question(doc, options.get("question_field"))
    return SourceItem(where, samples, question=question or prompt, embedded=question is None, prompt=prompt)


def read(paths: Sequence[Path], options: Mapping[str, Any]) -> Source:
    """lm-eval sample logs ``paths`` (``samples_*.jsonl``), one filter's rows."""
    logs = one_of(paths, (".jsonl",), "lm-eval samples_*.jsonl file")
    rows = [(where, row) for path in logs for where, row in jsonl_rows(path)]
    filters = sorted({str(row.get("filter")) for _, row in rows})
    wanted = options.get("filter")
    if wanted is None and len(filters) > 1:
        raise SkyevalError(
            f"the samples hold the filters {', '.join(filters)}: choose one with -S filter=NAME"
        )
    if wanted is not None and wanted not in filters:
        raise SkyevalError(f"no rows with filter {wanted!r} (the samples hold {', '.join(filters)})")
    chosen = [(w, r) for w, r in rows if wanted is None or r.get("filter") == wanted]
    items = [_item(where, row, options) for where, row in chosen]
    settings = _settings(chosen[0][1]) if chosen else {}
    if items:
        settings["n"] = max(len(i.samples) for i in items)
    notes = []
    if items and settings["n"] > 1:
        notes.append("lm-eval's metric is per document with repeats > 1: per-sample source verdicts unknown")
    counts = {str(p): sum(1 for w, _ in rows if w.startswith(f"{p}:")) for p in logs}
    return Source(
        format=FORMAT,
        items=tuple(items),
        files=tuple(source_file(p, counts[str(p)]) for p in logs),
        settings=settings,
        notes=tuple(notes),
    )
