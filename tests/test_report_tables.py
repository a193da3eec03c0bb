"""Loading run directories, the report tables on hand-made runs, completeness marks, and the ``skyeval report``
CLI (``--strict`` included)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from testkit.synthetic import make_record, synthetic_run, write_run_dir

from skyeval import results
from skyeval.errors import SkyevalError
from skyeval.report import (
    benchmark_table,
    benchmark_wide,
    breakdown_table,
    build_tables,
    compare_runs,
    comparison_pairs,
    diversity_table,
    load_run,
    load_runs,
    pass_at_k_table,
    per_problem_table,
    score_runs,
    to_markdown,
)
from skyeval.report.format import breakdown_wide
from skyeval.summary import summarize_run
from skyeval.types import RunConfig, SampleRecord, SamplingParams

pytest.importorskip("pandas")


def exact(a: str, b: str) -> bool:
    return a == b


def make_run(
    path: Path,
    model: str,
    task: str,
    verdicts: dict[str, list[bool]],
    meta: dict[str, dict[str, str]] | None = None,
    problem_ids: tuple[str, ...] = (),
) -> Path:
    """A run whose problem ``pid`` has one sample per verdict; correct ones answer the gold ``1``."""
    records = [
        SampleRecord(
            problem_id=pid,
            sample_index=j,
            prompt=f"question {pid}",
            completion=f"work \\boxed{{{1 if ok else 2}}}",
            finish_reason="stop",
            prompt_tokens=3,
            completion_tokens=4,
            gold="1",
            extracted="1" if ok else "2",
            correct=ok,
            reason="equal" if ok else "not_equal",
            meta=(meta or {}).get(pid, {}),
        )
        for pid, vs in verdicts.items()
        for j, ok in enumerate(vs)
    ]
    config = RunConfig(
        model=model,
        task=task,
        engine="replay",
        sampling=SamplingParams(n=4, max_tokens=2048),
        system_prompt=None,
        prompt_template="{question}",
        problems=len(problem_ids) if problem_ids else None,
        problem_ids=problem_ids,
        meta_fields=("level", "subject") if meta else (),
    )
    return write_run_dir(path, config, records)


T, F = True, False


@pytest.fixture
def two_runs(tmp_path: Path) -> list[Path]:
    meta = {
        "p1": {"level": "Level 1", "subject": "Algebra"},
        "p2": {"level": "Level 5", "subject": "Algebra"},
    }
    a = make_run(tmp_path / "a", "org/model-a", "math500", {"p1": [T, T, T, T], "p2": [T, F, F, F]}, meta)
    b = make_run(tmp_path / "b", "org/model-b", "math500", {"p1": [T, F, F, F], "p2": [F, F, F, F]}, meta)
    return [a, b]


# --- loading ---


def test_load_skips_torn_last_line_and_keeps_first_duplicate(two_runs: list[Path]) -> None:
    samples = two_runs[0] / "samples.jsonl"
    rows = samples.read_text().splitlines()
    redo = json.loads(rows[4]) | {"correct": False, "extracted": "9"}
    samples.write_text("\n".join([*rows, json.dumps(redo)]) + "\n" + rows[0][:25])
    run = load_run(two_runs[0])
    assert run.torn_last_line and run.duplicates == 1 and len(run.records) == 8
    assert len(run.notes) == 2 and run.label == "model-a"
    assert [r.extracted for r in run.records if r.problem_id == "p2" and r.sample_index == 0] == ["1"]


def test_a_repeated_row_gets_the_same_verdict_everywhere(tmp_path: Path) -> None:
    """A correct row, then a wrong one, for ("0", 0): ``run`` (resuming), ``score`` and ``report`` all keep the
    first (what the resumed run counted as done), so every one of them reads pass@1 1.0."""
    from skyeval.cli import main
    from skyeval.runner import RunOptions, run
    from skyeval.tasks import FieldMap

    gens = tmp_path / "gens.jsonl"
    gens.write_text(json.dumps({"id": "0", "q": "1 + 0?", "gold": "1", "outs": ["so \\boxed{1}"]}) + "\n")
    options = RunOptions(
        model="replay:gens", task=f"file:{gens}", engine="replay", engine_options={"response_field": "outs"},
        samples=1, output_dir=str(tmp_path / "runs"), fields=FieldMap(question="q", gold="gold", id="id"),
        progress=False,
    )  # fmt: skip
    path = run(options).run_dir
    (first,) = results.read_samples(path)
    wrong = SampleRecord.from_json(first.to_json() | {"completion": "so \\boxed{2}", "extracted": "2"})
    wrong = SampleRecord.from_json(wrong.to_json() | {"correct": False, "reason": "not_equal"})
    with (path / "samples.jsonl").open("a") as fh:
        fh.write(json.dumps(wrong.to_json()) + "\n")
    resumed = run(options).summary
    tables = build_tables(load_runs([path]), budget=False)
    assert resumed.scores is not None and resumed.scores.pass_at_1 == 1.0 and resumed.duplicates == 1
    assert tables.summaries[0] == resumed and tables.benchmark["pass@1"].tolist() == [1.0]
    assert "kept the first" in load_run(path).notes[0]
    result = CliRunner().invoke(main, ["score", str(path), "--no-progress"])
    assert result.exit_code == 0 and "pass@1=1.0000" in result.output and "1 repeated rows" in result.output
    assert results.read_summary(path) == resumed
    assert results.read_samples(path) == [first]  # score rewrote one row per key: the first


def test_load_errors_are_user_facing(tmp_path: Path, two_runs: list[Path]) -> None:
    with pytest.raises(SkyevalError, match="not a run directory"):
        load_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SkyevalError, match="no config.json"):
        load_run(tmp_path / "empty")
    samples = two_runs[1] / "samples.jsonl"
    rows = samples.read_text().splitlines()
    samples.write_text("\n".join([rows[0], "{not json", *rows[1:]]) + "\n")
    with pytest.raises(SkyevalError, match=r"samples.jsonl:2: malformed"):
        load_run(two_runs[1])
    with pytest.raises(SkyevalError, match="both 'model-a'"):
        load_runs([two_runs[0], two_runs[0]])
    with pytest.raises(SkyevalError, match="labels"):
        load_runs(two_runs, ["only-one"])


# --- tables ---


def test_tables_hand_computed(two_runs: list[Path]) -> None:
    runs = load_runs(two_runs)
    scored = score_runs(runs, same=exact)
    pp = per_problem_table(scored)
    assert pp["pass@1"].tolist() == [1.0, 0.25, 0.25, 0.0]
    bench = benchmark_table(scored)
    assert bench["pass@1"].tolist() == [0.625, 0.125]
    assert bench["complete"].tolist() == [True, True] and bench["missing_samples"].tolist() == [0, 0]
    assert bench["maj@n"].tolist() == [0.5, 0.0] and bench["truncation_rate"].tolist() == [0.0, 0.0]
    assert bench["mean_response_tokens"].tolist() == [4.0, 4.0]
    assert bench["n_problems"].tolist() == [2, 2] and bench["n_samples"].tolist() == [8, 8]
    assert (bench["ci_lo"] <= bench["pass@1"]).all() and (bench["pass@1"] <= bench["ci_hi"]).all()
    wide = benchmark_wide(bench)
    assert wide.columns.tolist() == ["model", "math500"]
    assert wide["math500"].tolist()[0].startswith("62.5 [") and wide["math500"].tolist()[0].endswith("n=2")
    pk = pass_at_k_table(scored)
    a = pk[pk["label"] == "model-a"].set_index("k")["pass@k"]
    # p2 (n=4, c=1): pass@2 = 1 - C(3,2)/C(4,2) = 0.5, pass@4 = 1
    assert a.to_dict() == {1: 0.625, 2: 0.75, 4: 1.0}
    div = diversity_table(pp).set_index("label")
    assert div.loc["model-a", "mean_answers"] == 1.5  # p1: {1}, p2: {1, 2}
    assert div.loc["model-b", "no_answer_rate"] == 0.0
    assert div["maj@n"].tolist() == [0.5, 0.0]  # a: p1 votes 1 (gold), p2 votes 2; b: both vote 2
    bd = breakdown_table(scored)
    lvl = bd[(bd["field"] == "level") & (bd["label"] == "model-a")].set_index("value")["pass@1"]
    assert lvl.to_dict() == {"Level 1": 1.0, "Level 5": 0.25}
    wide_level = breakdown_wide(bd)[("math500", "level")]
    assert wide_level.values.tolist() == [
        ["Level 1", "100.0 (n=1)", "25.0 (n=1)"],
        ["Level 5", "25.0 (n=1)", "0.0 (n=1)"],
    ]
    assert "| model | math500 |" in to_markdown(wide)


def test_paired_comparison_and_unique_solves(two_runs: list[Path]) -> None:
    runs = load_runs(two_runs)
    pairs = comparison_pairs(runs)
    assert [(a.label, b.label) for a, b in pairs] == [("model-b", "model-a")]
    cmp = compare_runs(comparison_pairs(runs, [("model-a", "model-b")]))
    row = cmp.summary.iloc[0]
    assert row["diff"] == 0.5 and row["shared_problems"] == 2
    assert row["solved_only_by_a"] == 1 and row["solved_only_by_b"] == 0
    assert cmp.unique["problem_id"].tolist() == ["p2"]
    with pytest.raises(SkyevalError, match="no run labelled"):
        comparison_pairs(runs, [("model-a", "nope")])


def test_average_needs_every_task(tmp_path: Path, two_runs: list[Path]) -> None:
    extra = make_run(tmp_path / "c", "org/model-a", "aime24", {"q1": [T, F], "q2": [F, F]})
    tables = build_tables(load_runs([*two_runs, extra]), same=exact, tokenizer="chars")
    wide = tables.benchmark_wide.set_index("model")
    assert wide.columns.tolist() == ["aime24", "math500", "average"]
    assert wide.loc["model-a", "average"].startswith("43.8 [")  # (0.625 + 0.25) / 2
    assert wide.loc["model-b", "average"] == "—" and wide.loc["model-b", "aime24"] == "—"
    assert tables.budget is not None and set(tables.budget["budget"]) == {1024, 2048}


def test_budget_table_on_synthetic_run(tmp_path: Path) -> None:
    path = synthetic_run(tmp_path / "s", problems=6, samples=4, completion_chars=6000, max_tokens=4096)
    tables = build_tables(load_runs([path]), tokenizer="chars")
    assert tables.budget is not None
    acc = tables.budget.set_index("budget")["accuracy"]
    # answers sit at the end of 1500-token completions: none fits 1k, all fit 2k and the final budget
    assert acc[1024] == 0.0 and acc[2048] == acc[4096] == tables.benchmark["pass@1"].iloc[0]
    assert tables.budget["method"].iloc[0].startswith("approximate: 4.00 chars/token")


# --- CLI ---


def test_cli_writes_every_format(tmp_path: Path, two_runs: list[Path]) -> None:
    from skyeval.cli import main

    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "report",
            *map(str, two_runs),
            "--out",
            str(out),
            "--tokenizer",
            "chars",
            "--label",
            "A",
            "--label",
            "B",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "| A |" in result.output and "B − A" in result.output
    names = {p.name for p in out.iterdir()}
    assert {"report.md", "report.html", "benchmark.csv", "per_problem.csv", "comparison.csv"} <= names
    assert {"passk_math500.png", "passk_math500.svg", "budget_math500.png"} <= names
    assert "![passk_math500](passk_math500.png)" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "md,pdf"], "unknown report format"),
        (["--compare", "A", "Z"], "no run labelled 'Z'"),
    ],
)
def test_cli_bad_input_is_one_line(
    tmp_path: Path, two_runs: list[Path], args: list[str], message: str
) -> None:
    from skyeval.cli import main

    argv = [
        "report",
        *map(str, two_runs),
        "--label",
        "A",
        "--label",
        "B",
        "--no-budget",
        "--out",
        str(tmp_path / "o"),
    ]
    result = CliRunner().invoke(main, [*argv, *args])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output
    missing = CliRunner().invoke(main, ["report", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and missing.output.startswith("error:")


def test_import_stays_light() -> None:
    code = "import sys, skyeval.report, skyeval.cli; print(sorted({'pandas','matplotlib','sympy','torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_report_covers_what_the_runs_summary_covers() -> None:
    """After ``--limit`` or a lower ``--samples``, the report keeps to the run's own scope, like its summary."""
    from dataclasses import replace as _replace

    from skyeval.summary import in_scope

    records = [make_record(problem_id=p, sample_index=i) for p in ("a", "b", "c") for i in range(4)]
    config = RunConfig("m", "t", "hf", SamplingParams(n=2), None, "{question}")
    assert {(r.problem_id, r.sample_index) for r in in_scope(records, config)} == {
        (p, i) for p in "abc" for i in range(2)
    }
    limited = _replace(config, limit=2, problem_ids=("a", "b"))
    assert {r.problem_id for r in in_scope(records, limited)} == {"a", "b"}


