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


def token_hashes(toks: list[str]) -> list[int]:
    """crc32 of each token: the same in every process (unlike ``hash(str)``) and computed in C."""
    return [zlib.crc32(t.encode()) for t in toks]


def grams(th: list[int], n: int) -> list[int]:
    """Hashes of the n-grams of token hashes ``th`` (none when there are fewer than n tokens).

    An n-gram hashes with CPython's tuple-of-ints hash, which is the same in every process for int tuples.
    """
    if n > len(th):
        return []
    return list(map(hash, zip(*(th[j:] for j in range(n)), strict=False)))


def ngram_hashes(toks: list[str], n: int) -> list[int]:
    """Hashes of the word n-grams of ``toks`` (one hash of the whole text if it is shorter than n)."""
    th = token_hashes(toks)
    return grams(th, min(n, len(th))) if th else []
