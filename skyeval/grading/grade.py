"""Extract-then-compare grading that never raises and never runs past its timeout.

``grade`` runs three stages: ``extract_answer`` (in-process, linear time), ``fast_equivalent`` (in-process,
pure Python, microseconds; decides integers, decimals, fractions, exact arithmetic and identical strings) and,
only when the fast path is undecided, the full ``compare`` in a killable worker process with a hard timeout (see
``skyeval.grading.pool``). ``grade_many`` runs the fast stages in-process and the slow stage on several
workers at once. Both take a ``policy``: a preset name (``skyeval.grading.POLICIES``) or an
``EquivalenceConfig``, sent to the workers with each comparison.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from skyeval.grading.equivalence import fast_equivalent
from skyeval.grading.extract import extract_answer, split_thinking
from skyeval.grading.numbers import EquivalenceConfig, resolve_policy
from skyeval.grading.pool import Outcome, SharedPool, WorkerPool
from skyeval.types import Grade, GradeReason

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0
MAX_IN_PROCESS_RESPONSE = 200_000
"""Longer responses are extracted in a worker, under the timeout (characters)."""
MAX_IN_PROCESS_ANSWER = 1_000
"""Longer answer + gold pairs skip the in-process fast path and are compared in a worker (characters)."""
_SLOW_REF = "skyeval.grading.equivalence:compare"
_EXTRACT_AND_COMPARE_REF = "skyeval.grading.grade:extract_and_compare"
_MAX_DETAIL = 300
_REASONS: dict[object, GradeReason] = {"equal": "equal", "not_equal": "not_equal", "too_large": "too_large"}
_PAIRS_PER_NEW_WORKER = 16

_WARMUP = (_SLOW_REF, (r"\frac{\sqrt{2}}{2} + x^2", r"x^{2}+\frac{1}{\sqrt{2}}", EquivalenceConfig()))
"""A comparison each worker runs before its first call, so lazy imports (sympy, the LaTeX parser) are done."""
_POOL = SharedPool(lambda: WorkerPool(preload=("skyeval.grading.grade",), warmup=_WARMUP))


@dataclass(frozen=True)
class _Pending:
    """Work left for a worker: compare ``text`` (the extracted answer) or, when ``extracted`` is None, the
    oversized response ``text`` that must be extracted there first."""

    extracted: str | None
    text: str
    gold: str
    config: EquivalenceConfig
    finished: bool | None = None


def as_text(value: object) -> str | None:
    """Coerce a response or gold to text: numbers via ``str``, bytes decoded, lists joined with ``", "``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        parts = [t for t in (as_text(v) for v in value) if t is not None]
        return ", ".join(parts) if parts else None
    return str(value)


def grade(
    response: object,
    gold: object,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    policy: str | EquivalenceConfig = "default",
    finished: bool | None = None,
) -> Grade:
    """Grade one response against a gold answer; costs at most about ``timeout`` seconds.

    ``reason`` is ``equal``/``not_equal``, ``no_answer`` (nothing extracted), ``incomplete_reasoning`` (a
    ``<think>`` that never closed: nothing is read from inside it), ``too_large`` (a value beyond the
    size bound whose magnitude does not settle the comparison: not shown equal), ``timeout`` (the comparison
    did not finish in time) or ``error`` (missing gold, or a failure, described in ``detail``). Never raises on
    any response or gold; an unknown ``policy`` name is a SkyevalError before anything is graded. ``finished``
    says whether the response ended by itself (True), was cut off (False) or is unknown (None): see
    ``extract_answer``.
    """
    return _grade(response, gold, timeout, _SLOW_REF, resolve_policy(policy), finished)


def grade_many(
    responses: Sequence[object],
    golds: Sequence[object],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    workers: int | None = None,
    progress: bool = False,
    policy: str | EquivalenceConfig = "default",
    finished: Sequence[bool | None] | None = None,
) -> list[Grade]:
    """Grade many (response, gold) pairs; same order as the input, each with a hard ``timeout``.

    The fast stages run in this process; undecided pairs are compared on up to ``workers`` worker
    processes at once (default: the usable CPUs, 2 to 8). ``progress`` shows a tqdm bar on stderr.
    ``finished`` gives each response's ``finished`` flag (see ``grade``); None: all unknown.
    Raises ValueError when the sequences differ in length, SkyevalError for an unknown ``policy`` name.
    """
    if len(responses) != len(golds):
        raise ValueError(f"{len(responses)} responses but {len(golds)} golds")
    if finished is not None and len(finished) != len(responses):
        raise ValueError(f"{len(responses)} responses but {len(finished)} finished flags")
    flags = finished if finished is not None else [None] * len(responses)
    return _grade_many(responses, golds, timeout, workers, progress, _SLOW_REF, resolve_policy(policy), flags)


def _grade(
    response: object,
    gold: object,
    timeout: float,
    slow_ref: str,
    config: EquivalenceConfig,
    finished: bool | None = None,
) -> Grade:
    stage = _first_stages(response, gold, config, finished)
    return stage if isinstance(stage, Grade) else _slow_stage(stage, timeout, slow_ref)


