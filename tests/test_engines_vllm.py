"""The vllm engine with the fake ``vllm`` module (tests/testkit/fake_vllm.py), and the fake checked against the
API snapshot recorded from a real vLLM (tests/data/vllm_api_snapshot.json, by scripts/vllm_api_snapshot.py).

What a kill leaves behind: the engine yields each request's completions as that request finishes, so a run
interrupted (Ctrl-C) or killed (SIGKILL) after k finished requests has exactly k requests' samples recorded,
and the re-run asks vLLM only for the rest.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from testkit import fake_vllm
from testkit.fake_vllm import VLLMScript

from skyeval import results
from skyeval.engines import get_engine, preflight
from skyeval.engines.vllm import VLLMEngine
from skyeval.errors import SkyevalError
from skyeval.runner import Interrupted, RunOptions, run
from skyeval.tasks import FieldMap
from skyeval.types import GenerationRequest, Message, SamplingParams

TESTS = Path(__file__).resolve().parent
SNAPSHOT = json.loads((TESTS / "data" / "vllm_api_snapshot.json").read_text())
SAMPLED = SamplingParams(n=8, temperature=0.6, top_p=0.95, max_tokens=100, seed=1)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Callable[..., VLLMScript]:
    """``fake(**script)`` installs a fresh fake ``vllm`` for this test and returns its script."""

    def install(**kw: Any) -> VLLMScript:
        script = VLLMScript(**kw)
        for name, module in fake_vllm.modules(script).items():
            monkeypatch.setitem(sys.modules, name, module)
        return script

    return install


def _engine(**kw: Any) -> VLLMEngine:
    engine = get_engine("vllm", **{"model": "org/model", **kw})
    assert isinstance(engine, VLLMEngine)
    return engine


# -- the fake against the real API ------------------------------------------------------------------------


def _params(func: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": p.name,
            "kind": p.kind.name,
            "default": None if p.default is inspect.Parameter.empty else repr(p.default),
        }
        for p in inspect.signature(func).parameters.values()
        if p.name != "self"
    ]


FAKE_CALLABLES = {
    "LLM": fake_vllm.LLM,
    "LLM.get_tokenizer": fake_vllm.LLM.get_tokenizer,
    "SamplingParams": fake_vllm.SamplingParams,
    "LLMEngine.add_request": fake_vllm.LLMEngine.add_request,
    "LLMEngine.step": fake_vllm.LLMEngine.step,
    "LLMEngine.has_unfinished_requests": fake_vllm.LLMEngine.has_unfinished_requests,
    "LLMEngine.abort_request": fake_vllm.LLMEngine.abort_request,
    "Tokenizer.apply_chat_template": fake_vllm.Tokenizer.apply_chat_template,
    "Tokenizer.encode": fake_vllm.Tokenizer.encode,
    "RequestOutput": fake_vllm.RequestOutput,
}


@pytest.mark.parametrize("name", sorted(FAKE_CALLABLES))
def test_fake_signature_is_a_subset_of_the_real_one(name: str) -> None:
    real = {p["name"]: p for p in SNAPSHOT["signatures"][name]}
    fake = {p["name"]: p for p in _params(FAKE_CALLABLES[name])}
    for param in fake.values():
        if param["kind"] == "VAR_KEYWORD":  # LLM(**kwargs): checked against EngineArgs below
            assert "VAR_KEYWORD" in {p["kind"] for p in real.values()}
            continue
        assert param["name"] in real, f"{name}: vLLM has no parameter {param['name']!r}"
        assert param["kind"] == real[param["name"]]["kind"], f"{name}({param['name']}): kind differs"
        assert param["default"] == real[param["name"]]["default"], f"{name}({param['name']}): default differs"
    required = [p["name"] for p in real.values() if p["default"] is None and "VAR" not in p["kind"]]
    assert set(required) <= set(fake), f"{name}: the fake lacks required {set(required) - set(fake)}"


def test_fake_records_and_enums_match_the_real_ones() -> None:
    assert set(fake_vllm.ENGINE_ARGS) <= set(SNAPSHOT["fields"]["EngineArgs"])
    fields = {f.name for f in dataclasses.fields(fake_vllm.CompletionOutput)}
    assert fields <= set(SNAPSHOT["fields"]["CompletionOutput"])
    assert "prompt_token_ids" in SNAPSHOT["fields"]["TokensPrompt"]
    assert [m.name for m in fake_vllm.RequestOutputKind] == SNAPSHOT["enums"]["RequestOutputKind"]
    # the request-output attributes the engine reads are constructor parameters of the real RequestOutput
    real_output = {p["name"] for p in SNAPSHOT["signatures"]["RequestOutput"]}
    assert {"request_id", "prompt_token_ids", "outputs", "finished"} <= real_output


def test_snapshot_facts_and_live_checks_held_on_the_real_vllm() -> None:
    assert SNAPSHOT["facts"] and all(v is True for v in SNAPSHOT["facts"].values()), SNAPSHOT["facts"]
    assert SNAPSHOT["checks"] and all(v == "ok" for v in SNAPSHOT["checks"].values()), SNAPSHOT["checks"]


def test_docs_name_the_vllm_version_the_engine_was_checked_against() -> None:
    docs = (TESTS.parent / "docs" / "running.md").read_text()
    assert f"vLLM {SNAPSHOT['vllm']}" in docs


# -- the engine ---------------------------------------------------------------------------------------------


def test_every_prompt_is_added_once_with_its_own_sampling_params(fake: Callable[..., VLLMScript]) -> None:
    script = fake()
    engine = _engine(tensor_parallel_size=2, max_model_len=4096, seed=5)
    assert script.llms[0].kwargs == {
        "model": "org/model",
        "tensor_parallel_size": 2,
        "dtype": "auto",
        "max_model_len": 4096,
        "seed": 5,
        "gpu_memory_utilization": 0.9,
        "enable_prefix_caching": True,
    }
    reqs = [
        GenerationRequest("a", (Message("system", "sys"), Message("user", "qa")), (0, 1, 2)),
        GenerationRequest("b", (Message("user", "qb"),), (5, 6)),  # a top-up: indices 5 and 6
        GenerationRequest("c", (Message("user", "qc"),), ()),  # nothing missing: not sent
    ]
    out = list(engine.generate(reqs, SAMPLED))
    added = engine.llm.llm_engine.added
    prompts = ["".join(map(chr, ids)) for _, ids, _ in added]
    assert prompts == ["system: sys\nuser: qa\nassistant:", "user: qb\nassistant:"]
    params = [p for _, _, p in added]
    assert [p.n for p in params] == [3, 2]
    assert all(p.temperature == 0.6 and p.top_p == 0.95 and p.max_tokens == 100 for p in params)
    assert params[0].seed != params[1].seed and params[0].top_k == 0  # extras left at vLLM's defaults
    got = {(c.problem_id, c.sample_index): (c.text, c.finish_reason) for c in out}
    assert got == {
        ("a", 0): ("qa#0", "stop"),
        ("a", 1): ("qa#1", "length"),
        ("a", 2): ("qa#2", "stop"),
        ("b", 5): ("qb#0", "stop"),
        ("b", 6): ("qb#1", "length"),
    }
    assert all(
        c.completion_tokens == 3 and c.prompt_tokens == len(prompts[0 if c.problem_id == "a" else 1])
        for c in out
    )


def test_completions_are_yielded_as_each_request_finishes(fake: Callable[..., VLLMScript]) -> None:
    fake(order="reverse")
    engine = _engine()
    reqs = [GenerationRequest(f"p{i}", (Message("user", f"q{i}"),), (0, 1)) for i in range(4)]
    stream = engine.generate(reqs, SamplingParams(n=2, temperature=1.0))
    first = next(stream)
    vllm_engine = engine.llm.llm_engine
    assert (first.problem_id, vllm_engine.finished, len(vllm_engine.added)) == (
        "p3",
        1,
        4,
    )  # all added, 1 done
    rest = list(stream)
    assert [c.problem_id for c in [first, *rest]] == ["p3", "p3", "p2", "p2", "p1", "p1", "p0", "p0"]


def test_stopping_early_aborts_what_is_pending_and_ids_stay_unique(fake: Callable[..., VLLMScript]) -> None:
    fake(order="fifo")
    engine = _engine()
    reqs = [GenerationRequest(f"p{i}", (Message("user", f"q{i}"),), (0,)) for i in range(3)]
    stream = engine.generate(reqs, SamplingParams(temperature=0.0))
    assert next(stream).problem_id == "p0"
    stream.close()  # the caller stops (an error while grading, Ctrl-C)
    vllm_engine = engine.llm.llm_engine
    assert vllm_engine.aborted == ["skyeval-1", "skyeval-2"] and not vllm_engine.queue
    assert [c.problem_id for c in engine.generate(reqs[1:], SamplingParams(temperature=0.0))] == ["p1", "p2"]
    assert [rid for rid, _, _ in vllm_engine.added] == [f"skyeval-{i}" for i in range(5)]


def test_greedy_generates_once_per_prompt(fake: Callable[..., VLLMScript]) -> None:
    fake()
    engine = _engine()
    out = list(
        engine.generate([GenerationRequest("a", (Message("user", "q"),), (0, 1))], SamplingParams(n=2))
    )
    assert [p.n for _, _, p in engine.llm.llm_engine.added] == [1]
    assert [c.text for c in out] == ["q#0", "q#0"]


def test_extra_sampling_parameters_go_to_vllm(fake: Callable[..., VLLMScript]) -> None:
    fake()
    engine = _engine(top_k=20, min_p=0.05, repetition_penalty=1.1, stop="</answer>")
    list(engine.generate([GenerationRequest("a", (Message("user", "q"),), (0,))], SAMPLED))
    ((_, _, params),) = engine.llm.llm_engine.added
    assert (params.top_k, params.min_p, params.repetition_penalty) == (20, 0.05, 1.1)
    assert params.stop is None  # stops are applied by skyeval, outside thinking, never by vLLM


def test_stops_cut_outside_thinking_only(fake: Callable[..., VLLMScript]) -> None:
    """The fake answers ``q#i``; sample 1 ends by length. A stop at ``#`` cuts the plain reply (and so it
    stopped); inside an opened ``<think>`` the same stop is not applied."""
    fake()
    engine = _engine(stop="#")
    plain = list(engine.generate([GenerationRequest("a", (Message("user", "q"),), (0, 1))], SAMPLED))
    assert sorted((c.text, c.finish_reason) for c in plain) == [("q", "stop"), ("q", "stop")]
    think = GenerationRequest("b", (Message("user", "q"),), (0, 1), prefill="<think>\n")
    out = sorted(list(engine.generate([think], SAMPLED)), key=lambda c: c.sample_index)
    assert [(c.text, c.finish_reason) for c in out] == [("<think>\nq#0", "stop"), ("<think>\nq#1", "length")]
    prompt = "".join(map(chr, engine.llm.llm_engine.added[-1][1]))
    assert prompt.endswith("assistant:<think>\n")  # the prefill opens the assistant turn, once


def test_preflight_checks_the_model_path_and_extras_without_loading_a_model(
    fake: Callable[..., VLLMScript], tmp_path: Path
) -> None:
    script = fake()
    with pytest.raises(SkyevalError, match="model path not found"):
        preflight("vllm", {"model": str(tmp_path / "nope")})
    with pytest.raises(SkyevalError, match="engine option top_k=-5"):
        preflight("vllm", {"model": "org/model", "top_k": -5})
    preflight("vllm", {"model": "org/model", "top_k": 20})
    assert script.llms == []  # nothing was built


def test_engine_that_finishes_without_answering_is_an_error(
    fake: Callable[..., VLLMScript], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake()
    engine = _engine()
    monkeypatch.setattr(engine.llm.llm_engine, "has_unfinished_requests", lambda: False)
    with pytest.raises(SkyevalError, match="vLLM stopped with 1 request"):
        list(engine.generate([GenerationRequest("a", (Message("user", "q"),), (0,))], SAMPLED))


# -- what a kill leaves behind -------------------------------------------------------------------------------

PROBLEMS = 6


def _task(tmp_path: Path) -> Path:
    path = tmp_path / "probs.jsonl"
    rows = [
        {"id": f"q{i}", "question": f"Problem {i}: \\boxed{{{i}}}", "answer": str(i)} for i in range(PROBLEMS)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _options(tmp_path: Path, task: Path) -> RunOptions:
    return RunOptions(
        model="org/model",
        task=f"file:{task}",
        engine="vllm",
        samples=2,
        temperature=0.6,
        output_dir=str(tmp_path / "runs"),
        fields=FieldMap(question="question", gold="answer", id="id"),
        progress=False,
    )


def _recorded(tmp_path: Path) -> list[tuple[str, int]]:
    (run_dir,) = (tmp_path / "runs").glob("*/*/*")
    return sorted((r.problem_id, r.sample_index) for r in results.read_samples(run_dir))


def _resume_asks_only_for_the_rest(
    tmp_path: Path, task: Path, fake: Callable[..., VLLMScript], kept: int
) -> None:
    script = fake()
    res = run(_options(tmp_path, task))
    added = script.llms[0].llm_engine.added
    assert len(added) == PROBLEMS - kept  # only the requests that were not recorded
    assert res.summary.samples == PROBLEMS * 2 and res.summary.complete is True
    assert res.summary.scores is not None
    assert res.summary.scores.pass_at_1 == 1.0  # the fake echoes the boxed answer of each problem


@pytest.mark.parametrize("k", [0, 1, 4])
def test_ctrl_c_after_k_finished_requests_keeps_exactly_k(
    tmp_path: Path, fake: Callable[..., VLLMScript], k: int
) -> None:
    task = _task(tmp_path)
    script = fake(order="fifo", interrupt_after=k)
    with pytest.raises(Interrupted, match=f"{2 * k} sample"):
        run(_options(tmp_path, task))
    assert _recorded(tmp_path) == [(f"q{i}", j) for i in range(k) for j in range(2)]
    vllm_engine = script.llms[0].llm_engine
    assert len(vllm_engine.aborted) == PROBLEMS - k and not vllm_engine.queue
    _resume_asks_only_for_the_rest(tmp_path, task, fake, kept=k)


CHILD = """
import sys
from testkit.fake_vllm import VLLMScript, modules
sys.modules.update(modules(VLLMScript(order="reverse", hang_after=int(sys.argv[1]))))
from skyeval.cli import main
main(sys.argv[2:])
"""


def _wait_for_rows(path: Path, count: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "child exited"
        if path.is_file() and path.read_text().count("\n") >= count:
            return
        time.sleep(0.05)
    pytest.fail(f"{path} did not reach {count} rows")


def test_sigkill_after_k_finished_requests_keeps_exactly_k(
    tmp_path: Path, fake: Callable[..., VLLMScript]
) -> None:
    task, k = _task(tmp_path), 3
    args = ["run", "--engine", "vllm", "--model", "org/model", "--task", f"file:{task}", "--id-field", "id"]
    args += ["-n", "2", "--temperature", "0.6", "-o", str(tmp_path / "runs"), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(k), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        runs = tmp_path / "runs"
        deadline = time.monotonic() + 120
        while not list(runs.glob("*/*/*/samples.jsonl")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "child exited"
            time.sleep(0.05)
        (samples,) = runs.glob("*/*/*/samples.jsonl")
        _wait_for_rows(samples, 2 * k, proc)  # the child now hangs inside vLLM's next step
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _recorded(tmp_path) == [(f"q{i}", j) for i in range(PROBLEMS - k, PROBLEMS) for j in range(2)]
    _resume_asks_only_for_the_rest(tmp_path, task, fake, kept=k)


def test_importing_the_engine_module_does_not_import_vllm() -> None:
    code = "import skyeval.engines.vllm, sys; print('vllm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_no_fake_vllm_is_left_behind() -> None:
    """Runs after the tests above that installed the fake: later test files must not see it."""
    module = sys.modules.get("vllm")
    llm = getattr(module, "LLM", None)
    assert not (isinstance(llm, type) and issubclass(llm, fake_vllm.LLM))
    assert "vllm.sampling_params" not in sys.modules or module is not None
