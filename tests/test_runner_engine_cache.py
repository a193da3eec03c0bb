"""A command with several tasks builds each engine once and releases it at the end."""

from __future__ import annotations

from typing import Any

import pytest

from skyeval import runner


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

    monkeypatch.setattr(runner, "build_engine", fake_build)
    cache = runner.EngineCache()
    a = cache.get("hf", {"model": "m", "batch_size": 4}, None, 1)
    b = cache.get("hf", {"batch_size": 4, "model": "m"}, None, 1)
    c = cache.get("hf", {"model": "other"}, None, 1)
    assert a is b and a is not c
    assert len(built) == 2
    cache.close()
    assert a.closed and c.closed  # type: ignore[attr-defined]
