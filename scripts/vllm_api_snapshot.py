"""Record the vLLM API that ``skyeval/engines/vllm.py`` calls, from a real vLLM install, into a JSON snapshot.

vLLM pins its own torch, so it lives in its own venv and this script runs there, never in the project's:

    python3 -m venv /work/vllm-venv && /work/vllm-venv/bin/pip install vllm==0.33.0
    PYTHONPATH=. /work/vllm-venv/bin/python scripts/vllm_api_snapshot.py tests/data/vllm_api_snapshot.json

It needs no GPU: it inspects signatures, dataclass fields and source, and runs the engine's helpers on real
vLLM objects that can be built without one (``SamplingParams``, ``RequestOutput``, vLLM's tokenizer on the tiny
test model). ``tests/test_engines_vllm.py`` checks the project's fake ``vllm`` module against the snapshot.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
import tempfile
import typing
from pathlib import Path
from typing import Any

# Every callable the engine uses, by the dotted path it is reached at ("module:qualname"); classes by their call
# signature. ``self`` is left out.
CALLABLES = {
    "LLM": "vllm:LLM",
    "LLM.get_tokenizer": "vllm:LLM.get_tokenizer",
    "SamplingParams": "vllm:SamplingParams",
    "LLMEngine.add_request": "vllm.v1.engine.llm_engine:LLMEngine.add_request",
    "LLMEngine.step": "vllm.v1.engine.llm_engine:LLMEngine.step",
    "LLMEngine.has_unfinished_requests": "vllm.v1.engine.llm_engine:LLMEngine.has_unfinished_requests",
    "LLMEngine.abort_request": "vllm.v1.engine.llm_engine:LLMEngine.abort_request",
    "Tokenizer.apply_chat_template": "vllm.tokenizers.protocol:TokenizerLike.apply_chat_template",
    "Tokenizer.encode": "vllm.tokenizers.protocol:TokenizerLike.encode",
    "RequestOutput": "vllm.outputs:RequestOutput",
}
# Records whose fields the engine reads or passes (dataclasses or TypedDicts).
RECORDS = {
    "CompletionOutput": "vllm.outputs:CompletionOutput",
    "EngineArgs": "vllm.engine.arg_utils:EngineArgs",  # LLM(**kwargs) beyond its named parameters
    "TokensPrompt": "vllm.inputs:TokensPrompt",
}
ENUMS = {"RequestOutputKind": "vllm.sampling_params:RequestOutputKind"}


def _resolve(path: str) -> Any:
    import importlib

    module_name, qualname = path.split(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _signature(func: Any) -> list[dict[str, Any]]:
    params = []
    for p in inspect.signature(func).parameters.values():
        if p.name == "self":
            continue
        default = None if p.default is inspect.Parameter.empty else repr(p.default)
        params.append({"name": p.name, "kind": p.kind.name, "default": default})
    return params


def _fields(record: Any) -> list[str]:
    if dataclasses.is_dataclass(record):
        return [f.name for f in dataclasses.fields(record)]
    return sorted(typing.get_type_hints(record))  # a TypedDict


def _facts() -> dict[str, Any]:
    """What the engine relies on that no signature shows, read from vLLM's source."""
    import vllm.entrypoints.llm as llm_module
    import vllm.v1.engine.output_processor as output_processor
    from vllm import LLM

    init = inspect.getsource(LLM.__init__)
    return {
        # the engine steps ``LLM.llm_engine`` itself
        "LLM.__init__ sets self.llm_engine": "self.llm_engine = " in init,
        # ... and that is the class whose methods are recorded under "LLMEngine.*" in CALLABLES
        "LLM.llm_engine is vllm.v1.engine.llm_engine.LLMEngine": llm_module.LLMEngine
        is _resolve("vllm.v1.engine.llm_engine:LLMEngine"),
        # outputs carry the id given to add_request (vLLM adds a random suffix internally)
        "RequestOutput.request_id is the id given to add_request": "request_id=external_req_id"
        in inspect.getsource(output_processor),
        # an external id passed to abort_request aborts its internal (and, with n > 1, child) requests
        "abort_request(internal=False) maps external ids": "external_req_ids.pop(request_id"
        in inspect.getsource(output_processor.OutputProcessor.abort_requests),
    }


