"""``skydata curate`` against a flaky OpenAI-compatible loopback server: every Kth request fails (HTTP 400 or
500), as in the curation review's trial. Runs the same command until it completes and prints, per run, the
exit code, the stage that stopped it, its failed/needed requests, how many requests the run made and the
wall time; then checks that no sample was asked twice and that the teacher never saw a key.

    .venv/bin/python benchmarks/curate_flaky_server.py --data-dir ../shared/data --problems 60
    .venv/bin/python benchmarks/curate_flaky_server.py --status 500 --every 4

The judge answers "Difficulty: 5" and the teacher the gold in ``\\boxed{}``, so every row that is asked
successfully survives: the funnel shows only what the failures did. The server is ``tests/testkit``'s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from testkit.fake_openai_server import FakeServer, Script  # noqa: E402

from skydata.cli import main  # noqa: E402
from skyeval.jsonl import read_jsonl  # noqa: E402


def _problems(data_dir: Path | None, count: int) -> list[dict[str, str]]:
    if data_dir is not None and (data_dir / "math500.jsonl").is_file():
        rows = list(read_jsonl(data_dir / "math500.jsonl"))[:count]
        return [{"problem": r["problem"], "answer": str(r["answer"]), "source": "math"} for r in rows]
    return [
        {"problem": f"Problem {i}: what is {i} plus {i}?", "answer": str(2 * i), "source": "math"}
        for i in range(count)
    ]


def main_(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="take the first problems of math500.jsonl"
    )
    parser.add_argument("--problems", type=int, default=60)
    parser.add_argument("--every", type=int, default=3, help="fail every Kth request")
    parser.add_argument("--status", type=int, default=400, help="HTTP status of the failures (400, 500, ...)")
    parser.add_argument("--n", type=int, default=2, help="teacher samples per problem")
    args = parser.parse_args(argv)

    rows = _problems(args.data_dir, args.problems)
    golds = {r["problem"]: r["answer"] for r in rows}

    def is_judge(body: dict[str, Any]) -> bool:
        return "Art of Problem Solving" in str(body["messages"][0]["content"])

    def answer(body: dict[str, Any]) -> str:
        if is_judge(body):
            return "Difficulty: 5"
        user = str(body["messages"][-1]["content"])
        return "So \\boxed{" + next(g for p, g in golds.items() if user.startswith(p)) + "}."

    script = Script(answer=answer, fail=lambda i: args.status if i % args.every == args.every - 1 else None)
    os.environ["OPENAI_API_KEY"] = "sk-FAKE-never-sent-to-the-teacher"
    with tempfile.TemporaryDirectory() as tmp, FakeServer(script) as url:
        src = Path(tmp) / "src.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in rows))
        run = Path(tmp) / "run"
        command = ["curate", "--out", str(run), "--source", f"local={src}", "--no-decontam"]
        # no engine retries, at most 4 connections (the loopback server's listen backlog is 5), no model
        # probe (the fake server lists one model, "m")
        opts = ["max_retries=0", "concurrency=4", "probe=false"]
        command += ["--judge-model", "judge", "--judge-base-url", url]
        command += [a for o in opts for a in ("--judge-option", o)]
        command += ["--teacher", "qwq", "--teacher-base-url", url]
        command += [a for o in opts for a in ("--teacher-option", o)]
        command += ["--n", str(args.n), "--max-tokens", "64"]
        print(
            f"{len(rows)} problems, request k fails with HTTP {args.status} when k % {args.every} == {args.every - 1}"
        )
        for attempt in range(1, 30):
            before = len(script.requests)
            start = time.monotonic()
            res = CliRunner().invoke(main, command)
            seconds = time.monotonic() - start
            manifest = json.loads((run / "manifest.json").read_text())
            stopped = next((s for s in manifest["stages"].values() if s.get("status") == "partial"), None)
            asked = len(script.requests) - before
            if stopped is None:
                print(f"run {attempt}: rc {res.exit_code}, complete, {asked} requests, {seconds:.2f} s")
                break
            req = stopped["requests"]
            print(
                f"run {attempt}: rc {res.exit_code}, {stopped['stage']} partial: {req['errors']} of {req['work']} "
                f"failed (asked {req['asked']}), {asked} requests, {seconds:.2f} s"
            )
        (log,) = [p for p in run.glob("teacher-*.jsonl") if not p.name.endswith(".grades.jsonl")]
        keys = [(r["id"], r["sample_index"]) for r in read_jsonl(log)]
        teacher_auth = {r["auth"] for r in script.requests if not is_judge(r["body"])}
        funnel = {s["stage"]: f"{s['rows_in']}->{s['rows_out']}" for s in manifest["funnel"]}
        print(
            f"teacher samples: {len(keys)} logged, {len(set(keys))} distinct; teacher Authorization: {teacher_auth}"
        )
        print(f"funnel: {funnel}")


if __name__ == "__main__":
    main_()
