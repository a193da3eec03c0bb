"""The hf engine on the tiny random Qwen2 model: batching, seeds, greedy, finish reasons."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from skyeval.engines import get_engine
from skyeval.errors import SkyevalError
from skyeval.types import Completion, Engine, GenerationRequest, Message, SamplingParams

SAMPLING = SamplingParams(n=2, temperature=0.8, top_p=0.9, max_tokens=6, seed=7)


def _requests() -> list[GenerationRequest]:
    return [GenerationRequest(f"q{i}", (Message("user", f"What is {i} + {i}?"),), (0, 1)) for i in range(3)]


def _texts(out: Iterable[Completion]) -> dict[tuple[str, int], str]:
    return {(c.problem_id, c.sample_index): c.text for c in out}


@pytest.fixture(scope="module")
def engines(tiny_model_dir: Path) -> tuple[Engine, Engine]:
    return (
        get_engine("hf", model=str(tiny_model_dir), batch_size=4, device="cpu"),
        get_engine("hf", model=str(tiny_model_dir), batch_size=1, device="cpu"),
    )


def test_every_requested_sample_once_with_counts(engines: tuple[Engine, Engine]) -> None:
    out = list(engines[0].generate(_requests(), SAMPLING))
    assert sorted((c.problem_id, c.sample_index) for c in out) == [
        (f"q{i}", j) for i in range(3) for j in (0, 1)
    ]
    for c in out:
        assert c.prompt_tokens and c.prompt_tokens > 5
        assert c.completion_tokens is not None and 1 <= c.completion_tokens <= 6
        assert c.finish_reason == ("length" if c.completion_tokens == 6 else "stop")


def test_sampling_is_seeded_per_sample_not_per_batch(engines: tuple[Engine, Engine]) -> None:
    batched, single = engines
    a = _texts(batched.generate(_requests(), SAMPLING))
    b = _texts(single.generate(list(reversed(_requests())), SAMPLING))
    assert a == b
    c = _texts(
        batched.generate(_requests(), SamplingParams(n=2, temperature=0.8, top_p=0.9, max_tokens=6, seed=8))
    )
    assert c != a


def test_greedy_is_deterministic_and_shared(engines: tuple[Engine, Engine]) -> None:
    greedy = SamplingParams(n=2, temperature=0.0, max_tokens=6)
    a = list(engines[0].generate(_requests(), greedy))
    b = list(engines[1].generate(_requests(), greedy))
    assert _texts(a) == _texts(b)
    assert all(_texts(a)[(f"q{i}", 0)] == _texts(a)[(f"q{i}", 1)] for i in range(3))


def test_missing_model_path_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(SkyevalError, match="model path not found"):
        get_engine("hf", model=str(tmp_path / "nope"))
    with pytest.raises(SkyevalError, match="model path not found: runs/nope/model"):
        get_engine("hf", model="runs/nope/model")  # a relative path, not an org/name Hub id
    with pytest.raises(SkyevalError, match="does not take option"):
        get_engine("hf", model=str(tmp_path), base_url="http://x")
    with pytest.raises(SkyevalError, match="not a Hugging Face model directory"):
        get_engine("hf", model=str(tmp_path))


def test_unloadable_model_and_missing_cuda_are_one_line_errors(tmp_path: Path, tiny_model_dir: Path) -> None:
    import torch

    (tmp_path / "config.json").write_text("{}")  # a config but no tokenizer or weights
    with pytest.raises(SkyevalError, match="cannot load model"):
        get_engine("hf", model=str(tmp_path), device="cpu")
    if not torch.cuda.is_available():
        with pytest.raises(SkyevalError, match="sees no CUDA device"):
            get_engine("hf", model=str(tiny_model_dir), device="cuda")


@pytest.mark.gpu  # runs everywhere; skips with its reason where torch sees no CUDA device
def test_cuda_matches_itself_across_batch_sizes(tiny_model_dir: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    a = get_engine("hf", model=str(tiny_model_dir), batch_size=4, device="cuda")
    b = get_engine("hf", model=str(tiny_model_dir), batch_size=1, device="cuda")
    assert _texts(a.generate(_requests(), SAMPLING)) == _texts(b.generate(_requests(), SAMPLING))


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("nosuch", "unknown device 'nosuch'; use auto, cpu, cuda, cuda:N or mps"),
        ("cuda:x", "unknown device 'cuda:x'"),
        ("meta", "device type 'meta' is not supported by the hf engine"),
    ],
)
def test_bad_device_fails_at_preflight_before_loading(
    device: str, message: str, tiny_model_dir: Path
) -> None:
    from skyeval.engines import preflight

    with pytest.raises(SkyevalError, match=re.escape(message)):
        preflight("hf", {"model": str(tiny_model_dir), "device": device})
    preflight("hf", {"model": str(tiny_model_dir), "device": "cpu"})


def test_missing_cuda_or_index_fails_at_preflight(tiny_model_dir: Path) -> None:
    import torch

    from skyeval.engines import preflight

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    message = "sees no CUDA device" if count == 0 else f"sees {count} CUDA device"
    with pytest.raises(SkyevalError, match=message):
        preflight("hf", {"model": str(tiny_model_dir), "device": f"cuda:{count}"})


def test_cli_bad_device_is_one_line_and_writes_nothing(tiny_model_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from skyeval.cli import main

    task = tmp_path / "t.jsonl"
    task.write_text('{"question": "1+1?", "answer": "2"}\n')
    args = ["run", "-e", "hf", "-m", str(tiny_model_dir), "--task", f"file:{task}", "--device", "nosuch"]
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "runs"), "--no-progress"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output == "error: unknown device 'nosuch'; use auto, cpu, cuda, cuda:N or mps\n"
    assert not (tmp_path / "runs").exists()
