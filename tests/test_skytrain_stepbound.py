"""``--max-steps`` under accuracy-band filtering: OpenRLHF 0.11's own ``PPOTrainer.fit`` loop (compiled from the
installed source) runs on fakes with :class:`skytrain.stepbound.StepBound` in front, and stops after exactly N
steps, also when resumed. The fakes replace only what needs GPUs: vLLM generation and the PPO update."""

from __future__ import annotations

import ast
import importlib.util
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from skytrain.stepbound import bounded


def _installed_fit() -> Any:
    """``PPOTrainer.fit`` as OpenRLHF wrote it, compiled from the installed file."""
    spec = importlib.util.find_spec("openrlhf")
    if spec is None or spec.origin is None:
        pytest.skip("OpenRLHF is not installed")
    source = Path(spec.origin).parent / "trainer" / "ppo_trainer.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "PPOTrainer")
    fit = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "fit")
    namespace: dict[str, Any] = {
        "time": time,
        "tqdm": lambda *a, **k: SimpleNamespace(update=lambda n: None),
        "logger": SimpleNamespace(info=lambda *a, **k: None),
    }
    exec(compile(ast.Module(body=[fit], type_ignores=[]), str(source), "exec"), namespace)  # noqa: S102
    return namespace["fit"]


class FakeGenerator:
    """Half of the prompts pass the filter; each accepted prompt brings 4 samples; 2000 prompts in all."""

    def __init__(self) -> None:
        self.prompts_left = 2000
        self.calls = 0

    def generate_samples(self, **kwargs: Any) -> tuple[list[int], float, int, bool]:
        self.calls += 1
        consumed = min(8, self.prompts_left)  # 4 accepted prompts need about 8 drawn
        self.prompts_left -= consumed
        return [1] * 16, 50.0, consumed, self.prompts_left == 0


class FakeTrainer:
    """What OpenRLHF's ``PPOTrainer`` holds, minus Ray, vLLM and DeepSpeed."""

    def __init__(self, max_steps_arg: int, resume_at: int = 0, episodes: int = 1) -> None:
        self.args = SimpleNamespace(
            skytrain_max_steps=max_steps_arg,
            train=SimpleNamespace(num_episodes=episodes),
            algo=SimpleNamespace(dynamic_filtering_enable=True),
            eval=SimpleNamespace(steps=float("inf")),
        )
        self.max_steps = 10_000  # OpenRLHF's count from the unfiltered prompts
        self.samples_generator = FakeGenerator()
        self.prompts_dataloader: Any = None
        self.eval_dataloader = None
        self.generate_kwargs: dict[str, Any] = {}
        self.wandb_logger = self.tensorboard_logger = None
        self.resume_at = resume_at
        self.trained: list[int] = []
        self.saved: list[int] = []

    def init_checkpoint_states(self) -> dict[str, Any]:
        return {
            "episode": 0,
            "global_step": self.resume_at,
            "total_consumed_prompts": 0,
            "data_loader_state_dict": {},
        }

    def restore_best_checkpoint_state(self, states: Any) -> None: ...

    def broadcast_to_vllm(self) -> None: ...

    def train_step(self, samples: Any, global_step: int) -> tuple[dict[str, Any], int]:
        self.trained.append(global_step + 1)
        return {}, global_step + 1

    def save_logs_and_checkpoints(self, global_step: int, status: Any, client_states: Any) -> None:
        self.saved.append(global_step)


class _Loader:
    def __len__(self) -> int:
        return 1000

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Any) -> None: ...


@pytest.fixture()
def trainer_class() -> type:
    FakeTrainer.fit = _installed_fit()  # type: ignore[attr-defined]
    return bounded(FakeTrainer)


def test_openrlhf_fit_stops_after_max_steps_under_filtering(trainer_class: type) -> None:
    trainer = trainer_class(127)
    trainer.prompts_dataloader = _Loader()
    trainer.fit()
    assert trainer.trained == list(range(1, 128)) and trainer.saved[-1] == 127
    assert trainer.max_steps == 127  # the LR schedule is sized on the bound
    assert trainer.samples_generator.prompts_left > 0  # prompts were left: the bound stopped it, not the data


def test_the_bound_counts_a_resumed_runs_earlier_steps(trainer_class: type) -> None:
    trainer = trainer_class(127, resume_at=120, episodes=2)
    trainer.prompts_dataloader = _Loader()
    trainer.fit()
    assert trainer.trained == list(range(121, 128))


def test_without_a_bound_reached_the_data_ends_the_run(trainer_class: type) -> None:
    trainer = trainer_class(10_000)
    trainer.prompts_dataloader = _Loader()
    trainer.fit()
    assert trainer.samples_generator.prompts_left == 0 and len(trainer.trained) == 250  # 2000 prompts / 8