# --- completeness ---


@pytest.fixture
def short_runs(tmp_path: Path) -> list[Path]:
    """Run a covers p1..p3 completely; run b is stopped short: p2 has 1 of 4 samples and p3 none."""
    ids = ("p1", "p2", "p3")
    a = make_run(
        tmp_path / "a",
        "org/model-a",
        "math500",
        {"p1": [T] * 4, "p2": [F] * 4, "p3": [T, F, T, F]},
        problem_ids=ids,
    )
    b = make_run(tmp_path / "b", "org/model-b", "math500", {"p1": [T, T, F, F], "p2": [T]}, problem_ids=ids)
    return [a, b]


def test_a_short_run_is_marked_in_md_and_csv(tmp_path: Path, short_runs: list[Path]) -> None:
    from skyeval.report import write_report

    runs = load_runs(short_runs)
    assert [r.missing for r in runs] == [0, 7]
    tables = build_tables(runs, same=exact, budget=False)
    row = tables.benchmark.set_index("label").loc["model-b"]
    assert not row["complete"] and row["missing_samples"] == 7 and row["expected_samples"] == 12
    assert row["problems"] == 3 and row["n_problems"] == 2
    cell = tables.benchmark_wide.set_index("model").loc["model-b", "math500"]
    assert cell.endswith("n=2 (incomplete: 7 of 12 samples missing)"), cell
    assert tables.benchmark_wide.set_index("model").loc["model-a", "math500"].endswith("n=3")
    written = write_report(tables, tmp_path / "out", ["md", "csv"])
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Warnings" in md and "model-b · math500: incomplete, 7 of 12 samples missing" in md
    assert "n=2 (incomplete: 7 of 12 samples missing)" in md
    import csv

    with (tmp_path / "out" / "benchmark.csv").open() as fh:
        bench = {r["label"]: r for r in csv.DictReader(fh)}
    assert bench["model-b"]["complete"] == "False" and bench["model-b"]["missing_samples"] == "7"
    assert bench["model-a"]["complete"] == "True" and bench["model-a"]["missing_samples"] == "0"
    with (tmp_path / "out" / "benchmark_wide.csv").open() as fh:
        assert "incomplete: 7 of 12 samples missing" in fh.read()
    assert tmp_path / "out" / "per_problem.csv" in written


