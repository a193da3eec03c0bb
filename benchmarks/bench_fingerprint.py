"""What fingerprinting a model costs a run (run by hand; figures go to docs/running.md, "Run identity").

1. The tiny test model (``skyeval.testing.build_tiny_model``, 6 files, 0.4 MB): every file hashed whole.
2. A synthetic checkpoint of ``--shards`` weight files of ``--shard-gib`` GiB each (sparse files: the figure
   is the fingerprint's own cost, 16 reads of 64 KiB per file; on a cold disk add one seek per read) plus a
   7 MB tokenizer.json, the size of Qwen2.5's.
3. For scale: a full sha256 of ``--full-mib`` MiB of real data, what hashing whole weights would cost per file.

    .venv/bin/python benchmarks/bench_fingerprint.py [--shards 8] [--shard-gib 4] [--full-mib 1024]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _median_seconds(fn: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--shard-gib", type=float, default=4.0)
    parser.add_argument("--full-mib", type=int, default=1024)
    args = parser.parse_args()

    from skyeval.fingerprint import fingerprint_path
    from skyeval.testing import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tiny = build_tiny_model(root / "tiny")
        print(
            f"tiny model (6 files, 0.4 MB): {1000 * _median_seconds(lambda: fingerprint_path(tiny)):.2f} ms"
        )

        big = root / "big"
        big.mkdir()
        size = int(args.shard_gib * 2**30)
        for i in range(args.shards):
            with (big / f"model-{i:05d}-of-{args.shards:05d}.safetensors").open("wb") as fh:
                fh.truncate(size)
        (big / "tokenizer.json").write_bytes(os.urandom(7 * 2**20))
        (big / "config.json").write_text('{"hidden_size": 3584}')
        seconds = _median_seconds(lambda: fingerprint_path(big))
        total = args.shards * args.shard_gib
        print(
            f"{args.shards} shards x {args.shard_gib:g} GiB ({total:g} GiB) + 7 MB tokenizer: {1000 * seconds:.1f} ms"
        )

        data = root / "full.bin"
        data.write_bytes(os.urandom(args.full_mib * 2**20))
        seconds = _median_seconds(lambda: hashlib.sha256(data.read_bytes()).hexdigest(), repeats=3)
        print(f"full sha256 of {args.full_mib} MiB (page cache): {seconds:.2f} s")


if __name__ == "__main__":
    main()
