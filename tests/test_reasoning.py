"""Reasoning models: a ``<think>`` the prompt opens, a prefill never doubled, ``incomplete_reasoning``, stops
outside thinking (``skyeval.engines.reasoning``, the grader, the hf and openai engines)."""

from __future__ import annotations

from pathlib import Path

import pytest
from testkit.fake_openai_server import FakeServer, Script
from testkit.reasoning import think_model

from skyeval import ExtractConfig, extract_answer, grade
from skyeval.engines import get_engine
from skyeval.engines.reasoning import apply_stops, opened_thinking, opening, served_opening
from skyeval.errors import SkyevalError
from skyeval.types import GenerationRequest, Message, SamplingParams

GREEDY = SamplingParams(n=1, temperature=0.0, top_p=1.0, max_tokens=8, seed=0)


@pytest.mark.parametrize(
    ("prompt", "opened"),
    [
        ("<|im_start|>assistant\n<think>\n", "<think>\n"),
        ("<｜Assistant｜><think>\n", "<think>\n"),
        ("<|im_start|>assistant\n", ""),
        ("<think>x</think>\n<|im_start|>assistant\n", ""),  # a closed block earlier in the chat
        ("say <think> now and then", ""),  # text after the tag: not an opened reply
    ],
)
def test_a_prompt_that_opens_thinking_is_seen(prompt: str, opened: str) -> None:
    assert opened_thinking(prompt) == opened


def test_a_prefill_is_never_added_to_a_prompt_that_opened_thinking() -> None:
    assert opening("assistant\n<think>\n", "<think>\n").append == ""  # the template opened it: no second one
    assert opening("assistant\n<think>\n", "<think>\n").record == "<think>\n"
    assert opening("assistant\n", "<think>\n").append == "<think>\n"
    assert opening("assistant\n", "").record == ""
    # served models: the exact-id table, or the explicit option
    assert served_opening("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "<think>\n", None).append == ""
    assert served_opening("my-model", "<think>\n", None).append == "<think>\n"
    assert served_opening("my-model", "", True).record == "<think>\n"


@pytest.mark.parametrize(
    ("text", "cut"),
    [
        ("<think>a</answer>b</think>x</answer>y", "<think>a</answer>b</think>x"),
        ("<think>a</answer> still thinking", "<think>a</answer> still thinking"),  # never inside thinking
        ("plain</answer>tail", "plain"),
        ("no stop here", "no stop here"),
    ],
)
def test_stops_apply_outside_thinking_only(text: str, cut: str) -> None:
    assert apply_stops(text, ["</answer>"])[0] == cut


def test_an_unclosed_think_is_incomplete_reasoning_not_no_answer() -> None:
    unclosed = grade("<think>\nSo the answer is \\boxed{5}", "5")
    assert (unclosed.correct, unclosed.extracted, unclosed.reason) == (False, None, "incomplete_reasoning")
    closed = grade("<think>\nhmm</think>\nThe answer is \\boxed{5}.", "5")
    assert (closed.correct, closed.reason) == (True, "equal")
    assert grade("I am not sure how to do this.", "5").reason == "no_answer"
    # the documented lenient option reads inside the open block; the default never does
    assert extract_answer("<think>\nso \\boxed{5}") is None
    assert extract_answer("<think>\nso \\boxed{5}", ExtractConfig(open_thinking=True)) == "5"


def test_hf_engine_renders_one_think_and_records_from_it(tiny_model_dir: Path, tmp_path: Path) -> None:
    engine = get_engine("hf", model=str(think_model(tiny_model_dir, tmp_path / "think")), device="cpu")
    req = GenerationRequest("p", (Message("user", "What is 1 + 1?"),), (0,), prefill="<think>\n")
    prompt, op = engine.prompt(req)  # type: ignore[attr-defined]
    assert prompt.count("<think>") == 1 and prompt.endswith("<|im_start|>assistant\n<think>\n")
    (done,) = list(engine.generate([req], GREEDY))
    assert done.text.startswith("<think>\n") and op.record == "<think>\n"
    assert grade(done.text, "2").reason == "incomplete_reasoning"  # one token: the reply never closed


def test_hf_engine_prefills_a_template_that_does_not_open_thinking(tiny_model_dir: Path) -> None:
    engine = get_engine("hf", model=str(tiny_model_dir), device="cpu")
    req = GenerationRequest("p", (Message("user", "What is 1 + 1?"),), (0,), prefill="<think>\n")
    prompt, _ = engine.prompt(req)  # type: ignore[attr-defined]
    assert prompt.endswith("<|im_start|>assistant\n<think>\n") and prompt.count("<think>") == 1
    plain, _ = engine.prompt(GenerationRequest("p", req.messages, (0,)))  # type: ignore[attr-defined]
    assert "<think>" not in plain


def test_openai_prefill_continues_the_assistant_turn_and_stops_skip_thinking() -> None:
    script = Script(answer=lambda body: "a STOP b</think>c STOP d")
    req = GenerationRequest("p", (Message("user", "q"),), (0,), prefill="<think>\n")
    with FakeServer(script) as url:
        out = list(get_engine("openai", model="m", base_url=url, stop="STOP").generate([req], GREEDY))
        opened = get_engine("openai", model="m", base_url=url, template_opens_think=True)
        list(opened.generate([req], GREEDY))
    first, second = (r["body"] for r in script.requests)
    assert first["messages"][-1] == {"role": "assistant", "content": "<think>\n"}
    assert first["continue_final_message"] is True and first["add_generation_prompt"] is False
    assert "stop" not in first
    (done,) = out
    assert done.text == "<think>\na STOP b</think>c " and done.finish_reason == "stop"
    assert second["messages"][-1]["role"] == "user" and "continue_final_message" not in second


def test_openai_template_opens_think_must_be_a_flag() -> None:
    with pytest.raises(SkyevalError, match="template_opens_think='yes' must be true or false"):
        get_engine("openai", model="m", base_url="http://x/v1", template_opens_think="yes")
