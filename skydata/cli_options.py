"""Click options shared by several ``skydata`` commands, each group declared once and handed to the command as
one typed value: an engine (``EngineArgs``), Ray scale-out (``RayArgs``), what a teacher sample must satisfy
(``AcceptanceArgs``); plus ``--config FILE.toml``, which reads a command's options from a TOML file (keys are
the long flag names; flags on the command line win; unknown keys are refused)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from skydata.backend import EngineConfig
from skydata.difficulty import JudgeConfig
from skydata.reject import Acceptance
from skyeval.clickutil import parse_engine_option
from skyeval.errors import SkyevalError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _group(
    options: list[Decorator], names: tuple[str, ...], dest: str, build: Callable[..., Any]
) -> Decorator:
    """Add ``options`` to a command and pass it one ``dest`` value built from their parameters ``names``."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def command(*args: Any, **kwargs: Any) -> Any:
            kwargs[dest] = build(**{n: kwargs.pop(n) for n in names})
            return f(*args, **kwargs)

        decorated: Callable[..., Any] = command
        for option in reversed(options):
            decorated = option(decorated)
        return decorated

    return decorate


# ---------------------------------------------------------------- engines and Ray


@dataclass(frozen=True)
class RayArgs:
    """``--ray ADDRESS --replicas N``: generate and grade on a Ray cluster (None: locally, Ray never imported)."""

    address: str | None = None
    replicas: int = 1


def ray_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--ray/--replicas`` as one ``ray: RayArgs``."""
    options: list[Decorator] = [
        click.option(
            "--ray", "ray_address", default=None, help="Ray address: generate and grade on a Ray cluster"
        ),
        click.option(
            "--replicas",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="engine replicas / grading workers on Ray",
        ),
    ]
    return _group(
        options,
        ("ray_address", "replicas"),
        "ray",
        lambda ray_address, replicas: RayArgs(ray_address, replicas),
    )(f)


@dataclass(frozen=True)
class EngineArgs:
    """One engine as the command line gave it; ``flag`` is its flag prefix (``--`` or ``--judge-``), used to
    name the flags in error messages."""

    flag: str
    engine: str
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    options: tuple[str, ...] = ()

    def config(self, ray: RayArgs, *, model: str | None = None) -> EngineConfig:
        """The engine's config (``model``: the default when ``--{prefix}model`` is absent). A key given as an
        option or a missing model is a one-line error naming the flag."""
        opts: dict[str, Any] = {}
        chosen = self.model or model
        if chosen is None:
            raise SkyevalError(f"missing {self.flag}model MODEL")
        opts["model"] = chosen
        if self.base_url:
            opts["base_url"] = self.base_url
        if self.api_key_env:
            opts["api_key_env"] = self.api_key_env
        for pair in self.options:
            key, value = parse_engine_option(pair)
            if key == "api_key":
                raise SkyevalError(
                    f"pass API keys through an environment variable ({self.flag}api-key-env NAME), never on the "
                    "command line"
                )
            opts[key] = value
        return EngineConfig(self.engine, opts, ray.address, ray.replicas)


def engine_options(prefix: str = "", *, default_engine: str = "openai") -> Decorator:
    """``--{prefix}-engine/model/base-url/api-key-env/option`` as one ``{prefix}_engine: EngineArgs``
    (``engine`` without a prefix)."""
    p = f"{prefix}-" if prefix else ""
    u = f"{prefix}_" if prefix else ""
    what = prefix or "the"
    names = (f"{u}engine", f"{u}model", f"{u}base_url", f"{u}api_key_env", f"{u}option")
    options: list[Decorator] = [
        click.option(
            f"--{p}engine", names[0], default=default_engine, show_default=True, help=f"{what} engine name"
        ),
        click.option(f"--{p}model", names[1], default=None, help=f"{what} model id or path"),
        click.option(
            f"--{p}base-url",
            names[2],
            default=None,
            help="OpenAI-compatible server URL (required by the openai engine; the hosted API: https://api.openai.com/v1)",
        ),
        click.option(
            f"--{p}api-key-env",
            names[3],
            default=None,
            help="env var holding this engine's API key (never stored; none named: no key is sent)",
        ),
        click.option(
            f"--{p}option", names[4], multiple=True, help="extra engine option KEY=VALUE (repeatable)"
        ),
    ]

    def build(**raw: Any) -> EngineArgs:
        values = [raw[n] for n in names]
        return EngineArgs(f"--{p}", values[0], values[1], values[2], values[3], tuple(values[4]))

    return _group(options, names, f"{u}engine" if prefix else "engine", build)


# ---------------------------------------------------------------- judge, acceptance and errors


@dataclass(frozen=True)
class JudgeArgs:
    """The difficulty judge's settings besides its engine; ``cache`` None is the command's default file."""

    votes: int = 1
    temperature: float | None = None
    max_tokens: int = 1024
    cache: str | None = None
    rejudge_unparsable: bool = False

    def config(self, model: str) -> JudgeConfig:
        return JudgeConfig(model, self.votes, self.temperature, self.max_tokens)


def judge_options(prefix: str = "") -> Decorator:
    """``--votes --{prefix}-temperature --{prefix}-max-tokens --{prefix}-cache --rejudge-unparsable`` as one
    ``judge: JudgeArgs``."""
    p = f"{prefix}-" if prefix else ""
    names = ("votes", "judge_temperature", "judge_max_tokens", "judge_cache", "rejudge_unparsable")
    options: list[Decorator] = [
        click.option(
            "--votes",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="judge votes per problem (median)",
        ),
        click.option(
            f"--{p}temperature",
            names[1],
            type=click.FloatRange(min=0),
            default=None,
            help="judge temperature (default 0 for 1 vote, 0.7 for several)",
        ),
        click.option(
            f"--{p}max-tokens", names[2], type=click.IntRange(min=1), default=1024, show_default=True
        ),
        click.option(
            f"--{p}cache",
            names[3],
            default=None,
            type=click.Path(dir_okay=False),
            help="vote cache, shareable across runs (default: in the run dir, or OUT.cache.jsonl)",
        ),
        click.option(
            "--rejudge-unparsable", is_flag=True, help="ask unparsable votes again (3 more attempts each)"
        ),
    ]

    def build(**raw: Any) -> JudgeArgs:
        return JudgeArgs(*(raw[n] for n in names))

    return _group(options, names, "judge", build)


@dataclass(frozen=True)
class AcceptanceArgs:
    """What a kept teacher sample must satisfy, and how many problems to stop at."""

    acceptance: Acceptance
    target: int | None = None


def acceptance_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--min-chars/--max-chars/--max-response-tokens/--allow-unfinished/--target`` as one
    ``accept: AcceptanceArgs``."""
    options: list[Decorator] = [
        click.option(
            "--min-chars",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="shortest response kept",
        ),
        click.option(
            "--max-chars", type=click.IntRange(min=1), default=None, help="longest response kept (characters)"
        ),
        click.option(
            "--max-response-tokens",
            type=click.IntRange(min=1),
            default=None,
            help="longest response kept (tokens)",
        ),
        click.option(
            "--allow-unfinished", is_flag=True, help="keep responses not ending with finish_reason=stop"
        ),
        click.option(
            "--target",
            type=click.IntRange(min=1),
            default=None,
            help="stop once this many problems have a kept response",
        ),
    ]

    def build(
        min_chars: int,
        max_chars: int | None,
        max_response_tokens: int | None,
        allow_unfinished: bool,
        target: int | None,
    ) -> AcceptanceArgs:
        acceptance = Acceptance(
            require_stop=not allow_unfinished,
            min_chars=min_chars,
            max_chars=max_chars,
            max_tokens=max_response_tokens,
        )
        return AcceptanceArgs(acceptance, target)

    names = ("min_chars", "max_chars", "max_response_tokens", "allow_unfinished", "target")
    return _group(options, names, "accept", build)(f)


