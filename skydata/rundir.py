"""A ``curate`` run directory: its manifest (funnel, per-stage status, key, timings, outputs and logs; the
public settings; versions), stage keys chained over the stages before, and cleanup of what a stage rerun makes
stale. The manifest is rewritten atomically after every change."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from skydata.backend import EngineConfig
from skydata.difficulty import RUBRIC_VERSION
from skydata.hashing import stable_hash
from skydata.stage import StageResult
from skyeval import results
from skyeval.jsonl import write_json

MANIFEST = "manifest.json"


def public(obj: Any) -> Any:
    """JSON-safe settings with engine secrets removed."""
    if isinstance(obj, EngineConfig):
        return obj.public()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: public(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): public(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [public(v) for v in obj]
    return obj


def settings_hash(settings: Any) -> str:
    """A stable hash of settings (secrets removed)."""
    return stable_hash(json.dumps(public(settings), sort_keys=True, default=str))


class RunDir:
    """The run directory of a ``curate`` whose stages are, in order, ``order``."""

    def __init__(self, path: str | Path, config: Any, order: Sequence[str]) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.order = tuple(order)
        self.file = self.path / MANIFEST
        self.manifest: dict[str, Any] = json.loads(self.file.read_text()) if self.file.exists() else {}
        self.manifest.setdefault("stages", {})
        self.manifest["config"] = public(config)
        self.manifest["versions"] = results.versions()
        self.manifest["rubric_version"] = RUBRIC_VERSION
        self._chain = ""
        self._invalid = False

    def key(self, settings: Any) -> str:
        """The next stage's key: its settings chained with every earlier stage's."""
        self._chain = settings_hash(self._chain + json.dumps(public(settings), sort_keys=True, default=str))
        return self._chain

    def done(self, stage: str, key: str) -> bool:
        """Whether ``stage`` is recorded ``done`` with ``key`` (and no earlier stage reran)."""
        entry = self.manifest["stages"].get(stage)
        ok = (
            not self._invalid
            and entry is not None
            and entry.get("key") == key
            and entry.get("status") == "done"
        )
        if not ok:
            self._invalid = True  # this stage reruns, so every later stage must too
        return ok

    def forget_from(self, stage: str) -> None:
        """Drop ``stage`` and every later stage from the manifest and delete their checkpoints and exports
        (never their append-only logs), so nothing stale is left if the run stops here."""
        later = self.order[self.order.index(stage) :]
        self._forget([name for name in later if name in self.manifest["stages"]])

    def prune(self, ran: Sequence[str]) -> None:
        """Forget stages the current settings no longer run (e.g. rewrite switched off)."""
        self._forget([name for name in self.manifest["stages"] if name not in ran])

    def _forget(self, names: list[str]) -> None:
        for name in names:
            entry = self.manifest["stages"].pop(name)
            for out in entry.get("outputs", []):
                (self.path / out).unlink(missing_ok=True)
        self._funnel()
        self.save()

    def record(
        self, result: StageResult, key: str, status: str, seconds: float, outputs: list[str], logs: list[str]
    ) -> None:
        """Record a stage's result with its status (``done`` or ``partial``), files and timing."""
        self.manifest["stages"][result.stage] = {
            **result.to_json(),
            "key": key,
            "status": status,
            "seconds": round(seconds, 3),
            "outputs": outputs,
            "logs": logs,
        }
        self._funnel()
        self.save()

    def _funnel(self) -> None:
        stages = self.manifest["stages"]
        self.manifest["funnel"] = [
            {k: stages[name][k] for k in ("stage", "rows_in", "rows_out", "dropped", "status")}
            for name in self.order
            if name in stages
        ]

    def save(self) -> None:
        write_json(self.file, self.manifest)

    def clean_tmp(self) -> None:
        """Temporary files a killed run left behind (the run dir is locked: no writer is using them)."""
        for tmp in self.path.glob("*.tmp"):
            tmp.unlink()
