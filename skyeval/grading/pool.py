"""Killable worker processes: hard timeouts for code that may never finish, without ``signal.alarm``.

A :class:`WorkerPool` runs a function, named ``"module:function"``, in a separate Python interpreter and waits
for its answer with ``poll(timeout)`` on a pipe. On timeout the worker is killed (SIGKILL) and a replacement is
started at once in the background. Because the waiting is a plain blocking read with a deadline, it works in
any thread, under ``asyncio.to_thread``, in forked or spawned children, in daemonic pool workers and in Ray
workers.

Workers are fresh interpreters started with :mod:`subprocess` (``fork_exec``, which is safe from threads: the
same semantics as multiprocessing's "spawn" context, without re-importing the caller's ``__main__``). They
inherit the caller's ``sys.path``, cap their address space (``RLIMIT_AS``) so a hostile input fails with
``MemoryError`` instead of exhausting the machine, and exit when their parent goes away.

:class:`SharedPool` is the one piece of per-process state: a lazily created pool guarded by a lock, replaced
(without touching the parent's workers) in a forked child, and shut down at interpreter exit.
"""

from __future__ import annotations

import atexit
import importlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Literal

DEFAULT_MEMORY_LIMIT_MB = 2048
STARTUP_TIMEOUT_S = 120.0
_MAX_DETAIL = 300

_WORKER_CODE = "import sys; from skyeval.grading.pool import worker_main; worker_main(sys.argv[1:])"

Call = tuple[str, tuple[Any, ...]]
"""A function reference ``"module:function"`` and its positional arguments."""


@dataclass(frozen=True)
class Outcome:
    """The result of one call in a worker: ``ok`` with its value, ``timeout``, or ``error`` with a detail."""

    status: Literal["ok", "timeout", "error"]
    value: Any = None
    detail: str = ""


