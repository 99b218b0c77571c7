"""Shared fixtures: the voice library and small factories for plans and timelines."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodes.common.voices import VoiceLibrary, load_voices

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def library() -> VoiceLibrary:
    return load_voices(ROOT / "voices.yaml")
