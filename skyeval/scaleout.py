"""Scale-out on Ray: data-parallel generation (``RayEngine``) and grading (``ray_grade_many``).

``RayEngine`` is an :class:`~skyeval.types.Engine` that runs one replica of another engine per Ray actor and
feeds them small batches of requests from a shared queue, so fast replicas take more work. Completions stream
back batch by batch as they finish, so the runner appends them to ``samples.jsonl`` exactly as it does for a
local engine. A batch's completions are yielded only once the whole batch has come back, so a replica that dies
mid-batch loses nothing that was yielded: Ray restarts the actor and retries its tasks (``max_task_retries``),
and a batch whose replica is gone for good is put back on the queue for the surviving replicas. Every
(problem_id, sample_index) is yielded exactly once.

Ray is imported only inside these functions: ``import skyeval`` and local single-process runs never load it.

Over 400 lines because the replica pool (start, resource checks, restart and re-dispatch of a dead replica's
batch, exactly-once checks) and Ray grading share one connection helper and one error-propagation rule; each
part alone is small.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from skyeval.engines import EngineSpec, construct, engine_spec
from skyeval.errors import SkyevalError, require
from skyeval.types import Completion, Engine, GenerationRequest, Grade, SamplingParams

_MAX_AUTO_BATCH = 256  # samples per batch at most when the batch size is chosen automatically
_BATCHES_PER_REPLICA = 4  # auto batch size aims at this many batches per replica (balance and streaming)

Key = tuple[str, int]


def connect(address: str | None = None) -> None:
    """Connect to Ray: ``None`` starts (or reuses) a local instance, ``"auto"`` or ``host:port`` a cluster.

    An already initialised Ray (for example one started by the caller) is reused as it is.
    """
    require("ray", extra="ray", what="--ray")
    import ray

    if ray.is_initialized():
        return
    if address is not None:
        _probe(address)
    try:
        ray.init(address=address, include_dashboard=False)
    except ConnectionError as err:
        raise SkyevalError(f"cannot connect to the Ray cluster at {address!r}: {err}") from None


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail fast when a ``host:port`` address does not answer (Ray itself retries for minutes)."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", "local", "ray://..." are Ray's to resolve
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise SkyevalError(f"no Ray cluster answers at {address}: {err}") from None


def shard(requests: Sequence[GenerationRequest], batch_size: int) -> list[tuple[GenerationRequest, ...]]:
    """Cut ``requests`` (in order) into batches of about ``batch_size`` samples; a request is never split."""
    if batch_size < 1:
        raise SkyevalError(f"batch size must be at least 1, got {batch_size}")
    batches: list[tuple[GenerationRequest, ...]] = []
    current: list[GenerationRequest] = []
    samples = 0
    for request in requests:
        current.append(request)
        samples += len(request.sample_indices)
        if samples >= batch_size:
            batches.append(tuple(current))
            current, samples = [], 0
    if current:
        batches.append(tuple(current))
    return batches


def auto_batch_size(total_samples: int, replicas: int) -> int:
    """About ``_BATCHES_PER_REPLICA`` batches per replica, between 1 and ``_MAX_AUTO_BATCH`` samples each."""
    wanted = math.ceil(total_samples / (max(replicas, 1) * _BATCHES_PER_REPLICA))
    return max(1, min(_MAX_AUTO_BATCH, wanted))


def _keys(batch: Sequence[GenerationRequest]) -> list[Key]:
    return [(r.problem_id, i) for r in batch for i in r.sample_indices]


class _Replica:
    """The body of one Ray actor: builds its engine on first use (also after Ray restarts the actor).

    It gets the engine's spec, not just its name, so an engine registered only in the driver (a test's) builds
    too; ``skyeval.engines.construct`` checks the extra and the options exactly as a local build does.
    """

    def __init__(self, name: str, spec: EngineSpec, options: Mapping[str, Any]) -> None:
        self._name = name
        self._spec = spec
        self._options = dict(options)
        self._engine: Engine | None = None

    def _get(self) -> Engine:
        if self._engine is None:
            self._engine = construct(self._name, self._spec, self._options)
        return self._engine

    def ready(self) -> int:
        """Load the engine now; return this worker's pid (tests use it to kill the worker)."""
        self._get()
        return os.getpid()

    def generate(self, batch: Sequence[GenerationRequest], sampling: SamplingParams) -> list[Completion]:
        return list(self._get().generate(batch, sampling))


