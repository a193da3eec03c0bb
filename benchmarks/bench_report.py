"""Measure ``skyeval report`` on a synthetic 500 problems x 32 samples run (or any run directories).

Reports the time to build the tables (per-problem metrics, budget re-grading), to write the report, the
HTML file's size, and how long headless Chromium takes to open it: the page's own ``ready_ms`` (from
navigation start until the drill-down's first page is rendered, so it includes parsing the whole file),
``expand_ms`` (decode and render one problem's samples), and the wall time of the browser process, which
also includes ``--dump-dom`` serialising the whole page.

    .venv/bin/python benchmarks/bench_report.py                       # 500 x 32, ~6k-char completions
    .venv/bin/python benchmarks/bench_report.py --completion-chars 24000 --html-completion-chars 0
    taskset -c 0 .venv/bin/python benchmarks/bench_report.py --tables-only   # budget analysis on one core
    .venv/bin/python benchmarks/bench_report.py --tables-only --paragraph-sentences 4 --profile /tmp/budget.prof

The budget analysis is timed on its own: cutting, extracting each cut's answer, and one ``grade_many`` call
for the distinct (answer, gold) pairs (its undecided pairs run on worker processes, whose CPU is not in the
"CPU in this process" figure).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test kit (testkit/)

import argparse
import cProfile
import dataclasses
import tempfile
import time
from pathlib import Path

from testkit.browser import CHROMIUM, selftest
from testkit.synthetic import synthetic_run

from skyeval import results
from skyeval.report import budget_table, build_tables, load_runs, write_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dirs", nargs="*", help="existing run directories (default: a synthetic run)")
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--completion-chars", type=int, default=6000)
    ap.add_argument("--max-tokens", type=int, default=8192)
    ap.add_argument("--html-completion-chars", type=int, default=6000)
    ap.add_argument("--no-compress", action="store_true")
    ap.add_argument("--no-budget", action="store_true")
    ap.add_argument(
        "--paragraph-sentences",
        type=int,
        default=0,
        help="synthetic text in paragraphs (0: one run-on paragraph)",
    )
    ap.add_argument("--tables-only", action="store_true", help="stop after the tables (no files, no browser)")
    ap.add_argument("--profile", type=Path, default=None, help="write a cProfile of the budget analysis here")
    ap.add_argument("--out", type=Path, default=None, help="keep the report here (default: a temp dir)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(p) for p in args.run_dirs]
        if not paths:
            t = time.perf_counter()
            paths = [
                synthetic_run(
                    Path(tmp) / "run",
                    problems=args.problems,
                    samples=args.samples,
                    completion_chars=args.completion_chars,
                    max_tokens=args.max_tokens,
                    varied_text=True,
                    paragraph_sentences=args.paragraph_sentences,
                )
            ]
            print(f"synthetic run {args.problems}x{args.samples}: {time.perf_counter() - t:.1f}s")
        samples_mb = sum((p / results.SAMPLES).stat().st_size for p in paths) / 1e6
        t = time.perf_counter()
        runs = load_runs(paths)
        print(f"load: {time.perf_counter() - t:.2f}s ({samples_mb:.1f} MB of samples.jsonl)")
        t = time.perf_counter()
        tables = build_tables(runs, budget=False, progress=True)
        print(f"tables without budget (per-problem, diversity, pass@k, ...): {time.perf_counter() - t:.1f}s")
        if not args.no_budget:
            profiler = cProfile.Profile() if args.profile else None
            t, cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            budget = budget_table(runs, tokenizer="chars", progress=True)
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.profile)
            print(
                f"budget analysis: {time.perf_counter() - t:.1f}s wall, "
                f"{time.process_time() - cpu:.1f}s CPU in this process (grading workers not counted)"
            )
            print(budget.to_string(index=False))
            tables = dataclasses.replace(tables, budget=budget)
        if args.tables_only:
            return
        out = args.out or Path(tmp) / "report"
        t = time.perf_counter()
        write_report(
            tables,
            out,
            ["md", "csv", "html", "png", "svg"],
            compress=not args.no_compress,
            completion_chars=args.html_completion_chars,
        )
        print(f"write md, csv, png, svg, html: {time.perf_counter() - t:.1f}s")
        page = out / "report.html"
        print(f"report.html: {page.stat().st_size / 1e6:.1f} MB")
        if not CHROMIUM.exists():
            print("chromium absent: open time not measured")
            return
        for attempt in range(3):
            check = selftest(page, timeout=300)
            r = check.result
            print(
                f"chromium open #{attempt + 1}: ready_ms={r.get('ready_ms')} (parse + index + first page), "
                f"expand_ms={r.get('expand_ms')} (decode + render one problem's samples), "
                f"process wall {check.wall_s:.1f}s, selftest ok={r.get('ok')}, errors={r.get('errors')}"
            )


if __name__ == "__main__":
    main()
