"""skytrain planning: batch arithmetic, TRL configs, and commands checked by accelerate's and OpenRLHF's parsers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from skyeval.errors import SkyevalError
from skytrain import api, recipes
from skytrain.cli import main
from skytrain.data import load_rl_rows, load_sft_rows
from skytrain.launch import Command
from skytrain.openrlhf import REWARD_FILE
from skytrain.openrlhf_parser import validate_openrlhf
from skytrain.specs import Cluster, Distributed, RLSpec, SFTSpec, read_spec, split_batch, write_spec

pytest.importorskip("trl")
pytest.importorskip("accelerate")


def _argv_value(argv: tuple[str, ...], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@pytest.mark.parametrize(
    ("global_batch", "world", "per_device_max", "expected"),
    [
        (96, 8, 1, (1, 12)),
        (96, 8, 4, (4, 3)),
        (96, 16, 4, (3, 2)),
        (96, 1, 96, (96, 1)),
        (2048, 32, 2, (2, 32)),
    ],
)
def test_split_batch(global_batch: int, world: int, per_device_max: int, expected: tuple[int, int]) -> None:
    split = split_batch(global_batch, world, per_device_max)
    assert (split.per_device, split.grad_accum) == expected
    assert split.global_batch == global_batch


def test_split_batch_rejects_indivisible_world() -> None:
    with pytest.raises(SkyevalError, match="not divisible"):
        split_batch(96, 7, 1)


def test_spec_round_trip(tmp_path: Path) -> None:
    spec = RLSpec(model="m", data="d.jsonl", output_dir="o", algo="prime", filter_range=(0.2, 0.8))
    cluster = Cluster(nodes=2, gpus_per_node=8)
    assert read_spec(write_spec(spec, cluster, tmp_path / "s.json")) == (spec, cluster)
    (tmp_path / "bad.json").write_text(json.dumps({"kind": "sft", "spec": {"model": "m", "lr": 1}}))
    with pytest.raises(SkyevalError, match="unknown spec fields"):
        read_spec(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(SkyevalError, match="list.json: expected a JSON object, got list"):
        read_spec(tmp_path / "list.json")
    with pytest.raises(SkyevalError, match="cannot read .*absent.json: No such file"):
        read_spec(tmp_path / "absent.json")


def test_trl_sft_single_device_plan_is_valid_sftconfig() -> None:
    spec = SFTSpec(model="m", data="d.jsonl", output_dir="out", global_batch=4, per_device_max=2)
    launch = api.plan("trl", spec)
    assert launch.in_process is not None
    assert launch.config["per_device_train_batch_size"] == 2
    assert launch.config["gradient_accumulation_steps"] == 2
    assert launch.config["assistant_only_loss"] is True
    assert launch.config["max_length"] == 4 * 4096
    assert launch.command.argv[:3] == ("python", "-m", "skytrain.trl_backend")


def test_trl_sft_multi_gpu_goes_through_accelerate_with_generated_configs(tmp_path: Path) -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    cases: tuple[tuple[Distributed, str], ...] = (
        ("zero3", "DEEPSPEED"),
        ("fsdp", "FSDP"),
        ("ddp", "MULTI_GPU"),
    )
    for distributed, expected in cases:
        out = tmp_path / distributed
        cluster = Cluster(nodes=2, gpus_per_node=8, distributed=distributed, main_process_ip="10.0.0.1")
        launch = api.plan("trl", SFTSpec(model="m", data="d.jsonl", output_dir=str(out)), cluster)
        argv = launch.command.argv
        assert argv[:2] == ("accelerate", "launch") and launch.in_process is None
        assert "accelerate's launch parser" in launch.command.validated_by
        assert (
            _argv_value(argv, "--num_processes") == "16"
            and _argv_value(argv, "--main_process_ip") == "10.0.0.1"
        )
        # 96 = 1 per device x 6 accumulation x 16 GPUs, and bf16 because the run is on GPUs
        assert (
            launch.config["per_device_train_batch_size"],
            launch.config["gradient_accumulation_steps"],
        ) == (1, 6)
        assert launch.config["bf16"] is True
        from skytrain.launch import write_files

        write_files(launch.command)
        loaded = load_config_from_file(_argv_value(argv, "--config_file"))
        assert loaded.distributed_type.value == expected and loaded.num_processes == 16
        spec, read_cluster = read_spec(out / api.SPEC_FILE)
        assert isinstance(spec, SFTSpec) and read_cluster == cluster


def test_multi_node_accelerate_needs_main_process_ip() -> None:
    with pytest.raises(SkyevalError, match="main-process-ip"):
        api.plan("trl", SFTSpec(model="m", data="d", output_dir="o"), Cluster(nodes=2, gpus_per_node=8))


def test_trl_rl_plan_counts_samples_and_checks_config() -> None:
    spec = RLSpec(
        model="m", data="d", output_dir="o", algo="grpo", rollouts=8, prompt_batch=4, use_vllm=False
    )
    launch = api.plan("trl", spec)
    assert launch.config["num_generations"] == 8 and launch.config["beta"] == 0.0
    assert launch.config["per_device_train_batch_size"] * launch.config["gradient_accumulation_steps"] == 32
    prime = api.plan("trl", RLSpec(model="m", data="d", output_dir="o", algo="prime", use_vllm=False))
    assert (prime.config["prime_filter_low"], prime.config["prime_filter_high"]) == (0.2, 0.8)
    with pytest.raises(SkyevalError, match="trl --algo rloo does not read a filter_range setting"):
        api.plan("trl", RLSpec(model="m", data="d", output_dir="o", algo="rloo", filter_range=(0.2, 0.8)))


def test_openrlhf_prime_command_is_accepted_by_openrlhfs_parser() -> None:
    pytest.importorskip("openrlhf")
    spec = RLSpec(model="m", data="d.jsonl", output_dir="o", algo="prime", rollouts=4, prompt_batch=256)
    launch = api.plan("openrlhf", spec, Cluster(nodes=2, gpus_per_node=8))
    argv = launch.command.argv
    assert argv[:3] == ("python", "-m", "openrlhf.cli.train_ppo_ray")
    assert launch.command.validated_by.startswith("OpenRLHF train_ppo_ray parser")
    assert _argv_value(argv, "--algo.advantage.estimator") == "rloo"
    assert _argv_value(argv, "--rollout.batch_size") == "256"  # prompts
    assert _argv_value(argv, "--train.batch_size") == "1024"  # samples = prompts x rollouts
    assert _argv_value(argv, "--rollout.n_samples_per_prompt") == "4"
    assert _argv_value(argv, "--algo.kl.init_coef") == "0.0"
    assert _argv_value(argv, "--reward.remote_url") == str(REWARD_FILE)
    assert _argv_value(argv, "--vllm.num_engines") == "16"
    i = argv.index("--algo.dynamic_filtering_range")
    assert "--algo.dynamic_filtering_enable" in argv and argv[i + 1 : i + 3] == ("0.2", "0.8")
    rloo = api.plan(
        "openrlhf", RLSpec(model="m", data="d", output_dir="o", algo="rloo"), Cluster(gpus_per_node=8)
    )
    assert "--algo.dynamic_filtering_enable" not in rloo.command.argv


def test_openrlhf_parser_rejects_unknown_flags_and_failed_checks() -> None:
    pytest.importorskip("openrlhf")
    with pytest.raises(SkyevalError, match="unrecognized arguments: --actor.nope"):
        validate_openrlhf(Command(("x",)), "train_ppo_ray", ["--actor.nope", "1"])
    pytest.importorskip("pylatexenc")  # OpenRLHF's post-parse checks import openrlhf.utils
    with pytest.raises(SkyevalError, match="n_samples_per_prompt > 1"):
        validate_openrlhf(Command(("x",)), "train_ppo_ray", ["--algo.advantage.estimator", "rloo"])


def test_openrlhf_sft_command() -> None:
    pytest.importorskip("openrlhf")
    launch = api.plan(
        "openrlhf", SFTSpec(model="m", data="d.jsonl", output_dir="o"), Cluster(gpus_per_node=8)
    )
    argv = launch.command.argv
    assert argv[:5] == ("deepspeed", "--num_gpus", "8", "--module", "openrlhf.cli.train_sft")
    assert _argv_value(argv, "--train.batch_size") == "96" and _argv_value(argv, "--adam.lr") == "1e-05"
    assert "--data.apply_chat_template" in argv and _argv_value(argv, "--data.input_key") == "messages"
    assert launch.command.validated_by.startswith("OpenRLHF train_sft parser")


def test_ray_job_ships_the_reward_file_in_its_working_dir(tmp_path: Path) -> None:
    pytest.importorskip("openrlhf")
    spec = RLSpec(model="m", data="d.jsonl", output_dir=str(tmp_path), algo="rloo")
    options = api.LaunchOptions(ray_address="http://head:8265")
    launch = api.plan("openrlhf", spec, Cluster(nodes=4, gpus_per_node=8), options)
    argv = launch.command.argv
    assert argv[:3] == ("ray", "job", "submit")
    job_dir = Path(_argv_value(argv, "--working-dir"))
    assert argv[argv.index("--") + 1 :][:3] == ("python", "-m", "openrlhf.cli.train_ppo_ray")
    assert _argv_value(argv, "--reward.remote_url") == REWARD_FILE.name  # relative: found in the working dir
    assert str(job_dir / REWARD_FILE.name) in launch.command.files


def test_data_loaders_reject_malformed_rows(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}]}) + "\n")
    with pytest.raises(SkyevalError, match=r"rows.jsonl:1: the last message must be the assistant"):
        load_sft_rows(path)
    path.write_text('{"prompt": "q", "answer": "1"}\n{"prompt": "q2"}\n')
    with pytest.raises(SkyevalError, match=r"rows.jsonl:2: 'answer'"):
        load_rl_rows(path)
    path.write_text('{"question": "q", "gold": 7}\n')
    rows = load_rl_rows(path, prompt_key="question", answer_key="gold", system_prompt="S")
    assert rows == [
        {"prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "q"}], "answer": "7"}
    ]


@pytest.mark.parametrize("name", ["sky-t1-7b", "sky-t1-mini"])
def test_recipe_dry_run_prints_and_checks_every_step(name: str) -> None:
    result = CliRunner().invoke(main, ["recipe", name, "--dry-run", "--set", "work=/tmp/skytrain-recipe"])
    assert result.exit_code == 0, result.output
    plan = recipes.load(name, {"work": "/tmp/skytrain-recipe"})
    for step in plan.steps:
        assert f"--- check {step.name}" in result.output
        assert Command((step.tool, *step.args)).render() in result.output
    assert {step.tool for step in plan.steps} == {"skydata", "skytrain", "skyeval"}


def test_sky_t1_7b_recipe_follows_the_blog() -> None:
    steps = {step.name: step for step in recipes.load("sky-t1-7b").steps}
    sft1, rl2, sft3, rl4 = steps["step1-sft"], steps["step2-rl"], steps["step3-sft"], steps["step4-rl"]
    assert _argv_value(sft1.args, "--epochs") == "3" and _argv_value(sft1.args, "--global-batch") == "96"
    assert _argv_value(rl2.args, "--algo") == "prime" and _argv_value(rl2.args, "--rollouts") == "4"
    assert _argv_value(sft3.args, "--model") == _argv_value(sft1.args, "--model")  # step 3 restarts from base
    assert _argv_value(rl4.args, "--rollouts") == "8" and _argv_value(rl4.args, "--algo") == "rloo"
    assert _argv_value(rl2.args, "--model") in sft1.outputs[0]


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    cases = [
        (["recipe", "nope"], "unknown recipe"),
        (["recipe", "sky-t1-mini", "--set", "bogus=1", "--dry-run"], "has no variables"),
        (
            ["rl", "--backend", "trl", "--model", "m", "--data", "d", "--output-dir", "o"]
            + ["--filter-range", "0.2", "0.8"],
            "does not read --filter-range; it is read by --backend trl --algo prime",
        ),
        (
            ["sft", "--model", "m", "--data", str(tmp_path / "no.jsonl"), "--output-dir", str(tmp_path)],
            "does not exist",
        ),
    ]
    for args, message in cases:
        result = runner.invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_help_says_prime_has_no_implicit_prm() -> None:
    result = CliRunner().invoke(main, ["rl", "--help"])
    assert "implicit process reward model" in " ".join(result.output.split())


def test_recipe_execution_resumes_and_checks_inputs(tmp_path: Path) -> None:
    made, final = tmp_path / "made.txt", tmp_path / "final.txt"
    write = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('x')"
    steps = (
        recipes.Step("make", "", "python", ("-c", write, str(made)), (), (str(made),)),
        recipes.Step("final", "", "python", ("-c", write, str(final)), (str(made),), (str(final),)),
    )
    plan = recipes.Recipe("t", "", {}, steps)
    lines: list[str] = []
    recipes.execute(plan, echo=lines.append)
    assert made.exists() and final.exists() and not any("skipped" in line for line in lines)
    recipes.execute(plan, echo=lines.append)
    assert sum("skipped" in line for line in lines) == 2
    made.unlink()
    final.unlink()
    broken = recipes.Recipe("t", "", {}, steps[1:])
    with pytest.raises(SkyevalError, match="missing inputs"):
        recipes.execute(broken, echo=lines.append)


def test_failed_command_is_one_error_line() -> None:
    from skytrain.launch import run

    with pytest.raises(SkyevalError, match="exited with status 3"):
        run(Command(("python", "-c", "raise SystemExit(3)")))


def test_dry_run_checks_existing_data_and_notes_missing_inputs(tmp_path: Path) -> None:
    runner = CliRunner()
    out = ["--output-dir", str(tmp_path / "out"), "--dry-run"]
    missing = runner.invoke(
        main, ["sft", "--model", "./no/model", "--data", str(tmp_path / "no.jsonl"), *out]
    )
    assert missing.exit_code == 0, missing.output
    assert "does not exist (yet)" in missing.output and "model path ./no/model" in missing.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    result = runner.invoke(main, ["sft", "--model", "m", "--data", str(bad), *out])
    assert result.exit_code == 2 and "bad.jsonl:1: the last message must be the assistant's" in result.output
    rl = tmp_path / "rl.jsonl"
    rl.write_text('{"prompt": "1+1?", "answer": "2"}\n{"prompt": "2+2?", "answer": ""}\n')
    result = runner.invoke(main, ["rl", "--backend", "trl", "--model", "m", "--data", str(rl), *out])
    assert result.exit_code == 2 and "rl.jsonl:2" in result.output


def test_skydata_openrlhf_exports_are_read_or_named(tmp_path: Path) -> None:
    """skydata's ``openrlhf`` SFT rows train as they are; its ``openrlhf-rl`` rows say which flag reads them."""
    sft = tmp_path / "sft.jsonl"
    sft.write_text(
        json.dumps(
            {"input": [{"role": "user", "content": "q"}], "output": [{"role": "assistant", "content": "a"}]}
        )
        + "\n"
    )
    assert load_sft_rows(sft) == [
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    ]
    rl = tmp_path / "rl.jsonl"
    rl.write_text(json.dumps({"prompt": [{"role": "user", "content": "q"}], "label": "4"}) + "\n")
    with pytest.raises(SkyevalError, match="pass --answer-key label"):
        load_rl_rows(rl)
    assert load_rl_rows(rl, answer_key="label")[0]["answer"] == "4"
