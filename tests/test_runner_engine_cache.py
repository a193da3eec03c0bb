"""A command with several tasks builds each engine once and releases it at the end."""

from __future__ import annotations

from typing import Any

import pytest

from skyeval.engines import build
from skyeval.engines.openai import OpenAIEngine


class _Closable:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_engine_cache_builds_once_per_settings_and_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[tuple[str, dict[str, Any]]] = []

    def fake_build(name: str, options: dict[str, Any], ray_address: str | None, replicas: int) -> Any:
        built.append((name, dict(options)))
        return _Closable()

    monkeypatch.setattr(build, "build_engine", fake_build)
    cache = build.EngineCache()
    a = cache.get("hf", {"model": "m", "batch_size": 4}, None, 1)
    b = cache.get("hf", {"batch_size": 4, "model": "m"}, None, 1)
    c = cache.get("hf", {"model": "other"}, None, 1)
    assert a is b and a is not c
    assert len(built) == 2
    cache.close()
    assert isinstance(a, _Closable) and isinstance(c, _Closable) and a.closed and c.closed


def test_engine_cache_keeps_one_engine_per_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the openai engine learns about a server (``n`` support) stays with that server."""
    from testkit.fake_openai_server import FakeServer, Script

    from skyeval.types import GenerationRequest, Message, SamplingParams

    cache = build.EngineCache()
    request = [GenerationRequest("p", (Message("user", "q"),), (0, 1))]
    sampled = SamplingParams(n=2, temperature=0.7)
    with FakeServer(Script(supports_n=False)) as a, FakeServer(Script()) as b:
        first = cache.get("openai", {"model": "m", "base_url": a})
        assert len(list(first.generate(request, sampled))) == 2
        second = cache.get("openai", {"model": "m", "base_url": b})
        assert len(list(second.generate(request, sampled))) == 2
        assert cache.get("openai", {"base_url": a, "model": "m"}) is first
    assert first is not second
    assert isinstance(first, OpenAIEngine) and isinstance(second, OpenAIEngine)
    assert (first.n_supported, second.n_supported) == (False, True)
    cache.close()
