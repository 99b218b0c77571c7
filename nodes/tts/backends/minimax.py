"""MiniMax T2A v2 over HTTP (reference/minimax-t2a.md): the production voices.

One ``POST {base_url}/v1/t2a_v2`` per segment, Bearer key, raw 16-bit PCM at the mix rate (nothing lossy
to decode). Errors come with HTTP 200 in ``base_resp``: every response and every SSE event is checked.
Transient codes and transport failures raise ``TransientBackendError`` (the TTS stage retries them with
backoff until the line's deadline; 1002/1039/429 also slow the shared rate limiter); the others raise ``PermanentBackendError`` with what the user can do about it.
Every request, retries included, first takes a token from the shared rate limiter.

Settings (environment, read once into ``MiniMaxConfig``): MINIMAX_API_KEY, MINIMAX_BASE_URL,
MINIMAX_MODEL, MINIMAX_GROUP_ID, MINIMAX_RPM, MINIMAX_CONCURRENCY, MINIMAX_TIMEOUT_S,
MINIMAX_STREAM (auto | always | never), MINIMAX_STREAM_MIN_CHARS, MINIMAX_RATE_WINDOW_S,
MINIMAX_RATE_MARGIN_S; DRAMAFLOW_REDIS_URL shares the rate limit across processes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import numpy as np

from nodes.common.errors import ConfigError, PermanentBackendError, TransientBackendError
from nodes.common.settings import is_placeholder
from nodes.tts.backends.base import Speech, SynthesisRequest
from nodes.tts.ratelimit import RateLimiter, RedisRateLimiter, limiter_key, local_limiter

GLOBAL_BASE_URL = "https://api.minimax.io"
MAINLAND_BASE_URL = "https://api.minimaxi.com"
MODELS = ("speech-2.8-hd", "speech-2.8-turbo", "speech-2.6-hd", "speech-2.6-turbo",
          "speech-02-hd", "speech-02-turbo", "speech-01-hd", "speech-01-turbo")
SAMPLE_RATES = (8000, 16000, 22050, 24000, 32000, 44100)
MAX_TEXT_CHARS = 10_000  # the API refuses 10,000 and more
TRANSIENT_CODES = frozenset({1000, 1001, 1002, 1024, 1039})
RATE_LIMIT_CODES = frozenset({1002, 1039})  # requests / tokens per minute: the shared limiter slows down
MAX_RETRY_AFTER_S = 300.0
LANGUAGE_BOOST = {"zh": "Chinese", "cmn": "Chinese", "yue": "Chinese,Yue", "en": "English", "ja": "Japanese",
                  "ko": "Korean", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian",
                  "pt": "Portuguese", "ru": "Russian", "ar": "Arabic", "id": "Indonesian", "vi": "Vietnamese",
                  "tr": "Turkish", "nl": "Dutch", "uk": "Ukrainian", "th": "Thai", "pl": "Polish",
                  "ro": "Romanian", "el": "Greek", "cs": "Czech", "fi": "Finnish", "hi": "Hindi"}


def emotions_of(model: str) -> frozenset[str]:
    """Emotions ``model`` accepts: ``fluent`` and ``whisper`` came with 2.6; 2.8 dropped ``whisper``."""
    base = {"happy", "sad", "angry", "fearful", "disgusted", "surprised", "calm"}
    if model.startswith("speech-2.6"):
        return frozenset(base | {"fluent", "whisper"})
    if model.startswith("speech-2.8"):
        return frozenset(base | {"fluent"})
    return frozenset(base)


@dataclass(frozen=True)
class MiniMaxConfig:
    api_key: str
    base_url: str = GLOBAL_BASE_URL
    model: str = "speech-2.8-hd"
    group_id: str | None = None
    rpm: int = 20
    concurrency: int = 4
    timeout_s: float = 120.0
    stream: str = "auto"  # auto: SSE for texts of stream_min_chars and more
    stream_min_chars: int = 1000
    rate_window_s: float = 60.0
    rate_margin_s: float = 2.0  # covers 2 s of drift between a slot and the request's arrival
    redis_url: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.rpm < 1:
            problems.append("MINIMAX_RPM must be >= 1")
        if self.concurrency < 1:
            problems.append("MINIMAX_CONCURRENCY must be >= 1")
        if self.timeout_s <= 0 or self.rate_window_s <= 0 or self.rate_margin_s < 0:
            problems.append("MINIMAX_TIMEOUT_S and MINIMAX_RATE_WINDOW_S must be > 0, MINIMAX_RATE_MARGIN_S >= 0")
        if self.stream not in ("auto", "always", "never"):
            problems.append(f"MINIMAX_STREAM={self.stream!r}: use auto, always or never")
        if self.model not in MODELS:
            problems.append(f"MINIMAX_MODEL={self.model!r} is not a T2A model; use one of {', '.join(MODELS)}")
        if not self.base_url.startswith(("http://", "https://")):
            problems.append(f"MINIMAX_BASE_URL={self.base_url!r} must start with https://")
        if problems:
            raise ConfigError("; ".join(problems))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MiniMaxConfig | None:
        """The configuration, or ``None`` when no ``MINIMAX_API_KEY`` is set (offline fallbacks apply)."""
        key = (env.get("MINIMAX_API_KEY") or "").strip()
        if not key:
            return None
        if is_placeholder(key):
            raise ConfigError("MINIMAX_API_KEY is a placeholder from an example (such as CHANGE-ME): set your real "
                              "key, or unset it to use the offline voices")

        def get(name: str, kind: type, default: Any) -> Any:
            raw = env.get(name)
            if raw in (None, ""):
                return default
            try:
                return kind(raw)
            except ValueError:
                raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from None

        return cls(
            api_key=key,
            base_url=get("MINIMAX_BASE_URL", str, GLOBAL_BASE_URL).rstrip("/"),
            model=get("MINIMAX_MODEL", str, cls.model),
            group_id=get("MINIMAX_GROUP_ID", str, None),
            rpm=get("MINIMAX_RPM", int, cls.rpm),
            concurrency=get("MINIMAX_CONCURRENCY", int, cls.concurrency),
            timeout_s=get("MINIMAX_TIMEOUT_S", float, cls.timeout_s),
            stream=get("MINIMAX_STREAM", str, cls.stream),
            stream_min_chars=get("MINIMAX_STREAM_MIN_CHARS", int, cls.stream_min_chars),
            rate_window_s=get("MINIMAX_RATE_WINDOW_S", float, cls.rate_window_s),
            rate_margin_s=get("MINIMAX_RATE_MARGIN_S", float, cls.rate_margin_s),
            redis_url=get("DRAMAFLOW_REDIS_URL", str, None),
        )

    def limiter(self) -> RateLimiter:
        if self.redis_url:
            return RedisRateLimiter(self.redis_url, limiter_key(self.api_key), self.rpm, self.rate_window_s,
                                    self.rate_margin_s)
        return local_limiter(limiter_key(self.api_key), self.rpm, self.rate_window_s, self.rate_margin_s)


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """Seconds from an HTTP ``Retry-After`` header (delta-seconds or an HTTP date), capped; else ``None``."""
    raw = (headers.get("retry-after") or headers.get("Retry-After") or "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))


def request_text(request: SynthesisRequest) -> str:
    """The segment's text with its inline pauses as MiniMax ``<#s#>`` marks (0.01–99.99 s)."""
    if not request.pauses:
        return request.text
    out, last = [], 0
    for offset, seconds in request.pauses:
        out += [request.text[last:offset].strip(), f"<#{min(max(seconds, 0.01), 99.99):.2f}#>"]
        last = offset
    return "".join([*out, request.text[last:].strip()])