@dataclass(frozen=True)
class _Slot:
    """One replica: its Ray actor handle, and whether it is still used (a dropped one is killed)."""

    actor: Any
    alive: bool = True


@dataclass
class RayStats:
    """What happened during the last ``generate`` call (for logs, tests and benchmarks)."""

    batches: int = 0
    retried_batches: int = 0
    dead_replicas: int = 0


class RayEngine:
    """Data-parallel generation: ``replicas`` copies of engine ``engine`` on Ray actors, one per actor.

    ``engine_options`` are passed to the engine's factory inside each actor (for example ``model``).
    ``num_gpus_per_replica=None`` reserves what the engine's spec says it needs (``EngineSpec.gpus``:
    ``tensor_parallel_size`` GPUs for ``vllm``, one for ``hf`` on a ``cuda`` device, none otherwise). ``batch_size`` is in samples; ``None`` picks about
    four batches per replica (at most 256 samples each).
    """

    name = "ray"

    def __init__(
        self,
        engine: str,
        engine_options: Mapping[str, Any],
        *,
        replicas: int = 1,
        address: str | None = None,
        num_cpus_per_replica: float = 1,
        num_gpus_per_replica: float | None = None,
        max_task_retries: int = 3,
        batch_size: int | None = None,
    ) -> None:
        if engine == "ray":
            raise SkyevalError("the 'ray' engine cannot replicate itself")
        spec = engine_spec(engine)
        if replicas < 1:
            raise SkyevalError(f"--replicas must be at least 1, got {replicas}")
        if batch_size is not None and batch_size < 1:
            raise SkyevalError(f"batch size must be at least 1, got {batch_size}")
        self.engine = engine
        self.engine_options = dict(engine_options)
        self.replicas = replicas
        self.address = address
        self.num_cpus_per_replica = num_cpus_per_replica
        if num_gpus_per_replica is None:
            num_gpus_per_replica = spec.gpus(engine_options)
        self.num_gpus_per_replica = num_gpus_per_replica
        self.max_task_retries = max_task_retries
        self.batch_size = batch_size
        self.stats = RayStats()
        self._spec = spec
        self._slots: list[_Slot] = []

    # -- replicas ---------------------------------------------------------------------------------------

    def start(self) -> list[int]:
        """Connect to Ray, start the replicas and load their engines; return the workers' pids.

        ``generate`` calls this on first use; calling it first separates start-up from generation time.
        """
        if len(self._slots) < self.replicas:  # first use, or replacing replicas dropped by an earlier run
            connect(self.address)
            import ray

            cluster: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
            self._check_resources(cluster)
            actor_class = ray.remote(_Replica).options(
                num_cpus=self.num_cpus_per_replica,
                num_gpus=self.num_gpus_per_replica,
                max_restarts=self.max_task_retries,
                max_task_retries=self.max_task_retries,
            )
            while len(self._slots) < self.replicas:
                self._slots.append(_Slot(actor_class.remote(self.engine, self._spec, self.engine_options)))
        return self._wait_ready()

    def _check_resources(self, cluster: Mapping[str, float]) -> None:
        """Fail at once, instead of waiting forever, when the whole cluster cannot hold the replicas."""
        for resource, each in (("CPU", self.num_cpus_per_replica), ("GPU", self.num_gpus_per_replica)):
            have = cluster.get(resource, 0.0)
            if self.replicas * each > have:
                raise SkyevalError(
                    f"{self.replicas} replicas x {each:g} {resource} need {self.replicas * each:g} {resource}s "
                    f"but the Ray cluster has {have:g}; lower --replicas"
                )

    def _wait_ready(self) -> list[int]:
        import ray

        refs = [slot.actor.ready.remote() for slot in self._slots]
        try:
            return list(ray.get(refs))
        except ray.exceptions.RayTaskError as err:
            _reraise(err)

    def pids(self) -> list[int]:
        """The pids of the replicas' worker processes (in replica order; restarted actors get new pids)."""
        return self._wait_ready()

    def actors(self) -> list[Any]:
        """The Ray actor handles of the replicas still in use."""
        return [slot.actor for slot in self._slots if slot.alive]

    def close(self) -> None:
        """Kill the replicas (frees their CPUs/GPUs); the next ``generate`` starts new ones."""
        if self._slots:
            import ray

            for slot in self._slots:
                ray.kill(slot.actor)
            self._slots = []

    # -- generation -------------------------------------------------------------------------------------

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingParams
    ) -> Generator[Completion, None, None]:
        """Yield every requested sample exactly once, batch by batch as the replicas finish them (a generator:
        closing it part-way leaves the replicas usable)."""
        total = sum(len(r.sample_indices) for r in requests)
        expected = _keys(requests)
        if len(set(expected)) != len(expected):
            raise SkyevalError("duplicate (problem_id, sample_index) in the generation requests")
        self.stats = RayStats()
        if total == 0:
            return
        batches = shard(requests, self.batch_size or auto_batch_size(total, self.replicas))
        self.stats.batches = len(batches)
        self.start()
        yield from self._run(batches, sampling)

    def _run(
        self, batches: list[tuple[GenerationRequest, ...]], sampling: SamplingParams
    ) -> Iterator[Completion]:
        import ray

        queue: deque[int] = deque(range(len(batches)))
        failures = [0] * len(batches)
        inflight: dict[Any, tuple[int, int]] = {}  # object ref -> (batch index, slot index)
        busy = [False] * len(self._slots)
        last_death = ""

        def feed(slot_index: int) -> None:
            # one batch in flight per replica: an actor runs its tasks one by one, and a batch queued on an
            # actor could not be moved to a faster replica
            if queue and self._slots[slot_index].alive and not busy[slot_index]:
                batch_index = queue.popleft()
                ref = self._slots[slot_index].actor.generate.remote(batches[batch_index], sampling)
                inflight[ref] = (batch_index, slot_index)
                busy[slot_index] = True

        try:
            for slot_index in range(len(self._slots)):
                feed(slot_index)
            while inflight:
                (ref,), _ = ray.wait(list(inflight), num_returns=1)
                batch_index, slot_index = inflight.pop(ref)
                busy[slot_index] = False
                done: list[Completion] = []
                try:
                    done = _checked(batches[batch_index], ray.get(ref))
                except ray.exceptions.RayActorError as err:
                    # Ray already restarted the actor and retried up to max_task_retries times: drop the
                    # replica and give its batch to the others
                    last_death = str(err).splitlines()[0]
                    if self._slots[slot_index].alive:
                        ray.kill(self._slots[slot_index].actor)
                        self._slots[slot_index] = _Slot(self._slots[slot_index].actor, alive=False)
                        self.stats.dead_replicas += 1
                    failures[batch_index] += 1
                    self.stats.retried_batches += 1
                    if failures[batch_index] > self.max_task_retries:
                        raise SkyevalError(
                            f"a batch failed on {failures[batch_index]} replicas; last error: {last_death}"
                        ) from None
                    queue.appendleft(batch_index)
                except ray.exceptions.RayTaskError as err:
                    _reraise(err)
                alive = [i for i, slot in enumerate(self._slots) if slot.alive]
                if queue and not alive:
                    raise SkyevalError(f"all {len(self._slots)} Ray replicas died; last error: {last_death}")
                for i in alive:  # before yielding: the replicas work while the caller grades and writes
                    feed(i)
                yield from done
        finally:
            # batches still running when the caller stops are left to finish and their results dropped:
            # ray.cancel on an actor task stalls that actor's next task for 30 s (Ray 2.60)
            self._slots = [slot for slot in self._slots if slot.alive]


