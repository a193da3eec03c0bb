"""Long runs survive: interval checkpoints are HF folders, and a run stopped at a checkpoint and resumed with
``--resume`` ends with the same weights as the run that was never stopped (TRL on CPU, the tiny model)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from skyeval.errors import SkyevalError
from skytrain.specs import Checkpoints, SFTSpec
from skytrain.trl_backend import train_sft

pytest.importorskip("trl")
torch = pytest.importorskip("torch")


def _stop_at(step: int) -> Any:
    from transformers import TrainerCallback

    class Stop(TrainerCallback):
        """Stands in for a preemption right after the checkpoint of ``step``."""

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            if state.global_step == step:
                control.should_training_stop = True
            return control

    return Stop()


def _weights(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.fixture(scope="module")
def spec(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SFTSpec:
    work = tmp_path_factory.mktemp("resume")
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"What is {i} + 2?"},
                {"role": "assistant", "content": f"{i + 2}"},
            ]
        }
        for i in range(16)
    ]
    data = work / "sft.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return SFTSpec(
        model=str(tiny_model_dir),
        data=str(data),
        output_dir=str(work / "full"),
        epochs=1,
        learning_rate=1e-3,
        global_batch=4,
        per_device_max=4,
        max_length=64,
        assistant_only_loss=False,
        precision="fp32",
        seed=3,
        checkpoints=Checkpoints(save_steps=2, save_optimizer=True),
    )


def test_resumed_run_equals_the_uninterrupted_run(spec: SFTSpec, tmp_path: Path) -> None:
    full = train_sft(spec, announce=lambda _: None)
    assert full.steps == 4 and (Path(spec.output_dir) / "checkpoint-2" / "config.json").is_file()
    stopped = replace(spec, output_dir=str(tmp_path / "stopped"))
    assert train_sft(stopped, callbacks=[_stop_at(2)], announce=lambda _: None).steps == 2
    resumed = train_sft(
        replace(stopped, checkpoints=replace(stopped.checkpoints, resume=True)), announce=lambda _: None
    )
    assert (
        resumed.steps == 4
        and resumed.resumed_from is not None
        and resumed.resumed_from.endswith("checkpoint-2")
    )
    want, got = _weights(Path(spec.output_dir)), _weights(tmp_path / "stopped")
    assert want.keys() == got.keys()
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=0, atol=1e-6)
    before = _weights(Path(spec.output_dir) / "checkpoint-2")
    assert any(not torch.equal(before[n], want[n]) for n in want)  # the last two steps did change the model


def test_weights_only_checkpoints_cannot_resume_and_are_not_clobbered(spec: SFTSpec, tmp_path: Path) -> None:
    light = replace(
        spec, output_dir=str(tmp_path / "light"), max_steps=2, checkpoints=Checkpoints(save_steps=2)
    )
    train_sft(light, announce=lambda _: None)
    checkpoint = tmp_path / "light" / "checkpoint-2"
    assert (checkpoint / "model.safetensors").is_file() and not (checkpoint / "optimizer.pt").exists()
    with pytest.raises(SkyevalError, match="holds weights only .* --save-optimizer"):
        train_sft(replace(light, checkpoints=Checkpoints(save_steps=2, resume=True)), announce=lambda _: None)
    with pytest.raises(SkyevalError, match="holds checkpoints of an earlier run .* pass --resume"):
        train_sft(light, announce=lambda _: None)
    with pytest.raises(SkyevalError, match="--resume: no checkpoint-N folder"):
        train_sft(
            replace(light, output_dir=str(tmp_path / "none"), checkpoints=Checkpoints(resume=True)),
            announce=lambda _: None,
        )
