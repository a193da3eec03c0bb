"""Generation engines, looked up by name and imported only when used.

Each entry maps a name to ``module:factory`` and the extra that provides its dependencies; ``get_engine``
checks the dependency first so a missing extra fails with the exact ``pip install`` hint.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from skyeval.errors import SkyevalError, require
from skyeval.types import Engine


@dataclass(frozen=True)
class EngineSpec:
    target: str  # "module:factory"
    requires: tuple[str, ...]  # importable modules the engine needs
    extra: str  # the skyeval extra that installs them


ENGINES: dict[str, EngineSpec] = {
    "vllm": EngineSpec("skyeval.engines.vllm:VLLMEngine", ("vllm",), "vllm"),
    "openai": EngineSpec("skyeval.engines.openai:OpenAIEngine", ("openai", "httpx"), "openai"),
    "hf": EngineSpec("skyeval.engines.hf:HFEngine", ("torch", "transformers"), "hf"),
    "replay": EngineSpec("skyeval.engines.replay:ReplayEngine", (), "openai"),
}


def get_engine(name: str, **options: Any) -> Engine:
    """Build the engine ``name`` with its options (model, base_url, ...)."""
    spec = ENGINES.get(name)
    if spec is None:
        raise SkyevalError(f"unknown engine {name!r}; choose one of: {', '.join(sorted(ENGINES))}")
    for module in spec.requires:
        require(module, extra=spec.extra, what=f"the {name!r} engine")
    module_name, factory = spec.target.split(":")
    engine: Engine = getattr(importlib.import_module(module_name), factory)(**options)
    return engine
