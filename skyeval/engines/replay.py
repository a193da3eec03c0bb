"""``replay``: completions read from a JSONL file (published outputs, another tool's run): re-score them.

Each row holds an id (``id_field``) and its response(s) (``response_field``): a string for one sample, or a
list whose i-th item is sample i (like ``code`` in Qwen2.5-Math's evaluation outputs). ``finish_field``, when
given, names a field with the finish reason (a string, or a list parallel to the responses). With a ``file:``
task the file and its id field default to the task's own (``task_defaults``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.tasks import FILE_PREFIX, TaskSpec
from skyeval.types import Completion, FinishReason, GenerationRequest, SamplingParams


def task_defaults(task: TaskSpec) -> dict[str, Any]:
    """A ``file:PATH`` task replays its own file, keyed by the task's id field; other tasks default nothing."""
    if not task.name.startswith(FILE_PREFIX):
        return {}
    defaults: dict[str, Any] = {"path": task.name[len(FILE_PREFIX) :]}
    if task.local_fields.id:
        defaults["id_field"] = task.local_fields.id
    return defaults


class ReplayEngine:
    """Serve saved completions by (problem id, sample index)."""

    name = "replay"

    def __init__(
        self, path: str, id_field: str = "id", response_field: str = "completion", finish_field: str = ""
    ) -> None:
        from skyeval.jsonl import read_jsonl

        self.path = path
        self.responses: dict[str, list[str]] = {}
        self.finish: dict[str, list[FinishReason]] = {}
        for i, row in enumerate(read_jsonl(path)):
            if id_field not in row or response_field not in row:
                raise SkyevalError(f"{path}: row {i} lacks {id_field!r} or {response_field!r}")
            pid = str(row[id_field])
            texts = _as_list(row[response_field])
            if not all(isinstance(t, str) for t in texts):
                raise SkyevalError(f"{path}: row {i}: {response_field!r} must hold strings")
            self.responses[pid] = texts
            reasons = _as_list(row.get(finish_field)) if finish_field else []
            self.finish[pid] = ["length" if r == "length" else "stop" for r in reasons]

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingParams
    ) -> Iterator[Completion]:
        missing = [
            f"{req.problem_id}#{idx}"
            for req in requests
            for idx in req.sample_indices
            if idx >= len(self.responses.get(req.problem_id, ()))
        ]
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise SkyevalError(
                f"replay file {self.path} lacks {len(missing)} requested sample(s): {shown} "
                "(check the id fields and --samples)"
            )
        for req in requests:
            texts = self.responses[req.problem_id]
            reasons = self.finish.get(req.problem_id, [])
            for idx in req.sample_indices:
                finish: FinishReason = reasons[idx] if idx < len(reasons) else "stop"
                yield Completion(req.problem_id, idx, texts[idx], finish)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]