def test_compared_cells_over_different_problem_sets_are_marked(tmp_path: Path) -> None:
    a = make_run(
        tmp_path / "a", "org/model-a", "math500", {"p1": [T] * 4, "p2": [F] * 4}, problem_ids=("p1", "p2")
    )
    b = make_run(
        tmp_path / "b", "org/model-b", "math500", {"p1": [T] * 4, "p3": [T] * 4}, problem_ids=("p1", "p3")
    )
    tables = build_tables(load_runs([a, b]), same=exact, budget=False)
    assert tables.benchmark["same_problems"].tolist() == [False, False]
    assert all(c.endswith("(problem sets differ)") for c in tables.benchmark_wide["math500"])
    assert any("different problem sets" in w for w in tables.warnings())


def test_problems_are_in_task_order(tmp_path: Path) -> None:
    """A resumed run appends problems out of order; tables and the CI follow the task's order."""
    ids = ("p0", "p1", "p2", "p3", "p4", "p5")
    verdicts = {pid: [i % 2 == 0] * 4 for i, pid in enumerate(ids)}
    shuffled = {pid: verdicts[pid] for pid in ("p1", "p2", "p3", "p4", "p0", "p5")}
    path = make_run(tmp_path / "r", "org/m", "math500", shuffled, problem_ids=ids)
    tables = build_tables(load_runs([path]), same=exact, budget=False)
    assert tables.per_problem["problem_id"].tolist() == list(ids)
    config = results.read_config(path)
    assert tables.summaries[0] == summarize_run(results.read_samples(path), config, same=exact)


