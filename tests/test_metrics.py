"""skyeval.metrics: pass@k against brute force over subsets, mean@n, maj@k, bootstrap CI."""

from __future__ import annotations

import itertools
import statistics
from fractions import Fraction
from math import isclose

import pytest

from skyeval import metrics, pass_at_k
from skyeval.metrics import answer_diversity, cluster_answers, entropy_bits


def brute_force_pass_at_k(n: int, c: int, k: int) -> Fraction:
    """The fraction of the k-subsets of n samples (c of them correct) that hold at least one correct sample."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return Fraction(sum(any(samples[i] for i in s) for s in subsets), len(subsets))


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_matches_brute_force(n: int) -> None:
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(float(brute_force_pass_at_k(n, c, k)), abs=1e-12)


def test_pass_at_k_edges_and_errors() -> None:
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(200, 1, 200) == 1.0
    assert 0.0 < pass_at_k(1000, 1, 3) < 0.01  # large n stays exact (integer binomials)
    for bad in [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)]:
        with pytest.raises(ValueError):
            pass_at_k(*bad)


def test_pass_at_k_curve() -> None:
    curve = metrics.pass_at_k_curve([(8, 2), (8, 0), (8, 8)])
    assert list(curve) == [1, 2, 4, 8]
    assert curve[1] == pytest.approx((2 / 8 + 0 + 1) / 3)
    assert curve[8] == pytest.approx(2 / 3)
    assert list(metrics.pass_at_k_curve([(6, 1), (5, 5)])) == [1, 2, 4, 5]
    with pytest.raises(ValueError):
        metrics.pass_at_k_curve([])


def test_mean_at_n() -> None:
    assert metrics.mean_at_n([True, False, True, True]) == 0.75
    assert metrics.mean_at_n([False]) == 0.0
    with pytest.raises(ValueError):
        metrics.mean_at_n([])


def test_mean_at_n_is_pass_at_1() -> None:
    verdicts = [True, False, False, True, True]
    assert metrics.mean_at_n(verdicts) == pytest.approx(pass_at_k(len(verdicts), sum(verdicts), 1))


def test_majority_answer_and_maj_at_k() -> None:
    answers = ["1/2", "0.5", "3", "3", None, None, None]
    verdicts = [True, True, False, False, False, False, False]
    assert metrics.majority_answer(answers) == (
        "3",
        2,
    )  # without clustering or verdicts, "3" is the only answer seen twice
    # graded correct, 1/2 and 0.5 both equal the gold: one cluster of two, tied with "3" and earlier
    assert metrics.maj_at_k(answers, verdicts)
    assert metrics.majority_answer(answers, correct=verdicts) == ("1/2", 2)
    assert not metrics.maj_at_k([*answers, "3"], [*verdicts, False])  # three votes for "3"

    def same(a: str, b: str) -> bool:
        return {a, b} <= {"1/2", "0.5"}

    assert metrics.majority_answer(answers, same) == ("1/2", 2)  # tie with "3": the earliest cluster wins
    assert metrics.maj_at_k(answers, verdicts, same=same)
    assert metrics.maj_at_k(answers, verdicts, k=1)
    assert metrics.majority_answer([None, None]) == (None, 0)
    assert not metrics.maj_at_k([None], [False])
    with pytest.raises(ValueError):
        metrics.maj_at_k(["1"], [True, False])


def test_maj_at_k_with_the_real_grader() -> None:
    import skyeval

    answers = [r"\frac{1}{2}", "0.5", r"\frac{3}{4}", "0.75", "0.75"]
    verdicts = [True, True, False, False, False]
    # Correct answers all equal the gold: one cluster of two, first. Without clustering the wrong ones,
    # 0.75 also has two votes and comes later: the correct answer wins the tie.
    assert metrics.maj_at_k(answers, verdicts)
    # 3/4 and 0.75 are one wrong answer with three votes.
    assert not metrics.maj_at_k(answers, verdicts, same=skyeval.is_equivalent)


def test_percentile_interval_is_symmetric() -> None:
    means = [float(i) for i in range(1000)]
    assert metrics.percentile_interval(means) == (25.0, 974.0)
    assert metrics.percentile_interval(means, 0.8) == (100.0, 899.0)
    assert metrics.percentile_interval([3.0]) == (3.0, 3.0)
    values = [1.0, 0.0, 1.0, 0.5, 0.25, 1.0, 0.0, 0.0, 1.0, 0.75]
    lo, hi = metrics.bootstrap_ci(values)
    neg_lo, neg_hi = metrics.bootstrap_ci([-v for v in values])
    assert (neg_lo, neg_hi) == (-hi, -lo)


def test_bootstrap_ci_sanity() -> None:
    values = [float(i % 2) for i in range(200)]
    lo, hi = metrics.bootstrap_ci(values, resamples=1000)
    assert lo < statistics.mean(values) < hi
    assert 0.38 < lo < 0.5 < hi < 0.62  # about mean +- 1.96 * sqrt(0.25 / 200) = 0.5 +- 0.069
    assert metrics.bootstrap_ci(values, resamples=500, seed=3) == metrics.bootstrap_ci(
        values, resamples=500, seed=3
    )
    narrow = metrics.bootstrap_ci(values * 4, resamples=300)
    assert narrow[1] - narrow[0] < hi - lo
    assert metrics.bootstrap_ci([0.7] * 10) == pytest.approx((0.7, 0.7))
    lo80, hi80 = metrics.bootstrap_ci(values, confidence=0.8, resamples=1000)
    assert lo <= lo80 and hi80 <= hi
    with pytest.raises(ValueError):
        metrics.bootstrap_ci([])


def test_entropy_bits_hand_computed() -> None:
    assert entropy_bits([4]) == 0.0
    assert isclose(entropy_bits([2, 2]), 1.0)
    assert isclose(entropy_bits([2, 1, 1]), 1.5)
    assert isclose(entropy_bits([1, 1, 1, 1, 0]), 2.0)
    with pytest.raises(ValueError):
        entropy_bits([0, 0])


def test_no_answer_is_an_outcome_but_not_an_answer() -> None:
    d = answer_diversity(["42", "42", None, None], [True, True, False, False])
    assert (d.n_samples, d.n_answers, d.no_answer) == (4, 1, 2)
    assert isclose(d.entropy_bits, 1.0)
    all_none = answer_diversity([None, None])
    assert (all_none.n_answers, all_none.entropy_bits, all_none.no_answer) == (0, 0.0, 2)


def test_equivalent_answers_cluster_and_correct_ones_need_no_comparison() -> None:
    calls: list[tuple[str, str]] = []

    def same(a: str, b: str) -> bool:
        calls.append((a, b))
        return {a, b} == {"1/2", "0.5"}

    d = answer_diversity(["1/2", "0.5", "3", None], [False, False, False, False], same)
    assert d.n_answers == 2 and isclose(d.entropy_bits, 1.5)  # clusters 2, 1 and one no-answer
    calls.clear()
    assert sizes(cluster_answers(["7", "7.0", "\\frac{14}{2}"], [True, True, True], same)) == [3]
    assert calls == []
    assert sizes(cluster_answers(["1", "1", "2"])) == [2, 1]  # exact matching without `same`
    assert sizes(cluster_answers(["5", "5", "5", "6", "5"], [False] * 5, same)) == [4, 1]
    assert calls == [("6", "5")]  # identical answers are never compared
    clusters = cluster_answers(["3", "1/2", "0.5", "3"], [False, True, True, False])
    assert [(c.answer, c.count, c.first, c.correct) for c in clusters] == [
        ("3", 2, 0, False),
        ("1/2", 2, 1, True),
    ]


def sizes(clusters: list[metrics.AnswerCluster]) -> list[int]:
    return [c.count for c in clusters]
