"""Final-answer extraction from model responses. (Placeholder: replaced by the grader work.)"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ExtractConfig:
    """How to find the final answer in a response."""

    last_number_fallback: bool = False


def extract_answer(text: str, config: ExtractConfig = ExtractConfig()) -> str | None:
    """The final answer of a model response (last ``\\boxed{}``), or None."""
    i = text.rfind("\\boxed{")
    if i < 0:
        return None
    depth, start = 0, i + len("\\boxed{")
    for j in range(start, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            if depth == 0:
                return text[start:j].strip()
            depth -= 1
    m = re.search(r"answer is[:\s]*(\S+)", text)
    return m.group(1) if m else None
