"""Fail fast: everything a command needs, checked before it loads data, generates or writes anything.

A ``Preflight`` runs checks (engines and their extras, devices, servers through ``skyeval.engines.preflight``,
output folders, tasks and their data, the Hub, models) and keeps *every* problem it finds; ``raise_problems``
then raises one ``SkyevalError`` whose single line lists them all, so a user fixes everything in one go rather
than one error per hour-long attempt. Cheap checks come first; callers load data only once they passed
(``loadable``/``load_tasks``). ``skyeval run`` and skydata's curation both use it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from skyeval import hub
from skyeval.errors import SkyevalError, require
from skyeval.tasks import (
    FieldMap,
    LoadedTask,
    TaskSpec,
    load_task,
    local_path,
    offline_message,
    resolve_task,
)
from skyeval.types import ModelSource

T = TypeVar("T")


def check_writable_dir(path: str | Path, what: str) -> None:
    """Fail unless ``path`` is a directory this process can write, or one it can create (nothing is created).

    ``what`` names it in the error (``cannot write <what> PATH: not a directory``).
    """
    target = Path(path).expanduser()
    if target.exists() and not target.is_dir():
        raise SkyevalError(f"cannot write {what} {path}: a file is in the way")
    existing = target
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise SkyevalError(f"cannot write {what} {path}: {existing} is a file, not a directory")
    try:  # create and drop a nameless file: the only test that also sees read-only mounts and ACLs
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise SkyevalError(f"cannot write {what} {path}: {err.strerror or err} ({existing})") from err


class Preflight:
    """Collects the problems (fatal) and notes (said once, then the command goes on) of a command's checks.

    ``hub_client`` answers model-revision questions (a stub in tests); the Hub is probed at most once.
    """

    def __init__(self, *, hub_client: hub.HubClient | None = None) -> None:
        self.problems: list[str] = []
        self.notes: list[str] = []
        self._hub_client = hub_client
        self._hub_status: hub.HubStatus | None = None
        self._models: dict[tuple[str, bool], ModelSource | None] = {}

    def check(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``fn(*args, **kwargs)``; a ``SkyevalError`` it raises is kept as a problem (and None returned)."""
        try:
            return fn(*args, **kwargs)
        except SkyevalError as err:
            self.problem(str(err))
            return None

    def passes(self, fn: Callable[..., object], *args: Any, **kwargs: Any) -> bool:
        """Like ``check`` for a check that returns nothing: whether it passed."""
        try:
            fn(*args, **kwargs)
        except SkyevalError as err:
            self.problem(str(err))
            return False
        return True

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_problems(self) -> None:
        """One ``SkyevalError`` listing every problem found so far, on one line; nothing when there is none."""
        if len(self.problems) == 1:
            raise SkyevalError(self.problems[0])
        if self.problems:
            listed = " ".join(f"({i}) {p}" for i, p in enumerate(self.problems, 1))
            raise SkyevalError(f"{len(self.problems)} problems: {listed}")

    # -- checks -------------------------------------------------------------------------------------------------

    def engine(self, name: str, options: Mapping[str, Any], *, ray: bool = False) -> None:
        """Engine ``name`` with its constructor ``options``: its extra, options and the engine's own check
        (``engines.preflight``: hf/vllm devices and model paths, the openai server probe). With ``ray`` the
        engine runs on Ray workers: only the option names are checked here, and that Ray is installed."""
        from skyeval import engines

        if ray:
            self.passes(require, "ray", extra="ray", what="--ray")
            self.passes(engines.check_options, name, dict(options))
            return
        self.passes(engines.preflight, name, options)

    def writable_dir(self, path: str | Path, what: str) -> None:
        self.passes(check_writable_dir, path, what)

    def hub(self) -> hub.HubStatus:
        """The Hub's status, probed on first use (at most one request per Preflight)."""
        if self._hub_status is None:
            self._hub_status = hub.probe()
        return self._hub_status

    def task(self, name: str, fields: FieldMap | None, data_dir: str | Path | None) -> TaskSpec | None:
        """Resolve task ``name``; when its rows come from the Hub, check the Hub answers (local files are
        checked by loading them, ``load_tasks``)."""
        spec = self.check(resolve_task, name, fields)
        if spec is not None and local_path(spec, data_dir) is None and not self.hub().online:
            self.problem(offline_message(spec, self.hub()))
        return spec

    def load_tasks(self, tasks: Iterable[tuple[TaskSpec, str | Path | None]]) -> list[LoadedTask | None]:
        """Load every task's problems (local files first, then the Hub, skipped once a problem is known)."""
        todo = list(tasks)
        loaded: list[LoadedTask | None] = [None] * len(todo)
        local = [i for i, (spec, data_dir) in enumerate(todo) if local_path(spec, data_dir) is not None]
        for i in local + [i for i in range(len(todo)) if i not in local]:
            spec, data_dir = todo[i]
            if i in local or self.ok:
                loaded[i] = self.check(load_task, spec, data_dir, hub_status=self._hub_status)
        return loaded

    def model(self, model: str, *, loads_model: bool) -> ModelSource | None:
        """What ``model`` is (``skyeval.fingerprint.model_source``), worked out once per model."""
        from skyeval.fingerprint import is_hub_id, model_source

        key = (model, loads_model)
        if key not in self._models:
            online = loads_model and is_hub_id(model) and self.hub().online
            client = self._hub_client or hub.HuggingFaceHub()
            source = self.check(model_source, model, loads_model=loads_model, hub=client, online=online)
            if source is not None and source.kind == "hub" and not online:
                how = f"its cached revision {source.revision[:12]}" if source.revision else "its name only"
                self.note(
                    f"the Hugging Face Hub is unreachable ({self.hub().detail}): working offline; model {model!r} "
                    f"is identified by {how}"
                )
            self._models[key] = source
        return self._models[key]
