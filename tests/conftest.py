"""Shared fixtures: the read-only ``../shared`` material and a tiny local model; in CI, no skips.

A missing ``../shared`` fails the tests that need it (CI must never pass by skipping them); a user's clone
without it can opt out with ``SKYEVAL_NO_SHARED=1``, which skips them instead. Under ``CI=true`` (as ``.ci/run``
runs) every skip is a failure, a missing extra or tool included, except a ``gpu`` test's on a machine without
CUDA: what CI reports passed has run.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """In CI a skipped test fails, unless it is a ``gpu`` test (they skip with their reason without CUDA)."""
    report = yield
    if report.skipped and _in_ci() and item.get_closest_marker("gpu") is None:
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every test must run: {_skip_reason(report)}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """In CI a module skipped at collection (``pytest.importorskip`` of a missing extra) is an error."""
    report = yield
    if report.skipped and _in_ci():
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every test must run: {_skip_reason(report)}"
    return report


@pytest.fixture(autouse=True)
def _hub_offline_env() -> Iterator[None]:
    """``skyeval.hub.probe`` sets ``HF_HUB_OFFLINE=1`` for the process when the Hub does not answer (as it
    never does here); in-process CLI tests must not pass that on to the next test."""
    before = os.environ.get("HF_HUB_OFFLINE")
    yield
    if before is None:
        os.environ.pop("HF_HUB_OFFLINE", None)
    else:
        os.environ["HF_HUB_OFFLINE"] = before


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout: a missing one is an error (``SKYEVAL_NO_SHARED=1`` skips instead)."""
    if not SHARED.is_dir():
        message = f"{SHARED} (benchmark copies, grader cases, generations) is not beside this checkout"
        if os.environ.get("SKYEVAL_NO_SHARED") == "1":
            pytest.skip(message)
        pytest.fail(message + "; set SKYEVAL_NO_SHARED=1 to skip the tests that need it")
    return SHARED


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Qwen2 chat model with a locally trained BPE tokenizer (built once per session)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from skyeval.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2"))


@pytest.fixture(scope="session")
def served_tiny(tiny_model_dir: Path) -> Iterator[tuple[str, str]]:
    """``(base_url, model)`` of a real ``transformers serve`` on the tiny model, loopback only, shared by the
    session and stopped at its end."""
    from testkit.serve import serve_model

    try:
        with serve_model(tiny_model_dir) as url:
            yield url, str(tiny_model_dir)
    except RuntimeError as err:
        if "not installed" in str(err):
            pytest.skip(str(err))
        raise
