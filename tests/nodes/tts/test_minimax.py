"""The MiniMax T2A client against the fake server (a real HTTP server speaking the documented format)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from nodes.common.errors import ConfigError, DramaflowWarning, PermanentBackendError, TransientBackendError
from nodes.common.types import VoiceSettings
from nodes.tts.backends.base import SynthesisRequest
from nodes.tts.backends.minimax import MiniMaxConfig, MiniMaxSynthesizer, request_text
from nodes.tts.core import RetryPolicy, synthesize_requests
from tests.fakes.minimax_t2a import speech_seconds

SR = 44100
FAST_RETRY = RetryPolicy(line_deadline_s=60.0, task_budget_s=60.0, base_delay_s=0.01, max_delay_s=0.02)
TONE_TOLERANCE_S = 0.002  # the fake's lengths are whole samples; our post-processing trims nothing here
VOICE = VoiceSettings(voice_id="zh-daniu", provider="minimax", language="zh", provider_voice="male-qn-qingse")


def req(text: str = "你好，世界。", seq: int = 0, line: int = 7, **kw) -> SynthesisRequest:
    return SynthesisRequest(seq=seq, text=text, voice=kw.pop("voice", VOICE), line=line, language="zh", **kw)


def synth(fake, **env) -> MiniMaxSynthesizer:
    # a generous timeout: on a loaded machine a healthy answer from the fake has taken over 2 s
    return MiniMaxSynthesizer(MiniMaxConfig.from_env(fake.env(**{"MINIMAX_TIMEOUT_S": 60, **env})), sample_rate=SR)


def speak(fake, request: SynthesisRequest, **env):
    async def go():
        backend = synth(fake, **env)
        try:
            return await backend.synthesize(request)
        finally:
            await backend.aclose()
    return asyncio.run(go())


def test_no_key_means_not_configured():
    assert MiniMaxConfig.from_env({}) is None
    assert MiniMaxConfig.from_env({"MINIMAX_API_KEY": "  "}) is None


@pytest.mark.parametrize("env, fragment", [
    ({"MINIMAX_RPM": "0"}, "MINIMAX_RPM"),
    ({"MINIMAX_RPM": "many"}, "MINIMAX_RPM='many'"),
    ({"MINIMAX_MODEL": "speech-9"}, "MINIMAX_MODEL"),
    ({"MINIMAX_STREAM": "sometimes"}, "MINIMAX_STREAM"),
    ({"MINIMAX_BASE_URL": "api.minimax.io"}, "https://"),
])
def test_bad_settings_are_config_errors(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        MiniMaxConfig.from_env({"MINIMAX_API_KEY": "k", **env})


def test_request_body_follows_the_documented_format(fake_t2a):
    voice = VOICE.replace(speed=1.1, pitch=-1.0, options=(("pronunciation", ["处理/(chu3)(li3)", "AI/(A I)"]),))
    request = req("第一句。第二句。", voice=voice, emotion="sad", pauses=((4, 0.5),),
                  pronunciation=("AI/(ei ai)",))
    speech = speak(fake_t2a, request)
    (entry,) = fake_t2a.log()
    assert entry["code"] == 0
    assert entry["body"] == {
        "model": "speech-2.8-hd",
        "text": "第一句。<#0.50#>第二句。",
        "stream": False,
        "voice_setting": {"voice_id": "male-qn-qingse", "speed": 1.1, "vol": 1.0, "pitch": -1, "emotion": "sad"},
        "audio_setting": {"sample_rate": SR, "format": "pcm", "channel": 1},
        "pronunciation_dict": {"tone": ["处理/(chu3)(li3)", "AI/(ei ai)"]},  # the script's entry wins for AI
        "language_boost": "Chinese",
    }
    assert speech.trace_id == entry["trace_id"]
    assert speech.usage_characters == len("第一句。第二句。")
    assert speech.sample_rate == SR and speech.audio.dtype == np.float32 and speech.audio.shape[1] == 1


def test_pcm_is_decoded_as_16_bit_samples_with_the_pause_as_silence(fake_t2a):
    speech = speak(fake_t2a, req("一二三。四五六。", pauses=((4, 1.0),)))
    expected_s = speech_seconds("一二三。", 1.0) + 1.0 + speech_seconds("四五六。", 1.0)
    assert abs(speech.duration_s - expected_s) < TONE_TOLERANCE_S
    start = int(speech_seconds("一二三。", 1.0) * SR)
    assert np.max(np.abs(speech.audio[start: start + SR])) == 0.0  # the <#1.00#> pause
    assert 0.2 < np.max(np.abs(speech.audio[:start])) < 0.4  # the fake's tone peaks at 0.3


def test_group_id_goes_on_the_url_when_configured(fake_t2a):
    speak(fake_t2a, req(), MINIMAX_GROUP_ID="g-42")
    assert fake_t2a.log()[0]["group_id"] == "g-42"


def test_emotion_the_model_lacks_is_dropped_with_a_note(fake_t2a):
    speech = speak(fake_t2a, req(emotion="whisper"))  # speech-2.8 has no whisper
    assert "emotion" not in fake_t2a.log()[0]["body"]["voice_setting"]
    assert any("whisper" in note and "line 7" in note for note in speech.notes)
    speak(fake_t2a, req(emotion="whisper"), MINIMAX_MODEL="speech-2.6-hd")
    assert fake_t2a.log()[1]["body"]["voice_setting"]["emotion"] == "whisper"


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1024, 1039])
def test_transient_codes_raise_transient_errors(fake_t2a, code):
    fake_t2a.faults({"kind": "code", "code": code, "message": "try later"})
    with pytest.raises(TransientBackendError, match=f"MiniMax {code}") as info:
        speak(fake_t2a, req())
    assert info.value.line == 7


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_http_429_and_5xx_are_transient(fake_t2a, status):
    fake_t2a.faults({"kind": "http", "status": status})
    with pytest.raises(TransientBackendError, match=f"HTTP {status}"):
        speak(fake_t2a, req())


def test_a_hung_request_times_out_as_transient(fake_t2a):
    fake_t2a.faults({"kind": "hang", "seconds": 5})
    with pytest.raises(TransientBackendError, match="timed out after 1 s"):
        speak(fake_t2a, req(), MINIMAX_TIMEOUT_S=1)


def test_wrong_key_is_fatal_and_names_the_region_hosts(fake_t2a):
    env = {**fake_t2a.env(), "MINIMAX_API_KEY": "a-mainland-key"}
    backend = MiniMaxSynthesizer(MiniMaxConfig.from_env(env), sample_rate=SR)

    async def go():
        try:
            return await backend.synthesize(req())
        finally:
            await backend.aclose()
    with pytest.raises(PermanentBackendError) as info:
        asyncio.run(go())
    message = str(info.value)
    assert "1004" in message and "api.minimaxi.com" in message and fake_t2a.url in message
    assert "MINIMAX_BASE_URL" in message


def test_unknown_voice_is_fatal_and_says_how_to_list_voices(fake_t2a):
    with pytest.raises(PermanentBackendError) as info:
        speak(fake_t2a, req(voice=VOICE.replace(provider_voice="no-such-voice")))
    assert "2013" in str(info.value) and "no-such-voice" in str(info.value)
    assert "dramaflow voices sync --provider minimax" in str(info.value)


def test_illegal_characters_are_fatal_with_the_line(fake_t2a):
    with pytest.raises(PermanentBackendError) as info:
        speak(fake_t2a, req("你好\u200b\u200b\u200b\u200b\u200b", line=12))  # zero-width spaces: 1042
    assert info.value.line == 12 and "1042" in str(info.value) and "line 12" in str(info.value)


def test_balance_is_fatal_with_what_to_do(fake_t2a):
    fake_t2a.faults({"kind": "code", "code": 1008, "message": "insufficient balance"})
    with pytest.raises(PermanentBackendError, match="top up"):
        speak(fake_t2a, req())


def test_stream_gives_the_same_audio_without_the_aggregated_repeat(fake_t2a):
    text = "这是一段很长的台词。" * 30  # 300 characters: several SSE chunks
    plain = speak(fake_t2a, req(text))
    streamed = speak(fake_t2a, req(text), MINIMAX_STREAM="always")
    body = fake_t2a.log()[1]["body"]
    assert body["stream"] is True and body["stream_options"] == {"exclude_aggregated_audio": True}
    assert np.array_equal(plain.audio, streamed.audio)
    assert streamed.usage_characters == plain.usage_characters == len(text)


def test_stream_skips_the_final_event_even_when_it_repeats_the_audio(fake_t2a):
    text = "长台词。" * 80
    plain = speak(fake_t2a, req(text))
    fake_t2a.faults({"kind": "aggregate"})  # the server ignores exclude_aggregated_audio
    streamed = speak(fake_t2a, req(text), MINIMAX_STREAM="always")
    assert streamed.audio.shape == plain.audio.shape  # not doubled


def test_stream_auto_switches_on_length(fake_t2a):
    speak(fake_t2a, req("短。"), MINIMAX_STREAM_MIN_CHARS=10)
    speak(fake_t2a, req("这一句话足够长了，超过十个字。"), MINIMAX_STREAM_MIN_CHARS=10)
    assert [r["body"]["stream"] for r in fake_t2a.log()] == [False, True]


def test_a_stream_cut_before_its_final_event_is_transient_not_truncated_audio(fake_t2a):
    fake_t2a.faults({"kind": "cut"})
    with pytest.raises(TransientBackendError, match="final event"):
        speak(fake_t2a, req("台词。" * 100), MINIMAX_STREAM="always")


def test_errors_inside_a_stream_are_checked(fake_t2a):
    fake_t2a.faults({"kind": "code", "code": 1042})
    with pytest.raises(PermanentBackendError, match="1042"):
        speak(fake_t2a, req(), MINIMAX_STREAM="always")


def test_retries_recover_and_count_every_request(fake_t2a):
    fake_t2a.faults({"kind": "code", "code": 1000, "times": 2, "match": "第二"})
    requests = [req("第一句。", seq=0, line=3), req("第二句。", seq=1, line=4), req("第三句。", seq=2, line=5)]
    clips = _run(fake_t2a, requests)
    assert [c.seq for c in clips] == [0, 1, 2]
    assert [c.requests for c in clips] == [1, 3, 1]
    assert fake_t2a.ok_texts().count("第二句。") == 1 and len(fake_t2a.log()) == 5


def test_a_fatal_error_fails_the_task_at_once_without_retrying(fake_t2a):
    fake_t2a.configure(latency_s=0.2)
    lines = [req(f"第{i}句。", seq=i, line=10 + i) for i in range(12)]
    lines[3] = req("坏\u200b\u200b\u200b\u200b\u200b", seq=3, line=13)
    with pytest.raises(PermanentBackendError) as info:
        _run(fake_t2a, lines, MINIMAX_CONCURRENCY=2)
    assert info.value.line == 13
    log = fake_t2a.log()
    assert sum(1 for r in log if r.get("code") == 1042) == 1  # not retried
    assert len(log) < len(lines)  # the rest was not requested once the task had failed


def test_a_line_past_its_deadline_fails_with_the_transient_error_and_what_to_set(fake_t2a):
    fake_t2a.faults({"kind": "code", "code": 1001, "times": 10_000})
    with pytest.raises(TransientBackendError, match="1001") as info:
        _run(fake_t2a, [req(line=7)], retry=RetryPolicy(line_deadline_s=0.3, base_delay_s=0.01, max_delay_s=0.05))
    assert info.value.line == 7 and "tts.line_deadline_s=0.3" in str(info.value)
    assert len(fake_t2a.log()) >= 2  # retried until the deadline, then given up


def test_several_requests_in_flight_and_results_by_seq(fake_t2a):
    fake_t2a.configure(latency_s=0.3)
    requests = [req(f"第{i}句台词。", seq=i) for i in range(8)]
    clips = _run(fake_t2a, requests, MINIMAX_CONCURRENCY=4)
    assert [c.seq for c in clips] == list(range(8))
    assert max_in_flight(fake_t2a.log()) == 4  # never more than MINIMAX_CONCURRENCY, and that many used


def test_list_voices(fake_t2a):
    async def go():
        backend = synth(fake_t2a)
        try:
            return await backend.list_voices()
        finally:
            await backend.aclose()
    rows = asyncio.run(go())
    assert {"voice_id": "male-qn-qingse", "voice_name": "青涩青年音色", "kind": "system"} in rows
    assert any(r["kind"] == "cloned" for r in rows)


def test_request_text_renders_interior_pauses():
    assert request_text(req("A. B. C.", pauses=((2, 0.5), (5, 99.999)))) == "A.<#0.50#>B.<#99.99#>C."


def max_in_flight(log: list[dict]) -> int:
    """Most requests the server was handling at one moment (from its arrival and answer times)."""
    edges = sorted([(r["t"], 1) for r in log] + [(r["t_end"], -1) for r in log], key=lambda e: (e[0], e[1]))
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return peak


def _run(fake, requests, retry: RetryPolicy = FAST_RETRY, **env):
    async def go():
        backend = synth(fake, **env)
        try:
            return await synthesize_requests(requests, {"minimax": backend}, sample_rate=SR, retry=retry)
        finally:
            await backend.aclose()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", DramaflowWarning)
        return asyncio.run(go())
