"""Plots of the report: pass@k curves and accuracy vs generation budget, one figure per task.

matplotlib (the ``report`` extra) is imported when a figure is drawn, with the Agg canvas and no pyplot (no
global figure state). Figures are written as PNG and SVG; ``figure_svg`` gives the SVG text the HTML inlines.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from skyeval.errors import require

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

IMAGE_FORMATS = ("png", "svg")


def _figure(title: str, xlabel: str, ylabel: str) -> Figure:
    require("matplotlib", extra="report", what="skyeval report plots")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 4.0), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title if len(title) <= 60 else title[:59] + "…", fontsize="medium")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    return fig


def _lines(fig: Figure, df: pd.DataFrame, x: str, y: str) -> None:
    from matplotlib.ticker import FixedLocator, NullLocator, PercentFormatter

    ax = fig.axes[0]
    xs: set[int] = set()
    for label, g in df.groupby("label", sort=False):
        g = g.sort_values(x)
        ax.plot(g[x], g[y], marker="o", markersize=4, label=str(label))
        xs.update(int(v) for v in g[x])
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(sorted(xs)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([_tick(v) for v in sorted(xs)])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(fontsize="small")


def _tick(value: int) -> str:
    return f"{value // 1024}k" if value >= 1024 and value % 1024 == 0 else str(value)


def pass_at_k_figure(pass_at_k: pd.DataFrame, task: str) -> Figure:
    """pass@k against k (log scale) for one task, one line per label."""
    fig = _figure(f"pass@k — {task}", "k (samples)", "pass@k")
    _lines(fig, pass_at_k[pass_at_k["task"] == task], "k", "pass@k")
    return fig


def budget_figure(budget: pd.DataFrame, task: str) -> Figure:
    """Accuracy if completions were cut at each token budget (log scale), one line per label."""
    df = budget[budget["task"] == task]
    methods = sorted(set(df["method"]))
    fig = _figure(f"accuracy vs budget — {task}", "generation budget (tokens)", "accuracy (mean pass@1)")
    _lines(fig, df, "budget", "accuracy")
    fig.axes[0].set_xlabel("generation budget (tokens)\ntoken cut: " + "; ".join(methods), fontsize="small")
    return fig


def figure_svg(fig: Figure) -> str:
    """The figure as SVG text without the XML prologue, ready to inline in HTML."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = IMAGE_FORMATS) -> list[Path]:
    """Write ``stem.png`` / ``stem.svg`` for the requested formats; returns the written paths."""
    out = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
        out.append(path)
    return out
