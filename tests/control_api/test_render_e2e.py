"""End to end through the real ``dramaflow`` CLI: both example scripts render and measure right."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nodes.common.audio import integrated_lufs, true_peak_dbtp
from nodes.common.voices import load_voices
from nodes.segmenter.core import parse_script

ROOT = Path(__file__).resolve().parents[2]
TARGET_LUFS, LUFS_TOLERANCE = -16.0, 0.5
MAX_TRUE_PEAK_DBTP = -1.0
MP3_LENGTH_SLACK_S = 0.1  # encoder delay and frame padding
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("render")]


def dramaflow(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "control_api.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="session")
def drama(tmp_path_factory):
    out = tmp_path_factory.mktemp("drama") / "lighthouse.mp3"
    result = dramaflow("render", "scripts/the-lighthouse.md", "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    return out, json.loads(result.stdout)


@pytest.fixture(scope="session")
def podcast(tmp_path_factory):
    out = tmp_path_factory.mktemp("podcast") / "podcast.mp3"
    result = dramaflow("render", "scripts/mofa-podcast-zh.md", "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    return out, json.loads(result.stdout)


def companions(mp3: Path) -> dict[str, Path]:
    stem = mp3.with_suffix("")
    return {"mp3": mp3, "wav": stem.with_suffix(".wav"), "timeline": Path(f"{stem}.timeline.json"),
            "srt": stem.with_suffix(".srt"), "vtt": stem.with_suffix(".vtt")}


def check_audio(mp3: Path) -> tuple[float, dict]:
    files = companions(mp3)
    assert all(p.is_file() and p.stat().st_size > 0 for p in files.values())
    timeline = json.loads(files["timeline"].read_text(encoding="utf-8"))
    wav, sr = sf.read(files["wav"], dtype="float32")
    info = sf.info(files["wav"])
    assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_16")
    assert len(wav) == round(timeline["duration_s"] * sr)  # output length = timeline end
    assert abs(integrated_lufs(wav, sr) - TARGET_LUFS) <= LUFS_TOLERANCE
    assert true_peak_dbtp(wav, sr) <= MAX_TRUE_PEAK_DBTP
    decoded, mp3_sr = sf.read(io.BytesIO(mp3.read_bytes()), dtype="float32")
    assert mp3_sr == 44100 and abs(len(decoded) / mp3_sr - len(wav) / sr) < MP3_LENGTH_SLACK_S
    assert abs(integrated_lufs(decoded, mp3_sr) - TARGET_LUFS) <= LUFS_TOLERANCE
    assert true_peak_dbtp(decoded, mp3_sr) <= MAX_TRUE_PEAK_DBTP
    return len(wav) / sr, timeline


def check_subtitles(mp3: Path) -> None:
    files = companions(mp3)
    stamp = r"(\d\d):(\d\d):(\d\d)[,.](\d\d\d)"
    for kind in ("srt", "vtt"):
        text = files[kind].read_text(encoding="utf-8")
        times = [tuple(int(g) for g in m) for m in re.findall(stamp + r" --> " + stamp, text)]
        spans = [((a * 3600 + b * 60 + c) * 1000 + d, (e * 3600 + f * 60 + g) * 1000 + h)
                 for a, b, c, d, e, f, g, h in times]
        assert spans and all(s < e for s, e in spans)
        assert all(prev[1] <= cur[0] for prev, cur in zip(spans, spans[1:], strict=False))  # monotonic
    assert files["vtt"].read_text(encoding="utf-8").startswith("WEBVTT")


def test_drama_renders_with_the_right_shape(drama):
    mp3, report = drama
    duration_s, timeline = check_audio(mp3)
    assert duration_s >= 120.0
    plan = parse_script((ROOT / "scripts/the-lighthouse.md").read_text(encoding="utf-8"), load_voices())
    assert len(timeline["utterances"]) == len(plan.utterances) == report["utterances"]
    assert [u["speaker"] for u in timeline["utterances"]] == [u.speaker for u in plan.utterances]
    assert [u["text"] for u in timeline["utterances"]] == [u.text for u in plan.utterances]
    starts = [u["start_s"] for u in timeline["utterances"]]
    assert starts == sorted(starts) and all(u["end_s"] > u["start_s"] for u in timeline["utterances"])
    assert {c["kind"] for c in timeline["cues"]} >= {"ambience", "sfx", "pause"}
    assert report["warnings"] == []  # the demo must render clean
    assert len(timeline["chapters"]) == len(plan.chapters)
    check_subtitles(mp3)


def test_drama_mp3_has_title_and_chapters(drama):
    from mutagen.id3 import ID3

    mp3, _ = drama
    tags = ID3(mp3)
    timeline = json.loads(companions(mp3)["timeline"].read_text(encoding="utf-8"))
    assert str(tags["TIT2"]) == "The Lighthouse"
    chaps = sorted(tags.getall("CHAP"), key=lambda c: c.start_time)
    assert [str(c.sub_frames["TIT2"]) for c in chaps] == [c["title"] for c in timeline["chapters"]]
    assert [c.start_time for c in chaps] == [round(c["start_s"] * 1000) for c in timeline["chapters"]]


def test_drama_report_has_numbers_per_stage(drama):
    _, report = drama
    assert set(report["stage_seconds"]) == {"segmenter", "tts", "effects", "ambience", "mixer", "output"}
    assert abs(report["lufs"] - TARGET_LUFS) <= LUFS_TOLERANCE and report["true_peak_dbtp"] <= -1.0
    assert sum(report["tts_backends"].values()) == report["segments"]
    assert set(report["tts_backends"]) == {"piper", "kokoro"}  # Joe and Walter; the Kokoro cast


def test_chinese_podcast_renders_and_says_it_used_fallbacks(podcast):
    mp3, report = podcast
    _, timeline = check_audio(mp3)
    speakers = [u["speaker"] for u in timeline["utterances"]]
    assert {"大牛", "一帆"} <= set(speakers)
    assert not any(re.search(r"[\u4e00-\u9fff，。！？]\s+[\u4e00-\u9fff]", u["text"]) for u in timeline["utterances"])
    assert any("zh-daniu" in w and "fallback" in w for w in report["warnings"])
    check_subtitles(mp3)


def test_script_error_exits_2_names_the_line_and_writes_nothing(tmp_path):
    script = tmp_path / "bad.md"
    script.write_text("---\nvoices: {A: en-joe}\n---\nA: Fine.\n[sfx: door | volume=3]\n", encoding="utf-8")
    out = tmp_path / "out" / "bad.mp3"
    result = dramaflow("render", str(script), "-o", str(out))
    assert result.returncode == 2
    assert "line 5" in result.stderr and "volume" in result.stderr
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_backend_failure_exits_1_and_leaves_no_outputs(tmp_path):
    voices = tmp_path / "voices.yaml"
    voices.write_text("broken:\n  display_name: Broken\n  provider: espeak\n  language: en\n"
                      "  params: {espeak_voice: xx-none}\n", encoding="utf-8")
    script = tmp_path / "s.md"
    script.write_text("---\nvoices: {A: broken}\n---\nA: Hello there.\n", encoding="utf-8")
    out = tmp_path / "out" / "s.mp3"
    env_result = subprocess.run(
        [sys.executable, "-m", "control_api.cli", "render", str(script), "-o", str(out)],
        cwd=ROOT, env={**os.environ, "DRAMAFLOW_VOICES": str(voices)}, capture_output=True, text=True, timeout=300)
    assert env_result.returncode == 1
    assert "line 4" in env_result.stderr and "xx-none" in env_result.stderr
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_voice_option_maps_a_speaker(tmp_path):
    script = tmp_path / "s.md"
    script.write_text("Guest: Thanks for having me on the show.\n", encoding="utf-8")
    out = tmp_path / "g.mp3"
    result = dramaflow("render", str(script), "-o", str(out), "--voice", "Guest=en-espeak-f", "--json")
    assert result.returncode == 0, result.stderr
    timeline = json.loads(companions(out)["timeline"].read_text(encoding="utf-8"))
    assert [(u["speaker"], u["voice"]) for u in timeline["utterances"]] == [("Guest", "en-espeak-f")]


def test_bad_voice_option_is_a_usage_error(tmp_path):
    script = tmp_path / "s.md"
    script.write_text("Guest: Hi.\n", encoding="utf-8")
    result = dramaflow("render", str(script), "-o", str(tmp_path / "x.mp3"), "--voice", "Guest")
    assert result.returncode == 2 and "Name=voice-id" in result.stderr


def test_same_seed_same_samples_other_seed_other_samples(library, tmp_path):
    from control_api.engines.base import RenderOptions
    from control_api.engines.direct import DirectEngine

    script = ("---\nvoices: {A: en-joe, B: en-espeak-m}\n---\n[ambience: rain on a window]\n"
              "A: It is late.\nB: It is always late here.\n[sfx: door knock]\nA (whisper): Who is that?\n")
    engine = DirectEngine(library)
    try:
        runs = {}
        for name, seed in (("a", 1), ("b", 1), ("c", 2)):
            engine.render(script, tmp_path / f"{name}.mp3", RenderOptions(seed=seed))
            runs[name] = sf.read(tmp_path / f"{name}.wav", dtype="int16")[0]
    finally:
        engine.close()
    assert np.array_equal(runs["a"], runs["b"])
    assert runs["a"].shape != runs["c"].shape or not np.array_equal(runs["a"], runs["c"])
    assert (tmp_path / "a.mp3").read_bytes() == (tmp_path / "b.mp3").read_bytes()


def test_voices_list_json_and_table():
    result = dramaflow("voices", "list", "--json")
    assert result.returncode == 0
    rows = json.loads(result.stdout)
    ids = {r["id"] for r in rows}
    assert {"en-joe", "zh-espeak-m", "zh-espeak-f", "zh-daniu", "zh-yifan", "zh-boyu"} <= ids
    daniu = next(r for r in rows if r["id"] == "zh-daniu")
    assert daniu["provider"] == "minimax" and daniu["fallback"] == "zh-baker-male" and "大牛" in daniu["aliases"]
    table = dramaflow("voices", "list")
    assert table.returncode == 0 and "en-joe" in table.stdout


def test_check_command_summarises_without_rendering(tmp_path):
    result = dramaflow("check", "scripts/the-lighthouse.md")
    assert result.returncode == 0
    assert "Silas" in result.stderr and "utterances" in result.stderr


def test_ambience_generate_bed_and_sfx(tmp_path):
    bed = tmp_path / "rain.wav"
    result = dramaflow("ambience", "generate", "heavy rain on a tin roof", "-o", str(bed), "--duration", "3",
                       "--seed", "4")
    assert result.returncode == 0, result.stderr
    audio, sr = sf.read(bed, dtype="float32")
    assert audio.shape == (3 * 44100, 2) and sr == 44100
    assert "rain" in result.stderr
    knock = tmp_path / "knock.wav"
    result = dramaflow("ambience", "generate", "three knocks on the door", "--sfx", "-o", str(knock))
    assert result.returncode == 0, result.stderr
    assert 0.2 < sf.info(knock).duration < 5.0
    unknown = dramaflow("ambience", "generate", "rain", "-o", str(tmp_path / "x.wav"), "--backend", "nope")
    assert unknown.returncode == 2 and "procedural" in unknown.stderr
    assert not (tmp_path / "x.wav").exists()


def test_ambience_list_names_scenes_and_sfx():
    result = dramaflow("ambience", "list")
    assert result.returncode == 0
    assert "rain" in result.stdout and "door" in result.stdout
