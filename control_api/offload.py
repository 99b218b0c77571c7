"""CPU-heavy work the API must not do on its own event loop or in its own memory: validating a submission
(a 10,000-line script parses for seconds, and a thread would still hold the GIL) and rendering voice
previews (the voice models stay in the child). A small pool of spawned processes does it; the pool is
replaced after ``RECYCLE_AFTER_CALLS`` calls, so what its children grew is given back. (Not
``max_tasks_per_child``: on Python 3.11 a pool using it hung for good once its children had been
replaced — 100 submissions into the service tests.)"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

RECYCLE_AFTER_CALLS = 200
PREVIEW_TEXT = {"en": "Hello. This is how I sound in a dramaflow episode.", "zh": "你好，这是我在节目里的声音。"}


class Offload:
    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._calls = 0

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is not None and self._calls >= RECYCLE_AFTER_CALLS:
            self._pool.shutdown(wait=False)  # its calls in flight finish, then its children exit
            self._pool = None
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"))
            self._calls = 0
        self._calls += 1
        return self._pool

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor(), partial(fn, *args))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def make_preview(voices_file: str | None, voice_id: str, target: str) -> str:
    """Render a short sample of ``voice_id`` to ``target`` (WAV), atomically; returns ``target``."""
    from control_api.engines.base import RenderOptions
    from control_api.engines.direct import DirectEngine
    from control_api.service import library_for

    library = library_for(Path(voices_file) if voices_file else None)
    language = library.get(voice_id).language.split("-")[0]
    text = PREVIEW_TEXT.get(language, PREVIEW_TEXT["en"])
    work = Path(target).parent / f"tmp-{uuid.uuid4().hex}"
    work.mkdir(parents=True)
    try:
        script = f"---\nlanguage: {language}\nvoices: {{Voice: {json.dumps(voice_id)}}}\n---\nVoice: {text}\n"
        DirectEngine(library, template="podcast").render(script, work / "preview.mp3", RenderOptions())
        (work / "preview.wav").replace(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
