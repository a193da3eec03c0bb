"""Read and check training rows: chat ``messages`` for SFT, ``prompt`` + ``answer`` for RL.

Every malformed row is an error naming the file and line; nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.jsonl import iter_jsonl
from skytrain.specs import RLSpec

ROLES = ("system", "user", "assistant")


def _rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, row)`` of a training-data JSONL file."""
    if not Path(path).is_file():
        raise SkyevalError(f"training data {path} does not exist")
    return iter_jsonl(path)


def _check_messages(messages: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise SkyevalError(f"{where}: 'messages' must be a non-empty list of {{role, content}} objects")
    checked = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise SkyevalError(f"{where}: each message needs a role in {ROLES}")
        if not isinstance(message.get("content"), str):
            raise SkyevalError(f"{where}: each message needs a string 'content'")
        checked.append({"role": message["role"], "content": message["content"]})
    return checked


def _sft_messages(row: dict[str, Any]) -> Any:
    """``messages``, or skydata's OpenRLHF SFT export ``{"input": [...], "output": [...]}`` joined into one chat."""
    if "messages" not in row and isinstance(row.get("input"), list) and isinstance(row.get("output"), list):
        return [*row["input"], *row["output"]]
    return row.get("messages")


def load_sft_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows ``{"messages": [...]}`` whose last message is the assistant's (the part that is trained on)."""
    rows = []
    for number, row in _rows(path):
        where = f"{path}:{number}"
        messages = _check_messages(_sft_messages(row), where)
        if messages[-1]["role"] != "assistant":
            raise SkyevalError(f"{where}: the last message must be the assistant's response")
        rows.append({"messages": messages})
    if not rows:
        raise SkyevalError(f"training data {path} has no rows")
    return rows


def load_rl_rows(
    path: str | Path,
    *,
    prompt_key: str = "prompt",
    answer_key: str = "answer",
    system_prompt: str | None = None,
) -> list[dict[str, Any]]:
    """Rows ``{"prompt": [messages], "answer": str}``: the prompt as chat messages, the gold answer as text."""
    rows = []
    for number, row in _rows(path):
        where = f"{path}:{number}"
        prompt = row.get(prompt_key)
        if isinstance(prompt, str):
            messages = [{"role": "user", "content": prompt}]
        else:
            messages = _check_messages(prompt, f"{where} ({prompt_key!r})")
        if system_prompt is not None and messages[0]["role"] != "system":
            messages = [{"role": "system", "content": system_prompt}, *messages]
        answer = row.get(answer_key)
        if answer_key not in row and answer_key == "answer" and "label" in row:
            raise SkyevalError(
                f"{where}: no 'answer' but a 'label' (skydata's openrlhf-rl export): pass --answer-key label"
            )
        if isinstance(answer, bool) or not isinstance(answer, str | int | float) or str(answer).strip() == "":
            raise SkyevalError(f"{where}: {answer_key!r} must be a non-empty string or number")
        rows.append({"prompt": messages, "answer": str(answer)})
    if not rows:
        raise SkyevalError(f"training data {path} has no rows")
    return rows


def load_val_rows(
    tasks: tuple[str, ...], *, data_dir: str | None = None, system_prompt: str | None = None
) -> list[dict[str, Any]]:
    """Validation prompts from skyeval tasks (built-in names or ``file:PATH``), with a ``datasource`` per row.

    Each prompt is the task's user template filled with the question (and ``system_prompt`` when given); the
    answer is the task's gold, graded by the same reward as training.
    """
    if not tasks:
        return []
    from skyeval.tasks import FILE_PREFIX, FieldMap, file_task, get_task, load_task

    rows = []
    for name in tasks:
        spec = (
            file_task(name[len(FILE_PREFIX) :], FieldMap(question="question", gold="answer"))
            if name.startswith(FILE_PREFIX)
            else get_task(name)
        )
        loaded = load_task(spec, data_dir=data_dir)
        for problem in loaded.problems:
            user = {"role": "user", "content": spec.prompt_template.replace("{question}", problem.question)}
            messages = [{"role": "system", "content": system_prompt}, user] if system_prompt else [user]
            rows.append({"prompt": messages, "answer": problem.gold, "datasource": name})
    return rows


def benchmark_warnings(tasks: tuple[str, ...]) -> list[str]:
    """A warning per validation set that is one of skyeval's evaluation benchmarks."""
    from skyeval.tasks import task_names

    known = set(task_names())
    return [
        f"validation set {name} is an evaluation benchmark: selecting checkpoints or stopping on it biases "
        f"the {name} score you report; validate on held-out training problems instead"
        for name in tasks
        if name in known
    ]


def spec_rl_rows(spec: RLSpec) -> list[dict[str, Any]]:
    """The RL rows of ``spec``: its data file read with its prompt/answer keys and system prompt."""
    return load_rl_rows(
        spec.data, prompt_key=spec.prompt_key, answer_key=spec.answer_key, system_prompt=spec.system_prompt
    )
