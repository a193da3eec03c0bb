"""skydata through real engines on a tiny random model: a ``transformers serve`` OpenAI-compatible server on
loopback (started once for the module) and the in-process ``hf`` engine. The model writes garbage, so these
tests check the accounting: unlabelled problems recorded, rejections counted, files written, resume, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from skydata.cli import main
from skyeval.jsonl import read_jsonl

ROWS = [
    {"source": "math", "problem": "Compute 2 plus 3 times four.", "solution": r"\boxed{14}"},
    {"source": "olympiads", "problem": "Find all primes p with p+2 and p+4 prime.", "solution": r"\boxed{3}"},
    {"source": "amc_aime", "problem": "How many divisors does 36 have?", "solution": r"\boxed{9}"},
    {
        "source": "amc_aime",
        "problem": "What is the sum of the first ten odd numbers?",
        "solution": r"\boxed{100}",
    },
    {"source": "cn_k12", "problem": "Solve x + 1 = 2.", "solution": r"\boxed{1}"},
]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "numina.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def curate_args(
    run: Path, data: Path, url: str, model: str, *, n: int, teacher_rows: str = "", allow_empty: bool = True
) -> list[str]:
    common = ["--base-url", url, "--api-key-env", "SKYDATA_TEST_KEY", "--option", "concurrency=4"]
    judge = [a.replace("--", "--judge-", 1) for a in common]
    teacher = [a.replace("--", "--teacher-", 1) for a in common]
    return [
        "curate",
        "--out",
        str(run),
        "--source",
        f"numina={data}",
        "--no-decontam",
        "--judge-engine",
        "openai",
        "--judge-model",
        model,
        *judge,
        "--judge-max-tokens",
        "8",
        "--teacher",
        model,
        "--teacher-engine",
        "openai",
        *teacher,
        "--n",
        str(n),
        "--max-tokens",
        "8",
        *(["--rule", teacher_rows] if teacher_rows else []),
        *(["--allow-empty"] if allow_empty else []),
    ]


def test_curate_through_transformers_serve(
    served_tiny: tuple[str, str], data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, model = served_tiny
    monkeypatch.setenv("SKYDATA_TEST_KEY", "sk-test-secret-value")
    run = tmp_path / "run"
    # the random model's samples are never accepted: an empty SFT export is an error naming why ...
    res = CliRunner().invoke(main, curate_args(run, data, url, model, n=2, allow_empty=False))
    assert res.exit_code == 2
    (line,) = [x for x in res.output.splitlines() if x.startswith("error: ")]
    assert line.startswith("error: export: 0 rows for sft_trl.jsonl, sft_sharegpt.jsonl, sft_openrlhf.jsonl")
    assert "reject 2->0 (no_accepted_sample=2); samples rejected: " in line and "--allow-empty" in line
    assert not list(run.glob("sft_*.jsonl")) and not list(run.glob("*.tmp"))
    # ... and --allow-empty writes them (only the export stage runs again)
    res = CliRunner().invoke(main, curate_args(run, data, url, model, n=2))
    assert res.exit_code == 0, res.output
    assert res.output.count("done (checkpoint kept)") == 6
    manifest = json.loads((run / "manifest.json").read_text())
    funnel = {s["stage"]: s for s in manifest["funnel"]}
    statuses = [r["meta"]["difficulty_status"] for r in read_jsonl(run / "03_difficulty.jsonl")]
    assert len(statuses) == 5 and statuses.count("not_needed") == 3  # amc_aime x2 and cn_k12 need no label
    unparsable = statuses.count("unparsable")  # the random model never writes "Difficulty: <n>"
    assert funnel["select"]["dropped"].get("unparsable", 0) == unparsable
    assert manifest["stages"]["difficulty"]["extra"]["unparsable"] == unparsable
    assert funnel["select"]["rows_in"] == funnel["select"]["rows_out"] + sum(
        funnel["select"]["dropped"].values()
    )
    teacher = manifest["stages"]["teacher"]
    assert teacher["extra"]["generated"] + teacher["extra"]["errors"] == 2 * funnel["select"]["rows_out"]
    reject = manifest["stages"]["reject"]
    assert (
        sum(reject["extra"]["samples_rejected"].values()) + reject["rows_out"]
        >= teacher["extra"]["generated"]
    )
    for name in ("sft_trl.jsonl", "sft_sharegpt.jsonl", "sft_openrlhf.jsonl", "rl_openrlhf-rl.jsonl"):
        assert (run / name).is_file()
    everything = "".join(p.read_text() for p in run.iterdir() if p.is_file())
    assert "sk-test-secret-value" not in everything
    cache = list(read_jsonl(run / "judge_cache.jsonl"))
    cache_lines = len(cache)
    # one vote for each of the two problems needing a label; an unparsable one is asked 3 times in all
    assert len({r["key"] for r in cache}) == 2 and cache_lines == 3 * unparsable + (2 - unparsable)

    again = CliRunner().invoke(main, curate_args(run, data, url, model, n=2))
    assert (
        again.exit_code == 0 and again.output.count("done (checkpoint kept)") == 7
    )  # all but decontam (off)
    assert len((run / "judge_cache.jsonl").read_text().splitlines()) == cache_lines


def test_kill_9_during_teacher_loses_nothing(
    served_tiny: tuple[str, str], data: Path, tmp_path: Path
) -> None:
    url, model = served_tiny
    run = tmp_path / "run"
    env = {**os.environ, "SKYDATA_TEST_KEY": "x"}
    exe = Path(sys.executable).parent / "skydata"
    args = curate_args(run, data, url, model, n=6, teacher_rows="cn_k12:all")
    proc = subprocess.Popen([str(exe), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    logs: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        logs = [p for p in run.glob("teacher-*.jsonl") if not p.name.endswith(".grades.jsonl")]
        if logs and len(logs[0].read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = [(r["id"], r["sample_index"]) for r in read_jsonl(logs[0], tolerate_torn_tail=True)]
    assert len(before) >= 2
    res = CliRunner().invoke(main, args, env={"SKYDATA_TEST_KEY": "x"})
    assert res.exit_code == 0, res.output
    after = [(r["id"], r["sample_index"]) for r in read_jsonl(logs[0])]
    assert after[: len(before)] == before  # nothing completed was lost or redone
    manifest = json.loads((run / "manifest.json").read_text())
    expected = 6 * manifest["stages"]["select"]["rows_out"]
    assert len(set(after)) == len(after) == expected - manifest["stages"]["teacher"]["extra"]["errors"]


def test_label_and_generate_with_hf_engine(tiny_model_dir: Path, data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    items = tmp_path / "items.jsonl"
    hf = ["--engine", "hf", "--model", str(tiny_model_dir), "--option", "device=cpu"]
    assert runner.invoke(main, ["source", "numina", str(data), "-o", str(items)]).exit_code == 0
    res = runner.invoke(
        main, ["label", str(items), "-o", str(tmp_path / "l.jsonl"), *hf, "--votes", "2", "--max-tokens", "6"]
    )
    assert res.exit_code == 0, res.output
    labelled = list(read_jsonl(tmp_path / "l.jsonl"))
    assert len(labelled) == 5 and all(
        r["meta"]["difficulty_status"] in ("labelled", "unparsable") for r in labelled
    )
    votes: dict[tuple[str, int], list[object]] = {}
    for row in read_jsonl(tmp_path / "l.cache.jsonl"):
        votes.setdefault((row["key"], row["vote"]), []).append(row["level"])
    assert len(votes) == 10  # 5 problems x 2 votes, each settled: a parsed level or 3 unparsable attempts
    assert all(levels[-1] is not None or len(levels) == 3 for levels in votes.values())
    log = tmp_path / "gen.jsonl"
    res = runner.invoke(
        main,
        [
            "generate",
            str(items),
            "--log",
            str(log),
            "--teacher",
            str(tiny_model_dir),
            *hf,
            "--n",
            "2",
            "--max-tokens",
            "6",
            "--temperature",
            "1.0",
        ],
    )
    assert res.exit_code == 0, res.output
    assert len(list(read_jsonl(log))) == 10 and len(list(read_jsonl(tmp_path / "gen.grades.jsonl"))) == 10
    res = runner.invoke(main, ["reject", str(items), "--log", str(log), "-o", str(tmp_path / "sft.jsonl")])
    assert res.exit_code == 0 and "reject: 5 in -> 0 out" in res.output
    # offline RL prompt filtering with rollouts from the policy: the random model never solves anything
    res = runner.invoke(
        main,
        [
            "filter-prompts",
            str(items),
            "-o",
            str(tmp_path / "rl.jsonl"),
            *hf,
            "--k",
            "2",
            "--max-tokens",
            "4",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "filter-prompts: 5 in -> 0 out (dropped: too_hard_for_policy=5)" in res.output
    assert len(list(read_jsonl(tmp_path / "rl.rollouts.grades.jsonl"))) == 10
