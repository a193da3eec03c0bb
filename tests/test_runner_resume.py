"""Resume after ``kill -9``: a ``skyeval run`` subprocess is SIGKILLed mid-way, then re-run and topped up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from testkit.fake_openai_server import FakeServer, Script

from skyeval import results


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from skyeval.cli import main; main()", *args]


def test_sigkill_then_resume_then_top_up(tmp_path: Path) -> None:
    rows = [{"id": i, "problem": f"Problem {i}?", "answer": "42"} for i in range(10)]
    (tmp_path / "amc23.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    script = Script(delay=0.08)
    with FakeServer(script) as url:
        args = [
            "run", "--model", "m", "--task", "amc23", "--engine", "openai", "--base-url", url,
            "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "runs"), "--concurrency", "2",
            "-E", "use_n=false", "--no-progress",
        ]  # fmt: skip
        proc = subprocess.Popen(
            [*_cli(*args, "--samples", "4")], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        samples = None
        while time.monotonic() < deadline:
            found = list((tmp_path / "runs").glob("*/*/*/samples.jsonl"))
            if found and found[0].read_text().count("\n") >= 8:
                samples = found[0]
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert samples is not None, "the run wrote no samples"
        written = samples.read_text().count("\n")
        assert 8 <= written < 40, "killed too late to test resume"

        done = subprocess.run(_cli(*args, "--samples", "4"), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        records = results.read_samples(samples.parent)
        per = Counter(r.problem_id for r in records)
        keys = [(r.problem_id, r.sample_index) for r in records]
        assert len(keys) == len(set(keys)) == 40 and set(per.values()) == {4}
        sent_before = len(script.requests)
        assert sent_before <= 40 + 2  # at most the in-flight requests were lost and redone

        more = subprocess.run(_cli(*args, "--samples", "6"), capture_output=True, text=True, timeout=120)
        assert more.returncode == 0, more.stderr
        assert len(script.requests) - sent_before == 20  # only the missing indices 4 and 5
        records = results.read_samples(samples.parent)
        assert sorted({r.sample_index for r in records}) == list(range(6)) and len(records) == 60
        summary = results.read_summary(samples.parent)
        assert summary.n == 6 and summary.scores is not None and summary.scores.pass_at_1 == 1.0
        assert summary.complete is True
