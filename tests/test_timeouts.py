"""Hard timeouts of the grading worker pool: in threads, asyncio, forked/spawned/daemonic children and Ray."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import pytest

from skyeval.grading import grade as grade_module
from skyeval.grading.numbers import EquivalenceConfig
from skyeval.grading.pool import SharedPool, WorkerPool
from skyeval.types import Grade

SLOW = 0.4  # the timeout used against a comparison that never finishes in time
DEFAULT = EquivalenceConfig()


def sleepy_equivalent(pred: str, gold: str, config: object = None) -> str:
    """A stand-in for a pathological comparison: takes a minute unless killed."""
    time.sleep(60)
    return "equal"


def echo_equivalent(pred: str, gold: str, config: object = None) -> str:
    """A quick stand-in comparison: same characters in any order."""
    return "equal" if sorted(pred) == sorted(gold) else "not_equal"


SLEEPY = f"{__name__}:sleepy_equivalent"
ECHO = f"{__name__}:echo_equivalent"


def slow_grade() -> Grade:
    """An answer the in-process fast path cannot decide, compared by a comparison that never finishes in time."""
    return grade_module._grade(r"so \boxed{\sqrt{x}}", "x^{1/2}", SLOW, SLEEPY, DEFAULT)


def echo_grade(answer: str) -> Grade:
    """Grade against "x+1" with the quick comparison; "1+x" and "x+2" are left to the worker by the fast path."""
    return grade_module._grade(rf"so \boxed{{{answer}}}", "x+1", 10.0, ECHO, DEFAULT)


def light_pool() -> SharedPool:
    """Workers without grade's warm-up (sympy): they start in a fraction of a second, which keeps tests quick."""
    return SharedPool(lambda: WorkerPool(max_workers=4))


@pytest.fixture(autouse=True)
def _light_grade_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    shared = light_pool()
    monkeypatch.setattr(grade_module, "_POOL", shared)
    yield
    shared.close()


def _child_grades(queue: multiprocessing.Queue[tuple[int, int, Grade, Grade]], fresh: bool) -> None:
    if fresh:  # a spawned child imports grade afresh: give it light workers too (a forked one inherits them)
        grade_module._POOL = light_pool()
    pool = grade_module._POOL.get()
    queue.put((os.getpid(), pool.pid, slow_grade(), echo_grade("1+x")))


def _in_daemonic_child() -> tuple[Grade, Grade]:
    grade_module._POOL = light_pool()
    return slow_grade(), echo_grade("1+x")


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    p = WorkerPool(max_workers=2)
    yield p
    p.close()


def test_timeout_kills_and_replaces_the_worker(pool: WorkerPool) -> None:
    first = pool.call("os:getpid", (), 30.0)
    assert first.status == "ok"
    start = time.monotonic()
    outcome = pool.call(SLEEPY, ("a", "b"), SLOW)
    elapsed = time.monotonic() - start
    assert outcome.status == "timeout"
    assert SLOW <= elapsed < SLOW + 2.0
    after = pool.call("os:getpid", (), 30.0)
    assert after.status == "ok" and after.value != first.value


def test_worker_errors_are_reported_not_raised(pool: WorkerPool) -> None:
    outcome = pool.call("math:sqrt", (-1.0,), 30.0)
    assert outcome.status == "error" and "ValueError" in outcome.detail
    assert pool.call("math:sqrt", (4.0,), 30.0).value == 2.0


