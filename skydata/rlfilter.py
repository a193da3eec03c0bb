"""Offline prompt filtering for RL: k rollouts per prompt from the policy, keep prompts whose pass rate lies in
a band (default strictly between 0 and 1: PRIME's filter drops prompts the policy always or never solves).

Rollouts come from an engine (logged and graded like teacher samples, so the stage resumes) or from an
existing ``skyeval run`` ``samples.jsonl``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from skydata.records import Drop, Item
from skydata.stage import StageResult, run_items
from skyeval import results
from skyeval.errors import SkyevalError
from skyeval.jsonl import read_jsonl


@dataclass(frozen=True)
class Band:
    low: float = 0.0
    high: float = 1.0
    inclusive: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise SkyevalError(f"bad pass-rate band {self.low}..{self.high}: need 0 <= low <= high <= 1")

    def contains(self, rate: float) -> bool:
        if self.inclusive:
            return self.low <= rate <= self.high
        return self.low < rate < self.high

    def __str__(self) -> str:
        return f"[{self.low:g}, {self.high:g}]" if self.inclusive else f"({self.low:g}, {self.high:g})"


def parse_band(text: str, *, inclusive: bool = False) -> Band:
    low, sep, high = text.partition(":")
    try:
        return Band(float(low), float(high), inclusive) if sep else Band(inclusive=inclusive)
    except ValueError:
        raise SkyevalError(f"bad pass-rate band {text!r}; use LOW:HIGH, e.g. 0:1") from None


def counts_from_grades(path: str | Path) -> dict[str, tuple[int, int]]:
    """(samples, correct) per problem from a generation verdict log (``*.grades.jsonl``)."""
    out: dict[str, tuple[int, int]] = {}
    seen: set[tuple[str, int]] = set()
    for row in read_jsonl(path, tolerate_torn_tail=True):
        key = (row["id"], int(row["sample_index"]))
        if key in seen:
            continue
        seen.add(key)
        n, c = out.get(row["id"], (0, 0))
        out[row["id"]] = (n + 1, c + bool(row["correct"]))
    return out


def counts_from_samples(path: str | Path) -> dict[str, tuple[int, int]]:
    """(samples, correct) per problem from a ``skyeval run`` ``samples.jsonl``, read by ``skyeval.results``
    (schema checked; the first row of a repeated (problem_id, sample_index) counts, as in the run's summary)."""
    out: dict[str, tuple[int, int]] = {}
    for rec in results.dedupe(results.read_sample_file(Path(path))).values():
        n, c = out.get(rec.problem_id, (0, 0))
        out[rec.problem_id] = (n + 1, c + rec.correct)
    return out


def filter_prompts(
    items: Iterable[Item],
    counts: Mapping[str, tuple[int, int]],
    band: Band,
    *,
    min_samples: int = 1,
    key: Callable[[Item], str] = lambda item: item.id,
) -> Iterator[Item | Drop]:
    """Items whose pass rate is in ``band`` (with ``pass_rate`` in meta); the others as drops with the rate.
    ``key`` says how ``counts`` is keyed (item id for skyeval samples, ``teacher.problem_key`` for our logs)."""
    for item in items:
        n, c = counts.get(key(item), (0, 0))
        if n < min_samples:
            yield Drop(item.id, "no_rollouts", f"{n} rollouts (< {min_samples})")
            continue
        rate = c / n
        if band.contains(rate):
            yield item.with_meta(pass_rate=rate, rollouts=n)
        elif rate >= band.high:
            yield Drop(item.id, "too_easy_for_policy", f"pass rate {rate:.3f} ({c}/{n}) outside {band}")
        else:
            yield Drop(item.id, "too_hard_for_policy", f"pass rate {rate:.3f} ({c}/{n}) outside {band}")


def run(
    src: str | Path,
    out: str | Path,
    counts: Mapping[str, tuple[int, int]],
    band: Band,
    *,
    key: Callable[[Item], str] = lambda item: item.id,
    progress: bool = True,
) -> StageResult:
    """The filter-prompts stage: the items of ``src`` whose pass rate (from ``counts``) is in ``band``."""
    return run_items(
        "filter-prompts",
        src,
        out,
        lambda rows: filter_prompts(rows, counts, band, key=key),
        progress=progress,
    )
