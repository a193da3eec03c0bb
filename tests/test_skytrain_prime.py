"""PRIME on TRL (``skytrain.prime``), measured on CPU with tiny random Qwen2 models and fixed seeds.

What is checked (issue 16): token rewards are beta times the log ratio of the two models, computed here
independently; one PRM update raises the summed reward of a rollout labelled correct and lowers one labelled
wrong; over 20 steps the PRM's cross-entropy falls by at least 10%; the policy moves; checkpoints carry the PRM
and a resumed run repeats the uninterrupted one; the band filter drops all-correct and all-wrong prompts; the
command line runs it with skyeval's grader and resumes.
"""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from skytrain.cli import main as skytrain

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")

from testkit.prime_worker import ROLLOUTS, first_token_is_even, prime_config, prompts  # noqa: E402

from skytrain.checkpoints import PRIME_PRM_DIR, PRIME_PRM_OPTIMIZER  # noqa: E402 - after the importorskips
from skytrain.prime import (  # noqa: E402
    PrimeTrainer,
    band_keep,
    last_token,
    leave_one_out,
    process_baselines,
)


def _trainer(model: Path, out: Path, reward: Any = first_token_is_even, **overrides: Any) -> PrimeTrainer:
    return PrimeTrainer(
        model=str(model), reward_funcs=[reward], args=prime_config(out, **overrides), train_dataset=prompts()
    )


def _batch(tokenizer: Any) -> tuple[Any, Any, Any]:
    """Two prompts of different lengths (left-padded) with responses of different lengths (right-padded)."""
    prompts = [tokenizer("What is 1 + 1?")["input_ids"], tokenizer("x = 3")["input_ids"]]
    responses = [tokenizer(" The answer is 2.")["input_ids"], tokenizer(" 6")["input_ids"]]
    width_p, width_r = max(map(len, prompts)), max(map(len, responses))
    pad = tokenizer.pad_token_id
    ids, attention, mask = [], [], []
    for p, r in zip(prompts, responses, strict=True):
        ids.append([pad] * (width_p - len(p)) + p + r + [pad] * (width_r - len(r)))
        attention.append([0] * (width_p - len(p)) + [1] * (len(p) + len(r)) + [0] * (width_r - len(r)))
        mask.append([1] * len(r) + [0] * (width_r - len(r)))
    return torch.tensor(ids), torch.tensor(attention), torch.tensor(mask)