def _checked(batch: Sequence[GenerationRequest], completions: Sequence[Completion]) -> list[Completion]:
    """The batch's completions, after checking they are exactly the requested samples."""
    wanted = _keys(batch)
    got = [(c.problem_id, c.sample_index) for c in completions]
    if sorted(got) != sorted(wanted):
        missing = sorted(set(wanted) - set(got))[:3]
        extra = sorted(set(got) - set(wanted))[:3]
        raise SkyevalError(
            f"an engine replica returned {len(got)} completions for {len(wanted)} requested samples "
            f"(missing e.g. {missing}, unexpected e.g. {extra})"
        )
    return list(completions)


def _reraise(err: Exception) -> NoReturn:
    """A task's SkyevalError (bad model path, missing extra) is the user's: raise it as a one-line error.

    Any other exception inside a replica is a bug and is raised with Ray's remote traceback.
    """
    cause = getattr(err, "cause", None)
    if isinstance(cause, SkyevalError):
        raise SkyevalError(str(cause)) from None
    raise err


# -- grading --------------------------------------------------------------------------------------------


def _grade_chunk(
    responses: Sequence[str],
    golds: Sequence[str],
    timeout: float,
    finished: Sequence[bool | None] | None,
    policy: str,
) -> list[Grade]:
    from skyeval.grading.grade import grade_many

    return grade_many(responses, golds, timeout=timeout, workers=1, finished=finished, policy=policy)


