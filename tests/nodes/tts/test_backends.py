"""Offline backends: real piper and espeak-ng, deterministic per segment, distinct voices."""

from __future__ import annotations

import numpy as np
import pytest

from nodes.common.types import VoiceSettings
from nodes.common.voices import resolve_voice
from nodes.tts.backends.base import SynthesisRequest

MIN_SPEECH_S = 0.5
PITCH_RATIO_TOLERANCE = 0.08  # measured F0 ratio vs the ratio the semitones ask for


@pytest.fixture(scope="session")
def piper():
    from nodes.tts.backends.piper import PiperSynthesizer

    return PiperSynthesizer()


@pytest.fixture(scope="session")
def espeak():
    from nodes.tts.backends.espeak import EspeakSynthesizer

    synth = EspeakSynthesizer()
    yield synth
    synth.close()


def voice(library, voice_id: str) -> VoiceSettings:
    return resolve_voice(library, {"voice": voice_id}, provider_available=lambda p: p != "minimax")[0]


def request(v: VoiceSettings, text: str, seed: int = 1, seq: int = 0, emotion=None) -> SynthesisRequest:
    return SynthesisRequest(seq=seq, text=text, voice=v, line=1, seed=seed, emotion=emotion)


def median_f0(audio: np.ndarray, sample_rate: int, fmin: float = 60.0, fmax: float = 400.0) -> float:
    """Median autocorrelation pitch over voiced 40 ms frames."""
    x = audio[:, 0].astype(np.float64)
    frame = int(0.04 * sample_rate)
    lags = np.arange(int(sample_rate / fmax), int(sample_rate / fmin))
    estimates = []
    for start in range(0, len(x) - frame, frame // 2):
        f = x[start:start + frame] - x[start:start + frame].mean()
        if np.sqrt(np.mean(f**2)) < 0.02:
            continue
        ac = np.correlate(f, f, "full")[frame - 1:]
        if ac[0] <= 0:
            continue
        best = lags[np.argmax(ac[lags])]
        if ac[best] / ac[0] > 0.5:
            estimates.append(sample_rate / best)
    return float(np.median(estimates))


def test_piper_is_deterministic_per_segment_whatever_came_before(piper, library):
    v = voice(library, "en-joe")
    first = piper.synthesize_sync(request(v, "The storm had not let up for three days.")).audio
    piper.synthesize_sync(request(v, "Something else entirely, to disturb any state."))
    again = piper.synthesize_sync(request(v, "The storm had not let up for three days.")).audio
    other_seed = piper.synthesize_sync(request(v, "The storm had not let up for three days.", seed=2)).audio
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other_seed)
    assert first.shape[0] / piper.sample_rate > MIN_SPEECH_S
    assert first.dtype == np.float32 and first.shape[1] == 1


def test_piper_speed_changes_duration(piper, library):
    v = voice(library, "en-joe")
    slow = piper.synthesize_sync(request(v.replace(speed=0.8), "A sentence of moderate length for timing.")).audio
    fast = piper.synthesize_sync(request(v.replace(speed=1.25), "A sentence of moderate length for timing.")).audio
    assert len(slow) > 1.3 * len(fast)


def test_espeak_is_deterministic_whatever_came_before(espeak, library):
    v = voice(library, "en-espeak-f")
    first = espeak.synthesize_sync(request(v, "Welcome back to the show.")).audio
    espeak.synthesize_sync(request(v, "Other words to change internal state."))
    assert np.array_equal(first, espeak.synthesize_sync(request(v, "Welcome back to the show.")).audio)


def test_espeak_speaks_mandarin(espeak, library):
    speech = espeak.synthesize_sync(request(voice(library, "zh-espeak-m"), "欢迎收听本期节目。"))
    assert speech.duration_s > MIN_SPEECH_S
    assert np.sqrt(np.mean(speech.audio**2)) > 0.01


def test_two_mandarin_voices_are_distinct_in_pitch(espeak, library):
    text = "今天我们来聊一聊如何制作音频节目。"
    low = espeak.synthesize_sync(request(voice(library, "zh-espeak-m"), text))
    high = espeak.synthesize_sync(request(voice(library, "zh-espeak-f"), text))
    assert median_f0(high.audio, high.sample_rate) > 1.3 * median_f0(low.audio, low.sample_rate)


