"""``skyeval grade FILE.jsonl``: graded rows, accuracy, one-line errors (CliRunner and the real console script)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from skyeval.cli import main

ROWS = [
    {"id": "a", "response": r"so \boxed{5}", "answer": "5"},
    {"id": "b", "response": r"so \boxed{6}", "answer": 5},
    {"id": "c", "response": [r"\boxed{1}", r"\boxed{2}", None], "answer": "1"},
    {"id": "d", "response": None, "answer": "1"},
]


def write_jsonl(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_grades_rows_and_prints_accuracy(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["grade", str(src), "--output", str(out), "--timeout", "3"])
    assert result.exit_code == 0, result.output
    assert "accuracy 0.3333 (2/6 responses in 4 rows)" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c", "d"]
    assert (rows[0]["correct"], rows[0]["extracted"], rows[0]["reason"]) == (True, "5", "equal")
    assert (rows[1]["correct"], rows[1]["reason"]) == (False, "not_equal")
    assert rows[2]["correct"] == [True, False, False]
    assert rows[2]["reason"] == ["equal", "not_equal", "no_answer"]
    assert (rows[3]["correct"], rows[3]["extracted"], rows[3]["reason"]) == (False, None, "no_answer")


def test_custom_fields_and_no_output(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"code": [r"\boxed{3}"] * 2, "gt": "3"}])
    result = CliRunner().invoke(main, ["grade", str(src), "--response-field", "code", "--gold-field", "gt"])
    assert result.exit_code == 0, result.output
    assert "accuracy 1.0000 (2/2" in result.output
    assert list(tmp_path.iterdir()) == [src]


def test_output_may_overwrite_the_input(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS[:1])
    assert CliRunner().invoke(main, ["grade", str(src), "-o", str(src)]).exit_code == 0
    assert json.loads(src.read_text())["correct"] is True


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"response": "x", "answer": "1"}', "{not json"], ":2: malformed JSON"),
        (['{"response": "x", "answer": "1"}', "", "[1, 2]"], ":3: expected a JSON object"),
        (['{"response": "x"}'], "row 1 has no 'answer' field"),
        (['{"answer": "1"}', '{"response": "x"}'], "row 1 has no 'response' field"),
        (['{"response": "x", "answer": null}'], "row 1 has a null 'answer'"),
    ],
)
def test_bad_rows_are_one_line_errors(tmp_path: Path, lines: list[str], message: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["grade", str(src)])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["grade", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2 and "not found" in result.output


def test_binary_input_is_a_one_line_error(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\xff\xfe\x00garbage\n")
    result = CliRunner().invoke(main, ["grade", str(src)])
    assert result.exit_code == 2 and "not UTF-8" in result.output


def test_unwritable_output_is_a_one_line_error(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS[:1])
    result = CliRunner().invoke(main, ["grade", str(src), "-o", str(tmp_path / "no" / "such" / "dir.jsonl")])
    assert result.exit_code == 2 and "cannot write" in result.output


def test_console_script(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out.jsonl"
    script = Path(sys.executable).with_name("skyeval")
    done = subprocess.run(
        [str(script), "grade", str(src), "-o", str(out)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "accuracy 0.3333" in done.stdout
    assert "grading" in done.stderr  # the progress bar
    assert len(out.read_text().splitlines()) == 4
    bad = subprocess.run(
        [str(script), "grade", str(tmp_path / "missing.jsonl")], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [f"error: file not found: {tmp_path / 'missing.jsonl'}"]


# ---- differential grading: --compare-field / --disagreements (issue 12)

HARNESS_ROWS = [
    {"idx": 0, "code": [r"so \boxed{5}"], "answer": "5", "score": [True]},
    {
        "idx": 1,
        "code": [r"\boxed{7}. This ensures the final answer is clearly stated."],
        "answer": "7",
        "score": [False],
    },
    {"idx": 2, "code": [r"\boxed{3}", r"\boxed{4}"], "answer": "3", "score": [True, True]},
]


def _grade_harness(tmp_path: Path, *extra: str) -> tuple[Result, Path]:
    src = write_jsonl(tmp_path / "in.jsonl", HARNESS_ROWS)
    args = ["grade", str(src), "--response-field", "code", "--compare-field", "score", *extra]
    return CliRunner().invoke(main, args), src


def test_compare_field_prints_both_accuracies_and_writes_disagreements(tmp_path: Path) -> None:
    out = tmp_path / "graded.jsonl"
    result, _ = _grade_harness(tmp_path, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "accuracy 0.7500 (3/4 responses in 3 rows)" in result.output
    assert (
        "score: accuracy 0.7500 (3/4); disagreements 2 (1 correct only for us, 1 only for score)"
        in result.output
    )
    target = tmp_path / "graded.disagreements.jsonl"
    assert f"wrote 2 disagreements to {target}" in result.output
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert rows == [
        {
            "row": 2,
            "sample": 0,
            "gold": "7",
            "extracted": "7",
            "theirs": False,
            "ours": True,
            "reason": "equal",
        },
        {
            "row": 3,
            "sample": 1,
            "gold": "3",
            "extracted": "4",
            "theirs": True,
            "ours": False,
            "reason": "not_equal",
        },
    ]


def test_disagreements_default_beside_the_input_and_csv_by_extension(tmp_path: Path) -> None:
    result, src = _grade_harness(tmp_path)
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "in.disagreements.jsonl").read_text().splitlines()) == 2
    csv_path = tmp_path / "d.csv"
    result, _ = _grade_harness(tmp_path, "--disagreements", str(csv_path))
    assert result.exit_code == 0, result.output
    lines = csv_path.read_text().splitlines()
    assert lines == [
        "row,sample,gold,extracted,theirs,ours,reason",
        "2,0,7,7,False,True,equal",
        "3,1,3,4,True,False,not_equal",
    ]


def test_compare_field_on_single_responses(tmp_path: Path) -> None:
    rows = [
        {"response": r"\boxed{5}", "answer": "5", "ok": False},
        {"response": r"\boxed{6}", "answer": "6", "ok": True},
    ]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    result = CliRunner().invoke(
        main, ["grade", str(src), "--compare-field", "ok", "--disagreements", str(tmp_path / "d.jsonl")]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 1 disagreement to" in result.output
    assert json.loads((tmp_path / "d.jsonl").read_text())["sample"] is None


def test_policy_option_default(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", ROWS[:1])
    result = CliRunner().invoke(main, ["grade", str(src), "--policy", "default"])
    assert result.exit_code == 0 and "accuracy 1.0000" in result.output


@pytest.mark.parametrize(
    ("rows", "args", "message"),
    [
        ([{"response": "5", "answer": ""}], [], "row 1 has an empty 'answer'"),
        ([{"response": "5", "answer": "  "}], [], "row 1 has an empty 'answer'"),
        ([{"response": "5", "answer": []}], [], "row 1 has an empty 'answer'"),
        ([{"response": "5", "answer": {"value": 5}}], [], "row 1: 'answer' holds a dict"),
        ([{"response": [], "answer": "1"}], [], "row 1 has an empty 'response' list"),
        ([{"response": {"text": "\\boxed{3}"}, "answer": "3"}], [], "row 1: 'response' is a dict"),
        ([{"response": ["\\boxed{3}", {"text": "3"}], "answer": "3"}], [], "row 1: 'response'[1] is a dict"),
        ([{"response": True, "answer": "3"}], [], "row 1: 'response' is a bool"),
        ([{"response": "x", "answer": "1"}], ["--compare-field", "v"], "row 1 has no 'v' field"),
        (
            [{"response": "x", "answer": "1", "v": 1}],
            ["--compare-field", "v"],
            "'v' must hold true/false verdicts",
        ),
        (
            [{"response": ["x", "y"], "answer": "1", "v": [True]}],
            ["--compare-field", "v"],
            "list of 2 true/false",
        ),
        ([{"response": ["x"], "answer": "1", "v": True}], ["--compare-field", "v"], "list of 1 true/false"),
        (
            [{"response": "x", "answer": "1"}],
            ["--disagreements", "d.jsonl"],
            "--disagreements needs --compare-field",
        ),
    ],
)
def test_ungradable_input_is_refused(
    tmp_path: Path, rows: list[object], args: list[str], message: str
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["grade", str(src), "-o", str(out), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and "accuracy" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # nothing half-written


def test_empty_file_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("\n")
    result = CliRunner().invoke(main, ["grade", str(src)])
    assert result.exit_code == 2 and "no rows to grade" in result.output


def test_disagreements_library(tmp_path: Path) -> None:
    """The pure API behind --compare-field (reused by importers of other harnesses' outputs)."""
    from skyeval.grading.disagreements import Disagreement, VerdictPair, compare_verdicts, write_disagreements
    from skyeval.types import Grade

    pairs = [
        VerdictPair(1, None, "5", Grade(True, "5", "equal"), True),
        VerdictPair(2, 0, "6", Grade(False, "7", "not_equal"), True),
        VerdictPair(2, 1, "6", Grade(True, "6", "equal"), False),
        VerdictPair(3, None, "\udc80", Grade(False, None, "no_answer"), False),
    ]
    comparison = compare_verdicts(pairs)
    assert (comparison.responses, comparison.ours_correct, comparison.theirs_correct) == (4, 2, 2)
    assert (comparison.only_ours, comparison.only_theirs, comparison.ours_accuracy) == (1, 1, 0.5)
    assert comparison.disagreements == (
        Disagreement(2, 0, "6", "7", True, False, "not_equal"),
        Disagreement(2, 1, "6", "6", False, True, "equal"),
    )
    rows = [*comparison.disagreements, Disagreement(3, None, "\udc80", None, True, False, "no_answer")]
    write_disagreements(tmp_path / "d.csv", rows)  # a lone surrogate is escaped, never a crash
    assert (tmp_path / "d.csv").read_text().splitlines()[-1] == "3,,\\udc80,,True,False,no_answer"
    write_disagreements(tmp_path / "d.jsonl", [])
    assert (tmp_path / "d.jsonl").read_text() == ""
