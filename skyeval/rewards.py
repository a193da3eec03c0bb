"""Correctness rewards (1.0 / 0.0) for RL frameworks, built on :func:`skyeval.grade`.

* TRL (``GRPOTrainer(reward_funcs=[reward])``): ``reward(prompts, completions, answer, **kw)``; ``answer`` is
  the dataset column of gold answers. Completions may be strings or chat messages. A sample without a gold
  gets ``None``, which TRL skips. With TRL's ``log_metric`` it logs the no-answer and grade-timeout rates.
* OpenRLHF (``--reward.remote_url`` pointing to a file that does ``from skyeval.rewards import reward_func``):
  ``reward_func(queries, prompts, labels, **kw)`` where each query is the decoded prompt plus response,
  special tokens included; returns ``{"rewards", "scores", "extra_logs"}`` as torch tensors.
* veRL (``custom_reward_function.path`` / ``name=compute_score``):
  ``compute_score(data_source, solution_str, ground_truth, extra_info=None, **kw) -> float``.

None of them raises on any sample: a failure is logged (``logging``) and scores 0.0. Every grade has a hard
timeout, so a pathological answer cannot stall a training step for longer than ``timeout`` seconds.

The grading policy (``skyeval.grading.POLICIES``) is the ``policy=`` keyword when given (TRL: a
``functools.partial``; veRL: ``custom_reward_function.reward_kwargs``), else the environment variable
``SKYEVAL_GRADE_POLICY`` (OpenRLHF's remote reward file takes no keywords), else ``default``. An unknown name
raises SkyevalError at the first call: it is a configuration error, never a sample's.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from skyeval.grading.grade import DEFAULT_TIMEOUT_S, as_text, grade, grade_many
from skyeval.grading.numbers import EquivalenceConfig, resolve_policy

logger = logging.getLogger(__name__)

POLICY_ENV = "SKYEVAL_GRADE_POLICY"
"""Environment variable naming the grading policy of the reward functions when no ``policy=`` is passed."""


def reward_policy(policy: str | EquivalenceConfig | None = None) -> EquivalenceConfig:
    """The policy a reward function grades with: ``policy``, else ``$SKYEVAL_GRADE_POLICY``, else ``default``."""
    return resolve_policy(policy if policy is not None else os.environ.get(POLICY_ENV) or "default")


# Chat-template markers: where the assistant's turn begins, and tokens that never belong to an answer.
_ASSISTANT_HEADERS = (
    "<|im_start|>assistant",
    "<｜Assistant｜>",
    "<|start_header_id|>assistant<|end_header_id|>",
    "<|assistant|>",
)
_SPECIAL_TOKENS = re.compile(
    r"<\|(?:im_end|im_start|endoftext|eot_id|end_of_text|end|begin_of_text|start_header_id|end_header_id)\|>"
    r"|<｜(?:end▁of▁sentence|begin▁of▁sentence|Assistant|User)｜>|</s>"
)
_LAST_TOKEN = re.compile(r"(?:<\|[A-Za-z_]{1,40}\|>|<｜[^｜\s]{1,40}｜>|</s>|<pad>)\Z")


def strip_special_tokens(text: str) -> str:
    """Remove chat-template special tokens (``<|im_end|>``, ``<|endoftext|>``, ``<｜end▁of▁sentence｜>``...).

    Known tokens go wherever they are; any other ``<|name|>`` token only at the end (``|x|>`` may be math).
    """
    text = _SPECIAL_TOKENS.sub("", text).rstrip()
    while (last := _LAST_TOKEN.search(text[-64:])) is not None:  # bounded window: linear on any input
        text = text[: len(text) - len(last.group())].rstrip()
    return text


def response_from_query(query: str, prompt: str | None) -> str:
    """The response part of an OpenRLHF query: the text after the prompt (or after the last assistant header)."""
    if prompt and query.startswith(prompt):
        response = query[len(prompt) :]
    else:
        cut = max((query.rfind(h) + len(h) if h in query else -1) for h in _ASSISTANT_HEADERS)
        response = query[cut:] if cut >= 0 else query
    return strip_special_tokens(response)


def completion_text(completion: object) -> str:
    """The text of a TRL completion: a string, or chat messages (assistant contents joined)."""
    if isinstance(completion, (str, bytes, bytearray)):
        return as_text(completion) or ""
    if isinstance(completion, Mapping):
        completion = [completion]
    if isinstance(completion, Sequence):
        parts = []
        for message in completion:
            if isinstance(message, Mapping) and message.get("role", "assistant") == "assistant":
                parts.append(_content_text(message.get("content")))
        return "\n".join(parts)
    return as_text(completion) or ""


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # multimodal parts: [{"type": "text", "text": ...}, ...]
        return "".join(
            p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text"
        )
    return "" if content is None else str(content)


def reward(
    prompts: Sequence[Any] | None = None,
    completions: Sequence[Any] = (),
    answer: Sequence[Any] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    policy: str | EquivalenceConfig | None = None,
    log_metric: Callable[[str, float], object] | None = None,
    **kwargs: Any,
) -> list[float | None]:
    """TRL reward function: 1.0 when a completion's final answer equals ``answer[i]``, else 0.0 (None: no gold).

    ``log_metric`` (TRL passes it to reward functions) receives ``skyeval/no_answer`` and
    ``skyeval/grade_timeout``: the shares of graded completions with no final answer and with a timed-out grade.
    """
    config = reward_policy(policy)
    n = len(completions)
    golds: list[Any] = list(answer) if answer is not None else [None] * n
    if len(golds) != n:
        logger.error("skyeval reward: %d completions but %d answers; scoring the batch 0.0", n, len(golds))
        return [0.0] * n
    try:
        present = [i for i, g in enumerate(golds) if as_text(g) not in (None, "")]
        if len(present) < n:
            logger.warning(
                "skyeval reward: %d of %d samples have no gold answer (reward None)", n - len(present), n
            )
        grades = grade_many(
            [completion_text(completions[i]) for i in present],
            [golds[i] for i in present],
            timeout=timeout,
            policy=config,
        )
        rewards: list[float | None] = [None] * n
        for i, graded in zip(present, grades, strict=True):
            rewards[i] = 1.0 if graded.correct else 0.0
        if log_metric is not None and grades:
            log_metric("skyeval/no_answer", sum(g.reason == "no_answer" for g in grades) / len(grades))
            log_metric("skyeval/grade_timeout", sum(g.reason == "timeout" for g in grades) / len(grades))
        return rewards
    except Exception:  # noqa: BLE001 - a reward function must not crash training: log and score 0.0
        logger.exception("skyeval reward failed; scoring the batch 0.0")
        return [0.0] * n


def reward_func(
    queries: Sequence[str],
    prompts: Sequence[str],
    labels: Sequence[Any],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    policy: str | EquivalenceConfig | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """OpenRLHF reward function: ``{"rewards", "scores", "extra_logs"}`` tensors, one value per query."""
    import torch

    config = reward_policy(policy)
    n = len(queries)
    rewards = [0.0] * n
    no_answer = [0.0] * n
    timeouts = [0.0] * n
    if len(prompts) != n or len(labels) != n:
        logger.error(
            "skyeval reward_func: %d queries, %d prompts, %d labels; scoring 0.0",
            n,
            len(prompts),
            len(labels),
        )
    else:
        try:
            responses = [response_from_query(q, p) for q, p in zip(queries, prompts, strict=True)]
            for i, graded in enumerate(grade_many(responses, list(labels), timeout=timeout, policy=config)):
                rewards[i] = 1.0 if graded.correct else 0.0
                no_answer[i] = float(graded.reason == "no_answer")
                timeouts[i] = float(graded.reason == "timeout")
                if graded.reason == "error":
                    logger.warning("skyeval reward_func: sample %d not graded: %s", i, graded.detail)
        except Exception:  # noqa: BLE001 - a reward function must not crash training: log and score 0.0
            logger.exception("skyeval reward_func failed; scoring the batch 0.0")
    values = torch.tensor(rewards, dtype=torch.float32)
    return {
        "rewards": values,
        "scores": values.clone(),
        "extra_logs": {
            "no_answer": torch.tensor(no_answer, dtype=torch.float32),
            "grade_timeout": torch.tensor(timeouts, dtype=torch.float32),
        },
    }


def compute_score(
    data_source: object,
    solution_str: object,
    ground_truth: object,
    extra_info: object = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    policy: str | EquivalenceConfig | None = None,
    **kwargs: Any,
) -> float:
    """veRL reward function: 1.0 when ``solution_str``'s final answer equals ``ground_truth``, else 0.0."""
    config = reward_policy(policy)
    try:
        text = strip_special_tokens(as_text(solution_str) or "")
        graded = grade(text, ground_truth, timeout=timeout, policy=config)
        if graded.reason == "error":
            logger.warning("skyeval compute_score: not graded (%s): %s", data_source, graded.detail)
        return 1.0 if graded.correct else 0.0
    except Exception:  # noqa: BLE001 - a reward function must not crash training: log and score 0.0
        logger.exception("skyeval compute_score failed; scoring 0.0")
        return 0.0
