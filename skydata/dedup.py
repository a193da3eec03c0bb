"""Exact and near-duplicate removal over a stream of items.

Exact: the normalised text (words and numbers) hashes equal. Near: one-permutation MinHash over word 5-grams
with LSH banding; a band collision is confirmed by the signatures' agreement (estimated Jaccard) reaching
``threshold``. Memory is about 1 KiB per kept row (signature and band keys, no text; measured in
docs/curation.md), so 1M rows fit in under 2 GiB.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from skydata.records import Drop, Item
from skydata.stage import StageResult, run_items
from skydata.textsig import ngram_hashes, tokens


@dataclass(frozen=True)
class DedupConfig:
    near: bool = True
    # estimated Jaccard of the 5-gram sets at/above which two problems are duplicates; with 32 bins this
    # catches ~99% of pairs with true Jaccard ~0.9, ~88% at ~0.8, ~33% at ~0.7 and ~2% at ~0.6
    threshold: float = 0.75
    shingle: int = 5
    bins: int = 32
    bands: int = 8


def _signature(hashes: list[int], bins: int) -> array[int]:
    """One-permutation MinHash with densification: ``bins`` 32-bit minima."""
    empty = 1 << 32
    sig = [empty] * bins
    for h in hashes:
        h = (h * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF  # spread the bits before splitting
        b = h % bins
        v = h >> 32
        if v < sig[b]:
            sig[b] = v
    if hashes and empty in sig:  # densify: an empty bin borrows (and perturbs) the next filled bin's value
        filled = list(sig)
        for b in range(bins):
            step = 1
            while filled[b] == empty:
                src = sig[(b + step) % bins]
                if src != empty:
                    filled[b] = (src + step * 0x9E3779B1) & 0xFFFFFFFF
                step += 1
        sig = filled
    return array("I", sig)


def dedup(items: Iterable[Item], config: DedupConfig = DedupConfig()) -> Iterator[Item | Drop]:
    """Keep the first of each group of (near-)duplicates; later ones become ``Drop``s naming the kept id."""
    exact: dict[int, int] = {}
    kept_ids: list[str] = []
    sigs: list[array[int]] = []
    rows = config.bins // config.bands
    band_index: list[dict[bytes, int]] = [{} for _ in range(config.bands)]
    for item in items:
        toks = tokens(item.problem)
        key = hash(" ".join(toks))  # in-process only: exact matching needs no cross-run stability
        first = exact.get(key)
        if first is not None:
            yield Drop(item.id, "duplicate", f"same normalised text as {kept_ids[first]}")
            continue
        index = len(kept_ids)
        if config.near and len(toks) >= config.shingle:
            sig = _signature(ngram_hashes(toks, config.shingle), config.bins)
            raw = sig.tobytes()
            keys = [raw[b * rows * 4 : (b + 1) * rows * 4] for b in range(config.bands)]
            match = _near_match(sig, keys, band_index, sigs, config.threshold)
            if match is not None:
                other, sim = match
                yield Drop(item.id, "near_duplicate", f"~{sim:.2f} Jaccard with {kept_ids[other]}")
                continue
            for b, k in enumerate(keys):
                band_index[b].setdefault(k, index)
            sigs.append(sig)
        else:
            sigs.append(array("I"))
        exact[key] = index
        kept_ids.append(item.id)
        yield item


def _near_match(
    sig: array[int],
    keys: list[bytes],
    band_index: list[dict[bytes, int]],
    sigs: list[array[int]],
    threshold: float,
) -> tuple[int, float] | None:
    for b, k in enumerate(keys):
        other = band_index[b].get(k)
        if other is None:
            continue
        osig = sigs[other]
        sim = sum(1 for x, y in zip(sig, osig, strict=True) if x == y) / len(sig)
        if sim >= threshold:
            return other, sim
    return None


def run(
    src: str | Path, out: str | Path, config: DedupConfig = DedupConfig(), *, progress: bool = True
) -> StageResult:
    """The dedup stage: the items of ``src`` without (near-)duplicates go to ``out``."""
    return run_items("dedup", src, out, lambda rows: dedup(rows, config), progress=progress)
