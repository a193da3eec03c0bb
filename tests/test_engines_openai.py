"""The openai engine on the official client: retries, n fallback, keys, probing, pass-through parameters (fake
server), and a real ``transformers serve``."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable
from typing import Any

import pytest
from testkit.fake_openai_server import FakeServer, Script

from skyeval.engines import get_engine, preflight
from skyeval.engines.openai import OpenAIEngine
from skyeval.errors import SkyevalError
from skyeval.types import Completion, GenerationRequest, Message, SamplingParams

SAMPLING = SamplingParams(n=3, temperature=0.7, top_p=0.95, max_tokens=16, seed=1)
FAST = "0.01"  # Retry-After the scripted failures send: the client waits that long instead of its backoff


def _requests(count: int, samples: int = 3) -> list[GenerationRequest]:
    return [
        GenerationRequest(f"p{i}", (Message("user", f"What is {i} + 1?"),), tuple(range(samples)))
        for i in range(count)
    ]


def _engine(url: str, **kw: Any) -> OpenAIEngine:
    engine = get_engine("openai", **{"model": "m", "base_url": url, **kw})
    assert isinstance(engine, OpenAIEngine)
    return engine


def _keys(completions: Iterable[Completion]) -> list[tuple[str, int]]:
    return sorted((c.problem_id, c.sample_index) for c in completions)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_n_per_request_and_usage() -> None:
    script = Script()
    with FakeServer(script) as url:
        out = list(_engine(url).generate(_requests(4), SAMPLING))
    assert _keys(out) == [(f"p{i}", j) for i in range(4) for j in range(3)]
    assert len(script.requests) == 4 and all(r["body"]["n"] == 3 for r in script.requests)
    assert all(c.finish_reason == "stop" and c.prompt_tokens == 5 and c.text.endswith("{42}.") for c in out)
    body = script.requests[0]["body"]
    assert body["model"] == "m" and body["max_tokens"] == 16 and body["temperature"] == 0.7
    assert "top_k" not in body and "stop" not in body  # nothing extra unless asked for


def test_retries_on_429_and_5xx_honouring_retry_after_then_succeeds() -> None:
    script = Script(fail=lambda i: {0: 429, 1: 500, 2: 503, 5: 502}.get(i), retry_after=FAST)
    with FakeServer(script) as url:
        out = list(_engine(url, concurrency=2).generate(_requests(5), SAMPLING))
    assert _keys(out) == [(f"p{i}", j) for i in range(5) for j in range(3)]
    assert len(script.requests) == 5 + 4
    retried = [r["headers"]["x-stainless-retry-count"] for r in script.requests]
    assert retried.count("0") == 5 and len(retried) - 5 == 4  # 5 first attempts, 4 retries by the client


def test_retry_after_sets_the_wait() -> None:
    script = Script(fail=lambda i: 503 if i == 0 else None, retry_after="0.4")
    with FakeServer(script) as url:
        out = list(_engine(url).generate(_requests(1, samples=1), SamplingParams(temperature=0.0)))
    assert len(out) == 1 and out[0].finish_reason == "stop"
    first, second = script.requests
    assert second["time"] - first["time"] >= 0.35  # the server's Retry-After, not the client's 0.5 s backoff


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
    engine = _engine(f"http://127.0.0.1:{_free_port()}/v1", max_retries=2)
    with pytest.raises(SkyevalError, match=r"unreachable after 2 retries \(APIConnectionError"):
        list(engine.generate(_requests(1), SAMPLING))


def test_persistent_500_gives_up_after_max_retries() -> None:
    script = Script(fail=lambda i: 500, retry_after=FAST)
    with (
        FakeServer(script) as url,
        pytest.raises(SkyevalError, match=r"unreachable after 3 retries \(HTTP 500"),
    ):
        list(_engine(url, max_retries=3).generate(_requests(1), SAMPLING))
    assert len(script.requests) == 4


def test_refused_request_is_an_error_completion_with_the_servers_message() -> None:
    script = Script(fail=lambda i: 400)
    with FakeServer(script) as url:
        out = list(_engine(url, use_n=False).generate(_requests(1, samples=1), SAMPLING))
    assert [c.finish_reason for c in out] == ["error"]
    assert out[0].text == "server refused the request: HTTP 400: scripted failure 400"
    assert len(script.requests) == 1  # a 400 is not retried


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_stops_the_run_naming_the_key(status: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer(Script(fail=lambda i: status)) as url, pytest.raises(SkyevalError) as err:
        list(_engine(url).generate(_requests(1), SAMPLING))
    assert f"HTTP {status}" in str(err.value) and "--api-key-env" in str(err.value)
    monkeypatch.setenv("SKYEVAL_TEST_KEY", "sk-secret-123")
    with FakeServer(Script(fail=lambda i: status)) as url, pytest.raises(SkyevalError) as err:
        list(_engine(url, api_key_env="SKYEVAL_TEST_KEY").generate(_requests(1), SAMPLING))
    assert "refused the key in SKYEVAL_TEST_KEY" in str(err.value) and "sk-secret" not in str(err.value)


def test_not_found_stops_the_run() -> None:
    with (
        FakeServer(Script(fail=lambda i: 404)) as url,
        pytest.raises(SkyevalError, match="HTTP 404.*--base-url"),
    ):
        list(_engine(url).generate(_requests(1), SAMPLING))


@pytest.mark.parametrize(
    "reply",
    [
        {"foo": 1},
        {"choices": []},
        {"choices": "x"},
        {"choices": ["x"]},
        {"choices": [{"finish_reason": "stop", "message": {"content": 7}}]},
        "not json",
    ],
    ids=str,
)
def test_malformed_or_empty_reply_is_reported_not_a_crash(reply: dict[str, Any] | str) -> None:
    with FakeServer(Script(reply=reply)) as url:
        engine = _engine(url)
        if reply in ({"foo": 1}, {"choices": []}):  # no choices: an error completion per sample
            out = list(engine.generate(_requests(1), SAMPLING))
            assert [c.finish_reason for c in out] == ["error"] * 3 and "no choices" in out[0].text
        else:
            with pytest.raises(SkyevalError, match="malformed reply from"):
                list(engine.generate(_requests(1), SAMPLING))


def test_no_key_named_sends_no_authorization_even_with_openai_env_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-leak")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-leak")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-leak")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")  # never used: the URL is explicit
    script = Script()
    with FakeServer(script) as url:
        preflight("openai", {"model": "m", "base_url": url})
        list(_engine(url).generate(_requests(2), SAMPLING))
    seen = script.probes + script.requests
    assert len(script.probes) == 1 and len(script.requests) == 2
    for entry in seen:
        assert entry["auth"] is None
        assert not any("leak" in value for value in entry["headers"].values())


def test_named_key_goes_only_in_the_authorization_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYEVAL_TEST_KEY", "sk-secret-123")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-leak")
    script = Script()
    with FakeServer(script) as url:
        engine = _engine(url, api_key_env="SKYEVAL_TEST_KEY")
        list(engine.generate(_requests(1), SAMPLING))
    assert script.requests[0]["auth"] == "Bearer sk-secret-123"
    assert "sk-secret" not in repr(engine) and engine.api_key_env == "SKYEVAL_TEST_KEY"


def test_named_key_variable_unset_fails_at_preflight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKYEVAL_NO_SUCH_KEY", raising=False)
    with pytest.raises(SkyevalError, match="SKYEVAL_NO_SUCH_KEY .*is not set"):
        preflight(
            "openai",
            {"model": "m", "base_url": "http://127.0.0.1:1/v1", "api_key_env": "SKYEVAL_NO_SUCH_KEY"},
        )


def test_missing_base_url_is_an_error_naming_the_hosted_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")  # the client's variable: ignored
    with pytest.raises(SkyevalError, match=r"needs the server's URL.*--base-url https://api.openai.com/v1"):
        preflight("openai", {"model": "gpt-4o-mini"})


def test_custom_headers_from_the_environment_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Api-Key: secret")
    with pytest.raises(SkyevalError, match="OPENAI_CUSTOM_HEADERS is set"):
        _engine("http://127.0.0.1:1/v1")


def test_preflight_server_down_is_one_line_in_under_five_seconds() -> None:
    start = time.monotonic()
    with pytest.raises(
        SkyevalError, match=r"server http://127.0.0.1:\d+/v1 not reachable \(APIConnectionError"
    ):
        preflight("openai", {"model": "m", "base_url": f"http://127.0.0.1:{_free_port()}/v1"})
    assert time.monotonic() - start < 5  # one probe, no retries (the acceptance bound of issue 11)


def test_preflight_server_that_never_answers_times_out() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        with pytest.raises(SkyevalError, match="not reachable \\(APITimeoutError"):
            preflight("openai", {"model": "m", "base_url": url})


@pytest.mark.parametrize(
    ("status", "message"),
    [(401, "wants an API key"), (403, "wants an API key"), (404, "GET /models with HTTP 404")],
)
def test_preflight_probe_failures(status: int, message: str) -> None:
    with FakeServer(Script(models_status=status)) as url, pytest.raises(SkyevalError, match=message):
        preflight("openai", {"model": "m", "base_url": url})


def test_preflight_model_not_listed_is_an_error_unless_probe_is_off() -> None:
    script = Script(models=("Qwen/QwQ-32B-Preview", "other"))
    with FakeServer(script) as url:
        with pytest.raises(
            SkyevalError, match=r"does not serve model 'qwq' \(it lists: Qwen/QwQ-32B-Preview, other\)"
        ):
            preflight("openai", {"model": "qwq", "base_url": url})
        preflight("openai", {"model": "Qwen/QwQ-32B-Preview", "base_url": url})
        preflight("openai", {"model": "qwq", "base_url": url, "probe": False})
    assert len(script.probes) == 2 and all(p["path"] == "/v1/models" for p in script.probes)
    with FakeServer(Script(models=())) as url:  # an empty list says nothing about the model: accepted
        preflight("openai", {"model": "anything", "base_url": url})


def test_extra_sampling_parameters_pass_through() -> None:
    script = Script()
    extra = {"top_k": 20, "min_p": 0.05, "repetition_penalty": 1.1, "stop": ["</answer>"]}
    with FakeServer(script) as url:
        list(_engine(url, **extra).generate(_requests(1), SAMPLING))
        list(_engine(url, mode="completion", stop="\n\n").generate(_requests(1), SAMPLING))
    chat, completion = (r["body"] for r in script.requests)
    assert {k: chat[k] for k in extra if k != "stop"} == {k: v for k, v in extra.items() if k != "stop"}
    # stops are applied by skyeval after generation, outside thinking, never sent to the server
    assert "stop" not in chat and "stop" not in completion and "top_k" not in completion


@pytest.mark.parametrize(
    "bad",
    [{"top_k": -2}, {"top_k": 1.5}, {"min_p": 2}, {"repetition_penalty": 0}, {"stop": []}, {"stop": [3]}],
)
def test_bad_extra_sampling_parameters_are_one_line_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(SkyevalError, match=f"engine option {next(iter(bad))}="):
        _engine("http://127.0.0.1:1/v1", **bad)


def test_completion_mode_sends_prompt() -> None:
    script = Script()
    with FakeServer(script) as url:
        list(_engine(url, mode="completion").generate(_requests(1), SAMPLING))
    assert (
        script.requests[0]["path"] == "/v1/completions"
        and "What is 0 + 1?" in script.requests[0]["body"]["prompt"]
    )


def test_choice_without_message_or_usage_is_empty_text() -> None:
    reply = {"choices": [{"finish_reason": "stop", "index": 0}], "usage": {"prompt_tokens": "x"}}
    with FakeServer(Script(reply=reply)) as url:
        (out,) = _engine(url).generate(_requests(1, samples=1), SamplingParams(temperature=0.0))
    assert (out.text, out.finish_reason, out.prompt_tokens, out.completion_tokens) == ("", "stop", None, None)


def test_reasoning_content_is_kept_as_think_block() -> None:
    reply: dict[str, Any] = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "length",
                "message": {"role": "assistant", "content": "\\boxed{2}", "reasoning_content": "1+1"},
            }
        ],
        "usage": {"prompt_tokens": 4, "completion_tokens": 9},
    }
    with FakeServer(Script(reply=reply)) as url:
        (out,) = _engine(url).generate(_requests(1, samples=1), SamplingParams(temperature=0.0))
    assert out.text == "<think>\n1+1\n</think>\n\n\\boxed{2}" and out.finish_reason == "length"
    assert (out.prompt_tokens, out.completion_tokens) == (4, 9)
    reply["choices"][0]["message"] = {"role": "assistant", "content": None, "reasoning_content": "1+1 is"}
    with FakeServer(Script(reply=reply)) as url:  # cut off while thinking: the block stays open
        (cut,) = _engine(url).generate(_requests(1, samples=1), SamplingParams(temperature=0.0))
    assert cut.text == "<think>\n1+1 is" and cut.finish_reason == "length"


def test_against_transformers_serve(served_tiny: tuple[str, str]) -> None:
    url, model = served_tiny
    preflight("openai", {"model": model, "base_url": url})  # transformers serve lists the served model
    engine = _engine(url, model=model, concurrency=4, max_retries=2)
    out = list(
        engine.generate(_requests(3, samples=2), SamplingParams(n=2, temperature=0.7, max_tokens=8, seed=3))
    )
    assert _keys(out) == [(f"p{i}", j) for i in range(3) for j in range(2)]
    assert all(c.finish_reason in ("stop", "length") for c in out)
    assert all(c.completion_tokens == 8 for c in out if c.finish_reason == "length")  # cut at max_tokens
    assert all(c.prompt_tokens and c.completion_tokens and c.completion_tokens <= 8 for c in out)
    assert engine.n_supported is False  # transformers serve ignores n: the engine noticed and topped up
    comp = _engine(url, model=model, mode="completion")
    out = list(comp.generate(_requests(1, samples=1), SamplingParams(n=1, temperature=0.0, max_tokens=4)))
    assert len(out) == 1 and out[0].completion_tokens == 4 and out[0].finish_reason == "length"