class _InterruptingPipe:
    """Wraps a worker's result pipe; the first poll raises KeyboardInterrupt, as Ctrl-C would mid-call."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def poll(self, timeout: float) -> bool:
        raise KeyboardInterrupt

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_an_interrupted_call_never_leaves_a_stale_answer(pool: WorkerPool) -> None:
    first = pool.call("os:getpid", (), 30.0).value
    (worker,) = pool._idle
    worker._recv = _InterruptingPipe(worker._recv)  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        pool.call("math:sqrt", (25.0,), 30.0)  # its answer (5.0) would be read by the next call
    assert not worker.alive
    assert pool.call("math:sqrt", (36.0,), 30.0).value == 6.0
    assert pool.call("os:getpid", (), 30.0).value != first


def test_a_crashed_worker_is_reported_and_replaced(pool: WorkerPool) -> None:
    outcome = pool.call("os:_exit", (3,), 30.0)
    assert outcome.status == "error" and "worker died" in outcome.detail
    assert pool.call("math:sqrt", (16.0,), 30.0).value == 4.0


def test_worker_memory_is_bounded() -> None:
    pool = WorkerPool(memory_limit_mb=512)
    try:
        outcome = pool.call("builtins:bytearray", (4 * 1024**3,), 30.0)
        assert outcome.status == "error" and "MemoryError" in outcome.detail
        assert pool.call("math:sqrt", (9.0,), 30.0).value == 3.0
    finally:
        pool.close()


def test_grade_reports_timeout() -> None:
    start = time.monotonic()
    assert slow_grade() == Grade(False, r"\sqrt{x}", "timeout", f"no answer within {SLOW:g}s")
    assert time.monotonic() - start < SLOW + 5.0
    assert echo_grade("1+x") == Grade(True, "1+x", "equal")


def test_timeouts_in_threads_give_serial_answers() -> None:
    answers = ["1+x", "x+2"] * 4
    serial = [echo_grade(a) for a in answers]
    with ThreadPoolExecutor(max_workers=4) as executor:
        slow = list(executor.map(lambda _: slow_grade(), range(4)))
        concurrent = list(executor.map(echo_grade, answers))
    assert all(g.reason == "timeout" for g in slow)
    assert concurrent == serial


def test_timeout_under_asyncio_to_thread() -> None:
    async def main() -> list[Grade]:
        return list(await asyncio.gather(asyncio.to_thread(slow_grade), asyncio.to_thread(echo_grade, "x+1")))

    slow, fast = asyncio.run(main())
    assert slow.reason == "timeout" and fast.correct


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_timeout_in_child_process(method: Literal["fork", "spawn"]) -> None:
    parent_pool = grade_module._POOL.get()
    assert echo_grade("1+x").correct  # the parent holds a live worker before the fork
    ctx = multiprocessing.get_context("fork") if method == "fork" else multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_grades, args=(queue, method != "fork"))
    child.start()
    child_pid, pool_pid, slow, fast = queue.get(timeout=120)
    child.join(30)
    assert child.exitcode == 0
    assert pool_pid == child_pid != os.getpid()  # the child built its own pool, not the parent's handles
    assert slow.reason == "timeout" and fast.correct
    assert grade_module._POOL.get() is parent_pool and echo_grade("1+x").correct


def test_timeout_in_daemonic_pool_worker() -> None:
    with multiprocessing.get_context("spawn").Pool(1) as mp_pool:
        slow, fast = mp_pool.apply(_in_daemonic_child)
    assert slow.reason == "timeout" and fast.correct


def test_workers_exit_with_their_parent(tmp_path: Path) -> None:
    script = (
        "from skyeval.grading.pool import SharedPool, WorkerPool\n"
        "import os\n"
        "print(WorkerPool().call('os:getpid', (), 60.0).value, flush=True)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    worker_pid = int(out.stdout)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{worker_pid}").exists():
        status = (
            Path(f"/proc/{worker_pid}/status").read_text() if Path(f"/proc/{worker_pid}").exists() else ""
        )
        if "zombie" in status:
            break
        time.sleep(0.2)
    alive = Path(f"/proc/{worker_pid}/status")
    assert not alive.exists() or "zombie" in alive.read_text()


def test_concurrent_callers_share_a_bounded_pool(pool: WorkerPool) -> None:
    barrier = threading.Barrier(4)

    def call(_: int) -> object:
        barrier.wait()
        return pool.call("os:getpid", (), 30.0).value

    with ThreadPoolExecutor(max_workers=4) as executor:
        pids = set(executor.map(call, range(4)))
    assert 1 <= len(pids) <= pool.max_workers


def test_timeout_in_ray_task_and_threaded_actor() -> None:
    pytest.importorskip("ray")
    import ray
    from ray import cloudpickle

    tests_dir = str(Path(__file__).parent)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:

        @ray.remote
        def task(tests_dir: str) -> tuple[Grade, Grade]:
            import skyeval

            sys.path.insert(0, tests_dir)  # so the grading worker can import this module's sleepy comparison
            real = skyeval.grade(r"\boxed{x^2+1}", "1+x^2", timeout=60.0)  # the real worker and sympy
            grade_module._POOL = light_pool()
            return slow_grade(), real

        class Grader:
            def __init__(self, tests_dir: str) -> None:
                sys.path.insert(0, tests_dir)
                grade_module._POOL = light_pool()

            def slow(self) -> Grade:
                return slow_grade()

        slow, real = ray.get(task.remote(tests_dir), timeout=180)
        # max_concurrency: the actor's methods run in threads, where signal.alarm timeouts fail
        actor = ray.remote(Grader).options(max_concurrency=2).remote(tests_dir)
        slow_remote = actor.slow.remote  # type: ignore[attr-defined]  # ray types handle methods as plain ones
        threaded = ray.get([slow_remote(), slow_remote()], timeout=180)
    finally:
        ray.shutdown()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert slow.reason == "timeout" and real.correct
    assert [g.reason for g in threaded] == ["timeout", "timeout"]
