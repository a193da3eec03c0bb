"""Sample-level metrics: unbiased pass@k, mean@n, maj@k and bootstrap confidence intervals.

All functions are pure and cheap; the runner and the report compute aggregates from per-sample verdicts.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from math import comb


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


def majority_answer(
    answers: Sequence[str | None], same: Callable[[str, str], bool] | None = None
) -> tuple[str | None, int]:
    """The most frequent answer, clustering answers that ``same`` deems equal; ties go to the earliest cluster.

    ``None`` (no answer) never wins a vote. Returns the representative answer and its cluster size.
    """
    clusters: list[tuple[str, int]] = []
    for ans in answers:
        if ans is None:
            continue
        for i, (rep, count) in enumerate(clusters):
            if ans == rep or (same is not None and same(ans, rep)):
                clusters[i] = (rep, count + 1)
                break
        else:
            clusters.append((ans, 1))
    if not clusters:
        return None, 0
    best = max(range(len(clusters)), key=lambda i: (clusters[i][1], -i))
    return clusters[best]


def maj_at_k(
    answers: Sequence[str | None],
    verdicts: Sequence[bool],
    k: int | None = None,
    same: Callable[[str, str], bool] | None = None,
) -> bool:
    """Majority vote over the first k samples: correct when the winning answer's cluster holds a correct sample.

    ``verdicts[i]`` says whether ``answers[i]`` was graded correct; clustering uses ``same`` (e.g.
    ``skyeval.is_equivalent``) so ``1/2`` and ``0.5`` vote together.
    """
    if len(answers) != len(verdicts):
        raise ValueError("answers and verdicts differ in length")
    k = len(answers) if k is None else k
    answers, verdicts = answers[:k], verdicts[:k]
    winner, _ = majority_answer(answers, same)
    if winner is None:
        return False
    for ans, ok in zip(answers, verdicts, strict=True):
        if ans is not None and (ans == winner or (same is not None and same(ans, winner))):
            return ok
    return False


def bootstrap_ci(
    values: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of per-problem values (problems resampled with replacement)."""
    if not values:
        raise ValueError("bootstrap_ci needs at least one value")
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(resamples))
    alpha = (1.0 - confidence) / 2.0
    lo = means[int(alpha * (resamples - 1))]
    hi = means[int((1.0 - alpha) * (resamples - 1) + 0.5)]
    return lo, hi


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
