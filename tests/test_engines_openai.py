"""The openai engine: retries, n fallback, key handling (fake server), and a real ``transformers serve``."""

from __future__ import annotations

import socket

import pytest
from testkit.fake_openai_server import FakeServer, Script

from skyeval.engines import get_engine
from skyeval.errors import SkyevalError
from skyeval.types import GenerationRequest, Message, SamplingParams

SAMPLING = SamplingParams(n=3, temperature=0.7, top_p=0.95, max_tokens=16, seed=1)


def _requests(count: int, samples: int = 3) -> list[GenerationRequest]:
    return [
        GenerationRequest(f"p{i}", (Message("user", f"What is {i} + 1?"),), tuple(range(samples)))
        for i in range(count)
    ]


def _engine(url: str, **kw: object):
    return get_engine("openai", model="m", base_url=url, backoff_base=0.01, backoff_max=0.05, **kw)


def _keys(completions) -> list[tuple[str, int]]:
    return sorted((c.problem_id, c.sample_index) for c in completions)


def test_n_per_request_and_usage() -> None:
    script = Script()
    with FakeServer(script) as url:
        out = list(_engine(url).generate(_requests(4), SAMPLING))
    assert _keys(out) == [(f"p{i}", j) for i in range(4) for j in range(3)]
    assert len(script.requests) == 4 and all(r["body"]["n"] == 3 for r in script.requests)
    assert all(c.finish_reason == "stop" and c.prompt_tokens == 5 for c in out)


def test_retries_on_429_and_500_then_succeeds() -> None:
    script = Script(fail=lambda i: {0: 429, 1: 500, 2: 503, 5: 502}.get(i))
    with FakeServer(script) as url:
        out = list(_engine(url, concurrency=2).generate(_requests(5), SAMPLING))
    assert _keys(out) == [(f"p{i}", j) for i in range(5) for j in range(3)]
    assert len(script.requests) == 5 + 4


def test_server_without_n_falls_back_to_one_request_per_sample() -> None:
    script = Script(supports_n=False)
    with FakeServer(script) as url:
        engine = _engine(url, concurrency=1)
        out = list(engine.generate(_requests(3), SAMPLING))
    assert _keys(out) == [(f"p{i}", j) for i in range(3) for j in range(3)]
    assert engine.n_supported is False
    assert len(script.requests) == 1 + 2 + 3 + 3  # learned after the first prompt
    seeds = {r["body"]["seed"] for r in script.requests if "n" not in r["body"]}
    assert len(seeds) == len([r for r in script.requests if "n" not in r["body"]])


def test_greedy_sends_one_request_per_prompt() -> None:
    script = Script()
    with FakeServer(script) as url:
        out = list(_engine(url).generate(_requests(2), SamplingParams(n=3, temperature=0.0, max_tokens=8)))
    assert len(out) == 6 and len(script.requests) == 2 and "n" not in script.requests[0]["body"]


def test_unreachable_after_retries_is_one_line_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = _engine(f"http://127.0.0.1:{port}/v1", max_retries=2)
    with pytest.raises(SkyevalError, match="unreachable after 2 retries"):
        list(engine.generate(_requests(1), SAMPLING))


def test_persistent_500_gives_up() -> None:
    script = Script(fail=lambda i: 500)
    with FakeServer(script) as url, pytest.raises(SkyevalError, match="unreachable"):
        list(_engine(url, max_retries=3).generate(_requests(1), SAMPLING))
    assert len(script.requests) == 4


def test_bad_request_becomes_error_completion_and_401_aborts() -> None:
    with FakeServer(Script(fail=lambda i: 400)) as url:
        out = list(_engine(url, use_n=False).generate(_requests(1, samples=1), SAMPLING))
    assert [c.finish_reason for c in out] == ["error"]
    with FakeServer(Script(fail=lambda i: 401)) as url, pytest.raises(SkyevalError, match="HTTP 401"):
        list(_engine(url).generate(_requests(1), SAMPLING))


def test_reply_without_choices_is_an_error_completion_not_a_crash() -> None:
    with FakeServer(Script(max_choices=0)) as url:
        out = list(_engine(url).generate(_requests(2), SAMPLING))
        greedy = list(_engine(url).generate(_requests(1), SamplingParams(n=2, temperature=0.0)))
    assert _keys(out) == [(f"p{i}", j) for i in range(2) for j in range(3)]
    assert {c.finish_reason for c in out + greedy} == {"error"} and "no choices" in out[0].text


def test_api_key_only_in_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYEVAL_TEST_KEY", "sk-secret-123")
    script = Script(fail=lambda i: 401)
    with FakeServer(script) as url, pytest.raises(SkyevalError) as err:
        list(_engine(url, api_key_env="SKYEVAL_TEST_KEY").generate(_requests(1), SAMPLING))
    assert script.requests[0]["auth"] == "Bearer sk-secret-123"
    assert "sk-secret" not in str(err.value)


def test_completion_mode_sends_prompt() -> None:
    script = Script()
    with FakeServer(script) as url:
        list(_engine(url, mode="completion").generate(_requests(1), SAMPLING))
    assert (
        script.requests[0]["path"] == "/v1/completions"
        and "What is 0 + 1?" in script.requests[0]["body"]["prompt"]
    )


def test_against_transformers_serve(served_tiny: tuple[str, str]) -> None:
    url, model = served_tiny
    engine = get_engine("openai", model=model, base_url=url, concurrency=4, max_retries=2)
    out = list(
        engine.generate(_requests(3, samples=2), SamplingParams(n=2, temperature=0.7, max_tokens=8, seed=3))
    )
    assert _keys(out) == [(f"p{i}", j) for i in range(3) for j in range(2)]
    assert all(c.finish_reason in ("stop", "length") for c in out)
    assert all(c.prompt_tokens and c.completion_tokens and c.completion_tokens <= 8 for c in out)
    assert engine.n_supported is False  # transformers serve ignores n: the engine noticed and topped up
    comp = get_engine("openai", model=model, base_url=url, mode="completion")
    out = list(comp.generate(_requests(1, samples=1), SamplingParams(n=1, temperature=0.0, max_tokens=4)))
    assert len(out) == 1 and out[0].completion_tokens == 4 and out[0].finish_reason == "length"
