"""Generation engines, looked up by name and imported only when used.

Each ``EngineSpec`` holds what the rest of skyeval needs to know about an engine without importing it: where its
factory lives, the extra that installs it, which options are neutral or secret, how many GPUs a replica needs,
the options it defaults from a task, and its own preflight check. Nothing outside ``skyeval/engines`` branches
on an engine's name: it asks the spec. ``skyeval.engines.build`` builds engines (locally or on Ray).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skyeval.errors import SkyevalError, require
from skyeval.types import Engine

if TYPE_CHECKING:
    from skyeval.tasks import TaskSpec


def _no_gpus(options: Mapping[str, Any]) -> float:
    return 0.0


def _tensor_parallel_gpus(options: Mapping[str, Any]) -> float:
    return float(options.get("tensor_parallel_size") or 1)


def _cuda_gpu(options: Mapping[str, Any]) -> float:
    return 1.0 if str(options.get("device") or "").startswith("cuda") else 0.0


@dataclass(frozen=True)
class EngineSpec:
    """One engine's facts. ``task_defaults`` and ``check`` name ``module:function`` hooks, imported on use."""

    target: str  # "module:factory"
    requires: tuple[str, ...]  # importable modules the engine needs
    extra: str  # the skyeval extra that installs them
    loads_model: bool = False  # takes a local model path / Hub id that it loads in this process
    # options that do not change what is generated (left out of a run's identity, so changing them resumes)
    neutral: tuple[str, ...] = ()
    # options whose values are secrets: never written to config.json, a manifest or a log
    secret: tuple[str, ...] = ()
    # GPUs one replica reserves on Ray, given the engine's options
    gpus: Callable[[Mapping[str, Any]], float] = _no_gpus
    # hook ``(task: TaskSpec) -> dict`` of options a run of ``task`` defaults (replay: the task's own file)
    task_defaults: str = ""
    # hook ``(options) -> None``: the engine's own preflight (device valid, server answering); raises SkyevalError
    check: str = ""
    # False: serves completions made elsewhere (replay), so a run's sampling settings are not how they were made
    decodes: bool = True


ENGINES: dict[str, EngineSpec] = {
    "vllm": EngineSpec(
        "skyeval.engines.vllm:VLLMEngine",
        ("vllm",),
        "vllm",
        loads_model=True,
        neutral=("tensor_parallel_size", "gpu_memory_utilization", "enable_prefix_caching"),
        gpus=_tensor_parallel_gpus,
        check="skyeval.engines.vllm:preflight",
    ),
    "openai": EngineSpec(
        "skyeval.engines.openai:OpenAIEngine",
        ("openai",),
        "openai",
        neutral=(
            "base_url",
            "api_key_env",
            "concurrency",
            "max_retries",
            "request_timeout",
            "use_n",
            "probe",
        ),
        secret=("api_key",),
        check="skyeval.engines.openai:preflight",
    ),
    "hf": EngineSpec(
        "skyeval.engines.hf:HFEngine",
        ("torch", "transformers"),
        "hf",
        loads_model=True,
        neutral=("device", "batch_size"),  # hf seeds every row, so batching does not change a sample
        gpus=_cuda_gpu,
        check="skyeval.engines.hf:preflight",
    ),
    "replay": EngineSpec(
        "skyeval.engines.replay:ReplayEngine",
        (),
        "openai",
        task_defaults="skyeval.engines.replay:task_defaults",
        decodes=False,
    ),
}


def engine_spec(name: str) -> EngineSpec:
    """The registry entry of engine ``name``; unknown names fail with the list of known ones."""
    spec = ENGINES.get(name)
    if spec is None:
        raise SkyevalError(f"unknown engine {name!r}; choose one of: {', '.join(sorted(ENGINES))}")
    return spec


def _hook(target: str) -> Any:
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def _parameters(spec: EngineSpec) -> Mapping[str, inspect.Parameter]:
    return inspect.signature(_hook(spec.target)).parameters


def engine_parameters(name: str) -> tuple[str, ...]:
    """The option names the engine ``name`` takes (its constructor's parameters)."""
    return tuple(_parameters(engine_spec(name)))


def generation_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options of engine ``name`` that change what it generates: all but its ``neutral`` ones, and
    leaving out those set to their default (``-E dtype=auto`` is the same run as no ``dtype``)."""
    spec = engine_spec(name)
    defaults = {k: p.default for k, p in _parameters(spec).items()}
    return {
        k: v
        for k, v in sorted(options.items())
        if k not in spec.neutral and not (k in defaults and type(v) is type(defaults[k]) and v == defaults[k])
    }


def check_options(name: str, options: Mapping[str, Any]) -> None:
    """Fail with a one-line error when ``options`` holds names the engine does not take, lacks a required one,
    or gives one a value of another type than its default."""
    _check_options(name, engine_spec(name), options)


def _check_options(name: str, spec: EngineSpec, options: Mapping[str, Any]) -> None:
    params = _parameters(spec)
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise SkyevalError(
            f"engine {name!r} does not take option(s) {', '.join(unknown)}; it takes: {', '.join(params)}"
        )
    defaults = {k: p.default for k, p in params.items()}
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


# The value types an option accepts, by the type of its default (options whose default is None are checked by
# the engine itself).
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


def task_options(name: str, task: TaskSpec) -> dict[str, Any]:
    """The options engine ``name`` defaults for a run of ``task`` (its ``task_defaults`` hook; usually none)."""
    spec = engine_spec(name)
    if not spec.task_defaults:
        return {}
    defaults: dict[str, Any] = _hook(spec.task_defaults)(task)
    return defaults


def preflight(name: str, options: Mapping[str, Any], *, local: bool = True) -> None:
    """Everything about engine ``name`` that can be checked before any data is loaded or directory written,
    in this order: its extra is installed, ``options`` are ones it takes, then the engine's own check (hf: the
    device exists; openai: the server answers and serves the model; vllm/hf: the model path exists).

    ``local=False`` (the engine runs on Ray workers, not here): only the options are checked. One-line
    ``SkyevalError`` otherwise.
    """
    spec = engine_spec(name)
    if local:
        _require(name, spec)
    _check_options(name, spec, options)
    if local and spec.check:
        _hook(spec.check)(options)


def _require(name: str, spec: EngineSpec) -> None:
    for module in spec.requires:
        require(module, extra=spec.extra, what=f"the {name!r} engine")


def construct(name: str, spec: EngineSpec, options: Mapping[str, Any]) -> Engine:
    """Build engine ``name`` from its spec in this process: extra, options, then its factory.

    Takes the spec rather than the name so a Ray worker builds an engine registered only in the driver.
    """
    _require(name, spec)
    _check_options(name, spec, options)
    engine: Engine = _hook(spec.target)(**options)
    return engine


def get_engine(name: str, **options: Any) -> Engine:
    """Build the engine ``name`` with its options (model, base_url, ...) in this process."""
    return construct(name, engine_spec(name), options)
