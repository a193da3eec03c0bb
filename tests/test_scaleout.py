"""Scale-out on a local 2-CPU Ray cluster: same results as a single process, surviving a killed worker."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from skyeval.engines import ENGINES, EngineSpec
from skyeval.errors import SkyevalError
from skyeval.scaleout import RayEngine, ray_grade_many
from skyeval.types import Completion, SamplingParams

ray = pytest.importorskip("ray")

from test_scaleout_fake import FakeEngine, make_requests  # noqa: E402

TESTS = Path(__file__).resolve().parent
GREEDY = SamplingParams(n=1, temperature=0.0, max_tokens=8)
# the tiny random model answers every prompt with the same text when greedy; seeded sampling varies it
SAMPLED = SamplingParams(n=2, temperature=1.0, max_tokens=8, seed=3)


@pytest.fixture(scope="module", autouse=True)
def ray_cluster() -> Iterator[None]:
    """One local Ray instance for the module; its workers can import the fake engine from tests/."""
    if ray.is_initialized():
        ray.shutdown()
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    yield
    ray.shutdown()


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(ENGINES, "fake", EngineSpec("test_scaleout_fake:FakeEngine", (), "test"))
    return "fake"


def keyed(completions: list[Completion]) -> dict[tuple[str, int], Completion]:
    keys = [(c.problem_id, c.sample_index) for c in completions]
    assert len(keys) == len(set(keys)), "a sample was yielded twice"
    return dict(zip(keys, completions, strict=True))


def test_two_replicas_equal_a_single_process(fake_engine: str) -> None:
    requests = make_requests(9, 3)
    local = keyed(list(FakeEngine().generate(requests, GREEDY)))
    engine = RayEngine(fake_engine, {}, replicas=2, batch_size=4)
    try:
        assert len(set(engine.start())) == 2
        remote = keyed(list(engine.generate(requests, GREEDY)))
        assert remote == local
        assert engine.stats.batches == 5 and engine.stats.retried_batches == 0
        assert list(engine.generate([], GREEDY)) == []
    finally:
        engine.close()


def _kill_during_run(engine_name: str, kill: str) -> tuple[dict[tuple[str, int], Completion], RayEngine]:
    engine = RayEngine(engine_name, {"delay": 0.05}, replicas=2, batch_size=2, max_task_retries=2)
    try:
        pid = engine.start()[0]
        victim = engine.actors()[0]
        killed_at: list[float] = []

        def kill_it() -> None:
            if kill == "ray.kill":  # gone for good: its batch must move to the other replica
                ray.kill(victim)
            else:  # the process dies: Ray restarts the actor and retries its batch there
                os.kill(pid, signal.SIGKILL)
            killed_at.append(time.monotonic())

        timer = threading.Timer(0.4, kill_it)
        timer.start()
        got = keyed(list(engine.generate(make_requests(20, 2), GREEDY)))
        finished_at = time.monotonic()
        timer.join()
        assert killed_at and killed_at[0] < finished_at  # the worker died while the run was going on
        if kill == "SIGKILL":
            assert engine.pids()[0] != pid  # the actor was restarted in a new process
        return got, engine
    finally:
        engine.close()


@pytest.mark.parametrize("kill", ["ray.kill", "SIGKILL"])
def test_a_killed_worker_loses_and_duplicates_nothing(fake_engine: str, kill: str) -> None:
    expected = keyed(list(FakeEngine().generate(make_requests(20, 2), GREEDY)))
    got, engine = _kill_during_run(fake_engine, kill)
    assert got == expected
    if kill == "ray.kill":
        assert engine.stats.dead_replicas == 1
        assert engine.stats.retried_batches >= 1


def test_engine_errors_in_a_replica_are_one_line_user_errors(fake_engine: str) -> None:
    engine = RayEngine(fake_engine, {"fail": True}, replicas=1)
    try:
        with pytest.raises(SkyevalError, match="^model 'nowhere' not found$"):
            list(engine.generate(make_requests(2, 1), GREEDY))
    finally:
        engine.close()


def test_a_replica_checks_its_options_like_a_local_build(fake_engine: str) -> None:
    """The actor builds through ``skyeval.engines.construct``: an option the engine does not take is refused there
    too (``build_engine`` refuses it on the driver already; this is the actor's own check)."""
    engine = RayEngine(fake_engine, {"bogus": 1}, replicas=1)
    try:
        with pytest.raises(
            SkyevalError, match=r"^engine 'fake' does not take option\(s\) bogus; it takes: delay, fail$"
        ):
            engine.start()
    finally:
        engine.close()


def test_more_replicas_than_the_cluster_holds_fail_at_once(fake_engine: str) -> None:
    with pytest.raises(SkyevalError, match="3 replicas x 1 CPU need 3 CPUs but the Ray cluster has 2"):
        RayEngine(fake_engine, {}, replicas=3).start()
    with pytest.raises(SkyevalError, match="need 2 GPUs but the Ray cluster has 0"):
        RayEngine("vllm", {"tensor_parallel_size": 2}).start()


def test_ray_grade_many_equals_grade_many() -> None:
    from skyeval import grade_many

    responses = [f"the answer is \\boxed{{{i % 7}}}" for i in range(50)] + ["no answer here"]
    golds = [str(i % 5) for i in range(51)]
    # symbolic comparisons: the grader's killable worker processes, started inside a Ray worker
    responses += ["so \\boxed{\\frac{\\sqrt{2}}{2}}", "so \\boxed{(x+1)^2}"]
    golds += ["\\frac{1}{\\sqrt{2}}", "x^2+2x+1"]
    local = grade_many(responses, golds)
    assert local[-2].correct and local[-1].correct
    assert ray_grade_many(responses, golds, replicas=2, batch_size=8) == local
    assert ray_grade_many([], []) == []
    with pytest.raises(SkyevalError):
        ray_grade_many(["a"], [])


def test_hf_on_two_replicas_equals_the_single_process_run(tiny_model_dir: Path) -> None:
    """The real ``hf`` engine on the tiny model: same (problem, sample) set, texts and verdicts.

    Seeded sampling: the hf engine seeds every sample from (seed, problem_id, sample_index), so a sample's text
    does not depend on which replica drew it.
    """
    from skyeval import grade
    from skyeval.engines import get_engine

    options = {"model": str(tiny_model_dir), "device": "cpu", "batch_size": 2}
    requests = make_requests(8, 2)
    local = keyed(list(get_engine("hf", **options).generate(requests, SAMPLED)))
    # 4 samples per shard = two hf batches of 2 samples, as in the single process (so padding is identical too)
    engine = RayEngine("hf", options, replicas=2, batch_size=4)
    try:
        remote = keyed(list(engine.generate(requests, SAMPLED)))
    finally:
        engine.close()
    assert remote == local
    assert len({c.text for c in local.values()}) > 1  # the prompts really lead to different texts
    verdict = {key: grade(c.text, "1") for key, c in local.items()}
    assert {key: grade(c.text, "1") for key, c in remote.items()} == verdict


def test_cli_run_and_score_with_ray_write_the_same_files(tiny_model_dir: Path, tmp_path: Path) -> None:
    """``skyeval run --ray auto --replicas 2`` (reusing this module's cluster) vs plain ``skyeval run``."""
    import json

    from click.testing import CliRunner

    from skyeval.cli import main

    data = tmp_path / "toy.jsonl"
    rows = [{"id": f"q{i}", "question": f"What is {i} + {i}?", "answer": str(2 * i)} for i in range(6)]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    # --batch-size 1: no padding on either side, so the (seeded) texts are bit-identical however work is sharded
    args = ["run", "-m", str(tiny_model_dir), "-t", f"file:{data}", "--id-field", "id", "-e", "hf", "--device",
            "cpu", "--batch-size", "1", "--max-tokens", "8", "-n", "2", "--temperature", "1", "--no-progress"]  # fmt: skip
    for name, extra in (("plain", []), ("ray", ["--ray", "auto", "--replicas", "2"])):
        result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / name), *extra])
        assert result.exit_code == 0, result.output

    def samples(name: str) -> list[str]:
        (path,) = (tmp_path / name).glob("*/*/*/samples.jsonl")
        return sorted(path.read_text().splitlines())

    assert len(samples("ray")) == 12
    assert len({json.loads(line)["completion"] for line in samples("plain")}) > 1
    assert samples("ray") == samples("plain")
    (plain_dir,) = (tmp_path / "plain").glob("*/*/*")
    (ray_dir,) = (tmp_path / "ray").glob("*/*/*")
    assert CliRunner().invoke(main, ["score", str(plain_dir), "--no-progress"]).exit_code == 0
    result = CliRunner().invoke(
        main, ["score", str(ray_dir), "--ray", "auto", "--replicas", "2", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert samples("ray") == samples("plain")
    summaries = [json.loads((d / "summary.json").read_text()) for d in (plain_dir, ray_dir)]
    assert summaries[0] == summaries[1]


def test_a_generation_abandoned_half_way_leaves_the_engine_usable(fake_engine: str) -> None:
    requests = make_requests(8, 1)
    engine = RayEngine(fake_engine, {"delay": 0.05}, replicas=2, batch_size=2)
    try:
        stream = engine.generate(requests, GREEDY)
        first = next(stream)
        stream.close()  # the runner stopped (Ctrl-C, an error while writing)
        rest = keyed(list(engine.generate(requests, GREEDY)))
        assert first in rest.values() and len(rest) == 8
    finally:
        engine.close()
