"""Mixtures of curated sets: take a count (or a fraction of a total) from each input by seeded reservoir
sampling, streaming each input once; each row records which set it came from in ``mixture``."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.jsonl import read_jsonl


@dataclass(frozen=True)
class Part:
    path: str
    count: int | None = None  # rows to take (None with ``fraction`` None: all)
    fraction: float | None = None  # share of the total, when a total is given
    name: str = ""


def parse_part(text: str) -> Part:
    """``PATH``, ``PATH:5000``, ``PATH:0.5`` or ``NAME=PATH:5000``."""
    name, sep, rest = text.partition("=")
    if not sep:
        name, rest = "", text
    path, sep, amount = rest.rpartition(":")
    if not sep or not amount.replace(".", "", 1).isdigit():
        path, amount = rest, ""
    name = name or Path(path).stem
    if not amount:
        return Part(path, None, None, name)
    if "." in amount:
        frac = float(amount)
        if not 0 < frac <= 1:
            raise SkyevalError(f"bad mixture fraction in {text!r}: must be in (0, 1]")
        return Part(path, None, frac, name)
    return Part(path, int(amount), None, name)


def _reservoir(path: str, k: int, rng: random.Random) -> tuple[list[dict[str, Any]], int]:
    sample: list[dict[str, Any]] = []
    seen = 0
    for row in read_jsonl(path):
        seen += 1
        if len(sample) < k:
            sample.append(row)
        else:
            j = rng.randrange(seen)
            if j < k:
                sample[j] = row
    return sample, seen


def mix(parts: Sequence[Part], *, total: int | None = None, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Rows of the mixture, shuffled; fails if an input has fewer rows than asked for."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for part in parts:
        if part.fraction is not None:
            if total is None:
                raise SkyevalError(f"{part.path}: a fraction needs --total")
            want: int | None = round(part.fraction * total)
        else:
            want = part.count
        if want is None:
            rows = [dict(r) for r in read_jsonl(part.path)]
        else:
            rows, seen = _reservoir(part.path, want, rng)
            if seen < want:
                raise SkyevalError(f"{part.path} has {seen} rows, fewer than the {want} asked for")
        for r in rows:
            r["mixture"] = part.name
        out.extend(rows)
    rng.shuffle(out)
    yield from out
