"""``skydata curate``: sources -> dedup -> decontam -> difficulty -> select -> teacher -> reject -> [rewrite] -> export.

The run directory holds one checkpoint per stage (``NN_stage.jsonl`` plus ``NN_stage.dropped.jsonl``), the
judge cache and teacher logs (append-only, resumable), the exports and ``manifest.json`` (funnel, settings,
versions). A stage is done when the manifest says so with the same *stage key* (a hash of its settings and of
the stages before it); re-running skips done stages, resumes the append-only ones and redoes a stage, and
everything after it, whose settings changed. No API key is ever written: engines read keys from env vars.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skydata.backend import EngineConfig, build_engine, build_grader
from skydata.decontam import ContaminationIndex, DecontamConfig, decontaminate_rows, load_benchmarks
from skydata.dedup import DedupConfig, dedup
from skydata.difficulty import RUBRIC_VERSION, JudgeCache, JudgeConfig, label
from skydata.export import FORMATS, export_rows
from skydata.io import stable_hash
from skydata.records import Generation, Item
from skydata.reject import RejectConfig, reject
from skydata.rewrite import REWRITE_VERSION, rewrite
from skydata.select import Rule, needs_label, select
from skydata.sources import SourceSpec, read_source
from skydata.stage import StageResult, count_lines, read_items, run_stage
from skydata.teacher import Teacher, generate, grades_path, load_generations, read_text
from skyeval import results
from skyeval.errors import SkyevalError
from skyeval.jsonl import read_jsonl, write_json, write_jsonl
from skyeval.types import SamplingParams


@dataclass(frozen=True)
class JudgeStage:
    engine: EngineConfig
    config: JudgeConfig


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
    as unlabelled); ``teacher=None`` stops after selection (an RL prompt set); ``rewrite`` is optional."""

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
    sft_formats: tuple[str, ...] = ("trl", "sharegpt", "openrlhf")
    rl_formats: tuple[str, ...] = ("openrlhf-rl", "trl-rl")
    system_prompt: str | None = None  # export system prompt: None = the format's default, "" = none
    grade_timeout: float = 5.0
    judge_cache: str | None = (
        None  # default: <run dir>/judge_cache.jsonl; share one across runs to save calls
    )
    ray_address: str | None = None
    replicas: int = 1


