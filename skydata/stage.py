"""What every skydata stage shares: its result (one funnel line plus the failed-request tally) and the
streaming runner that reads rows, applies the stage, and writes kept and dropped rows (each to its own file,
atomically; a failure leaves no ``.tmp`` behind), with a progress bar on stderr."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from skydata.calls import Tally
from skydata.records import Drop, Item
from skyeval.errors import SkyevalError
from skyeval.jsonl import atomic_jsonl, read_jsonl, write_line

StageRow = Item | Drop | Mapping[str, Any]


@dataclass(frozen=True)
class StageResult:
    """One line of the funnel (rows in, rows out, drops by reason) and, for stages that call an engine, how
    many requested units it needed (``work``), asked for this run and lost to ``errors`` (first message kept)."""

    stage: str
    rows_in: int
    rows_out: int
    dropped: Mapping[str, int] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    work: int = 0
    asked: int = 0
    errors: int = 0
    first_error: str = ""

    def with_tally(self, tally: Tally) -> StageResult:
        return replace(
            self, work=tally.work, asked=tally.asked, errors=tally.errors, first_error=tally.first_error
        )

    def error_rate(self) -> float:
        return self.errors / self.work if self.work else 0.0

    def over(self, max_error_rate: float) -> bool:
        """Whether the failed requests exceed the allowed share (the stage is then ``partial``)."""
        return self.errors > 0 and self.error_rate() > max_error_rate

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stage": self.stage,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "dropped": dict(sorted(self.dropped.items())),
        }
        if self.extra:
            out["extra"] = dict(self.extra)
        if self.work or self.asked or self.errors:
            out["requests"] = {
                "work": self.work,
                "asked": self.asked,
                "errors": self.errors,
                "first_error": self.first_error,
            }
        return out

    def summary(self) -> str:
        drops = ", ".join(f"{k}={v}" for k, v in sorted(self.dropped.items()))
        return f"{self.stage}: {self.rows_in} in -> {self.rows_out} out" + (
            f" (dropped: {drops})" if drops else ""
        )

    def error_line(self) -> str:
        """``teacher: 7 of 64 requests failed (asked 64 this run); first error: ...`` ('' without errors)."""
        if not self.errors:
            return ""
        return (
            f"{self.stage}: {self.errors} of {self.work} requests failed (asked {self.asked} this run); "
            f"first error: {self.first_error}"
        )


class StageFailed(SkyevalError):
    """A stage ended ``partial``: more of its requests failed than ``max_error_rate`` allows."""

    def __init__(self, result: StageResult, max_error_rate: float) -> None:
        super().__init__(
            f"{result.stage}: {result.errors} of {result.work} requests failed (asked {result.asked} this run; "
            f"above --max-error-rate {max_error_rate:g}); first error: {result.first_error}; the stage is "
            f"recorded partial and later stages did not run: re-run the same command to ask the "
            f"{result.errors} failed request(s) again"
        )
        self.result = result


def dropped_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".dropped.jsonl")


def read_items(path: str | Path) -> Iterator[Item]:
    for n, row in enumerate(read_jsonl(path), start=1):
        try:
            yield Item.from_json(row)
        except KeyError as err:
            raise SkyevalError(f"{path}: row {n} is not a skydata item (missing {err})") from None


class _Counted:
    """Wraps the input stream to count rows in and drive the progress bar."""

    def __init__(self, rows: Iterable[Any], desc: str, total: int | None, progress: bool) -> None:
        from tqdm import tqdm

        self.n = 0
        self._bar = tqdm(desc=desc, total=total, unit="row", disable=not progress, dynamic_ncols=True)
        self._rows = rows

    def __iter__(self) -> Iterator[Any]:
        for row in self._rows:
            self.n += 1
            self._bar.update(1)
            yield row

    def close(self) -> None:
        self._bar.close()


def run_stage(
    name: str,
    rows: Iterable[Any],
    apply: Callable[[Iterable[Any]], Iterable[StageRow]],
    out: str | Path,
    *,
    total: int | None = None,
    progress: bool = True,
) -> StageResult:
    """Stream ``rows`` through ``apply``; kept rows go to ``out``, drops to ``<out>.dropped.jsonl``."""
    counted = _Counted(rows, name, total, progress)
    dropped: Counter[str] = Counter()
    kept = 0
    try:
        with atomic_jsonl(out) as fh, atomic_jsonl(dropped_path(out)) as dh:
            for row in apply(counted):
                if isinstance(row, Drop):
                    dropped[row.reason] += 1
                    write_line(dh, {"stage": name, **row.to_json()})
                else:
                    kept += 1
                    write_line(fh, row.to_json() if isinstance(row, Item) else row)
    finally:
        counted.close()
    return StageResult(name, counted.n, kept, dict(dropped))


def run_items(
    name: str,
    src: str | Path,
    out: str | Path,
    apply: Callable[[Iterable[Item]], Iterable[StageRow]],
    *,
    progress: bool = True,
) -> StageResult:
    """``run_stage`` over the skydata items of the file ``src`` (the common case of every filtering stage)."""
    return run_stage(name, read_items(src), apply, out, total=count_lines(src), progress=progress)


def count_lines(path: str | Path) -> int:
    if not Path(path).is_file():
        raise SkyevalError(f"no such file: {path}")
    with Path(path).open("rb") as fh:
        return sum(1 for line in fh if line.strip())
