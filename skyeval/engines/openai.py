"""``openai``: any OpenAI-compatible endpoint (vLLM, SGLang, ``transformers serve``, hosted APIs).

Transport, retries and timeouts are the official ``openai`` client's (``AsyncOpenAI``): 408, 409, 429, 5xx,
timeouts and connection errors are retried ``max_retries`` times with exponential backoff and jitter, honouring
``Retry-After``; then the run stops ("server … unreachable after N retries"). What stays here: at most
``concurrency`` requests in flight on an asyncio loop in a background thread, completions handed on as each
request finishes, ``n`` samples per request (one request per sample for servers that ignore ``n``), and the error
semantics the runner relies on (a refused request, e.g. HTTP 400, is an ``error`` completion carrying the
server's message; 401/403/404 stop the run with one line).

Keys only where they are meant to go: the base URL and the key are always passed to the client explicitly (it
would otherwise read ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` by itself). The key comes only from the variable
named by ``api_key_env``; without one no ``Authorization`` header is sent at all, nor organisation or project
headers. The key is never stored in config, logs or errors.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from skyeval.engines._common import extra_sampling, sample_seed
from skyeval.engines.reasoning import CONTINUE_TURN, chat_messages, checked_flag, recorded, served_opening
from skyeval.errors import SkyevalError
from skyeval.prompts import render_plain
from skyeval.types import Completion, FinishReason, GenerationRequest, SamplingParams

if TYPE_CHECKING:
    import openai

HOSTED_BASE_URL = "https://api.openai.com/v1"  # what the user passes, explicitly, for OpenAI's own API
PROBE_TIMEOUT = 3.0  # seconds the preflight waits for GET {base_url}/models
_PLACEHOLDER_KEY = "no-key"  # the client insists on a key; without one its Authorization header is omitted
_CUSTOM_HEADERS_ENV = "OPENAI_CUSTOM_HEADERS"  # the client would send these headers to any server
_DONE = object()


@dataclass(frozen=True)
class _Choice:
    text: str
    finish_reason: FinishReason


@dataclass(frozen=True)
class _Reply:
    choices: tuple[_Choice, ...]
    prompt_tokens: int | None
    completion_tokens: int | None
    error: str = ""  # set when the server refused this request (HTTP 400, 413, 422, ...): not retried


class OpenAIEngine:
    """Generate through ``/chat/completions`` (``mode="chat"``) or ``/completions`` (``mode="completion"``).

    ``top_k``/``min_p``/``repetition_penalty`` go in the request body; ``stop``, ``prefill`` and
    ``template_opens_think`` work as ``skyeval.engines.reasoning`` says. ``probe``: the preflight's (below).
    """

    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str | None = None,
        mode: Literal["chat", "completion"] = "chat",
        concurrency: int = 32,
        max_retries: int = 6,
        request_timeout: float = 600,
        use_n: bool = True,
        probe: bool = True,
        top_k: int | None = None,
        min_p: float | None = None,
        repetition_penalty: float | None = None,
        stop: str | list[str] | None = None,
        template_opens_think: bool | None = None,
    ) -> None:
        if mode not in ("chat", "completion"):
            raise SkyevalError(f"unknown openai mode {mode!r}; choose chat or completion")
        if concurrency < 1:
            raise SkyevalError(f"concurrency must be >= 1, got {concurrency}")
        if max_retries < 0:
            raise SkyevalError(f"max_retries must be >= 0, got {max_retries}")
        if not request_timeout > 0:
            raise SkyevalError(f"request_timeout must be > 0, got {request_timeout}")
        if not base_url:
            raise SkyevalError(
                "the openai engine needs the server's URL: --base-url http://HOST:PORT/v1 (for OpenAI's own "
                f"API pass --base-url {HOSTED_BASE_URL} --api-key-env OPENAI_API_KEY)"
            )
        if os.environ.get(_CUSTOM_HEADERS_ENV) is not None:
            raise SkyevalError(
                f"{_CUSTOM_HEADERS_ENV} is set: the openai client would send those headers to {base_url}; "
                "unset it (skyeval sends a key only from --api-key-env)"
            )
        self._key: str | None = None
        if api_key_env is not None:
            self._key = os.environ.get(api_key_env)
            if not self._key:
                raise SkyevalError(f"the API key variable {api_key_env} (--api-key-env) is not set or empty")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.mode = mode
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.request_timeout = float(request_timeout)
        self.use_n = use_n
        self.probe_server = probe
        self.extra = extra_sampling(top_k, min_p, repetition_penalty, stop)
        self.stops: list[str] = self.extra.pop("stop", [])  # applied to the recorded text, outside thinking
        self.template_opens_think = checked_flag("template_opens_think", template_opens_think)
        self.n_supported: bool | None = None  # learned from this server: None until a request with n > 1

    def _client_options(self, timeout: float, max_retries: int) -> dict[str, Any]:
        """Everything the client would otherwise take from the environment, given explicitly."""
        import openai

        return {
            "api_key": self._key or _PLACEHOLDER_KEY,
            "base_url": self.base_url,
            "max_retries": max_retries,
            "timeout": openai.Timeout(timeout, connect=min(30.0, timeout)),
        }

    def _headers(self) -> dict[str, Any]:
        """Per-request header overrides: no organisation/project headers, and no Authorization without a key."""
        import openai

        headers: dict[str, Any] = {"OpenAI-Organization": openai.Omit(), "OpenAI-Project": openai.Omit()}
        if self._key is None:
            headers["Authorization"] = openai.Omit()
        return headers

    def probe(self) -> None:
        """One ``GET {base_url}/models`` (3 s, no retry): the server answers, accepts the key, and, when it
        lists models, lists this one. One-line ``SkyevalError`` otherwise."""
        import openai

        with openai.OpenAI(**self._client_options(PROBE_TIMEOUT, 0)) as client:
            try:
                listed = [m.id for m in client.models.list(extra_headers=self._headers()).data or []]
            except openai.APIConnectionError as err:  # refused, DNS, TLS, timeout (APITimeoutError)
                raise SkyevalError(f"server {self.base_url} not reachable ({_describe(err)})") from None
            except (openai.AuthenticationError, openai.PermissionDeniedError) as err:
                raise SkyevalError(self._key_problem(err)) from None
            except openai.APIStatusError as err:
                raise SkyevalError(
                    f"server {self.base_url} answered GET /models with {_describe(err)}; is the URL right "
                    "(it usually ends in /v1)? -E probe=false skips this check"
                ) from None
            except (ValueError, TypeError, AttributeError) as err:  # a 200 that is not a model list
                raise SkyevalError(
                    f"server {self.base_url} answered GET /models with something that is not a model list "
                    f"({type(err).__name__}); -E probe=false skips this check"
                ) from None
        if listed and self.model not in listed:
            shown = ", ".join(listed[:8]) + (" ..." if len(listed) > 8 else "")
            raise SkyevalError(
                f"server {self.base_url} does not serve model {self.model!r} (it lists: {shown}); check --model "
                "or the served model name (-E probe=false if this server serves models it does not list)"
            )

    def _key_problem(self, err: openai.APIStatusError) -> str:
        if self._key is None:
            return (
                f"server {self.base_url} wants an API key ({_describe(err)}); name the environment variable "
                "holding it with --api-key-env"
            )
        return f"server {self.base_url} refused the key in {self.api_key_env} ({_describe(err)})"

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingParams
    ) -> Iterator[Completion]:
        results: queue.Queue[Any] = queue.Queue()
        loop = asyncio.new_event_loop()
        main: list[asyncio.Task[None]] = []

        def run() -> None:
            try:
                task = loop.create_task(self._run(requests, sampling, results.put))
                main.append(task)
                loop.run_until_complete(task)
                results.put(_DONE)
            except asyncio.CancelledError:
                results.put(_DONE)
            except BaseException as err:  # noqa: BLE001 -- handed to the consumer thread, which re-raises it
                results.put(err)
            finally:
                loop.close()

        thread = threading.Thread(target=run, name="skyeval-openai", daemon=True)
        thread.start()
        try:
            while True:
                item = results.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if thread.is_alive() and main:
                try:
                    loop.call_soon_threadsafe(main[0].cancel)
                except RuntimeError:  # the loop closed in the meantime: nothing left to cancel
                    pass
            thread.join(timeout=5)

    async def _run(
        self,
        requests: Sequence[GenerationRequest],
        sampling: SamplingParams,
        emit: Callable[[Completion], None],
    ) -> None:
        import openai

        sem = asyncio.Semaphore(self.concurrency)
        async with openai.AsyncOpenAI(
            **self._client_options(self.request_timeout, self.max_retries)
        ) as client:
            tasks = [asyncio.ensure_future(self._serve(client, sem, req, sampling, emit)) for req in requests]
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(
        self,
        client: openai.AsyncOpenAI,
        sem: asyncio.Semaphore,
        req: GenerationRequest,
        sampling: SamplingParams,
        emit: Callable[[Completion], None],
    ) -> None:
        indices = list(req.sample_indices)
        if not indices:
            return
        op = served_opening(self.model, req.prefill, self.template_opens_think)
        out = partial(_emit, emit=lambda c: emit(recorded(c, op, self.stops)))  # as recorded: see reasoning
        if sampling.temperature == 0:  # greedy: one generation serves every requested index
            reply = await self._call(client, sem, req, sampling, 1, indices[0])
            out(req, indices, reply, shared=True)
            return
        if self.use_n and len(indices) > 1 and self.n_supported is not False:
            reply = await self._call(client, sem, req, sampling, len(indices), indices[0])
            if reply.error:  # the server may not accept n: ask again one sample at a time
                self.n_supported = False
            else:
                got = min(len(reply.choices), len(indices))
                self.n_supported = got == len(indices)
                out(req, indices[:got], reply)
                indices = indices[got:]
        singles = [self._call(client, sem, req, sampling, 1, idx) for idx in indices]
        for idx, reply in zip(indices, await asyncio.gather(*singles), strict=True):
            out(req, [idx], reply)

    def _arguments(
        self, req: GenerationRequest, sampling: SamplingParams, n: int, index: int
    ) -> dict[str, Any]:
        """The keyword arguments of one ``create`` call."""
        op = served_opening(self.model, req.prefill, self.template_opens_think)
        args: dict[str, Any] = {
            "model": self.model,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "extra_headers": self._headers(),
        }
        if n > 1:
            args["n"] = n
        if sampling.seed is not None:
            args["seed"] = sample_seed(sampling.seed, req.problem_id, index)
        if self.mode == "chat":
            args["messages"] = chat_messages(req.messages, op.append)
        else:
            args["prompt"] = render_plain(req.messages) + op.append
        body = {**self.extra, **(CONTINUE_TURN if op.append and self.mode == "chat" else {})}
        return {**args, "extra_body": body} if body else args

    async def _call(
        self,
        client: openai.AsyncOpenAI,
        sem: asyncio.Semaphore,
        req: GenerationRequest,
        sampling: SamplingParams,
        n: int,
        index: int,
    ) -> _Reply:
        import openai

        args = self._arguments(req, sampling, n, index)
        async with sem:
            try:
                if self.mode == "chat":
                    return self._parse(await client.chat.completions.create(**args))
                return self._parse(await client.completions.create(**args))
            except (openai.AuthenticationError, openai.PermissionDeniedError) as err:
                raise SkyevalError(self._key_problem(err)) from None
            except openai.NotFoundError as err:
                raise SkyevalError(
                    f"server {self.base_url} answered {_describe(err)}; check --base-url and --model"
                ) from None
            except openai.APIStatusError as err:
                if err.status_code in (408, 409, 429) or err.status_code >= 500:  # retried by the client
                    raise SkyevalError(self._gave_up(err)) from None
                return _Reply((), None, None, error=f"server refused the request: {_describe(err)}")
            except openai.APIConnectionError as err:  # refused, reset, timed out (APITimeoutError)
                raise SkyevalError(self._gave_up(err)) from None
            except ValueError as err:  # a 200 whose body is not JSON
                raise SkyevalError(f"malformed reply from {self.base_url}: {err}") from None

    def _gave_up(self, err: openai.OpenAIError) -> str:
        return f"server {self.base_url} unreachable after {self.max_retries} retries ({_describe(err)})"

    def _parse(self, resp: Any) -> _Reply:
        """Choices and usage of a 2xx reply (the client builds it leniently: any field may be missing or of
        another type); a reply that is not a completion is a one-line ``SkyevalError``."""
        raw_choices = getattr(resp, "choices", None) or []
        if not isinstance(raw_choices, list) or not all(hasattr(c, "finish_reason") for c in raw_choices):
            raise SkyevalError(f"malformed reply from {self.base_url}: {str(resp)[:200]!r}")
        choices = []
        for raw in sorted(raw_choices, key=lambda c: _int(getattr(c, "index", None)) or 0):
            reasoning = None
            if self.mode == "chat":
                message = getattr(raw, "message", None)
                text = getattr(message, "content", None)
                extra = getattr(message, "model_extra", None) or {}
                reasoning = extra.get("reasoning_content") or extra.get("reasoning")
            else:
                text = getattr(raw, "text", None)
            if not isinstance(text, str | None) or not isinstance(reasoning, str | None):
                raise SkyevalError(f"malformed reply from {self.base_url}: {str(resp)[:200]!r}")
            finish: FinishReason = "length" if raw.finish_reason == "length" else "stop"
            if reasoning:  # a parser split the thinking off; cut off before any answer it never closed
                closing = "" if not text and finish == "length" else f"\n</think>\n\n{text or ''}"
                text = f"<think>\n{reasoning}{closing}"
            choices.append(_Choice(text or "", finish))
        usage = getattr(resp, "usage", None)
        return _Reply(
            tuple(choices),
            _int(getattr(usage, "prompt_tokens", None)),
            _int(getattr(usage, "completion_tokens", None)),
        )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _emit(
    req: GenerationRequest,
    indices: list[int],
    reply: _Reply,
    emit: Callable[[Completion], None],
    shared: bool = False,
) -> None:
    error = reply.error or ("" if reply.choices else "the server returned no choices")
    if error:  # reported per sample: the run exits non-zero and a re-run asks again
        for idx in indices:
            emit(Completion(req.problem_id, idx, error, "error", reply.prompt_tokens, None))
        return
    one = len(reply.choices) == 1
    for j, idx in enumerate(indices):
        choice = reply.choices[0 if shared else j]
        tokens = reply.completion_tokens if one else None
        emit(Completion(req.problem_id, idx, choice.text, choice.finish_reason, reply.prompt_tokens, tokens))


def _describe(err: openai.OpenAIError) -> str:
    """``HTTP 400: <the server's message>`` or ``APIConnectionError: <cause>``, on one line, at most 300 chars."""
    import openai

    if isinstance(err, openai.APIStatusError):
        body = err.body
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, str):
            message = err.response.text
        text = f"HTTP {err.status_code}: {message}"
    else:  # the transport's own error (refused, reset, timed out) says more than the client's wrapper
        detail = str(err.__cause__ or "") or str(err)
        text = f"{type(err).__name__}: {detail}" if detail else type(err).__name__
    return " ".join(text.split())[:300]


def preflight(options: Mapping[str, Any]) -> None:
    """The openai engine's own check: the options build an engine (URL given, key variable set), and unless
    ``probe=False`` the server answers ``GET /models`` within 3 s and serves the model."""
    engine = OpenAIEngine(**options)
    if engine.probe_server:
        engine.probe()
