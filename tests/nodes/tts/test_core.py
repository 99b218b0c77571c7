"""The TTS stage: ordered, complete, retried, never skipping a segment."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from nodes.common.errors import ConfigError, PermanentBackendError, TransientBackendError
from nodes.common.planning import requests_for
from nodes.segmenter.core import SegmenterConfig, parse_script
from nodes.tts.backends.base import Speech, SynthesisRequest
from nodes.tts.core import RetryBudget, RetryPolicy, synthesize_all, trim_silence

FAST_RETRY = RetryPolicy(line_deadline_s=60.0, task_budget_s=60.0, base_delay_s=0.001, max_delay_s=0.002)
SR = 16000


class FakeSynth:
    """A backend of our own: a tone whose length encodes the seq, finishing in scrambled order."""

    name = "piper"

    def __init__(self, max_in_flight: int = 4, fail: dict[int, list[Exception]] | None = None):
        self.max_in_flight = max_in_flight
        self.fail = fail or {}
        self.calls: list[int] = []
        self.in_flight = 0
        self.peak_in_flight = 0

    async def synthesize(self, request: SynthesisRequest) -> Speech:
        self.calls.append(request.seq)
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.001 * ((request.seq * 7) % 5))  # later seqs often finish first
            errors = self.fail.get(request.seq)
            if errors:
                raise errors.pop(0)
            n = 1600 + 10 * request.seq
            return Speech(seq=request.seq, audio=np.full((n, 1), 0.1, np.float32), sample_rate=SR, backend=self.name)
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        return None


def plan_for(library, lines: int = 20):
    body = "\n".join(f"Narrator: Line number {i}. It has two sentences." for i in range(lines))
    return parse_script("---\nvoices: {Narrator: en-joe}\n---\n" + body, library,
                        config=SegmenterConfig(max_chars={"default": 20}, pack=False))


def run(plan, synth, **kw):
    return asyncio.run(synthesize_all(plan, {"piper": synth}, sample_rate=SR, retry=FAST_RETRY, **kw))


def test_results_are_complete_and_in_seq_order_despite_out_of_order_completion(library):
    plan = plan_for(library)
    synth = FakeSynth(max_in_flight=4)
    clips = run(plan, synth)
    assert [c.seq for c in clips] == [s.seq for s in plan.segments]
    assert [c.audio.shape[0] for c in clips] == [1600 + 10 * s.seq for s in plan.segments]
    assert synth.calls != sorted(synth.calls) or synth.peak_in_flight > 1
    assert 1 < synth.peak_in_flight <= 4


def test_in_flight_limit_is_respected(library):
    synth = FakeSynth(max_in_flight=1)
    run(plan_for(library, 6), synth)
    assert synth.peak_in_flight == 1


def test_transient_errors_are_retried(library):
    plan = plan_for(library, 3)
    synth = FakeSynth(fail={1: [TransientBackendError("429"), TransientBackendError("timeout")]})
    clips = run(plan, synth)
    assert len(clips) == len(plan.segments)
    assert synth.calls.count(1) == 3


def test_many_transient_errors_in_a_row_are_no_reason_to_give_up(library):
    """Tries are not the budget: twenty failures in a row, well inside the deadline, still end spoken."""
    plan = plan_for(library, 3)
    synth = FakeSynth(fail={2: [TransientBackendError("503", line=3)] * 20})
    budget = RetryBudget(FAST_RETRY)
    clips = run(plan, synth, budget=budget)
    assert len(clips) == len(plan.segments) and synth.calls.count(2) == 21
    assert budget.retries == 20


def test_permanent_errors_fail_at_once(library):
    synth = FakeSynth(fail={0: [PermanentBackendError("invalid voice", line=4)]})
    with pytest.raises(PermanentBackendError, match="line 4"):
        run(plan_for(library, 3), synth)
    assert synth.calls.count(0) == 1


def test_empty_audio_is_an_error_not_a_skip(library):
    class Silent(FakeSynth):
        async def synthesize(self, request):
            return Speech(seq=request.seq, audio=np.zeros((0, 1), np.float32), sample_rate=SR, backend="piper")

    with pytest.raises(PermanentBackendError, match="no audio"):
        run(plan_for(library, 2), Silent())


def test_missing_backend_is_a_config_error(library):
    with pytest.raises(ConfigError, match="piper"):
        asyncio.run(synthesize_all(plan_for(library, 1), {}, sample_rate=SR))


def test_progress_reports_every_segment(library):
    plan = plan_for(library, 5)
    seen: list[tuple[int, int]] = []
    run(plan, FakeSynth(), on_progress=lambda d, t, m: seen.append((d, t)))
    assert [d for d, _ in seen] == list(range(1, len(plan.segments) + 1))
    assert {t for _, t in seen} == {len(plan.segments)}


def test_emotion_nudges_offline_prosody(library):
    plan = parse_script("---\nvoices: {Mara: en-joe}\n---\nMara (whisper): psst.\nMara: hello.\n", library)
    whisper, plain = requests_for(plan, seed=0)
    assert whisper.voice.gain_db < plain.voice.gain_db and whisper.voice.speed < plain.voice.speed
    assert whisper.emotion == "whisper"


def test_segment_seeds_depend_on_content_not_position(library):
    a = parse_script("---\nvoices: {N: en-joe}\n---\nN: First.\nN: Second.\n", library)
    b = parse_script("---\nvoices: {N: en-joe}\n---\nN: Inserted.\nN: First.\nN: Second.\n", library)
    seeds_a = {r.text: r.seed for r in requests_for(a, seed=5)}
    seeds_b = {r.text: r.seed for r in requests_for(b, seed=5)}
    assert seeds_a["First."] == seeds_b["First."] and seeds_a["Second."] == seeds_b["Second."]
    assert requests_for(a, seed=6)[0].seed != seeds_a["First."]


def test_trim_silence_keeps_a_margin_and_the_sound():
    sr = 1000
    x = np.zeros((1000, 1), np.float32)
    x[400:600] = 0.5
    trimmed = trim_silence(x, sr)
    assert len(trimmed) == 200 + 2 * 30
    assert np.count_nonzero(trimmed) == 200
    assert np.array_equal(trim_silence(np.zeros((10, 1), np.float32), sr), np.zeros((10, 1), np.float32))


def test_clips_start_and_end_at_zero_so_they_cannot_click():
    from nodes.common.types import VoiceSettings
    from nodes.tts.core import postprocess

    loud = np.full((SR, 1), 0.5, np.float32)  # worst case: a DC step at both edges
    req = SynthesisRequest(seq=0, text="x", voice=VoiceSettings("v", "piper", "en"), line=1)
    clip = postprocess(Speech(seq=0, audio=loud, sample_rate=SR, backend="piper"), req, 0, SR)
    assert abs(clip.audio[0, 0]) < 1e-3 and abs(clip.audio[-1, 0]) < 1e-3
    assert np.max(np.abs(np.diff(clip.audio[:, 0]))) < 0.02