def pronunciation_of(request: SynthesisRequest) -> list[str]:
    """voices.yaml ``pronunciation`` entries, then the script's; a later entry for a word wins."""
    entries = [*(request.voice.option("pronunciation") or ()), *request.pronunciation]
    by_word = {entry.split("/", 1)[0].strip(): entry for entry in entries}
    return list(by_word.values())


class MiniMaxSynthesizer:
    """``Synthesizer`` for provider ``minimax``. ``sample_rate`` is the mix rate asked for."""

    name = "minimax"

    @classmethod
    def create(cls, *, env: Mapping[str, str], sample_rate: int, **_machine: Any) -> MiniMaxSynthesizer:
        config = MiniMaxConfig.from_env(env)
        if config is None:
            raise ConfigError("a voice needs provider minimax but MINIMAX_API_KEY is not set")
        return cls(config, sample_rate=sample_rate)

    def __init__(self, config: MiniMaxConfig, *, sample_rate: int = 44100, limiter: RateLimiter | None = None,
                 client: Any = None) -> None:
        import httpx

        self.config = config
        self.max_in_flight = config.concurrency
        self.sample_rate = max((r for r in SAMPLE_RATES if r <= sample_rate), default=SAMPLE_RATES[0])
        self.limiter = limiter or config.limiter()
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_s, connect=min(10.0, config.timeout_s)),
            headers={"Authorization": f"Bearer {config.api_key}", "Content-Type": "application/json"},
        )

    # --- request ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        query = f"?GroupId={self.config.group_id}" if self.config.group_id else ""
        return f"{self.config.base_url}{path}{query}"

    def body(self, request: SynthesisRequest) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The JSON body for ``request`` (without the stream flags) and notes about what was changed."""
        voice, notes = request.voice, []
        if not voice.provider_voice:
            raise ConfigError(f"voice {voice.voice_id!r} has no provider_voice (the MiniMax voice id) in voices.yaml")
        setting: dict[str, Any] = {
            "voice_id": voice.provider_voice,
            "speed": round(min(2.0, max(0.5, voice.speed)), 3),
            "vol": float(voice.option("vol", 1.0)),
            "pitch": int(round(min(12.0, max(-12.0, voice.pitch)))),
        }
        if request.emotion:
            if request.emotion in emotions_of(self.config.model):
                setting["emotion"] = request.emotion
            else:
                notes.append(f"line {request.line}: {self.config.model} has no emotion {request.emotion!r}; "
                             "spoken without one (speech-2.6 models have whisper)")
        if voice.option("text_normalization") is not None:
            setting["text_normalization"] = bool(voice.option("text_normalization"))
        body: dict[str, Any] = {
            "model": self.config.model,
            "text": request_text(request),
            "voice_setting": setting,
            "audio_setting": {"sample_rate": self.sample_rate, "format": "pcm", "channel": 1},
        }
        pronunciation = pronunciation_of(request)
        if pronunciation:
            body["pronunciation_dict"] = {"tone": pronunciation}
        boost = LANGUAGE_BOOST.get(request.language.split("-")[0].lower()) if request.language else None
        if boost:
            body["language_boost"] = boost
        if len(body["text"]) >= MAX_TEXT_CHARS:
            raise PermanentBackendError(f"segment of {len(body['text'])} characters is over MiniMax's limit; "
                                        "lower segmenter.provider_max_chars", backend=self.name, line=request.line)
        return body, tuple(notes)

    def cache_key(self, request: SynthesisRequest) -> object:
        return {"provider": self.name, "body": self.body(request)[0]}

    def streams(self, request: SynthesisRequest) -> bool:
        return self.config.stream == "always" or (
            self.config.stream == "auto" and len(request.text) >= self.config.stream_min_chars)

    # --- response -----------------------------------------------------------------------------

    async def synthesize(self, request: SynthesisRequest) -> Speech:
        import httpx

        body, notes = self.body(request)
        stream = self.streams(request)
        body = {**body, "stream": stream}
        if stream:
            body["stream_options"] = {"exclude_aggregated_audio": True}
        await self.limiter.acquire()
        try:
            if stream:
                pcm, info, trace = await self._stream(body, request)
            else:
                pcm, info, trace = await self._once(body, request)
        except TransientBackendError as exc:
            if exc.rate_limited:  # every process sharing the limiter slows down, not just this request
                await self.limiter.slow_down(exc.retry_after_s)
            raise
        except httpx.TimeoutException as exc:
            raise TransientBackendError(f"timed out after {self.config.timeout_s:g} s ({type(exc).__name__})",
                                        backend=self.name, line=request.line) from None
        except httpx.TransportError as exc:
            raise TransientBackendError(f"connection to {self.config.base_url} failed: {exc!r}",
                                        backend=self.name, line=request.line) from None
        if len(pcm) % 2:
            raise TransientBackendError(f"odd PCM byte count {len(pcm)} (truncated response; trace {trace})",
                                        backend=self.name, line=request.line)
        audio = (np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0).reshape(-1, 1)
        sample_rate = int(info.get("audio_sample_rate") or self.sample_rate)
        return Speech(seq=request.seq, audio=audio, sample_rate=sample_rate, backend=self.name,
                      usage_characters=int(info.get("usage_characters") or 0), requests=1, trace_id=trace,
                      notes=notes)

    async def _once(self, body: dict[str, Any], request: SynthesisRequest) -> tuple[bytes, dict, str]:
        response = await self._client.post(self._url("/v1/t2a_v2"), json=body)
        self._check_http(response.status_code, response.text, request.line, response.headers)
        document = self._json(response.text, request.line)
        trace = str(document.get("trace_id") or response.headers.get("Trace-Id", ""))
        self._check(document, trace, request.line, request.voice.provider_voice)
        audio = (document.get("data") or {}).get("audio") or ""
        return self._hex(audio, trace, request.line), document.get("extra_info") or {}, trace

    async def _stream(self, body: dict[str, Any], request: SynthesisRequest) -> tuple[bytes, dict, str]:
        chunks: list[bytes] = []
        info: dict | None = None
        async with self._client.stream("POST", self._url("/v1/t2a_v2"), json=body) as response:
            trace = response.headers.get("Trace-Id", "")
            if response.status_code != 200:
                self._check_http(response.status_code, (await response.aread()).decode(errors="replace"),
                                 request.line, response.headers)
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                document = self._json((await response.aread()).decode(errors="replace"), request.line)
                trace = str(document.get("trace_id") or trace)
                self._check(document, trace, request.line, request.voice.provider_voice)  # an error before any event
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                event = self._json(line[5:], request.line)
                trace = str(event.get("trace_id") or trace)
                self._check(event, trace, request.line, request.voice.provider_voice)
                if "extra_info" in event:  # the final event: usage, and (unless excluded) all audio again
                    info = event["extra_info"] or {}
                    continue
                chunk = (event.get("data") or {}).get("audio") or ""
                if chunk:
                    chunks.append(self._hex(chunk, trace, request.line))
        if info is None:
            raise TransientBackendError(f"stream ended before its final event (trace {trace or '-'})",
                                        backend=self.name, line=request.line)
        return b"".join(chunks), info, trace

    def _check_http(self, status: int, text: str, line: int | None, headers: Mapping[str, str] | None = None) -> None:
        if status == 200:
            return
        message = f"HTTP {status} from {self.config.base_url}: {text[:200]}"
        if status == 429 or status >= 500 or status == 408:
            raise TransientBackendError(message, backend=self.name, line=line, rate_limited=status == 429,
                                        retry_after_s=retry_after_of(headers or {}))
        if status in (401, 403):
            raise PermanentBackendError(f"{message} — {_KEY_HINT.format(url=self.config.base_url)}",
                                        backend=self.name, line=line)
        raise PermanentBackendError(message, backend=self.name, line=line)

    def _json(self, text: str, line: int | None) -> dict:
        try:
            document = json.loads(text)
        except ValueError:
            raise TransientBackendError(f"response is not JSON: {text[:120]!r}", backend=self.name,
                                        line=line) from None
        if not isinstance(document, dict):
            raise TransientBackendError("response is not a JSON object", backend=self.name, line=line)
        return document

    def _hex(self, audio: str, trace: str, line: int | None) -> bytes:
        try:
            return bytes.fromhex(audio)
        except ValueError:
            raise TransientBackendError(f"audio is not hex (trace {trace or '-'})", backend=self.name,
                                        line=line) from None

    def _check(self, document: dict, trace: str, line: int | None, voice: str | None = None) -> None:
        status = document.get("base_resp") or {}
        code = int(status.get("status_code", 0) or 0)
        if code == 0:
            return
        raise error_for(code, str(status.get("status_msg", "")), line=line, voice=voice, trace=trace,
                        base_url=self.config.base_url, model=self.config.model)

    # --- voices -------------------------------------------------------------------------------

    async def list_voices(self, voice_type: str = "all") -> list[dict[str, str]]:
        """The account's voices (``/v1/get_voice``): rows of voice_id, voice_name, kind (system | cloned)."""
        import httpx

        await self.limiter.acquire()
        try:
            response = await self._client.post(self._url("/v1/get_voice"), json={"voice_type": voice_type})
        except httpx.HTTPError as exc:
            raise TransientBackendError(f"cannot reach {self.config.base_url}: {exc!r}", backend=self.name) from None
        self._check_http(response.status_code, response.text, None, response.headers)
        document = self._json(response.text, None)
        self._check(document, str(document.get("trace_id", "")), None)
        rows = []
        for kind, field in (("system", "system_voice"), ("cloned", "voice_cloning")):
            for voice in document.get(field) or []:
                rows.append({"voice_id": str(voice.get("voice_id", "")), "voice_name": str(voice.get("voice_name", "")),
                             "kind": kind})
        return rows

    async def aclose(self) -> None:
        await self._client.aclose()
        await self.limiter.aclose()


