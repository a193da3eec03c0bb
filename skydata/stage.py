"""Running one streaming stage: read rows, apply the stage, write kept rows and dropped rows (each to its own
file, atomically), count rows in/out and drops by reason, with a progress bar on stderr."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skydata.records import Drop, Item
from skyeval.jsonl import atomic_jsonl, read_jsonl, write_line

StageRow = Item | Drop | Mapping[str, Any]


@dataclass(frozen=True)
class StageResult:
    """One line of the funnel: rows in, rows out and drops by reason."""

    stage: str
    rows_in: int
    rows_out: int
    dropped: Mapping[str, int] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "dropped": dict(sorted(self.dropped.items())),
            **({"extra": dict(self.extra)} if self.extra else {}),
        }

    def summary(self) -> str:
        drops = ", ".join(f"{k}={v}" for k, v in sorted(self.dropped.items()))
        return f"{self.stage}: {self.rows_in} in -> {self.rows_out} out" + (
            f" (dropped: {drops})" if drops else ""
        )


def dropped_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".dropped.jsonl")


def read_items(path: str | Path) -> Iterator[Item]:
    from skyeval.errors import SkyevalError

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


def count_lines(path: str | Path) -> int:
    from skyeval.errors import SkyevalError

    if not Path(path).is_file():
        raise SkyevalError(f"no such file: {path}")
    with Path(path).open("rb") as fh:
        return sum(1 for line in fh if line.strip())