def _public(obj: Any) -> Any:
    """JSON-safe settings with engine secrets removed."""
    if isinstance(obj, EngineConfig):
        return obj.public()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _public(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _public(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_public(v) for v in obj]
    return obj


class RunDir:
    """The run directory and its manifest (rewritten atomically after every stage)."""

    def __init__(self, path: str | Path, config: CurateConfig) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.file = self.path / "manifest.json"
        self.manifest: dict[str, Any] = json.loads(self.file.read_text()) if self.file.exists() else {}
        self.manifest.setdefault("stages", {})
        self.manifest["config"] = _public(config)
        self.manifest["versions"] = results.versions()
        self.manifest["rubric_version"] = RUBRIC_VERSION
        self._chain = ""
        self._invalid = False

    def key(self, settings: Any) -> str:
        self._chain = stable_hash(self._chain + json.dumps(_public(settings), sort_keys=True, default=str))
        return self._chain

    def done(self, stage: str, key: str) -> bool:
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

    def record(self, result: StageResult, key: str, seconds: float, files: list[str]) -> None:
        self.manifest["stages"][result.stage] = {
            **result.to_json(),
            "key": key,
            "status": "done",
            "seconds": round(seconds, 3),
            "files": files,
        }
        order = [s for s in STAGES if s in self.manifest["stages"]]
        self.manifest["funnel"] = [
            {k: self.manifest["stages"][s][k] for k in ("stage", "rows_in", "rows_out", "dropped")}
            for s in order
        ]
        self.save()

    def prune(self, ran: list[str]) -> None:
        """Forget stages the current settings no longer run (e.g. rewrite switched off)."""
        for name in [s for s in self.manifest["stages"] if s not in ran]:
            del self.manifest["stages"][name]
        self.manifest["funnel"] = [f for f in self.manifest.get("funnel", []) if f["stage"] in ran]
        self.save()

    def save(self) -> None:
        write_json(self.file, self.manifest)


STAGES = ("source", "dedup", "decontam", "difficulty", "select", "teacher", "reject", "rewrite", "export")


def curate(
    run_dir: str | Path,
    config: CurateConfig,
    *,
    progress: bool = True,
    log: Callable[[str], object] = lambda s: None,
) -> dict[str, Any]:
    """Run (or resume) the pipeline in ``run_dir``; returns the manifest."""
    _check_formats(config)
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    with results.lock(run_dir, holder="skydata curate"):
        return _curate(run_dir, config, progress=progress, log=log)


def _curate(
    run_dir: str | Path, config: CurateConfig, *, progress: bool, log: Callable[[str], object]
) -> dict[str, Any]:
    run = RunDir(run_dir, config)
    d = run.path
    ran: list[str] = []
    grader = build_grader(
        timeout=config.grade_timeout, ray_address=config.ray_address, replicas=config.replicas
    )

    def stage(name: str, settings: Any, body: Callable[[], tuple[StageResult, list[str]]]) -> None:
        key = run.key(settings)
        ran.append(name)
        if run.done(name, key):
            log(f"{name}: done (checkpoint kept)")
            return
        start = time.monotonic()
        result, files = body()
        run.record(result, key, time.monotonic() - start, files)
        log(result.summary())

    def numbered(i: int, name: str) -> Path:
        return d / f"{i:02d}_{name}.jsonl"

    # 0. sources
    def do_source() -> tuple[StageResult, list[str]]:
        def rows() -> Iterator[Any]:
            for spec in config.sources:
                yield from read_source(spec)

        res = run_stage("source", rows(), lambda rs: rs, numbered(0, "source"), progress=progress)
        return res, [numbered(0, "source").name]

    stage("source", config.sources, do_source)
    prev = numbered(0, "source")

    def streaming(i: int, name: str, settings: Any, fn: Callable[[Iterable[Item]], Iterable[Any]]) -> None:
        nonlocal prev
        src, out = prev, numbered(i, name)

        def body() -> tuple[StageResult, list[str]]:
            res = run_stage(name, read_items(src), fn, out, total=count_lines(src), progress=progress)
            return res, [out.name]

        stage(name, settings, body)
        prev = out

    if config.dedup is not None:
        dd = config.dedup
        streaming(1, "dedup", dd, lambda rows: dedup(rows, dd))
    if config.decontam is not None:
        dc = config.decontam

        def decontam_fn(rows: Iterable[Item]) -> Iterable[Any]:
            bench = load_benchmarks(config.decontam_tasks, data_dir=config.data_dir)
            run.manifest["decontam_tasks"] = {
                "checked": list(bench.tasks),
                "skipped_no_file": list(bench.skipped),
            }
            return decontaminate_rows(rows, ContaminationIndex(bench.problems, dc))

        streaming(2, "decontam", (dc, config.decontam_tasks, config.data_dir), decontam_fn)
    if config.judge is not None:
        judge = config.judge

        def label_fn(rows: Iterable[Item]) -> Iterable[Any]:
            cache = JudgeCache(config.judge_cache or d / "judge_cache.jsonl")
            try:
                yield from label(
                    rows,
                    lambda: build_engine(judge.engine),
                    judge.config,
                    cache,
                    wanted=lambda it: needs_label(config.rules, it.source),
                )
            finally:
                cache.close()

        streaming(3, "difficulty", (judge, config.rules), label_fn)
    streaming(4, "select", config.rules, lambda rows: select(rows, config.rules))
    selected = prev

    if config.teacher is not None:
        _teach(run, stage, config, config.teacher, selected, grader, progress)
        if config.rewrite is not None:
            rw = config.rewrite
            src, out = d / "06_reject.jsonl", d / "07_rewrite.jsonl"

            def do_rewrite() -> tuple[StageResult, list[str]]:
                log_path = d / f"rewrite-{stable_hash(json.dumps(_public(rw), sort_keys=True))}.jsonl"
                res = run_stage(
                    "rewrite",
                    read_jsonl(src),
                    lambda rows: rewrite(
                        rows, lambda: build_engine(rw.engine), rw.sampling, grader, log_path
                    ),
                    out,
                    total=count_lines(src),
                    progress=progress,
                )
                return res, [out.name, log_path.name]

            stage("rewrite", (rw, REWRITE_VERSION), do_rewrite)

    def do_export() -> tuple[StageResult, list[str]]:
        files = []
        written: dict[str, int] = {}
        sft_src = d / ("07_rewrite.jsonl" if config.rewrite else "06_reject.jsonl")
        if config.teacher is not None:
            for fmt in config.sft_formats:
                name = f"sft_{fmt}.jsonl"
                written[name] = write_jsonl(
                    d / name, export_rows(read_jsonl(sft_src), fmt, system_prompt=config.system_prompt)
                )
                files.append(name)
        for fmt in config.rl_formats:
            name = f"rl_{fmt}.jsonl"
            rows = (i.to_json() for i in read_items(selected))
            written[name] = write_jsonl(d / name, export_rows(rows, fmt, system_prompt=config.system_prompt))
            files.append(name)
        n_in = count_lines(sft_src) if config.teacher is not None else count_lines(selected)
        return StageResult("export", n_in, n_in, {}, {"files": written}), files

    stage("export", (config.sft_formats, config.rl_formats, config.system_prompt), do_export)
    run.prune(ran)
    return run.manifest


def _check_formats(config: CurateConfig) -> None:
    for fmts, kind in ((config.sft_formats, "sft"), (config.rl_formats, "rl")):
        for fmt in fmts:
            spec = FORMATS.get(fmt)
            if spec is None or spec.kind != kind:
                names = sorted(n for n, f in FORMATS.items() if f.kind == kind)
                raise SkyevalError(
                    f"{fmt!r} is not a {kind.upper()} export format; choose from {', '.join(names)}"
                )


def _teach(
    run: RunDir,
    stage: Callable[..., None],
    config: CurateConfig,
    ts: TeacherStage,
    selected: Path,
    grader: Any,
    progress: bool,
) -> None:
    from tqdm import tqdm

    d = run.path
    tkey = stable_hash(
        json.dumps(_public((ts.teacher, ts.engine.engine, ts.engine.options, ts.sampling)), sort_keys=True)
    )
    log_path = d / f"teacher-{tkey}.jsonl"

    def do_teacher() -> tuple[StageResult, list[str]]:
        total = count_lines(selected)
        with tqdm(desc="teacher", total=total, unit="problem", disable=not progress) as bar:
            counts = generate(
                read_items(selected),
                lambda: build_engine(ts.engine),
                ts.teacher,
                ts.sampling,
                grader,
                log_path,
                acceptance=config.reject.acceptance,
                target=config.reject.target,
                chunk=ts.chunk,
                on_done=bar.update,
            )
        not_asked = total - counts["problems"]
        dropped = {"not_needed_target_reached": not_asked} if not_asked else {}
        return (
            StageResult("teacher", total, counts["problems"], dropped, counts),
            [log_path.name, grades_path(log_path).name],
        )

    stage("teacher", (ts, config.reject.acceptance, config.reject.target), do_teacher)

    out = d / "06_reject.jsonl"

    def do_reject() -> tuple[StageResult, list[str]]:
        gens: dict[str, list[Generation]] = {}
        for g in load_generations(log_path, with_text=False):  # verdicts only: kept texts are read back
            gens.setdefault(g.id, []).append(g)
        reasons: Counter[str] = Counter()
        res = run_stage(
            "reject",
            read_items(selected),
            lambda rows: reject(
                rows,
                gens,
                config.reject,
                teacher=ts.teacher.model,
                sample_reasons=reasons,
                text_of=read_text(log_path),
            ),
            out,
            total=count_lines(selected),
            progress=progress,
        )
        extra = {
            "problems_kept": res.rows_in
            - sum(res.dropped.values()),  # rows_out counts SFT rows (k per problem)
            "samples_rejected": dict(sorted(reasons.items())),
            "samples_total": sum(len(v) for v in gens.values()),
        }
        return dataclasses.replace(res, extra=extra), [out.name]

    stage("reject", config.reject, do_reject)