@pytest.mark.parametrize("strict", [True, False])
def test_cli_strict_refuses_short_runs_without_writing(
    tmp_path: Path, short_runs: list[Path], strict: bool
) -> None:
    from skyeval.cli import main

    out = tmp_path / "out"
    args = [
        "report",
        *map(str, short_runs),
        "--out",
        str(out),
        "--no-budget",
        "--format",
        "md,csv",
        "--no-progress",
    ]
    result = CliRunner().invoke(main, [*args, *(["--strict"] if strict else [])])
    if strict:
        assert (
            result.exit_code == 2
            and "--strict" in result.output
            and "7 of 12 samples missing" in result.output
        )
        assert "Traceback" not in result.output and result.output.strip().count("\n") == 0
        assert not out.exists()
    else:
        assert result.exit_code == 0, result.output
        assert "incomplete: 7 of 12 samples missing" in result.output
        assert (out / "report.md").is_file()


def test_cli_labels_a_non_canonical_ci(tmp_path: Path, two_runs: list[Path]) -> None:
    from skyeval.cli import main

    argv = ["report", *map(str, two_runs), "--out", str(tmp_path / "o"), "--no-budget", "--format", "md"]
    default = CliRunner().invoke(main, [*argv, "--no-progress"])
    other = CliRunner().invoke(main, [*argv, "--resamples", "200", "--seed", "3", "--no-progress"])
    assert "1000 resamples, seed 0, as in summary.json" in default.output
    assert "200 resamples, seed 3; NOT the 1000 resamples, seed 0 of summary.json" in other.output
    assert "NOT the 1000 resamples" in (tmp_path / "o" / "report.md").read_text()
