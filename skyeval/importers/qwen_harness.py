"""``qwen-harness``: outputs of the Qwen2.5-Math evaluation harness (QwenLM/Qwen2.5-Math ``evaluation/``).

``math_eval.py`` (commit a45202b, ``main``) writes one JSONL row per problem: ``idx`` (the row index in the
benchmark file), ``question``, ``gt`` (its gold after ``strip_string``: never used here), ``code`` (the responses,
one per sample), ``pred`` (its extracted answers) and ``score`` (its verdicts, by ``evaluate.py``), plus
``<file stem>_<prompt type>_metrics.json`` with ``acc``: the mean of the first sample's verdicts x 100, rounded to
one decimal (``evaluate.py``: column means of the score matrix, ``mean_score[0]``). Its file name
``{split}_{prompt_type}_{num_test_sample}_seed{seed}_t{temperature}_s{start}_e{end}.jsonl`` records the prompt
type, seed and temperature (top-p is forced to 1 when the temperature is 0); a renamed file records none.
Several files are shards of one run. The harness records no finish reason or token counts.
"""

from __future__ import annotations

import re
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
    read_json,
    source_file,
    verdict,
)
from skyeval.prompts import QWEN_COT

FORMAT = "qwen-harness"
_NAME_RE = re.compile(
    r"(?P<split>[^_]+)_(?P<prompt_type>.+)_(?P<num>-?\d+)_seed(?P<seed>-?\d+)_t(?P<t>\d+(?:\.\d+)?)"
    r"_s(?P<start>-?\d+)_e(?P<end>-?\d+)"
)
#: System prompts of the harness's chat prompt types (``evaluation/utils.py`` ``PROMPT_TEMPLATES``).
_SYSTEM = {"qwen25-math-cot": QWEN_COT}


def settings_from_name(path: Path) -> dict[str, Any]:
    """What the harness's output file name says (empty for a renamed file)."""
    m = _NAME_RE.fullmatch(path.stem)
    if m is None:
        return {}
    temperature = float(m["t"])
    found: dict[str, Any] = {
        "prompt_type": m["prompt_type"],
        "seed": int(m["seed"]),
        "temperature": temperature,
    }
    if temperature == 0:
        found["top_p"] = 1.0  # math_eval.py: top_p = 1 if temperature == 0
    if m["prompt_type"] in _SYSTEM:
        found["system_prompt"] = _SYSTEM[m["prompt_type"]]
    return found


def _metrics_file(path: Path, given: Sequence[Path]) -> Path | None:
    """The metrics file of output ``path``: one given on the command line, else the harness's name beside it
    (``<stem>_<prompt type>_metrics.json``), else ``<stem>.metrics.json``."""
    if given:
        return given[0]
    beside = sorted(path.parent.glob(f"{path.stem}_*_metrics.json")) + [path.with_suffix(".metrics.json")]
    return next((p for p in beside if p.is_file()), None)


def _item(where: str, row: Mapping[str, Any]) -> SourceItem:
    idx = field_of(row, "idx", where, int)
    code = field_of(row, "code", where, list)
    score = field_of(row, "score", where, list)
    pred = row.get("pred", [None] * len(code))
    if not isinstance(pred, list) or not len(code) == len(score) == len(pred):
        raise SkyevalError(f"{where}: code, pred and score must be lists of one length")
    if not all(isinstance(c, str) for c in code):
        raise SkyevalError(f"{where}: code must hold the responses (strings)")
    samples = tuple(
        SourceSample(
            completion=c,
            extracted=None if p is None else str(p),
            correct=verdict(s, where, "score"),
        )
        for c, p, s in zip(code, pred, score, strict=True)
    )
    question = row.get("question")
    return SourceItem(where, samples, index=idx, question=question if isinstance(question, str) else None)


def recompute_acc(items: Sequence[SourceItem]) -> float:
    """The harness's ``acc`` from its own verdicts: the first sample's mean x 100 (it publishes one decimal)."""
    firsts = [bool(item.samples[0].correct) for item in items if item.samples]
    return 100 * sum(firsts) / len(firsts) if firsts else 0.0


def read(paths: Sequence[Path], options: Mapping[str, Any]) -> Source:
    """The harness output files ``paths`` (JSONL shards, optionally their metrics JSON)."""
    outputs = one_of([p for p in paths if not p.name.endswith("metrics.json")], (".jsonl",), "harness output")
    given_metrics = [p for p in paths if p.name.endswith("metrics.json")]
    if given_metrics and len(outputs) > 1:
        raise SkyevalError("a metrics file belongs to one output file; give one output with it")
    items: list[SourceItem] = []
    files = []
    named = [settings_from_name(p) for p in outputs]
    for path in outputs:
        rows = [_item(where, row) for where, row in jsonl_rows(path)]
        items += rows
        files.append(source_file(path, len(rows)))
    if any(s != named[0] for s in named):
        raise SkyevalError("the harness files were written with different settings (their names differ)")
    settings = dict(named[0])
    if items:
        settings["n"] = max(len(i.samples) for i in items)
    metrics: dict[str, float] = {}
    notes = []
    metrics_path = _metrics_file(outputs[0], given_metrics) if len(outputs) == 1 else None
    if metrics_path is not None:
        raw = read_json(metrics_path)
        if not isinstance(raw, dict):
            raise SkyevalError(f"{metrics_path}: expected the harness's metrics object")
        acc = raw.get("acc")
        if isinstance(acc, int | float) and not isinstance(acc, bool):
            metrics["acc"] = float(acc)  # the published number (the file's other fields are bookkeeping)
        files.append(source_file(metrics_path, 1))
    else:
        notes.append("no *_metrics.json beside the output: the published acc is not checked")
    return Source(
        format=FORMAT,
        items=tuple(items),
        files=tuple(files),
        settings=settings,
        metrics=metrics,
        recomputed={"acc": (recompute_acc(items), 0.05 + 1e-9)} if "acc" in metrics else {},
        notes=tuple(notes),
    )