_KEY_HINT = ("the API key was refused; a key works only on the host of its own region (this request went to "
             "{url}): global keys use " + GLOBAL_BASE_URL + ", mainland China keys " + MAINLAND_BASE_URL +
             " — set MINIMAX_BASE_URL, or check MINIMAX_API_KEY")

_FATAL_HINTS: dict[int, str] = {
    1004: _KEY_HINT,
    1008: "the MiniMax account balance is insufficient: top up the account, then submit again "
          "(lines already synthesized are cached and are not billed twice)",
    1026: "MiniMax flagged this line's text as sensitive: rephrase it",
    1027: "MiniMax flagged the generated audio of this line as sensitive: rephrase it",
    1028: "the account's quota is exhausted: raise it or wait for the next period",
    1030: "the account's quota is exhausted: raise it or wait for the next period",
    1042: "more than 10 % of this line's characters are invisible or illegal: remove control, "
          "zero-width and private-use characters from it",
    2013: "MiniMax refused the request's parameters: check the voice id ({voice}; list the account's voices "
          "with 'dramaflow voices sync --provider minimax'), the model ({model}) and the line's emotion",
    2038: "the MiniMax account needs real-name verification before it can synthesize",
    2061: "the model {model} is not in this account's plan: set MINIMAX_MODEL to one that is",
}


def error_for(code: int, message: str, *, line: int | None, voice: str | None, trace: str, base_url: str,
              model: str) -> TransientBackendError | PermanentBackendError:
    """The exception for a non-zero ``base_resp.status_code``: transient ones are retried by the stage."""
    detail = f"MiniMax {code} {message!r} (trace {trace or '-'})"
    if code in TRANSIENT_CODES:
        return TransientBackendError(detail, backend="minimax", line=line, rate_limited=code in RATE_LIMIT_CODES)
    hint = _FATAL_HINTS.get(code, "the request cannot succeed as sent; retrying will not help")
    return PermanentBackendError(f"{hint.format(url=base_url, voice=voice or '-', model=model)} — {detail}",
                                 backend="minimax", line=line)
