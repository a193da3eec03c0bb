"""Time ``skyeval import`` of the 675 OlympiadBench rows of a published Qwen2.5-Math-harness file, warm.

Usage (by hand; the figures go to docs/reproduction.md, "Performance")::

    .venv/bin/python benchmarks/bench_import.py [--repeat 5] [--file prime__Qwen2.5-Math-7B-Instruct/olympiadbench.jsonl]

One import is everything ``skyeval import`` does after its checks: read the harness JSONL and its metrics file,
load the task's data, join every row on ``idx`` (question checked), grade all 675 responses with one grading
worker (``workers=1``), write ``config.json``, ``samples.jsonl`` and ``summary.json``. "Warm": a first import
in the same process starts the worker (sympy and the LaTeX parser imported) and is reported apart; the next
``--repeat`` imports (each into a fresh folder) are timed, with the time each stage took.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from skyeval.importers import runner
from skyeval.importers.runner import ImportOptions, import_run

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


class Stages:
    """Wall time per stage of one import, by wrapping the runner's stage functions."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    def wrap(self, name: str, target: str) -> None:
        original = getattr(runner, target)

        def timed(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - start

        setattr(runner, target, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--file", default="prime__Qwen2.5-Math-7B-Instruct/olympiadbench.jsonl")
    args = parser.parse_args()
    harness = SHARED / "generations" / "qwen_harness" / args.file
    stages = Stages()
    for name, target in (
        ("checks + load task", "_check"),
        ("read source", "read_source"),
        ("join", "join"),
        ("grade", "regrade"),
        ("summary", "summarize_run"),
    ):
        stages.wrap(name, target)

    def once(out: Path) -> float:
        stages.times.clear()
        start = time.perf_counter()
        result = import_run(
            ImportOptions((str(harness),), "qwen-harness", "olympiadbench", model="bench", output_dir=str(out),
                          data_dir=str(SHARED / "data"), workers=1, progress=False),
            log=lambda line: None,
        )  # fmt: skip
        elapsed = time.perf_counter() - start
        assert result.summary.samples == 675 and not result.warnings
        return elapsed

    with tempfile.TemporaryDirectory() as tmp:
        cold = once(Path(tmp) / "cold")
        print(f"first import (cold: worker start-up, imports): {cold:.2f} s", flush=True)
        warm, per_stage = [], []
        for i in range(args.repeat):
            warm.append(once(Path(tmp) / f"warm{i}"))
            per_stage.append(dict(stages.times))
    rest = [w - sum(s.values()) for w, s in zip(warm, per_stage, strict=True)]
    print(f"warm imports of 675 rows, {args.repeat} runs: median {statistics.median(warm):.2f} s "
          f"(min {min(warm):.2f}, max {max(warm):.2f})")  # fmt: skip
    for name in per_stage[0]:
        print(f"  {name}: median {statistics.median(s[name] for s in per_stage):.3f} s")
    print(f"  write (config, samples, summary) and the rest: median {statistics.median(rest):.3f} s")
    sys.exit(0 if statistics.median(warm) <= 2.0 else 1)


if __name__ == "__main__":
    main()