def ray_grade_many(
    responses: Sequence[str],
    golds: Sequence[str],
    *,
    address: str | None = None,
    replicas: int = 1,
    timeout: float = 5.0,
    batch_size: int = 256,
    progress: bool = False,
    finished: Sequence[bool | None] | None = None,
    policy: str = "default",
) -> list[Grade]:
    """Grade (response, gold) pairs on Ray workers, ``replicas`` chunks at a time; same order as the input.
    ``finished``: per response, whether it ended on its own; ``policy``: the grading preset (see
    ``skyeval.grade``).

    Each chunk of ``batch_size`` pairs is one Ray task calling :func:`skyeval.grade_many`; a task whose worker
    dies is retried by Ray, so every pair gets exactly one grade.
    """
    if len(responses) != len(golds):
        raise SkyevalError(f"{len(responses)} responses but {len(golds)} gold answers")
    if replicas < 1 or batch_size < 1:
        raise SkyevalError("replicas and batch size must be at least 1")
    if not responses:
        return []
    connect(address)
    import ray
    from tqdm import tqdm

    task = ray.remote(_grade_chunk).options(num_cpus=1, max_retries=3)
    starts = list(range(0, len(responses), batch_size))
    results: list[list[Grade] | None] = [None] * len(starts)
    pending: dict[Any, int] = {}
    todo = deque(range(len(starts)))
    with tqdm(total=len(responses), desc="grading on ray", unit="sample", disable=not progress) as bar:
        while todo or pending:
            while todo and len(pending) < replicas:
                i = todo.popleft()
                s = starts[i]
                part = None if finished is None else finished[s : s + batch_size]
                pending[
                    task.remote(
                        responses[s : s + batch_size], golds[s : s + batch_size], timeout, part, policy
                    )
                ] = i
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(ref)
            try:
                results[i] = ray.get(ref)
            except ray.exceptions.RayTaskError as err:
                _reraise(err)
            bar.update(len(results[i] or []))
    grades = [g for chunk in results for g in chunk or []]
    if len(grades) != len(responses):
        raise SkyevalError(f"Ray grading returned {len(grades)} grades for {len(responses)} responses")
    return grades
