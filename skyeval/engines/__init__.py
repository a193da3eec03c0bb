"""Generation engines, looked up by name and imported only when used.

Each entry maps a name to ``module:factory`` and the extra that provides its dependencies; ``get_engine``
checks the dependency first so a missing extra fails with the exact ``pip install`` hint.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from skyeval.errors import SkyevalError, require
from skyeval.types import Engine


@dataclass(frozen=True)
class EngineSpec:
    target: str  # "module:factory"
    requires: tuple[str, ...]  # importable modules the engine needs
    extra: str  # the skyeval extra that installs them
    loads_model: bool = False  # takes a local model path / Hub id that it loads in this process
    # options that do not change what is generated (left out of a run's identity, so changing them resumes)
    neutral: tuple[str, ...] = ()
    # options whose values are secrets: never written to config.json, a manifest or a log
    secret: tuple[str, ...] = ()
    # False: serves completions made elsewhere (replay), so a run's sampling settings are not how they were made
    decodes: bool = True


ENGINES: dict[str, EngineSpec] = {
    "vllm": EngineSpec(
        "skyeval.engines.vllm:VLLMEngine",
        ("vllm",),
        "vllm",
        loads_model=True,
        neutral=("tensor_parallel_size", "gpu_memory_utilization", "enable_prefix_caching"),
    ),
    "openai": EngineSpec(
        "skyeval.engines.openai:OpenAIEngine",
        ("httpx",),
        "openai",
        neutral=(
            "base_url",
            "api_key_env",
            "concurrency",
            "max_retries",
            "request_timeout",
            "use_n",
            "backoff_base",
            "backoff_max",
        ),
        secret=("api_key",),
    ),
    "hf": EngineSpec(
        "skyeval.engines.hf:HFEngine",
        ("torch", "transformers"),
        "hf",
        loads_model=True,
        neutral=("device", "batch_size"),  # hf seeds every row, so batching does not change a sample
    ),
    "replay": EngineSpec("skyeval.engines.replay:ReplayEngine", (), "openai", decodes=False),
}


def engine_spec(name: str) -> EngineSpec:
    """The registry entry of engine ``name``; unknown names fail with the list of known ones."""
    spec = ENGINES.get(name)
    if spec is None:
        raise SkyevalError(f"unknown engine {name!r}; choose one of: {', '.join(sorted(ENGINES))}")
    return spec


def _factory(name: str) -> Any:
    module_name, factory = engine_spec(name).target.split(":")
    return getattr(importlib.import_module(module_name), factory)


def engine_parameters(name: str) -> tuple[str, ...]:
    """The option names the engine ``name`` takes (its constructor's parameters)."""
    return tuple(inspect.signature(_factory(name)).parameters)


def generation_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options of engine ``name`` that change what it generates: all but its ``neutral`` ones, and
    leaving out those set to their default (``-E dtype=auto`` is the same run as no ``dtype``)."""
    neutral = engine_spec(name).neutral
    defaults = {k: p.default for k, p in inspect.signature(_factory(name)).parameters.items()}
    return {
        k: v
        for k, v in sorted(options.items())
        if k not in neutral and not (k in defaults and type(v) is type(defaults[k]) and v == defaults[k])
    }


def check_options(name: str, options: dict[str, Any]) -> None:
    """Fail with a one-line error when ``options`` holds names the engine does not take."""
    params = engine_parameters(name)
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise SkyevalError(
            f"engine {name!r} does not take option(s) {', '.join(unknown)}; it takes: {', '.join(params)}"
        )
    defaults = {k: p.default for k, p in inspect.signature(_factory(name)).parameters.items()}
    missing = [k for k, d in defaults.items() if d is inspect.Parameter.empty and k not in options]
    if missing:
        raise SkyevalError(f"engine {name!r} needs option(s) {', '.join(missing)} (-E {missing[0]}=...)")
    for key, value in options.items():
        wanted = _ACCEPTS.get(type(defaults[key]))
        if wanted is not None and (
            isinstance(value, bool) is not (bool in wanted) or not isinstance(value, wanted)
        ):
            raise SkyevalError(
                f"engine {name!r} option {key}={value!r} must be {wanted[0].__name__} like its default "
                f"{defaults[key]!r}"
            )


# The value types an option accepts, by the type of its default (options whose default is None are not checked).
_ACCEPTS: dict[type, tuple[type, ...]] = {
    bool: (bool,),
    int: (int,),
    float: (float, int),
    str: (str,),
}


def public_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` without the values engine ``name`` declares secret: what config.json or a manifest may hold.

    An unregistered name (a test's scripted engine) declares none; it cannot be built from a config anyway.
    """
    spec = ENGINES.get(name)
    secret = spec.secret if spec is not None else ()
    return {k: v for k, v in options.items() if k not in secret}


def preflight(name: str, options: Mapping[str, Any]) -> None:
    """Everything about engine ``name`` that can be checked before any data is loaded or directory written:
    its extra is installed and ``options`` are ones it takes. One-line ``SkyevalError`` otherwise."""
    spec = engine_spec(name)
    for module in spec.requires:
        require(module, extra=spec.extra, what=f"the {name!r} engine")
    check_options(name, dict(options))


def get_engine(name: str, **options: Any) -> Engine:
    """Build the engine ``name`` with its options (model, base_url, ...)."""
    spec = engine_spec(name)
    for module in spec.requires:
        require(module, extra=spec.extra, what=f"the {name!r} engine")
    check_options(name, options)
    engine: Engine = _factory(name)(**options)
    return engine