def _live_checks() -> dict[str, str]:
    """Run the engine's own helpers on real vLLM objects (no GPU needed); each check says ``ok`` or why not."""
    from vllm.outputs import CompletionOutput, RequestOutput
    from vllm.sampling_params import RequestOutputKind
    from vllm.tokenizers import get_tokenizer

    from skyeval.engines import vllm as engine_module
    from skyeval.engines._common import extra_sampling
    from skyeval.engines.reasoning import Opening
    from skyeval.testing import build_tiny_model
    from skyeval.types import GenerationRequest, Message, SamplingParams

    checks: dict[str, str] = {}
    engine = object.__new__(engine_module.VLLMEngine)  # no model: only the request-building helpers run
    engine.extra = extra_sampling(20, 0.05, 1.1, ["</answer>"])
    engine.stops = engine.extra.pop("stop", [])  # as the constructor does: skyeval applies stops itself
    req = GenerationRequest("p", (Message("system", "s"), Message("user", "What is 1 + 1?")), (0, 1, 2))
    params = engine._params(
        req, SamplingParams(n=3, temperature=0.6, top_p=0.95, max_tokens=64, seed=1), False, 0
    )
    ok = (
        params.n == 3
        and params.top_k == 20
        and not params.stop
        and engine.stops == ["</answer>"]
        and params.output_kind == RequestOutputKind.FINAL_ONLY
    )
    checks["SamplingParams built by the engine"] = "ok" if ok else f"unexpected: {params!r}"

    with tempfile.TemporaryDirectory() as tmp:
        build_tiny_model(tmp)
        tokenizer = get_tokenizer(tmp)
        ids, op = engine_module._prompt_tokens(tokenizer, req)
        text = tokenizer.decode(ids)
        ok = (
            text.startswith("<|im_start|>system\ns<|im_end|>")
            and text.endswith("<|im_start|>assistant\n")
            and op == Opening()
        )
        checks["prompt tokens from vLLM's tokenizer"] = "ok" if ok else f"unexpected: {text!r}"

    out = RequestOutput(
        request_id="skyeval-0",
        prompt=None,
        prompt_token_ids=[1, 2, 3],
        prompt_logprobs=None,
        outputs=[
            CompletionOutput(
                index=i, text=f"t{i}", token_ids=[7] * (i + 1), cumulative_logprob=None, logprobs=None
            )
            for i in (2, 0, 1)
        ],
        finished=True,
    )
    out.outputs[0].finish_reason = "length"
    got = [
        (c.sample_index, c.text, c.finish_reason, c.completion_tokens)
        for c in engine_module._completions(req, out, False, Opening(), [])
    ]
    ok = got == [(0, "t0", "stop", 1), (1, "t1", "stop", 2), (2, "t2", "length", 3)]
    checks["completions read from a real RequestOutput"] = "ok" if ok else f"unexpected: {got!r}"
    return checks


def snapshot() -> dict[str, Any]:
    import vllm

    return {
        "vllm": vllm.__version__,
        "python": ".".join(map(str, sys.version_info[:3])),
        "signatures": {name: _signature(_resolve(path)) for name, path in CALLABLES.items()},
        "fields": {name: _fields(_resolve(path)) for name, path in RECORDS.items()},
        "enums": {name: [m.name for m in _resolve(path)] for name, path in ENUMS.items()},
        "facts": _facts(),
        "checks": _live_checks(),
    }


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/vllm_api_snapshot.json")
    data = snapshot()
    out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    bad = {k: v for k, v in {**data["facts"], **data["checks"]}.items() if v not in (True, "ok")}
    print(f"vllm {data['vllm']}: wrote {out}" + (f"; FAILED: {bad}" if bad else ""))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