def test_two_english_espeak_voices_are_distinct(espeak, library):
    text = "Good evening, and welcome to the lighthouse."
    f = espeak.synthesize_sync(request(voice(library, "en-espeak-f"), text))
    m = espeak.synthesize_sync(request(voice(library, "en-espeak-m"), text))
    assert median_f0(f.audio, f.sample_rate) > 1.3 * median_f0(m.audio, m.sample_rate)


def test_unknown_espeak_voice_is_permanent_error_with_line(espeak):
    from nodes.common.errors import PermanentBackendError

    bad = VoiceSettings(voice_id="x", provider="espeak", language="en", options=(("espeak_voice", "xx-nope"),))
    with pytest.raises(PermanentBackendError, match="line 1: espeak-ng has no voice"):
        espeak.synthesize_sync(request(bad, "hello"))


def test_piper_pitch_variants_are_distinct_after_postprocessing(piper, library):
    from nodes.tts.core import postprocess

    text = "I have kept this light burning for forty years."
    results = {}
    for voice_id in ("en-joe", "en-joe-deep", "en-joe-bright"):
        v = voice(library, voice_id)
        req = request(v, text)
        clip = postprocess(piper.synthesize_sync(req), req, 0, 22050)
        results[voice_id] = median_f0(clip.audio, 22050)
    assert results["en-joe-deep"] < results["en-joe"] < results["en-joe-bright"]
    expected_ratio = 2 ** (-3 / 12)
    assert abs(results["en-joe-deep"] / results["en-joe"] - expected_ratio) < PITCH_RATIO_TOLERANCE


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone for our purposes
        return stat.read().split()[2] != "Z"


def test_espeak_helper_process_stops_on_close(library):
    from nodes.tts.backends.espeak import EspeakSynthesizer

    synth = EspeakSynthesizer()
    synth.synthesize_sync(request(voice(library, "en-espeak-f"), "Hello."))
    pid = synth._procs[0].pid
    synth.close()
    assert not _alive(pid)


def test_espeak_helper_process_dies_with_its_owner():
    """Even if the owner is killed without cleanup, the helper sees EOF and exits."""
    import os
    import select
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "from nodes.common.types import VoiceSettings\n"
        "from nodes.tts.backends.espeak import EspeakSynthesizer\n"
        "from nodes.tts.backends.base import SynthesisRequest\n"
        "s = EspeakSynthesizer()\n"
        "s.synthesize_sync(SynthesisRequest(0, 'hi', VoiceSettings('v', 'espeak', 'en'), 1))\n"
        "print(s._procs[0].pid, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    owner = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    pid = int(owner.stdout.strip())
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # already gone
    try:
        readable, _, _ = select.select([fd], [], [], 10.0)  # readable once the process has exited
    finally:
        os.close(fd)
    assert readable, "espeak helper outlived its killed owner"


def test_espeak_whisper_is_the_same_in_every_process():
    """espeak seeds its noise (whisper, breath) at init; each request now seeds it from the segment."""
    import subprocess
    import sys

    code = (
        "import hashlib\n"
        "from nodes.common.types import VoiceSettings\n"
        "from nodes.tts.backends.espeak import EspeakSynthesizer\n"
        "from nodes.tts.backends.base import SynthesisRequest\n"
        "s = EspeakSynthesizer()\n"
        "v = VoiceSettings('v', 'espeak', 'en')\n"
        "a = s.synthesize_sync(SynthesisRequest(0, 'Is anyone there?', v, 1, emotion='whisper', seed=5)).audio\n"
        "print(hashlib.sha256(a.tobytes()).hexdigest())\n"
        "s.close()\n"
    )
    digests = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              check=True).stdout for _ in range(2)}
    assert len(digests) == 1


