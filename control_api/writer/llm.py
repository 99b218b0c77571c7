"""An OpenAI-compatible chat completions client (OpenAI, DeepSeek, Qwen's compatible mode, MiniMax's chat
API, Ollama, vLLM), over httpx.

Configured by ``DRAMAFLOW_LLM_BASE_URL`` (e.g. ``https://api.openai.com/v1``), ``DRAMAFLOW_LLM_API_KEY``
(may be empty for a local server; a placeholder is refused), ``DRAMAFLOW_LLM_MODEL``, and optionally
``DRAMAFLOW_LLM_TIMEOUT_S`` (120), ``DRAMAFLOW_LLM_PRICE_PER_1K_PROMPT`` / ``…_COMPLETION`` (the cost
recorded per message, in your currency; 0 when unset). Without a base URL and a model, ``from_env``
returns None: the writer's endpoints then answer 503 saying what to set.

A 429 is retried after its Retry-After (seconds or an HTTP date), a 5xx or a connection failure with
exponential backoff, until ``retry_deadline_s``; other 4xx answers are permanent. Every reply carries its
usage (prompt and completion tokens), model, latency and cost.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from nodes.common.errors import ConfigError, PermanentBackendError, TransientBackendError
from nodes.common.settings import is_placeholder

ENV_BASE_URL, ENV_API_KEY, ENV_MODEL = "DRAMAFLOW_LLM_BASE_URL", "DRAMAFLOW_LLM_API_KEY", "DRAMAFLOW_LLM_MODEL"
NOT_CONFIGURED = (f"no language model is configured: set {ENV_BASE_URL} (an OpenAI-compatible /v1 URL), "
                  f"{ENV_MODEL} and, unless the server is local, {ENV_API_KEY}")


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key: str = ""
    timeout_s: float = 120.0
    retry_deadline_s: float = 180.0
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    price_per_1k_prompt: float = 0.0
    price_per_1k_completion: float = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LLMConfig | None:
        base_url, model = env.get(ENV_BASE_URL, "").strip(), env.get(ENV_MODEL, "").strip()
        if not base_url or not model:
            return None
        key = env.get(ENV_API_KEY, "").strip()
        if key and is_placeholder(key):
            raise ConfigError(f"{ENV_API_KEY} is a placeholder from an example (such as CHANGE-ME): set the real key")
        try:
            return cls(base_url=base_url.rstrip("/"), model=model, api_key=key,
                       timeout_s=float(env.get("DRAMAFLOW_LLM_TIMEOUT_S", 120)),
                       price_per_1k_prompt=float(env.get("DRAMAFLOW_LLM_PRICE_PER_1K_PROMPT", 0)),
                       price_per_1k_completion=float(env.get("DRAMAFLOW_LLM_PRICE_PER_1K_COMPLETION", 0)))
        except ValueError as exc:
            raise ConfigError(f"DRAMAFLOW_LLM_* settings: {exc}") from None


@dataclass(frozen=True)
class Reply:
    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cost: float
    finish_reason: str | None
    retries: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def metadata(self) -> dict[str, Any]:
        """What a conversation message records about the call."""
        return {"model": self.model, "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cost": self.cost, "latency_s": round(self.latency_s, 3), "retries": self.retries}


class ChatClient:
    """One client per process (it holds a connection pool); ``close()`` when done."""

    def __init__(self, config: LLMConfig, *, sleep: Callable[[float], Any] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._http = httpx.AsyncClient(base_url=config.base_url, headers=headers,
                                       timeout=httpx.Timeout(config.timeout_s, connect=10.0))
        self._sleep, self._clock = sleep, clock  # (tests run retries on simulated time)

    async def close(self) -> None:
        await self._http.aclose()

    async def complete(self, messages: list[dict[str, str]], *, temperature: float = 0.7,
                       max_tokens: int | None = None) -> Reply:
        """The whole reply at once."""
        async for item in self.stream(messages, temperature=temperature, max_tokens=max_tokens):
            if isinstance(item, Reply):
                return item
        raise TransientBackendError("the language model's stream ended without a reply")

    async def stream(self, messages: list[dict[str, str]], *, temperature: float = 0.7,
                     max_tokens: int | None = None) -> AsyncIterator[str | Reply]:
        """The reply as it is written: pieces of text, then the whole ``Reply`` (with its usage) last.
        Retries happen before the first piece only: a piece is never sent twice."""
        body: dict[str, Any] = {"model": self.config.model, "messages": messages, "temperature": temperature,
                                "stream": True, "stream_options": {"include_usage": True}}
        if max_tokens:
            body["max_tokens"] = max_tokens
        started, retries = self._clock(), 0
        deadline = started + self.config.retry_deadline_s
        while True:
            try:
                async with self._http.stream("POST", "/chat/completions", json=body) as response:
                    if response.status_code != 200:
                        await response.aread()
                        wait_s = self._failure(response, retries, deadline)
                    else:
                        parts, usage, finish, model = [], {}, None, self.config.model
                        async for event in _events(response):
                            model = event.get("model") or model
                            usage = event.get("usage") or usage
                            for choice in event.get("choices") or []:
                                piece = (choice.get("delta") or {}).get("content") or ""
                                finish = choice.get("finish_reason") or finish
                                if piece:
                                    parts.append(piece)
                                    yield piece
                        yield self._reply(parts, usage, finish, model, messages, started, retries)
                        return
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                wait_s = self._transient_wait(f"the language model could not be reached: {exc}", retries, deadline)
            retries += 1
            await self._sleep(wait_s)

    def _reply(self, parts: list[str], usage: dict[str, Any], finish: str | None, model: str,
               messages: list[dict[str, str]], started: float, retries: int) -> Reply:
        content = "".join(parts)
        prompt = int(usage.get("prompt_tokens") or _estimate_tokens("".join(m["content"] for m in messages)))
        completion = int(usage.get("completion_tokens") or _estimate_tokens(content))
        cost = (prompt * self.config.price_per_1k_prompt + completion * self.config.price_per_1k_completion) / 1000
        return Reply(content, model, prompt, completion, self._clock() - started, round(cost, 6), finish, retries)

    def _failure(self, response: httpx.Response, retries: int, deadline: float) -> float:
        message = _error_message(response)
        if response.status_code == 429 or response.status_code >= 500:
            after = _retry_after_s(response.headers.get("retry-after"))
            return self._transient_wait(f"the language model answered {response.status_code}: {message}", retries,
                                        deadline, after)
        raise PermanentBackendError(f"the language model refused the request ({response.status_code}): {message}")

    def _transient_wait(self, message: str, retries: int, deadline: float, after_s: float | None = None) -> float:
        wait_s = after_s if after_s is not None else random.uniform(
            0, min(self.config.max_delay_s, self.config.base_delay_s * 2 ** retries))
        if self._clock() + wait_s > deadline:
            raise TransientBackendError(f"{message} (gave up after {retries + 1} attempts)")
        return wait_s


async def _events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of an SSE body (``data: …`` lines), up to ``data: [DONE]``."""
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        if data:
            yield json.loads(data)


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])[:300]
    except (ValueError, KeyError, TypeError):
        return response.text[:300] or response.reason_phrase


def _retry_after_s(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)
