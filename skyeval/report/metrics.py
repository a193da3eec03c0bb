"""Report-only metrics over per-sample verdicts: accuracy under a token budget, paired bootstrap, the
stratified average over tasks.

Pure functions over plain values (no pandas). A run's own numbers (pass@1, CI, pass@k, maj@n, diversity) are
``skyeval.summary``'s and ``skyeval.metrics``'s, shared with ``skyeval run``. Policy, documented in
``docs/reports.md``: budget accuracy cuts each completion to the first B tokens and grades the cut text; a sample
that already fits keeps its verdict, one that does not is re-graded, so its answer must appear within the budget.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from skyeval.metrics import bootstrap_ci, percentile_interval
from skyeval.types import SampleRecord

# --- budget ----------------------------------------------------------------------------------------------


def budget_ladder(max_tokens: int, start: int = 1024) -> list[int]:
    """Budgets start, 2*start, 4*start, ... below ``max_tokens``, then ``max_tokens`` itself."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    out = []
    budget = start
    while budget < max_tokens:
        out.append(budget)
        budget *= 2
    return [*out, max_tokens]


class TokenCutter(Protocol):
    """Counts tokens and cuts a text to its first B tokens; ``method`` says how, for the report."""

    @property
    def method(self) -> str: ...

    def length(self, text: str) -> int: ...

    def cut(self, text: str, budgets: Sequence[int]) -> list[str]: ...

    def cut_over(self, text: str, budgets: Sequence[int], tokens: int | None) -> dict[int, str]:
        """``{i: text cut to budgets[i]}`` for the budgets the text exceeds, counting (or given) ``tokens``."""
        ...


@dataclass(frozen=True)
class CharCutter:
    """Approximate tokens as ``chars_per_token`` characters (measured on the run when it has token counts)."""

    chars_per_token: float
    method: str = "approximate"

    def length(self, text: str) -> int:
        return int(len(text) / self.chars_per_token + 0.5)

    def cut(self, text: str, budgets: Sequence[int]) -> list[str]:
        return [text[: int(b * self.chars_per_token)] for b in budgets]

    def cut_over(self, text: str, budgets: Sequence[int], tokens: int | None) -> dict[int, str]:
        count = self.length(text) if tokens is None else tokens
        return {i: text[: int(b * self.chars_per_token)] for i, b in enumerate(budgets) if count > b}


