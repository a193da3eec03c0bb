"""The self-contained HTML report: tables, inline SVG plots and a lazy per-problem drill-down.

One file, no network at view time. A small JSON index (one row per problem) is read at load; each problem's
samples sit in their own ``<script>`` chunk, gzip-compressed and base64-encoded (decoded with the browser's
``DecompressionStream``) or plain JSON with ``compress=False``, and are decoded only when a reader expands that
problem. The drill-down builds DOM only for the visible page of problems, so a 500 problems x 32 samples run
stays responsive. Opening the file with ``#selftest``
appended runs a self-check (expand the first problem and its first completion) and writes the result as JSON
into ``<pre id="selftest-result">``; the Chromium test and ``benchmarks/bench_report.py`` read it from the DOM.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from skyeval.report.load import Run, problems
from skyeval.report.tables import breakdown_wide

if TYPE_CHECKING:
    import pandas as pd

    from skyeval.report.tables import ReportTables


COMPLETION_CHARS = 6000


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

    ``index`` = ``{"runs": [{"label", "task", "problems": [[id, gold, prompt, meta, n_answers, entropy, c, n,
    delta]]}]}`` (``delta``: samples on which an imported run's source and skyeval disagree); ``chunks[r][i]`` =
    problem i of run r's samples, each ``[index, extracted, correct, reason, completion_tokens, finish_reason,
    completion, chars, source_extracted, source_correct]`` with the completion clipped to ``completion_chars``
    (see ``clip_completion``), ``chars`` its full length and the source's fields null for a generated run.
    """

    index: dict[str, Any]
    chunks: list[list[list[list[Any]]]]


def drilldown_data(
    runs: Sequence[Run], per_problem: pd.DataFrame, completion_chars: int = COMPLETION_CHARS
) -> DrilldownData:
    """Collect the drill-down's index and per-problem sample chunks (see ``DrilldownData``)."""
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
            rows.append([p.problem_id, p.gold, p.prompt, meta, n_answers, entropy, p.c, p.n, delta])
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
                        s.source_extracted,
                        s.source_correct,
                    ]
                    for s in p.samples
                ]
            )
        index.append({"label": run.label, "task": run.task, "problems": rows})
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
    return str(
        df.to_html(
            index=False,
            table_id=table_id,
            classes="grid",
            na_rep="—",
            float_format=floatfmt.format,
            border=0,
            escape=True,
        )
    )


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>\n{body}\n</section>'


def _runs_list(runs: Sequence[Run]) -> str:
    items = []
    for r in runs:
        s = r.config.sampling
        notes = "".join(f' <span class="warn">{html.escape(n)}</span>' for n in r.notes)
        items.append(
            f"<li><b>{html.escape(r.label)}</b> · {html.escape(r.task)} · model {html.escape(r.config.model)} · "
            f"engine {html.escape(r.config.engine)} · n={s.n}, T={s.temperature}, top_p={s.top_p}, "
            f"max_tokens={s.max_tokens} · <code>{html.escape(str(r.path))}</code>{notes}</li>"
        )
    return "<ul>" + "\n".join(items) + "</ul>"


