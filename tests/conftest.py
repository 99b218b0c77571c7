"""Shared fixtures: the voice library and small factories for plans and timelines.

Expensive fixtures (engines, daemons, whole renders) are session-scoped, not module-scoped: under
xdist a worker interleaves tests of several modules, and pytest tears a module fixture down whenever
the next test comes from another module (the demo render ran twice, 165 s and 137 s, on a loaded
machine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodes.common.voices import VoiceLibrary, load_voices

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def library() -> VoiceLibrary:
    return load_voices(ROOT / "voices.yaml")


@pytest.fixture(scope="session")
def fake_t2a_server():
    """One fake MiniMax T2A server per test process (a real HTTP server on loopback)."""
    from tests.fakes import FakeT2A

    server = FakeT2A()
    yield server
    server.close()


@pytest.fixture
def fake_t2a(fake_t2a_server):
    """The fake T2A server with an empty log, no faults, a generous rate limit and no latency."""
    fake_t2a_server.reset()
    return fake_t2a_server


@pytest.fixture(scope="session")
def fake_chat_server():
    """One fake OpenAI-compatible chat server per test process (a real HTTP server on loopback)."""
    from tests.fakes import FakeChat

    server = FakeChat()
    yield server
    server.close()


@pytest.fixture
def chat(fake_chat_server):
    """The fake chat server with no replies queued, no faults and an empty log."""
    fake_chat_server.reset()
    return fake_chat_server


@pytest.fixture(scope="session")
def tangoflux_model(tmp_path_factory) -> Path:
    """A tiny random-weight TangoFlux model folder in the published layout (tests/fakes/tangoflux.py)."""
    from tests.fakes.tangoflux import write_model

    return write_model(tmp_path_factory.mktemp("tangoflux") / "model")
