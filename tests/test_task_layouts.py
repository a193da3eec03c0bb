"""Local task layouts: minerva_math reads the Qwen2.5-Math harness's own file (gold = last ``\\boxed{}`` of the
solution), and a file in no known layout fails its own task, in one line, while the rest of the dir loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from skyeval.cli import main
from skyeval.errors import SkyevalError
from skyeval.tasks import get_task, load_task


def test_minerva_reads_the_harness_layout(shared_dir: Path) -> None:
    task = load_task(get_task("minerva_math"), shared_dir / "minerva")
    rows = [
        json.loads(line) for line in (shared_dir / "minerva" / "minerva_math.jsonl").read_text().splitlines()
    ]
    assert task.layout == "qwen-harness" and len(task.problems) == 272
    assert [p.id for p in task.problems] == [str(r["idx"]) for r in rows]  # the harness outputs' idx
    first = task.problems[0]
    assert first.question == rows[0]["problem"] and first.gold == "1.6"
    assert rows[0]["solution"].count("\\boxed{") and "\\boxed{1.6}" in rows[0]["solution"]


def test_minerva_still_reads_skyeval_s_own_layout(tmp_path: Path) -> None:
    (tmp_path / "minerva_math.jsonl").write_text(json.dumps({"question": "Q?", "answer": "4"}) + "\n")
    task = load_task(get_task("minerva_math"), tmp_path)
    assert task.layout == "skyeval" and [(p.id, p.gold) for p in task.problems] == [("0", "4")]


def test_a_solution_without_a_box_names_its_line(tmp_path: Path) -> None:
    rows = [
        {"idx": 0, "problem": "P?", "solution": "so \\boxed{2}"},
        {"idx": 1, "problem": "Q?", "solution": "2"},
    ]
    (tmp_path / "minerva_math.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(
        SkyevalError, match=r"minerva_math.jsonl:2: no \\boxed\{\} answer in field 'solution'"
    ):
        load_task(get_task("minerva_math"), tmp_path)


def test_an_unknown_layout_fails_that_task_only(tmp_path: Path, shared_dir: Path) -> None:
    shutil.copy(shared_dir / "data" / "amc23.jsonl", tmp_path / "amc23.jsonl")
    (tmp_path / "minerva_math.jsonl").write_text(json.dumps({"prompt": "P", "target": "1"}) + "\n")
    assert len(load_task(get_task("amc23"), tmp_path).problems) == 40
    with pytest.raises(SkyevalError) as err:
        load_task(get_task("minerva_math"), tmp_path)
    message = str(err.value)
    assert "\n" not in message and message.startswith("minerva_math: ") and "unknown layout" in message
    assert "prompt, target" in message and "qwen-harness: idx+problem+solution" in message
    listed = CliRunner().invoke(main, ["tasks", "--data-dir", str(tmp_path)])
    assert listed.exit_code == 0
    assert any(line.startswith("amc23") and "rows=  40" in line for line in listed.output.splitlines())
    assert any(
        line.startswith("minerva_math") and "(unknown layout)" in line for line in listed.output.splitlines()
    )
    run = CliRunner().invoke(
        main, ["run", "-m", "m", "--base-url", "http://127.0.0.1:9/v1", "-E", "probe=false", "--task",
               "minerva_math", "--data-dir", str(tmp_path), "-o", str(tmp_path / "runs")],
    )  # fmt: skip
    assert run.exit_code == 2 and "unknown layout" in run.output and not (tmp_path / "runs").exists()
