"""SIGTERM and SIGHUP stop ``skyeval run`` like Ctrl-C: partial summary, one resume line, non-zero exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from testkit.fake_openai_server import FakeServer, Script

from skyeval import results
from skyeval.signals import SignalInterrupt, interrupt_on_signals


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from skyeval.cli import main; main()", *args]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_leaves_a_partial_summary_and_the_resume_line(tmp_path: Path, sig: signal.Signals) -> None:
    rows = [{"id": i, "problem": f"Problem {i}?", "answer": "42"} for i in range(10)]
    (tmp_path / "amc23.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    script = Script(delay=0.08)
    with FakeServer(script) as url:
        args = [
            "run", "--model", "m", "--task", "amc23", "--base-url", url, "--data-dir", str(tmp_path),
            "--output-dir", str(tmp_path / "runs"), "--concurrency", "2", "-E", "use_n=false",
            "--samples", "4", "--no-progress",
        ]  # fmt: skip
        proc = subprocess.Popen(_cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = list((tmp_path / "runs").glob("*/*/*/samples.jsonl"))
            if found and found[0].read_text().count("\n") >= 8:
                break
            time.sleep(0.02)
        sent = time.monotonic()
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
        print(f"{sig.name}: exited {time.monotonic() - sent:.2f} s after the signal")
        run_dir = found[0].parent
        kept = len(results.read_samples(run_dir))
        assert proc.returncode == 2 and stdout == ""
        assert stderr.strip() == (
            f"error: interrupted ({sig.name}): {kept} sample(s) kept in {run_dir}; "
            "re-run the same command to resume"
        )
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["complete"] is False and summary["samples"] == kept and 8 <= kept < 40

        before = len(script.requests)
        done = subprocess.run(_cli(*args), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert len(script.requests) - before <= 40 - kept + 2  # only the missing (and the ones in flight)
        assert json.loads((run_dir / "summary.json").read_text())["complete"] is True


def test_handlers_are_installed_for_the_block_and_restored_after() -> None:
    def mine(signum: int, frame: object) -> None:
        raise AssertionError("not called")

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        with interrupt_on_signals():
            assert signal.getsignal(signal.SIGTERM) not in (mine, signal.SIG_DFL)
            with pytest.raises(SignalInterrupt) as info:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the handler raises here, at once
            assert info.value.signame == "SIGTERM" and isinstance(info.value, KeyboardInterrupt)
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_an_ignored_signal_stays_ignored_and_other_threads_install_nothing() -> None:
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with interrupt_on_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        seen = []

        def in_thread() -> None:
            with interrupt_on_signals():  # Python allows handlers only in the main thread: a no-op here
                seen.append(signal.getsignal(signal.SIGTERM))

        worker = threading.Thread(target=in_thread)
        worker.start()
        worker.join()
        assert seen == [signal.getsignal(signal.SIGTERM)]
    finally:
        signal.signal(signal.SIGHUP, previous)
