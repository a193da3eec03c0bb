"""Measured acceptance of the Sky-T1 recipes: the arguments ``skytrain recipe NAME --variant V --dry-run`` emits
are parsed with each framework's own parser (OpenRLHF's ``train_ppo_ray`` ``__main__`` code, TRL's config
classes), and the computed steps, rollout batch, samples per prompt, learning rate, token limits and reward
flags are the ones the blog and the released scripts state. Also: sources cited, departures documented."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from skyeval.errors import SkyevalError
from skytrain import recipes
from skytrain.cli import main
from skytrain.openrlhf import REWARD_FILE, VAL_FILE
from skytrain.openrlhf_parser import parse_openrlhf

pytest.importorskip("trl")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "training.md"


def _sections(args: list[str]) -> dict[str, str]:
    """``--- check STEP`` sections of a recipe dry run (the output of each step's own check)."""
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    parts = re.split(r"^--- check (\S+)\n", result.output, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _openrlhf(section: str) -> tuple[Any, list[str]]:
    """OpenRLHF's parsed arguments of a step's command, and what precedes them (the launched program)."""
    argv = shlex.split(next(line for line in section.splitlines() if line.startswith("command: "))[9:])
    start = argv.index("--") + 1 if "--" in argv else argv.index("openrlhf.cli.train_ppo_ray") + 1
    args, _ = parse_openrlhf("train_ppo_ray", argv[start:])
    return args, argv[:start]


def _steps(args: Any, head: list[str]) -> int:
    """The steps the run takes: skytrain's bound where the entry point enforces it, else OpenRLHF's own count."""
    if "--max-steps" in head:
        return int(head[head.index("--max-steps") + 1])
    return int(
        args.data.max_samples
        * args.rollout.n_samples_per_prompt
        // args.train.batch_size
        * args.train.num_episodes
    )


def _trl_config(section: str) -> Any:
    """The step's TRL config, rebuilt with TRL's own class (bf16 off: this machine has no CUDA)."""
    from trl.trainer.grpo_config import GRPOConfig
    from trl.trainer.rloo_config import RLOOConfig

    from skytrain.prime import PrimeConfig  # GRPOConfig plus PRIME's fields and checks

    text = section[section.index("config: ") + 8 :]
    config = json.loads(text[: text.index("\n}") + 2])
    algo = re.search(r"^TRL RL \((\w+)\)", section, flags=re.M)
    assert algo is not None, section
    cls = {"rloo": RLOOConfig, "grpo": GRPOConfig, "prime": PrimeConfig}[algo.group(1)]
    return cls(**{**config, "bf16": False})


# name, variant, step -> (steps, samples per prompt, lr, response tokens, filtered, estimator, validated)
OPENRLHF_EXPECTED = {
    ("sky-t1-7b", "blog", "step2-rl"): (127, 4, 5e-7, 3072, True, "rloo", False),
    ("sky-t1-7b", "blog", "step4-rl"): (59, 8, 5e-7, 3072, False, "rloo", False),
    ("sky-t1-7b", "released-scripts", "step2-rl"): (127, 4, 5e-7, 3072, False, "rloo", True),
    ("sky-t1-7b", "released-scripts", "step4-rl"): (59, 8, 5e-7, 3072, False, "rloo", True),
    ("sky-t1-mini", "blog", "rl-8k"): (119, 4, 5e-7, 8192, False, "rloo", False),
    ("sky-t1-mini", "blog", "rl-16k"): (29, 4, 5e-7, 16384, False, "rloo", False),
    ("sky-t1-mini", "released-scripts", "rl-8k"): (119, 4, 5e-7, 8192, False, "group_norm", True),
    ("sky-t1-mini", "released-scripts", "rl-16k"): (29, 4, 5e-7, 16384, False, "group_norm", True),
}


@pytest.mark.parametrize(
    ("name", "variant"),
    [
        ("sky-t1-7b", "blog"),
        ("sky-t1-7b", "released-scripts"),
        ("sky-t1-mini", "blog"),
        ("sky-t1-mini", "released-scripts"),
    ],
)
def test_openrlhf_arguments_give_the_stated_run(name: str, variant: str) -> None:
    pytest.importorskip("openrlhf")
    sections = _sections(["recipe", name, "--variant", variant, "--dry-run"])
    checked = 0
    for (recipe_name, recipe_variant, step), expected in OPENRLHF_EXPECTED.items():
        if (recipe_name, recipe_variant) != (name, variant):
            continue
        steps, rollouts, lr, response, filtered, estimator, validated = expected
        args, head = _openrlhf(sections[step])
        assert _steps(args, head) == steps, step
        assert args.rollout.batch_size == 256 and args.rollout.n_samples_per_prompt == rollouts
        assert args.train.batch_size == 256 * rollouts  # one optimizer step per rollout batch
        assert args.actor.adam.lr == lr and args.rollout.max_new_tokens == response
        assert args.data.max_len == 1024 + response and args.algo.kl.init_coef == 0.0
        assert args.algo.advantage.estimator == estimator
        assert args.reward.remote_url == [str(REWARD_FILE)]  # skyeval's grader is the reward
        assert args.algo.dynamic_filtering_enable is filtered
        if filtered:
            assert (
                tuple(args.algo.dynamic_filtering_range) == (0.2, 0.8)
                and head[2] == "skytrain.openrlhf_entry"
            )
        assert (args.eval.dataset is not None) is validated
        if validated:
            assert args.eval.dataset.endswith(VAL_FILE) and args.eval.steps == 15
            assert "is an evaluation benchmark" in sections[step]
        assert args.ckpt.save_steps == 15 and args.ckpt.save_hf and not args.ckpt.disable_ds  # resumable
        checked += 1
    assert checked == 2


@pytest.mark.parametrize(
    ("name", "variant", "step", "steps", "rollouts", "response", "config_class"),
    [
        ("sky-t1-7b", "blog", "step2-rl", 127, 4, 3072, "PrimeConfig"),
        ("sky-t1-7b", "blog", "step4-rl", 59, 8, 3072, "RLOOConfig"),
        ("sky-t1-7b", "released-scripts", "step2-rl", 127, 4, 3072, "RLOOConfig"),
        ("sky-t1-mini", "blog", "rl-8k", 119, 4, 8192, "RLOOConfig"),
        ("sky-t1-mini", "blog", "rl-16k", 29, 4, 16384, "RLOOConfig"),
        ("sky-t1-mini", "released-scripts", "rl-8k", 119, 4, 8192, "GRPOConfig"),
    ],
)
def test_trl_configs_give_the_stated_run(
    name: str, variant: str, step: str, steps: int, rollouts: int, response: int, config_class: str
) -> None:
    plan = recipes.load(name, variant=variant, backend="trl")
    (chosen,) = [s for s in plan.steps if s.name == step]
    assert chosen.backend == "trl" and chosen.backend_origin == "--backend"
    result = CliRunner().invoke(main, [*chosen.args, "--dry-run"])
    assert result.exit_code == 0, result.output
    config = _trl_config(result.output)
    assert type(config).__name__ == config_class
    world = 8  # the recipes' --gpus-per-node 8 on one node
    assert config.max_steps == steps and config.num_generations == rollouts
    assert config.per_device_train_batch_size * config.gradient_accumulation_steps * world == 256 * rollouts
    assert config.learning_rate == 5e-7 and config.max_completion_length == response and config.beta == 0.0
    assert config.save_strategy == "steps" and config.save_steps == 15 and config.save_only_model is False


def test_blog_step2_on_trl_is_prime_with_its_implicit_prm() -> None:
    """``skytrain --backend trl recipe sky-t1-7b --variant blog --dry-run``: step 2 is TRL PRIME, its whole config
    rebuilt by ``PrimeConfig`` (TRL's ``GRPOConfig`` checks and PRIME's) with the paper's settings and band; on
    OpenRLHF the same step stays PRIME-style filtering + RLOO (:func:`test_openrlhf_arguments_give_the_stated_run`)."""
    from skytrain.specs import PRIME_FILTER, PrimeSettings

    sections = _sections(["--backend", "trl", "recipe", "sky-t1-7b", "--variant", "blog", "--dry-run"])
    step2 = sections["step2-rl"]
    assert step2.startswith("TRL RL (prime) on 8 devices via accelerate")
    assert "PRIME's implicit PRM (fp32 weights" in step2  # the memory note of a replicated PRM
    config = _trl_config(step2)
    assert type(config).__name__ == "PrimeConfig"
    defaults = PrimeSettings()
    assert (
        (config.prime_beta, config.prime_lr, config.prime_grad_clip)
        == (0.05, 1e-6, 10.0)
        == (
            defaults.beta,
            defaults.lr,
            defaults.grad_clip,
        )
    )
    assert (config.prime_process_coef, config.prime_outcome_coef) == (5.0, 5.0)
    assert (config.prime_update, config.prime_reward_norm) == ("after", "batch_norm")
    assert (config.prime_filter_low, config.prime_filter_high) == PRIME_FILTER == (0.2, 0.8)
    assert config.max_steps == 127 and config.num_generations == 4 and config.learning_rate == 5e-7
    assert sections["step4-rl"].startswith("TRL RL (rloo)")  # step 4 is plain RLOO on TRL too
    plan = recipes.load("sky-t1-7b", variant="blog", backend="trl")
    (step,) = [s for s in plan.steps if s.name == "step2-rl"]
    assert "TRL: PRIME with its implicit PRM" in step.about
    assert any(
        d.startswith("step2-rl: on TRL (--backend trl) --algo prime is PRIME") for d in step.departures
    )
    assert any("PRIME-style filtering + RLOO" in d for d in step.departures)


def test_every_step_cites_its_source_and_every_departure_is_documented() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for name in recipes.available():
        for variant in recipes.load(name).variants:
            plan = recipes.load(name, variant=variant)
            assert plan.source and plan.variant == variant
            for step in plan.steps:
                assert step.source, (name, variant, step.name)
                for departure in step.departures:
                    assert departure in docs, departure


def test_recipe_data_choices() -> None:
    blog = {s.name: s for s in recipes.load("sky-t1-7b").steps}
    cache = blog["step1-data"].args[blog["step1-data"].args.index("--judge-cache") + 1]
    assert blog["step3-distill"].args[blog["step3-distill"].args.index("--judge-cache") + 1] == cache
    assert blog["step3-distill"].args[-1] == "5000" and "self=" in " ".join(blog["step3-mix"].args)
    assert recipes.load("sky-t1-7b", {"self_distill": "4000"}).steps[5].args[-1] == "4000"
    for name in recipes.available():
        for variant in ("blog", "released-scripts"):
            steps = recipes.load(name, variant=variant).steps
            (evaluation,) = [s for s in steps if s.tool == "skyeval"]
            assert "--system-prompt" in evaluation.args  # never picked from the checkpoint path
            exports = [s for s in steps if s.tool == "skydata" and s.args[0] == "export"]
            assert exports and all("trl-rl" in s.args for s in exports)  # decontaminated by export's default
    mini = recipes.load("sky-t1-mini").steps
    assert any(s.args[:2] == ("source", "still3") for s in mini)
    released = recipes.load("sky-t1-7b", variant="released-scripts").steps
    assert any(s.args[:2] == ("source", "still3") for s in released)  # data_prepare_mini.py --sky-sys
    with pytest.raises(SkyevalError, match="has no variant 'paper'"):
        recipes.load("sky-t1-7b", variant="paper")


def test_recipe_backend_applies_to_open_steps_only() -> None:
    plan = recipes.load("sky-t1-7b", backend="trl")
    trained = [s for s in plan.steps if s.backend]
    assert {s.name for s in trained} == {"step1-sft", "step2-rl", "step3-sft", "step4-rl"}
    assert all(s.args[1:3] == ("--backend", "trl") for s in trained)
    default = recipes.load("sky-t1-7b")
    assert {s.name: s.backend for s in default.steps if s.backend} == {
        "step1-sft": "trl",
        "step2-rl": "openrlhf",
        "step3-sft": "trl",
        "step4-rl": "openrlhf",
    }
    assert "backend: openrlhf (default)" in recipes.describe(default)


def test_rerun_resumes_a_training_step_with_a_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "model"
    (out / "checkpoints" / "_actor").mkdir(parents=True)
    step = recipes.Step("rl", "", "skytrain", ("rl", "--output-dir", str(out)), (), (), backend="openrlhf")
    assert recipes._resumable(step)
    assert not recipes._resumable(
        recipes.Step(
            "rl", "", "skytrain", ("rl", "--output-dir", str(tmp_path / "x")), (), (), backend="openrlhf"
        )
    )
