"""Checks before training starts: the model exists, its tokenizer loads, and every row fits the token cutoffs.

Every problem is one line (a :class:`SkyevalError`); nothing is dropped without being counted and printed.
A row that cannot fit ``--max-length`` (SFT) or ``--max-prompt-length`` (RL) is refused, or with
``--drop-long`` dropped and counted: frameworks otherwise truncate it silently or drop it without a word
(TRL drops SFT rows whose prompt alone fills ``max_length``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError, require
from skyeval.fingerprint import is_hub_id
from skytrain.data import load_sft_rows, spec_rl_rows
from skytrain.specs import RLSpec, SFTSpec


def check_model(model: str) -> None:
    """One line when ``model`` names a local folder that is missing or is not a saved model."""
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise SkyevalError(f"model {model} is not a saved model folder (no config.json)")
        return
    if not is_hub_id(model):  # a path (``./m``, ``runs/x/model``), not ``org/name``
        raise SkyevalError(f"model path {model} does not exist")


def hub_reachable() -> bool:
    """Whether the Hugging Face Hub can answer (``HF_HUB_OFFLINE=1``: no; else a 3-second connection probe)."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
    except OSError:
        return False
    return True


def hub_cached(repo_id: str, repo_type: str = "model") -> bool:
    """Whether a Hub repository is in the local Hugging Face cache (its config or card file is)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    filename = "config.json" if repo_type == "model" else "README.md"
    return isinstance(try_to_load_from_cache(repo_id, filename, repo_type=repo_type), str)


def load_tokenizer(model: str) -> Any:
    """The model's tokenizer, or one line saying why it cannot be loaded (missing path, unknown Hub id, offline).

    A Hub id that is neither cached nor reachable fails at once instead of after the Hub client's retries.
    """
    check_model(model)
    if not Path(model).expanduser().exists() and not hub_cached(model) and not hub_reachable():
        raise SkyevalError(
            f"cannot load model {model}: not a local folder, not in the Hugging Face cache, "
            "and the Hub is unreachable"
        )
    require("transformers", extra="train", what="loading the tokenizer of the model")
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model)
    except (OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SkyevalError(
            f"cannot load model {model}: not a local folder, and the Hub cannot provide it ({reason})"
        ) from None


@dataclass(frozen=True)
class Lengths:
    """Token lengths of a data set's prompts and responses, and the rows that cannot fit the cutoff."""

    prompt: tuple[int, ...]
    response: tuple[int, ...]
    too_long: tuple[int, ...]  # 0-based row indices over the cutoff
    cutoff: int | None
    what: str  # "prompt + response" or "prompt"

    def summary(self) -> str:
        def stats(values: tuple[int, ...]) -> str:
            ordered = sorted(values)
            if not ordered:
                return "-"
            p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
            return f"median {ordered[len(ordered) // 2]}, p95 {p95}, max {ordered[-1]}"

        parts = [f"{len(self.prompt)} rows; prompt tokens {stats(self.prompt)}"]
        if self.response:
            parts.append(f"response tokens {stats(self.response)}")
        if self.cutoff is not None:
            parts.append(f"{len(self.too_long)} over the {self.cutoff}-token cutoff ({self.what})")
        return "; ".join(parts)


def _chat_length(tokenizer: Any, messages: Sequence[dict[str, str]], *, generation_prompt: bool) -> int:
    ids = tokenizer.apply_chat_template(
        list(messages), tokenize=True, add_generation_prompt=generation_prompt
    )
    if isinstance(ids, dict) or hasattr(ids, "keys"):  # a BatchEncoding on newer transformers
        ids = ids["input_ids"]
    return len(ids)


def sft_lengths(rows: Sequence[dict[str, Any]], tokenizer: Any, max_length: int) -> Lengths:
    """Prompt (all turns before the last, with the generation prompt) and response tokens of SFT rows."""
    prompts, responses, over = [], [], []
    for index, row in enumerate(rows):
        messages = row["messages"]
        prompt = _chat_length(tokenizer, messages[:-1], generation_prompt=True)
        full = _chat_length(tokenizer, messages, generation_prompt=False)
        prompts.append(prompt)
        responses.append(max(full - prompt, 0))
        if full > max_length:
            over.append(index)
    return Lengths(tuple(prompts), tuple(responses), tuple(over), max_length, "prompt + response")


def rl_lengths(rows: Sequence[dict[str, Any]], tokenizer: Any, max_prompt_length: int | None) -> Lengths:
    """Prompt tokens of RL rows (chat template with the generation prompt) against ``max_prompt_length``."""
    prompts = tuple(_chat_length(tokenizer, row["prompt"], generation_prompt=True) for row in rows)
    over = (
        () if max_prompt_length is None else tuple(i for i, n in enumerate(prompts) if n > max_prompt_length)
    )
    return Lengths(prompts, (), over, max_prompt_length, "prompt")


def fit_rows(
    rows: list[dict[str, Any]],
    lengths: Lengths,
    *,
    drop_long: bool,
    flag: str,
    source: str,
    announce: Callable[[str], object],
) -> list[dict[str, Any]]:
    """Announce the lengths; refuse rows over the cutoff, or drop them (counted) with ``drop_long``."""
    announce(f"lengths of {source}: {lengths.summary()}")
    if not lengths.too_long:
        return rows
    first = lengths.too_long[0]
    sizes = lengths.prompt[first] + (lengths.response[first] if lengths.response else 0)
    if not drop_long:
        raise SkyevalError(
            f"{len(lengths.too_long)} of {len(rows)} rows of {source} do not fit {flag} {lengths.cutoff} "
            f"(first: row {first + 1}, {sizes} tokens of {lengths.what}); raise {flag} or pass --drop-long"
        )
    dropped = set(lengths.too_long)
    kept = [row for i, row in enumerate(rows) if i not in dropped]
    if not kept:
        raise SkyevalError(
            f"--drop-long would drop all {len(rows)} rows of {source} ({flag} {lengths.cutoff})"
        )
    announce(f"--drop-long: dropped {len(dropped)} of {len(rows)} rows over {flag} {lengths.cutoff}")
    return kept


def fitted_sft_rows(spec: SFTSpec, tokenizer: Any, announce: Callable[[str], object]) -> list[dict[str, Any]]:
    """The SFT rows of ``spec`` that fit ``--max-length`` (announced; refused or dropped per ``--drop-long``)."""
    rows = load_sft_rows(spec.data)
    lengths = sft_lengths(rows, tokenizer, spec.max_length)
    return fit_rows(
        rows, lengths, drop_long=spec.drop_long, flag="--max-length", source=spec.data, announce=announce
    )


def fitted_rl_rows(
    spec: RLSpec, tokenizer: Any, cutoff: int | None, announce: Callable[[str], object]
) -> list[dict[str, Any]]:
    """The RL rows of ``spec`` whose prompts fit ``cutoff`` (None: lengths only reported, nothing refused)."""
    rows = spec_rl_rows(spec)
    lengths = rl_lengths(rows, tokenizer, cutoff)
    return fit_rows(
        rows,
        lengths,
        drop_long=spec.drop_long,
        flag="--max-prompt-length",
        source=spec.data,
        announce=announce,
    )
