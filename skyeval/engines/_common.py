"""Small helpers shared by the engines: stable per-sample seeds, request expansion, model paths, and the
sampling parameters vLLM and SGLang take beyond ``SamplingParams`` (``top_k``, ``min_p``, ...)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.fingerprint import is_hub_id, is_local
from skyeval.types import GenerationRequest


def check_model_path(model: str) -> None:
    """Fail with a one-line error when ``model`` is a missing local path: neither an existing file or folder
    nor a Hub id (``./ckpt``, ``runs/x/model``; the rule of ``skyeval.fingerprint``, which identifies runs)."""
    if model and not is_local(model) and not is_hub_id(model):
        raise SkyevalError(f"model path not found: {model}")


def sample_seed(seed: int, problem_id: str, sample_index: int) -> int:
    """A 31-bit seed that depends only on (seed, problem_id, sample_index), never on batching or order."""
    digest = hashlib.sha256(f"{seed}\x00{problem_id}\x00{sample_index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def expand(requests: Sequence[GenerationRequest]) -> list[tuple[GenerationRequest, int]]:
    """One (request, sample_index) pair per requested sample, in request order."""
    return [(req, idx) for req in requests for idx in req.sample_indices]


def extra_sampling(
    top_k: int | None = None,
    min_p: float | None = None,
    repetition_penalty: float | None = None,
    stop: str | list[str] | None = None,
) -> dict[str, Any]:
    """The extra sampling parameters that were set (``None`` = the server's or vLLM's default), checked.

    ``stop`` comes back as a list of strings. Bad values fail with a one-line error naming the option.
    """
    extra: dict[str, Any] = {}
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < -1:
            raise SkyevalError(f"engine option top_k={top_k!r} must be an integer >= -1 (-1 or 0: off)")
        extra["top_k"] = top_k
    if min_p is not None:
        if isinstance(min_p, bool) or not isinstance(min_p, int | float) or not 0 <= min_p <= 1:
            raise SkyevalError(f"engine option min_p={min_p!r} must be a number in [0, 1]")
        extra["min_p"] = float(min_p)
    if repetition_penalty is not None:
        if (
            isinstance(repetition_penalty, bool)
            or not isinstance(repetition_penalty, int | float)
            or not repetition_penalty > 0
        ):
            raise SkyevalError(
                f"engine option repetition_penalty={repetition_penalty!r} must be a number > 0"
            )
        extra["repetition_penalty"] = float(repetition_penalty)
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not stops or not all(isinstance(s, str) and s for s in stops):
            raise SkyevalError(f"engine option stop={stop!r} must be a string or a list of non-empty strings")
        extra["stop"] = list(stops)
    return extra
