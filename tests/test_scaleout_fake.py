"""A fake engine the Ray tests replicate (imported by Ray workers), and the Ray-free parts of skyeval.scaleout."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

import pytest

from skyeval.errors import SkyevalError
from skyeval.types import Completion, GenerationRequest, Message, SamplingParams


class FakeEngine:
    """Deterministic text per (problem, sample), optionally slow; ``fail`` raises like a bad model path."""

    name = "fake"

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        if fail:
            raise SkyevalError("model 'nowhere' not found")
        self.delay = delay

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingParams
    ) -> Iterator[Completion]:
        for request in requests:
            for index in request.sample_indices:
                time.sleep(self.delay)
                answer = (len(request.messages[-1].content) + index) % 3
                yield Completion(request.problem_id, index, f"so \\boxed{{{answer}}}", "stop", 3, 4)


def make_requests(problems: int, samples: int) -> list[GenerationRequest]:
    return [
        GenerationRequest(f"p{p}", (Message("user", "x" * p),), tuple(range(samples)))
        for p in range(problems)
    ]


def test_shard_keeps_order_and_never_splits_a_request() -> None:
    from skyeval.scaleout import shard

    requests = make_requests(5, 3)
    batches = shard(requests, 4)
    assert [len(b) for b in batches] == [2, 2, 1]
    assert [r for b in batches for r in b] == requests
    assert shard([], 4) == []
    with pytest.raises(SkyevalError):
        shard(requests, 0)


def test_auto_batch_size_gives_each_replica_several_batches() -> None:
    from skyeval.scaleout import auto_batch_size

    assert auto_batch_size(30, 2) == 4
    assert auto_batch_size(1, 8) == 1
    assert auto_batch_size(10**6, 2) == 256


def test_ray_engine_rejects_bad_arguments_without_starting_ray() -> None:
    from skyeval.scaleout import RayEngine

    with pytest.raises(SkyevalError, match="unknown engine"):
        RayEngine("nope", {})
    with pytest.raises(SkyevalError, match="replicas"):
        RayEngine("hf", {}, replicas=0)
    with pytest.raises(SkyevalError):
        RayEngine("ray", {})


def test_importing_skyeval_and_scaleout_does_not_import_ray() -> None:
    code = "import skyeval, skyeval.scaleout, sys; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_unreachable_cluster_address_fails_fast_with_one_line() -> None:
    from skyeval.scaleout import connect

    with pytest.raises(SkyevalError, match="no Ray cluster answers at 127.0.0.1:1"):
        connect("127.0.0.1:1")


def test_replicas_reserve_the_gpus_their_engine_needs() -> None:
    from skyeval.scaleout import RayEngine

    assert RayEngine("vllm", {"tensor_parallel_size": 4}).num_gpus_per_replica == 4
    assert RayEngine("vllm", {}).num_gpus_per_replica == 1
    assert RayEngine("hf", {"device": "cuda:0"}).num_gpus_per_replica == 1
    assert RayEngine("hf", {"device": "cpu"}).num_gpus_per_replica == 0
    assert RayEngine("openai", {}).num_gpus_per_replica == 0
    assert RayEngine("vllm", {"tensor_parallel_size": 4}, num_gpus_per_replica=2).num_gpus_per_replica == 2


def test_gpus_per_replica_come_from_the_engine_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    from skyeval.engines import ENGINES, EngineSpec
    from skyeval.scaleout import RayEngine

    spec = EngineSpec(
        "test_scaleout_fake:FakeEngine", (), "test", gpus=lambda options: 2.0 * options["shards"]
    )
    monkeypatch.setitem(ENGINES, "sharded", spec)
    assert RayEngine("sharded", {"shards": 3}).num_gpus_per_replica == 6


def test_build_engine_checks_options_on_the_driver_before_ray_starts() -> None:
    code = (
        "import sys\n"
        "from skyeval.engines.build import build_engine\n"
        "from skyeval.errors import SkyevalError\n"
        "try:\n"
        "    build_engine('hf', {'model': 'm', 'bogus': 1}, ray_address='auto', replicas=2)\n"
        "except SkyevalError as err:\n"
        "    print(err, 'ray' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("engine 'hf' does not take option(s) bogus") and out.stdout.strip().endswith(
        "False"
    )
