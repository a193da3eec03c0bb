"""The TRL reward function: skyeval's grader, plus the share of completions cut at the response limit.

``skyeval.rewards.reward`` grades and logs the no-answer and grade-timeout rates through TRL's ``log_metric``;
this wrapper knows the response cutoff, so it also logs ``skyeval/truncated`` (completions that reached it).
It is a module-level function bound with :func:`functools.partial` so that TRL names it ``reward`` in its logs
and multi-process launches can pickle it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from skyeval.rewards import reward as graded


def reward(
    prompts: Sequence[Any] | None = None,
    completions: Sequence[Any] = (),
    answer: Sequence[Any] | None = None,
    *,
    max_completion_length: int,
    completion_ids: Sequence[Sequence[int]] | None = None,
    log_metric: Callable[[str, float], object] | None = None,
    **kwargs: Any,
) -> list[float | None]:
    """1.0 / 0.0 per completion from skyeval's grader; logs no-answer, timeout and truncation rates."""
    rewards = graded(prompts, completions, answer, log_metric=log_metric, **kwargs)
    if log_metric is not None and completion_ids:
        cut = sum(len(ids) >= max_completion_length for ids in completion_ids)
        log_metric("skyeval/truncated", cut / len(completion_ids))
    return rewards


def reward_for(max_completion_length: int) -> Callable[..., list[float | None]]:
    """The reward function for a run whose completions are cut at ``max_completion_length`` tokens."""
    return functools.partial(reward, max_completion_length=max_completion_length)