@pytest.fixture(scope="module")
def other_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same tokenizer and shape as ``tiny_model_dir``, different random weights."""
    from skyeval.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2-seed1"), seed=1)


def test_token_rewards_are_beta_times_the_log_ratio(
    tiny_model_dir: Path, other_model: Path, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    trainer = _trainer(tiny_model_dir, tmp_path, prime_beta=0.3)
    trainer.prm = AutoModelForCausalLM.from_pretrained(
        other_model, dtype=torch.float32
    )  # a PRM != its reference
    ids, attention, mask = _batch(AutoTokenizer.from_pretrained(tiny_model_dir))
    with torch.no_grad():
        rewards = trainer._token_rewards(ids, attention, mask)
    assert rewards.shape == mask.shape  # [batch, response tokens]

    def logps(model: Any, row: int) -> Any:  # each row alone, unpadded: log p(y_t | y_<t) of its response
        tokens = ids[row][attention[row].bool()]
        with torch.no_grad():
            logits = model(tokens.unsqueeze(0)).logits[0, :-1]
        picked = torch.log_softmax(logits, dim=-1).gather(-1, tokens[1:].unsqueeze(-1)).squeeze(-1)
        return picked[-int(mask[row].sum()) :]

    for row in range(ids.size(0)):
        n = int(mask[row].sum())
        expected = 0.3 * (logps(trainer.prm, row) - logps(trainer.prm_ref, row))
        torch.testing.assert_close(rewards[row, :n], expected, atol=1e-5, rtol=1e-4)
        assert expected.abs().min() > 1e-4  # the two models really differ on every token
        assert torch.all(rewards[row, n:] == 0)


def test_one_prm_update_moves_the_summed_reward_toward_the_label(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    trainer = _trainer(tiny_model_dir, tmp_path, prime_lr=1e-3)
    ids, attention, mask = _batch(AutoTokenizer.from_pretrained(tiny_model_dir))
    labels, keep = torch.tensor([1.0, 0.0]), torch.ones(2, dtype=torch.long)

    def summed() -> Any:
        with torch.no_grad():
            return trainer._token_rewards(ids, attention, mask).sum(-1)

    before = summed()
    torch.testing.assert_close(before, torch.zeros(2))  # pi_phi starts as a copy of pi_ref
    trainer._update_prm(ids, attention, mask, labels, keep, kept=2)
    after = summed()
    assert after[0] > before[0] + 1e-3  # labelled correct: rises
    assert after[1] < before[1] - 1e-3  # labelled wrong: falls
    assert trainer._metrics["train"]["prime/prm_loss"] == [pytest.approx(0.6931, abs=1e-3)]  # ln 2 at r = 0


def test_band_filter_and_leave_one_out_baselines() -> None:
    outcome = torch.tensor([1.0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, float("nan"), 0])
    keep = band_keep(outcome, ROLLOUTS, 0.0, 1.0)
    assert (
        keep.tolist() == [False] * 4 + [False] * 4 + [True] * 4 + [False] * 4
    )  # all right, all wrong, NaN out
    assert band_keep(torch.tensor([1.0, 0, 0, 0, 1, 1, 0, 0]), 4, 0.2, 0.8).tolist() == [True] * 8
    torch.testing.assert_close(
        leave_one_out(torch.tensor([1.0, 0, 0, 0]), 4), torch.tensor([1.0, -1 / 3, -1 / 3, -1 / 3])
    )
    torch.testing.assert_close(
        process_baselines(torch.tensor([0.3, 0.0, 0.6, 0.0]), 4), torch.tensor([0.2, 0.3, 0.1, 0.3])
    )
    placed = last_token(torch.tensor([2.0, 3.0]), torch.tensor([[1, 1, 0], [1, 1, 1]]))
    assert placed.tolist() == [[0.0, 2.0, 0.0], [0.0, 0.0, 3.0]]


def test_filter_drops_all_correct_and_all_wrong_prompts(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Scripted verdicts by prompt: 'right' always correct, 'wrong' never, 'mixed' alternates."""

    def scripted(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float]:
        verdicts, seen = [], 0
        for prompt in prompts:
            text = prompt[-1]["content"]
            seen += text == "mixed"
            verdicts.append(1.0 if text == "right" else float(seen % 2) if text == "mixed" else 0.0)
        return verdicts

    trainer = _trainer(tiny_model_dir, tmp_path, scripted, per_device_train_batch_size=12)
    assert trainer.model is not None
    trainer.model.train()
    inputs = [
        {"prompt": [{"role": "user", "content": name}]}
        for name in ("right", "wrong", "mixed")
        for _ in range(4)
    ]
    batch = trainer._generate_and_score_completions(inputs)
    kept = batch["completion_mask"].sum(-1) > 0
    assert kept.tolist() == [False] * 8 + [True] * 4
    assert torch.all(batch["advantages"][:8] == 0) and batch["advantages"][8:].abs().sum() > 0
    assert int(batch["num_items_in_batch"]) == int(batch["completion_mask"][8:].sum())
    assert trainer._metrics["train"]["prime/kept_prompt_frac"] == [pytest.approx(1 / 3)]


