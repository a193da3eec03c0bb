"""Normalised problem text and its hashed word n-grams, shared by dedup and decontamination.

Hashes are identical in every process (reproducible) and cheap enough for ~1M rows in pure Python.
"""

from __future__ import annotations

import re
import zlib

_TOKEN = re.compile(r"[a-z]+|\d+(?:\.\d+)?")


def tokens(text: str) -> list[str]:
    """Lower-cased words and numbers; LaTeX markup, punctuation and spacing are ignored."""
    return _TOKEN.findall(text.lower().replace("\\left", " ").replace("\\right", " "))


def normalise(text: str) -> str:
    return " ".join(tokens(text))


def ngram_hashes(toks: list[str], n: int) -> list[int]:
    """Hashes of the word n-grams of ``toks`` (one hash of the whole text if it is shorter than n).

    Tokens hash with crc32 and n-grams with CPython's tuple-of-ints hash: both are the same in every process
    (unlike ``hash(str)``) and run in C, which keeps ~1M rows in the minutes range.
    """
    th = [zlib.crc32(t.encode()) for t in toks]
    if not th:
        return []
    n = min(n, len(th))
    return list(map(hash, zip(*(th[j:] for j in range(n)), strict=False)))
