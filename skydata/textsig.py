"""Normalised problem text and its hashed word n-grams, shared by dedup and decontamination.

Hashes are built from ``zlib.crc32`` of each token mixed with fixed multipliers, so they are identical in
every process (resumable, reproducible) and cheap enough for ~1M rows in pure Python.
"""

from __future__ import annotations

import re
import zlib

_TOKEN = re.compile(r"[a-z]+|\d+(?:\.\d+)?")
_MASK = (1 << 64) - 1
_MULT = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD)


def tokens(text: str) -> list[str]:
    """Lower-cased words and numbers; LaTeX markup, punctuation and spacing are ignored."""
    return _TOKEN.findall(text.lower().replace("\\left", " ").replace("\\right", " "))


def normalise(text: str) -> str:
    return " ".join(tokens(text))


def _mix(h: int) -> int:
    h = (h ^ (h >> 31)) * 0xBF58476D1CE4E5B9 & _MASK
    return h ^ (h >> 29)


def ngram_hashes(toks: list[str], n: int) -> list[int]:
    """64-bit hashes of the word n-grams of ``toks`` (one hash of the whole text if it is shorter than n)."""
    th = [zlib.crc32(t.encode()) for t in toks]
    if len(th) < n:
        n = max(len(th), 1)
        if not th:
            return []
    out = []
    for i in range(len(th) - n + 1):
        h = n
        for j in range(n):
            h = (h * _MULT[j % 5] + th[i + j]) & _MASK
        out.append(_mix(h))
    return out
