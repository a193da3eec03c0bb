"""The docs name only what exists: every ``skyeval``/``skydata``/``skytrain`` command line in README.md and
docs/*.md uses real subcommands and options (read from the click commands), every other ``--flag`` they name is
ours, a benchmark's or a listed third-party tool's, every repository path and ``skyeval.x.y`` name they cite
exists, and the README keeps its two set-up commands and indexes every page of docs/.

Nothing is run or imported beyond the three click command trees and the parent packages of the cited modules,
so a renamed flag, a moved module or a new page missing from the index fails here in well under a second."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from skydata.cli import main as skydata_main
from skyeval.cli import main as skyeval_main
from skytrain.cli import main as skytrain_main

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]
PROGRAMS: dict[str, click.Command] = {
    "skyeval": skyeval_main,
    "skydata": skydata_main,
    "skytrain": skytrain_main,
}

# Flags of other tools that the docs quote, by owner. Dotted (``--reward.remote_url``) and underscored
# (``--max_tokens_per_call``) flags are never ours (click options use dashes), so they need no entry.
FOREIGN_FLAGS = {
    "--check": "ruff format",
    "--no-deps": "pip",
    "--head": "ray start",
    "--port": "ray start, vllm serve",
    "--address": "ray start, ray job submit",
    "--num-gpus": "ray start",
    "--working-dir": "ray job submit",
    "--served-model-name": "vllm serve",
    "--continuous-batching": "transformers serve",
    "--host": "transformers serve",
    "--python-executable": "mypy",
    "--module": "deepspeed",
    "--standalone": "torchrun",
    "--dump-dom": "chromium",
    "--enable-logging": "chromium",
    "--sky-sys": "SkyThought's data_prepare_mini.py",
}
PROGRAM_RE = re.compile(r"(?<![\w./\-])(skyeval|skydata|skytrain)(?=\s|$)")
FLAG_RE = re.compile(r"(?<![\w\-])--[a-z][\w.\-]*[a-z0-9*]")
ENDS = {"&&", "||", "|", ";", "&", ">", "2>", ">>", "#", "--", "->", "→"}


@dataclass(frozen=True)
class Mention:
    """One command line found in a page: where, and its whitespace-separated words from the program on."""

    page: str
    words: tuple[str, ...]
    leading: bool = (
        True  # the code starts with it (or it follows `$`, `&&` ...), not a name inside a sentence
    )


def _fences_and_prose(text: str) -> tuple[list[str], str]:
    """The lines of the fenced code blocks (``\\`` continuations joined) and the text outside them."""
    lines, prose, fenced = [], [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced:
            lines.append(line)
        else:
            prose.append(line)
    joined = "\n".join(lines).replace("\\\n", " ")
    return joined.splitlines(), "\n".join(prose)


def _code(text: str) -> list[str]:
    """Every piece of code of a page: the fenced lines and the inline spans (which may wrap lines)."""
    fenced, prose = _fences_and_prose(text)
    return fenced + [span.replace("\n", " ") for span in re.findall(r"`([^`]+)`", prose)]


def mentions() -> Iterator[Mention]:
    for page in PAGES:
        for code in _code(page.read_text()):
            for m in PROGRAM_RE.finditer(code):
                before = code[: m.start()].split()
                words = tuple(code[m.start() :].split())
                yield Mention(page.name, words, not before or before[-1] in ENDS | {"$", "time"})


def _options(command: click.Command) -> dict[str, click.Option]:
    return {
        name: p
        for p in command.params
        if isinstance(p, click.Option)
        for name in (*p.opts, *p.secondary_opts)
    }


def _find(options: dict[str, click.Option], flag: str) -> click.Option | None | bool:
    """The option ``flag`` names; True for a wildcard (``--judge-*``) that matches some option; None if none."""
    if flag.endswith("*"):
        return any(name.startswith(flag[:-1]) for name in options)
    return options.get(flag)


def check(mention: Mention) -> list[str]:
    """What is wrong with one command line: unknown subcommands and options, with the command they were given to."""
    command = PROGRAMS[mention.words[0]]
    path = [mention.words[0]]
    words = [w.strip("[](),.:'\"") if w.startswith(("[", "(")) or w.endswith(("]", ")", ",", ".", ":")) else w
             for w in mention.words[1:]]  # fmt: skip
    problems: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word in ENDS or word.startswith("#"):
            break
        if word.startswith("-") and len(word) > 1 and not word[1].isdigit():
            flags = word.split("=", 1)[0].split("/")  # `--resamples/--seed`: two flags named together
            for flag in flags:
                found = _find(_options(command), flag) if flag != "--help" else True
                if found is None or found is False:
                    problems.append(f"{mention.page}: `{' '.join(path)}` has no option {flag}")
                elif (
                    isinstance(found, click.Option)
                    and not found.is_flag
                    and len(flags) == 1
                    and "=" not in word
                ):
                    i += found.nargs
        elif isinstance(command, click.Group):
            sub = command.commands.get(word)
            if sub is not None:
                command, path = sub, [*path, word]
            elif mention.leading and re.fullmatch(r"[a-z][a-z-]+", word):
                problems.append(f"{mention.page}: `{' '.join(path)}` has no subcommand {word!r}")
                break
            else:
                break  # not a command line after all (a name in prose)
    return problems


def test_every_documented_command_line_uses_real_subcommands_and_options() -> None:
    found = list(mentions())
    assert len(found) > 100, "the scanner found almost no command lines: its patterns are broken"
    assert {m.words[1] for m in found if len(m.words) > 1} >= {
        "run",
        "score",
        "report",
        "curate",
        "recipe",
        "rl",
    }
    problems = [p for m in found for p in check(m)]
    assert not problems, "\n".join(dict.fromkeys(problems))


def test_the_checker_catches_a_wrong_flag_and_subcommand() -> None:
    assert check(Mention("x.md", ("skyeval", "run", "--task", "amc23", "--samples", "8"))) == []
    assert (
        check(Mention("x.md", ("skytrain", "--backend", "trl", "recipe", "sky-t1-7b", "--variant", "blog")))
        == []
    )
    assert check(Mention("x.md", ("skyeval", "run", "--sample", "8"))) == [
        "x.md: `skyeval run` has no option --sample"
    ]
    assert check(Mention("x.md", ("skydata", "curate", "--judge-*"))) == []
    assert check(Mention("x.md", ("skydata", "curate", "--jduge-*"))) != []
    assert check(Mention("x.md", ("skyeval", "rescore", "RUN"))) == [
        "x.md: `skyeval` has no subcommand 'rescore'"
    ]


def _script_flags() -> set[str]:
    """The ``--flags`` of the hand-run scripts the docs quote (benchmarks, scripts, test workers)."""
    flags: set[str] = set()
    for folder in ("benchmarks", "scripts", "tests/testkit"):
        for script in (ROOT / folder).glob("*.py"):
            flags |= set(re.findall(r"add_argument\(\s*\"(--[\w-]+)\"", script.read_text()))
    return flags


def _click_flags() -> set[str]:
    flags: set[str] = set()

    def walk(command: click.Command) -> None:
        flags.update(_options(command))
        for sub in command.commands.values() if isinstance(command, click.Group) else ():
            walk(sub)

    for program in PROGRAMS.values():
        walk(program)
    return flags


def test_every_flag_the_docs_name_exists_somewhere() -> None:
    known = _click_flags() | _script_flags() | set(FOREIGN_FLAGS) | {"--help"}
    problems = []
    for page in PAGES:
        text = re.sub(r"\]\([^)]*\)", "]", page.read_text())  # link targets (#--backend-trl-...) are anchors
        for flag in sorted(set(FLAG_RE.findall(text))):
            if "." in flag or "_" in flag:
                continue  # another tool's (OpenRLHF, accelerate, torchrun, the Qwen harness ...)
            if flag.endswith("*") and any(k.startswith(flag[:-1]) for k in known):
                continue
            if flag not in known:
                problems.append(f"{page.name}: {flag}")
    assert not problems, "flags no command or script has: " + ", ".join(problems)


# Files of this repository the docs cite (a last component with a suffix or a glob; ``skyeval/no_answer`` is a
# metric's name), less paths of other repositories that happen to share a top folder.
PATH_RE = re.compile(
    r"(?<![\w./-])((?:skyeval|skydata|backends|benchmarks|scripts|tests|tasks)/(?:[\w*-]+/)*[\w*-]*[.*][\w.*]*)"
)
OTHER_REPOS = {
    "scripts/eval/eval_model.sh",
    "scripts/data/deepscaler_dataset.py",
}  # agentica-project/deepscaler


def test_every_repository_path_the_docs_cite_exists() -> None:
    missing = []
    for page in PAGES:
        for path in sorted(set(PATH_RE.findall(page.read_text()))):
            if path not in OTHER_REPOS and not any(ROOT.glob(path)):
                missing.append(f"{page.name}: {path}")
    assert not missing, "paths that do not exist: " + ", ".join(missing)


def _top_level_names(source: Path) -> set[str]:
    """Names a module defines or imports at top level (``if TYPE_CHECKING:`` blocks included)."""
    names: set[str] = set()
    body = list(ast.parse(source.read_text()).body)
    while body:
        node = body.pop()
        if isinstance(node, ast.If):
            body += node.body + node.orelse
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _resolves(dotted: str) -> bool:
    """``skyeval.results.read_summary``: the longest prefix that is a module, then a name defined there. Read
    from the source, so citing ``skytrain.prime.PrimeTrainer`` does not import TRL."""
    parts = dotted.split(".")
    spec, k = importlib.util.find_spec(parts[0]), 1
    while spec is not None and spec.submodule_search_locations is not None and k < len(parts):
        child = importlib.util.find_spec(".".join(parts[: k + 1]))  # imports the package parts[:k] only
        if child is None:
            break
        spec, k = child, k + 1
    if spec is None or spec.origin is None:
        return False
    return k == len(parts) or parts[k] in _top_level_names(Path(spec.origin))


def test_every_dotted_name_the_docs_cite_exists() -> None:
    cited = set()
    for page in PAGES:
        cited |= {
            (page.name, n)
            for n in re.findall(r"\b((?:skyeval|skydata|skytrain)(?:\.[A-Za-z_]\w*)+)", page.read_text())
        }
    missing = [
        f"{page}: {name}"
        for page, name in sorted(cited)
        if not name.endswith((".py", ".md")) and not _resolves(name)
    ]
    assert not missing, "cited names that do not exist: " + ", ".join(missing)


def test_readme_has_two_set_up_commands_and_indexes_every_page() -> None:
    readme = (ROOT / "README.md").read_text()
    set_up = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", set_up, re.S)
    assert [b.count("\n") for b in blocks] == [1, 1], blocks  # one line each
    assert blocks[0].startswith("pip install -e '.[vllm]' && skyeval run ")
    assert blocks[1] == "pip install -c .ci/constraints.txt -e '.[test]' && python -m pytest -q\n"
    assert (ROOT / ".ci" / "constraints.txt").is_file()
    index = readme.split("## Documentation", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"\]\((docs/[\w-]+\.md)\)", index))
    assert listed == {f"docs/{p.name}" for p in DOCS}


@pytest.mark.parametrize("name", ["skyeval", "skydata", "skytrain"])
def test_readme_command_table_names_real_commands(name: str) -> None:
    table = (ROOT / "README.md").read_text().split("## Commands", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(rf"`{name} ([a-z-]+)", table))
    group = PROGRAMS[name]
    assert isinstance(group, click.Group)
    assert named and named <= set(group.commands), named - set(group.commands)


def _checked_quick_start(block: str) -> str:
    """The README's snippet with each documented value asserted: ``expr  # 'value'`` (a literal) becomes an
    equality check, and a comment line under ``name = ...`` is ``repr(name)``."""
    out, last_name = [], ""
    for line in block.splitlines():
        code, _, comment = line.partition("  # ")
        if line.startswith("# ") and last_name:
            out.append(f"assert repr({last_name}) == {line[2:]!r}, repr({last_name})")
            continue
        try:
            expected = ast.literal_eval(comment) if comment else None
        except (ValueError, SyntaxError):
            expected = None  # a remark, not a value
        target = re.match(r"(\w+) = ", code)
        last_name = target.group(1) if target else ""
        out.append(f"assert ({code}) == {expected!r}, {code!r}" if comment and expected is not None else code)
    return "\n".join(out)


def test_readme_quick_start_gives_the_values_it_shows() -> None:
    readme = (ROOT / "README.md").read_text()
    (block,) = re.findall(r"## Library quick start\n\n```python\n(.*?)```", readme, re.S)
    script = _checked_quick_start(block)
    assert script.count("assert ") == 3, script  # extract_answer, is_equivalent, the Grade
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
