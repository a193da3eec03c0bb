"""The HTML report for two small runs, loaded in headless Chromium: no console errors, the expected table
cells, a drill-down row that expands. The screenshot goes to test-artifacts/report_html.png."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from testkit.browser import CHROMIUM, selftest
from testkit.synthetic import synthetic_run

from skyeval.report import build_tables, load_runs, write_report
from skyeval.report.html import clip_completion, encode_data

pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def test_clip_completion_keeps_head_and_tail() -> None:
    text = "H" * 100 + "M" * 1000 + "T" * 300
    clipped = clip_completion(text, 400)
    assert clipped.startswith("H" * 100) and clipped.endswith("T" * 300)
    assert "1000 characters omitted" in clipped
    assert clip_completion(text, 0) == text and clip_completion("short", 400) == "short"


def test_plain_json_payload_cannot_close_the_script_tag() -> None:
    encoding, text = encode_data({"x": "</script><script>alert(1)</script>"}, compress=False)
    assert encoding == "json" and "</" not in text


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("runs")
    a = synthetic_run(root / "a", model="org/model-a", problems=60, samples=4, seed=1)
    b = synthetic_run(root / "b", model="org/model-b", problems=60, samples=4, accuracy=0.4, seed=2)
    return build_tables(load_runs([a, b]), tokenizer="chars", resamples=200)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent: apt-get install chromium")
@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "json"])
def test_html_report_in_headless_chromium(tmp_path: Path, tables, compress: bool) -> None:  # type: ignore[no-untyped-def]
    write_report(tables, tmp_path, ["html"], compress=compress)
    page = tmp_path / "report.html"
    html = page.read_text()
    assert re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", html) is None  # nothing to fetch
    shot = ARTIFACTS / "report_html.png"
    check = selftest(page, screenshot=shot if compress else None)
    result = check.result
    assert result["errors"] == [] and check.console == (), check.console
    assert result["ok"] is True
    expected = tables.benchmark_wide
    assert result["benchmark_header"] == expected.columns.tolist()
    assert result["benchmark_cells"] == expected.astype(str).values.tolist()
    assert result["svg_plots"] == 2  # pass@k and budget for math500
    assert result["problem_rows"] == 50  # first page of 60 problems
    assert result["expanded"] and result["sample_rows"] == 4 and result["completion_chars"] > 1000
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
