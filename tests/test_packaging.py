"""Packaging: every package is installed under a name nothing in the user's working directory can shadow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import tomllib

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
