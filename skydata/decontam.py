"""Decontamination: drop items that contain a copy of a benchmark problem, not items that share its phrasing.

A *copy* of benchmark problem B (|B| words after ``textsig.tokens``) is a window of the item's words within
``edit_budget(|B|)`` word edits of B (substitutions, insertions, deletions; one per four words by default).
So a verbatim copy, a copy with a sentence prepended or appended, one number changed or a few words reworded
matches, while shared boilerplate ("m and n are relatively prime positive integers") never does: it is a
small part of any benchmark problem, and the rest of B must be there too.

The search is a filter, then an exact alignment. Every word 3-gram of the benchmark problems gets its
document frequency over those problems (the phrases common to many problems are the boilerplate, computed,
not listed); each problem keeps min(e+1, ``max_keys``) non-overlapping keys, its rarest 3-grams. An edit
breaks at most one non-overlapping key, so a copy with fewer edits than keys always keeps one: nothing is
missed up to ``max_keys`` - 1 edits. Rows holding a key pass two counting bounds (shared distinct words, the
q-gram lemma) and are then aligned with Myers' bit-parallel approximate string matching over word hashes
(a dozen integer operations per row word). The index is about 10k keys for 1.5k problems; rows stream
through it one at a time and nothing of them is kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from skydata.records import Drop, Item
from skydata.textsig import grams, token_hashes, tokens
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
    max_edit_ratio: float = 0.25  # word edits allowed per benchmark-problem word: 1 per 4 words
    key_words: int = 3  # words per retrieval key; a problem under 2 keys' length must appear verbatim
    max_keys: int = 8  # keys per problem: a copy with fewer edits than its keys is always found

    def __post_init__(self) -> None:
        if not 0 <= self.max_edit_ratio < 1:
            raise SkyevalError(f"max edit ratio must be in [0, 1), got {self.max_edit_ratio}")
        if self.key_words < 1 or self.max_keys < 1:
            raise SkyevalError(
                f"key words and max keys must be at least 1, got {self.key_words}, {self.max_keys}"
            )


def edit_budget(words: int, config: DecontamConfig) -> int:
    """Edits a copy of a ``words``-word problem may have: ``max_edit_ratio`` per word, and fewer than the
    non-overlapping keys the problem holds (so a copy within the budget can always keep one)."""
    return max(0, min(int(config.max_edit_ratio * words), words // config.key_words - 1))


@dataclass(frozen=True)
class Match:
    """Why an item is contaminated: the benchmark problem, how close the copy is, and the copied text."""

    task: str
    id: str
    edits: int
    words: int  # words of the benchmark problem
    key: str  # the rare key that found it
    text: str  # the item's matching window (the first 24 words)

    def describe(self) -> str:
        edits = "verbatim" if self.edits == 0 else f"{self.edits} edit{'s' * (self.edits > 1)}"
        return f"{self.task}:{self.id} copied ({edits} over its {self.words} words; key '{self.key}'): '{self.text}'"


def align(
    peq: Mapping[int, int], length: int, text: Sequence[int], *, anchored: bool = False
) -> tuple[int, int]:
    """Fewest edits turning a window of ``text`` into the pattern, and where the best window ends (the first
    such end; ``(length, -1)`` for an empty text). The window may start anywhere, or only at 0 when
    ``anchored``.

    Myers (1999) bit-parallel edit distance: bit i of the vectors is pattern position i, one pass over ``text``
    of a dozen integer operations per word.
    """
    mask = (1 << length) - 1
    high = 1 << (length - 1)
    carry = 1 if anchored else 0
    pv, mv, score = mask, 0, length
    best, end = length, -1
    for j, c in enumerate(text):
        eq = peq.get(c, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | carry) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
        if score < best:
            best, end = score, j
            if best == 0:
                break
    return best, end


def word_masks(hashes: Sequence[int]) -> dict[int, int]:
    """Word hash -> bit mask of the positions it holds: the pattern table of ``align``."""
    peq: dict[int, int] = {}
    for i, h in enumerate(hashes):
        peq[h] = peq.get(h, 0) | (1 << i)
    return peq


@dataclass(frozen=True)
class _Pattern:
    """One benchmark problem, ready for the count filter and the alignment."""

    problem: BenchmarkProblem
    hashes: tuple[int, ...]  # the problem's words
    budget: int  # edits a copy may have
    peq: Mapping[int, int]
    grams: Mapping[int, int]  # key-length word gram -> how often the problem holds it
    key_words: int
    need: int  # shared grams any window within the budget has (each edit breaks at most key_words of them)
    distinct: bool  # no gram repeats, so shared grams are simply counted
    vocabulary: frozenset[int]  # the problem's distinct words

    @classmethod
    def build(cls, problem: BenchmarkProblem, hashes: list[int], config: DecontamConfig) -> _Pattern:
        budget = edit_budget(len(hashes), config)
        k = min(config.key_words, len(hashes))
        gs = grams(hashes, k)
        counts = Counter(gs)
        return cls(
            problem,
            tuple(hashes),
            budget,
            word_masks(hashes),
            counts,
            k,
            len(gs) - k * budget,
            len(counts) == len(gs),
            frozenset(hashes),
        )

    def may_match(self, present: set[int], words: set[int]) -> bool:
        """Can a window of a text with these grams and words be within the budget? Each edit removes at most
        one of the problem's distinct words and breaks at most key_words of its grams (the q-gram lemma)."""
        if len(self.vocabulary & words) < len(self.vocabulary) - self.budget:
            return False
        if self.need <= 1:  # a key was found: one shared gram is known
            return True
        kept = self.grams.keys() & present
        return len(kept) >= self.need or (not self.distinct and sum(self.grams[g] for g in kept) >= self.need)

    def window(self, text: Sequence[int], end: int) -> int:
        """Where the best window ending at ``end`` starts: the alignment run backwards from ``end``."""
        back = text[end::-1][: len(self.hashes) + self.budget]
        _, stop = align(word_masks(self.hashes[::-1]), len(self.hashes), back, anchored=True)
        return end - stop


