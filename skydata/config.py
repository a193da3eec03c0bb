"""The typed settings of ``skydata curate``: what each stage does, built from its flags or a ``--config`` TOML
file (``skydata.cli``) or by a library caller, and checked by ``skydata.preflight`` before anything runs."""

from __future__ import annotations

from dataclasses import dataclass

from skydata.backend import EngineConfig
from skydata.decontam import DecontamConfig
from skydata.dedup import DedupConfig
from skydata.difficulty import JudgeConfig
from skydata.reject import RejectConfig
from skydata.select import Rule
from skydata.sources import SourceSpec
from skydata.teacher import Teacher
from skyeval.types import SamplingParams


@dataclass(frozen=True)
class JudgeStage:
    """The difficulty judge; ``cache`` None is ``<run dir>/judge_cache.jsonl`` (share one across runs)."""

    engine: EngineConfig
    config: JudgeConfig
    cache: str | None = None
    rejudge_unparsable: bool = False


@dataclass(frozen=True)
class TeacherStage:
    teacher: Teacher
    engine: EngineConfig
    sampling: SamplingParams
    chunk: int = 64


@dataclass(frozen=True)
class RewriteStage:
    engine: EngineConfig
    sampling: SamplingParams = SamplingParams(temperature=0.0, max_tokens=16384)


@dataclass(frozen=True)
class CurateConfig:
    """Everything ``curate`` does. ``judge=None`` skips labelling (rules needing labels then drop everything
    as unlabelled); ``teacher=None`` stops after selection (an RL prompt set); ``rewrite`` is optional.
    ``system_prompt``/``rl_system_prompt`` are ``skyeval.prompts`` names for the SFT/RL exports (None: the
    format's default)."""

    sources: tuple[SourceSpec, ...]
    rules: tuple[Rule, ...]
    judge: JudgeStage | None = None
    teacher: TeacherStage | None = None
    reject: RejectConfig = RejectConfig()
    rewrite: RewriteStage | None = None
    dedup: DedupConfig | None = DedupConfig()
    decontam: DecontamConfig | None = DecontamConfig()
    decontam_tasks: tuple[str, ...] = ()
    data_dir: str | None = None
    skip_malformed: bool = False
    sft_formats: tuple[str, ...] = ("trl", "sharegpt", "openrlhf")
    rl_formats: tuple[str, ...] = ("openrlhf-rl", "trl-rl")
    system_prompt: str | None = None
    rl_system_prompt: str | None = None
    allow_empty: bool = False
    max_error_rate: float = 0.0  # share of failed judge/teacher/rewrite requests a stage may have and be done
    grade_timeout: float = 5.0
    ray_address: str | None = None
    replicas: int = 1
