"""``skydata curate`` against a loopback OpenAI-compatible server (tests/testkit): failed requests counted,
printed, the stage recorded ``partial`` and exactly the failed requests asked again; keys only where named;
everything checked before the first stage; ``--config`` TOML equal to the same flags; no ``.tmp`` left."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from testkit.fake_openai_server import FakeServer, Script

from skydata.cli import main
from skyeval.jsonl import read_jsonl

GOLDS = {f"Problem {i}: what is {i} plus {i}?": str(2 * i) for i in range(6)}
GOLDS["Problem FAIL400: what is 7 plus 7?"] = "14"
GOLDS["Problem FAIL500: what is 8 plus 8?"] = "16"


def _user(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def _is_judge(body: dict[str, Any]) -> bool:
    return "Art of Problem Solving" in str(body["messages"][0]["content"])


def _answer(body: dict[str, Any]) -> str:
    if _is_judge(body):
        return "Looks like a mid-AMC problem.\nDifficulty: 5"
    problem = next(p for p in GOLDS if p in _user(body))
    return f"Adding them gives \\boxed{{{GOLDS[problem]}}}."


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "src.jsonl"
    rows = [{"problem": p, "answer": a, "source": "math"} for p, a in GOLDS.items()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script(answer=_answer, models=("judge-m", "Qwen/QwQ-32B-Preview", "m"))  # what the probe sees
    with FakeServer(script) as url:
        yield url, script


def curate(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["curate", *args], env=env)


def flags(run: Path, source: Path, url: str, *extra: str) -> list[str]:
    """A small offline curate: local source (math rows: the sky-t1 preset's math>3 needs a level), no
    decontamination, judge and teacher on the loopback server, no retries."""
    return [
        "--out",
        str(run),
        "--source",
        f"local={source}",
        "--no-decontam",
        "--judge-model",
        "judge-m",
        "--judge-base-url",
        url,
        "--judge-option",
        "max_retries=0",
        "--judge-option",
        "concurrency=4",  # the loopback server's listen backlog is 5: never refuse a connection
        "--teacher",
        "qwq",
        "--teacher-base-url",
        url,
        "--teacher-option",
        "max_retries=0",
        "--teacher-option",
        "concurrency=4",
        "--n",
        "2",
        "--max-tokens",
        "64",
        *extra,
    ]


def error_line(res: Result) -> str:
    (line,) = [x for x in res.output.splitlines() if x.startswith("error: ")]
    return line


def since(script: Script, start: int, judge: bool) -> list[dict[str, Any]]:
    return [r for r in script.requests[start:] if _is_judge(r["body"]) == judge]


def teacher_samples(run: Path) -> list[tuple[str, int]]:
    (log,) = [p for p in run.glob("teacher-*.jsonl") if not p.name.endswith(".grades.jsonl")]
    return [(r["id"], r["sample_index"]) for r in read_jsonl(log)]


def test_400s_and_500s_are_counted_printed_fail_the_stage_and_are_asked_again(
    tmp_path: Path, source: Path, server: tuple[str, Script]
) -> None:
    url, script = server
    broken = {"judge": True, "teacher": True}

    def fail(i: int) -> int | None:
        body = script.requests[i]["body"]  # the server logs a request before asking ``fail``
        if _is_judge(body):
            return 400 if broken["judge"] and "FAIL400" in _user(body) else None
        if broken["teacher"] and "FAIL500" in _user(body):
            return 500
        return 400 if broken["teacher"] and "FAIL400" in _user(body) else None

    script.fail = fail
    run = tmp_path / "run"
    args = flags(run, source, url)

    # 1. the judge refuses one problem (HTTP 400): counted, printed, difficulty partial, nothing after it
    res = curate(*args)
    assert res.exit_code == 2, res.output
    line = error_line(res)
    assert line.startswith(
        "error: difficulty: 1 of 8 requests failed (asked 8 this run; above --max-error-rate 0)"
    )
    assert "first error: server refused the request: HTTP 400" in line and "scripted failure 400" in line
    assert "difficulty: labelled 7, unparsable 0, judge_error 1, not_needed 0" in res.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["difficulty"]["status"] == "partial"
    assert manifest["stages"]["difficulty"]["requests"]["errors"] == 1
    assert "select" not in manifest["stages"] and not (run / "04_select.jsonl").exists()

    # 2. a re-run asks the judge exactly the failed vote; the teacher then meets a 500 (and a 400)
    broken["judge"] = False
    start = len(script.requests)
    res = curate(*args)
    assert res.exit_code == 2, res.output
    judged = since(script, start, judge=True)
    assert [_user(r["body"]) for r in judged] == ["Problem:\nProblem FAIL400: what is 7 plus 7?"]
    line = error_line(res)
    assert line.startswith("error: teacher: ") and "requests failed" in line
    assert "HTTP 500" in line or "HTTP 400" in line
    manifest = json.loads((run / "manifest.json").read_text())
    teacher = manifest["stages"]["teacher"]
    assert teacher["status"] == "partial" and manifest["stages"]["difficulty"]["status"] == "done"
    logged = teacher_samples(run)
    assert teacher["requests"]["work"] == 16 and teacher["requests"]["errors"] == 16 - len(logged) >= 4
    assert "reject" not in manifest["stages"] and not list(run.glob("sft_*.jsonl"))

    # 3. fixed: exactly the failed samples are asked, nothing twice; the run completes
    broken["teacher"] = False
    start = len(script.requests)
    res = curate(*args)
    assert res.exit_code == 0, res.output
    assert not since(script, start, judge=True)
    asked = sum(int(r["body"].get("n", 1)) for r in since(script, start, judge=False))
    assert asked == teacher["requests"]["errors"]
    after = teacher_samples(run)
    assert after[: len(logged)] == logged and len(after) == len(set(after)) == 16
    manifest = json.loads((run / "manifest.json").read_text())
    assert [s["status"] for s in manifest["funnel"]] == ["done"] * 7
    assert manifest["stages"]["reject"]["rows_out"] == 8 and len(list(read_jsonl(run / "sft_trl.jsonl"))) == 8


def test_a_rate_within_max_error_rate_is_done_and_printed(
    tmp_path: Path, source: Path, server: tuple[str, Script]
) -> None:
    url, script = server
    script.fail = lambda i: 400 if "FAIL400" in _user(script.requests[i]["body"]) else None
    run = tmp_path / "run"
    res = curate(*flags(run, source, url, "--max-error-rate", "0.2", "--no-judge", "--preset", "all"))
    assert res.exit_code == 0, res.output
    assert "teacher: 2 of 16 requests failed (asked 16 this run); first error: server refused" in res.output
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["teacher"]["status"] == "done"
    assert manifest["stages"]["teacher"]["dropped"] == {"request_failed": 1}
    assert manifest["stages"]["reject"]["dropped"] == {"no_samples": 1}


def test_keys_go_only_where_named(
    tmp_path: Path, source: Path, server: tuple[str, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, script = server
    monkeypatch.setenv("OPENAI_API_KEY", "sk-FAKE-openai")
    monkeypatch.setenv("JUDGE_KEY", "sk-FAKE-judge")
    run = tmp_path / "run"
    res = curate(*flags(run, source, url, "--judge-api-key-env", "JUDGE_KEY"))
    assert res.exit_code == 0, res.output
    auth = {(_is_judge(r["body"]), r["auth"]) for r in script.requests}
    assert auth == {(True, "Bearer sk-FAKE-judge"), (False, None)}  # the teacher named no key: it got none
    assert {r["body"]["model"] for r in script.requests if not _is_judge(r["body"])} == {
        "Qwen/QwQ-32B-Preview"
    }
    everything = "".join(p.read_text() for p in run.iterdir() if p.is_file())
    assert "sk-FAKE" not in everything and "JUDGE_KEY" in everything  # the variable's name, never its value
    (row,) = [r for r in read_jsonl(run / "sft_trl.jsonl")][:1]
    assert row["teacher"] == "qwq"  # provenance records the alias

    # a named variable that is not set, and a teacher without a base URL, are refused before anything runs
    res = curate(*flags(tmp_path / "r2", source, url, "--teacher-api-key-env", "NOT_SET_ANYWHERE"))
    assert (
        res.exit_code == 2
        and "--teacher-api-key-env NOT_SET_ANYWHERE: that environment variable is not set"
        in (error_line(res))
    )
    assert not (tmp_path / "r2").exists()


def test_the_documented_command_lists_everything_missing_at_once(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["curate", "--teacher", "qwq"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    line = error_line(res)
    assert line.startswith("error: curate cannot start: ")
    for missing in (
        "missing --out DIR",
        "missing --source KIND[=LOCATION]",
        "missing --judge-model MODEL",
        "or --no-judge",
        "missing --teacher-base-url URL (the OpenAI-compatible server serving Qwen/QwQ-32B-Preview",
        "https://api.openai.com/v1",
    ):
        assert missing in line, missing
    offline = CliRunner().invoke(
        main, ["curate", "--teacher", "qwq", "--source", "numina"], env={"HF_HUB_OFFLINE": "1"}
    )
    line = error_line(offline)
    assert "source numina streams AI-MO/NuminaMath-CoT from the Hub, but HF_HUB_OFFLINE is set" in line
    assert (
        "decontamination loads the benchmarks from the Hub, but HF_HUB_OFFLINE is set: give --data-dir"
        in line
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--task", "aime2024"], "--task: unknown task 'aime2024'"),
        (["--teacher", "qwq-preview"], "--teacher: unknown teacher alias 'qwq-preview'"),
        (["--teacher-engine", "foo"], "teacher qwq: unknown engine 'foo'"),
        (["--judge-option", "colour=red"], "judge: engine 'openai' does not take option(s) colour"),
        (["--format", "alpaca"], "--format: unknown SFT export format 'alpaca'"),
        (["--system-prompt", "Be brief."], "--system-prompt: unknown system prompt 'Be brief.'"),
        (["--teacher-system-prompt", "nope"], "--teacher: unknown system prompt 'nope'"),
    ],
)
def test_late_settings_fail_before_the_source_stage(
    tmp_path: Path, source: Path, server: tuple[str, Script], extra: list[str], message: str
) -> None:
    url, script = server
    args = flags(tmp_path / "run", source, url, *extra)
    if "--task" in extra:
        args.remove("--no-decontam")
    res = curate(*args)
    assert res.exit_code == 2, res.output
    assert message in error_line(res)
    assert not (tmp_path / "run").exists() and not script.requests  # nothing ran, nothing was written


def test_malformed_rows_stop_the_source_or_become_drops_and_no_tmp_survives(
    tmp_path: Path, source: Path, server: tuple[str, Script]
) -> None:
    url, _ = server
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(source.read_bytes() + b'{"problem": "truncated\n' + b"\xff\xfe{}\n")
    run = tmp_path / "run"
    res = curate(*flags(run, bad, url, "--no-judge", "--preset", "all"))
    assert res.exit_code == 2
    assert f"{bad}:9: malformed JSON" in error_line(res) and "--skip-malformed" in error_line(res)
    assert not list(run.glob("*.tmp")) and not (run / "00_source.jsonl").exists()
    res = curate(*flags(run, bad, url, "--no-judge", "--preset", "all", "--skip-malformed"))
    assert res.exit_code == 0, res.output
    drops = [r for r in read_jsonl(run / "00_source.dropped.jsonl")]
    assert [(d["reason"], d["detail"].split(": ", 1)[0]) for d in drops] == [
        ("malformed", f"{bad}:9"),
        ("malformed", f"{bad}:10"),
    ]
    assert "not UTF-8" in drops[1]["detail"]


def test_config_toml_equals_the_same_flags_and_flags_win(
    tmp_path: Path, source: Path, server: tuple[str, Script]
) -> None:
    url, _ = server
    res = curate(*flags(tmp_path / "a", source, url, "--votes", "1", "--allow-unfinished"))
    assert res.exit_code == 0, res.output
    toml = tmp_path / "curate.toml"
    toml.write_text(
        f"""out = "{tmp_path / "b"}"
source = ["local={source}"]
no-decontam = true
judge-model = "judge-m"
judge-base-url = "{url}"
judge_option = ["max_retries=0", "concurrency=4"]
teacher = "qwq"
teacher-base-url = "{url}"
teacher-option = ["max_retries=0", "concurrency=4"]
n = 5
max-tokens = 64
votes = 1
allow-unfinished = true
"""
    )
    res = curate("--config", str(toml), "--n", "2")  # the flag wins over the file's n = 5
    assert res.exit_code == 0, res.output
    a, b = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("a", "b"))
    assert a["config"] == b["config"] and a["funnel"] == b["funnel"]
    assert b["config"]["teacher"]["sampling"]["n"] == 2

    toml.write_text('out = "x"\nteacher-modle = "typo"\njudge-votes = 3\n')
    res = curate("--config", str(toml))
    assert res.exit_code == 2
    assert "unknown key(s) judge-votes, teacher-modle; known: " in error_line(res)
    toml.write_text("n = [1, 2]\n")
    assert "n takes one value" in error_line(curate("--config", str(toml)))


def test_an_empty_rl_export_is_an_error_unless_allowed(tmp_path: Path, source: Path) -> None:
    run = tmp_path / "run"
    base = [
        "--out",
        str(run),
        "--source",
        f"local={source}",
        "--no-decontam",
        "--no-judge",
        "--preset",
        "all",
    ]
    res = curate(*base, "--rule", "math>3")  # no judge: every math row is unlabelled, nothing is left
    assert res.exit_code == 2
    line = error_line(res)
    assert line.startswith(
        "error: export: 0 rows for rl_openrlhf-rl.jsonl, rl_trl-rl.jsonl (select 8->0 (unlabelled=8))"
    )
    assert "no judge: every row under a rule needing a level (math>3)" in res.output
    assert not list(run.glob("rl_*.jsonl"))
    res = curate(*base, "--rule", "math>3", "--allow-empty")
    assert res.exit_code == 0, res.output
    assert (run / "rl_trl-rl.jsonl").read_text() == ""

    # the stand-alone export: the same rule
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    runner = CliRunner()
    res = runner.invoke(main, ["export", str(empty), "--format", "trl", "-o", str(tmp_path / "e.jsonl")])
    assert res.exit_code == 2 and "0 rows" in error_line(res) and not (tmp_path / "e.jsonl").exists()
    res = runner.invoke(
        main, ["export", str(empty), "--format", "trl", "-o", str(tmp_path / "e.jsonl"), "--allow-empty"]
    )
    assert res.exit_code == 0 and (tmp_path / "e.jsonl").read_text() == ""
