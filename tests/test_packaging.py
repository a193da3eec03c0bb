"""Packaging: every package is installed under a name nothing in the user's working directory can shadow, and the
dependency floors checked in docs/development.md are not lowered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
# The design card's folders and the import names they install under (pyproject's package-dir).
FOLDERS = {"backends": "skytrain", "tasks": "skyeval.task_defs"}


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


def test_every_package_folder_is_listed() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    assert setuptools["package-dir"] == {v: k for k, v in FOLDERS.items()}
    found = set()
    for top in ("skyeval", "skydata", *FOLDERS):
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT).parts
            found.add(".".join((FOLDERS.get(parts[0], parts[0]), *parts[1:])))
    assert found == listed


def test_library_and_training_package_import_from_a_folder_that_would_shadow_them(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text("# an invoke/Celery tasks file\n")
    (tmp_path / "backends").mkdir()
    (tmp_path / "backends" / "__init__.py").write_text("raise ImportError('the wrong backends')\n")
    code = (
        "from skyeval.tasks import get_task; assert get_task('aime24').name == 'aime24'\n"
        "import skytrain.cli, skytrain.trl_backend\n"
        "from skytrain import recipes; assert 'sky-t1-7b' in recipes.available()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, env=env)


def test_pytest_runs_from_a_folder_holding_a_tasks_module(tmp_path: Path) -> None:
    (tmp_path / "tasks.py").write_text("# an invoke/Celery tasks file\n")
    (tmp_path / "test_user.py").write_text(
        "from skyeval.tasks import task_names\n\ndef test_names():\n    assert 'math500' in task_names()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_user.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# The floors docs/development.md ("Dependency floors") checked: (group, package) -> the lowest version that has
# what the code calls. "base" is [project] dependencies; anything else is an extra.
CHECKED_FLOORS = {
    ("base", "sympy"): "1.12",
    ("base", "latex2sympy2_extended"): "1.10.1",
    ("base", "click"): "8.1",
    ("base", "tqdm"): "4.66",
    ("hf", "huggingface_hub"): "1.0",
    ("hf", "transformers"): "5.0",
    ("hf", "datasets"): "2.20",
    ("vllm", "huggingface_hub"): "1.0",
    ("report", "pandas"): "2.0",
    ("report", "matplotlib"): "3.7",
    ("report", "latex2mathml"): "3.81",
    ("parquet", "pyarrow"): "14",
    ("ray", "ray"): "2.9",
    ("train", "trl"): "1.16",
    ("train", "transformers"): "5.15",
    ("openrlhf", "openrlhf"): "0.11.2",
    ("openai", "openai"): "3.57",
    ("test", "click"): "8.2",
    ("test", "matplotlib"): "3.8",
    ("test", "math-verify"): "0.8",
    ("test", "ruff"): "0.13",
    ("test", "mypy"): "1.17",
    ("test", "transformers"): "5.15",
}


def _requirements() -> dict[str, list[Requirement]]:
    project = _pyproject()["project"]
    groups = {"base": project["dependencies"], **project["optional-dependencies"]}
    return {group: [Requirement(spec) for spec in specs] for group, specs in groups.items()}


def test_checked_floors_are_not_lowered() -> None:
    requirements = _requirements()
    for (group, name), checked in CHECKED_FLOORS.items():
        floors = [
            Version(spec.version)
            for req in requirements[group]
            if canonicalize_name(req.name) == canonicalize_name(name)
            for spec in req.specifier
            if spec.operator == ">="
        ]
        assert floors, f"[{group}] lists no floor for {name}"
        assert max(floors) >= Version(checked), (
            f"[{group}] {name}>={max(floors)} is below the checked {checked}"
        )


def test_no_upper_bounds_or_pins() -> None:
    """Floors only: pins for CI live in .ci/constraints.txt, never in what users install."""
    for group, reqs in _requirements().items():
        for req in reqs:
            bad = [str(spec) for spec in req.specifier if spec.operator not in (">=", "!=")]
            assert not bad, f"[{group}] {req.name}: {bad}"
