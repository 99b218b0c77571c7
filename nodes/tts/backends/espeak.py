"""espeak-ng 1.52 through ``espeakng-loader`` and ctypes: any language, tiny and fast, robotic.

voices.yaml options: ``espeak_voice`` (e.g. ``en-us``, ``cmn``), ``variant`` (e.g. ``m3``, ``f2``),
``espeak_pitch`` (0–100 base pitch), ``espeak_range`` (0–100 pitch range). ``speed`` scales the rate.

Why a zygote process: libespeak-ng keeps DSP state in static variables (flutter phase, glottal and
noise filters, ``Flutter_ix`` …) that survive ``espeak_Terminate``, so a sentence sounds different
depending on what was spoken before it. To make every segment depend only on its own inputs, a small
single-threaded helper process initialises the library once and forks a fresh child per request; the
child speaks from the pristine state, writes the samples back and exits.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import queue
import struct
import subprocess
import sys
from collections.abc import Mapping

import numpy as np

from nodes.common.errors import PermanentBackendError, TransientBackendError
from nodes.common.settings import synthesis_workers
from nodes.tts.backends.base import Speech, SynthesisRequest

BASE_RATE_WPM = 165
LANGUAGE_VOICES = {"en": "en-us", "zh": "cmn", "cmn": "cmn", "ja": "ja", "de": "de", "fr": "fr", "es": "es"}
_HEADER = struct.Struct("<iiI")  # status (0 ok), sample_rate, payload bytes


class EspeakSynthesizer:
    """``workers`` zygotes speak that many segments at once (each child forks from a pristine state, so
    the samples do not depend on which zygote spoke, or on what it spoke before)."""

    name = "espeak"
    max_in_flight = 1

    @classmethod
    def create(cls, *, env: Mapping[str, str] = os.environ, **_machine: object) -> EspeakSynthesizer:
        return cls(workers=synthesis_workers(env))

    def __init__(self, workers: int = 1) -> None:
        self.max_in_flight = workers
        self._procs: list[subprocess.Popen[bytes] | None] = [None] * workers
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        for slot in range(workers):
            self._free.put(slot)

    @staticmethod
    def voice_name(request: SynthesisRequest) -> str:
        voice = request.voice
        base = voice.option("espeak_voice") or LANGUAGE_VOICES.get(voice.language, voice.language)
        variant = "whisper" if request.emotion == "whisper" else voice.option("variant")
        return f"{base}+{variant}" if variant else base

    def _zygote(self, slot: int) -> subprocess.Popen[bytes]:
        proc = self._procs[slot]
        if proc is None or proc.poll() is not None:
            proc = self._procs[slot] = subprocess.Popen(
                [sys.executable, "-m", "nodes.tts.backends.espeak"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            )
        return proc

    def synthesize_sync(self, request: SynthesisRequest) -> Speech:
        voice = request.voice
        job = {
            "text": request.text,
            "voice": self.voice_name(request),
            "rate": int(round(BASE_RATE_WPM * voice.speed)),
            "pitch": int(voice.option("espeak_pitch", 50)),
            "range": int(voice.option("espeak_range", 50)),
            "seed": int(request.seed) & 0x7FFF_FFFF,
        }
        slot = self._free.get()  # at most max_in_flight callers: one is free
        try:
            proc = self._zygote(slot)
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(json.dumps(job).encode() + b"\n")
                proc.stdin.flush()
                status, sample_rate, size = _HEADER.unpack(_read_exactly(proc.stdout, _HEADER.size))
                payload = _read_exactly(proc.stdout, size)
            except (OSError, EOFError) as exc:
                self._procs[slot] = None
                raise TransientBackendError(f"espeak helper process died: {exc}", backend=self.name,
                                            line=request.line) from exc
        finally:
            self._free.put(slot)
        if status != 0:
            raise PermanentBackendError(payload.decode(errors="replace"), backend=self.name, line=request.line)
        audio = (np.frombuffer(payload, dtype="<i2").astype(np.float32) / 32768.0)[:, None]
        return Speech(seq=request.seq, audio=audio, sample_rate=sample_rate, backend=self.name)

    async def synthesize(self, request: SynthesisRequest) -> Speech:
        return await asyncio.to_thread(self.synthesize_sync, request)

    def close(self) -> None:
        procs, self._procs = self._procs, [None] * len(self._procs)
        for proc in procs:
            if proc is None:
                continue
            if proc.poll() is None:
                assert proc.stdin is not None
                proc.stdin.close()  # the zygote exits on EOF
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()

    async def aclose(self) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def _read_exactly(stream, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise EOFError("espeak helper closed its pipe")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


# --- the zygote (runs as ``python -m nodes.tts.backends.espeak``) ------------------------------

_CALLBACK_TYPE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def _zygote_main() -> None:
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    data_parent = os.path.dirname(espeakng_loader.get_data_path()).encode()
    sample_rate = int(lib.espeak_Initialize(2, 0, data_parent, 0))  # 2 = AUDIO_OUTPUT_SYNCHRONOUS
    chunks: list[bytes] = []

    def on_audio(wav, n, _events):
        if n > 0:
            chunks.append(ctypes.string_at(wav, n * 2))
        return 0

    callback = _CALLBACK_TYPE(on_audio)  # referenced until exit: the C library calls it
    lib.espeak_SetSynthCallback(callback)
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:  # child: speak from the pristine state, answer, vanish
            status, payload = _speak(lib, job, chunks)
            out.write(_HEADER.pack(status, sample_rate, len(payload)) + payload)
            out.flush()
            os._exit(0)
        _, code = os.waitpid(pid, 0)
        if code != 0:
            message = f"espeak-ng crashed on {job['text'][:40]!r} (wait status {code})".encode()
            out.write(_HEADER.pack(1, sample_rate, len(message)) + message)
            out.flush()


def _speak(lib, job: dict, chunks: list[bytes]) -> tuple[int, bytes]:
    lib.espeak_ng_SetRandSeed(ctypes.c_long(job["seed"]))  # noise (whisper, breath) is seeded at init otherwise
    if lib.espeak_SetVoiceByName(job["voice"].encode()) != 0:
        return 1, f"espeak-ng has no voice {job['voice']!r}".encode()
    lib.espeak_SetParameter(1, job["rate"], 0)  # espeakRATE
    lib.espeak_SetParameter(3, job["pitch"], 0)  # espeakPITCH
    lib.espeak_SetParameter(4, job["range"], 0)  # espeakRANGE
    data = job["text"].encode("utf-8")
    lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, 1, None, None)  # 1 = espeakCHARS_UTF8
    lib.espeak_Synchronize()
    return 0, b"".join(chunks)


if __name__ == "__main__":
    _zygote_main()