@pytest.fixture(scope="module")
def twenty_steps(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[PrimeTrainer, Path]:
    out = tmp_path_factory.mktemp("prime-20")
    # shuffle_dataset=False: TRL's RepeatSampler restarts its shuffling generator on resume, so with shuffling
    # a resumed run would see another prompt order after the first epoch (8 prompts = 2 steps per epoch here)
    trainer = _trainer(
        tiny_model_dir, out, max_steps=20, save_strategy="steps", save_steps=10, shuffle_dataset=False
    )
    trainer.train()
    return trainer, out


def _logged(trainer: PrimeTrainer, key: str) -> dict[int, Any]:
    return {int(row["step"]): row[key] for row in trainer.state.log_history if key in row}


def test_twenty_steps_lower_the_prm_cross_entropy_and_move_the_policy(
    twenty_steps: tuple[PrimeTrainer, Path], tiny_model_dir: Path
) -> None:
    from transformers import AutoModelForCausalLM

    trainer, _ = twenty_steps
    logged = _logged(trainer, "prime/prm_loss")
    losses = [loss for loss in logged.values() if loss is not None]  # None: no prompt inside the band
    assert len(logged) == 20 and len(losses) >= 18
    first, last = statistics.mean(losses[:5]), statistics.mean(losses[-5:])
    assert last <= 0.9 * first, losses
    start = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    assert trainer.model is not None
    moved = max((p.detach() - start[name]).abs().max().item() for name, p in trainer.model.named_parameters())
    assert moved > 1e-6


def test_checkpoints_carry_the_prm_and_a_resumed_run_repeats_the_step(
    twenty_steps: tuple[PrimeTrainer, Path], tiny_model_dir: Path
) -> None:
    trainer, out = twenty_steps
    for step in (10, 20):
        assert (out / f"checkpoint-{step}" / PRIME_PRM_DIR / "config.json").is_file()
        assert (out / f"checkpoint-{step}" / PRIME_PRM_OPTIMIZER).is_file()
    resumed = _trainer(tiny_model_dir, out, max_steps=12, save_strategy="no", shuffle_dataset=False)
    resumed.train(resume_from_checkpoint=str(out / "checkpoint-10"))
    assert resumed.state.global_step == 12
    # step 11 needs the PRM's weights of step 10, step 12 also its optimizer state: both equal the uninterrupted run
    for key in ("prime/prm_loss", "grad_norm", "prime/prm_grad_norm"):
        original, again = _logged(trainer, key), _logged(resumed, key)
        assert max(again) == 12
        assert [again[11], again[12]] == pytest.approx([original[11], original[12]], rel=1e-5), key


def test_resume_without_prm_state_is_refused(
    twenty_steps: tuple[PrimeTrainer, Path], tiny_model_dir: Path, tmp_path: Path
) -> None:
    import shutil

    _, out = twenty_steps
    broken = tmp_path / "checkpoint-10"
    shutil.copytree(out / "checkpoint-10", broken)
    shutil.rmtree(broken / PRIME_PRM_DIR)
    with pytest.raises(ValueError, match="no PRIME PRM state"):
        _trainer(tiny_model_dir, tmp_path, max_steps=11).train(resume_from_checkpoint=str(broken))


def test_prime_settings_survive_the_spec_file(tmp_path: Path) -> None:
    """``accelerate launch -m skytrain.trl_backend SPEC.json`` rebuilds the same spec in every process."""
    from skyeval.errors import SkyevalError
    from skytrain.specs import Cluster, PrimeSettings, RLSpec, read_spec, write_spec

    spec = RLSpec(
        model="m", data="d", output_dir="o", algo="prime", prime=PrimeSettings(beta=0.1, update="before")
    )
    path = write_spec(spec, Cluster(gpus_per_node=8), tmp_path / "spec.json")
    assert read_spec(path) == (spec, Cluster(gpus_per_node=8))
    row = json.loads(path.read_text())
    row["spec"]["prime"]["bogus"] = 1
    path.write_text(json.dumps(row))
    with pytest.raises(SkyevalError, match=r"\(prime\): unknown spec fields \['bogus'\]"):
        read_spec(path)


def test_two_processes_keep_identical_prm_replicas(tmp_path: Path) -> None:
    """``torchrun`` with 2 CPU processes (gloo): PRM gradients are all-reduced, so the replicas stay equal.

    20 steps include steps 17 and 18, where one process keeps no prompt of its own (it must still join every
    all-reduce: this once deadlocked).
    """
    import os
    import subprocess
    import sys

    worker = Path(__file__).parent / "testkit" / "prime_worker.py"
    env = {
        **os.environ,
        "ACCELERATE_USE_CPU": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(worker.parents[1]),
    }
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    done = subprocess.run(
        [*argv, str(worker), "--steps", "20"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["processes"] == 2 and report["steps"] == 20 and report["prm_replicas_identical"]
    assert report["ratio"] <= 0.9  # the PRM learns in two processes too


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_skytrain_rl_prime_runs_with_skyevals_grader_and_resumes(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    data = _write_jsonl(
        tmp_path / "rl.jsonl", [{"prompt": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(4)]
    )
    out = tmp_path / "prime"
    common = [
        "rl",
        "--backend",
        "trl",
        "--algo",
        "prime",
        "--model",
        str(tiny_model_dir),
        "--data",
        str(data),
    ]
    common += ["--output-dir", str(out), "--rollouts", "2", "--prompt-batch", "2", "--per-device-batch", "4"]
    common += ["--max-response-length", "6", "--no-vllm", "--save-steps", "1", "--save-optimizer"]
    common += ["--prime-beta", "0.1"]
    first = CliRunner().invoke(skytrain, [*common, "--max-steps", "1"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout.strip().splitlines()[-1])["steps"] == 1
    assert (out / "checkpoint-1" / PRIME_PRM_DIR).is_dir() and (out / "model.safetensors").is_file()
    assert (out / "checkpoint-1" / PRIME_PRM_OPTIMIZER).is_file() and (
        out / "checkpoint-1" / "optimizer.pt"
    ).is_file()
    spec = json.loads((out / "skytrain_spec.json").read_text())["spec"]
    assert spec["algo"] == "prime" and spec["prime"]["beta"] == 0.1 and spec["filter_range"] is None
    again = CliRunner().invoke(skytrain, [*common, "--max-steps", "2"])  # without --resume: refused
    assert again.exit_code == 2 and "pass --resume" in again.output
    second = CliRunner().invoke(skytrain, [*common, "--max-steps", "2", "--resume"])
    assert second.exit_code == 0, second.output
    result = json.loads(second.stdout.strip().splitlines()[-1])
    assert result["steps"] == 2 and result["resumed_from"] == str(out / "checkpoint-1")
    assert (out / "checkpoint-2" / PRIME_PRM_DIR).is_dir()
    shutil.rmtree(out / "checkpoint-2" / PRIME_PRM_DIR)  # a PRIME checkpoint without its PRM cannot continue
    broken = CliRunner().invoke(skytrain, [*common, "--max-steps", "3", "--resume"])
    assert broken.exit_code == 2 and f"lacks {PRIME_PRM_DIR}" in broken.output, broken.output


def test_weights_only_prime_checkpoints_hold_the_prm_weights(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Without --save-optimizer (TRL's save_only_model) the PRM's weights are saved, its optimizer is not."""
    out = tmp_path / "weights-only"
    trainer = _trainer(
        tiny_model_dir, out, max_steps=1, save_strategy="steps", save_steps=1, save_only_model=True
    )
    trainer.train()
    assert (out / "checkpoint-1" / PRIME_PRM_DIR / "config.json").is_file()
    assert not (out / "checkpoint-1" / PRIME_PRM_OPTIMIZER).exists()
    assert not (out / "checkpoint-1" / "optimizer.pt").exists()


def test_prime_dry_run_is_checked_by_the_config_class_and_flags_are_scoped(tmp_path: Path) -> None:
    base = [
        "rl",
        "--model",
        "m",
        "--data",
        "d",
        "--output-dir",
        str(tmp_path / "o"),
        "--no-vllm",
        "--dry-run",
    ]
    ok = CliRunner().invoke(
        skytrain, [*base, "--backend", "trl", "--algo", "prime", "--rollouts", "4", "--prompt-batch", "2"]
    )
    assert ok.exit_code == 0, ok.output
    config, _ = json.JSONDecoder().raw_decode(ok.stdout, ok.stdout.index("config: ") + len("config: "))
    assert (config["prime_filter_low"], config["prime_filter_high"], config["prime_beta"]) == (0.2, 0.8, 0.05)
    assert (config["prime_lr"], config["prime_process_coef"], config["prime_outcome_coef"]) == (
        1e-6,
        5.0,
        5.0,
    )
    cases = [
        (["--backend", "trl", "--algo", "prime", "--filter-range", "0.9", "0.1"], "0 <= low < high <= 1"),
        (["--backend", "trl", "--algo", "prime", "--rollouts", "1"], "PrimeConfig rejects"),
        (
            ["--backend", "trl", "--algo", "prime", "--extra-arg", "prime_beta=0.2"],
            "set it with --prime-beta",
        ),
        (
            ["--backend", "openrlhf", "--algo", "prime", "--prime-beta", "0.1"],
            "--backend openrlhf --algo prime does not read --prime-beta; it is read by --backend trl --algo prime",
        ),
        (  # an explicit flag is refused even at its default value
            ["--backend", "trl", "--algo", "rloo", "--prime-lr", "1e-6"],
            "--backend trl --algo rloo does not read --prime-lr; it is read by --backend trl --algo prime",
        ),
        (
            ["--backend", "trl", "--algo", "grpo", "--filter-range", "0.2", "0.8"],
            "does not read --filter-range; it is read by --backend trl --algo prime and --backend openrlhf",
        ),
    ]
    for extra, message in cases:
        argv = [*base, *extra]
        if "openrlhf" in extra:  # OpenRLHF always generates with vLLM: --no-vllm would be refused first
            argv.remove("--no-vllm")
        result = CliRunner().invoke(skytrain, argv)
        assert result.exit_code == 2, (extra, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_prime_settings_in_a_spec_reach_only_prime() -> None:
    """The library API refuses PRIME settings (and a band) set for an algorithm that would ignore them."""
    from dataclasses import replace

    from skyeval.errors import SkyevalError
    from skytrain import api
    from skytrain.specs import PrimeSettings, RLSpec

    spec = RLSpec(model="m", data="d", output_dir="o", algo="prime", prime=PrimeSettings(beta=0.2))
    with pytest.raises(SkyevalError, match="openrlhf --algo prime does not read a prime setting"):
        api.plan("openrlhf", spec)
    with pytest.raises(SkyevalError, match="trl --algo rloo does not read a prime setting"):
        api.plan(
            "trl", RLSpec(model="m", data="d", output_dir="o", use_vllm=False, prime=PrimeSettings(lr=1e-5))
        )
    from skytrain.specs import Cluster
    from skytrain.trl_config import rl_config_kwargs

    with pytest.raises(
        SkyevalError, match="rloo does not read the spec's filter_range, prime"
    ):  # library path
        rl_config_kwargs(replace(spec, algo="rloo", filter_range=(0.1, 0.9)), Cluster())
    planned = api.plan("trl", replace(spec, use_vllm=False, filter_range=(0.1, 0.9)))
    assert planned.config["prime_beta"] == 0.2
    assert (planned.config["prime_filter_low"], planned.config["prime_filter_high"]) == (0.1, 0.9)
