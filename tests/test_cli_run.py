"""``skyeval run`` / ``score`` / ``tasks`` through the CLI, including the replay of published generations."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from skyeval import results
from skyeval.cli import main

GENERATIONS = "generations/qwen25math_eval_rm_maj_example_math_cot_100.jsonl"


def _run_dir(out_dir: Path) -> Path:
    (path,) = out_dir.glob("*/*/*/summary.json")
    return path.parent


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_replay_published_generations_run_score_and_report_agree(shared_dir: Path, tmp_path: Path) -> None:
    """The Qwen2.5-Math example, 100 problems x 8: our grader gives pass@1 0.92125 (737 of 800) exactly.

    Its labels imply 0.910; idx 3's 8 correct responses are mislabelled False by the source. ``run``, ``score``
    and ``report`` must print and write the same numbers: pass@1, its CI, pass@k, maj@8 and the breakdown by
    level (a ``--meta-field``, recorded in config.json, so ``score`` keeps it).
    """
    path = shared_dir / GENERATIONS
    result = CliRunner().invoke(
        main,
        [
            "run", "--engine", "replay", "--task", f"file:{path}", "--id-field", "idx", "--gold-field", "answer",
            "--meta-field", "level", "-E", "response_field=code", "--samples", "8", "--output-dir", str(tmp_path),
            "--no-progress",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run_dir = _run_dir(tmp_path)
    s = results.read_summary(run_dir)
    sc = s.scores
    assert sc is not None and s.samples == 800 and s.problems == 100 and s.complete
    assert sc.pass_at_1 == 0.92125 and sc.reasons == {"equal": 737, "not_equal": 63}
    assert (sc.ci95.lo, sc.ci95.hi) == (0.87375, 0.95875) and sc.ci95.canonical
    assert sc.pass_at_k[8] == 0.98 and sc.maj_at_n == 0.94
    assert [(v, g.problems) for v, g in sc.by["level"].items()] == [
        ("Level 1", 11), ("Level 2", 16), ("Level 3", 24), ("Level 4", 24), ("Level 5", 25),
    ]  # fmt: skip
    assert "pass@1=0.9213 (95% CI 0.874-0.959)" in result.output and "maj@8=0.940" in result.output
    idx3 = [r for r in results.read_samples(run_dir) if r.problem_id == "3"]
    assert len(idx3) == 8 and all(r.correct for r in idx3)  # the source's label error

    scored = CliRunner().invoke(main, ["score", str(run_dir), "--no-progress"])
    assert scored.exit_code == 0 and scored.output.splitlines()[0] == result.output.splitlines()[0]
    assert results.read_summary(run_dir) == s  # the by block survives (D1)

    out = tmp_path / "report"
    reported = CliRunner().invoke(
        main, ["report", str(run_dir), "--out", str(out), "--no-budget", "--format", "md,csv"]
    )
    assert reported.exit_code == 0, reported.output
    assert "92.1 [87.4, 95.9] n=100" in reported.output
    (bench,) = _csv(out / "benchmark.csv")
    assert float(bench["pass@1"]) == sc.pass_at_1 and (float(bench["ci_lo"]), float(bench["ci_hi"])) == (
        sc.ci95.lo,
        sc.ci95.hi,
    )
    assert (
        float(bench["maj@n"]) == sc.maj_at_n
        and bench["complete"] == "True"
        and bench["missing_samples"] == "0"
    )
    assert {int(r["k"]): float(r["pass@k"]) for r in _csv(out / "pass_at_k.csv")} == dict(sc.pass_at_k)
    assert {r["value"]: (int(r["problems"]), float(r["pass@1"])) for r in _csv(out / "breakdown.csv")} == {
        v: (g.problems, g.pass_at_1) for v, g in sc.by["level"].items()
    }
    (div,) = _csv(out / "diversity.csv")
    assert float(div["maj@n"]) == sc.maj_at_n and float(div["pass@1"]) == sc.pass_at_1


def test_a_short_run_is_marked_by_score(tmp_path: Path) -> None:
    gens = tmp_path / "gens.jsonl"
    rows = [{"id": str(i), "q": f"{i}?", "gold": str(i), "outs": [f"\\boxed{{{i}}}"] * 4} for i in range(3)]
    gens.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = [
        "run", "--engine", "replay", "--task", f"file:{gens}", "--id-field", "id", "--question-field", "q",
        "--gold-field", "gold", "-E", "response_field=outs", "--samples", "4", "-o", str(tmp_path / "runs"),
        "--no-progress",
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0 and "INCOMPLETE" not in result.output
    run_dir = _run_dir(tmp_path / "runs")
    kept = [r for r in results.read_samples(run_dir) if r.problem_id != "0" or r.sample_index == 0]
    results.rewrite_samples(run_dir, kept)  # as if stopped: problem 0 has 1 of 4 samples
    scored = CliRunner().invoke(main, ["score", str(run_dir), "--no-progress"])
    assert scored.exit_code == 0 and "INCOMPLETE: 3 of 12 samples missing" in scored.output
    summary = results.read_summary(run_dir)
    assert not summary.complete and summary.missing == 3 and summary.problems_complete == 2


def test_tasks_lists_defaults(shared_dir: Path) -> None:
    result = CliRunner().invoke(main, ["tasks", "--data-dir", str(shared_dir / "data")])
    assert result.exit_code == 0
    assert "math500" in result.output and "rows= 500" in result.output and "T=0.6" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--model", "m", "--task", "aime23"], "unknown task 'aime23'; known tasks: aime24"),
        (["run", "--model", "./no/such/model", "--task", "aime24", "--engine", "hf"], "model path not found"),
        (["run", "--model", "m", "--task", "aime24", "--engine", "nope"], "unknown engine 'nope'"),
        (["run", "--task", "aime24"], "--model is required"),
        (["score", "/no/such/run"], "not a run directory"),
        (["tasks", "--data-dir", "/no/such/dir"], "data dir not found: /no/such/dir"),
        (["score", "/no/such/run", "--grade-timeout", "-1"], "--grade-timeout must be > 0"),
        (["run", "--model", "m", "--task", "aime24", "--temperature", "-1"], "--temperature must be >= 0"),
        (["run", "--model", "m", "--task", "aime24", "--top-p", "1.5"], "--top-p must be in (0, 1]"),
        (["run", "--model", "m", "--task", "aime24", "--max-tokens", "0"], "--max-tokens must be >= 1"),
        (["run", "--model", "m", "--task", "aime24", "--samples", "0"], "--samples must be >= 1"),
        (["run", "--model", "m", "--task", "aime24", "--grade-timeout", "0"], "--grade-timeout must be > 0"),
        (
            ["run", "-m", "m", "--task", "aime24", "-e", "hf", "-E", "bogus=1"],
            "does not take option(s) bogus",
        ),
        (["run", "-m", "m", "--task", "aime24", "-e", "openai", "-E", "concurrency=abc"], "must be int like"),
        (["run", "-m", "m", "--task", "aime24", "-e", "openai", "-E", "use_n=1"], "must be bool like"),
        (["run", "-m", "m", "--task", "aime24", "--gold-field", "gt"], "apply to file:PATH tasks only"),
        (
            ["run", "--task", "aime24", "--engine", "replay"],
            "engine 'replay' needs option(s) path (-E path=...)",
        ),
    ],
)
def test_one_line_errors(args: list[str], message: str, shared_dir: Path, tmp_path: Path) -> None:
    extra = (
        ["--data-dir", str(shared_dir / "data"), "--output-dir", str(tmp_path)] if args[0] == "run" else []
    )
    result = CliRunner().invoke(main, [*args, *extra])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0


def test_server_down_exits_nonzero(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "amc23.jsonl").write_text('{"id": 0, "problem": "p?", "answer": 1.0}\n')
    result = CliRunner().invoke(
        main,
        [
            "run", "-m", "m", "--task", "amc23", "--base-url", "http://127.0.0.1:9/v1", "--data-dir", str(data),
            "-E", "max_retries=0", "--output-dir", str(tmp_path / "runs"), "--no-progress",
        ],
    )  # fmt: skip
    assert result.exit_code == 2 and "server http://127.0.0.1:9/v1 not reachable" in result.output
    assert not (tmp_path / "runs").exists()  # the preflight probe fails before any run directory exists


def test_unwritable_output_dir_is_one_line(shared_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    args = ["run", "-m", "m", "--task", "aime24", "--base-url", "http://127.0.0.1:9/v1", "-E", "probe=false"]
    args += ["--data-dir", str(shared_dir / "data"), "-o", str(blocker)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "cannot write run directory" in result.output
    assert "Traceback" not in result.output and result.output.strip().count("\n") == 0
