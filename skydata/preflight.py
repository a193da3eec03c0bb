"""Checks before any stage runs or any directory is written: every flag, source file, task, engine, alias and
prompt of a command, collected so that one line lists everything missing at once.

Engine checks go through ``skyeval.engines.preflight`` (extras, option names and types, and the server probe
where an engine declares one); a general ``skyeval.preflight`` can later take over ``check_engine`` and
``check_tasks`` without changing their callers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from skydata.backend import EngineConfig
from skyeval.errors import SkyevalError, require

if TYPE_CHECKING:
    from skydata.config import CurateConfig
    from skydata.sources import SourceSpec

T = TypeVar("T")

HOSTED_API = "https://api.openai.com/v1"


class Problems:
    """What is wrong (``errors``, fatal) and worth saying (``notes``) before a command starts."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.notes: list[str] = []

    def add(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def attempt(self, check: Callable[[], T], prefix: str = "") -> T | None:
        """``check()``, or None with its ``SkyevalError`` recorded (prefixed) as a problem."""
        try:
            return check()
        except SkyevalError as err:
            self.add(f"{prefix}{err}")
            return None

    def passes(self, check: Callable[[], object], prefix: str = "") -> bool:
        """Whether ``check()`` raised no ``SkyevalError`` (which is recorded as a problem)."""
        before = len(self.errors)
        self.attempt(check, prefix)
        return len(self.errors) == before

    def raise_if_any(self, what: str) -> None:
        """One ``SkyevalError`` listing every problem (``what`` names the command)."""
        if self.errors:
            raise SkyevalError(f"{what} cannot start: " + "; ".join(self.errors))


def check_engine(
    config: EngineConfig, flag: str, problems: Problems, *, role: str, serving: str = ""
) -> None:
    """Engine ``config`` as given by the flags ``{flag}engine/model/base-url/api-key-env/option``: a known
    engine with its extra installed and options it takes; an explicit base URL for engines that talk to a
    server (``serving`` says what it should serve); a named key variable that is set; a local model that
    exists."""
    from skyeval.engines import engine_parameters, engine_spec, preflight
    from skyeval.engines._common import check_model_path

    prefix = f"{role}: "
    spec = problems.attempt(lambda: engine_spec(config.engine), prefix)
    if spec is None:
        return
    options = dict(config.options)
    # the flag-specific checks come first, so an error names this stage's flags (not skyeval run's)
    if "base_url" in engine_parameters(config.engine) and not options.get("base_url"):
        what = f" serving {serving}" if serving else ""
        problems.add(
            f"missing {flag}base-url URL (the OpenAI-compatible server{what}, e.g. http://localhost:8000/v1; "
            f"the hosted API: {HOSTED_API})"
        )
        return
    env = options.get("api_key_env")
    if env and not os.environ.get(env):
        problems.add(f"{flag}api-key-env {env}: that environment variable is not set")
        return
    if config.ray_address is None:
        if not problems.passes(partial(preflight, config.engine, options), prefix):
            return
    elif not all(_importable(m) for m in spec.requires):
        return  # the Ray cluster has the extra; its options are checked there
    if spec.loads_model:
        problems.passes(partial(check_model_path, str(options["model"])), prefix)


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def hub_offline() -> str | None:
    """The environment variable that turns the Hugging Face Hub off, if one does."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return var
    return None


def check_source(spec: SourceSpec) -> None:
    """A local source file exists (and its reader is installed); a Hub source has ``datasets`` and the Hub is
    not switched off."""
    from skydata.sources import is_local

    if is_local(spec):
        if spec.location.endswith(".parquet"):
            require("pyarrow", extra="hf", what="reading Parquet sources")
        return
    require("datasets", extra="hf", what=f"streaming {spec.location} from the Hugging Face Hub")
    offline = hub_offline()
    if offline:
        raise SkyevalError(
            f"source {spec.kind} streams {spec.location} from the Hub, but {offline} is set: give a local file "
            f"(--source {spec.kind}=PATH)"
        )


def check_tasks(tasks: Sequence[str], data_dir: str | None, problems: Problems) -> None:
    """Decontamination tasks: known names; with ``data_dir``, their files load (default tasks without a file
    are noted as not checked). Without ``data_dir`` they come from the Hub when the stage runs."""
    from skydata.decontam import load_benchmarks
    from skyeval.tasks import get_task

    if data_dir is None:
        for name in tasks:
            problems.passes(partial(get_task, name), "--task: ")
        offline = hub_offline()
        if offline:
            problems.add(
                f"decontamination loads the benchmarks from the Hub, but {offline} is set: give --data-dir DIR "
                "(<task>.jsonl files) or --no-decontam"
            )
        return
    if not Path(data_dir).is_dir():
        problems.add(f"--data-dir {data_dir}: no such folder")
        return
    bench = problems.attempt(partial(load_benchmarks, tasks, data_dir=data_dir), "decontam: ")
    if bench is not None and bench.skipped:
        problems.note(f"decontam: no file in --data-dir for {', '.join(bench.skipped)}: not checked")


def check_curate(config: CurateConfig, problems: Problems | None = None) -> list[str]:
    """Everything ``curate`` will need, checked before its first stage; raises one ``SkyevalError`` listing
    every problem (with ``problems`` collected by the caller, e.g. missing flags), else returns the notes."""
    from skydata.export import get_format, prompts_for

    problems = problems if problems is not None else Problems()
    if not config.sources:
        problems.add("missing --source KIND[=LOCATION] (numina, eurus, still3, local=PATH; repeatable)")
    for spec in config.sources:
        problems.passes(partial(check_source, spec))
    exports = [("sft", f, "--format", "--system-prompt", config.system_prompt) for f in config.sft_formats]
    exports += [
        ("rl", f, "--rl-format", "--rl-system-prompt", config.rl_system_prompt) for f in config.rl_formats
    ]
    for kind, fmt, fmt_flag, prompt_flag, prompt in exports:
        if problems.passes(partial(get_format, fmt, kind), f"{fmt_flag}: "):
            problems.passes(partial(prompts_for, fmt, prompt), f"{prompt_flag}: ")
    if config.decontam is not None:
        check_tasks(config.decontam_tasks, config.data_dir, problems)
    levelled = sorted(str(r) for r in config.rules if r.above is not None)
    if config.judge is None and levelled:
        problems.note(
            f"no judge: every row under a rule needing a level ({', '.join(levelled)}) will be dropped as "
            "unlabelled"
        )
    if config.rewrite is not None and config.teacher is None:
        problems.add("--rewrite-model needs a teacher (--teacher ALIAS or --teacher-model ID)")
    if config.judge is not None:
        check_engine(config.judge.engine, "--judge-", problems, role="judge")
    if config.teacher is not None:
        t = config.teacher.teacher
        check_engine(config.teacher.engine, "--teacher-", problems, role=f"teacher {t.name}", serving=t.model)
    if config.rewrite is not None:
        check_engine(config.rewrite.engine, "--rewrite-", problems, role="rewrite")
    problems.raise_if_any("curate")
    return problems.notes
