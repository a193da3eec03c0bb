"""The self-contained HTML report: tables, inline SVG plots and a lazy per-problem drill-down.

One file, no network at view time. The page itself (CSS, drill-down markup, script) is the package-data template
``template.html``; this module fills in the sections and the data. A small JSON index (one row per problem,
problems in task order) is read at load; each problem's samples sit in their own ``<script>`` chunk,
gzip-compressed and base64-encoded (decoded with the browser's ``DecompressionStream``) or plain JSON with
``compress=False``, and are decoded only when a reader expands that problem. The drill-down builds DOM only for
the visible page of problems, so a 500 problems x 32 samples run stays responsive. Gold and extracted answers
carry their MathML (``skyeval.report.mathml``, converted here, at build time). Opening the file with
``#selftest`` appended runs a self-check (expand the first problem and its first completion, measure the page's
width and the rendered math) and writes the result as JSON into ``<pre id="selftest-result">``; the Chromium
test and ``benchmarks/bench_report.py`` read it from the DOM.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from typing import TYPE_CHECKING, Any

from skyeval.engines import ENGINES
from skyeval.report.format import benchmark_details
from skyeval.report.load import Run, problems
from skyeval.report.mathml import mathml_converter
from skyeval.report.tables import breakdown_wide
from skyeval.types import RunConfig

if TYPE_CHECKING:
    import pandas as pd

    from skyeval.report.tables import ReportTables


COMPLETION_CHARS = 6000
TEMPLATE = "template.html"


@dataclass(frozen=True)
class InlineFigure:
    """A plot for the page: its SVG text and the caption lines shown under it (``warnings`` highlighted)."""

    task: str
    svg: str
    caption: tuple[str, ...]
    warnings: tuple[str, ...] = ()


def clip_completion(text: str, limit: int) -> str:
    """Keep the first quarter and the last three quarters of ``limit`` characters (the answer is at the end),
    with a visible marker saying how much was left out; ``limit <= 0`` keeps everything."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head
    omitted = len(text) - head - tail
    return (
        f"{text[:head]}\n[… {omitted} characters omitted here; full text in samples.jsonl …]\n{text[-tail:]}"
    )


@dataclass(frozen=True)
class DrilldownData:
    """The drill-down's data: a small index read at load, and one samples chunk per problem read on expand.

    ``index`` = ``{"runs": [{"label", "task", "marks", "problems": [[id, gold, prompt, meta, n_answers, entropy,
    c, n, gold_mathml]]}]}`` with problems in task order and ``marks`` the run's completeness marks ("" when
    complete over the same problems as its peers); ``chunks[r][i]`` = problem i of run r's samples, each
    ``[index, extracted, correct, reason, completion_tokens, finish_reason, completion, chars, extracted_mathml]``
    with the completion clipped to ``completion_chars`` (see ``clip_completion``), ``chars`` its full length, and
    a ``*_mathml`` None where the answer is shown as text (``skyeval.report.mathml.to_mathml``).
    """

    index: dict[str, Any]
    chunks: list[list[list[list[Any]]]]


def drilldown_data(
    runs: Sequence[Run],
    per_problem: pd.DataFrame,
    completion_chars: int = COMPLETION_CHARS,
    marks: Mapping[tuple[str, str], str] | None = None,
    to_mathml: Callable[[str | None], str | None] | None = None,
) -> DrilldownData:
    """Collect the drill-down's index and per-problem sample chunks (see ``DrilldownData``); ``marks`` maps
    (label, task) to the run's completeness marks."""
    convert = to_mathml or mathml_converter()
    stats = {
        (r["label"], r["task"], r["problem_id"]): (int(r["n_answers"]), round(float(r["entropy_bits"]), 3))
        for r in per_problem[["label", "task", "problem_id", "n_answers", "entropy_bits"]].to_dict("records")
    }
    index, chunks = [], []
    for run in runs:
        rows, run_chunks = [], []
        for p in problems(run):
            n_answers, entropy = stats[(run.label, run.task, p.problem_id)]
            meta = ", ".join(f"{k}: {v}" for k, v in p.meta.items() if isinstance(v, str | int | float))
            delta = sum(s.source_correct is not None and s.source_correct != s.correct for s in p.samples)
            rows.append(
                [p.problem_id, p.gold, p.prompt, meta, n_answers, entropy, p.c, p.n, convert(p.gold), delta]
            )
            run_chunks.append(
                [
                    [
                        s.sample_index,
                        s.extracted,
                        int(s.correct),
                        s.reason,
                        s.completion_tokens,
                        s.finish_reason,
                        clip_completion(s.completion, completion_chars),
                        len(s.completion),
                        convert(s.extracted),
                        s.source_extracted,
                        s.source_correct,
                    ]
                    for s in p.samples
                ]
            )
        mark = (marks or {}).get((run.label, run.task), "")
        index.append({"label": run.label, "task": run.task, "marks": mark, "problems": rows})
        chunks.append(run_chunks)
    return DrilldownData({"runs": index}, chunks)