MAX_ERROR_RATE = click.option(
    "--max-error-rate",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="share of failed requests (judge, teacher, rewrite) a stage may have and still count as done",
)


# ---------------------------------------------------------------- --config FILE.toml


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file as a dict; unreadable or invalid TOML is a one-line error."""
    try:
        with Path(path).open("rb") as fh:
            return tomllib.load(fh)
    except OSError as err:
        raise SkyevalError(f"cannot read {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise SkyevalError(f"{path}: invalid TOML ({err})") from None


def toml_defaults(command: click.Command, raw: Mapping[str, Any], path: str) -> dict[str, Any]:
    """``raw`` TOML keys (long flag names, ``-`` or ``_``) as click parameter defaults of ``command``.

    Unknown keys and values of the wrong shape (a list for a single option, a non-boolean for a flag) fail."""
    by_flag = {
        opt: p
        for p in command.params
        if isinstance(p, click.Option) and p.name != "config"
        for opt in p.opts
        if opt.startswith("--")
    }
    unknown = [k for k in raw if f"--{k.replace('_', '-')}" not in by_flag]
    if unknown:
        known = sorted(o[2:] for o in by_flag)
        raise SkyevalError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(known)}")
    defaults: dict[str, Any] = {}
    for key, value in raw.items():
        param = by_flag[f"--{key.replace('_', '-')}"]
        if param.is_flag and not isinstance(value, bool):
            raise SkyevalError(f"{path}: {key} is a flag: true or false, got {value!r}")
        if param.multiple:
            value = [value] if isinstance(value, (str, int, float)) else value
            if not isinstance(value, list):
                raise SkyevalError(f"{path}: {key} takes a list, got {value!r}")
        elif isinstance(value, (list, dict)):
            raise SkyevalError(f"{path}: {key} takes one value, got {value!r}")
        defaults[str(param.name)] = value
    return defaults


def config_file_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--config FILE.toml``: the command's options read from a TOML file; command-line flags override it."""

    def load(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:  # a bad file is a SkyevalError: one line, exit 2 (skyeval.clickutil.ErrorGroup)
            defaults = toml_defaults(ctx.command, read_toml(value), value)
            ctx.default_map = {**(ctx.default_map or {}), **defaults}

    return click.option(
        "--config",
        type=click.Path(dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=load,
        help='read options from a TOML file (keys: the long flag names, e.g. judge-model = "..."); flags win',
    )(f)
