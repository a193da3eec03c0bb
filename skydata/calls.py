"""Engine calls shared by the judge, teacher, rewrite and rollout stages: an engine built on first use, input
chunking, and the tally of failed requests that decides whether a stage is ``done`` or ``partial``.

A request fails when the engine returns it with ``finish_reason="error"`` (the server refused it: HTTP 400,
413, 422) or when the engine gives up on the whole call (retries exhausted, server gone: a ``SkyevalError``).
After such a give-up the stage stops asking; everything it did not get back counts as failed, and nothing
failed is ever logged or cached, so the next run asks exactly those again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from skyeval.errors import SkyevalError
from skyeval.types import Completion, Engine, GenerationRequest, SamplingParams

T = TypeVar("T")


def chunked(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` rows (the last may be shorter), streaming."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    batch: list[T] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class LazyEngine:
    """An engine built on its first ``generate``: a stage whose work is all cached never loads a model."""

    name = "lazy"

    def __init__(self, make: Callable[[], Engine]) -> None:
        self._make = make
        self._engine: Engine | None = None

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingParams
    ) -> Iterator[Completion]:
        if self._engine is None:
            self._engine = self._make()
        return self._engine.generate(requests, sampling)

    def close(self) -> None:
        """Release the engine if it was built (Ray actors, GPU memory)."""
        close = getattr(self._engine, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> LazyEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Tally:
    """Requested units (votes, samples, rewrites) of one stage run: how many were needed, asked and failed."""

    work: int = 0  # units the stage needs in all (cached ones included): the error rate's denominator
    asked: int = 0
    errors: int = 0
    first_error: str = ""
    gave_up: bool = False  # the engine gave up on a call: the stage asks nothing more this run

    def fail(self, message: str, count: int = 1) -> None:
        self.errors += count
        if not self.first_error:
            self.first_error = " ".join(message.split())[:300]

    def rate(self) -> float:
        return self.errors / self.work if self.work else 0.0


def ask(
    engine: Engine, requests: Sequence[GenerationRequest], sampling: SamplingParams, tally: Tally
) -> Iterator[Completion]:
    """The completions ``engine`` returns for ``requests``, without failed ones (those are counted in
    ``tally``). An engine that gives up (``SkyevalError``) ends the call: what did not come back is counted as
    failed with its message, and ``tally.gave_up`` tells the stage to ask nothing more."""
    wanted = sum(len(r.sample_indices) for r in requests)
    if not wanted:
        return  # nothing to ask: a lazy engine stays unbuilt
    if tally.gave_up:
        tally.fail("not asked: the engine gave up earlier in this run", wanted)
        return
    tally.asked += wanted
    got = 0
    try:
        for c in engine.generate(requests, sampling):
            got += 1
            if c.finish_reason == "error":
                tally.fail(c.text or "the engine returned an error")
                continue
            yield c
    except SkyevalError as err:
        tally.gave_up = True
        tally.fail(str(err), max(wanted - got, 0))
