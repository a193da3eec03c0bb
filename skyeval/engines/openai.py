"""``openai``: any OpenAI-compatible endpoint (vLLM, SGLang, ``transformers serve``, hosted APIs).

Requests run on an asyncio loop in a background thread with at most ``concurrency`` in flight; completions are
handed to the caller as they finish. 429, 5xx, timeouts and connection errors are retried with exponential
backoff and jitter (``Retry-After`` honoured); after ``max_retries`` the run stops with a one-line error.
``n`` samples are asked for in one request when ``use_n`` is on; a server that rejects ``n`` or returns fewer
choices gets one request per missing sample from then on. The API key is read from the environment variable
``api_key_env`` (none named: no key is sent) and only ever sent in the ``Authorization`` header: never stored,
logged or put in an error.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import random
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from skyeval.engines._common import sample_seed
from skyeval.errors import SkyevalError
from skyeval.prompts import render_plain
from skyeval.types import Completion, FinishReason, GenerationRequest, SamplingParams

if TYPE_CHECKING:
    import httpx

DEFAULT_BASE_URL = "https://api.openai.com/v1"
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
    error: str = ""  # set when the server refused this request (HTTP 400/413/422): not retried


class OpenAIEngine:
    """Generate through ``/chat/completions`` (``mode="chat"``) or ``/completions`` (``mode="completion"``)."""

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
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        if mode not in ("chat", "completion"):
            raise SkyevalError(f"unknown openai mode {mode!r}; choose chat or completion")
        if concurrency < 1:
            raise SkyevalError(f"concurrency must be >= 1, got {concurrency}")
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key_env = api_key_env
        self.mode = mode
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self.use_n = use_n
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.n_supported: bool | None = None  # learned from the server: None until a request with n > 1
        self._rng = random.Random()

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

    async def _run(self, requests: Sequence[GenerationRequest], sampling: SamplingParams, emit: Any) -> None:
        import httpx

        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None  # no variable named: no key
        if key:
            headers["Authorization"] = f"Bearer {key}"
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        timeout = httpx.Timeout(self.request_timeout, connect=min(30.0, self.request_timeout))
        sem = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(headers=headers, limits=limits, timeout=timeout) as client:
            tasks = [asyncio.ensure_future(self._serve(client, sem, req, sampling, emit)) for req in requests]
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(
        self,
        client: httpx.AsyncClient,
        sem: asyncio.Semaphore,
        req: GenerationRequest,
        sampling: SamplingParams,
        emit: Any,
    ) -> None:
        indices = list(req.sample_indices)
        if not indices:
            return
        if sampling.temperature == 0:  # greedy: one generation serves every requested index
            reply = await self._call(client, sem, req, sampling, 1, indices[0])
            self._emit(req, indices, reply, emit, shared=True)
            return
        if self.use_n and len(indices) > 1 and self.n_supported is not False:
            reply = await self._call(client, sem, req, sampling, len(indices), indices[0])
            if reply.error:  # the server may not accept n: ask again one sample at a time
                self.n_supported = False
            else:
                got = min(len(reply.choices), len(indices))
                self.n_supported = got == len(indices)
                self._emit(req, indices[:got], reply, emit)
                indices = indices[got:]
        singles = [self._call(client, sem, req, sampling, 1, idx) for idx in indices]
        for idx, reply in zip(indices, await asyncio.gather(*singles), strict=True):
            self._emit(req, [idx], reply, emit)

    @staticmethod
    def _emit(
        req: GenerationRequest, indices: list[int], reply: _Reply, emit: Any, shared: bool = False
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
            emit(
                Completion(
                    req.problem_id, idx, choice.text, choice.finish_reason, reply.prompt_tokens, tokens
                )
            )

    def _payload(
        self, req: GenerationRequest, sampling: SamplingParams, n: int, index: int
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        }
        if n > 1:
            payload["n"] = n
        if sampling.seed is not None:
            payload["seed"] = sample_seed(sampling.seed, req.problem_id, index)
        if self.mode == "chat":
            payload["messages"] = [{"role": m.role, "content": m.content} for m in req.messages]
        else:
            payload["prompt"] = render_plain(req.messages)
        return payload

    async def _call(
        self,
        client: httpx.AsyncClient,
        sem: asyncio.Semaphore,
        req: GenerationRequest,
        sampling: SamplingParams,
        n: int,
        index: int,
    ) -> _Reply:
        import httpx

        url = f"{self.base_url}/{'chat/completions' if self.mode == 'chat' else 'completions'}"
        payload = self._payload(req, sampling, n, index)
        last = ""
        for attempt in range(self.max_retries + 1):
            wait: float | None = None
            async with sem:
                try:
                    resp = await client.post(url, json=payload)
                except (httpx.TimeoutException, httpx.TransportError) as err:
                    last = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
                else:
                    if resp.status_code == 200:
                        return self._parse(resp)
                    body = resp.text[:300].replace("\n", " ")
                    last = f"HTTP {resp.status_code}: {body}"
                    if resp.status_code in (400, 413, 422):
                        return _Reply((), None, None, error=f"server refused the request: {last}")
                    if resp.status_code != 429 and resp.status_code < 500:
                        raise SkyevalError(f"{url} rejected the request: {last}")
                    wait = _retry_after(resp)
            if attempt == self.max_retries:
                break
            backoff = min(self.backoff_max, self.backoff_base * 2**attempt) * self._rng.uniform(0.5, 1.0)
            await asyncio.sleep(max(backoff, wait or 0.0))
        raise SkyevalError(f"server {self.base_url} unreachable after {self.max_retries} retries ({last})")

    def _parse(self, resp: httpx.Response) -> _Reply:
        try:
            data = resp.json()
            raw_choices = sorted(data["choices"], key=lambda c: c.get("index", 0))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
            raise SkyevalError(f"malformed reply from {self.base_url}: {resp.text[:200]!r}") from err
        choices = []
        for raw in raw_choices:
            if not isinstance(raw, dict):
                raise SkyevalError(f"malformed reply from {self.base_url}: {resp.text[:200]!r}")
            if self.mode == "chat":
                message = raw.get("message") or {}
                text = message.get("content") or ""
                reasoning = message.get("reasoning_content") or message.get("reasoning")
                if reasoning:  # servers with a reasoning parser split the thinking off; keep it
                    text = f"<think>\n{reasoning}\n</think>\n\n{text}"
            else:
                text = raw.get("text") or ""
            finish: FinishReason = "length" if raw.get("finish_reason") == "length" else "stop"
            choices.append(_Choice(text, finish))
        usage = data.get("usage") or {}
        return _Reply(tuple(choices), usage.get("prompt_tokens"), usage.get("completion_tokens"))


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return min(float(value), 120.0) if value is not None else None
    except ValueError:
        return None
