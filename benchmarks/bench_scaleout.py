"""Ray scale-out on the CPU test setup: 2 replicas vs 1 vs the plain single-process ``hf`` engine.

Builds the tiny random Qwen2 model locally, generates greedily for ``--problems`` prompts and reports wall times
(start-up and generation separately), the 2-vs-1 speed-up and Ray's overhead over the plain engine; then the
same for grading (``ray_grade_many`` vs ``grade_many``). Results go into docs/scaling.md by hand.

    .venv/bin/python benchmarks/bench_scaleout.py            # the setup of docs/scaling.md
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=128)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--hf-batch-size", type=int, default=4)
    parser.add_argument("--grade-pairs", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=5, help="generation timings: best of this many runs")
    args = parser.parse_args()

    import ray
    import torch

    from skyeval import grade_many
    from skyeval.engines import get_engine
    from skyeval.scaleout import RayEngine, ray_grade_many
    from skyeval.testing import build_tiny_model
    from skyeval.types import Engine, GenerationRequest, Message, SamplingParams

    sampling = SamplingParams(n=1, temperature=0.0, max_tokens=args.max_tokens)
    requests = [
        GenerationRequest(f"p{i}", (Message("user", f"What is {i} + {i % 7}? Reason step by step."),), (0,))
        for i in range(args.problems)
    ]
    results: dict[str, float] = {}
    full = torch.get_num_threads()

    def timed_generation(engine: Engine) -> float:
        t = time.perf_counter()
        out = list(engine.generate(requests, sampling))
        elapsed = time.perf_counter() - t
        assert len(out) == len(requests)
        results["completion_tokens"] = sum(c.completion_tokens or 0 for c in out)
        return elapsed

    with tempfile.TemporaryDirectory() as tmp:
        model = str(build_tiny_model(Path(tmp) / "tiny"))
        options = {"model": model, "device": "cpu", "batch_size": args.hf_batch_size}

        t = time.perf_counter()
        plain = get_engine("hf", **options)
        results["plain_load_s"] = time.perf_counter() - t
        # one run with torch's default threads (all cores: it suffers most from other load on the machine)
        results[f"plain_{full}thr_generate_s"] = timed_generation(plain)

        t = time.perf_counter()
        # 3 logical CPUs so the 1-replica and the 2-replica engines can live side by side (idle actors use no
        # CPU) and their runs can alternate, which spreads the other load on the machine evenly over both
        ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False)
        results["ray_init_s"] = time.perf_counter() - t
        engines = {}
        for replicas in (1, 2):
            # the same hf batches as the plain engine: one shard = one hf batch
            engines[replicas] = RayEngine("hf", options, replicas=replicas, batch_size=args.hf_batch_size)
            t = time.perf_counter()
            engines[replicas].start()
            results[f"ray{replicas}_start_s"] = time.perf_counter() - t
        # plain with one thread (what each replica gets), 1 replica, 2 replicas: alternated, best and median
        runs: dict[str, list[float]] = {"plain_1thr": [], "ray1": [], "ray2": []}
        for _ in range(args.repeats):
            torch.set_num_threads(1)
            runs["plain_1thr"].append(timed_generation(plain))
            torch.set_num_threads(full)
            for replicas, engine in engines.items():
                runs[f"ray{replicas}"].append(timed_generation(engine))
        for name, times in runs.items():
            results[f"{name}_generate_s"] = min(times)
            results[f"{name}_generate_median_s"] = statistics.median(times)
        for engine in engines.values():
            engine.close()
        # auto batch size (about 4 shards per replica, fewer round trips)
        engine = RayEngine("hf", options, replicas=2)
        engine.start()
        results["ray2_auto_batch_generate_s"] = min(timed_generation(engine) for _ in range(args.repeats))
        engine.close()

        responses = [
            f"so the answer is \\boxed{{\\frac{{{i}}}{{{i % 9 + 2}}}}}" for i in range(args.grade_pairs)
        ]
        golds = [f"{i}/{i % 9 + 2}" for i in range(args.grade_pairs)]
        t = time.perf_counter()
        local = grade_many(responses, golds)
        results["grade_many_s"] = time.perf_counter() - t
        for replicas in (1, 2):
            t = time.perf_counter()
            remote = ray_grade_many(responses, golds, replicas=replicas, batch_size=256)
            results[f"ray_grade_many{replicas}_s"] = time.perf_counter() - t
            assert remote == local
        ray.shutdown()

    results["speedup_2_vs_1"] = results["ray1_generate_s"] / results["ray2_generate_s"]
    plain_1thr = results["plain_1thr_generate_s"]
    results["ray1_overhead_vs_plain_1thr"] = results["ray1_generate_s"] / plain_1thr - 1
    results["ray1_overhead_per_batch_s"] = (results["ray1_generate_s"] - plain_1thr) / math.ceil(
        args.problems / args.hf_batch_size
    )
    results["ray2_speedup_vs_plain_2thr"] = (
        results[f"plain_{full}thr_generate_s"] / results["ray2_generate_s"]
    )
    load = os.getloadavg()
    print(
        json.dumps(
            {"cpus": os.cpu_count(), "load_avg_1_5_15": load, **{k: round(v, 3) for k, v in results.items()}},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
