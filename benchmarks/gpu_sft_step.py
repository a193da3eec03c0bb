"""One TRL SFT step in bf16 on CUDA with the tiny random Qwen2, through skytrain's library API; prints JSON.

    python benchmarks/gpu_sft_step.py [--steps 1] [--workdir DIR]

Needs only torch, transformers, trl, accelerate, datasets and ``pip install -e .``. Runs in well under two
minutes (most of it is importing and building the model). Without CUDA it prints a message and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

# The tiny model's chat template with {% generation %} markers: assistant-only loss, as in real recipes.
TRAINING_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] }}<|im_end|>\n{% endgeneration %}"
    "{% else %}{{ message['content'] }}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument(
        "--workdir", default=None, help="keep the model and checkpoint here (default: a temp dir)"
    )
    parser.add_argument(
        "--cpu", action="store_true", help="check the script itself on CPU in fp32 (no benchmark)"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    import torch

    cuda = torch.cuda.is_available() and not args.cpu
    if not cuda and not args.cpu:
        print(json.dumps({"skipped": "no CUDA device: this benchmark needs a GPU"}))
        return 0

    from skyeval.testing import build_tiny_model
    from skytrain.specs import SFTSpec
    from skytrain.trl_backend import train_sft

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        model_dir = build_tiny_model(work / "tiny-qwen2")
        build_s = time.perf_counter() - t0
        rows = [
            {
                "messages": [
                    {"role": "user", "content": f"What is {i} + 1? Please reason step by step."},
                    {"role": "assistant", "content": f"{i} + 1 = {i + 1}. The answer is \\boxed{{{i + 1}}}."},
                ]
            }
            for i in range(args.batch * args.steps)
        ]
        data = work / "sft.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        template = work / "template.jinja"
        template.write_text(TRAINING_TEMPLATE, encoding="utf-8")
        spec = SFTSpec(
            model=str(model_dir),
            data=str(data),
            output_dir=str(work / "sft-out"),
            global_batch=args.batch,
            per_device_max=args.batch,
            max_steps=args.steps,
            max_length=256,
            chat_template=str(template),
            precision="bf16" if cuda else "fp32",
        )
        result = train_sft(spec)
        from transformers import AutoModelForCausalLM

        saved = AutoModelForCausalLM.from_pretrained(result.output_dir)
        report = {
            "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "dtype": "bf16" if cuda else "fp32",
            "steps": result.steps,
            "global_batch": args.batch,
            "train_loss": result.train_loss,
            "train_seconds": result.train_seconds,
            "sft_seconds_incl_setup_and_save": round(result.seconds, 3),
            "build_model_seconds": round(build_s, 3),
            "total_seconds": round(time.perf_counter() - started, 3),
            "peak_cuda_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None,
            "saved_params": sum(p.numel() for p in saved.parameters()),
            "versions": {
                "torch": torch.__version__,
                "transformers": __import__("transformers").__version__,
                "trl": __import__("trl").__version__,
            },
        }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
