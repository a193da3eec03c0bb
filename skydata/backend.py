"""Where skydata gets its engines and grader: skyeval's engine registry and grader, optionally on Ray.

Without a Ray address Ray is never imported; with one, generation goes through ``skyeval.scaleout.RayEngine``
and grading through ``skyeval.scaleout.ray_grade_many``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from skyeval.types import Engine, Grade


class Grader(Protocol):
    """Grades responses against golds; ``finished`` says per response whether it ended on its own (its
    engine's ``finish_reason == "stop"``), which extraction uses (``skyeval.grade``)."""

    def __call__(
        self, responses: Sequence[str], golds: Sequence[str], finished: Sequence[bool | None] | None = None
    ) -> list[Grade]: ...


@dataclass(frozen=True)
class EngineConfig:
    """An engine by registry name, its options (model, base_url, ...) and optional Ray scale-out."""

    engine: str
    options: Mapping[str, Any] = field(default_factory=dict)
    ray_address: str | None = None
    replicas: int = 1

    def public(self) -> dict[str, Any]:
        """What a manifest may record (no secrets)."""
        from skyeval.engines import public_options

        opts = public_options(self.engine, self.options)
        return {
            "engine": self.engine,
            "options": opts,
            "ray_address": self.ray_address,
            "replicas": self.replicas,
        }


def build_engine(config: EngineConfig) -> Engine:
    """The stage's engine, built by skyeval's one builder (locally, or replicated on Ray)."""
    from skyeval.engines.build import build_engine as build

    return build(config.engine, config.options, config.ray_address, config.replicas)


def build_grader(*, timeout: float = 5.0, ray_address: str | None = None, replicas: int = 1) -> Grader:
    """``grade_many`` locally, or on Ray workers when an address is given."""
    if ray_address is not None:
        from skyeval.scaleout import ray_grade_many

        def ray_grader(
            responses: Sequence[str], golds: Sequence[str], finished: Sequence[bool | None] | None = None
        ) -> list[Grade]:
            return ray_grade_many(
                responses, golds, address=ray_address, replicas=replicas, timeout=timeout, finished=finished
            )

        return ray_grader

    import skyeval

    def local_grader(
        responses: Sequence[str], golds: Sequence[str], finished: Sequence[bool | None] | None = None
    ) -> list[Grade]:
        return skyeval.grade_many(responses, golds, timeout=timeout, finished=finished)

    return local_grader
