"""Where each framework keeps its checkpoints, and the rules for continuing one (``--resume``).

TRL writes ``OUT/checkpoint-N/`` (HF weights; ``optimizer.pt`` and the scheduler and RNG state with
``--save-optimizer``, or a DeepSpeed ``global_step*`` folder). OpenRLHF writes ``OUT/checkpoints/global_stepN_hf/``
(HF weights) and, with ``--save-optimizer``, its DeepSpeed state in ``OUT/checkpoints/_actor/``. A TRL PRIME run
adds its implicit PRM to each ``checkpoint-N/`` (:data:`PRIME_STATE`: the PRM's weights always, its optimizer
state with ``--save-optimizer``), and resuming it needs both. Both backends
refuse to start over an earlier run's checkpoints without ``--resume``, and refuse ``--resume`` with nothing
exact to continue from: a weights-only checkpoint cannot restore the optimizer, the schedule or the data position.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from skyeval.errors import SkyevalError
from skytrain.specs import RLSpec, Spec

PRIME_PRM_DIR = "prime_prm"  # in checkpoint-N/: the implicit PRM's HF weights
PRIME_PRM_OPTIMIZER = "prime_prm_optimizer.pt"  # ... and its AdamW state (saved with --save-optimizer)
PRIME_STATE = (PRIME_PRM_DIR, PRIME_PRM_OPTIMIZER)  # what a PRIME checkpoint needs to resume


def last_checkpoint(output_dir: str) -> Path | None:
    """The newest ``checkpoint-N`` folder of a TRL run, if any."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    found = [p for p in folder.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)


def has_optimizer_state(checkpoint: Path) -> bool:
    """Whether a TRL checkpoint can continue training exactly (optimizer and scheduler state were saved)."""
    return (checkpoint / "optimizer.pt").is_file() or any(checkpoint.glob("global_step*"))


def missing_state(checkpoint: Path, names: Sequence[str]) -> list[str]:
    """Which of ``names`` (files or folders an algorithm adds to its checkpoints) ``checkpoint`` lacks."""
    return [name for name in names if not (checkpoint / name).exists()]


def trl_resume_point(spec: Spec, required: Sequence[str] = ()) -> Path | None:
    """The checkpoint to continue from (``--resume``), or None for a fresh run; refuses to clobber one.

    ``required``: what the algorithm adds to each checkpoint and needs back (PRIME: :data:`PRIME_STATE`).
    """
    checkpoint = last_checkpoint(spec.output_dir)
    if not spec.checkpoints.resume:
        if checkpoint is not None:
            raise SkyevalError(
                f"{spec.output_dir} holds checkpoints of an earlier run ({checkpoint.name}): pass --resume to "
                "continue it, or choose another --output-dir"
            )
        return None
    if checkpoint is None:
        raise SkyevalError(f"--resume: no checkpoint-N folder in {spec.output_dir}")
    if not has_optimizer_state(checkpoint):
        raise SkyevalError(
            f"--resume: {checkpoint} holds weights only (saved without --save-optimizer), so training cannot "
            f"continue exactly; start a new run from it with --model {checkpoint}, and pass --save-optimizer "
            "to runs you want to resume"
        )
    lacking = missing_state(checkpoint, required)
    if lacking:
        raise SkyevalError(
            f"--resume: {checkpoint} lacks {', '.join(lacking)}, so training cannot continue exactly"
        )
    return checkpoint


def openrlhf_checkpoints(output_dir: str) -> Path:
    return Path(output_dir) / "checkpoints"


def openrlhf_resume_check(spec: Spec | RLSpec) -> None:
    """Like TRL: no silent restart over an earlier run's checkpoints, no silent fresh start on ``--resume``."""
    path = openrlhf_checkpoints(spec.output_dir)
    ds_state = path / "_actor"
    if spec.checkpoints.resume:
        if not ds_state.is_dir():
            raise SkyevalError(f"--resume: no DeepSpeed checkpoint in {ds_state} to continue from")
        return
    if path.is_dir() and any(path.iterdir()):
        raise SkyevalError(
            f"{path} holds checkpoints of an earlier run: pass --resume (with --save-optimizer) to continue "
            "it, or choose another --output-dir"
        )


def has_checkpoint(output_dir: str) -> bool:
    """Whether a run in ``output_dir`` left a checkpoint ``--resume`` can continue (TRL or OpenRLHF)."""
    trl_last = last_checkpoint(output_dir)
    if trl_last is not None and has_optimizer_state(trl_last):
        return True
    return (openrlhf_checkpoints(output_dir) / "_actor").is_dir()
