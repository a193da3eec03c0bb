"""The prompt registry: texts byte-equal to their sources, roles, and how evaluation picks a system prompt
(exact published model ids, never a substring of a checkpoint path; ``--system-prompt`` always wins)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skyeval import prompts
from skyeval.errors import SkyevalError
from skyeval.runner import RunOptions, prepare
from skyeval.tasks import FieldMap

# SkyThought skythought/evals/models/model_configs.yaml, system_prompts.skythought (commit 0d190f1), as YAML
# reads the double-quoted scalar: continuation lines joined with their spaces, and '\n\n' two real newlines.
SKYTHOUGHT_SYSTEM_PROMPT = (
    "Your role as an assistant involves thoroughly exploring questions through a systematic long thinking process before providing the final precise and accurate solutions. This requires engaging in a comprehensive cycle of analysis, summarizing, exploration, reassessment, reflection, backtracing, and iteration to develop well-considered thinking process. Please structure your response into two main sections: Thought and Solution. In the Thought section, detail your reasoning process using the specified format: <|begin_of_thought|> {thought with steps separated with '"
    "\n\n"
    "'} <|end_of_thought|> Each step should include detailed considerations such as analisying questions, summarizing relevant findings, brainstorming new ideas, verifying the accuracy of the current steps, refining any errors, and revisiting previous steps. In the Solution section, based on various attempts, explorations, and reflections from the Thought section, systematically present the final solution that you deem correct. The solution should remain a logical, accurate, concise expression style and detail necessary step needed to reach the conclusion, formatted as follows: <|begin_of_solution|> {final formatted, precise, and clear solution} <|end_of_solution|> Now, try to solve the following question through the above guidelines:"
)
QWQ_SYSTEM_PROMPT = "You are a helpful and harmless assistant. You are Qwen developed by Alibaba. You should think step-by-step."


def test_sky_t1_is_byte_equal_to_skythought() -> None:
    assert prompts.SKY_T1 == SKYTHOUGHT_SYSTEM_PROMPT
    assert "\\n" not in prompts.SKY_T1 and prompts.SKY_T1.count("\n") == 2  # real newlines, not backslash-n
    assert prompts.prompt_text("qwq", "system") == QWQ_SYSTEM_PROMPT


def test_entries_have_names_and_roles() -> None:
    assert prompts.prompt_names("system") == ["qwen-cot", "sky-t1", "qwq", "none"]
    assert prompts.prompt_names("user_suffix") == ["step-by-step", "deepscaler", "none"]
    assert prompts.with_suffix("P", "deepscaler") == "P " + prompts.DEEPSCALER_STEP
    assert prompts.with_suffix("P", "step-by-step") == "P\n\n" + prompts.QWEN_COT
    assert prompts.with_suffix("P", "none") == "P" and prompts.get_prompt("none", "system") is None
    with pytest.raises(SkyevalError, match="unknown user-turn suffix 'sky-t1'"):
        prompts.get_prompt("sky-t1", "user_suffix")  # a system prompt is not a user suffix
    with pytest.raises(SkyevalError, match="unknown system prompt 'step-by-step'; choose one of: qwen-cot"):
        prompts.prompt_text("step-by-step", "system")


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("NovaSky-AI/Sky-T1-7B", "sky-t1"),
        ("novasky-ai/sky-t1-32b-preview", "sky-t1"),
        ("NovaSky-AI/Sky-T1-mini", "none"),
        ("runs/sky-t1-7b/step4/model", "qwen-cot"),  # a path is not a published id, whatever its folder
        ("/data/exp1/step4/model", "qwen-cot"),
        ("Qwen/QwQ-32B-Preview", "qwen-cot"),
    ],
)
def test_evaluation_default_is_by_exact_model_id(model: str, name: str) -> None:
    assert prompts.resolve_prompt(None, model)[0] == name
    assert prompts.resolve_prompt("qwq", model) == ("qwq", QWQ_SYSTEM_PROMPT)  # explicit always wins
    assert prompts.resolve_prompt(None, model, task_default="none")[0] == (
        name if name != "qwen-cot" else "none"
    )


def test_config_json_records_the_resolved_prompt_name(tmp_path: Path) -> None:
    data = tmp_path / "gens.jsonl"
    data.write_text(json.dumps({"q": "1+1?", "gold": "2", "outs": ["\\boxed{2}"]}) + "\n")
    base = RunOptions(
        model="runs/sky-t1-7b/model",
        task=f"file:{data}",
        engine="replay",
        engine_options={"response_field": "outs"},
        output_dir=str(tmp_path / "runs"),
        fields=FieldMap(question="q", gold="gold"),
        progress=False,
    )
    _, config, run_dir, name = prepare(base)
    assert (name, config.system_prompt_name, config.system_prompt) == (
        "qwen-cot",
        "qwen-cot",
        prompts.QWEN_COT,
    )
    assert "-qwen-cot-" in run_dir.name
    _, config, run_dir, name = prepare(RunOptions(**{**base.__dict__, "system_prompt": "sky-t1"}))
    assert config.system_prompt_name == "sky-t1" and config.system_prompt == SKYTHOUGHT_SYSTEM_PROMPT
