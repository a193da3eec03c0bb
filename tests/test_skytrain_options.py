"""skytrain flags reach the frameworks or fail loudly: unsupported flags, --extra-arg / pass-through (checked by
the frameworks' own parsers), interval checkpoints and --resume, --max-steps on OpenRLHF, the group --backend."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from skyeval.errors import SkyevalError
from skytrain import api
from skytrain.cli import main
from skytrain.launch import extra_arg_tokens
from skytrain.openrlhf_parser import parse_openrlhf
from skytrain.specs import Checkpoints, Cluster, RLSpec, SFTSpec, read_spec, write_spec

pytest.importorskip("trl")

RL = ["rl", "--model", "m", "--data", "d.jsonl", "--output-dir", "o"]
SFT = ["sft", "--model", "m", "--data", "d.jsonl", "--output-dir", "o"]


def _invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


def _one_line_error(args: list[str], message: str) -> None:
    code, output = _invoke(args)
    assert code == 2, output
    assert message in output and "Traceback" not in output, output
    assert len(output.strip().splitlines()) == 1, output


def _command(output: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith("command: "))
    return shlex.split(line.removeprefix("command: "))


def _openrlhf_args(argv: list[str]) -> tuple[Any, list[str]]:
    """OpenRLHF's parsed args for a planned command (the arguments after the module or ``--``)."""
    start = argv.index("--") + 1 if "--" in argv else argv.index("openrlhf.cli.train_ppo_ray") + 1
    args, _ = parse_openrlhf("train_ppo_ray", argv[start:])
    return args, argv[:start]


def _config(output: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(
        output[output.index("config: ") + len("config: ") :].split("\nnote:")[0]
    )
    return config


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [*RL, "--backend", "trl", "--max-prompt-length", "512"],
            "--backend trl does not support --max-prompt-length",
        ),
        ([*RL, "--backend", "openrlhf", "--no-vllm"], "--backend openrlhf does not support --vllm"),
        ([*RL, "--backend", "openrlhf", "--precision", "fp32"], "does not support --precision"),
        ([*SFT, "--backend", "openrlhf", "--distributed", "fsdp"], "does not support --distributed"),
        ([*SFT, "--backend", "trl", "--hostfile", "h"], "does not support --hostfile"),
        ([*RL, "--backend", "trl", "--ray-address", "http://h:8265"], "does not support --ray-address"),
    ],
)
def test_explicit_flags_a_backend_ignores_are_errors(args: list[str], message: str) -> None:
    _one_line_error([*args, "--dry-run"], message)


def test_defaults_of_unsupported_flags_are_fine() -> None:
    code, output = _invoke(
        [*RL, "--backend", "trl", "--no-vllm", "--prompt-batch", "2", "--rollouts", "2", "--dry-run"]
    )
    assert code == 0, output


def test_trl_extra_args_are_config_fields_parsed_by_hf_argument_parser() -> None:
    code, output = _invoke(
        [
            *SFT,
            "--global-batch",
            "4",
            "--extra-arg",
            "lr_scheduler_type=linear",
            "--extra-arg",
            "logging_steps=5",
        ]
        + ["--extra-arg", "gradient_checkpointing", "--dry-run"]
    )
    assert code == 0, output
    config = _config(output)
    assert config["lr_scheduler_type"] == "linear" and config["logging_steps"] == 5
    assert config["gradient_checkpointing"] is True  # a bare KEY is a switch
    code, output = _invoke([*SFT, "--dry-run", "--", "--logging_steps", "7"])  # pass-through after --
    assert code == 0 and _config(output)["logging_steps"] == 7, output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--extra-arg", "learning_rate=1"], "--extra-arg learning_rate: set it with --lr"),
        (["--extra-arg", "no_such_field=1"], "has no option '--no_such_field'"),
        (["--extra-arg", "logging_steps=abc"], "TRL SFTConfig rejects the command"),
        (["--extra-arg", "hub_token=hf_x"], "carries a credential"),
        (["stray"], "framework arguments go after --"),
    ],
)
def test_bad_trl_extra_args_are_one_line_errors(extra: list[str], message: str) -> None:
    _one_line_error([*SFT, *extra, "--dry-run"], message)


def test_openrlhf_extra_args_and_pass_through_are_validated_by_its_parser() -> None:
    pytest.importorskip("openrlhf")
    code, output = _invoke(
        [
            *RL,
            "--gpus-per-node",
            "8",
            "--extra-arg",
            "eval.n_samples_per_prompt=8",
            "--extra-arg",
            "train.dynamic_batch_enable",
            "--dry-run",
            "--",
            "--logger.tensorboard_dir",
            "/tmp/tb",
        ]
    )
    assert code == 0, output
    args, _ = _openrlhf_args(_command(output))
    assert args.eval.n_samples_per_prompt == 8 and args.train.dynamic_batch_enable is True
    assert args.logger.tensorboard_dir == "/tmp/tb"
    _one_line_error([*RL, "--extra-arg", "actor.nope=1", "--dry-run"], "unrecognized arguments: --actor.nope")
    _one_line_error([*RL, "--extra-arg", "actor.adam.lr=1e-3", "--dry-run"], "skytrain sets it; use --lr")
    _one_line_error([*RL, "--extra-arg", "logger.wandb.key=abc", "--dry-run"], "carries a credential")


def test_extra_arg_tokens() -> None:
    assert extra_arg_tokens(["a.b=1", "--c=x=y", "flag"], ["--d", "2"]) == (
        "--a.b",
        "1",
        "--c",
        "x=y",
        "--flag",
        "--d",
        "2",
    )
    assert extra_arg_tokens(["data.input_key=q"]) == ("--data.input_key", "q")  # a *_key name is not a secret
    with pytest.raises(SkyevalError, match="credential"):
        extra_arg_tokens([], ["--hub_token", "x"])


