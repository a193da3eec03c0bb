"""Compose the report: load runs, build the tables, draw the plots, write Markdown, CSV, images and HTML.

Image files carry their caption (completeness marks, CI bands, notes) inside the image; the HTML shows the same
caption as text under each inline SVG."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from skyeval.errors import SkyevalError
from skyeval.report.format import AVERAGE, benchmark_details, breakdown_wide, task_order, to_markdown
from skyeval.report.html import COMPLETION_CHARS, InlineFigure, render_html
from skyeval.report.tables import ReportTables

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("md", "csv", "html", "png", "svg")


def parse_formats(spec: str) -> tuple[str, ...]:
    """``"md,csv"`` -> ("md", "csv"); unknown names are an error."""
    names = tuple(dict.fromkeys(s.strip().lower() for s in spec.split(",") if s.strip()))
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        raise SkyevalError(
            f"unknown report format(s) {', '.join(bad) or spec!r}; choose from {', '.join(FORMATS)}"
        )
    return names


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "task"


def _pivot_md(df: pd.DataFrame, column: str, value: str, floatfmt: str = ".3f") -> str:
    table = df.pivot_table(index="label", columns=column, values=value, sort=False).reset_index()
    table.columns = [str(c) for c in table.columns]
    return to_markdown(table, floatfmt)


def markdown_report(tables: ReportTables, images: Sequence[Path] = ()) -> str:
    """The report as Markdown: headline table, comparisons, pass@k, budget, diversity, breakdowns."""
    lines = ["# skyeval report", ""]
    warnings = tables.warnings()
    if warnings:
        lines += ["## Warnings", "", *[f"- **{w}**" for w in warnings], ""]
    lines += [
        "## Benchmark",
        "",
        "Mean pass@1 (%), its CI and n problems scored.",
        "",
        f"CI: {tables.ci_note}.",
        "",
        to_markdown(tables.benchmark_wide),
        "",
    ]
    if AVERAGE in tables.benchmark_wide.columns:
        lines += [
            "`average`: mean of the task means (stratified bootstrap); `—` when a row lacks a task.",
            "",
        ]
    lines += ["Per run:", "", to_markdown(benchmark_details(tables.benchmark)), ""]
    if tables.comparison is not None:
        lines += ["## Paired comparison (A − B)", "", to_markdown(tables.comparison.summary), ""]
    lines += verdicts_markdown(tables)
    for task in task_order(tables.runs):
        lines += [
            f"## {task}",
            "",
            "pass@k:",
            "",
            _pivot_md(tables.pass_at_k[tables.pass_at_k["task"] == task], "k", "pass@k"),
            "",
        ]
        if tables.budget is not None:
            budget = tables.budget[tables.budget["task"] == task]
            lines += [
                "Accuracy vs generation budget (tokens):",
                "",
                _pivot_md(budget, "budget", "accuracy"),
                "",
            ]
            lines += [f"Token cut: {m}." for m in dict.fromkeys(budget["method"])] + [""]
        lines += [f"![{img.stem}]({img.name})" for img in images if img.stem.endswith(_slug(task))] + [""]
    lines += ["## Diversity of final answers", "", to_markdown(tables.diversity), ""]
    if not tables.breakdown.empty:
        lines += ["## Breakdowns (mean pass@1 %, n problems)", ""]
        for (task, field), df in breakdown_wide(tables.breakdown).items():
            lines += [f"{task} by {field}:", "", to_markdown(df), ""]
    notes = [f"- {r.label} · {r.task}: {n}" for r in tables.runs for n in r.notes]
    if notes:
        lines += ["## Loading notes", "", *notes, ""]
    return "\n".join(lines)


def verdicts_markdown(tables: ReportTables) -> list[str]:
    """The side-by-side verdicts of imported runs and the grader delta, as Markdown lines (none without)."""
    if tables.verdicts is None or tables.verdicts_pass_at_k is None or tables.grader_delta is None:
        return []
    delta = tables.grader_delta
    lines = [
        "## Side-by-side verdicts (imported runs)",
        "",
        "The same samples by the source harness's own verdicts and by skyeval's (pass@1, maj@n over the "
        "problems the source judged; `published`: the source's own metrics file).",
        "",
        to_markdown(tables.verdicts, ".4f"),
        "",
        "pass@k by both verdicts:",
        "",
        _pivot_md(
            tables.verdicts_pass_at_k.assign(label=lambda d: d["label"] + " · " + d["verdicts"]),
            "k",
            "pass@k",
        ),
        "",
        f"### Grader delta ({len(delta)} samples judged differently)",
        "",
    ]
    if delta.empty:
        return [*lines, "None: the source and skyeval agree on every sample.", ""]
    return [*lines, to_markdown(delta), ""]


def write_report(
    tables: ReportTables,
    out: Path,
    formats: Sequence[str] = FORMATS,
    *,
    compress: bool = True,
    completion_chars: int = COMPLETION_CHARS,
    progress: bool = False,
) -> list[Path]:
    """Write the requested formats into ``out``; returns the written files."""
    from skyeval.report.plots import add_caption, budget_plot, figure_svg, pass_at_k_plot, save_figure

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    image_formats = [f for f in ("png", "svg") if f in formats]
    figures: dict[str, list[InlineFigure]] = {"pass@k": [], "budget": []}
    images: list[Path] = []
    if image_formats or "html" in formats:
        for task in task_order(tables.runs):
            plots = [("pass@k", "passk", pass_at_k_plot(tables, task))]
            if tables.budget is not None:
                plots.append(("budget", "budget", budget_plot(tables, task)))
            for kind, stem, plot in plots:
                if "html" in formats:  # the page shows the caption as text under the figure
                    figures[kind].append(
                        InlineFigure(task, figure_svg(plot.figure), plot.caption, plot.warnings)
                    )
                if image_formats:  # a file carries its caption inside the image
                    add_caption(plot)
                    paths = save_figure(plot.figure, out / f"{stem}_{_slug(task)}", image_formats)
                    written += paths
                    images += [p for p in paths if p.suffix == ".png"] or [
                        p for p in paths if p.suffix == ".svg"
                    ]
    if "csv" in formats:
        frames = {
            "benchmark": tables.benchmark,
            "benchmark_wide": tables.benchmark_wide,
            "per_problem": tables.per_problem,
            "pass_at_k": tables.pass_at_k,
            "diversity": tables.diversity,
            "breakdown": tables.breakdown,
        }
        if tables.budget is not None:
            frames["budget"] = tables.budget
        if tables.comparison is not None:
            frames["comparison"] = tables.comparison.summary
            frames["solved_only_by_one"] = tables.comparison.unique
        if tables.verdicts is not None:
            frames["verdicts"] = tables.verdicts
        if tables.verdicts_pass_at_k is not None:
            frames["verdicts_pass_at_k"] = tables.verdicts_pass_at_k
        if tables.grader_delta is not None:
            frames["grader_delta"] = tables.grader_delta
        for name, df in frames.items():
            path = out / f"{name}.csv"
            df.to_csv(path, index=False)
            written.append(path)
    if "md" in formats:
        path = out / "report.md"
        path.write_text(markdown_report(tables, images), encoding="utf-8")
        written.append(path)
    if "html" in formats:
        path = out / "report.html"
        path.write_text(
            render_html(
                tables, figures, compress=compress, completion_chars=completion_chars, progress=progress
            ),
            encoding="utf-8",
        )
        written.append(path)
    return written
