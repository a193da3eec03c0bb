"""The one prompt registry: named system prompts and user-turn suffixes shared by evaluation, the skydata
teacher, exports and training data, plus the table of published models' default system prompts.

A run's prompt is ``system prompt`` (by name, or none) + the task's user template filled with the question.
Chat templates come from the model's tokenizer (hf, vllm) or from the server (openai). Each entry has a
*role*: ``system`` (sent as the system message) or ``user_suffix`` (appended to the user turn after a blank
line), so protocol presets (a system prompt plus a user-turn instruction) can look both up here by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from skyeval.errors import SkyevalError
from skyeval.types import Message

PromptRole = Literal["system", "user_suffix"]


@dataclass(frozen=True)
class Prompt:
    """A named prompt text, the role it plays in a chat, and where the text comes from."""

    name: str
    role: PromptRole
    text: str
    source: str
    joiner: str = "\n\n"  # user_suffix: what separates the user turn from the suffix


#: Qwen2.5-Math's chain-of-thought instruction (its evaluation harness sends it as the system message).
QWEN_COT = "Please reason step by step, and put your final answer within \\boxed{}."

#: QwQ-32B-Preview's system prompt (SkyThought ``model_configs.yaml``: ``system_prompts.qwen_cot``).
QWQ = "You are a helpful and harmless assistant. You are Qwen developed by Alibaba. You should think step-by-step."

#: Sky-T1's system prompt, byte-equal to SkyThought ``model_configs.yaml`` ``system_prompts.skythought`` (the YAML
#: double-quoted scalar: continuation lines joined, ``'\n\n'`` two real newlines).
SKY_T1 = (
    "Your role as an assistant involves thoroughly exploring questions through a systematic long thinking "
    "process before providing the final precise and accurate solutions. This requires engaging in a "
    "comprehensive cycle of analysis, summarizing, exploration, reassessment, reflection, backtracing, and "
    "iteration to develop well-considered thinking process. Please structure your response into two main "
    "sections: Thought and Solution. In the Thought section, detail your reasoning process using the specified "
    "format: <|begin_of_thought|> {thought with steps separated with '\n\n'} <|end_of_thought|> Each step "
    "should include detailed considerations such as analisying questions, summarizing relevant findings, "
    "brainstorming new ideas, verifying the accuracy of the current steps, refining any errors, and revisiting "
    "previous steps. In the Solution section, based on various attempts, explorations, and reflections from "
    "the Thought section, systematically present the final solution that you deem correct. The solution should "
    "remain a logical, accurate, concise expression style and detail necessary step needed to reach the "
    "conclusion, formatted as follows: <|begin_of_solution|> {final formatted, precise, and clear solution} "
    "<|end_of_solution|> Now, try to solve the following question through the above guidelines:"
)

#: DeepScaleR's instruction, appended to the problem after one space (agentica-project/deepscaler
#: ``scripts/data/deepscaler_dataset.py``, ``process_fn``: ``f"{question} {instruction}"``).
DEEPSCALER_STEP = "Let's think step by step and output the final answer within \\boxed{}."

_SKYTHOUGHT = "NovaSky-AI/SkyThought skythought/evals/models/model_configs.yaml"

REGISTRY: dict[str, Prompt] = {
    p.name: p
    for p in (
        Prompt("qwen-cot", "system", QWEN_COT, "Qwen2.5-Math evaluation (qwen25-math-cot)"),
        Prompt("sky-t1", "system", SKY_T1, f"{_SKYTHOUGHT}: system_prompts.skythought"),
        Prompt("qwq", "system", QWQ, f"{_SKYTHOUGHT}: system_prompts.qwen_cot (Qwen/QwQ-32B-Preview)"),
        # DeepSeek-R1's usage recommendation: no system prompt, this instruction in the user turn
        Prompt("step-by-step", "user_suffix", QWEN_COT, "DeepSeek-R1 / Qwen2.5-Math user-turn instruction"),
        Prompt(
            "deepscaler",
            "user_suffix",
            DEEPSCALER_STEP,
            "agentica-project/deepscaler scripts/data/deepscaler_dataset.py (after one space)",
            joiner=" ",
        ),
    )
}

#: The name meaning "no prompt" wherever a prompt name is taken.
NONE = "none"

DEFAULT_PROMPT = "qwen-cot"

#: Published models' system prompts, by exact model id (compared case-insensitively). Anything else (a local
#: checkpoint path included) gets the task's default; ``--system-prompt`` always wins.
MODEL_DEFAULTS: dict[str, str] = {
    "NovaSky-AI/Sky-T1-32B-Preview": "sky-t1",
    "NovaSky-AI/Sky-T1-32B-Flash": "sky-t1",
    "NovaSky-AI/Sky-T1-7B": "sky-t1",
    "NovaSky-AI/Sky-T1-mini": NONE,  # evaluated without a system prompt (R1-distill usage), per SkyThought
}

#: Back-compat view: system prompt names to texts (``none`` -> None).
PROMPTS: dict[str, str | None] = {
    **{p.name: p.text for p in REGISTRY.values() if p.role == "system"},
    NONE: None,
}


def prompt_names(role: PromptRole) -> list[str]:
    """The names a ``role`` prompt can be given by (``none`` included)."""
    return [*(n for n, p in REGISTRY.items() if p.role == role), NONE]


def get_prompt(name: str, role: PromptRole) -> Prompt | None:
    """The registry entry ``name`` playing ``role`` (None for ``none``); other names fail with the choices."""
    if name == NONE:
        return None
    prompt = REGISTRY.get(name)
    if prompt is None or prompt.role != role:
        what = "system prompt" if role == "system" else "user-turn suffix"
        raise SkyevalError(f"unknown {what} {name!r}; choose one of: {', '.join(prompt_names(role))}")
    return prompt


def prompt_text(name: str, role: PromptRole) -> str | None:
    """The text of prompt ``name`` (None for ``none``)."""
    prompt = get_prompt(name, role)
    return prompt.text if prompt is not None else None


def with_suffix(user: str, suffix: str) -> str:
    """The user turn ``user`` followed by the user-suffix prompt ``suffix`` after its ``joiner`` (``none``:
    unchanged)."""
    prompt = get_prompt(suffix, "user_suffix")
    return f"{user}{prompt.joiner}{prompt.text}" if prompt is not None else user


_BY_MODEL = {model.lower(): name for model, name in MODEL_DEFAULTS.items()}


def default_prompt_name(model: str, task_default: str = DEFAULT_PROMPT) -> str:
    """The system prompt a published ``model`` id is evaluated with, else ``task_default``.

    Exact ids only: a local checkpoint path never picks a prompt by what its folder happens to be called."""
    return _BY_MODEL.get(model.strip().lower(), task_default)


def resolve_prompt(
    name: str | None, model: str, task_default: str = DEFAULT_PROMPT
) -> tuple[str, str | None]:
    """(name, text) of the system prompt: ``name`` when given, else the model's published default, else the
    task's."""
    chosen = default_prompt_name(model, task_default) if name is None else name
    return chosen, prompt_text(chosen, "system")


def build_messages(system: str | None, template: str, question: str) -> tuple[Message, ...]:
    """The chat messages for one problem: optional system message, then the filled user template."""
    user = Message("user", template.replace("{question}", question))
    return (Message("system", system), user) if system is not None else (user,)


def render_plain(messages: tuple[Message, ...]) -> str:
    """A chat as one plain prompt (completion mode, records): contents joined by blank lines."""
    return "\n\n".join(m.content for m in messages)
