"""Protocol presets (``skyeval run --protocol NAME``): the published settings of an evaluation, by name.

A protocol fixes what papers and model cards say they used: samples, temperature, top-p and max tokens (for every
task or per task), the system prompt and a user-turn instruction (names in ``skyeval.prompts``), and a prefill
that opens the assistant turn. Every value of a run is resolved in one order, explicit flag > protocol > the
model's published prompt (system prompt only) > task default, and ``resolve`` says where each value came from;
the runner writes that into ``config.json`` (``resolved``). Each preset cites its source (docs/running.md,
"Protocols").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from skyeval.errors import SkyevalError
from skyeval.prompts import DEFAULT_PROMPT, default_prompt_name, get_prompt, prompt_text, with_suffix
from skyeval.tasks import TaskSpec
from skyeval.types import SamplingParams


@dataclass(frozen=True)
class Sampling:
    """Sampling a protocol sets (None: left to the task)."""

    n: int | None = None
    temperature: float | None = None
    top_p: float | None = None


GREEDY = Sampling(n=1, temperature=0.0, top_p=1.0)
R1_SAMPLING = Sampling(n=64, temperature=0.6, top_p=0.95)


@dataclass(frozen=True)
class Protocol:
    """One preset. ``per_task`` overrides ``sampling`` for the tasks it names; ``system_prompt``/``user_suffix``
    are prompt-registry names (None: not set by the protocol); ``prefill`` opens the assistant turn."""

    name: str
    description: str
    source: str
    sampling: Sampling = Sampling()
    per_task: Mapping[str, Sampling] = field(default_factory=dict)
    max_tokens: int | None = None
    system_prompt: str | None = None
    user_suffix: str | None = None
    prefill: str = ""

    def sampling_for(self, task: str) -> Sampling:
        return self.per_task.get(task, self.sampling)


_SKY_T1_SAMPLING = {
    "aime24": Sampling(n=8, temperature=0.6, top_p=0.95),
    "amc23": Sampling(n=8, temperature=0.6, top_p=0.95),
    "math500": GREEDY,
    "olympiadbench": GREEDY,
}
_SKY_T1_SOURCE = (
    "NovaSky-AI/SkyThought@0d190f1 recipes/sky-t1-7b/README.md (Evaluation); max tokens: "
    "skythought/Qwen2.5-Math/evaluation/sh/eval.sh@4487563 (--max_tokens_per_call 32768)"
)

PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            "sky-t1",
            "Sky-T1 blog: AIME24/AMC23 8 samples at T 0.6, top-p 0.95; MATH500, OlympiadBench greedy; Sky-T1 "
            "system prompt; 32,768 tokens",
            _SKY_T1_SOURCE,
            per_task=_SKY_T1_SAMPLING,
            max_tokens=32768,
            system_prompt="sky-t1",
        ),
        Protocol(
            "sky-t1-mini",
            "sky-t1's sampling without a system prompt (how Sky-T1-mini is evaluated)",
            _SKY_T1_SOURCE,
            per_task=_SKY_T1_SAMPLING,
            max_tokens=32768,
            system_prompt="none",
        ),
        Protocol(
            "deepseek-r1",
            "DeepSeek-R1: 64 samples at T 0.6, top-p 0.95, 32,768 tokens, no system prompt, the step-by-step "
            "\\boxed{} instruction in the user turn, the reply opened with <think>\\n",
            "deepseek-ai/DeepSeek-R1@0cf7856 README.md (Evaluation Results; Usage Recommendations 1-3 and the "
            "<think>\\n enforcement)",
            sampling=R1_SAMPLING,
            max_tokens=32768,
            system_prompt="none",
            user_suffix="step-by-step",
            prefill="<think>\n",
        ),
        Protocol(
            "deepscaler",
            "DeepScaleR: 16 samples at T 0.6, top-p 0.95, 32,768 tokens, no system prompt, its step-by-step "
            "instruction after the problem",
            "agentica-project/deepscaler@95ef74f scripts/eval/eval_model.sh (n_samples=16, temperature 0.6, "
            "top_p 0.95, response_length 32768), scripts/data/deepscaler_dataset.py (instruction)",
            sampling=Sampling(n=16, temperature=0.6, top_p=0.95),
            max_tokens=32768,
            system_prompt="none",
            user_suffix="deepscaler",
        ),
        Protocol(
            "qwen-math",
            "Qwen2.5-Math harness, prompt type qwen25-math-cot: greedy, one sample, its system prompt, 2,048 "
            "tokens (math_eval.py's default --max_tokens_per_call)",
            "QwenLM/Qwen2.5-Math@a45202b evaluation/sh/eval.sh (--temperature 0 --n_sampling 1 --top_p 1), "
            "evaluation/math_eval.py (--max_tokens_per_call 2048), evaluation/utils.py (qwen25-math-cot)",
            sampling=GREEDY,
            max_tokens=2048,
            system_prompt="qwen-cot",
        ),
    )
}


def get_protocol(name: str) -> Protocol:
    """The preset ``name``; unknown names fail with the list."""
    protocol = PROTOCOLS.get(name)
    if protocol is None:
        raise SkyevalError(f"unknown protocol {name!r}; choose one of: {', '.join(PROTOCOLS)}")
    return protocol


@dataclass(frozen=True)
class Resolved:
    """A run's settings and, per setting, its value and where it came from (``config.json``'s ``resolved``)."""

    sampling: SamplingParams
    prompt_name: str
    system_prompt: str | None
    prompt_template: str
    prefill: str
    sources: Mapping[str, Mapping[str, Any]]


def _pick(flag: Any, protocol: Any, task: Any, names: tuple[str, str]) -> tuple[Any, str]:
    """The first set value of (flag, protocol, task) and its source."""
    if flag is not None:
        return flag, "flag"
    if protocol is not None:
        return protocol, names[0]
    return task, names[1]


def resolve_sampling(
    spec: TaskSpec,
    protocol: str | None = None,
    *,
    samples: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    seed: int | None = 0,
) -> tuple[SamplingParams, dict[str, dict[str, Any]]]:
    """The run's sampling (flag > protocol > task) and each value's source; see ``resolve``."""
    pro = get_protocol(protocol) if protocol else None
    at = (f"protocol {pro.name}" if pro else "", f"task {spec.name}")
    ps = pro.sampling_for(spec.name) if pro else Sampling()
    d = spec.sampling
    n, n_from = _pick(samples, ps.n, d.n, at)
    t, t_from = _pick(temperature, ps.temperature, d.temperature, at)
    p, p_from = _pick(top_p, ps.top_p, d.top_p, at)
    m, m_from = _pick(max_tokens, pro.max_tokens if pro else None, d.max_tokens, at)
    sources = {
        "samples": {"value": n, "source": n_from},
        "temperature": {"value": t, "source": t_from},
        "top_p": {"value": p, "source": p_from},
        "max_tokens": {"value": m, "source": m_from},
    }
    return SamplingParams(n=n, temperature=t, top_p=p, max_tokens=m, seed=seed), sources


def resolve(
    spec: TaskSpec,
    model: str,
    protocol: str | None = None,
    *,
    samples: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    seed: int | None = 0,
    system_prompt: str | None = None,
    prompt_template: str | None = None,
) -> Resolved:
    """Resolve a run's settings: explicit values (``samples`` … ``prompt_template``, None: not given) > the
    ``protocol`` > for the system prompt the model's published one (``skyeval.prompts.MODEL_DEFAULTS``) > the
    task's defaults. Unknown protocol or prompt names are one-line errors; ranges are the runner's to check."""
    sampling, sources = resolve_sampling(
        spec,
        protocol,
        samples=samples,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        seed=seed,
    )
    pro = get_protocol(protocol) if protocol else None
    at = (f"protocol {pro.name}" if pro else "", f"task {spec.name}")
    published = default_prompt_name(model, "")  # "": not a published model id
    default_from = f"model {model}" if published else "default"
    name, name_from = _pick(
        system_prompt, pro.system_prompt if pro else None, published or DEFAULT_PROMPT, (at[0], default_from)
    )
    system = prompt_text(name, "system")
    suffix = pro.user_suffix if pro and pro.user_suffix else "none"
    get_prompt(suffix, "user_suffix")
    template = with_suffix(prompt_template or spec.prompt_template, suffix)
    prefill = pro.prefill if pro else ""
    sources.update(
        {
            "system_prompt": {"value": name, "source": name_from},
            "user_suffix": {"value": suffix, "source": at[0] if suffix != "none" else "default"},
            "prompt_template": {
                "value": template,
                "source": "flag" if prompt_template else (at[0] if suffix != "none" else at[1]),
            },
            "prefill": {"value": prefill, "source": at[0] if prefill else "default"},
        }
    )
    return Resolved(
        sampling=sampling,
        prompt_name=name,
        system_prompt=system,
        prompt_template=template,
        prefill=prefill,
        sources=sources,
    )


def describe(protocol: Protocol) -> str:
    """One line per preset for ``skyeval tasks --protocols``: what it sets, and its source."""
    return f"{protocol.name:12} {protocol.description}. Source: {protocol.source}"
