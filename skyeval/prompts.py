"""Named system prompts and the per-model default table.

A run's prompt is ``system prompt`` (by name, or none) + the task's user template filled with the question.
Chat templates come from the model's tokenizer (hf, vllm) or from the server (openai).
"""

from __future__ import annotations

from skyeval.errors import SkyevalError
from skyeval.types import Message

QWEN_COT = "Please reason step by step, and put your final answer within \\boxed{}."

SKY_T1 = (
    "Your role as an assistant involves thoroughly exploring questions through a systematic long thinking "
    "process before providing the final precise and accurate solutions. This requires engaging in a "
    "comprehensive cycle of analysis, summarizing, exploration, reassessment, reflection, backtracing, and "
    "iteration to develop well-considered thinking process. Please structure your response into two main "
    "sections: Thought and Solution. In the Thought section, detail your reasoning process using the specified "
    "format: <|begin_of_thought|> {thought with steps separated with '\\n\\n'} <|end_of_thought|> Each step "
    "should include detailed considerations such as analisying questions, summarizing relevant findings, "
    "brainstorming new ideas, verifying the accuracy of the current steps, refining any errors, and revisiting "
    "previous steps. In the Solution section, based on various attempts, explorations, and reflections from "
    "the Thought section, systematically present the final solution that you deem correct. The solution should "
    "remain a logical, accurate, concise expression style and detail necessary step needed to reach the "
    "conclusion, formatted as follows: <|begin_of_solution|> {final formatted, precise, and clear solution} "
    "<|end_of_solution|> Now, try to solve the following question through the above guidelines:"
)

#: Named system prompts; ``none`` sends no system message.
PROMPTS: dict[str, str | None] = {"qwen-cot": QWEN_COT, "sky-t1": SKY_T1, "none": None}

#: Per-model defaults: the first entry whose key is a substring of the lower-cased model name wins.
MODEL_DEFAULTS: tuple[tuple[str, str], ...] = (
    ("sky-t1", "sky-t1"),
    ("qwq", "qwen-cot"),
    ("deepseek-r1-distill", "qwen-cot"),
    ("qwen2.5-math", "qwen-cot"),
)

DEFAULT_PROMPT = "qwen-cot"


def default_prompt_name(model: str) -> str:
    """The system-prompt name the table gives ``model`` (``qwen-cot`` when no entry matches)."""
    lowered = model.lower()
    for key, name in MODEL_DEFAULTS:
        if key in lowered:
            return name
    return DEFAULT_PROMPT


def resolve_prompt(name: str | None, model: str) -> tuple[str, str | None]:
    """(name, text) of the system prompt: ``name`` when given, else the model's default."""
    chosen = default_prompt_name(model) if name is None else name
    if chosen not in PROMPTS:
        raise SkyevalError(f"unknown system prompt {chosen!r}; choose one of: {', '.join(PROMPTS)}")
    return chosen, PROMPTS[chosen]


def build_messages(system: str | None, template: str, question: str) -> tuple[Message, ...]:
    """The chat messages for one problem: optional system message, then the filled user template."""
    user = Message("user", template.replace("{question}", question))
    return (Message("system", system), user) if system is not None else (user,)


def render_plain(messages: tuple[Message, ...]) -> str:
    """A chat as one plain prompt (completion mode, records): contents joined by blank lines."""
    return "\n\n".join(m.content for m in messages)