def _grade_many(
    responses: Sequence[object],
    golds: Sequence[object],
    timeout: float,
    workers: int | None,
    progress: bool,
    slow_ref: str,
    config: EquivalenceConfig,
    finished: Sequence[bool | None],
) -> list[Grade]:
    from tqdm import tqdm

    firsts = [_first_stages(r, g, config, f) for r, g, f in zip(responses, golds, finished, strict=True)]
    pending = [(i, item) for i, item in enumerate(firsts) if isinstance(item, _Pending)]
    slow: dict[int, Grade] = {}
    with tqdm(total=len(firsts), disable=not progress, unit="resp", desc="grading") as bar:
        bar.update(len(firsts) - len(pending))
        if pending:
            pool = _POOL.get()
            # A new worker costs a start-up of ~1-2 s (sympy): start one per 16 pending pairs, use idle ones freely.
            wanted = max(pool.idle, -(-len(pending) // _PAIRS_PER_NEW_WORKER))
            n_workers = min(workers or pool.max_workers, len(pending), wanted)
            pool.reserve(n_workers)

            def run(job: tuple[int, _Pending]) -> tuple[int, Grade]:
                graded = _slow_stage(job[1], timeout, slow_ref)
                bar.update(1)
                return job[0], graded

            with ThreadPoolExecutor(max_workers=n_workers) as executor:
                slow = dict(executor.map(run, pending))
    return [item if isinstance(item, Grade) else slow[i] for i, item in enumerate(firsts)]


def _first_stages(
    response: object, gold: object, config: EquivalenceConfig, finished: bool | None
) -> Grade | _Pending:
    """Extraction and the in-process fast comparison; a ``_Pending`` when a worker must decide.

    Only inputs of bounded size are handled in-process (their cost is then bounded too); a larger response is
    extracted in the worker, a longer answer or gold is compared there, both under the hard timeout.
    """
    extracted: str | None = None
    try:
        gold_text = as_text(gold)
        response_text = as_text(response)
        if response_text is None:
            return Grade(False, None, "no_answer")
        if gold_text is None or not gold_text.strip():
            return Grade(False, None, "error", "no gold answer")
        if split_thinking(response_text).final is None:  # linear: two finds
            return Grade(False, None, "incomplete_reasoning", "the <think> block never closed")
        if len(response_text) > MAX_IN_PROCESS_RESPONSE:
            return _Pending(None, response_text, gold_text, config, finished)
        extracted = extract_answer(response_text, finished=finished)
        if extracted is None:
            return Grade(False, None, "no_answer")
        verdict = None
        if len(extracted) + len(gold_text) <= MAX_IN_PROCESS_ANSWER:
            verdict = fast_equivalent(extracted, gold_text, config)
    except Exception as err:  # noqa: BLE001 - grade never raises; the failure is logged and reported
        logger.warning("grading failed in the fast path", exc_info=True)
        return Grade(False, extracted, "error", _describe(err))
    if verdict is None:
        return _Pending(extracted, extracted, gold_text, config)
    return Grade(verdict, extracted, "equal" if verdict else "not_equal")


def _slow_stage(item: _Pending, timeout: float, slow_ref: str) -> Grade:
    """Decide a pending item in a worker: compare its extracted answer, or extract and compare there."""
    args: tuple[object, ...]
    if item.extracted is None:
        ref, args = _EXTRACT_AND_COMPARE_REF, (item.text, item.gold, slow_ref, item.config, item.finished)
    else:
        ref, args = slow_ref, (item.text, item.gold, item.config)
    try:
        outcome = _POOL.get().call(ref, args, timeout)
    except Exception as err:  # noqa: BLE001 - grade never raises; the failure is logged and reported
        logger.warning("grading failed in the worker pool", exc_info=True)
        outcome = Outcome("error", detail=_describe(err))
    extracted, verdict = item.extracted, outcome.value
    if outcome.status == "ok" and item.extracted is None:
        extracted, verdict = outcome.value
        if extracted is None:
            return Grade(False, None, "no_answer")
    if outcome.status == "ok":
        reason = _REASONS.get(verdict, "error")
        detail = "" if reason != "error" else f"unexpected verdict {verdict!r}"[:_MAX_DETAIL]
        return Grade(reason == "equal", extracted, reason, detail)
    if outcome.status == "error":
        logger.warning(
            "equivalence check failed for %.80r vs %.80r: %s", extracted, item.gold, outcome.detail
        )
    return Grade(False, extracted, outcome.status, outcome.detail)


def extract_and_compare(
    response: str, gold: str, compare_ref: str, config: EquivalenceConfig, finished: bool | None = None
) -> tuple[str | None, str]:
    """Worker side of an oversized response: extract its answer and compare it with ``compare_ref``."""
    from skyeval.grading.pool import resolve

    extracted = extract_answer(response, finished=finished)
    if extracted is None:
        return None, "not_equal"
    return extracted, str(resolve(compare_ref)(extracted, gold, config))


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:_MAX_DETAIL]
