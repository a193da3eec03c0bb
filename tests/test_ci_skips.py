"""In CI (``CI=true``) a skip fails, except a ``gpu`` test's; elsewhere skips stay skips (tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRATCH_TESTS = """
import pytest

pytest.importorskip("no_such_module_anywhere")
"""

RUNTIME_SKIPS = """
import pytest

def test_skips() -> None:
    pytest.skip("a missing tool")

@pytest.mark.gpu
def test_needs_cuda() -> None:
    pytest.skip("no CUDA device")

def test_runs() -> None:
    assert True
"""


def _run(folder: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    gpu: needs a CUDA GPU\n")
    (tmp_path / "test_runtime.py").write_text(RUNTIME_SKIPS)
    return tmp_path


def test_a_skip_fails_in_ci_but_a_gpu_skip_does_not(scratch: Path) -> None:
    ci = _run(scratch, "true")
    assert ci.returncode == 1, ci.stdout
    assert "1 failed, 1 passed, 1 skipped" in ci.stdout
    assert "skipped in CI, where every test must run: a missing tool" in ci.stdout
    local = _run(scratch, None)
    assert local.returncode == 0 and "1 passed, 2 skipped" in local.stdout, local.stdout


def test_a_module_skipped_at_collection_is_an_error_in_ci(scratch: Path) -> None:
    (scratch / "test_extra.py").write_text(SCRATCH_TESTS)
    ci = _run(scratch, "true")
    assert ci.returncode == 2, ci.stdout  # a collection error interrupts the run
    assert "skipped in CI, where every test must run: could not import 'no_such_module_anywhere'" in ci.stdout
    assert _run(scratch, None).returncode == 0
