"""Decontamination: drop items whose normalised problem shares a word n-gram with any skyeval benchmark problem.

The index holds the n-gram hashes of every benchmark problem (a few hundred thousand ints); items stream
through it. Each drop names the benchmark, the problem id and the overlapping words.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from skydata.records import Drop, Item
from skydata.textsig import ngram_hashes, tokens
from skyeval.errors import SkyevalError


@dataclass(frozen=True)
class BenchmarkProblem:
    task: str
    id: str
    text: str


@dataclass(frozen=True)
class Benchmarks:
    problems: tuple[BenchmarkProblem, ...]
    tasks: tuple[str, ...]  # tasks loaded
    skipped: tuple[str, ...]  # default tasks with no file in the data dir (reported, never silent)


def load_benchmarks(tasks: Sequence[str] = (), *, data_dir: str | Path | None = None) -> Benchmarks:
    """The problems of ``tasks`` (default: every skyeval task) through ``skyeval.tasks``: from ``data_dir``
    (``<task>.jsonl``) when given, else the Hub. With the default task list and a data dir, tasks without a
    file there are skipped and listed in ``skipped``; explicitly named tasks must load."""
    from skyeval.tasks import get_task, load_task, task_names

    names = list(tasks) or task_names()
    problems: list[BenchmarkProblem] = []
    loaded, skipped = [], []
    for name in names:
        if not tasks and data_dir is not None and not (Path(data_dir) / f"{name}.jsonl").is_file():
            skipped.append(name)
            continue
        task = load_task(get_task(name), data_dir=data_dir)
        problems.extend(BenchmarkProblem(name, p.id, p.question) for p in task.problems)
        loaded.append(name)
    if not problems:
        raise SkyevalError("no benchmark problems to decontaminate against (check --task / --data-dir)")
    return Benchmarks(tuple(problems), tuple(loaded), tuple(skipped))


@dataclass(frozen=True)
class DecontamConfig:
    n: int = 8  # words per n-gram; benchmark problems shorter than n match on their whole text
    min_hits: int = 1  # overlapping n-grams needed to call an item contaminated


class NgramIndex:
    """n-gram hash -> (task, id, words) of the benchmark problem it came from."""

    def __init__(self, problems: Iterable[BenchmarkProblem], n: int) -> None:
        self.n = n
        self.table: dict[int, tuple[str, str, str]] = {}
        self.short: dict[int, tuple[str, str, str]] = {}
        for p in problems:
            toks = tokens(p.text)
            if not toks:
                continue
            target = self.short if len(toks) < n else self.table
            for i, h in enumerate(ngram_hashes(toks, n)):
                target.setdefault(h, (p.task, p.id, " ".join(toks[i : i + n])))

    def hits(self, text: str, limit: int) -> list[tuple[str, str, str]]:
        toks = tokens(text)
        found = []
        for h in ngram_hashes(toks, self.n):
            hit = self.table.get(h)
            if hit is not None:
                found.append(hit)
                if len(found) >= limit:
                    return found
        if self.short:
            whole = ngram_hashes(toks, len(toks) + 1)
            if whole and whole[0] in self.short:
                found.append(self.short[whole[0]])
        return found


def decontaminate(
    items: Iterable[Item], index: NgramIndex, config: DecontamConfig = DecontamConfig()
) -> Iterator[Item | Drop]:
    """Pass clean items; contaminated ones become ``Drop``s naming the benchmark problem and the overlap."""
    for item in items:
        hits = index.hits(item.problem, config.min_hits)
        if len(hits) >= config.min_hits:
            task, pid, words = hits[0]
            yield Drop(item.id, "contaminated", f"{task}:{pid} shares '{words}'")
        else:
            yield item