@dataclass(frozen=True)
class TokenizerCutter:
    """Cut with a real tokenizer (anything with ``encode(text, add_special_tokens=False)`` and ``decode``)."""

    tokenizer: Any
    method: str = "tokenizer"

    def length(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def cut(self, text: str, budgets: Sequence[int]) -> list[str]:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        return [str(self.tokenizer.decode(ids[:b])) for b in budgets]

    def cut_over(self, text: str, budgets: Sequence[int], tokens: int | None) -> dict[int, str]:
        """One ``encode`` per completion: it gives both the count (when ``tokens`` is None) and every cut."""
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        count = len(ids) if tokens is None else tokens
        return {i: str(self.tokenizer.decode(ids[:b])) for i, b in enumerate(budgets) if count > b}


def chars_per_token(records: Sequence[SampleRecord], default: float = 4.0) -> tuple[float, bool]:
    """Characters per completion token over the samples that carry token counts; (value, measured?)."""
    chars = tokens = 0
    for r in records:
        if r.completion_tokens:
            chars += len(r.completion)
            tokens += r.completion_tokens
    if tokens == 0 or chars == 0:
        return default, False
    return chars / tokens, True


def load_cutter(model: str, records: Sequence[SampleRecord], tokenizer: str = "auto") -> TokenCutter:
    """The model's tokenizer when it loads from local files (``tokenizer='auto'``), else ``CharCutter``."""
    import importlib.util

    if tokenizer == "auto" and importlib.util.find_spec("transformers") is not None:
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(model, local_files_only=True)
        except (OSError, ValueError, KeyError):
            pass
        else:
            return TokenizerCutter(tok, f"tokenizer of {model}")
    cpt, measured = chars_per_token(records)
    how = "measured on this run" if measured else "default; the run has no token counts"
    return CharCutter(cpt, f"approximate: {cpt:.2f} chars/token ({how})")


def budget_cuts(
    record: SampleRecord, budgets: Sequence[int], max_tokens: int, cutter: TokenCutter
) -> dict[int, str]:
    """The cut text at each position in ``budgets`` that the completion does not fit.

    Whether it fits uses the recorded ``completion_tokens`` when present, else the cutter's count; a budget at
    or above ``max_tokens`` (the run's own limit) never cuts: there the sample keeps its verdict. The text is
    tokenized once for all budgets.
    """
    below = [i for i, b in enumerate(budgets) if b < max_tokens]
    cuts = cutter.cut_over(record.completion, [budgets[i] for i in below], record.completion_tokens)
    return {below[k]: text for k, text in cuts.items()}


AnswerKey = tuple[str, str]
"""(extracted answer of a cut, gold): the unit of grading; each distinct one is graded once."""


@dataclass(frozen=True)
class BudgetVerdicts:
    """``verdicts[i][j]``: sample i's verdict at budget j; ``cut[j]``: how many samples budget j had to cut."""

    verdicts: list[list[bool]]
    cut: list[int]


@dataclass(frozen=True)
class BudgetPlan:
    """The cuts of one run, before grading: the verdicts already known and the (answer, gold) pairs to grade.

    ``known`` holds each sample's verdict at each budget where it is decided without grading (the sample fits,
    the cut keeps its extracted answer, or the cut states no answer); ``pending[key]`` lists the (sample, budget)
    cells decided by grading ``key``; ``responses[key]`` is the text handed to the grader for it.
    """

    known: list[list[bool]]
    cut: list[int]
    pending: dict[AnswerKey, list[tuple[int, int]]]
    responses: dict[AnswerKey, str]


def _response_for(answer: str, text: str) -> str:
    """A short response whose extracted answer is ``answer`` (``\\boxed{answer}``), else the cut text itself.

    The grader extracts again from what it is given; a short box spares it re-scanning the whole cut text.
    """
    from skyeval import extract_answer

    boxed = "\\boxed{" + answer + "}"
    return boxed if extract_answer(boxed) == answer else text


def plan_budget(
    records: Sequence[SampleRecord],
    budgets: Sequence[int],
    max_tokens: int,
    cutter: TokenCutter,
    *,
    on_record: Callable[[], object] | None = None,
) -> BudgetPlan:
    """Cut every completion at each budget it exceeds and extract each cut's answer once (no grading).

    A cut that keeps the sample's extracted answer keeps its verdict (same answer, same gold); a cut without an
    answer is wrong (the grader's ``no_answer``); the others wait for ``grade_budget_answers``.
    """
    from skyeval import extract_answer

    known = [[r.correct] * len(budgets) for r in records]
    cut = [0] * len(budgets)
    pending: dict[AnswerKey, list[tuple[int, int]]] = {}
    responses: dict[AnswerKey, str] = {}
    for i, record in enumerate(records):
        for j, text in budget_cuts(record, budgets, max_tokens, cutter).items():
            cut[j] += 1
            extracted = extract_answer(text)
            if extracted is None:
                known[i][j] = False
                continue
            if extracted == record.extracted:
                continue
            key = (extracted, str(record.gold))
            pending.setdefault(key, []).append((i, j))
            if key not in responses:
                responses[key] = _response_for(extracted, text)
        if on_record is not None:
            on_record()
    return BudgetPlan(known, cut, pending, responses)


def grade_budget_answers(
    plans: Sequence[BudgetPlan], *, timeout: float = 5.0, progress: bool = False
) -> dict[AnswerKey, bool]:
    """Grade every distinct (answer, gold) of ``plans`` once, in one ``skyeval.grade_many`` call.

    ``grade_many`` decides the common cases in-process and the rest on worker processes with a hard timeout.
    """
    from skyeval import grade_many

    responses: dict[AnswerKey, str] = {}
    for plan in plans:
        for key, response in plan.responses.items():
            responses.setdefault(key, response)
    if not responses:
        return {}
    keys = list(responses)
    grades = grade_many(
        [responses[k] for k in keys], [k[1] for k in keys], timeout=timeout, progress=progress
    )
    return {key: grade.correct for key, grade in zip(keys, grades, strict=True)}


def apply_budget_grades(plan: BudgetPlan, grades: Mapping[AnswerKey, bool]) -> BudgetVerdicts:
    """The plan's verdicts with its pending cells filled in from ``grades``."""
    out = [list(row) for row in plan.known]
    for key, cells in plan.pending.items():
        for i, j in cells:
            out[i][j] = grades[key]
    return BudgetVerdicts(out, list(plan.cut))


def budget_verdicts(
    records: Sequence[SampleRecord],
    budgets: Sequence[int],
    max_tokens: int,
    cutter: TokenCutter,
    *,
    timeout: float = 5.0,
    on_record: Callable[[], object] | None = None,
) -> BudgetVerdicts:
    """Each sample's verdict at each budget, grading the cut texts (``plan_budget``, then one ``grade_many``)."""
    plan = plan_budget(records, budgets, max_tokens, cutter, on_record=on_record)
    return apply_budget_grades(plan, grade_budget_answers([plan], timeout=timeout))


# --- paired comparison -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairedDiff:
    """Mean of a minus b over paired problems with a paired-bootstrap CI."""

    n: int
    mean_a: float
    mean_b: float
    diff: float
    lo: float
    hi: float


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> PairedDiff:
    """Resample problems (the same draw for both runs) and take the percentile CI of mean(a) - mean(b)."""
    if len(a) != len(b):
        raise ValueError("paired values differ in length")
    if not a:
        raise ValueError("paired_bootstrap needs at least one pair")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    lo, hi = bootstrap_ci(diffs, confidence=confidence, resamples=resamples, seed=seed)
    n = len(a)
    return PairedDiff(n, sum(a) / n, sum(b) / n, sum(diffs) / n, lo, hi)


def average_ci(
    groups: Sequence[Sequence[float]],
    *,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of group means (e.g. the benchmark average over tasks) with a stratified bootstrap CI.

    Each resample draws problems with replacement within every group independently.
    """
    if not groups or any(not g for g in groups):
        raise ValueError("average_ci needs non-empty groups")
    rng = random.Random(seed)
    means = []
    for _ in range(resamples):
        total = 0.0
        for g in groups:
            total += sum(rng.choices(g, k=len(g))) / len(g)
        means.append(total / len(groups))
    means.sort()
    point = sum(sum(g) / len(g) for g in groups) / len(groups)
    return (point, *percentile_interval(means, confidence))
