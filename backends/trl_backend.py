"""TRL runs: check the model, the chat template and the token lengths, build TRL's trainer from the config of
:mod:`skytrain.trl_config`, train (or resume), and save the final model to ``output_dir`` (``skyeval run
--engine hf --model OUTPUT_DIR`` evaluates it as is).

No training loop lives here: TRL trains. Multi-GPU runs execute this module under ``accelerate launch -m
skytrain.trl_backend SPEC.json`` (one process per device).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError, require
from skytrain.checkpoints import trl_resume_point
from skytrain.data import load_val_rows
from skytrain.preflight import fitted_rl_rows, fitted_sft_rows, load_tokenizer
from skytrain.specs import Cluster, RLSpec, SFTSpec, Spec, read_spec
from skytrain.trl_config import rl_algorithm, rl_config_kwargs, sft_config_kwargs


@dataclass(frozen=True)
class TrainResult:
    """What a finished run left behind and how long it took."""

    output_dir: str
    steps: int
    train_loss: float | None
    seconds: float  # trainer construction (tokenization) + training + saving
    train_seconds: float | None = None  # the training loop alone, as the trainer measured it
    resumed_from: str | None = None


def check_chat_template(spec: SFTSpec, tokenizer: Any) -> None:
    """Fail early (one line) when assistant-only loss cannot work with the model's chat template."""
    if not spec.assistant_only_loss:
        return
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if spec.chat_template is not None:
        if not has_generation_markers(tokenizer.chat_template or ""):
            raise SkyevalError(f"--chat-template {spec.chat_template} has no {{% generation %}} markers")
        return
    if not tokenizer.chat_template:
        raise SkyevalError(f"{spec.model} has no chat template; pass --chat-template FILE.jinja")
    try:
        get_training_chat_template(tokenizer)
    except ValueError as err:
        raise SkyevalError(
            f"TRL cannot add {{% generation %}} markers to the chat template of {spec.model}: pass "
            "--chat-template FILE.jinja with markers around the assistant turn, or --no-assistant-only-loss"
        ) from err


def _sft_tokenizer(spec: SFTSpec) -> Any:
    tokenizer = load_tokenizer(spec.model)
    if spec.chat_template is not None:
        path = Path(spec.chat_template)
        if not path.is_file() or path.suffix not in (".jinja", ".j2"):
            raise SkyevalError(f"--chat-template {path} must be an existing .jinja file")
        tokenizer.chat_template = path.read_text(encoding="utf-8")
    return tokenizer


# --- training --------------------------------------------------------------------------------------------------


def _result(trainer: Any, output_dir: str, started: float, resumed: Path | None) -> TrainResult:
    summary: dict[str, Any] = next(
        (row for row in reversed(trainer.state.log_history) if "train_loss" in row), {}
    )
    return TrainResult(
        output_dir,
        trainer.state.global_step,
        summary.get("train_loss"),
        time.perf_counter() - started,
        summary.get("train_runtime"),
        str(resumed) if resumed else None,
    )


def _train_and_save(trainer: Any, spec: Spec, started: float, resumed: Path | None) -> TrainResult:
    trainer.train(resume_from_checkpoint=str(resumed) if resumed else None)
    trainer.save_model(spec.output_dir)
    trainer.save_state()  # trainer_state.json: every logged step (loss, reward, lr) beside the model
    return _result(trainer, spec.output_dir, started, resumed)


def _announce(text: str) -> None:
    print(text, file=sys.stderr)


def train_sft(
    spec: SFTSpec,
    cluster: Cluster = Cluster(),
    *,
    callbacks: Sequence[Any] = (),
    announce: Callable[[str], object] = _announce,
) -> TrainResult:
    """Run TRL SFT on ``spec.data`` and save the final model and tokenizer to ``spec.output_dir``."""
    for module in ("trl", "datasets", "torch"):
        require(module, extra="train", what="skytrain sft --backend trl")
    from datasets import Dataset
    from trl.trainer.sft_config import SFTConfig
    from trl.trainer.sft_trainer import SFTTrainer

    tokenizer = _sft_tokenizer(spec)
    check_chat_template(spec, tokenizer)
    rows = fitted_sft_rows(spec, tokenizer, announce)
    resumed = trl_resume_point(spec)
    started = time.perf_counter()
    trainer = SFTTrainer(
        model=spec.model,
        args=SFTConfig(**sft_config_kwargs(spec, cluster)),
        train_dataset=Dataset.from_list(rows),
        callbacks=list(callbacks),
    )
    return _train_and_save(trainer, spec, started, resumed)


def train_rl(
    spec: RLSpec,
    cluster: Cluster = Cluster(),
    *,
    callbacks: Sequence[Any] = (),
    announce: Callable[[str], object] = _announce,
) -> TrainResult:
    """Run a TRL RL algorithm with skyeval's grader as reward (the dataset's ``answer`` reaches it by name)."""
    for module in ("trl", "datasets", "torch"):
        require(module, extra="train", what=f"skytrain rl --backend trl --algo {spec.algo}")
    if spec.use_vllm:
        require(
            "vllm", extra="vllm", what="generation with vLLM (pass --no-vllm to generate with transformers)"
        )
    from datasets import Dataset

    from skytrain.trl_reward import reward_for

    algo = rl_algorithm(spec.algo)
    config_cls, trainer_cls = algo.load()
    rows = fitted_rl_rows(spec, load_tokenizer(spec.model), None, announce)
    val = load_val_rows(spec.val_tasks, data_dir=spec.val_data_dir, system_prompt=spec.system_prompt)
    resumed = trl_resume_point(spec, algo.checkpoint_state)
    started = time.perf_counter()
    trainer = trainer_cls(
        model=spec.model,
        reward_funcs=[reward_for(spec.max_response_length)],
        args=config_cls(**rl_config_kwargs(spec, cluster)),
        train_dataset=Dataset.from_list(rows),
        eval_dataset=Dataset.from_list(val) if val else None,
        callbacks=list(callbacks),
        **algo.trainer_kwargs(spec),
    )
    return _train_and_save(trainer, spec, started, resumed)


RUNNERS: dict[type, Callable[..., TrainResult]] = {SFTSpec: train_sft, RLSpec: train_rl}


def main(argv: list[str] | None = None) -> None:
    """Entry point for ``accelerate launch -m skytrain.trl_backend SPEC.json`` (one process per device)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m skytrain.trl_backend SPEC.json")
    spec, cluster = read_spec(Path(args[0]))
    try:
        RUNNERS[type(spec)](spec, cluster)
    except SkyevalError as err:
        raise SystemExit(f"error: {err}") from None
    end_process_group()


def end_process_group() -> None:
    """Tear the process group down before exit: left to interpreter shutdown, a gloo process group sometimes
    aborts a process after a run that succeeded (SIGABRT, seen in the 2-process PRIME test)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
