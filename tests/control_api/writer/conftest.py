"""The fake OpenAI-compatible server the writer's tests talk to (one per module, emptied per test)."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes import FakeChat


@pytest.fixture(scope="module")
def fake():
    server = FakeChat()
    yield server
    server.close()


@pytest.fixture
def chat(fake):
    httpx.post(f"{fake.url}/_fake/reset", timeout=30).raise_for_status()
    return fake
