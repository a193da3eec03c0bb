"""Stop OpenRLHF's PPO loop after a fixed number of steps; it otherwise trains until its prompts run out.

OpenRLHF 0.11's ``PPOTrainer.fit`` repeats ``samples_generator.generate_samples()`` -> ``train_step`` ->
logs and checkpoints, and ends an episode when the generator reports an exhausted prompt loader with no
samples. Under accuracy-band filtering a filtered prompt is replaced by a fresh one, so no prompt count gives
a fixed number of steps. :class:`StepBound` is a mixin for that trainer class: once ``max_steps`` steps have
run (a resumed run's earlier steps included), the generator reports exhaustion, so ``fit`` ends the way it
always does (final save included); the LR schedule is sized on the bound. Nothing here imports OpenRLHF.
"""

from __future__ import annotations

from typing import Any


class _BoundedGenerator:
    """Wraps OpenRLHF's ``SamplesGenerator``: reports an exhausted loader once the step bound is reached."""

    def __init__(self, inner: Any, trainer: StepBound) -> None:
        self._inner = inner
        self._trainer = trainer

    def generate_samples(self, **kwargs: Any) -> tuple[list[Any], float | None, int, bool]:
        if self._trainer.skytrain_steps_done >= self._trainer.skytrain_max_steps:
            return [], None, 0, True
        result: tuple[list[Any], float | None, int, bool] = self._inner.generate_samples(**kwargs)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class StepBound:
    """Mixin placed before OpenRLHF's trainer class; reads the bound from ``args.skytrain_max_steps``."""

    args: Any
    max_steps: int
    samples_generator: Any
    skytrain_max_steps: int = 0
    skytrain_steps_done: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.skytrain_max_steps = int(self.args.skytrain_max_steps)
        self.max_steps = min(self.max_steps, self.skytrain_max_steps)
        self.samples_generator = _BoundedGenerator(self.samples_generator, self)

    def init_checkpoint_states(self) -> dict[str, Any]:
        states: dict[str, Any] = super().init_checkpoint_states()  # type: ignore[misc]
        self.skytrain_steps_done = int(states.get("global_step", 0))
        return states

    def train_step(self, rollout_samples: Any, global_step: int) -> tuple[dict[str, Any], int]:
        status, step = super().train_step(rollout_samples, global_step)  # type: ignore[misc]
        self.skytrain_steps_done = int(step)
        return status, step


def bounded(trainer_class: type) -> type:
    """``trainer_class`` with :class:`StepBound` in front of it."""
    return type(f"StepBound{trainer_class.__name__}", (StepBound, trainer_class), {})
