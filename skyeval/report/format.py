"""How the report presents its tables: pandas on demand, column order, benchmark cells with their
completeness marks, Markdown, progress bars. Pure formatting over the tables' DataFrames."""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from skyeval.errors import require
from skyeval.report.load import Run

if TYPE_CHECKING:
    import pandas as pd

TASK_ORDER = ("aime24", "amc23", "math500", "olympiadbench")
AVERAGE = "average"


def pandas_module() -> ModuleType:
    """pandas (the ``report`` extra), or a one-line error with its ``pip install`` hint."""
    require("pandas", extra="report", what="skyeval report")
    return importlib.import_module("pandas")


def task_order(runs: Sequence[Run]) -> list[str]:
    """Tasks in the benchmark table's column order: the paper's four first, then the others as given."""
    seen = list(dict.fromkeys(r.task for r in runs))
    return [t for t in TASK_ORDER if t in seen] + [t for t in seen if t not in TASK_ORDER]


def label_order(runs: Sequence[Run]) -> list[str]:
    return list(dict.fromkeys(r.label for r in runs))


def progress_bar(total: int, desc: str, enabled: bool) -> Any:
    """A tqdm bar on stderr that leaves no line behind (``enabled=False``: silent)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="sample", disable=not enabled, leave=False)


def cell_marks(complete: bool, missing: int, expected: int, same_problems: bool) -> str:
    """What a benchmark cell must say beside its number: incompleteness and a differing problem set."""
    marks = []
    if not complete:
        marks.append(f"incomplete: {missing} of {expected} samples missing")
    if not same_problems:
        marks.append("problem sets differ")
    return f" ({'; '.join(marks)})" if marks else ""


def row_marks(row: Mapping[str, Any]) -> str:
    """``cell_marks`` of one row of the long benchmark table (its completeness columns)."""
    return cell_marks(
        bool(row["complete"]),
        int(row["missing_samples"]),
        int(row["expected_samples"]),
        bool(row["same_problems"]),
    )


def run_marks(bench: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(label, task) -> ``cell_marks`` of each benchmark row that needs a mark, without the parentheses."""
    out = {}
    for r in bench.to_dict("records"):
        marks = row_marks(r)
        if marks:
            out[(str(r["label"]), str(r["task"]))] = marks.strip(" ()")
    return out


def format_cell(mean: float, lo: float, hi: float, n: int, marks: str = "") -> str:
    """``45.2 [41.0, 49.5] n=500`` in percent, then ``marks`` (``cell_marks``); ``—`` when missing."""
    if math.isnan(mean):
        return "—"
    return f"{100 * mean:.1f} [{100 * lo:.1f}, {100 * hi:.1f}] n={n}{marks}"


def benchmark_wide(bench: pd.DataFrame, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """The headline table: rows = labels, columns = tasks then ``average``, cells formatted by ``format_cell``
    and marked when a run is incomplete or compared runs cover different problem sets."""
    pd = pandas_module()
    tasks = list(tasks) if tasks is not None else [t for t in dict.fromkeys(bench["task"]) if t != AVERAGE]
    columns = tasks + ([AVERAGE] if AVERAGE in set(bench["task"]) else [])
    rows = []
    for label, df in bench.groupby("label", sort=False):
        cells = {}
        for r in df.to_dict("records"):
            marks = row_marks(r)
            cells[r["task"]] = format_cell(r["pass@1"], r["ci_lo"], r["ci_hi"], int(r["n_problems"]), marks)
        rows.append({"model": label, **{t: cells.get(t, "—") for t in columns}})
    return pd.DataFrame(rows, columns=["model", *columns])


def benchmark_details(bench: pd.DataFrame) -> pd.DataFrame:
    """The benchmark table for people, one row per run: pass@1 with CI, maj@n, truncation, mean response
    tokens and samples present of expected, with the cell marks."""
    pd = pandas_module()
    rows = []
    for r in bench[bench["task"] != AVERAGE].to_dict("records"):
        rows.append(
            {
                "model": r["label"],
                "task": r["task"],
                "pass@1 %": format_cell(r["pass@1"], r["ci_lo"], r["ci_hi"], int(r["n_problems"])),
                "maj@n %": _percent(r["maj@n"]),
                "truncated %": _percent(r["truncation_rate"]),
                "incomplete reasoning %": _percent(r["incomplete_reasoning_rate"]),
                "mean response tokens": "—"
                if math.isnan(r["mean_response_tokens"])
                else f"{r['mean_response_tokens']:.0f}",
                "samples": f"{r['n_samples']}/{r['expected_samples']}",
                "status": row_marks(r).strip(" ()") or "complete",
            }
        )
    return pd.DataFrame(rows)


def _percent(value: float) -> str:
    return "—" if math.isnan(value) else f"{100 * value:.1f}"


def breakdown_wide(breakdown: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    """Per (task, field): rows = field values (natural order), one column per label with ``pass@1 % (n=problems)``."""
    pd = pandas_module()
    out = {}
    for (task, name), df in breakdown.groupby(["task", "field"], sort=False):
        values = list(dict.fromkeys(df["value"]))
        labels = list(dict.fromkeys(df["label"]))
        cells = {
            (r["value"], r["label"]): f"{100 * r['pass@1']:.1f} (n={r['problems']})" for _, r in df.iterrows()
        }
        rows = [{name: v, **{str(lab): cells.get((v, lab), "—") for lab in labels}} for v in values]
        out[(str(task), str(name))] = pd.DataFrame(rows, columns=[name, *map(str, labels)])
    return out


# --- formatting --------------------------------------------------------------------------------------------------


def _fmt(value: Any, floatfmt: str) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else format(value, floatfmt)
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """A GitHub-flavoured Markdown table (no ``tabulate`` needed)."""
    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(_fmt(v, floatfmt) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *body])
