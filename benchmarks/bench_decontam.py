"""Decontamination measured: false positives between real benchmarks, recall on planted copies, speed.

    .venv/bin/python benchmarks/bench_decontam.py                        # 1,000 planted copies per kind
    .venv/bin/python benchmarks/bench_decontam.py --per-kind 100 --stream-rows 0
    .venv/bin/python benchmarks/bench_decontam.py --stream-rows 860000   # bench_curation's 860k-row stream

1. Each of the five benchmarks (the four of ``../shared/data`` and Minerva, read directly) checked against the
   other four: problems flagged (the goal is 0), and the closest cross-benchmark pair (fewest edits per word).
2. Planted copies (``tests/testkit/contamination.py``): five rounds, one per benchmark, whose problems, splices
   of its sentences and splices carrying the indexed benchmarks' boilerplate phrases are the background;
   copies of the other four's problems are planted, of four kinds (verbatim, one sentence reworded, a one- or
   two-sentence prefix, one number changed). Recall per kind and by problem length, false positives on the
   background, and the same rows through the previous rule (any shared word 8-gram) for comparison.
3. Speed of ``decontaminate_rows`` alone: on the trial's rows (competition text: many rows share phrases with
   the index) and on ``bench_curation``'s synthetic NuminaMath-shaped stream, with peak RSS.
4. The key filter's limit: copies with their whole edit budget spent on substitutions at random positions.

Prints one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test kit (testkit/)
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_curation's synthetic stream

import argparse
import json
import random
import resource
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from bench_curation import rows as synthetic_rows
from testkit.contamination import KINDS, Flagger, index_flagger, planted_trial, shared_benchmarks

from skydata.decontam import (
    BenchmarkProblem,
    ContaminationIndex,
    DecontamConfig,
    align,
    decontaminate_rows,
    edit_budget,
    word_masks,
)
from skydata.records import Drop
from skydata.textsig import grams, ngram_hashes, token_hashes, tokens

ROOT = Path(__file__).resolve().parents[1]


def ngram_flagger(n: int = 8) -> Flagger:
    """The previous rule: any shared word n-gram (whole text for problems under n words) contaminates."""

    def build(problems: Sequence[BenchmarkProblem]) -> Callable[[str], str | None]:
        table: dict[int, str] = {}
        short: dict[int, str] = {}
        for p in problems:
            toks = tokens(p.text)
            for h in ngram_hashes(toks, n):
                (short if len(toks) < n else table).setdefault(h, f"{p.task}:{p.id}")

        def flag(text: str) -> str | None:
            toks = tokens(text)
            hit = next((table[h] for h in ngram_hashes(toks, n) if h in table), None)
            if hit is None and toks and short:
                hit = short.get(ngram_hashes(toks, len(toks) + 1)[0])
            return hit

        return flag

    return build


def cross_check(problems: Sequence[BenchmarkProblem], config: DecontamConfig) -> dict[str, object]:
    """Each benchmark against the others, by the new and the previous rule; and the closest pair."""
    tasks = sorted({p.task for p in problems})
    out: dict[str, object] = {}
    for task in tasks:
        others = [p for p in problems if p.task != task]
        mine = [p for p in problems if p.task == task]
        new = ContaminationIndex(others, config)
        old = ngram_flagger()(others)
        out[task] = {
            "problems": len(mine),
            "flagged": sum(new.find(p.text) is not None for p in mine),
            "flagged_by_8gram_rule": sum(old(p.text) is not None for p in mine),
        }
    out["closest_pair"] = closest_pair(problems)
    return out


def closest_pair(problems: Sequence[BenchmarkProblem]) -> dict[str, object]:
    """Fewest edits per word of problem B over a window of a problem of another benchmark (pairs sharing a
    word 3-gram; others are further apart)."""
    toks = [tokens(p.text) for p in problems]
    hashes = [token_hashes(t) for t in toks]
    holders: dict[int, set[int]] = defaultdict(set)
    for i, h in enumerate(hashes):
        for g in grams(h, 3):
            holders[g].add(i)
    best: tuple[float, int, int, int] = (2.0, 0, 0, 0)
    for t, th in enumerate(hashes):
        near = set().union(*(holders.get(g, set()) for g in grams(th, 3)))
        for b in near:
            if problems[b].task == problems[t].task or not hashes[b]:
                continue
            edits, _ = align(word_masks(hashes[b]), len(hashes[b]), th)
            if edits / len(hashes[b]) < best[0]:
                best = (edits / len(hashes[b]), edits, b, t)
    ratio, edits, b, t = best
    return {
        "edits_per_word": round(ratio, 3),
        "edits": edits,
        "words": len(toks[b]),
        "problem": f"{problems[b].task}:{problems[b].id}",
        "in": f"{problems[t].task}:{problems[t].id}",
    }


def trial_report(
    problems: Sequence[BenchmarkProblem], per_kind: int, splices: int, seed: int, config: DecontamConfig
) -> dict[str, object]:
    new = planted_trial(problems, per_kind, splices, seed=seed, flagger=index_flagger(config))
    old = planted_trial(problems, per_kind, splices, seed=seed, flagger=ngram_flagger())
    flagged = sum(new.flagged.values())
    return {
        "planted_per_kind": {k: new.planted[k] for k in KINDS},
        "recall": {k: round(new.recall(k), 4) for k in KINDS},
        "attributed_to_the_planted_problem": {k: new.attributed[k] for k in KINDS},
        "recall_by_words": {b: f"{c['flagged']}/{c['planted']}" for b, c in sorted(new.by_length.items())},
        "background_rows": new.background,
        "false_positives": len(new.false_positives),
        "precision": round(flagged / (flagged + len(new.false_positives)), 4),
        "missed_examples": new.missed[:8],
        "false_positive_examples": new.false_positives[:5],
        "rows_per_cpu_s": round(new.rows / new.cpu_seconds),
        "words_per_row": round(new.words / new.rows, 1),
        "8gram_rule": {
            "recall": {k: round(old.recall(k), 4) for k in KINDS},
            "false_positives": len(old.false_positives),
            "rows_per_cpu_s": round(old.rows / old.cpu_seconds),
        },
    }


def scattered_edits(problems: Sequence[BenchmarkProblem], n: int, seed: int) -> dict[str, object]:
    """The key filter's limit: copies with exactly their edit budget of word substitutions at random
    positions (all within budget), found with the default 8 keys per problem and with one key per edit."""
    rng = random.Random(seed)
    rows = []
    for p in rng.sample(list(problems), min(n, len(problems))):
        words = tokens(p.text)
        for at in rng.sample(range(len(words)), edit_budget(len(words), DecontamConfig())):
            words[at] = "zq" + "".join(rng.choice("bcdfghjk") for _ in range(6))
        rows.append(" ".join(words))
    found: dict[str, object] = {}
    for name, cfg in (
        ("default_8_keys", DecontamConfig()),
        ("unlimited_keys", DecontamConfig(max_keys=10**6)),
    ):
        index = ContaminationIndex(problems, cfg)
        found[name] = f"{sum(index.find(r) is not None for r in rows)}/{len(rows)}"
    return found


def stream_timing(problems: Sequence[BenchmarkProblem], n: int) -> dict[str, object]:
    """``decontaminate_rows`` alone over ``bench_curation``'s synthetic rows, and the 8-gram rule on the same
    rows; generating the rows is timed on its own and taken off."""
    index = ContaminationIndex(problems)
    old = ngram_flagger()(problems)

    def timed(run: Callable[[], int]) -> tuple[int, float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        value = run()
        return value, time.perf_counter() - wall, time.process_time() - cpu

    _, gen_wall, gen_cpu = timed(lambda: sum(1 for _ in synthetic_rows(n, list(problems))))
    new_drops, new_wall, new_cpu = timed(
        lambda: sum(isinstance(x, Drop) for x in decontaminate_rows(synthetic_rows(n, list(problems)), index))
    )
    old_drops, old_wall, old_cpu = timed(
        lambda: sum(old(x.problem) is not None for x in synthetic_rows(n, list(problems)))
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {
        "rows": n,
        "generation": {"wall_s": round(gen_wall, 1), "cpu_s": round(gen_cpu, 1)},
        "contaminated": new_drops,
        "decontam_wall_s": round(new_wall - gen_wall, 1),
        "decontam_cpu_s": round(new_cpu - gen_cpu, 1),
        "decontam_rows_per_cpu_s": round(n / max(new_cpu - gen_cpu, 1e-9)),
        "8gram_rule": {
            "contaminated": old_drops,
            "cpu_s": round(old_cpu - gen_cpu, 1),
            "rows_per_cpu_s": round(n / max(old_cpu - gen_cpu, 1e-9)),
        },
        "peak_rss_mib": round(peak / 2**20),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"), help="the shared/ folder")
    ap.add_argument("--per-kind", type=int, default=1000, help="planted copies of each kind")
    ap.add_argument(
        "--splices", type=int, default=1000, help="background splices per round (twice: plain, boilerplate)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--stream-rows", type=int, default=200_000, help="synthetic stream rows to time (0: skip)"
    )
    ap.add_argument("--max-edit-ratio", type=float, default=DecontamConfig().max_edit_ratio)
    args = ap.parse_args()
    config = DecontamConfig(max_edit_ratio=args.max_edit_ratio)
    problems = shared_benchmarks(Path(args.shared))
    report: dict[str, object] = {
        "benchmark_problems": len(problems),
        "max_edit_ratio": config.max_edit_ratio,
        "python": sys.version.split()[0],
    }
    start = time.perf_counter()
    report["cross_check"] = cross_check(problems, config)
    report["cross_check_seconds"] = round(time.perf_counter() - start, 1)
    report["planted"] = trial_report(problems, args.per_kind, args.splices, args.seed, config)
    report["scattered_edits"] = scattered_edits(problems, args.per_kind, args.seed)
    if args.stream_rows:
        report["stream"] = stream_timing(problems, args.stream_rows)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
