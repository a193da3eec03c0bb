"""``skyeval run`` / ``score`` / ``tasks`` through the CLI, including the replay of published generations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from skyeval.cli import main

GENERATIONS = "generations/qwen25math_eval_rm_maj_example_math_cot_100.jsonl"


def _summary(out_dir: Path) -> dict:
    (path,) = out_dir.glob("*/*/*/summary.json")
    return json.loads(path.read_text())


def test_replay_published_generations(shared_dir: Path, tmp_path: Path) -> None:
    """Its labels imply mean accuracy 0.910 and pass@8 0.96; idx 3's 8 correct responses are mislabelled False.

    Our grader may differ from the source's on a few responses, so the margin is the label error (8/800 = 0.01
    on accuracy, 1/100 on pass@8) plus a little for exact-verdict differences.
    """
    path = shared_dir / GENERATIONS
    result = CliRunner().invoke(
        main,
        [
            "run", "--engine", "replay", "--task", f"file:{path}", "--id-field", "idx", "--gold-field", "answer",
            "-E", "response_field=code", "--samples", "8", "--output-dir", str(tmp_path), "--no-progress",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    s = _summary(tmp_path)
    assert s["samples"] == 800 and s["problems"] == 100
    assert abs(s["pass@1"] - 0.910) <= 0.015, s["pass@1"]
    assert abs(s["pass@k"]["8"] - 0.96) <= 0.025, s["pass@k"]
    (samples,) = tmp_path.glob("*/*/*/samples.jsonl")
    idx3 = [
        json.loads(line) for line in samples.read_text().splitlines() if json.loads(line)["problem_id"] == "3"
    ]
    assert len(idx3) == 8


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
