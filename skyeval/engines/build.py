"""The one place engines are built: in this process or replicated on Ray, once per command.

Used by the runner (``skyeval run``), skydata's stages (``skydata.backend``) and, inside each Ray actor, by
``skyeval.scaleout`` (through ``skyeval.engines.construct``). Ray is imported only when an address is given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from skyeval.engines import check_options, engine_parameters, get_engine, task_options
from skyeval.types import Engine

if TYPE_CHECKING:
    from skyeval.tasks import TaskSpec


def run_options(name: str, model: str, options: Mapping[str, Any], task: TaskSpec) -> dict[str, Any]:
    """The constructor options of engine ``name`` for a run of ``task``: the user's ``options``, plus ``model``
    when the engine takes one, plus what the engine defaults from the task (replay: the task's file).

    Not checked here: ``engines.preflight`` (extra first, then options) or the build does that.
    """
    opts = dict(options)
    if "model" in engine_parameters(name):
        opts.setdefault("model", model)
    for key, value in task_options(name, task).items():
        opts.setdefault(key, value)
    return opts


def build_engine(
    name: str, options: Mapping[str, Any], ray_address: str | None = None, replicas: int = 1
) -> Engine:
    """Engine ``name`` built here, or ``replicas`` copies of it on the Ray cluster at ``ray_address``."""
    if ray_address is None:
        return get_engine(name, **options)
    check_options(name, options)  # on the driver: a bad option fails before any actor starts
    from skyeval.scaleout import RayEngine

    engine: Engine = RayEngine(
        engine=name, engine_options=dict(options), replicas=replicas, address=ray_address
    )
    return engine


class EngineCache:
    """Engines built once per command and reused by its tasks, so a model loads once rather than per task.

    The key is every setting the engine was built with (its options, ``base_url`` included, and the Ray
    placement), so what an engine learns about its server (the openai engine's ``n`` support) stays with
    that server.
    """

    def __init__(self) -> None:
        self._engines: dict[str, Engine] = {}

    def get(
        self, name: str, options: Mapping[str, Any], ray_address: str | None = None, replicas: int = 1
    ) -> Engine:
        key = json.dumps([name, dict(options), ray_address, replicas], sort_keys=True, default=str)
        if key not in self._engines:
            self._engines[key] = build_engine(name, options, ray_address, replicas)
        return self._engines[key]

    def close(self) -> None:
        """Release engines that hold resources (Ray actors, GPUs)."""
        for engine in self._engines.values():
            close = getattr(engine, "close", None)
            if close is not None:
                close()
        self._engines.clear()
