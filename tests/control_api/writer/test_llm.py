"""The OpenAI-compatible client against a fake server that speaks the wire format (tests/fakes/openai_chat.py):
whole and streamed replies with usage, 429 with Retry-After and 5xx retried, 4xx not, configuration."""

from __future__ import annotations

import asyncio

import pytest

from control_api.writer.llm import NOT_CONFIGURED, ChatClient, LLMConfig, Reply
from nodes.common.errors import ConfigError, PermanentBackendError, TransientBackendError

MESSAGES = [{"role": "system", "content": "You write scripts."}, {"role": "user", "content": "A short one."}]




def run(config: LLMConfig, coroutine_of, waits: list[float] | None = None):
    async def go():
        now = [0.0]

        async def sleep(seconds: float) -> None:  # simulated time: waits are recorded, not slept
            now[0] += seconds
            if waits is not None:
                waits.append(seconds)

        client = ChatClient(config, sleep=sleep, clock=lambda: now[0])
        try:
            return await coroutine_of(client)
        finally:
            await client.close()
    return asyncio.run(go())


def config_of(fake, **extra) -> LLMConfig:
    return LLMConfig.from_env(fake.env() | {k: str(v) for k, v in extra.items()})


def test_a_whole_reply_carries_its_usage_model_and_cost(chat):
    chat.replies("**Host:** Hello there.")
    config = config_of(chat, DRAMAFLOW_LLM_PRICE_PER_1K_PROMPT=2, DRAMAFLOW_LLM_PRICE_PER_1K_COMPLETION=8)
    reply = run(config, lambda c: c.complete(MESSAGES, temperature=0.2, max_tokens=500))
    assert reply.content == "**Host:** Hello there." and reply.model == "fake-model" and reply.finish_reason == "stop"
    assert (reply.prompt_tokens, reply.completion_tokens) == (5 + 3, 6)  # the fake counts a token per 4 characters
    assert reply.cost == pytest.approx((8 * 2 + 6 * 8) / 1000)
    [request] = chat.log()
    assert request["body"]["stream"] is True and request["body"]["stream_options"] == {"include_usage": True}
    assert request["body"]["max_tokens"] == 500 and request["body"]["messages"] == MESSAGES


def test_a_streamed_reply_arrives_in_pieces_then_whole(chat):
    text = "**Host:** " + "word " * 40
    chat.replies(text)

    async def collect(client):
        return [item async for item in client.stream(MESSAGES)]
    items = run(config_of(chat), collect)
    pieces, final = items[:-1], items[-1]
    assert len(pieces) > 5 and all(isinstance(p, str) for p in pieces) and "".join(pieces) == text
    assert isinstance(final, Reply) and final.content == text and final.completion_tokens == len(text) // 4 + 1


def test_429_waits_as_told_and_5xx_backs_off_then_succeeds(chat):
    chat.faults({"status": 429, "retry_after": 7}, {"status": 500}, {"status": 503})
    waits: list[float] = []
    reply = run(config_of(chat), lambda c: c.complete(MESSAGES), waits)
    assert reply.retries == 3 and waits[0] == 7.0 and all(0 <= w <= 30 for w in waits[1:]) and len(waits) == 3
    assert [r["status"] for r in chat.log()] == [429, 500, 503, 200]


def test_retries_end_at_the_deadline_with_a_transient_error(chat):
    chat.faults({"status": 429, "retry_after": 100, "times": 5})
    config = config_of(chat)
    with pytest.raises(TransientBackendError, match="429"):
        run(LLMConfig(**{**config.__dict__, "retry_deadline_s": 150}), lambda c: c.complete(MESSAGES), [])
    assert len(chat.log()) == 2  # 100 s, then a second 100 s would pass the 150 s deadline


def test_a_refused_request_is_permanent_and_names_why(chat):
    wrong_key = LLMConfig(**{**config_of(chat).__dict__, "api_key": "not-the-key"})
    with pytest.raises(PermanentBackendError, match="401.*Incorrect API key"):
        run(wrong_key, lambda c: c.complete(MESSAGES), [])
    with pytest.raises(PermanentBackendError, match="400.*temperature"):
        run(config_of(chat), lambda c: c.complete(MESSAGES, temperature=5.0), [])
    assert len(chat.log()) == 2  # neither retried


def test_configuration_from_the_environment():
    assert LLMConfig.from_env({}) is None and "DRAMAFLOW_LLM_BASE_URL" in NOT_CONFIGURED
    local = LLMConfig.from_env({"DRAMAFLOW_LLM_BASE_URL": "http://127.0.0.1:11434/v1/", "DRAMAFLOW_LLM_MODEL": "qwen"})
    assert local is not None and local.base_url == "http://127.0.0.1:11434/v1" and local.api_key == ""
    with pytest.raises(ConfigError, match="placeholder"):
        LLMConfig.from_env({"DRAMAFLOW_LLM_BASE_URL": "https://api.example/v1", "DRAMAFLOW_LLM_MODEL": "m",
                            "DRAMAFLOW_LLM_API_KEY": "CHANGE-ME"})
