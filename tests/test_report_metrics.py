"""Report metrics on small hand-computed cases: budget truncation, paired bootstrap, stratified average.

Entropy, diversity and answer clustering are ``skyeval.metrics``' (tests/test_metrics.py)."""

from __future__ import annotations

from math import isclose
from pathlib import Path

import pytest
from testkit.synthetic import make_record

from skyeval.report.metrics import (
    CharCutter,
    TokenizerCutter,
    average_ci,
    budget_ladder,
    budget_verdicts,
    chars_per_token,
    load_cutter,
    paired_bootstrap,
)
from skyeval.types import SampleRecord


def record(text: str, gold: str, extracted: str | None, correct: bool, tokens: int | None) -> SampleRecord:
    return make_record(
        completion=text,
        prompt_tokens=1,
        completion_tokens=tokens,
        gold=gold,
        extracted=extracted,
        correct=correct,
    )


# --- budget ---


def test_budget_ladder() -> None:
    assert budget_ladder(4096) == [1024, 2048, 4096]
    assert budget_ladder(5000) == [1024, 2048, 4096, 5000]
    assert budget_ladder(512) == [512]
    assert budget_ladder(32768)[-2:] == [16384, 32768]


def test_budget_answer_must_appear_within_budget() -> None:
    text = "x" * 100 + "\\boxed{7}" + "y" * 100  # 209 chars = 209 "tokens" at 1 char/token
    r = record(text, "7", "7", True, len(text))
    cutter = CharCutter(1.0)
    result = budget_verdicts([r], [50, 109, 150, 209, 1000], 1000, cutter)
    assert result.verdicts == [[False, True, True, True, True]]
    assert result.cut == [1, 1, 1, 0, 0]


def test_budget_grades_the_cut_text_not_the_full_answer() -> None:
    text = "first \\boxed{3} then I reconsider " + "z" * 50 + " \\boxed{7}"
    r = record(text, "7", "7", True, len(text) // 2)  # recorded tokens: 2 chars per token
    cutter = CharCutter(2.0)
    # budget 20 tokens = 40 chars: only the wrong \boxed{3} is inside; 1000 keeps the full verdict.
    result = budget_verdicts([r, r], [5, 20, 1000], 1000, cutter)
    assert result.verdicts == [[False, False, True]] * 2 and result.cut == [2, 2, 0]


def test_budget_at_or_above_the_runs_limit_keeps_the_verdict() -> None:
    r = record("a" * 100, "1", "1", True, None)  # no token count: CharCutter(1.0) counts 100
    assert budget_verdicts([r], [64, 100], 64, CharCutter(1.0)).verdicts == [[True, True]]


def test_tokenizer_cutter_and_chars_per_token() -> None:
    class WordTokenizer:
        def encode(self, text: str, add_special_tokens: bool = False) -> list[str]:
            return text.split(" ")

        def decode(self, ids: list[str]) -> str:
            return " ".join(ids)

    cutter = TokenizerCutter(WordTokenizer())
    assert cutter.length("a b c d") == 4
    assert cutter.cut("a b c d", [1, 3]) == ["a", "a b c"]
    recs = [
        record("abcdefgh", "1", None, False, 2),
        record("abcd", "1", None, False, 2),
        record("zz", "1", None, False, None),
    ]
    assert chars_per_token(recs) == (3.0, True)
    assert chars_per_token([recs[2]]) == (4.0, False)


def test_load_cutter_falls_back_to_chars_when_no_local_tokenizer() -> None:
    recs = [record("abcdefgh", "1", None, False, 4)]
    cutter = load_cutter("no-such-org/no-such-model-xyz", recs, tokenizer="chars")
    assert isinstance(cutter, CharCutter) and cutter.chars_per_token == 2.0
    assert "approximate" in cutter.method


# --- paired bootstrap and averages ---


def test_paired_bootstrap_hand_computed() -> None:
    d = paired_bootstrap([1.0, 0.0], [0.0, 0.0], resamples=2000)
    # diffs (1, 0): resampled means are 0, 0.5, 1 with probability 1/4, 1/2, 1/4 -> 95% CI [0, 1]
    assert (d.n, d.mean_a, d.mean_b, d.diff) == (2, 0.5, 0.0, 0.5)
    assert (d.lo, d.hi) == (0.0, 1.0)
    const = paired_bootstrap([0.75, 0.5, 1.0], [0.5, 0.25, 0.75])
    assert isclose(const.diff, 0.25) and isclose(const.lo, 0.25) and isclose(const.hi, 0.25)
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], [1.0, 0.0])


def test_paired_bootstrap_is_narrower_than_unpaired_for_correlated_runs() -> None:
    a = [1.0] * 30 + [0.0] * 30
    b = [1.0] * 28 + [0.0] * 32  # b solves the same problems minus two
    d = paired_bootstrap(a, b)
    assert d.lo >= 0.0 and d.hi <= 0.1


def test_paired_cis_of_a_minus_b_and_b_minus_a_are_mirror_images() -> None:
    a = [1.0, 0.0, 1.0, 1.0, 0.5, 0.0, 1.0, 0.25] * 5
    b = [0.0, 0.0, 1.0, 0.5, 0.5, 1.0, 0.0, 0.25] * 5
    ab, ba = paired_bootstrap(a, b), paired_bootstrap(b, a)
    assert (ab.lo, ab.hi) == (-ba.hi, -ba.lo) and ab.diff == -ba.diff


def test_average_ci_stratified() -> None:
    assert average_ci([[1.0, 1.0], [0.0, 0.0]]) == (0.5, 0.5, 0.5)
    mean, lo, hi = average_ci([[1.0, 0.0] * 10, [1.0] * 5])
    assert mean == 0.75 and lo < 0.75 < hi and hi <= 1.0


def test_load_cutter_uses_a_local_tokenizer(tiny_model_dir: Path) -> None:
    recs = [record("The answer is \\boxed{42}. So x = 3/4.", "42", "42", True, 12)]
    cutter = load_cutter(str(tiny_model_dir), recs)
    assert isinstance(cutter, TokenizerCutter) and cutter.method.startswith("tokenizer of")
    n = cutter.length(recs[0].completion)
    full, short = cutter.cut(recs[0].completion, [n, 2])
    assert full == recs[0].completion and len(short) < len(full) and recs[0].completion.startswith(short)
