"""Decontamination finds copies, not phrasing: the alignment, the exact key filter, the reasons, the real
benchmarks checked against each other (0 flagged), planted copies (recall), and the decontam/export commands.
(Moved here from test_skydata_stages.py and extended.)"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from testkit.contamination import KINDS, planted_trial, shared_benchmarks

from skydata.cli import main
from skydata.decontam import (
    BenchmarkProblem,
    ContaminationIndex,
    DecontamConfig,
    align,
    choose_keys,
    decontaminate_rows,
    edit_budget,
    load_benchmarks,
    word_masks,
)
from skydata.records import Drop, Item
from skyeval.errors import SkyevalError
from skyeval.jsonl import read_jsonl

AIME = (
    r"Let $x,y$ and $z$ be positive real numbers that satisfy the following system of equations: "
    r"$\log_2\left({x \over yz}\right) = {1 \over 2}$, $\log_2\left({y \over xz}\right) = {1 \over 3}$, "
    r"$\log_2\left({z \over xy}\right) = {1 \over 4}$. Then the value of $\left|\log_2(x^4y^3z^2)\right|$ is "
    r"$\tfrac{m}{n}$ where $m$ and $n$ are relatively prime positive integers. Find $m+n$."
)
BENCH = [BenchmarkProblem("aime24", "62", AIME), BenchmarkProblem("amc23", "1", "What is 1+1?")]


def distance(pattern: list[int], text: list[int], anchored: bool) -> tuple[int, int]:
    """Textbook dynamic programme for ``align``: pattern against a window of text (from 0 when anchored)."""
    prev = list(range(len(pattern) + 1))
    best, end = len(pattern), -1
    for j, c in enumerate(text):
        cur = [j + 1 if anchored else 0]
        for i in range(1, len(pattern) + 1):
            cur.append(min(prev[i - 1] + (pattern[i - 1] != c), prev[i] + 1, cur[i - 1] + 1))
        if cur[-1] < best:
            best, end = cur[-1], j
        prev = cur
    return best, end


def test_align_is_the_edit_distance_to_the_best_window() -> None:
    rng = random.Random(7)
    for _ in range(1000):
        pattern = [rng.randrange(4) for _ in range(rng.randint(1, 70))]
        text = [rng.randrange(4) for _ in range(rng.randint(0, 80))]
        for anchored in (False, True):
            got = align(word_masks(pattern), len(pattern), text, anchored=anchored)
            want = distance(pattern, text, anchored)
            assert got[0] == want[0] and (got[0] == 0 or got[1] == want[1]), (pattern, text, anchored)


def test_edit_budget_and_non_overlapping_keys() -> None:
    cfg = DecontamConfig()
    assert [edit_budget(n, cfg) for n in (1, 3, 5, 6, 8, 9, 12, 16, 40, 100)] == [
        0,
        0,
        0,
        1,
        1,
        2,
        3,
        4,
        10,
        25,
    ]
    assert [edit_budget(n, DecontamConfig(max_edit_ratio=0)) for n in (5, 40)] == [0, 0]
    rng = random.Random(3)
    for _ in range(500):
        k = rng.randint(1, 4)
        words = rng.randint(k, 60)
        count = rng.randint(1, words // k)
        df = [rng.randint(1, 9) for _ in range(words - k + 1)]
        keys = choose_keys(df, count, k)
        assert len(keys) == count and all(b - a >= k for a, b in zip(keys, keys[1:], strict=False))
    assert choose_keys([5, 1, 5, 5, 2, 5, 5], 2, 3) == [1, 4]  # the rarest grams that do not overlap
    with pytest.raises(SkyevalError, match="edit ratio"):
        DecontamConfig(max_edit_ratio=1.5)


def test_copies_are_dropped_and_shared_phrasing_is_kept() -> None:
    index = ContaminationIndex(BENCH)
    rows = {
        "verbatim": AIME,
        "prefixed": "The following problem is from AIME 2024. Show your work. " + AIME + " Good luck!",
        "number": AIME.replace("{1 \\over 4}", "{1 \\over 5}"),
        "reworded": AIME.replace("Find $m+n$.", "Determine the value of $m+n$."),
        "short": "What is $1 + 1$?",
        "short_inside": "Warm-up. What is 1 + 1? Then double it.",
        "boilerplate": (
            "A bag holds 5 red and 7 blue marbles and two are drawn at random. The probability that both are "
            "red is $\\tfrac{m}{n}$ where $m$ and $n$ are relatively prime positive integers. Find $m+n$."
        ),
        "half": AIME[: len(AIME) // 2],
        "short_changed": "What is 1+2?",
    }
    out = list(decontaminate_rows([Item(k, v, "1", "amc_aime") for k, v in rows.items()], index))
    drops = {o.id: o.detail for o in out if isinstance(o, Drop)}
    assert sorted(drops) == sorted(["verbatim", "prefixed", "number", "reworded", "short", "short_inside"])
    assert [o.id for o in out if isinstance(o, Item)] == ["boilerplate", "half", "short_changed"]
    assert drops["verbatim"].startswith("aime24:62 copied (verbatim over its 68 words; key '")
    assert drops["prefixed"].endswith(
        "'let x y and z be positive real numbers that satisfy the following system of equations log 2 x over yz 1 over 2 ...'"
    )
    assert "(1 edit over its 68 words" in drops["number"]
    assert "(3 edits over its 68 words" in drops["reworded"]
    assert (
        drops["short_inside"] == "amc23:1 copied (verbatim over its 4 words; key 'what is 1'): 'what is 1 1'"
    )


def test_decontaminate_rows_takes_items_and_json_rows() -> None:
    index = ContaminationIndex(BENCH)
    rows = [{"id": "a", "problem": "What is 1+1?", "gold": "2"}, {"problem": "What is 2+2?", "gold": "4"}]
    out = list(decontaminate_rows(rows, index))
    assert isinstance(out[0], Drop) and out[0].id == "a" and out[1] == rows[1]
    (drop,) = decontaminate_rows([{"problem": "what is 1 + 1"}], index)
    assert isinstance(drop, Drop) and drop.id == "row 1"
    with pytest.raises(SkyevalError, match="row 2 has no 'problem'"):
        list(decontaminate_rows([rows[1], {"question": "x"}], index))
    with pytest.raises(SkyevalError, match="no benchmark problem has any words"):
        ContaminationIndex([BenchmarkProblem("t", "1", "$+$")])


def test_every_benchmark_against_the_others_flags_nothing(shared_dir: Path) -> None:
    """The four ../shared/data benchmarks and Minerva (read directly): each checked against the other four
    flags 0 problems (the 8-gram rule flagged 8/30 AIME24, 13/40 AMC23, 18/500 MATH500, 25/675
    OlympiadBench); against itself, every problem is found."""
    problems = shared_benchmarks(shared_dir)
    tasks = sorted({p.task for p in problems})
    assert tasks == ["aime24", "amc23", "math500", "minerva_math", "olympiadbench"] and len(problems) == 1517
    for task in tasks:
        mine = [p for p in problems if p.task == task]
        others = ContaminationIndex([p for p in problems if p.task != task])
        flagged = [(p.id, m.describe()) for p in mine if (m := others.find(p.text)) is not None]
        assert flagged == [], task
    itself = ContaminationIndex(problems)
    assert all(itself.find(p.text) is not None for p in problems)


def test_planted_copies_are_found(shared_dir: Path) -> None:
    """100 copies of each kind among 2,517 background rows (benchmarks/bench_decontam.py runs 1,000)."""
    result = planted_trial(shared_benchmarks(shared_dir), per_kind=100, splices=100, seed=0)
    assert {k: result.planted[k] for k in KINDS} == dict.fromkeys(KINDS, 100)
    assert all(result.recall(k) >= 0.99 for k in KINDS), {k: result.recall(k) for k in KINDS}
    assert result.background == 2517 and result.false_positives == []


def test_load_benchmarks_needs_the_named_tasks(shared_dir: Path) -> None:
    bench = load_benchmarks(data_dir=shared_dir / "data")
    assert {"aime24", "amc23", "math500", "olympiadbench"} <= set(bench.tasks) and "aime25" in bench.skipped
    with pytest.raises(SkyevalError):
        load_benchmarks(["aime24"], data_dir=shared_dir)  # explicitly named task without its file


# ---------------------------------------------------------------- commands


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    d = tmp_path / "bench"
    d.mkdir()
    rows = [{"id": 62, "problem": AIME, "answer": "33"}, {"id": 1, "problem": "What is 1+1?", "answer": "2"}]
    (d / "amc23.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def items_file(tmp_path: Path) -> Path:
    rows = [
        Item("copy", "Problem 3. " + AIME.replace("{1 \\over 3}", "{2 \\over 3}"), "33", "amc_aime"),
        Item("clean", "How many positive divisors does 36 have?", "9", "amc_aime"),
    ]
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(r.to_json()) + "\n" for r in rows))
    return path


def test_export_of_rl_formats_decontaminates_by_default(tmp_path: Path, bench_dir: Path) -> None:
    src, out = items_file(tmp_path), tmp_path / "rl.jsonl"
    runner = CliRunner()
    res = runner.invoke(
        main, ["export", str(src), "-o", str(out), "--format", "trl-rl", "--data-dir", str(bench_dir)]
    )
    assert res.exit_code == 0, res.output
    assert "export: 2 in -> 1 out (dropped: contaminated=1)" in res.stderr
    assert [r["id"] for r in read_jsonl(out)] == ["clean"]
    (drop,) = read_jsonl(tmp_path / "rl.dropped.jsonl")
    assert drop["id"] == "copy" and drop["detail"].startswith("amc23:62 copied (1 edit over its 68 words")

    res = runner.invoke(
        main, ["export", str(src), "-o", str(out), "--format", "openrlhf-rl", "--no-decontam"]
    )
    assert res.exit_code == 0 and "not checked against the benchmarks" in res.stderr
    assert [r["id"] for r in read_jsonl(out)] == ["copy", "clean"]

    res = runner.invoke(
        main,
        [
            "export",
            str(src),
            "-o",
            str(out),
            "--format",
            "trl-rl",
            "--data-dir",
            str(bench_dir),
            "--task",
            "aime24",
        ],
    )
    assert res.exit_code == 2 and res.output.startswith("error: ") and "Traceback" not in res.output
    for bad in (
        ["--format", "trl-rl", "--no-decontam", "--task", "amc23"],
        ["--format", "trl", "--data-dir", str(bench_dir)],
    ):
        res = runner.invoke(main, ["export", str(src), "-o", str(tmp_path / "x.jsonl"), *bad])
        assert res.exit_code == 2 and res.output.count("\n") == 1 and "--task/--data-dir" in res.output
    assert not (tmp_path / "x.jsonl").exists()


def test_decontam_command_and_its_edit_ratio(tmp_path: Path, bench_dir: Path) -> None:
    src = items_file(tmp_path)
    runner = CliRunner()
    args = ["decontam", str(src), "-o", str(tmp_path / "kept.jsonl"), "--data-dir", str(bench_dir)]
    res = runner.invoke(main, args)
    assert res.exit_code == 0 and "decontam: checking against amc23 (2 problems)" in res.stderr
    assert "decontam: 2 in -> 1 out (dropped: contaminated=1)" in res.stderr
    res = runner.invoke(main, [*args, "--max-edit-ratio", "0"])  # verbatim copies only: one number differs
    assert res.exit_code == 0 and "2 in -> 2 out" in res.stderr