def render_html(
    tables: ReportTables,
    svgs: Mapping[str, Sequence[tuple[str, str]]],
    *,
    title: str = "skyeval report",
    compress: bool = True,
    completion_chars: int = COMPLETION_CHARS,
    progress: bool = False,
) -> str:
    """The whole report page. ``svgs`` maps a plot kind ("pass@k", "budget") to (task, svg text) pairs."""
    parts = [_section("Runs", _runs_list(tables.runs), "runs")]
    parts.append(
        _section(
            "Benchmark (mean pass@1 %, 95% bootstrap CI, n problems)",
            _table(tables.benchmark_wide, "benchmark"),
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
    plots = "".join(f'<figure class="plot">{svg}</figure>' for _, svg in svgs.get("pass@k", ()))
    parts.append(
        _section("pass@k", plots + _details_table(tables.pass_at_k, "pass@k values", "passk"), "passk")
    )
    if tables.budget is not None:
        plots = "".join(f'<figure class="plot">{svg}</figure>' for _, svg in svgs.get("budget", ()))
        parts.append(
            _section(
                "Accuracy vs generation budget",
                plots + _details_table(tables.budget, "budget values", "budget"),
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
    parts.append(_section("Problems", _DRILLDOWN, "problems"))
    payload = _data_scripts(
        drilldown_data(tables.runs, tables.per_problem, completion_chars), compress, progress
    )
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head, rest = _PAGE.split("%BODY%")
    middle, tail = rest.split("%PAYLOAD%")
    head = head.replace("%GENERATED%", generated).replace("%TITLE%", html.escape(title))
    return head + "\n".join(parts) + middle + payload + tail


def _details_table(df: pd.DataFrame, summary: str, table_id: str) -> str:
    return f"<details><summary>{html.escape(summary)}</summary>{_table(df, table_id)}</details>"


_DRILLDOWN = """<div id="dd-controls">
<label>run <select id="dd-run"></select></label>
<label>show <select id="dd-filter">
<option value="all">all problems</option><option value="unsolved">unsolved (no correct sample)</option>
<option value="mixed">mixed (some samples wrong)</option><option value="wrong">any wrong sample</option>
<option value="delta">grader delta (source and skyeval disagree)</option>
</select></label>
<label>search <input id="dd-search" type="search" placeholder="id, gold or text"></label>
<span id="dd-pager"><button id="dd-prev">&lt;</button> <span id="dd-page"></span> <button id="dd-next">&gt;</button></span>
</div>
<div id="dd-status">loading…</div>
<table class="grid" id="dd-table"><thead><tr><th>problem</th><th>gold</th><th>correct</th>
<th>distinct answers</th><th>entropy (bits)</th><th>meta</th></tr></thead><tbody></tbody></table>"""

_PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>%TITLE%</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222}
h1{margin-bottom:0}.sub{color:#666;margin-top:.2em}
table.grid{border-collapse:collapse;margin:.5em 0;font-size:13px}
table.grid th,table.grid td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
table.grid th{background:#f4f4f4}
figure.plot{display:inline-block;margin:.3em;max-width:48%}figure.plot svg{width:100%;height:auto}
.warn{color:#a60}.ok{color:#070;font-weight:600}.bad{color:#b00;font-weight:600}
#dd-controls label{margin-right:1em}#dd-status{color:#666;margin:.4em 0}
tr.prob{cursor:pointer}tr.prob:hover{background:#f7f7ff}tr.open{background:#eef}
td.detail{background:#fafafa}pre{white-space:pre-wrap;word-break:break-word;max-height:30em;overflow:auto;
background:#fff;border:1px solid #eee;padding:.5em;font-size:12px}
code{font-size:12px}
</style></head>
<body>
<h1>%TITLE%</h1><p class="sub">generated %GENERATED% by skyeval report</p>
%BODY%
<pre id="selftest-result" hidden></pre>
%PAYLOAD%
<script>
"use strict";
(function () {
  const errors = [];
  window.addEventListener("error", (e) => errors.push(String(e.message || e)));
  window.addEventListener("unhandledrejection", (e) => errors.push("unhandled: " + String(e.reason)));
  const PAGE = 50;
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  };
  const state = { data: null, run: 0, page: 0, rows: [] };
  const cache = new Map();

  async function chunk(run, i) {
    const key = run + "-" + i;
    if (cache.has(key)) return cache.get(key);
    const node = $("c" + key);
    let value;
    if (node.dataset.encoding === "json") {
      value = JSON.parse(node.textContent);
    } else {
      if (typeof DecompressionStream === "undefined") {
        throw new Error("this browser lacks DecompressionStream; re-run skyeval report with --no-compress");
      }
      const bin = atob(node.textContent);
      const bytes = new Uint8Array(bin.length);
      for (let k = 0; k < bin.length; k++) bytes[k] = bin.charCodeAt(k);
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
      value = JSON.parse(await new Response(stream).text());
    }
    cache.set(key, value);
    return value;
  }

  function filtered() {
    const probs = state.data.runs[state.run].problems;
    const mode = $("dd-filter").value;
    const q = $("dd-search").value.trim().toLowerCase();
    const out = [];
    probs.forEach((p, i) => {
      const c = p[6], n = p[7];
      if (mode === "unsolved" && c > 0) return;
      if (mode === "mixed" && (c === 0 || c === n)) return;
      if (mode === "wrong" && c === n) return;
      if (mode === "delta" && !(p[8] > 0)) return;
      if (q && !(String(p[0]) + "\n" + p[1] + "\n" + p[2]).toLowerCase().includes(q)) return;
      out.push(i);
    });
    return out;
  }

  function sampleTable(samples) {
    const t = el("table", null, "grid samples");
    const head = el("tr");
    const imported = samples.some((s) => s[9] !== null && s[9] !== undefined);
    const cols = ["sample", "extracted answer", "verdict"];
    if (imported) cols.push("source's answer", "source's verdict");
    for (const h of [...cols, "tokens", "finish", "completion"]) head.append(el("th", h));
    t.append(head);
    for (const s of samples) {
      const tr = el("tr", null, "sample");
      tr.append(el("td", s[0]), el("td", s[1] === null ? "(no answer)" : s[1]));
      tr.append(el("td", s[2] ? "correct" : "wrong (" + s[3] + ")", s[2] ? "ok" : "bad"));
      if (imported) {
        tr.append(el("td", s[8] === null ? "(not recorded)" : s[8]));
        const same = s[9] === null || Boolean(s[9]) === Boolean(s[2]);
        tr.append(el("td", s[9] === null ? "?" : (s[9] ? "correct" : "wrong") + (same ? "" : " (differs)"),
          s[9] === null ? "" : (s[9] ? "ok" : "bad")));
      }
      tr.append(el("td", s[4] === null ? "?" : s[4]), el("td", s[5]));
      const d = el("details");
      d.append(el("summary", s[7] + " chars" + (s[7] > s[6].length ? " (middle clipped)" : "")));
      d.addEventListener("toggle", () => {
        if (d.open && d.children.length === 1) d.append(el("pre", s[6]));
      });
      const cell = el("td");
      cell.append(d);
      tr.append(cell);
      t.append(tr);
    }
    return t;
  }

  async function expand(tr, run, i) {
    const p = state.data.runs[run].problems[i];
    const td = el("td", null, "detail");
    td.colSpan = 6;
    td.append(el("b", "prompt"), el("pre", p[2]));
    const holder = el("div", "loading samples…");
    td.append(holder);
    const row = el("tr", null, "detail-row");
    row.append(td);
    tr.after(row);
    tr.classList.add("open");
    holder.replaceChildren(sampleTable(await chunk(run, i)));
  }

  function render() {
    const body = $("dd-table").tBodies[0];
    body.replaceChildren();
    const rows = state.rows;
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    $("dd-page").textContent = "page " + (state.page + 1) + " / " + pages;
    const run = state.run, probs = state.data.runs[run].problems;
    $("dd-status").textContent = rows.length + " of " + probs.length + " problems; click a row to expand";
    for (const i of rows.slice(state.page * PAGE, (state.page + 1) * PAGE)) {
      const p = probs[i];
      const tr = el("tr", null, "prob");
      tr.append(el("td", p[0]), el("td", p[1]), el("td", p[6] + "/" + p[7]), el("td", p[4]), el("td", p[5]), el("td", p[3]));
      tr.addEventListener("click", () => {
        const next = tr.nextElementSibling;
        if (next && next.classList.contains("detail-row")) { next.remove(); tr.classList.remove("open"); return; }
        expand(tr, run, i).catch(report);
      });
      body.append(tr);
    }
  }

  function refresh() { state.rows = filtered(); render(); }

  function report(e) {
    errors.push(String(e && e.message ? e.message : e));
    $("dd-status").textContent = "error: " + errors[errors.length - 1];
  }

  async function main() {
    state.data = JSON.parse($("dd-index").textContent);
    const sel = $("dd-run");
    state.data.runs.forEach((r, i) => sel.append(new Option(r.label + " · " + r.task, String(i))));
    sel.addEventListener("change", () => { state.run = Number(sel.value); state.page = 0; refresh(); });
    $("dd-filter").addEventListener("change", () => { state.page = 0; refresh(); });
    $("dd-search").addEventListener("input", () => { state.page = 0; refresh(); });
    $("dd-prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); render(); });
    $("dd-next").addEventListener("click", () => { state.page += 1; render(); });
    refresh();
    const readyMs = performance.now();
    if (location.hash === "#selftest") await selftest(readyMs);
  }

  async function selftest(readyMs) {
    const result = { ready_ms: Math.round(readyMs), errors };
    result.benchmark_header = [...document.querySelectorAll("#benchmark th")].map((c) => c.textContent.trim());
    result.benchmark_cells = [...document.querySelectorAll("#benchmark tbody tr")].map(
      (r) => [...r.cells].map((c) => c.textContent.trim()));
    result.svg_plots = document.querySelectorAll("figure.plot svg").length;
    result.problem_rows = document.querySelectorAll("#dd-table tr.prob").length;
    const first = document.querySelector("#dd-table tr.prob");
    const t0 = performance.now();
    if (first) await expand(first, state.run, state.rows[0]);
    result.expand_ms = Math.round(performance.now() - t0);
    // Show the expanded drill-down at the top, where a screenshot of the first viewport sees it.
    document.querySelector("p.sub").after($("problems"));
    result.expanded = !!document.querySelector("#dd-table tr.detail-row");
    result.sample_rows = document.querySelectorAll("#dd-table tr.detail-row tr.sample").length;
    const d = document.querySelector("#dd-table tr.detail-row details");
    if (d) { d.open = true; d.dispatchEvent(new Event("toggle")); }
    const pre = document.querySelector("#dd-table tr.detail-row details pre");
    result.completion_chars = pre ? pre.textContent.length : 0;
    result.sample_header = [...document.querySelectorAll("#dd-table tr.detail-row table.samples th")].map(
      (c) => c.textContent);
    const mode = $("dd-filter"), kept = mode.value;
    mode.value = "delta";
    result.delta_problems = filtered().length;  // problems on which an imported run's source and skyeval differ
    mode.value = kept;
    result.ok = errors.length === 0 && result.expanded && result.sample_rows > 0 && result.completion_chars > 0;
    const out = $("selftest-result");
    out.textContent = JSON.stringify(result);
    out.hidden = false;
  }

  main().catch((e) => {
    errors.push(String(e && e.message ? e.message : e));
    $("dd-status").textContent = "error: " + errors[errors.length - 1];
    const out = $("selftest-result");
    out.textContent = JSON.stringify({ ok: false, errors });
    out.hidden = false;
  });
})();
</script>
</body></html>
"""
