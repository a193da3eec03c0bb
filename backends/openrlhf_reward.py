"""The reward file OpenRLHF loads with ``--reward.remote_url PATH/openrlhf_reward.py``: skyeval's grader.

OpenRLHF 0.11 (``openrlhf.utils.agent.SingleTurnAgentExecutor``) imports this file by path and calls
``reward_func(queries, prompts, labels)`` on a worker thread inside a Ray actor, where an exception is only
logged as one line and turns into a misleading failure later. ``skyeval.rewards.reward_func`` never raises
and reports its own failures; this file adds nothing but a full traceback in the actor's log should that
promise ever break (the exception is re-raised, not hidden). For Ray jobs the file travels in the job's
working directory, so it only needs ``skyeval`` importable on the workers.
"""

from __future__ import annotations

import logging
from typing import Any

from skyeval.rewards import reward_func as _skyeval_reward_func

_log = logging.getLogger("skytrain.reward")


def reward_func(queries: list[str], prompts: list[str], labels: list[str], **kwargs: Any) -> dict[str, Any]:
    """Grade each query (prompt + response text) against its label; returns rewards, scores and extra_logs."""
    try:
        return _skyeval_reward_func(queries, prompts, labels, **kwargs)
    except BaseException:
        _log.exception("skyeval reward_func raised on %d queries", len(queries))
        raise
