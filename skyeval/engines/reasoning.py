"""Reasoning models in every engine: a ``<think>`` the prompt opens, a prefill asked for, stops outside thinking.

Chat templates of the DeepSeek-R1-Distill family end the generation prompt with ``<think>\\n``: the model's reply
starts inside its reasoning and only closes it with ``</think>``. An engine that renders the template itself (hf,
vllm) sees that (``opened_thinking``) and so never adds a requested prefill a second time; the openai engine
cannot see the server's template and asks ``template_opens_think`` (an option, else the exact model ids below).
Either way the recorded completion starts with the opening the prompt held (``Opening.record``), so the grader
reads the reply as thinking until ``</think>`` and a reply that never closes it is ``incomplete_reasoning``.

Stop sequences are applied here, after generation, to the text outside thinking (``apply_stops``), never by the
backend: a backend stop would also fire inside the reasoning and cut it short.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from skyeval.errors import SkyevalError
from skyeval.types import Completion, Message

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

#: Published models whose chat template opens ``<think>`` in the generation prompt (exact ids, compared
#: case-insensitively): what the openai engine assumes of a served model when ``template_opens_think`` is unset.
TEMPLATE_OPENS_THINK = frozenset(
    m.lower()
    for m in (
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B",
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
        "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
        "deepseek-ai/DeepSeek-R1-Distill-Llama-70B",
        "agentica-org/DeepScaleR-1.5B-Preview",
        "Qwen/QwQ-32B",
    )
)


@dataclass(frozen=True)
class Opening:
    """How one prompt opens the reply: ``append`` goes after the rendered prompt (a prefill the template did not
    open), ``record`` before the generated text in the recorded completion (what the prompt opened)."""

    append: str = ""
    record: str = ""


def opened_thinking(prompt: str) -> str:
    """The ``<think>…`` a rendered prompt ends inside (``"<think>\\n"``), or "" when it opens no reasoning."""
    start = prompt.rfind(THINK_OPEN)
    if start < 0 or THINK_CLOSE in prompt[start:]:
        return ""
    tail = prompt[start:]
    return tail if not tail[len(THINK_OPEN) :].strip() else ""


def opening(prompt: str, prefill: str) -> Opening:
    """What to add to ``prompt`` (a rendered generation prompt) for a requested ``prefill``, and what the
    recorded completion starts with: the template's own ``<think>`` is never doubled."""
    opened = opened_thinking(prompt)
    if opened:
        return Opening(append="", record=opened)
    return Opening(append=prefill, record=prefill)


def checked_flag(name: str, value: object) -> bool | None:
    """An engine option that is true, false or unset (None); anything else is a one-line error."""
    if value not in (None, True, False) or isinstance(value, int) and not isinstance(value, bool):
        raise SkyevalError(f"engine option {name}={value!r} must be true or false")
    return None if value is None else bool(value)


def served_opening(model: str, prefill: str, template_opens_think: bool | None) -> Opening:
    """``opening`` for a server whose template is not visible: ``template_opens_think`` says whether it opens
    ``<think>`` (None: whether ``model`` is in ``TEMPLATE_OPENS_THINK``)."""
    opens = (
        template_opens_think if template_opens_think is not None else model.lower() in TEMPLATE_OPENS_THINK
    )
    if opens:
        return Opening(append="", record=THINK_OPEN + "\n")
    return Opening(append=prefill, record=prefill)


CONTINUE_TURN = {"continue_final_message": True, "add_generation_prompt": False}
"""Request-body options (vLLM, SGLang) by which a chat reply continues a final assistant message."""


def chat_messages(messages: Sequence[Message], prefill: str) -> list[dict[str, str]]:
    """``messages`` as chat-API dicts, then an assistant message holding ``prefill`` when there is one (sent
    with ``CONTINUE_TURN``, so the server continues it rather than opening a new turn)."""
    chat = [{"role": m.role, "content": m.content} for m in messages]
    return chat + [{"role": "assistant", "content": prefill}] if prefill else chat


def with_opening(record: str, text: str) -> str:
    """The completion as recorded: the prompt's opening, then the generated ``text`` (a text that starts with
    its own ``<think>``, e.g. rebuilt from a server's ``reasoning_content``, is kept as it is)."""
    if not record or text.lstrip().startswith(THINK_OPEN):
        return text
    return record + text


def apply_stops(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` cut before the first stop sequence that lies outside every ``<think>…</think>`` block (an
    unclosed block runs to the end); whether it was cut. Linear in ``len(text)`` per stop."""
    if not stops:
        return text, False
    outside = _outside_thinking(text)
    hits = [at for stop in stops for begin, end in outside if (at := text.find(stop, begin, end)) >= 0]
    if not hits:
        return text, False
    return text[: min(hits)], True


def _outside_thinking(text: str) -> list[tuple[int, int]]:
    """The spans of ``text`` outside ``<think>…</think>`` blocks, in order."""
    spans: list[tuple[int, int]] = []
    pos = 0
    while True:
        start = text.find(THINK_OPEN, pos)
        if start < 0:
            spans.append((pos, len(text)))
            return spans
        spans.append((pos, start))
        close = text.find(THINK_CLOSE, start)
        if close < 0:
            return spans
        pos = close + len(THINK_CLOSE)


def recorded(completion: Completion, op: Opening, stops: Sequence[str]) -> Completion:
    """``completion`` as recorded: from the prompt's opening on (``with_opening``), cut at a stop outside
    thinking (``apply_stops``; a cut completion stopped). Error completions pass through unchanged."""
    if completion.finish_reason == "error":
        return completion
    text, stopped = apply_stops(with_opening(op.record, completion.text), stops)
    return replace(completion, text=text, finish_reason="stop" if stopped else completion.finish_reason)
