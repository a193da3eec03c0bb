"""Selection + dedup + decontamination over synthetic NuminaMath-shaped rows, streamed (never all in memory).

    .venv/bin/python benchmarks/bench_curation.py                     # 860k rows (NuminaMath-CoT's size)
    .venv/bin/python benchmarks/bench_curation.py --rows 50000 --data-dir ../shared/data
    .venv/bin/python benchmarks/bench_curation.py --dedup-recall      # near-duplicate recall by Jaccard

Rows follow NuminaMath-CoT's source mix, carry a synthetic difficulty label, and include exact duplicates,
near duplicates (one word changed) and copies of benchmark problems (from --data-dir when given) so every
removal path runs. Prints rows/s, the funnel and peak RSS (ru_maxrss) as one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from skydata.decontam import BenchmarkProblem, ContaminationIndex, decontaminate_rows, load_benchmarks
from skydata.dedup import dedup
from skydata.records import Drop, Item
from skydata.select import resolve_rules, select

# NuminaMath-CoT's sources and their approximate row counts (860k total)
MIX = {
    "cn_k12": 276_000,
    "synthetic_math": 167_000,
    "orca_math": 153_000,
    "olympiads": 150_000,
    "synthetic_amc": 62_000,
    "aops_forum": 30_000,
    "math": 7_500,
    "gsm8k": 7_300,
    "amc_aime": 4_100,
}
WORDS = (
    "triangle circle integer prime sum product remainder polynomial root sequence function angle area "
    "probability digit divisor square cube real positive number value maximum minimum length ratio"
).split()
NOUNS = ("Let", "Find", "Compute", "Determine", "Suppose", "Given", "Prove", "How many", "What is")


def _chunk(rng: random.Random) -> str:
    words = []
    for _ in range(rng.randint(8, 20)):
        r = rng.random()
        if r < 0.25:
            words.append(str(rng.randint(0, 999)))
        elif r < 0.32:
            words.append(f"${rng.choice('xyzabn')}^{rng.randint(2, 9)}$")
        else:
            words.append(rng.choice(WORDS))
    return " ".join(words)


def synthetic_problem(rng: random.Random, pool: list[str] | None = None) -> str:
    """A problem of 40-90 words: random words and numbers, or four chunks drawn from ``pool`` (fast)."""
    if pool is None:
        return " ".join(_chunk(rng) for _ in range(4)) + "?"
    return f"{rng.choice(NOUNS)} {rng.choice(pool)} {rng.choice(pool)} {rng.choice(pool)} {rng.choice(pool)}?"


def rows(n: int, bench: list[BenchmarkProblem], seed: int = 0) -> Iterator[Item]:
    """Rows streamed on the fly; ~3% exact duplicates, ~2% near duplicates, ~0.2% benchmark copies."""
    rng = random.Random(seed)
    pool = [_chunk(rng) for _ in range(20_000)]  # 20k^4 distinct problems; near-dup pairs are rare by chance
    sources, cum = list(MIX), list(itertools.accumulate(MIX.values()))
    recent: list[str] = []
    for i in range(n):
        source = rng.choices(sources, cum_weights=cum)[0]
        r = rng.random()
        if r < 0.03 and recent:  # exact duplicate (reformatted)
            problem = "  " + rng.choice(recent).replace(" ", "  ")
        elif r < 0.05 and recent:  # near duplicate: one word changed
            words = rng.choice(recent).split()
            words[rng.randrange(len(words))] = "quantity"
            problem = " ".join(words)
        elif r < 0.052 and bench:  # contaminated: a benchmark problem with a prefix
            problem = "Problem: " + rng.choice(bench).text
        else:
            problem = synthetic_problem(rng, pool)
            if len(recent) < 2000:
                recent.append(problem)
            else:
                recent[rng.randrange(2000)] = problem
        yield Item(
            f"numina-{i:07d}",
            problem,
            str(rng.randrange(1000)),
            source,
            {"difficulty": float(rng.randint(1, 10))},
        )


def dedup_recall(pairs: int = 1200, unrelated: int = 1500, seed: int = 5) -> dict[str, object]:
    """Near-duplicate detection by true 5-gram Jaccard of synthetic pairs (1-3 words replaced), and false
    positives on pairs sharing half their words."""
    from skydata.dedup import DedupConfig
    from skydata.textsig import tokens

    def grams(text: str) -> set[tuple[str, ...]]:
        t = tokens(text)
        return {tuple(t[i : i + 5]) for i in range(len(t) - 4)}

    def removed(a: str, b: str) -> bool:
        items = [Item("a", a, "1", "s"), Item("b", b, "1", "s")]
        return any(isinstance(o, Drop) for o in dedup(items, DedupConfig()))

    rng = random.Random(seed)
    pool = [_chunk(rng) for _ in range(5000)]
    by_j: dict[float, list[int]] = {}
    for _ in range(pairs):
        p = synthetic_problem(rng, pool)
        words = p.split()
        for _ in range(rng.choice([1, 1, 2, 3])):
            words[rng.randrange(len(words))] = "quantity"
        q = " ".join(words)
        ga, gb = grams(p), grams(q)
        bucket = by_j.setdefault(round(len(ga & gb) / len(ga | gb), 1), [0, 0])
        bucket[0] += 1
        bucket[1] += removed(p, q)
    false_pos = 0
    for _ in range(unrelated):
        a = synthetic_problem(rng, pool)
        half = " ".join(a.split()[: len(a.split()) // 2])
        false_pos += removed(a, f"{half} {synthetic_problem(rng, pool)}")
    return {
        "removed_by_jaccard": {f"{k:.1f}": f"{v[1]}/{v[0]}" for k, v in sorted(by_j.items())},
        "half_shared_removed": f"{false_pos}/{unrelated}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=860_000)
    ap.add_argument("--data-dir", default=None, help="folder with the benchmark <task>.jsonl files")
    ap.add_argument("--exact-only", action="store_true", help="skip near-duplicate detection")
    ap.add_argument("--dedup-recall", action="store_true", help="measure near-duplicate recall and exit")
    args = ap.parse_args()
    if args.dedup_recall:
        print(json.dumps(dedup_recall(), indent=1))
        return

    if args.data_dir:
        bench = list(load_benchmarks(data_dir=args.data_dir).problems)
    else:
        rng = random.Random(1)
        bench = [BenchmarkProblem("synthetic", str(i), synthetic_problem(rng)) for i in range(1300)]
    from skydata.dedup import DedupConfig

    index = ContaminationIndex(bench)
    rules = resolve_rules("sky-t1")
    start = time.perf_counter()
    for _ in rows(args.rows, bench):
        pass
    generation = time.perf_counter() - start

    reasons: Counter[str] = Counter()
    kept = 0
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    start = time.perf_counter()
    stream = select(
        (
            x
            for x in decontaminate_rows(
                (
                    y
                    for y in dedup(rows(args.rows, bench), DedupConfig(near=not args.exact_only))
                    if not (isinstance(y, Drop) and not reasons.update([y.reason]))
                ),
                index,
            )
            if not (isinstance(x, Drop) and not reasons.update([x.reason]))
        ),
        rules,
    )
    for out in stream:
        if isinstance(out, Drop):
            reasons[out.reason] += 1
        else:
            kept += 1
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    stages = seconds - generation
    print(
        json.dumps(
            {
                "rows": args.rows,
                "seconds": round(seconds, 1),
                "rows_per_s": round(args.rows / seconds),
                "cpu_seconds": round(cpu, 1),
                "rows_per_cpu_s": round(args.rows / cpu),
                "generation_only_seconds": round(generation, 1),
                "stage_rows_per_s": round(args.rows / stages),
                "peak_rss_mib": round(peak / 2**20),
                "kept": kept,
                "dropped": dict(sorted(reasons.items())),
                "near_dedup": not args.exact_only,
                "benchmark_problems": len(bench),
                "python": sys.version.split()[0],
                "data_dir": str(Path(args.data_dir)) if args.data_dir else None,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
