"""Sample-level metrics: unbiased pass@k, mean@n, answer clustering (maj@k, diversity), bootstrap CIs.

All functions are pure and cheap; ``skyeval.summary`` composes them into a run's numbers for the runner and the
report alike.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from math import comb, log2


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of Chen et al. (2021): ``1 - C(n-c, k) / C(n, k)`` for n samples of which c are correct."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def mean_at_n(verdicts: Sequence[bool]) -> float:
    """Fraction of correct samples of one problem (pass@1 averaged over its n samples)."""
    if not verdicts:
        raise ValueError("mean_at_n needs at least one sample")
    return sum(verdicts) / len(verdicts)


Same = Callable[[str, str], bool]
"""Answer equivalence for clustering (``skyeval.is_equivalent``); None: identical strings only."""


@dataclass(frozen=True)
class AnswerCluster:
    """Samples of one problem that gave one answer: its first answer, size, first sample and verdict."""

    answer: str
    count: int
    first: int
    correct: bool


def cluster_answers(
    answers: Sequence[str | None], correct: Sequence[bool] | None = None, same: Same | None = None
) -> list[AnswerCluster]:
    """Cluster one problem's final answers, in the order of each cluster's first sample.

    The one clustering policy (maj@n and diversity): ``None`` (no answer) is in no cluster; correct answers all
    equal the gold, so they form one cluster without comparisons; every other answer joins the first cluster
    of wrong answers whose first answer is identical or ``same`` (identical strings are grouped first, so
    ``same`` runs only between distinct ones). Without ``correct`` every answer is clustered that way.
    """
    if correct is not None and len(correct) != len(answers):
        raise ValueError("answers and verdicts differ in length")
    flags = list(correct) if correct is not None else [False] * len(answers)
    right: AnswerCluster | None = None
    distinct: dict[str, tuple[int, int]] = {}  # wrong answer -> (count, first sample)
    for i, (ans, ok) in enumerate(zip(answers, flags, strict=True)):
        if ans is None:
            continue
        if ok:
            right = AnswerCluster(ans, 1, i, True) if right is None else replace(right, count=right.count + 1)
        else:
            count, first = distinct.get(ans, (0, i))
            distinct[ans] = (count + 1, first)
    wrong: list[AnswerCluster] = []
    for ans, (count, first) in distinct.items():
        for j, cluster in enumerate(wrong):
            if same is not None and same(ans, cluster.answer):
                wrong[j] = replace(cluster, count=cluster.count + count)
                break
        else:
            wrong.append(AnswerCluster(ans, count, first, False))
    clusters = wrong if right is None else [right, *wrong]
    return sorted(clusters, key=lambda c: c.first)


def majority_answer(
    answers: Sequence[str | None], same: Same | None = None, correct: Sequence[bool] | None = None
) -> tuple[str | None, int]:
    """The most frequent answer (``cluster_answers``); ties go to the cluster whose first sample comes first.

    ``None`` (no answer) never wins a vote. Returns the cluster's first answer and its size.
    """
    clusters = cluster_answers(answers, correct, same)
    if not clusters:
        return None, 0
    best = max(clusters, key=lambda c: (c.count, -c.first))
    return best.answer, best.count


def maj_at_k(
    answers: Sequence[str | None],
    verdicts: Sequence[bool],
    k: int | None = None,
    same: Same | None = None,
) -> bool:
    """Majority vote over the first k samples: correct when the winning cluster is the correct answers'.

    ``verdicts[i]`` says whether ``answers[i]`` was graded correct; clustering uses ``same`` (e.g.
    ``skyeval.is_equivalent``) so ``1/2`` and ``0.5`` vote together.
    """
    if len(answers) != len(verdicts):
        raise ValueError("answers and verdicts differ in length")
    k = len(answers) if k is None else k
    clusters = cluster_answers(answers[:k], verdicts[:k], same)
    return bool(clusters) and max(clusters, key=lambda c: (c.count, -c.first)).correct


@dataclass(frozen=True)
class Diversity:
    """Diversity of one problem's samples: distinct answers, entropy (bits) of the outcomes, no-answer count.

    Samples with no answer are not an answer (not in ``n_answers``) but are one extra outcome in the entropy:
    ``42, 42, 42, 42`` has 0 bits and ``42, 42, none, none`` has 1 bit.
    """

    n_samples: int
    n_answers: int
    entropy_bits: float
    no_answer: int


def entropy_bits(counts: Sequence[int]) -> float:
    """Shannon entropy in bits of the distribution given by ``counts`` (zeros ignored)."""
    total = sum(counts)
    if total <= 0:
        raise ValueError("entropy needs a positive total count")
    return max(0.0, -sum(c / total * log2(c / total) for c in counts if c > 0))


def diversity(answers: Sequence[str | None], clusters: Sequence[AnswerCluster]) -> Diversity:
    """Distinct answers and outcome entropy of one problem's samples, from their ``cluster_answers``."""
    if not answers:
        raise ValueError("diversity needs at least one sample")
    no_answer = sum(a is None for a in answers)
    sizes = [c.count for c in clusters]
    return Diversity(len(answers), len(sizes), entropy_bits([*sizes, no_answer]), no_answer)


def answer_diversity(
    answers: Sequence[str | None], correct: Sequence[bool] | None = None, same: Same | None = None
) -> Diversity:
    """Distinct answers and outcome entropy of one problem's samples (see ``Diversity``)."""
    return diversity(answers, cluster_answers(answers, correct, same))


def percentile_interval(means: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """The central ``confidence`` interval of sorted resampled means, at symmetric indices.

    With R values and k = round((1 - confidence) / 2 * (R - 1)), the bounds are ``means[k]`` and
    ``means[R - 1 - k]`` (k = 25 and 974 of 1000 at 95%), so the CI of a - b is exactly minus that of b - a.
    """
    if not means:
        raise ValueError("percentile_interval needs at least one value")
    k = int((1.0 - confidence) / 2.0 * (len(means) - 1) + 0.5)
    return means[k], means[len(means) - 1 - k]


def bootstrap_ci(
    values: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of per-problem values (problems resampled with replacement).

    The draw depends on the order of ``values``: the canonical CI passes problems in task order.
    """
    if not values:
        raise ValueError("bootstrap_ci needs at least one value")
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    return percentile_interval(means, confidence)


def pass_at_k_curve(counts: Sequence[tuple[int, int]], ks: Sequence[int] | None = None) -> dict[int, float]:
    """Mean pass@k over problems given (n, c) per problem, for k = 1, 2, 4, ... up to the smallest n."""
    if not counts:
        raise ValueError("pass_at_k_curve needs at least one problem")
    n_min = min(n for n, _ in counts)
    if ks is None:
        ks = [2**i for i in range(n_min.bit_length()) if 2**i <= n_min]
        if n_min not in ks:
            ks.append(n_min)
    return {k: sum(pass_at_k(n, c, k) for n, c in counts) / len(counts) for k in ks}
