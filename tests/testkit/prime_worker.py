"""PRIME on the tiny random Qwen2 with a scripted verdict: the settings the tests use, and a runnable worker.

    python tests/testkit/prime_worker.py --steps 20          # one process: PRM losses, timings (docs figures)
    python tests/testkit/prime_worker.py --steps 20 --bf16   # on a CUDA GPU: bf16 policy, PRM under autocast
    ACCELERATE_USE_CPU=1 torchrun --standalone --nproc_per_node 2 tests/testkit/prime_worker.py --steps 3

In two processes (gloo) the implicit PRM is replicated and its gradients all-reduced, so after training every
process must hold identical PRM weights: the worker prints their digests and exits 1 when they differ.
Sampling is top-k 4 so that rollouts repeat tokens and the verdict (first response token id even) is
learnable by the PRM within 20 steps. Prints one JSON line (rank 0), then tears the process group down as
``python -m skytrain.trl_backend`` does (without that, a process sometimes aborted at exit after a good run).
"""

from __future__ import annotations

import argparse
import faulthandler
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROLLOUTS = 4


def first_token_is_even(completion_ids: list[list[int]], **kwargs: Any) -> list[float]:
    """Scripted outcome verifier: correct when the first response token has an even id."""
    return [float(ids[0] % 2 == 0) for ids in completion_ids]


def prime_config(out: Path, **overrides: Any) -> Any:
    """The ``PrimeConfig`` of the CPU tests: 4 prompts x 4 rollouts per step, 8 tokens, beta 0.5, PRM lr 3e-3."""
    from skytrain.prime import PrimeConfig

    settings: dict[str, Any] = {
        "output_dir": str(out),
        "per_device_train_batch_size": 16,
        "num_generations": ROLLOUTS,
        "max_completion_length": 8,
        "top_k": 4,
        "learning_rate": 1e-5,
        "logging_steps": 1,
        "report_to": "none",
        "save_strategy": "no",
        "use_vllm": False,
        "bf16": False,
        "seed": 0,
        "disable_tqdm": True,
        "prime_beta": 0.5,
        "prime_lr": 3e-3,
    }
    return PrimeConfig(**{**settings, **overrides})


def prompts(n: int = 8) -> Any:
    from datasets import Dataset

    return Dataset.from_list(
        [{"prompt": [{"role": "user", "content": f"What is {i} + 1?"}]} for i in range(n)]
    )


def prm_digest(trainer: Any) -> str:
    digest = hashlib.sha256()
    for _, tensor in sorted(trainer.prm.state_dict().items()):
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--bf16", action="store_true", help="bf16 policy and autocast (needs CUDA)")
    parser.add_argument(
        "--watchdog",
        type=float,
        default=240.0,
        help="seconds before a hung process dumps its stacks and exits",
    )
    args = parser.parse_args()
    # a collective that never completes would hang the caller silently: dump every thread's stack and exit
    faulthandler.dump_traceback_later(args.watchdog, exit=True)
    from accelerate.utils import gather_object

    from skyeval.testing import build_tiny_model
    from skytrain.prime import PrimeTrainer
    from skytrain.trl_backend import end_process_group

    work = Path(tempfile.mkdtemp(prefix="prime-worker-"))
    model = build_tiny_model(work / "tiny")  # fixed seed: the same weights in every process
    started, cpu = time.perf_counter(), time.process_time()
    trainer = PrimeTrainer(
        model=str(model),
        reward_funcs=[first_token_is_even],
        args=prime_config(
            work / "out",
            max_steps=args.steps,
            shuffle_dataset=False,
            bf16=args.bf16,
            model_init_kwargs={"dtype": "bfloat16" if args.bf16 else "float32"},
        ),
        train_dataset=prompts(),
    )
    trainer.train()
    losses = [row["prime/prm_loss"] for row in trainer.state.log_history if "prime/prm_loss" in row]
    done = [x for x in losses if x is not None]
    digests = gather_object([prm_digest(trainer)])
    report: dict[str, Any] = {
        "processes": trainer.accelerator.num_processes,
        "steps": trainer.state.global_step,
        "prm_loss": [None if x is None else round(x, 4) for x in losses],
        "wall_s": round(time.perf_counter() - started, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "prm_replicas_identical": len(set(digests)) == 1,
        "device": str(trainer.accelerator.device),
        "bf16": args.bf16,
    }
    if len(done) >= 10:
        first, last = statistics.mean(done[:5]), statistics.mean(done[-5:])
        report.update(first5=round(first, 4), last5=round(last, 4), ratio=round(last / first, 3))
    if trainer.accelerator.is_main_process:
        print(json.dumps(report), flush=True)
    end_process_group()  # as skytrain.trl_backend's entry point: without it, a process sometimes aborts at exit
    faulthandler.cancel_dump_traceback_later()
    return 0 if report["prm_replicas_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
