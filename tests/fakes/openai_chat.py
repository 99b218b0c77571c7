"""A fake OpenAI-compatible chat completions server for tests: a real HTTP server on loopback.

It speaks the documented wire format of ``POST /v1/chat/completions``: a Bearer key (401 with an
``error`` object otherwise), ``model`` and ``messages`` (roles system, user, assistant) required, a
``chat.completion`` object with ``choices[0].message`` and ``usage``; with ``stream: true``, Server-Sent
Events of ``chat.completion.chunk`` objects (the first delta carries the role, the last one
``finish_reason``; with ``stream_options.include_usage`` one more chunk with empty ``choices`` and the
``usage``), ended by ``data: [DONE]``. Errors answer with their HTTP status and an ``error`` object; 429
may carry Retry-After.

Tokens are counted as a quarter of the characters, rounded up (at least 1 per message).

Test control (not part of the API): ``POST /_fake/replies`` queues the assistant's next replies (a list
of strings; when empty it answers ``default_reply``); ``POST /_fake/faults`` queues faults (``status``
429/500/503 with an optional ``retry_after``, ``times``); ``GET /_fake/log``; ``POST /_fake/reset``.

Run: ``python -m tests.fakes.openai_chat --fd N --key test-key``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import uuid
from collections import deque
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

ROLES = {"system", "user", "assistant"}
DEFAULT_REPLY = "---\ntitle: Fake\nvoices: {Host: en-joe, Guest: en-espeak-f}\n---\n**Host:** Hello.\n**Guest:** Hi.\n"


def tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def error(status: int, message: str, kind: str, code: str | None = None, **headers: str) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers or None)


class State:
    def __init__(self, key: str) -> None:
        self.key = key
        self.replies: deque[str] = deque()
        self.faults: deque[dict[str, Any]] = deque()
        self.log: list[dict[str, Any]] = []


def validate(body: Any) -> str | None:
    """What is wrong with a request body, as the API would say it, or None."""
    if not isinstance(body, dict):
        return "We could not parse the JSON body of your request."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return f"Invalid value for 'messages[{i}].role'"
        if not isinstance(message.get("content"), str):
            return f"Invalid type for 'messages[{i}].content': expected a string"
    temperature = body.get("temperature", 1)
    if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        return "Invalid 'temperature': must be between 0 and 2"
    if "max_tokens" in body and (not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1):
        return "Invalid 'max_tokens': must be a positive integer"
    return None


def create_app(state: State) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = None
        problem = validate(body)
        entry = {"body": body, "status": 400 if problem else 200}
        state.log.append(entry)
        if request.headers.get("authorization") != f"Bearer {state.key}":
            entry["status"] = 401
            return error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if problem:
            return error(400, problem, "invalid_request_error")
        if state.faults:
            fault = state.faults[0]
            fault["times"] = fault.get("times", 1) - 1
            if fault["times"] <= 0:
                state.faults.popleft()
            entry["status"] = fault["status"]
            headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
            kind = "rate_limit_exceeded" if fault["status"] == 429 else "server_error"
            return error(fault["status"], "Rate limit reached" if fault["status"] == 429 else "The server had an error",
                         kind, **headers)
        reply = state.replies.popleft() if state.replies else DEFAULT_REPLY
        usage = {"prompt_tokens": sum(tokens(m["content"]) for m in body["messages"]),
                 "completion_tokens": tokens(reply)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if not body.get("stream"):
            return {"id": ident, "object": "chat.completion", "created": created, "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                 "logprobs": None, "finish_reason": "stop"}], "usage": usage}

        def chunk(delta: dict[str, Any], finish: str | None) -> str:
            data = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": body["model"],
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            return f"data: {json.dumps(data)}\n\n"

        async def events():
            yield chunk({"role": "assistant", "content": ""}, None)
            for start in range(0, len(reply), 16):
                yield chunk({"content": reply[start:start + 16]}, None)
            yield chunk({}, "stop")
            if (body.get("stream_options") or {}).get("include_usage"):
                data = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": body["model"],
                        "choices": [], "usage": usage}
                yield f"data: {json.dumps(data)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/_fake/replies")
    async def replies(request: Request):
        state.replies.extend(await request.json())
        return {"queued": len(state.replies)}

    @app.post("/_fake/faults")
    async def faults(request: Request):
        state.faults.extend(await request.json())
        return {"queued": len(state.faults)}

    @app.get("/_fake/log")
    async def log():
        return {"requests": state.log}

    @app.post("/_fake/reset")
    async def reset():
        state.replies.clear()
        state.faults.clear()
        state.log.clear()
        return {}

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True, help="serve on this listening socket, inherited")
    parser.add_argument("--key", default="test-key")
    args = parser.parse_args()
    uvicorn.run(create_app(State(args.key)), fd=args.fd, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
