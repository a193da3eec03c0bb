"""``skyeval report``'s library API: run directories in, pandas DataFrames, plots and an HTML report out.

Typical notebook use::

    from skyeval.report import load_runs, build_tables
    tables = build_tables(load_runs(["runs/qwen-math500", "runs/sky-math500"]))
    tables.benchmark_wide, tables.pass_at_k, tables.budget, tables.diversity, tables.comparison.summary

pandas and matplotlib (the ``report`` extra) are imported only when tables or plots are built.
"""

from __future__ import annotations

from skyeval.report.load import ProblemSamples, Run, load_run, load_runs, problems
from skyeval.report.metrics import answer_diversity, budget_ladder, entropy_bits, paired_bootstrap
from skyeval.report.tables import (
    ReportTables,
    benchmark_table,
    benchmark_wide,
    breakdown_table,
    breakdown_wide,
    budget_table,
    build_tables,
    compare_runs,
    comparison_pairs,
    diversity_table,
    pass_at_k_table,
    per_problem_table,
    to_markdown,
)
from skyeval.report.write import FORMATS, markdown_report, parse_formats, write_report

__all__ = [
    "FORMATS",
    "ProblemSamples",
    "ReportTables",
    "Run",
    "answer_diversity",
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
    "to_markdown",
    "write_report",
]
