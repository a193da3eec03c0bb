"""Small helpers shared by the engines: stable per-sample seeds and request expansion."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from skyeval.errors import SkyevalError
from skyeval.types import GenerationRequest


def check_model_path(model: str) -> None:
    """Fail with a one-line error when ``model`` is written as a local path that does not exist."""
    if model.startswith(("/", "./", "../", "~")) and not Path(model).expanduser().exists():
        raise SkyevalError(f"model path not found: {model}")


def sample_seed(seed: int, problem_id: str, sample_index: int) -> int:
    """A 31-bit seed that depends only on (seed, problem_id, sample_index), never on batching or order."""
    digest = hashlib.sha256(f"{seed}\x00{problem_id}\x00{sample_index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def expand(requests: Sequence[GenerationRequest]) -> list[tuple[GenerationRequest, int]]:
    """One (request, sample_index) pair per requested sample, in request order."""
    return [(req, idx) for req in requests for idx in req.sample_indices]
