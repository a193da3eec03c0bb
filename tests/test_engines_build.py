"""The engine registry's facts and the one builder: preflight order, task defaults, secrets, local vs Ray."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from skyeval.engines import ENGINES, EngineSpec, engine_spec, preflight, public_options
from skyeval.engines.build import EngineCache, build_engine, run_options
from skyeval.errors import MissingExtraError, SkyevalError
from skyeval.tasks import FieldMap, file_task, get_task

CHECKED: list[Mapping[str, Any]] = []


def record_check(options: Mapping[str, Any]) -> None:
    """A ``check`` hook for the test engines below: records that it ran, refuses ``fail=True``."""
    CHECKED.append(dict(options))
    if options.get("fail"):
        raise SkyevalError("the test engine's own check refused fail=True")


@pytest.fixture
def probe_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    spec = EngineSpec(
        "test_scaleout_fake:FakeEngine",
        ("skyeval_no_such_module",),
        "test",
        check="test_engines_build:record_check",
    )
    monkeypatch.setitem(ENGINES, "needs-extra", spec)
    monkeypatch.setitem(
        ENGINES, "checked", EngineSpec("test_scaleout_fake:FakeEngine", (), "test", check=spec.check)
    )
    CHECKED.clear()
    return "checked"


def test_preflight_checks_the_extra_first_then_options_then_the_engines_own_check(probe_engine: str) -> None:
    with pytest.raises(MissingExtraError, match=r"pip install 'skyeval\[test\]'"):
        preflight("needs-extra", {"bogus": 1})  # the extra is reported even though the option is bad too
    with pytest.raises(SkyevalError, match=r"does not take option\(s\) bogus"):
        preflight("checked", {"bogus": 1})
    assert CHECKED == []  # the engine's check runs only on valid options
    with pytest.raises(SkyevalError, match="own check refused"):
        preflight("checked", {"fail": True})
    preflight("checked", {"delay": 0.5})
    assert CHECKED == [{"fail": True}, {"delay": 0.5}]


def test_preflight_for_ray_checks_options_only(probe_engine: str) -> None:
    preflight(
        "needs-extra", {"delay": 0.0}, local=False
    )  # the extra is the workers' business, not the driver's
    assert CHECKED == []
    with pytest.raises(SkyevalError, match=r"does not take option\(s\) bogus"):
        preflight("needs-extra", {"bogus": 1}, local=False)


def test_run_options_add_the_model_and_the_engines_task_defaults() -> None:
    task = file_task("/data/gens.jsonl", FieldMap(question="q", gold="a", id="qid"))
    assert run_options("replay", "replay:gens", {"response_field": "outs"}, task) == {
        "response_field": "outs",
        "path": "/data/gens.jsonl",
        "id_field": "qid",
    }
    assert run_options("replay", "x", {"path": "/other.jsonl"}, task)["path"] == "/other.jsonl"  # user wins
    assert run_options("openai", "m", {"base_url": "http://h/v1"}, get_task("aime24")) == {
        "base_url": "http://h/v1",
        "model": "m",
    }
    assert "path" not in run_options("replay", "x", {}, get_task("aime24"))  # a built-in task has no file


def test_specs_carry_the_engine_facts() -> None:
    assert engine_spec("vllm").gpus({"tensor_parallel_size": 4}) == 4
    assert (
        engine_spec("hf").gpus({"device": "cuda:1"}) == 1 and engine_spec("hf").gpus({"device": "cpu"}) == 0
    )
    assert engine_spec("openai").gpus({}) == 0
    assert engine_spec("openai").secret == ("api_key",)
    assert public_options("openai", {"api_key": "sk-x", "api_key_env": "K", "top_k": 2}) == {
        "api_key_env": "K",
        "top_k": 2,
    }
    assert {"probe", "base_url", "api_key_env"} <= set(engine_spec("openai").neutral)
    for name in ENGINES:  # the sampling extras change what is generated: never neutral
        assert not {"top_k", "min_p", "repetition_penalty", "stop"} & set(engine_spec(name).neutral)


def test_new_options_at_their_defaults_leave_run_identities_unchanged() -> None:
    from skyeval.engines import generation_options

    options = {"base_url": "http://h/v1", "probe": True, "top_k": None, "stop": None, "mode": "chat"}
    assert generation_options("openai", options) == {}
    assert generation_options("openai", {**options, "top_k": 20}) == {"top_k": 20}


def test_build_engine_and_cache_build_locally(tmp_path: Any) -> None:
    path = tmp_path / "gens.jsonl"
    path.write_text('{"id": "a", "completion": "\\\\boxed{1}"}\n')
    engine = build_engine("replay", {"path": str(path)})
    assert engine.name == "replay"
    cache = EngineCache()
    assert cache.get("replay", {"path": str(path)}) is cache.get("replay", {"path": str(path)})
    with pytest.raises(SkyevalError, match=r"does not take option\(s\) nope"):
        build_engine("replay", {"path": str(path), "nope": 1})
    cache.close()
