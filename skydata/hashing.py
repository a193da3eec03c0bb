"""Content hashes for skydata caches and logs (crash-safe JSONL lives in :mod:`skyeval.jsonl`)."""

from __future__ import annotations

import hashlib


def stable_hash(text: str, size: int = 16) -> str:
    """A short content hash that is the same in every process (unlike ``hash()``)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size // 2).hexdigest()
