"""The HTML report: MathML answers (converted at build time, checked, text where they cannot be rendered
faithfully), completeness marks, the Runs list's sampling, and the page for two runs loaded in headless Chromium
at 1280 px: no console errors, the expected table cells, problems in task order, rendered ``<math>`` in the
drill-down, no horizontal overflow. The screenshot goes to test-artifacts/report_html.png."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from testkit.browser import CHROMIUM, selftest
from testkit.synthetic import synthetic_run, write_run_dir

from skyeval import results
from skyeval.errors import MissingExtraError
from skyeval.report import ReportTables, build_tables, load_runs, write_report
from skyeval.report.html import clip_completion, drilldown_data, encode_data, fill_template, sampling_text
from skyeval.report.mathml import MAX_LATEX_CHARS, mathml_converter, to_mathml
from skyeval.types import RunConfig, SamplingParams

pytest.importorskip("pandas")
pytest.importorskip("matplotlib")
pytest.importorskip("latex2mathml")

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ALLOWED = {
    "math",
    "mrow",
    "mi",
    "mn",
    "mo",
    "ms",
    "mtext",
    "mspace",
    "msqrt",
    "mstyle",
    "menclose",
    "mpadded",
} | {
    "mphantom",
    "mtable",
    "mtr",
    "mtd",
    "none",
    "mfrac",
    "msup",
    "msub",
    "mroot",
    "munder",
    "mover",
    "msubsup",
    "munderover",
}
LONG_TASK = "file:/data/qwen25math_eval_rm_maj_example_math_cot_100_with_an_even_longer_name.jsonl"


def test_clip_completion_keeps_head_and_tail() -> None:
    text = "H" * 100 + "M" * 1000 + "T" * 300
    clipped = clip_completion(text, 400)
    assert clipped.startswith("H" * 100) and clipped.endswith("T" * 300)
    assert "1000 characters omitted" in clipped
    assert clip_completion(text, 0) == text and clip_completion("short", 400) == "short"


def test_plain_json_payload_cannot_close_the_script_tag() -> None:
    encoding, text = encode_data({"x": "</script><script>alert(1)</script>"}, compress=False)
    assert encoding == "json" and "</" not in text


# --- MathML ----------------------------------------------------------------------------------------------------


def test_mathml_renders_common_answers() -> None:
    assert to_mathml(r"\frac{1}{2}") == (
        '<math display="inline"><mrow><mfrac><mrow><mn>1</mn></mrow><mrow><mn>2</mn></mrow></mfrac></mrow></math>'
    )
    assert "<msqrt>" in str(to_mathml(r"3\sqrt{2}"))
    assert "<mi>π</mi>" in str(to_mathml(r"\dfrac{\pi}{4}"))
    assert "<mtext>4:30\xa0p.m.</mtext>" in str(to_mathml(r"\text{4:30 p.m.}"))
    assert "<mtable>" in str(to_mathml(r"\begin{pmatrix}1\\2\end{pmatrix}"))


@pytest.mark.parametrize(
    "latex",
    [
        r"\frac{1}",  # a fraction without denominator would render as a plain 1
        r"\foo{x}",  # a command the converter does not know is passed through as <mi>\foo</mi>
        "{",  # the converter raises
        "x^2^3",  # double superscript: the converter raises
        r"\color{red}{5}",  # colour attributes are not on the allow-list
        "a & b",  # a raw "&" in the converter's output: not well-formed
        r"\text{<img src=x onerror=alert(1)>}",
        "x" * (MAX_LATEX_CHARS + 1),  # bounded input
        "",
        "   ",
        None,
    ],
)
def test_mathml_falls_back_to_text(latex: str | None) -> None:
    assert to_mathml(latex) is None


def test_mathml_escapes_what_it_renders() -> None:
    out = str(to_mathml("<script>"))
    assert "<script" not in out and "<mo>&lt;</mo>" in out


def test_mathml_without_the_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "latex2mathml" else real(name)
    )
    with pytest.raises(MissingExtraError, match=r"pip install 'skyeval\[report\]'"):
        to_mathml("x")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.lists(
        st.sampled_from(
            [r"\frac", r"\sqrt", r"\text", r"\left(", r"\right)", r"\begin{matrix}", r"\end{matrix}", r"\\"]
            + list("{}^_&<>\"'$%#()[]=+-,. 0123xyz\\")
        ),
        max_size=40,
    ).map("".join)
)
def test_mathml_never_raises_and_emits_only_mathml(latex: str) -> None:
    out = to_mathml(latex)
    if out is None:
        return
    root = ET.fromstring(out)  # well-formed
    for node in root.iter():
        assert node.tag in ALLOWED, node.tag
        assert not any(a.startswith("on") or a in {"href", "src", "style"} for a in node.attrib)


def test_mathml_converter_converts_each_answer_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import latex2mathml.converter

    calls: list[str] = []
    real = latex2mathml.converter.convert

    def counted(latex: str) -> str:
        calls.append(latex)
        return real(latex)

    monkeypatch.setattr(latex2mathml.converter, "convert", counted)
    convert = mathml_converter()
    assert convert("x") == convert("x") and convert(None) is None
    assert calls == ["x"]


# --- page parts ------------------------------------------------------------------------------------------------


def test_sampling_shown_only_when_the_engine_made_the_completions() -> None:
    sampling = SamplingParams(n=8, temperature=0.6, top_p=0.95, max_tokens=4096)
    config = RunConfig("m", "math500", "hf", sampling, None, "{question}")
    assert sampling_text(config) == "n=8, T=0.6, top_p=0.95, max_tokens=4096"
    for engine in ("replay", "some-other-tool"):
        text = sampling_text(dataclasses.replace(config, engine=engine))
        assert "T=" not in text and "top_p=" not in text and "sampling unknown" in text and "n=8" in text


def test_template_placeholders_are_filled_once() -> None:
    assert fill_template("<p>%BODY%</p>", {"BODY": "%TITLE%"}) == "<p>%TITLE%</p>"
    with pytest.raises(KeyError):
        fill_template("%NOSUCH%", {})


# --- a report over two runs: one with LaTeX answers written in resumed order, one incomplete -----------------------


def _latex_run(path: Path) -> Path:
    """A synthetic run whose first problems have LaTeX golds and answers, its rows written out of task order (as a
    resumed run appends them)."""
    synthetic_run(
        path, model="org/model-a-with-a-rather-long-name", task=LONG_TASK, problems=60, samples=4, seed=1
    )
    data = results.read_run(path)
    answers = [
        r"\frac{1}{2}",
        r"\sqrt{2}",
        r"\frac{1}",
        "7" * 400,
    ]  # rendered, rendered, text, text (too long)
    long_gold = " + ".join(f"x_{{{i}}}^{{{i}}}" for i in range(20))  # MathML does not line-break
    rows = []
    for r in data.records:
        if r.problem_id == "p0000":
            a = answers[r.sample_index]
            r = dataclasses.replace(r, gold=r"\frac{1}{2}", extracted=a, correct=a == r"\frac{1}{2}")
        elif r.problem_id == "p0001":
            r = dataclasses.replace(r, gold=long_gold, extracted=long_gold, correct=True)
        rows.append(r)
    resumed = [r for r in rows if r.problem_id == "p0003"] + [r for r in rows if r.problem_id != "p0003"]
    return write_run_dir(path, data.config, resumed)


def _short_run(path: Path) -> Path:
    synthetic_run(path, model="org/model-b", task=LONG_TASK, problems=60, samples=4, accuracy=0.4, seed=2)
    data = results.read_run(path)
    return write_run_dir(path, data.config, list(data.records[:-10]))  # 10 of 240 samples missing


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> ReportTables:
    root = tmp_path_factory.mktemp("runs")
    return build_tables(load_runs([_latex_run(root / "a"), _short_run(root / "b")]), tokenizer="chars")


def test_drilldown_is_in_task_order_with_mathml(tables: ReportTables) -> None:
    data = drilldown_data(tables.runs, tables.per_problem, marks=tables.marks)
    run_a, run_b = data.index["runs"]
    assert [p[0] for p in run_a["problems"][:5]] == ["p0000", "p0001", "p0002", "p0003", "p0004"]
    assert run_a["problems"][0][8] == to_mathml(r"\frac{1}{2}") and run_a["problems"][2][8] == "<math " + (
        'display="inline"><mrow><mn>2</mn></mrow></math>'
    )
    first = data.chunks[0][0]
    assert [s[1] for s in first][:3] == [r"\frac{1}{2}", r"\sqrt{2}", r"\frac{1}"]
    assert first[0][8] is not None and first[1][8] is not None and first[2][8] is None and first[3][8] is None
    assert run_a["marks"] == "" and run_b["marks"] == "incomplete: 10 of 240 samples missing"


def test_html_marks_the_incomplete_run(tmp_path: Path, tables: ReportTables) -> None:
    write_report(tables, tmp_path, ["html"])
    page = (tmp_path / "report.html").read_text()
    warnings = page[page.index('<section id="warnings">') : page.index('<section id="runs">')]
    assert (
        "model-b · qwen25math_eval_rm_maj_example_math_cot_100_with_an_even_longer_name: incomplete, 10 of 240"
        in (warnings)
    )
    runs = page[page.index('<section id="runs">') : page.index('<section id="benchmark-section">')]
    assert runs.count('<span class="warn">incomplete: 10 of 240 samples missing</span>') == 1
    assert "sampling unknown" in runs and "T=0.6" not in runs  # synthetic runs are replays
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", page, re.S)
    assert len(captions) == 2  # pass@k and budget
    for caption in captions:
        assert '<li class="warn">model-b: incomplete: 10 of 240 samples missing</li>' in caption
        assert (
            "CI bands: 95% percentile bootstrap over problems in task order, 1000 resamples, seed 0"
            in caption
        )
    assert (
        "model-b (incomplete)" in page
    )  # the legends (SVG text is drawn as paths; matplotlib keeps the label)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent: apt-get install chromium")
@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "json"])
def test_html_report_in_headless_chromium(tmp_path: Path, tables: ReportTables, compress: bool) -> None:
    write_report(tables, tmp_path, ["html"], compress=compress)
    page = tmp_path / "report.html"
    html = page.read_text()
    assert re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", html) is None  # nothing to fetch
    shot = ARTIFACTS / "report_html.png"
    check = selftest(page, screenshot=shot if compress else None, window=(1280, 1600))
    result = check.result
    assert result["errors"] == [] and check.console == (), check.console
    assert result["ok"] is True
    expected = tables.benchmark_wide
    assert result["benchmark_header"] == expected.columns.tolist()
    assert result["benchmark_cells"] == expected.astype(str).values.tolist()
    assert result["svg_plots"] == 2  # pass@k and budget for the one task
    assert result["problem_rows"] == 50  # first page of 60 problems
    assert result["first_problem_ids"] == [f"p{i:04d}" for i in range(10)]  # task order, not file order
    assert result["expanded"] and result["sample_rows"] == 4 and result["completion_chars"] > 1000
    # MathML in the drill-down, laid out as math: every gold of the page, the two convertible answers of p0000
    assert result["math_gold"] == 50 and result["math_extracted"] == 2
    assert result["mfrac_stacked"] is True
    # no horizontal overflow at 1280 px, with the comparison table, long names and a long MathML gold on the page
    assert result["viewport_width"] == 1280
    assert result["scroll_width"] <= result["client_width"], result["overflowing"]
    if compress:
        assert shot.exists() and shot.stat().st_size > 50_000  # not a blank page


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent: apt-get install chromium")
def test_an_imported_run_shows_both_verdicts_and_the_grader_delta(tmp_path: Path) -> None:
    from skyeval.importers.runner import ImportOptions, import_run

    fixtures = Path(__file__).resolve().parent / "data" / "importers"
    result = import_run(
        ImportOptions((str(fixtures / "skythought" / "results.json"),), "skythought", "math500",
                      output_dir=str(tmp_path / "runs"), data_dir=str(fixtures / "data"), progress=False),
        log=lambda line: None,
    )  # fmt: skip
    tables = build_tables(load_runs([result.run_dir]), budget=False)
    write_report(tables, tmp_path / "report", ["html"])
    page = tmp_path / "report" / "report.html"
    assert "Side-by-side verdicts (imported runs)" in page.read_text()
    check = selftest(page)
    assert check.result["ok"] is True and check.console == (), check.console
    assert check.result["sample_header"][:5] == [
        "sample", "extracted answer", "verdict", "source's answer", "source's verdict"
    ]  # fmt: skip
    assert check.result["delta_problems"] == 1  # test/algebra/9003.json: "3, -3" right for skyeval only