def test_openrlhf_saves_hf_checkpoints_at_an_interval_and_resumes_with_optimizer_state() -> None:
    pytest.importorskip("openrlhf")
    code, output = _invoke([*RL, "--gpus-per-node", "8", "--save-steps", "20", "--dry-run"])
    assert code == 0, output
    args, _ = _openrlhf_args(_command(output))
    ckpt = args.ckpt
    assert (ckpt.save_steps, ckpt.save_hf, ckpt.disable_ds, ckpt.load_enable) == (20, True, True, False)
    code, output = _invoke([*RL, "--gpus-per-node", "8", "--save-optimizer", "--resume", "--dry-run"])
    assert code == 0, output
    ckpt = _openrlhf_args(_command(output))[0].ckpt
    assert (ckpt.save_steps, ckpt.disable_ds, ckpt.load_enable) == (15, False, True)
    _one_line_error([*RL, "--resume", "--dry-run"], "pass --save-optimizer as well")


def test_trl_checkpoints_are_weights_only_unless_asked() -> None:
    spec = SFTSpec(model="m", data="d", output_dir="o", checkpoints=Checkpoints(save_steps=7))
    config = api.plan("trl", spec).config
    assert (config["save_strategy"], config["save_steps"], config["save_only_model"]) == ("steps", 7, True)
    spec = SFTSpec(model="m", data="d", output_dir="o", checkpoints=Checkpoints(save_optimizer=True))
    assert api.plan("trl", spec).config["save_only_model"] is False


@pytest.mark.parametrize(
    ("algo", "episodes", "entry", "max_samples"),
    [
        ("rloo", 1, "openrlhf.cli.train_ppo_ray", 127 * 256),
        ("prime", 1, "skytrain.openrlhf_entry", None),
        ("rloo", 2, "openrlhf.cli.train_ppo_ray", 64 * 256),
    ],
)
def test_max_steps_bounds_openrlhf_runs(
    algo: str, episodes: int, entry: str, max_samples: int | None
) -> None:
    pytest.importorskip("openrlhf")
    steps = 128 if episodes == 2 else 127
    spec = RLSpec(
        model="m", data="d", output_dir="o", algo=algo, rollouts=4, max_steps=steps, episodes=episodes
    )
    argv = list(api.plan("openrlhf", spec, Cluster(gpus_per_node=8)).command.argv)
    assert argv[2] == entry
    args, head = _openrlhf_args(argv)
    if max_samples is None:  # filtering replaces prompts: the entry point stops the loop itself
        assert head[-3:] == ["--max-steps", str(steps), "--"] and args.data.max_samples == int(1e8)
    else:  # the data bounds the run: OpenRLHF's own step count is the bound
        assert args.data.max_samples == max_samples
        openrlhf_steps = (
            args.data.max_samples
            * args.rollout.n_samples_per_prompt
            // args.train.batch_size
            * args.train.num_episodes
        )
        assert openrlhf_steps == steps


def test_group_backend_is_the_default_and_a_subcommands_own_wins() -> None:
    code, output = _invoke(["--backend", "openrlhf", *SFT, "--gpus-per-node", "8", "--dry-run"])
    assert code == 0 and "OpenRLHF SFT" in output, output
    code, output = _invoke(["--backend", "openrlhf", *SFT, "--backend", "trl", "--dry-run"])
    assert code == 0 and output.startswith("TRL SFT"), output
    code, output = _invoke(
        ["--backend", "trl", *RL, "--no-vllm", "--rollouts", "2", "--prompt-batch", "2", "--dry-run"]
    )
    assert code == 0 and output.startswith("TRL RL (rloo)"), output


def test_group_backend_without_subcommand_plans_the_default_recipe_then_lists_what_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("openrlhf")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = CliRunner().invoke(main, ["--backend", "openrlhf"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("recipe sky-t1-7b:") and "--- check step4-rl" in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: cannot run sky-t1-7b on this machine: ")
    for missing in (
        "8 GPUs per node",
        "model Qwen/Qwen2.5-Math-7B",
        "AI-MO/NuminaMath-CoT",
        "PRIME-RL/Eurus-2-RL-Data",
        "server http://localhost:8000/v1",
        "OPENAI_API_KEY",
    ):
        assert missing in last
    assert "backend: openrlhf (--backend)" in result.output


def test_spec_round_trip_keeps_checkpoints_and_extras(tmp_path: Path) -> None:
    spec = RLSpec(
        model="m",
        data="d",
        output_dir="o",
        val_tasks=("aime24",),
        extra_args=("--x", "1"),
        checkpoints=Checkpoints(save_steps=3, save_optimizer=True, resume=True),
    )
    assert read_spec(write_spec(spec, Cluster(), tmp_path / "s.json")) == (spec, Cluster())


def test_validation_on_a_benchmark_warns() -> None:
    spec = RLSpec(
        model="m",
        data="d",
        output_dir="o",
        val_tasks=("aime24", "file:held.jsonl"),
        use_vllm=False,
        rollouts=2,
        prompt_batch=2,
    )
    for backend in ("trl", "openrlhf"):
        if backend == "openrlhf":
            pytest.importorskip("openrlhf")
        warnings = api.plan(backend, spec, Cluster(gpus_per_node=1)).warnings
        assert len(warnings) == 1 and "aime24 is an evaluation benchmark" in warnings[0]
