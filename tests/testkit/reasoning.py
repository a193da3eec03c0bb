"""A tiny model shaped like the DeepSeek-R1-Distill family: its chat template opens ``<think>\\n`` in the
generation prompt. ``quick=True`` also makes every token an end-of-sequence token, so each reply is one token
long: a run at a protocol's 32,768 max tokens and 64 samples finishes in seconds on a CPU."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from skyeval.testing import CHAT_TEMPLATE

THINK_TEMPLATE = CHAT_TEMPLATE.replace(
    "<|im_start|>assistant\n{% endif %}", "<|im_start|>assistant\n<think>\n{% endif %}"
)
assert THINK_TEMPLATE != CHAT_TEMPLATE


def think_model(tiny: Path, dest: Path, *, quick: bool = True) -> Path:
    """A copy of the tiny model at ``dest`` whose template ends the generation prompt with ``<think>\\n``."""
    shutil.copytree(tiny, dest)
    (dest / "chat_template.jinja").write_text(THINK_TEMPLATE, encoding="utf-8")
    if quick:
        config = json.loads((dest / "config.json").read_text())
        generation = json.loads((dest / "generation_config.json").read_text())
        generation["eos_token_id"] = list(range(int(config["vocab_size"])))
        (dest / "generation_config.json").write_text(json.dumps(generation), encoding="utf-8")
    return dest
