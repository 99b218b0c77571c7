"""The application: its lifespan (Redis, the task queue, the helper processes), middleware (the body
limit, request metrics), the problem handlers and the routes."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from contextlib import asynccontextmanager

import redis as redis_sync
import redis.asyncio as redis_async
from arq import create_pool
from fastapi import FastAPI, Request
from prometheus_client import Counter, Histogram

from control_api.api.problems import install_problem_handlers, problem
from control_api.api.routes import api_router, health
from control_api.api.studio import install_studio
from control_api.db import configure_pool
from control_api.offload import Offload
from control_api.queue import redis_settings
from control_api.settings import ServiceSettings, get_settings
from control_api.writer.llm import ChatClient, LLMConfig

log = logging.getLogger("dramaflow.api")
REQUESTS = Counter("dramaflow_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("dramaflow_http_request_seconds", "HTTP request latency", ["method", "route"])


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_pool(settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.secret_key is None:
            log.warning("DRAMAFLOW_SECRET_KEY is not set: access tokens are signed with a random secret of this "
                        "process and stop working when it restarts; set one for production")
        app.state.offload = Offload(settings.api_helper_processes)
        app.state.redis = redis_async.Redis.from_url(settings.redis_url)
        app.state.redis_sync = redis_sync.Redis.from_url(settings.redis_url)
        app.state.arq = await create_pool(redis_settings(settings.redis_url), default_queue_name=settings.queue_name)
        llm = LLMConfig.from_env(os.environ)  # None: the writer's routes answer 503 with what to set
        app.state.llm = ChatClient(llm) if llm else None
        try:
            yield
        finally:
            if app.state.llm is not None:
                await app.state.llm.close()
            await app.state.arq.aclose()
            await app.state.redis.aclose()
            app.state.redis_sync.close()
            await asyncio.to_thread(app.state.offload.close)

    app = FastAPI(title="dramaflow", version="0.1.0", lifespan=lifespan,
                  description="Scripts to finished, mastered audio. Authenticate with `Authorization: Bearer <token>`: "
                              "an access token from POST /api/v1/auth/login, or an API key.")
    app.state.settings = settings
    install_problem_handlers(app)
    app.include_router(api_router)
    app.include_router(health.router)
    install_studio(app, settings.studio_dir)  # last: its catch-all path must not shadow the routes above

    @app.middleware("http")
    async def metrics(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        LATENCY.labels(request.method, path).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        return response

    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app


class BodyLimit:
    """413 for bodies over ``limit`` bytes, by Content-Length or by counting a chunked body."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._reject(scope, receive, send)
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        # Read the whole body first (at most ``limit`` bytes): a chunked body over the limit is a 413 here,
        # not a parse error inside the framework.
        chunks, seen, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.limit:
                return await self._reject(scope, receive, send)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _reject(self, scope, receive, send):
        response = problem(413, "Payload Too Large", f"request bodies are limited to {self.limit} bytes; "
                           "store long scripts with POST /api/v1/scripts in parts or raise DRAMAFLOW_MAX_BODY_BYTES")
        await response(scope, receive, send)