def encode_data(data: Any, compress: bool) -> tuple[str, str]:
    """(encoding, text) for a data ``<script>``: ``gzip+base64`` or ``json`` (with ``<`` escaped)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if compress:
        packed = gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0)
        return "gzip+base64", base64.b64encode(packed).decode("ascii")
    return "json", text.replace("<", "\\u003c")


def _data_scripts(data: DrilldownData, compress: bool, progress: bool = False) -> str:
    from tqdm import tqdm

    _, index = encode_data(data.index, compress=False)
    parts = [f'<script type="application/json" id="dd-index">{index}</script>']
    total = sum(len(c) for c in data.chunks)
    bar = tqdm(total=total, desc="html drill-down", unit="problem", disable=not progress, leave=False)
    for r, run_chunks in enumerate(data.chunks):
        for i, chunk in enumerate(run_chunks):
            bar.update(1)
            encoding, text = encode_data(chunk, compress)
            parts.append(
                f'<script type="application/octet-stream" id="c{r}-{i}" data-encoding="{encoding}">{text}</script>'
            )
    bar.close()
    return "\n".join(parts)


def _table(df: pd.DataFrame, table_id: str, floatfmt: str = "{:.3f}") -> str:
    """A DataFrame as an HTML table inside a ``.wide`` box (a table too wide scrolls in the box, not the page),
    with a line-break opportunity after each ``_`` of its text (long task and column names)."""
    table = df.to_html(
        index=False,
        table_id=table_id,
        classes="grid",
        na_rep="—",
        float_format=floatfmt.format,
        border=0,
        escape=True,
    )
    return f'<div class="wide">{_BETWEEN_TAGS.sub(_break_underscores, table)}</div>'


_BETWEEN_TAGS = re.compile(r">([^<]+)<")


def _break_underscores(match: re.Match[str]) -> str:
    return ">" + match.group(1).replace("_", "_<wbr>") + "<"


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>\n{body}\n</section>'


def sampling_text(config: RunConfig) -> str:
    """The Runs list's sampling settings; for an engine that replays completions made elsewhere (or one this
    version does not know) T and top_p are not how they were made, so they are not shown as if they were."""
    s = config.sampling
    spec = ENGINES.get(config.engine)
    if spec is None or not spec.decodes:
        return f"n={s.n}, sampling unknown (replayed completions: T and top_p not recorded), max_tokens={s.max_tokens}"
    return f"n={s.n}, T={s.temperature}, top_p={s.top_p}, max_tokens={s.max_tokens}"


def _runs_list(runs: Sequence[Run], marks: Mapping[tuple[str, str], str]) -> str:
    items = []
    for r in runs:
        mark = marks.get((r.label, r.task), "")
        notes = [n for n in r.notes if n not in mark]  # an "incomplete: ..." note is said once, by the mark
        warn = "".join(
            f' <span class="warn">{html.escape(n)}</span>' for n in ([mark] if mark else []) + notes
        )
        items.append(
            f"<li><b>{html.escape(r.label)}</b> · {html.escape(r.task)} · model {html.escape(r.config.model)} · "
            f"engine {html.escape(r.config.engine)} · {html.escape(sampling_text(r.config))} · "
            f"<code>{html.escape(str(r.path))}</code>{warn}</li>"
        )
    return "<ul>" + "\n".join(items) + "</ul>"


def _figures(figures: Sequence[InlineFigure]) -> str:
    out = []
    for f in figures:
        lines = "".join(
            f'<li class="warn">{html.escape(c)}</li>' if c in f.warnings else f"<li>{html.escape(c)}</li>"
            for c in f.caption
        )
        out.append(f'<figure class="plot">{f.svg}<figcaption><ul>{lines}</ul></figcaption></figure>')
    return "".join(out)


def render_html(
    tables: ReportTables,
    figures: Mapping[str, Sequence[InlineFigure]],
    *,
    title: str = "skyeval report",
    compress: bool = True,
    completion_chars: int = COMPLETION_CHARS,
    progress: bool = False,
) -> str:
    """The whole report page. ``figures`` maps a plot kind ("pass@k", "budget") to its figures, in task order."""
    marks = tables.marks
    parts = []
    warnings = tables.warnings()
    if warnings:
        items = "".join(f'<li class="warn">{html.escape(w)}</li>' for w in warnings)
        parts.append(_section("Warnings", f"<ul>{items}</ul>", "warnings"))
    parts.append(_section("Runs", _runs_list(tables.runs, marks), "runs"))
    parts.append(
        _section(
            "Benchmark (mean pass@1 %, 95% bootstrap CI, n problems)",
            _table(tables.benchmark_wide, "benchmark")
            + f'<p class="sub">CI: {html.escape(tables.ci_note)}. Per run:</p>'
            + _table(benchmark_details(tables.benchmark), "benchmark-details"),
            "benchmark-section",
        )
    )
    if tables.comparison is not None:
        body = _table(tables.comparison.summary, "comparison")
        if not tables.comparison.unique.empty:
            body += (
                "<details><summary>problems solved by only one run "
                f"({len(tables.comparison.unique)})</summary>{_table(tables.comparison.unique, 'unique')}</details>"
            )
        parts.append(_section("Paired comparison (A − B, paired bootstrap CI)", body, "comparison-section"))
    if tables.verdicts is not None and tables.grader_delta is not None:
        body = _table(tables.verdicts, "verdicts", "{:.4f}")
        if tables.verdicts_pass_at_k is not None:
            body += _details_table(tables.verdicts_pass_at_k, "pass@k by both verdicts", "verdicts-passk")
        body += _details_table(
            tables.grader_delta,
            f"grader delta: {len(tables.grader_delta)} samples judged differently",
            "delta",
        )
        parts.append(_section("Side-by-side verdicts (imported runs)", body, "verdicts-section"))
    parts.append(
        _section(
            "pass@k",
            _figures(figures.get("pass@k", ())) + _details_table(tables.pass_at_k, "pass@k values", "passk"),
            "passk",
        )
    )
    if tables.budget is not None:
        parts.append(
            _section(
                "Accuracy vs generation budget",
                _figures(figures.get("budget", ()))
                + _details_table(tables.budget, "budget values", "budget"),
                "budget-section",
            )
        )
    parts.append(
        _section("Diversity of final answers", _table(tables.diversity, "diversity"), "diversity-section")
    )
    if not tables.breakdown.empty:
        body = "".join(
            f"<h3>{html.escape(task)} by {html.escape(field)}</h3>" + _table(df, f"breakdown-{task}-{field}")
            for (task, field), df in breakdown_wide(tables.breakdown).items()
        )
        parts.append(_section("Breakdowns (mean pass@1 %, n problems)", body, "breakdown-section"))
    data = drilldown_data(tables.runs, tables.per_problem, completion_chars, marks)
    values = {
        "TITLE": html.escape(title),
        "GENERATED": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "BODY": "\n".join(parts),
        "PAYLOAD": _data_scripts(data, compress, progress),
    }
    return fill_template(page_template(), values)


def page_template() -> str:
    """The page (``template.html``, package data of ``skyeval.report``)."""
    return resources.files("skyeval.report").joinpath(TEMPLATE).read_text(encoding="utf-8")


def fill_template(template: str, values: Mapping[str, str]) -> str:
    """Replace each ``%NAME%`` of ``values`` in one pass (inserted text is never scanned for placeholders);
    a placeholder without a value is an error, so the template and this module cannot drift apart silently."""

    def value(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return re.sub(r"%([A-Z]+)%", value, template)


def _details_table(df: pd.DataFrame, summary: str, table_id: str) -> str:
    return f"<details><summary>{html.escape(summary)}</summary>{_table(df, table_id)}</details>"