def choose_keys(df: Sequence[int], count: int, k: int) -> list[int]:
    """Positions of ``count`` non-overlapping k-word grams, rarest first (``df``: each gram's document
    frequency). Non-overlapping keys are what makes the filter exact: each edit breaks at most one, so a copy
    with fewer edits than keys keeps one. Where picking the rarest leaves no room, the problem is cut into
    ``count`` equal parts (each at least k words) and each part gives its rarest gram."""
    picked: list[int] = []
    for at in sorted(range(len(df)), key=lambda i: (df[i], i)):
        if all(abs(at - q) >= k for q in picked):
            picked.append(at)
            if len(picked) == count:
                return sorted(picked)
    words = len(df) + k - 1
    cut = [i * words // count for i in range(count + 1)]
    return [min(range(a, b - k + 1), key=lambda i: df[i]) for a, b in zip(cut, cut[1:], strict=False)]


class ContaminationIndex:
    """The benchmark problems' keys and alignment patterns; ``find`` says whether a text holds a copy."""

    def __init__(
        self, problems: Iterable[BenchmarkProblem], config: DecontamConfig = DecontamConfig()
    ) -> None:
        self.config = config
        prepared = []
        df: Counter[int] = Counter()
        for p in problems:
            words = tokens(p.text)
            if words:
                hashes = token_hashes(words)
                prepared.append((p, words, hashes))
                df.update(set(grams(hashes, min(config.key_words, len(hashes)))))
        self.patterns: list[_Pattern] = []
        self.keys: dict[int, dict[int, tuple[int, ...]]] = {}  # key length -> key hash -> pattern indices
        self.key_text: dict[int, str] = {}  # key hash -> its words, for the reasons
        for p, words, hashes in prepared:
            pat = _Pattern.build(p, hashes, config)
            gs = grams(hashes, pat.key_words)
            table = self.keys.setdefault(pat.key_words, {})
            for at in choose_keys([df[g] for g in gs], min(pat.budget + 1, config.max_keys), pat.key_words):
                if len(self.patterns) not in table.get(gs[at], ()):
                    table[gs[at]] = (*table.get(gs[at], ()), len(self.patterns))
                self.key_text[gs[at]] = " ".join(words[at : at + pat.key_words])
            self.patterns.append(pat)
        if not self.patterns:
            raise SkyevalError("no benchmark problem has any words to decontaminate against")

    def find(self, text: str) -> Match | None:
        """The closest copy of a benchmark problem in ``text`` (fewest edits per word) within its edit budget."""
        words = tokens(text)
        hashes = token_hashes(words)
        found: dict[int, int] = {}  # pattern index -> the key that found it
        present: dict[int, set[int]] = {}  # key length -> the text's grams
        for k, table in self.keys.items():
            text_grams = grams(hashes, k)
            hits = table.keys() & text_grams
            if hits:
                present[k] = set(text_grams)
                for key in hits:
                    for i in table[key]:
                        found.setdefault(i, key)
        best: tuple[float, int, int, int, int] | None = None  # (edits per word, -words, pattern, edits, end)
        vocabulary = set(hashes) if found else set()
        for i in found:
            pat = self.patterns[i]
            if not pat.may_match(present[pat.key_words], vocabulary):
                continue
            edits, end = align(pat.peq, len(pat.hashes), hashes)
            score = (edits / len(pat.hashes), -len(pat.hashes), i, edits, end)
            if edits <= pat.budget and (best is None or score < best):
                best = score
        if best is None:
            return None
        _, _, i, edits, end = best
        pat = self.patterns[i]
        window = words[pat.window(hashes, end) : end + 1]
        shown = " ".join(window[:24]) + (" ..." if len(window) > 24 else "")
        return Match(pat.problem.task, pat.problem.id, edits, len(pat.hashes), self.key_text[found[i]], shown)


R = TypeVar("R", Item, Mapping[str, Any])


def decontaminate_rows(rows: Iterable[R], index: ContaminationIndex) -> Iterator[R | Drop]:
    """Pass clean rows (skydata ``Item``s or JSON rows with a ``problem``); a row holding a copy of a benchmark
    problem becomes a ``Drop`` ("contaminated") whose detail names the problem, the edits and the copied text.
    Used by ``skydata decontam``, the RL exports of ``skydata export`` and the curate pipeline."""
    for n, row in enumerate(rows, start=1):
        if isinstance(row, Item):
            rid, problem = row.id, row.problem
        elif "problem" in row:
            rid, problem = str(row.get("id", f"row {n}")), str(row["problem"])
        else:
            raise SkyevalError(f"row {n} has no 'problem' field to decontaminate")
        match = index.find(problem)
        yield row if match is None else Drop(rid, "contaminated", match.describe())
