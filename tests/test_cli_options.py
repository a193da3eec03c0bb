"""Every option of ``run``, ``score``, ``report``, ``grade``, ``tasks`` and ``import`` given a bad value: exit 2, one line,
no traceback, nothing created or changed. The options are read from the click commands, so a new option without
a case here fails ``test_every_option_has_a_bad_value``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from testkit.fake_openai_server import FakeServer, Script

from skyeval.cli import main

COMMANDS = ("run", "score", "report", "grade", "tasks", "import")
FIXTURES = Path(__file__).resolve().parent / "data" / "importers"


class Env:
    """The files a case needs: data, a run directory, a graded file, a server, a tiny model, a blocking file."""

    def __init__(self, root: Path, url: str, model: Path) -> None:
        self.root, self.url, self.model = root, url, model
        self.data = root / "data"
        self.data.mkdir()
        rows = [{"id": i, "problem": f"P{i}?", "answer": "42", "level": "L1"} for i in range(2)]
        (self.data / "amc23.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        self.file_task = f"file:{self.data / 'amc23.jsonl'}"
        self.graded = root / "graded.jsonl"
        self.graded.write_text('{"response": "\\\\boxed{42}", "answer": "42"}\n')
        self.blocker = root / "afile"
        self.blocker.write_text("")
        self.out = root / "out"  # where a case would write: must not exist afterwards
        done = CliRunner().invoke(main, [*self.openai(), "-o", str(root / "runs"), "--no-progress"])
        assert done.exit_code == 0, done.output
        (self.run_dir,) = (root / "runs").glob("*/*/*")

    def openai(self, *extra: str) -> list[str]:
        return ["run", "-m", "m", "--base-url", self.url, "--task", "amc23", "-n", "1", "--data-dir",
                str(self.data), *extra]  # fmt: skip

    def hf(self, *extra: str) -> list[str]:
        return ["run", "-m", str(self.model), "--engine", "hf", "--task", "amc23", "-n", "1", "--data-dir",
                str(self.data), *extra]  # fmt: skip

    def imp(self, *extra: str) -> list[str]:
        return ["import", str(FIXTURES / "skythought" / "results.json"), "--from", "skythought", "--task",
                "math500", "--data-dir", str(FIXTURES / "data"), *extra]  # fmt: skip

    def file(self, *extra: str) -> list[str]:
        return ["run", "-m", "m", "--base-url", self.url, "--task", self.file_task, "-n", "1",
                "--question-field", "problem", *extra]  # fmt: skip


Case = Callable[[Env], tuple[list[str], str]]

# (command, option name) -> cases: the arguments (``-o``/``--out`` added where the command writes) and a part of
# the one-line error they must give.
BAD: dict[tuple[str, str], list[Case]] = {
    ("run", "model"): [lambda e: (e.hf("--model", "./no/such/model"), "model path not found")],
    ("run", "tasks"): [lambda e: (e.openai("--task", "nosuch"), "unknown task 'nosuch'")],
    ("run", "engine"): [lambda e: (e.openai("--engine", "nosuch"), "unknown engine 'nosuch'")],
    ("run", "samples"): [lambda e: (e.openai("--samples", "0"), "--samples must be >= 1")],
    ("run", "temperature"): [lambda e: (e.openai("--temperature", "-1"), "--temperature must be >= 0")],
    ("run", "top_p"): [lambda e: (e.openai("--top-p", "1.5"), "--top-p must be in (0, 1]")],
    ("run", "max_tokens"): [lambda e: (e.openai("--max-tokens", "0"), "--max-tokens must be >= 1")],
    ("run", "seed"): [lambda e: (e.openai("--seed", "abc"), "Invalid value for '--seed'")],
    ("run", "system_prompt"): [
        lambda e: (e.openai("--system-prompt", "nope"), "unknown system prompt 'nope'")
    ],
    ("run", "protocol"): [lambda e: (e.openai("--protocol", "nosuch"), "unknown protocol 'nosuch'")],
    ("run", "limit"): [lambda e: (e.openai("--limit", "0"), "--limit must be >= 1")],
    ("run", "output_dir"): [
        lambda e: (e.openai("-o", str(e.blocker)), "cannot write run directory under"),
        lambda e: (e.openai("-o", str(e.blocker / "runs")), "is a file, not a directory"),
    ],
    ("run", "data_dir"): [lambda e: (e.openai("--data-dir", str(e.root / "nope")), "data dir not found")],
    ("run", "id_field"): [
        lambda e: (e.file("--id-field", "nosuch"), "lacks field(s) nosuch"),
        lambda e: (e.openai("--id-field", "id"), "apply to file:PATH tasks only"),
    ],
    ("run", "question_field"): [lambda e: (e.file("--question-field", "nosuch"), "lacks field(s) nosuch")],
    ("run", "gold_field"): [lambda e: (e.file("--gold-field", "nosuch"), "lacks field(s) nosuch")],
    ("run", "meta_field"): [lambda e: (e.file("--meta-field", "nosuch"), "--meta-field nosuch: no row")],
    ("run", "base_url"): [lambda e: (e.openai("--base-url", "localhost:8000"), "is not an http(s) URL")],
    ("run", "api_key_env"): [lambda e: (e.openai("--api-key-env", "MY KEY"), "not an environment variable")],
    ("run", "mode"): [lambda e: (e.openai("--mode", "chatty"), "Invalid value for '--mode'")],
    ("run", "concurrency"): [lambda e: (e.openai("--concurrency", "0"), "Invalid value for '--concurrency'")],
    ("run", "tensor_parallel_size"): [
        lambda e: (e.hf("--tensor-parallel-size", "0"), "Invalid value for '--tensor-parallel-size'")
    ],
    ("run", "dtype"): [lambda e: (e.hf("--dtype", "float8"), "Invalid value for '--dtype'")],
    ("run", "max_model_len"): [
        lambda e: (e.hf("--max-model-len", "0"), "Invalid value for '--max-model-len'")
    ],
    ("run", "batch_size"): [lambda e: (e.hf("--batch-size", "0"), "Invalid value for '--batch-size'")],
    ("run", "device"): [lambda e: (e.hf("--device", "nosuch"), "unknown device 'nosuch'")],
    ("run", "engine_option"): [
        lambda e: (e.openai("-E", "bogus=1"), "does not take option(s) bogus"),
        lambda e: (e.openai("-E", "noequals"), "engine option must be KEY=VALUE"),
        lambda e: (e.openai("-E", "concurrency=abc"), "must be int like its default"),
    ],
    ("run", "ray_address"): [lambda e: (e.openai("--ray", " "), "Invalid value for '--ray'")],
    ("run", "replicas"): [
        lambda e: (e.openai("--replicas", "2"), "--replicas 2 needs --ray"),
        lambda e: (e.openai("--replicas", "0"), "Invalid value for '--replicas'"),
    ],
    ("run", "grade_timeout"): [lambda e: (e.openai("--grade-timeout", "0"), "--grade-timeout must be > 0")],
    ("run", "grade_policy"): [lambda e: (e.openai("--grade-policy", "nosuch"), "unknown grading policy")],
    ("score", "run_dirs"): [
        lambda e: (["score", str(e.root / "nope")], "not a run directory"),
        lambda e: (["score", str(e.data)], "not a run directory"),
    ],
    ("score", "grade_timeout"): [
        lambda e: (["score", str(e.run_dir), "--grade-timeout", "0"], "--grade-timeout must be > 0")
    ],
    ("score", "ray_address"): [
        lambda e: (["score", str(e.run_dir), "--ray", ""], "Invalid value for '--ray'")
    ],
    ("score", "replicas"): [
        lambda e: (["score", str(e.run_dir), "--replicas", "3"], "--replicas 3 needs --ray")
    ],
    ("score", "grade_policy"): [
        lambda e: (["score", str(e.run_dir), "--grade-policy", "x"], "unknown grading policy 'x'")
    ],
    ("report", "run_dirs"): [lambda e: (["report", str(e.root / "nope")], "not a run directory")],
    ("report", "out"): [
        lambda e: (["report", str(e.run_dir), "--out", str(e.blocker)], "cannot write report directory"),
        lambda e: (["report", str(e.run_dir), "--out", str(e.blocker / "r")], "is a file, not a directory"),
    ],
    ("report", "formats"): [
        lambda e: (["report", str(e.run_dir), "--format", "pdf"], "unknown report format")
    ],
    ("report", "labels"): [
        lambda e: (["report", str(e.run_dir), "--label", "a", "--label", "b"], "got 2 labels for 1 run")
    ],
    ("report", "compare"): [
        lambda e: (["report", str(e.run_dir), "--compare", "x", "y"], "--compare: no run labelled 'x'")
    ],
    ("report", "tokenizer"): [
        lambda e: (["report", str(e.run_dir), "--tokenizer", "bpe"], "Invalid value for '--tokenizer'")
    ],
    ("report", "min_budget"): [
        lambda e: (["report", str(e.run_dir), "--min-budget", "0"], "Invalid value for '--min-budget'")
    ],
    ("report", "resamples"): [
        lambda e: (["report", str(e.run_dir), "--resamples", "0"], "Invalid value for '--resamples'")
    ],
    ("report", "seed"): [lambda e: (["report", str(e.run_dir), "--seed", "x"], "Invalid value for '--seed'")],
    ("report", "completion_chars"): [
        lambda e: (["report", str(e.run_dir), "--html-completion-chars", "-1"], "Invalid value for")
    ],
    ("grade", "path"): [lambda e: (["grade", str(e.root / "nope.jsonl")], "not found")],
    ("grade", "response_field"): [
        lambda e: (["grade", str(e.graded), "--response-field", "r"], "has no 'r' field")
    ],
    ("grade", "gold_field"): [lambda e: (["grade", str(e.graded), "--gold-field", "g"], "has no 'g' field")],
    ("grade", "output"): [
        lambda e: (["grade", str(e.graded), "-o", str(e.blocker / "x.jsonl")], "cannot write")
    ],
    ("grade", "timeout"): [
        lambda e: (["grade", str(e.graded), "--timeout", "0"], "Invalid value for '--timeout'")
    ],
    ("grade", "workers"): [
        lambda e: (["grade", str(e.graded), "--workers", "0"], "Invalid value for '--workers'")
    ],
    ("grade", "policy"): [
        lambda e: (["grade", str(e.graded), "--policy", "nosuch"], "unknown grading policy 'nosuch'")
    ],
    ("grade", "compare_field"): [
        lambda e: (["grade", str(e.graded), "--compare-field", "theirs"], "has no 'theirs' field")
    ],
    ("grade", "disagreements"): [
        lambda e: (
            ["grade", str(e.graded), "--disagreements", str(e.out)],
            "--disagreements needs --compare-field",
        )
    ],
    ("tasks", "data_dir"): [lambda e: (["tasks", "--data-dir", str(e.root / "nope")], "data dir not found")],
    ("import", "paths"): [
        lambda e: (
            ["import", str(e.root / "nope.json"), "--from", "skythought", "--task", "math500"],
            "not found",
        )
    ],
    ("import", "fmt"): [lambda e: (e.imp("--from", "nosuch"), "unknown import format 'nosuch'")],
    ("import", "task"): [lambda e: (e.imp("--task", "nosuch"), "unknown task 'nosuch'")],
    ("import", "model"): [lambda e: (e.imp("--model", " "), "--model must not be empty")],
    ("import", "output_dir"): [
        lambda e: (e.imp("-o", str(e.blocker)), "cannot write run directory under"),
        lambda e: (e.imp("-o", str(e.blocker / "runs")), "is a file, not a directory"),
    ],
    ("import", "data_dir"): [lambda e: (e.imp("--data-dir", str(e.root / "nope")), "data dir not found")],
    ("import", "source_option"): [
        lambda e: (e.imp("-S", "bogus=1"), "does not take option(s) bogus"),
        lambda e: (e.imp("-S", "noequals"), "--source-option must be KEY=VALUE"),
    ],
    ("import", "grade_timeout"): [lambda e: (e.imp("--grade-timeout", "0"), "--grade-timeout must be > 0")],
    ("import", "grade_policy"): [lambda e: (e.imp("--grade-policy", "nosuch"), "unknown grading policy")],
}


def _options(command: str) -> list[str]:
    """The parameters of ``skyeval COMMAND`` that take a value (flags cannot be given a bad one)."""
    cmd = main.commands[command]
    return [p.name for p in cmd.params if p.name and not (isinstance(p, click.Option) and p.is_flag)]


OPTIONS = [(command, name) for command in COMMANDS for name in _options(command)]


def test_every_option_has_a_bad_value() -> None:
    missing = [f"skyeval {c} {n}" for c, n in OPTIONS if (c, n) not in BAD]
    assert not missing, f"add a bad value for: {', '.join(missing)}"
    assert not set(BAD) - set(OPTIONS), "cases for options that no longer exist"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Env]:
    with FakeServer(Script()) as url:
        yield Env(tmp_path_factory.mktemp("options"), url, tiny_model_dir)


def _error_lines(output: str) -> list[str]:
    """What is left of the output once progress bars (redrawn in place with ``\\r``) are taken out."""
    return [part for part in re.split(r"[\r\n]", output) if part.strip() and "%|" not in part]


def _snapshot(root: Path) -> dict[str, bytes | None]:
    return {str(p): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize(
    ("command", "option", "index"),
    [(c, n, i) for (c, n), cases in BAD.items() for i in range(len(cases))],
    ids=lambda v: str(v),
)
def test_a_bad_value_is_one_line_exit_2_and_writes_nothing(
    env: Env, command: str, option: str, index: int
) -> None:
    args, message = BAD[(command, option)][index](env)
    if command in ("run", "import") and "-o" not in args:
        args += ["-o", str(env.out)]
    if command == "report" and "--out" not in args:
        args += ["--out", str(env.out)]
    before = _snapshot(env.root)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (args, result.output)
    (text,) = _error_lines(result.output)
    assert text.startswith("error: ") and "Traceback" not in result.output, result.output
    assert message in text, text
    assert _snapshot(env.root) == before  # no directory created, no file changed
