"""Before training: token lengths are reported and rows that cannot fit are refused (or dropped and counted); a
missing model is one line, not a traceback. Exercised with the tiny local model and TRL on CPU."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from skyeval.errors import SkyevalError
from skytrain.cli import main
from skytrain.openrlhf import prepare_rl_prompts, prepare_sft_data
from skytrain.preflight import check_model, load_tokenizer, rl_lengths, sft_lengths
from skytrain.specs import RLSpec, SFTSpec

pytest.importorskip("trl")

LONG_SYSTEM = "You are a careful assistant. " * 40  # ~200 tokens: the prompt alone fills a short cutoff


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _sft_rows(n: int, *, long_every: int = 0) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        messages = [
            {"role": "user", "content": f"What is {i} + 1?"},
            {"role": "assistant", "content": f"{i + 1}"},
        ]
        if long_every and i % long_every == 0:
            messages.insert(0, {"role": "system", "content": LONG_SYSTEM})
        rows.append({"messages": messages})
    return rows


def test_sft_lengths_split_prompt_and_response(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(str(tiny_model_dir))
    lengths = sft_lengths(_sft_rows(4, long_every=2), tokenizer, 64)
    assert lengths.too_long == (0, 2)
    assert all(r > 0 for r in lengths.response) and lengths.prompt[0] > 64 > lengths.prompt[1]
    assert "2 over the 64-token cutoff (prompt + response)" in lengths.summary()


def test_sft_refuses_rows_over_max_length_and_drop_long_counts_them(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    data = _write(tmp_path / "sft.jsonl", _sft_rows(8, long_every=4))
    args = ["sft", "--model", str(tiny_model_dir), "--data", str(data), "--max-length", "64"]
    args += ["--no-assistant-only-loss", "--global-batch", "2", "--per-device-batch", "2", "--max-steps", "1"]
    refused = CliRunner().invoke(main, [*args, "--output-dir", str(tmp_path / "a")])
    assert refused.exit_code == 2, refused.output
    last = refused.output.strip().splitlines()[-1]
    assert last.startswith("error: 2 of 8 rows of") and "do not fit --max-length 64 (first: row 1," in last
    assert "pass --drop-long" in last and "Traceback" not in refused.output
    assert not (tmp_path / "a" / "model.safetensors").exists()  # nothing trained, nothing half-written
    dropped = CliRunner().invoke(main, [*args, "--output-dir", str(tmp_path / "b"), "--drop-long"])
    assert dropped.exit_code == 0, dropped.output
    assert "--drop-long: dropped 2 of 8 rows over --max-length 64" in dropped.output
    assert "lengths of" in dropped.output and "prompt tokens median" in dropped.output


@pytest.mark.parametrize(
    ("command", "model", "message"),
    [
        (["sft"], "/no/such/model", "model path /no/such/model does not exist"),
        (["sft", "--no-assistant-only-loss"], "./nomodel", "model path ./nomodel does not exist"),
        (
            ["rl", "--backend", "trl", "--no-vllm", "--rollouts", "2", "--prompt-batch", "2"],
            "../x/nomodel",
            "model path ../x/nomodel does not exist",
        ),
    ],
)
def test_missing_model_is_one_line(tmp_path: Path, command: list[str], model: str, message: str) -> None:
    rows = _sft_rows(2) if command[0] == "sft" else [{"prompt": "1+1?", "answer": "2"}] * 2
    data = _write(tmp_path / "d.jsonl", rows)
    result = CliRunner().invoke(
        main,
        [
            *command,
            "--model",
            model,
            "--data",
            str(data),
            "--output-dir",
            str(tmp_path / "o"),
            "--max-steps",
            "1",
        ],
    )
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"error: {message}"


def test_hub_id_that_cannot_load_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        SkyevalError,
        match=r"cannot load model nosuchorg/nosuchmodel: not a local folder, not in the Hugging Face cache",
    ):
        load_tokenizer("nosuchorg/nosuchmodel")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SkyevalError, match="is not a saved model folder"):
        check_model(str(tmp_path / "empty"))


def test_openrlhf_prompts_are_bounded_to_the_run_and_checked(tiny_model_dir: Path, tmp_path: Path) -> None:
    rows = [{"prompt": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(20)]
    rows[3]["prompt"] = LONG_SYSTEM
    data = _write(tmp_path / "rl.jsonl", rows)
    spec = RLSpec(
        model=str(tiny_model_dir),
        data=str(data),
        output_dir=str(tmp_path / "o"),
        rollouts=2,
        prompt_batch=4,
        max_steps=3,
        max_prompt_length=64,
    )
    lines: list[str] = []
    with pytest.raises(SkyevalError, match=r"1 of 20 rows of .* do not fit --max-prompt-length 64"):
        prepare_rl_prompts(spec, tmp_path / "o" / "p.jsonl", lines.append)
    from dataclasses import replace

    out = prepare_rl_prompts(replace(spec, drop_long=True), tmp_path / "o" / "p.jsonl", lines.append)
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(written) == 12 and len({r["answer"] for r in written}) == 12  # 3 steps x 4 prompts, no repeats
    assert LONG_SYSTEM not in json.dumps(written)
    assert any("dropped 1 of 20" in line for line in lines) and any(
        "--max-steps 3: 12" in line for line in lines
    )
    again = [
        json.loads(line)
        for line in prepare_rl_prompts(replace(spec, drop_long=True), out, lines.append)
        .read_text()
        .splitlines()
    ]
    assert again == written  # seeded
    with pytest.raises(SkyevalError, match=r"has 19 usable prompts; --max-steps 30"):
        prepare_rl_prompts(replace(spec, drop_long=True, max_steps=30), out, lines.append)


def test_openrlhf_rl_prompt_lengths_use_the_chat_template(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(str(tiny_model_dir))
    short = [{"prompt": [{"role": "user", "content": "1+1?"}], "answer": "2"}]
    lengths = rl_lengths(short, tokenizer, 1024)
    bare = len(tokenizer("1+1?")["input_ids"])
    assert lengths.prompt[0] > bare and lengths.too_long == ()  # template tokens are counted


def test_openrlhf_sft_data_is_checked_and_written_without_dropped_rows(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    data = _write(tmp_path / "sft.jsonl", _sft_rows(6, long_every=3))
    spec = SFTSpec(
        model=str(tiny_model_dir),
        data=str(data),
        output_dir=str(tmp_path / "o"),
        max_length=64,
        drop_long=True,
    )
    out = prepare_sft_data(spec, lambda _: None)
    assert len(out.read_text().splitlines()) == 4


def test_openrlhf_validation_rows_carry_their_task(tiny_model_dir: Path, tmp_path: Path) -> None:
    """``--val-task`` rows go to ``openrlhf_val.jsonl`` with a ``datasource`` (OpenRLHF's per-set pass@k)."""
    from skytrain.openrlhf import VAL_FILE

    data = _write(tmp_path / "rl.jsonl", [{"prompt": "1+1?", "answer": "2"}] * 4)
    held = _write(
        tmp_path / "held.jsonl", [{"question": "2+2?", "answer": "4"}, {"question": "3+3?", "answer": "6"}]
    )
    spec = RLSpec(
        model=str(tiny_model_dir),
        data=str(data),
        output_dir=str(tmp_path / "o"),
        val_tasks=(f"file:{held}",),
        system_prompt="S",
    )
    prepare_rl_prompts(spec, tmp_path / "o" / "p.jsonl", lambda _: None)
    rows = [json.loads(line) for line in (tmp_path / "o" / VAL_FILE).read_text().splitlines()]
    assert [r["answer"] for r in rows] == ["4", "6"] and {r["datasource"] for r in rows} == {f"file:{held}"}
    assert rows[0]["prompt"] == [{"role": "system", "content": "S"}, {"role": "user", "content": "2+2?"}]
