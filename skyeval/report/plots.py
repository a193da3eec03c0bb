"""Plots of the report: pass@k curves and accuracy vs generation budget, one figure per task.

Every value drawn is a table's (``ReportTables.pass_at_k`` / ``.budget`` with their bootstrap ``ci_lo``/``ci_hi``
and ``.benchmark``'s completeness columns); nothing is computed here. For honest figures: the accuracy axis is
always 0-100%, each curve carries its CI band, a curve of one point is drawn as a point with its CI whisker and
said so, curves that coincide keep distinct markers and line styles and are named in the caption, a run that is
incomplete or covers other problems is marked in the legend and the caption, and titles wrap instead of being
cut. matplotlib (the ``report`` extra) is imported when a figure is drawn, with the Agg canvas and no pyplot (no
global figure state). Files are PNG at ``PNG_DPI`` and SVG; ``figure_svg`` gives the SVG text the HTML inlines.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyeval.errors import require

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from skyeval.report.tables import ReportTables

IMAGE_FORMATS = ("png", "svg")
PNG_DPI = 200
FIGSIZE = (6.4, 4.4)  # inches: 1280 x 880 px at PNG_DPI
TITLE_CHARS = 56
CAPTION_CHARS = 110
# (marker, line style) per curve, in order; coinciding curves stay apart by shape, fill, size and dash.
_STYLES = (("o", "-"), ("s", "--"), ("^", "-."), ("D", ":"), ("v", "-"), ("P", "--"), ("X", "-."), ("*", ":"))


@dataclass(frozen=True)
class Plot:
    """A figure without its caption, and the caption's lines (drawn into the image files by ``add_caption``;
    the HTML shows them as a ``<figcaption>``). ``warnings`` are the lines about incomplete runs and differing
    problem sets, also among ``caption``."""

    figure: Figure
    caption: tuple[str, ...]
    warnings: tuple[str, ...]


def wrap_title(title: str, width: int = TITLE_CHARS) -> str:
    """``title`` on lines of at most ``width`` characters, never cut short: broken at spaces, and a word longer
    than a line (a long task name) after its ``_``, ``-`` or ``/``, or at ``width`` when it has none."""
    lines = []
    for line in textwrap.wrap(title, width, break_long_words=False, break_on_hyphens=False) or [""]:
        lines += _split_word(line, width) if len(line) > width else [line]
    return "\n".join(lines)


def _split_word(word: str, width: int) -> list[str]:
    lines, line = [], ""
    for piece in (p for p in re.split(r"(?<=[_/-])", word) if p):
        while len(piece) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(piece[:width])
            piece = piece[width:]
        if line and len(line) + len(piece) > width:
            lines.append(line)
            line = ""
        line += piece
    return [*lines, line] if line else lines


def _legend_label(label: str, marks: str) -> str:
    short = [
        word for key, word in (("incomplete", "incomplete"), ("differ", "other problems")) if key in marks
    ]
    return f"{label} ({', '.join(short)})" if short else label


def _figure(title: str, xlabel: str, ylabel: str) -> Figure:
    require("matplotlib", extra="report", what="skyeval report plots")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(wrap_title(title), fontsize="medium")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    return fig


def _curves(
    fig: Figure, df: pd.DataFrame, x: str, y: str, marks: Mapping[str, str], single: str
) -> tuple[list[str], list[str]]:
    """Draw one curve per label with its CI band; returns (notes on one-point curves, notes on coinciding
    curves). ``single`` says why a curve can have one point."""
    from matplotlib.ticker import FixedLocator, NullLocator, PercentFormatter

    ax = fig.axes[0]
    xs: set[int] = set()
    seen: dict[tuple[tuple[float, float], ...], list[str]] = {}
    points: list[str] = []
    for i, (label, g) in enumerate(df.groupby("label", sort=False)):
        g = g.sort_values(x)
        name = str(label)
        marker, dash = _STYLES[i % len(_STYLES)]
        style: dict[str, Any] = {
            "color": f"C{i % 10}",
            "marker": marker,
            "markersize": 8.0 - 1.5 * (i % 3),  # a smaller marker drawn over a larger one stays visible
            "markerfacecolor": "none" if i % 2 else f"C{i % 10}",
            "alpha": 0.85,
            "label": _legend_label(name, marks.get(name, "")),
            "clip_on": False,  # points at 0% or 100% are drawn whole
            "zorder": 3 + i,
        }
        vx, vy = list(g[x]), list(g[y])
        lo, hi = list(g["ci_lo"]), list(g["ci_hi"])
        if len(vx) == 1:
            err = [[max(0.0, vy[0] - lo[0])], [max(0.0, hi[0] - vy[0])]]
            ax.errorbar(vx, vy, yerr=err, linestyle="none", capsize=4, **style)
            points.append(f"{name}: one point only ({single}); the whisker is its CI")
        else:
            ax.plot(vx, vy, linestyle=dash, linewidth=1.5, **style)
            ax.fill_between(vx, lo, hi, color=style["color"], alpha=0.12, linewidth=0)
        xs.update(int(v) for v in vx)
        key = tuple((float(a), round(float(b), 12)) for a, b in zip(vx, vy, strict=True))
        seen.setdefault(key, []).append(name)
    ticks = sorted(xs)
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([_tick(v) for v in ticks])
    if ticks and ticks[0] == ticks[-1]:
        ax.set_xlim(ticks[0] / 1.5, ticks[0] * 1.5)
    ax.set_ylim(0.0, 1.0)
    ax.yaxis.set_major_locator(FixedLocator([0.0, 0.2, 0.4, 0.6, 0.8, 1.0]))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(fontsize="small", loc="best")
    same = [" = ".join(names) for names in seen.values() if len(names) > 1]
    return points, [f"identical curves (told apart by marker and dash): {s}" for s in same]


def _tick(value: int) -> str:
    return f"{value // 1024}k" if value >= 1024 and value % 1024 == 0 else str(value)


def _plot(
    fig: Figure,
    tables: ReportTables,
    df: pd.DataFrame,
    task: str,
    x: str,
    y: str,
    single: str,
    extra: list[str],
) -> Plot:
    marks = {label: m for (label, t), m in tables.marks.items() if t == task}
    points, same = _curves(fig, df, x, y, marks, single)
    warnings = tuple(f"{label}: {m}" for label, m in marks.items())
    caption = (f"CI bands: {tables.ci_note}", *warnings, *points, *same, *extra)
    return Plot(fig, caption, warnings)


def pass_at_k_plot(tables: ReportTables, task: str) -> Plot:
    """pass@k against k (log scale) for one task, one curve per run with its bootstrap band."""
    fig = _figure(f"pass@k — {task}", "k (samples)", "pass@k")
    df = tables.pass_at_k[tables.pass_at_k["task"] == task]
    return _plot(fig, tables, df, task, "k", "pass@k", "1 sample per problem: k = 1 only", [])


def budget_plot(tables: ReportTables, task: str) -> Plot:
    """Accuracy if completions were cut at each token budget (log scale), one curve per run with its band."""
    if tables.budget is None:
        raise ValueError("the report was built without the budget analysis")
    df = tables.budget[tables.budget["task"] == task]
    fig = _figure(f"accuracy vs budget — {task}", "generation budget (tokens)", "accuracy (mean pass@1)")
    methods = [f"token cut: {m}" for m in dict.fromkeys(df["method"])]
    return _plot(fig, tables, df, task, "budget", "accuracy", "max_tokens ≤ --min-budget", methods)


def add_caption(plot: Plot) -> None:
    """Draw the caption into the figure, under the axes (for the PNG and SVG files)."""
    lines = [
        part for line in plot.caption for part in textwrap.wrap(line, CAPTION_CHARS, subsequent_indent="  ")
    ]
    plot.figure.supxlabel("\n".join(lines), x=0.01, ha="left", fontsize=7, multialignment="left")


def figure_svg(fig: Figure) -> str:
    """The figure as SVG text without the XML prologue, ready to inline in HTML."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = IMAGE_FORMATS) -> list[Path]:
    """Write ``stem.png`` (at ``PNG_DPI``) / ``stem.svg`` for the requested formats; returns the written paths."""
    out = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        if fmt == "svg":
            fig.savefig(path, format="svg", metadata={"Date": None})
        else:
            fig.savefig(path, format=fmt, dpi=PNG_DPI)
        out.append(path)
    return out