class _Worker:
    """One child interpreter serving calls over a request pipe and a result pipe."""

    def __init__(self, preload: Sequence[str], memory_limit_mb: int, warmup: Call | None = None) -> None:
        req_r, req_w = os.pipe()
        res_r, res_w = os.pipe()
        env = dict(os.environ)
        paths = [p for p in [*sys.path, *env.get("PYTHONPATH", "").split(os.pathsep)] if p]
        env["PYTHONPATH"] = os.pathsep.join(paths)  # the caller's import path, never an empty (cwd) entry
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = (
                "1"  # single-threaded: a BLAS thread pool would not fit under RLIMIT_AS on a big machine
            )
        cmd = [sys.executable, "-c", _WORKER_CODE, str(req_r), str(res_w), str(memory_limit_mb)]
        try:
            self.proc = subprocess.Popen(
                [*cmd, *preload],
                pass_fds=(req_r, res_w),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        except BaseException:
            for fd in (req_r, req_w, res_r, res_w):
                os.close(fd)
            raise
        os.close(req_r)
        os.close(res_w)
        self._send = Connection(req_w, readable=False)
        self._recv = Connection(res_r, writable=False)
        self.ready = False
        self.alive = True
        self.in_flight = False
        self._warming = warmup is not None
        # The warm-up call is queued now and answered during start-up, so real calls find everything imported.
        if warmup is not None:
            self._send.send(warmup)

    def _start(self) -> str | None:
        """Wait for the worker's 'ready' message; None on success, else why it failed."""
        if self.ready:
            return None
        if not self._recv.poll(STARTUP_TIMEOUT_S):
            return f"worker did not start within {STARTUP_TIMEOUT_S:.0f}s"
        try:
            message = self._recv.recv()
        except EOFError:
            return f"worker exited during start-up (status {self.proc.wait()})"
        if message != ("ready", None):
            return f"unexpected start-up message {message!r}"[:_MAX_DETAIL]
        if self._warming:
            if not self._recv.poll(STARTUP_TIMEOUT_S):
                return f"worker did not warm up within {STARTUP_TIMEOUT_S:.0f}s"
            try:
                self._recv.recv()  # the warm-up's own result does not matter
            except EOFError:
                return f"worker exited during warm-up (status {self.proc.wait()})"
            self._warming = False
        self.ready = True
        return None

    def call(self, ref: str, args: tuple[Any, ...], timeout: float) -> Outcome:
        problem = self._start()
        if problem is not None:
            self.kill()
            return Outcome("error", detail=problem)
        self.in_flight = True
        try:
            self._send.send((ref, args))
        except OSError as err:
            self.kill()
            return Outcome("error", detail=f"worker unavailable: {err}")
        if not self._recv.poll(max(timeout, 0.0)):
            self.kill()
            return Outcome("timeout", detail=f"no answer within {timeout:g}s")
        try:
            status, payload = self._recv.recv()
        except EOFError:
            self.kill()
            return Outcome("error", detail=f"worker died (status {self.proc.returncode})")
        self.in_flight = False
        return Outcome("ok", value=payload) if status == "ok" else Outcome("error", detail=str(payload))

    def kill(self) -> None:
        """Kill and reap the worker (it is our child) and close our pipe ends."""
        if self.alive:
            self.alive = False
            self.proc.kill()
            self.proc.wait()
            self.close_pipes()

    def close_pipes(self) -> None:
        self._send.close()
        self._recv.close()


def default_workers() -> int:
    """Workers per pool unless asked for more: the usable CPUs, at least 2, at most 8 (each holds sympy)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return min(8, max(2, cpus))


class WorkerPool:
    """Up to ``max_workers`` killable workers shared by any number of threads; see the module docstring."""

    def __init__(
        self,
        *,
        preload: Sequence[str] = (),
        max_workers: int | None = None,
        memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB,
        warmup: Call | None = None,
    ) -> None:
        self.pid = os.getpid()
        self.warmup = warmup
        self.preload = tuple(preload)
        self.memory_limit_mb = memory_limit_mb
        self.max_workers = max_workers or default_workers()
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._busy = 0
        self._closed = False

    @property
    def idle(self) -> int:
        """How many started workers are waiting for work."""
        with self._cond:
            return len(self._idle)

    def reserve(self, n: int) -> None:
        """Allow at least ``n`` workers to run at once."""
        with self._cond:
            self.max_workers = max(self.max_workers, n)
            self._cond.notify_all()

    def call(self, ref: str, args: tuple[Any, ...], timeout: float) -> Outcome:
        """Run ``ref(*args)`` in a worker with a hard ``timeout`` (seconds of work, queueing and start-up excluded)."""
        try:
            worker = self._acquire()
        except OSError as err:
            return Outcome("error", detail=f"cannot start a worker: {err}")
        try:
            return worker.call(ref, args, timeout)
        finally:
            self._release(worker)

    def _acquire(self) -> _Worker:
        with self._cond:
            while not self._idle and self._busy >= self.max_workers:
                self._cond.wait()
            self._busy += 1
            if self._idle:
                return self._idle.pop()
        try:
            return _Worker(self.preload, self.memory_limit_mb, self.warmup)
        except BaseException:
            with self._cond:
                self._busy -= 1
                self._cond.notify()
            raise

    def _release(self, worker: _Worker) -> None:
        # Interrupted mid-call (e.g. KeyboardInterrupt): its pipe may still receive a stale answer.
        if worker.in_flight:
            worker.kill()
        replacement = None
        if not worker.alive and not self._closed:
            try:  # start the replacement now so the next caller does not pay for its start-up
                replacement = _Worker(self.preload, self.memory_limit_mb, self.warmup)
            except OSError:
                replacement = None
        with self._cond:
            self._busy -= 1
            keep = replacement if replacement is not None else (worker if worker.alive else None)
            if keep is not None and not self._closed:
                self._idle.append(keep)
                keep = None
            self._cond.notify()
        if keep is not None:
            keep.kill()

    def close(self) -> None:
        """Kill the idle workers; busy ones are killed when released."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()

    def abandon(self) -> None:
        """In a forked child: forget the parent's workers (close our copies of their pipes, never kill them)."""
        self._closed = True
        for worker in self._idle:
            worker.close_pipes()
        self._idle = []


class SharedPool:
    """A per-process :class:`WorkerPool`, created on first use, replaced after ``fork``, closed at exit."""

    def __init__(self, factory: Callable[[], WorkerPool]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._pool: WorkerPool | None = None
        os.register_at_fork(after_in_child=self._after_fork)
        atexit.register(self.close)

    def get(self) -> WorkerPool:
        with self._lock:
            if self._pool is not None and self._pool.pid != os.getpid():
                self._pool.abandon()
                self._pool = None
            if self._pool is None:
                self._pool = self._factory()
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and pool.pid == os.getpid():
            pool.close()

    def _after_fork(self) -> None:
        self._lock = threading.Lock()  # another thread may have held the old one at fork time
        if self._pool is not None:
            self._pool.abandon()
            self._pool = None


# ---- the worker side ---------------------------------------------------------------------------------------


def resolve(ref: str) -> Callable[..., Any]:
    """The function named ``"module:qualified.name"``."""
    module, _, name = ref.partition(":")
    target: Any = importlib.import_module(module)
    for part in name.split("."):
        target = getattr(target, part)
    return target  # type: ignore[no-any-return]


def _watch_parent(parent: int) -> None:
    """Exit when the parent process is gone (re-parented), even mid-call."""
    import time

    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def worker_main(argv: Sequence[str]) -> None:
    """Entry point of a worker process: ``REQUEST_FD RESULT_FD MEMORY_MB [PRELOAD_MODULE ...]``."""
    req_fd, res_fd, memory_mb, *preload = argv
    try:
        import resource

        limit = int(memory_mb) * 1024 * 1024
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard < 0 else min(limit, hard), hard))
    except (ImportError, ValueError, OSError):  # no RLIMIT_AS on this platform: run unbounded
        pass
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; we exit on EOF
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    inp, out = Connection(int(req_fd), writable=False), Connection(int(res_fd), readable=False)
    for module in preload:
        importlib.import_module(module)
    out.send(("ready", None))
    functions: dict[str, Callable[..., Any]] = {}
    while True:
        try:
            ref, args = inp.recv()
        except EOFError:
            return
        try:
            function = functions.get(ref) or functions.setdefault(ref, resolve(ref))
            reply: tuple[str, Any] = ("ok", function(*args))
        except MemoryError:
            reply = ("error", f"MemoryError: over the worker's {memory_mb} MB memory limit")
        except Exception as err:  # noqa: BLE001 - not hidden: the caller gets the error as its result
            reply = ("error", f"{type(err).__name__}: {err}"[:_MAX_DETAIL])
        out.send(reply)