def test_local_voices_speak_segments_at_once_with_the_samples_of_one_at_a_time(library):
    """DRAMAFLOW_TTS_WORKERS=2: two segments in flight (espeak: two zygotes; piper: two runs on one
    session), each with exactly the samples it has when spoken alone."""
    import concurrent.futures

    from nodes.tts.core import load_synthesizers

    texts = [f"Segment number {i} is spoken here, with a second clause after the comma." for i in range(6)]
    for provider, voice_id in (("espeak", "en-espeak-f"), ("piper", "en-joe")):
        requests = [request(voice(library, voice_id), text, seq=i) for i, text in enumerate(texts)]
        alone = load_synthesizers([provider], env={"DRAMAFLOW_TTS_WORKERS": "1"})[provider]
        together = load_synthesizers([provider], env={"DRAMAFLOW_TTS_WORKERS": "2"})[provider]
        try:
            assert (alone.max_in_flight, together.max_in_flight) == (1, 2)
            expected = [alone.synthesize_sync(r).audio for r in requests]
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                got = [clip.audio for clip in pool.map(together.synthesize_sync, requests)]
            assert all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True)), provider
            if provider == "espeak":
                assert sum(p is not None for p in together._procs) == 2  # both zygotes spoke
        finally:
            for synth in (alone, together):
                getattr(synth, "close", lambda: None)()


def test_synthesis_workers_default_to_the_cores_and_refuse_nonsense():
    import os

    from nodes.common.errors import ConfigError
    from nodes.common.settings import synthesis_workers

    assert synthesis_workers({}) == len(os.sched_getaffinity(0))
    assert synthesis_workers({"DRAMAFLOW_TTS_WORKERS": " 3 "}) == 3
    for bad in ("0", "-1", "two", "65"):
        with pytest.raises(ConfigError, match="DRAMAFLOW_TTS_WORKERS"):
            synthesis_workers({"DRAMAFLOW_TTS_WORKERS": bad})


def test_the_rewritten_piper_model_is_kept_and_speaks_the_same(tmp_path, monkeypatch, library):
    """The seeded-noise rewrite is done once per model file and read back after (a dora TTS node is a new
    process each render): the same bytes, the same samples, no second rewrite."""
    from nodes.tts.backends import piper

    calls = []
    rewrite = piper.deterministic_model_bytes
    monkeypatch.setattr(piper, "deterministic_model_bytes", lambda path: calls.append(path) or rewrite(path))
    env = {"DRAMAFLOW_CACHE_DIR": str(tmp_path), "DRAMAFLOW_TTS_WORKERS": "1"}
    spoken = request(voice(library, "en-joe"), "The tide turns twice a day.")
    first = piper.PiperSynthesizer.create(env=env).synthesize_sync(spoken).audio
    second = piper.PiperSynthesizer.create(env=env).synthesize_sync(spoken).audio
    uncached = piper.PiperSynthesizer.create(env={**env, "DRAMAFLOW_CACHE": "off"}).synthesize_sync(spoken).audio
    assert len(calls) == 2  # the first creation and the one with the cache off
    assert np.array_equal(first, second) and np.array_equal(first, uncached)
    optimized = list((tmp_path / "piper-models").glob("*.ort*.onnx"))
    assert len(optimized) == 1 and len(list((tmp_path / "piper-models").glob("*.onnx"))) == 2
    assert not list((tmp_path / "piper-models").glob(".*.partial"))


def test_the_saved_optimized_piper_graph_speaks_the_same_and_a_damaged_one_is_replaced(tmp_path, library):
    """The second session loads onnxruntime's saved graph with optimization off: every sentence of a
    multi-sentence line the same to the bit as a session that optimized for itself; a damaged file is
    optimized again."""
    from nodes.tts.backends import piper

    env = {"DRAMAFLOW_CACHE_DIR": str(tmp_path), "DRAMAFLOW_TTS_WORKERS": "1"}
    spoken = request(voice(library, "en-joe"), "Fog rolled in at dusk. The keeper lit the lamp, and waited; "
                     "nobody came up the path until the bell rang twice!")
    fresh = piper.PiperSynthesizer.create(env=env).synthesize_sync(spoken).audio
    (saved,) = (tmp_path / "piper-models").glob("*.ort*.onnx")
    loaded = piper.PiperSynthesizer.create(env=env).synthesize_sync(spoken).audio
    assert np.array_equal(fresh, loaded)
    saved.write_bytes(b"not a model")
    again = piper.PiperSynthesizer.create(env=env).synthesize_sync(spoken).audio
    assert np.array_equal(fresh, again) and saved.stat().st_size > 1_000_000
