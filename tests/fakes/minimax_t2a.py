"""A fake MiniMax T2A v2 server for tests and benchmarks: a real HTTP server on loopback.

It speaks the documented wire format (reference/minimax-t2a.md): ``POST /v1/t2a_v2`` with a Bearer key,
audio as a hex string in ``data.audio``, errors as HTTP 200 with ``base_resp.status_code``, SSE events
whose final one carries ``extra_info`` (and the aggregated audio unless
``stream_options.exclude_aggregated_audio``), ``POST /v1/get_voice``. It validates requests the way the
documentation describes (model, voice id, ranges, ``<#x#>`` pauses, sample rates, invisible characters)
and rate-limits per key: more than ``rpm`` requests in any ``window_s`` are answered with 1002.

The "audio" is a tone per voice, 16-bit little-endian PCM (``format: pcm``) or a WAV file, whose length
follows the text (and the pauses, which are real silence), so durations and pauses can be checked.

Test control (not part of MiniMax's API): ``POST /_fake/faults`` queues faults (``match``: a substring of
the text, ``*`` for any; ``times``; ``kind``: ``code`` with ``code``, ``http`` with ``status``, ``hang``
with ``seconds``, ``cut`` (SSE without its final event), ``aggregate`` (final SSE event repeats the
audio even when excluded); ``http`` faults may carry ``retry_after``, sent as a Retry-After header);
``GET /_fake/log`` lists every request; ``POST /_fake/reset``; ``POST /_fake/config`` changes rpm,
window_s, latency_s, and ``error_rate`` / ``error_codes`` / ``error_seed``: a bad provider day, where
that share of the requests within the rate limit fail with a transient code drawn from ``error_codes``
(seeded, so a run can be repeated).

Run: ``python -m tests.fakes.minimax_t2a --port 8123 --key test-key [--rpm 20 --window-s 60 --latency-s 0.4]``
(tests pass ``--fd`` instead: a socket that already listens, so nothing has to wait for the port).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import random
import re
import time
import unicodedata
import uuid
import wave
from collections import deque
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

MODELS = ("speech-2.8-hd", "speech-2.8-turbo", "speech-2.6-hd", "speech-2.6-turbo",
          "speech-02-hd", "speech-02-turbo", "speech-01-hd", "speech-01-turbo")
SAMPLE_RATES = (8000, 16000, 22050, 24000, 32000, 44100)
BASE_EMOTIONS = {"happy", "sad", "angry", "fearful", "disgusted", "surprised", "calm"}
SYSTEM_VOICES = {
    "male-qn-qingse": "青涩青年音色", "female-shaonv": "少女音色", "male-qn-jingying": "精英青年音色",
    "presenter_male": "男性主持人", "audiobook_female_1": "女性有声书1", "English_Graceful_Lady": "Graceful Lady",
}
CLONED_VOICES = {"dramaflow-clone-01": "my cloned narrator"}
LANGUAGE_BOOSTS = {"Chinese", "Chinese,Yue", "English", "Arabic", "Russian", "Spanish", "French", "Portuguese",
                   "German", "Turkish", "Dutch", "Ukrainian", "Vietnamese", "Indonesian", "Japanese", "Italian",
                   "Korean", "Thai", "Polish", "Romanian", "Greek", "Czech", "Finnish", "Hindi", "auto"}
_PAUSE = re.compile(r"<#([0-9.]+)#>")
SECONDS_PER_CHAR = {"cjk": 0.2, "other": 0.06}
SSE_CHUNK_BYTES = 8192


def emotions_of(model: str) -> set[str]:
    if model.startswith("speech-2.6"):
        return BASE_EMOTIONS | {"fluent", "whisper"}
    if model.startswith("speech-2.8"):
        return BASE_EMOTIONS | {"fluent"}
    return set(BASE_EMOTIONS)


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class State:
    def __init__(self, key: str, rpm: int, window_s: float, latency_s: float) -> None:
        self.key, self.rpm, self.window_s, self.latency_s = key, rpm, window_s, latency_s
        self.error_rate, self.error_codes = 0.0, [1000, 1024, 1039]
        self.rng = random.Random(0)
        self.reset()

    @property
    def error_seed(self) -> int:
        return 0

    @error_seed.setter
    def error_seed(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def random_error(self) -> int | None:
        """A transient code for this request on a bad day, or None."""
        if self.error_rate > 0 and self.rng.random() < self.error_rate:
            return int(self.rng.choice(self.error_codes))
        return None

    def reset(self) -> None:
        self.log: list[dict[str, Any]] = []
        self.faults: list[dict[str, Any]] = []
        self.starts: dict[str, deque[float]] = {}

    def over_rate(self, key: str, now: float) -> bool:
        starts = self.starts.setdefault(key, deque())
        while starts and starts[0] <= now - self.window_s:
            starts.popleft()
        if len(starts) >= self.rpm:
            return True
        starts.append(now)
        return False

    def fault_for(self, text: str) -> dict[str, Any] | None:
        for fault in self.faults:
            if fault["times"] > 0 and (fault["match"] == "*" or fault["match"] in text):
                fault["times"] -= 1
                return fault
        return None


# --- audio ----------------------------------------------------------------------------------------


def _is_cjk(ch: str) -> bool:
    return 0x2E80 <= ord(ch) <= 0x9FFF or 0xAC00 <= ord(ch) <= 0xD7AF


def speech_seconds(text: str, speed: float) -> float:
    spoken = [c for c in text if unicodedata.category(c)[0] in "LN"]
    seconds = sum(SECONDS_PER_CHAR["cjk" if _is_cjk(c) else "other"] for c in spoken)
    return max(0.3, seconds) / speed


def render_pcm(text: str, voice_id: str, speed: float, sample_rate: int) -> np.ndarray:
    """Int16 samples: a tone per text piece (pitch from the voice id), silence for each ``<#x#>``."""
    freq = 140.0 + int(hashlib.sha256(voice_id.encode()).hexdigest()[:4], 16) % 260
    parts = _PAUSE.split(text)
    out = []
    for k, part in enumerate(parts):
        if k % 2:
            out.append(np.zeros(int(float(part) * sample_rate), np.float32))
        elif part.strip():
            n = int(speech_seconds(part, speed) * sample_rate)
            t = np.arange(n) / sample_rate
            tone = 0.3 * np.sin(2 * np.pi * freq * t) * (0.8 + 0.2 * np.sin(2 * np.pi * 3.0 * t))
            fade = min(n // 4, int(0.01 * sample_rate))
            ramp = np.linspace(0.0, 1.0, fade)
            tone[:fade] *= ramp
            tone[n - fade:] *= ramp[::-1]
            out.append(tone.astype(np.float32))
    return (np.concatenate(out) * 32767).astype("<i2")


def encode(samples: np.ndarray, fmt: str, sample_rate: int) -> bytes:
    if fmt == "pcm":
        return samples.tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(samples.tobytes())
    return buffer.getvalue()


# --- validation (per the documented request body) ------------------------------------------------


def validate(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(2013, "invalid params: body must be a JSON object")
    model = body.get("model")
    if model not in MODELS:
        raise ApiError(2013, f"invalid params: model {model!r}")
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(2013, "invalid params: text is empty")
    if len(text) >= 10_000:
        raise ApiError(2013, "invalid params: text too long")
    _check_pauses(text)
    invisible = sum(1 for c in text if unicodedata.category(c) in ("Cc", "Cf", "Co") and c not in "\n")
    if invisible / len(text) > 0.10:
        raise ApiError(1042, "invisible character ratio exceeds limit")
    voice = body.get("voice_setting") or {}
    voice_id = voice.get("voice_id")
    if voice_id not in SYSTEM_VOICES and voice_id not in CLONED_VOICES:
        raise ApiError(2013, f"invalid params: voice id {voice_id!r} not exist")
    speed = voice.get("speed", 1.0)
    if not (isinstance(speed, int | float) and 0.5 <= speed <= 2.0):
        raise ApiError(2013, "invalid params: speed must be in [0.5, 2]")
    vol = voice.get("vol", 1.0)
    if not (isinstance(vol, int | float) and 0 < vol <= 10):
        raise ApiError(2013, "invalid params: vol must be in (0, 10]")
    pitch = voice.get("pitch", 0)
    if not (isinstance(pitch, int) and not isinstance(pitch, bool) and -12 <= pitch <= 12):
        raise ApiError(2013, "invalid params: pitch must be an integer in [-12, 12]")
    emotion = voice.get("emotion")
    if emotion is not None and emotion not in emotions_of(model):
        raise ApiError(2013, f"invalid params: emotion {emotion!r} not supported by {model}")
    audio = body.get("audio_setting") or {}
    sample_rate = audio.get("sample_rate", 32000)
    fmt = audio.get("format", "mp3")
    if sample_rate not in SAMPLE_RATES:
        raise ApiError(2013, f"invalid params: sample_rate {sample_rate}")
    if fmt not in ("pcm", "wav"):
        raise ApiError(2013, f"invalid params: format {fmt!r} (this fake serves pcm and wav)")
    if audio.get("channel", 1) != 1:
        raise ApiError(2013, "invalid params: this fake serves mono")
    boost = body.get("language_boost")
    if boost is not None and boost not in LANGUAGE_BOOSTS:
        raise ApiError(2013, f"invalid params: language_boost {boost!r}")
    tone = (body.get("pronunciation_dict") or {}).get("tone", [])
    if not isinstance(tone, list) or not all(isinstance(t, str) and "/" in t for t in tone):
        raise ApiError(2013, "invalid params: pronunciation_dict.tone must be a list of 'word/replacement'")
    if body.get("stream") and body.get("output_format") == "url":
        raise ApiError(2013, "invalid params: output_format url is not available when streaming")
    return {"model": model, "text": text, "voice_id": voice_id, "speed": float(speed), "sample_rate": sample_rate,
            "format": fmt, "emotion": emotion, "language_boost": boost, "pronunciation": tone,
            "stream": bool(body.get("stream")),
            "exclude_aggregated": bool((body.get("stream_options") or {}).get("exclude_aggregated_audio"))}


def _check_pauses(text: str) -> None:
    pieces = _PAUSE.split(text)
    for k in range(1, len(pieces), 2):
        if not 0.01 <= float(pieces[k]) <= 99.99:
            raise ApiError(2013, f"invalid params: pause <#{pieces[k]}#> out of [0.01, 99.99]")
        if not pieces[k - 1].strip() or not pieces[k + 1].strip():
            raise ApiError(2013, "invalid params: a pause must sit between speakable text, never two in a row")
    if "<#" in _PAUSE.sub("", text):
        raise ApiError(2013, "invalid params: malformed pause mark")


# --- app ------------------------------------------------------------------------------------------


def create_app(state: State) -> FastAPI:
    app = FastAPI()

    def error(code: int, message: str, trace: str) -> JSONResponse:
        return JSONResponse({"trace_id": trace, "base_resp": {"status_code": code, "status_msg": message}},
                            headers={"Trace-Id": trace})

    @app.post("/v1/t2a_v2")
    async def t2a(request: Request):
        entry: dict[str, Any] = {"t": time.monotonic()}
        state.log.append(entry)
        try:
            return await _t2a(request, entry)
        finally:
            entry["t_end"] = time.monotonic()  # for a stream: when its first byte is ready

    async def _t2a(request: Request, entry: dict[str, Any]):
        now = entry["t"]
        trace = uuid.uuid4().hex
        raw = await request.body()
        entry.update(trace_id=trace, group_id=request.query_params.get("GroupId"))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        entry["body"] = body
        entry["text"] = body.get("text") if isinstance(body, dict) else None
        auth = request.headers.get("authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else ""
        if key != state.key:
            entry["code"] = 1004
            return error(1004, "invalid api key", trace)
        if state.over_rate(key, now):
            entry["code"] = 1002
            return error(1002, "rate limit exceeded(RPM)", trace)
        fault = state.fault_for(entry["text"] or "")
        if fault is None and (code := state.random_error()) is not None:
            fault = {"kind": "code", "code": code, "message": "transient failure (bad day)"}
        entry["fault"] = fault["kind"] if fault else None
        if fault and fault["kind"] == "hang":
            await asyncio.sleep(float(fault.get("seconds", 30)))
        if state.latency_s:
            await asyncio.sleep(state.latency_s)
        if fault and fault["kind"] == "http":
            entry["code"] = -int(fault["status"])
            headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else None
            return Response(f"upstream error {fault['status']}", status_code=int(fault["status"]), headers=headers)
        try:
            if fault and fault["kind"] == "code":
                raise ApiError(int(fault["code"]), str(fault.get("message", "injected error")))
            req = validate(body)
        except ApiError as exc:
            entry["code"] = exc.code
            if isinstance(body, dict) and body.get("stream"):  # errors of a stream come as an event
                event = {"trace_id": trace, "base_resp": {"status_code": exc.code, "status_msg": exc.message}}
                return StreamingResponse(iter(["data: " + json.dumps(event) + "\n\n"]),
                                         media_type="text/event-stream", headers={"Trace-Id": trace})
            return error(exc.code, exc.message, trace)
        entry["code"] = 0
        samples = render_pcm(req["text"], req["voice_id"], req["speed"], req["sample_rate"])
        audio = encode(samples, req["format"], req["sample_rate"])
        spoken = _PAUSE.sub("", req["text"])
        extra = {"audio_length": int(len(samples) * 1000 / req["sample_rate"]), "audio_sample_rate": req["sample_rate"],
                 "audio_size": len(audio), "bitrate": 0, "audio_format": req["format"], "audio_channel": 1,
                 "invisible_character_ratio": 0, "usage_characters": len(spoken), "word_count": len(spoken.split())}
        ok = {"status_code": 0, "status_msg": "success"}
        if not req["stream"]:
            return JSONResponse({"data": {"audio": audio.hex(), "status": 2, "subtitle_file": ""},
                                 "extra_info": extra, "trace_id": trace, "base_resp": ok},
                                headers={"Trace-Id": trace})
        aggregate = not req["exclude_aggregated"] or (fault is not None and fault["kind"] == "aggregate")

        async def events():
            for start in range(0, len(audio), SSE_CHUNK_BYTES):
                chunk = audio[start:start + SSE_CHUNK_BYTES]
                yield "data: " + json.dumps({"data": {"audio": chunk.hex(), "status": 1}, "trace_id": trace,
                                             "base_resp": ok}) + "\n\n"
                await asyncio.sleep(0)
            if fault is not None and fault["kind"] == "cut":
                return
            yield "data: " + json.dumps({"data": {"audio": audio.hex() if aggregate else "", "status": 2},
                                         "extra_info": extra, "trace_id": trace, "base_resp": ok}) + "\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Trace-Id": trace})

    @app.post("/v1/get_voice")
    async def get_voice(request: Request):
        trace = uuid.uuid4().hex
        if request.headers.get("authorization", "") != f"Bearer {state.key}":
            return error(1004, "invalid api key", trace)
        kind = (await request.json()).get("voice_type", "all")
        system = [{"voice_id": k, "voice_name": v, "description": []} for k, v in SYSTEM_VOICES.items()]
        cloned = [{"voice_id": k, "voice_name": v, "description": [], "created_time": "2026-01-01"}
                  for k, v in CLONED_VOICES.items()]
        return JSONResponse({"system_voice": system if kind in ("all", "system") else [],
                             "voice_cloning": cloned if kind in ("all", "voice_cloning") else [],
                             "trace_id": trace, "base_resp": {"status_code": 0, "status_msg": "success"}})

    @app.post("/_fake/faults")
    async def add_faults(request: Request):
        for fault in await request.json():
            state.faults.append({"match": "*", "times": 1, **fault})
        return {"faults": len(state.faults)}

    @app.post("/_fake/config")
    async def configure(request: Request):
        for key, value in (await request.json()).items():
            setattr(state, key, value)
        return {"rpm": state.rpm, "window_s": state.window_s, "latency_s": state.latency_s,
                "error_rate": state.error_rate, "error_codes": state.error_codes}

    @app.post("/_fake/reset")
    async def reset():
        state.reset()
        return {"ok": True}

    @app.get("/_fake/log")
    async def log():
        return {"now": time.monotonic(), "rpm": state.rpm, "window_s": state.window_s, "requests": state.log}

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int)
    where.add_argument("--fd", type=int, help="serve on this listening socket, inherited from the parent")
    parser.add_argument("--key", default="test-key")
    parser.add_argument("--rpm", type=int, default=20)
    parser.add_argument("--window-s", type=float, default=60.0)
    parser.add_argument("--latency-s", type=float, default=0.0)
    args = parser.parse_args()
    state = State(args.key, args.rpm, args.window_s, args.latency_s)
    if args.fd is not None:
        uvicorn.run(create_app(state), fd=args.fd, log_level="warning", access_log=False)
    else:
        uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
