"""``skyeval report``'s library API: run directories in, pandas DataFrames, plots and an HTML report out.

Typical notebook use::

    from skyeval.report import load_runs, build_tables
    tables = build_tables(load_runs(["runs/qwen-math500", "runs/sky-math500"]))
    tables.benchmark_wide, tables.pass_at_k, tables.budget, tables.diversity, tables.comparison.summary
    tables.summaries  # each run's RunSummary: the numbers of its summary.json

pandas and matplotlib (the ``report`` extra) are imported only when tables or plots are built.
"""

from __future__ import annotations

from skyeval.metrics import answer_diversity, entropy_bits
from skyeval.report.budget import budget_table
from skyeval.report.compare import compare_runs, comparison_pairs
from skyeval.report.format import benchmark_details, benchmark_wide, breakdown_wide, to_markdown
from skyeval.report.load import ProblemSamples, Run, load_run, load_runs, problems
from skyeval.report.metrics import budget_ladder, paired_bootstrap
from skyeval.report.tables import (
    ReportTables,
    ScoredRun,
    benchmark_table,
    breakdown_table,
    build_tables,
    diversity_table,
    pass_at_k_table,
    per_problem_table,
    score_runs,
)
from skyeval.report.write import FORMATS, markdown_report, parse_formats, write_report

__all__ = [
    "FORMATS",
    "ProblemSamples",
    "ReportTables",
    "Run",
    "ScoredRun",
    "answer_diversity",
    "benchmark_details",
    "benchmark_table",
    "benchmark_wide",
    "breakdown_table",
    "breakdown_wide",
    "budget_ladder",
    "budget_table",
    "build_tables",
    "compare_runs",
    "comparison_pairs",
    "diversity_table",
    "entropy_bits",
    "load_run",
    "load_runs",
    "markdown_report",
    "paired_bootstrap",
    "parse_formats",
    "pass_at_k_table",
    "per_problem_table",
    "problems",
    "score_runs",
    "to_markdown",
    "write_report",
]
