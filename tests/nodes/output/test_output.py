"""Tests for nodes.output.core: subtitles, MP3 with ID3 chapters, and atomic writing of all outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile
from hypothesis import given, settings
from hypothesis import strategies as st
from mutagen.id3 import ID3, CTOCFlags

from nodes.common.audio import db_to_gain, true_peak_dbtp
from nodes.common.errors import ConfigError, DramaflowWarning
from nodes.common.types import PlacedChapter, PlacedSegment, PlacedUtterance, Timeline
from nodes.output import core, staging
from nodes.output.core import (
    MP3_DELAY_SAMPLES,
    MP3_FRAME_SAMPLES,
    OutputFiles,
    SubtitleCue,
    decode_mp3,
    display_width,
    encode_mp3,
    output_paths,
    subtitle_cues,
    to_srt,
    to_vtt,
    write_outputs,
)

SR = 44100
DURATION_S = 12.0
# Decoded MP3 = master + LAME/mpg123 start delay + padding to whole frames (at most two frames).
MP3_LENGTH_TOLERANCE_SAMPLES = MP3_DELAY_SAMPLES + 2 * MP3_FRAME_SAMPLES
SRT_TIME = r"(\d{2}):(\d{2}):(\d{2}),(\d{3})"
VTT_TIME = r"(\d{2}):(\d{2}):(\d{2})\.(\d{3})"
SPEECH_BAND = scipy.signal.butter(4, [100, 6000], btype="bandpass", fs=SR, output="sos")
# LAME's quantizer rounds toward zero: at 192 kbps dense material decodes ~0.25 dB quieter, flat
# across the spectrum (measured; none at 256 kbps and above).
MP3_LOUDNESS_TOLERANCE_LU = 0.5

LONG_ENGLISH = (
    "It was the kind of night when the fog rolled in from the harbour and swallowed the street lamps "
    "one by one, and nobody with any sense stayed out past the last tram; but Inspector Hale had never "
    "been accused of having any sense, least of all by his sister, who said so at every dinner."
)
LONG_CHINESE = (
    "那天晚上雾从港口涌进来，把街灯一盏一盏吞没了。任何有头脑的人都不会在末班电车之后还待在外面，"
    "但是黑尔探长从来没有被人说过有头脑，尤其是他的妹妹，她每次吃晚饭的时候都这么说。"
    "他穿上大衣，走进了夜色之中。"
)


def make_timeline() -> Timeline:
    """Two chapters; narrator, Alice (with <tags> & ampersands), Bob (long English), Li (long Chinese)."""

    def utterance(index, speaker, pieces):
        segments = tuple(
            PlacedSegment(seq=index * 10 + i, utterance=index, text=text, start_s=start, end_s=end)
            for i, (text, start, end) in enumerate(pieces)
        )
        return PlacedUtterance(
            index=index,
            speaker=speaker,
            voice=speaker.lower(),
            text=" ".join(p[0] for p in pieces),
            line=index + 3,
            start_s=pieces[0][1],
            end_s=pieces[-1][2],
            segments=segments,
        )

    return Timeline(
        duration_s=DURATION_S,
        sample_rate=SR,
        utterances=(
            utterance(0, "Narrator", [("Chapter one.", 0.5, 1.5)]),
            utterance(1, "Alice", [("Tom & Jerry <live> said a > b.", 1.7, 2.9), ("Short again.", 3.0, 3.6)]),
            utterance(2, "Bob", [(LONG_ENGLISH, 3.8, 6.4)]),
            utterance(3, "Li", [(LONG_CHINESE, 6.9, 10.2)]),
            utterance(4, "Li", [("好的。", 10.4, 11.0)]),
        ),
        cues=(),
        chapters=(
            PlacedChapter(index=0, title="The Fog", start_s=0.0, end_s=6.6),
            PlacedChapter(index=1, title="第二章 夜色", start_s=6.6, end_s=DURATION_S),
        ),
        title="Inspector Hale",
    )


def speechlike(duration_s: float = DURATION_S, peak_dbtp: float | None = None, seed: int = 7) -> np.ndarray:
    """Stereo noise with a syllable-rate envelope; optionally scaled so its true peak is ``peak_dbtp``."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * SR)
    t = np.arange(n) / SR
    envelope = (0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t)) * (0.7 + 0.3 * np.sin(2 * np.pi * 0.3 * t))
    # Speech has little energy above a few kHz (white noise would lose loudness to LAME's low-pass).
    noise = scipy.signal.sosfilt(SPEECH_BAND, rng.standard_normal((n, 2)), axis=0)
    x = (noise * 0.15 * envelope[:, None]).astype(np.float32)
    if peak_dbtp is not None:
        x *= np.float32(db_to_gain(peak_dbtp - true_peak_dbtp(x, SR)))
    return x


def no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- subtitle cues ---------------------------------------------------------------------------


def test_cues_are_monotonic_and_inside_their_segments():
    cues = subtitle_cues(make_timeline())
    previous_end = 0.0
    for cue in cues:
        assert cue.start_s < cue.end_s
        assert cue.start_s >= previous_end
        previous_end = cue.end_s
    assert cues[-1].end_s <= DURATION_S


def test_every_character_appears_exactly_once_per_segment():
    timeline = make_timeline()
    cues = subtitle_cues(timeline)
    expected = "".join(no_space(s.text) for u in timeline.utterances for s in u.segments)
    assert "".join(no_space(c.text) for c in cues) == expected


def test_long_segments_are_split_with_line_limits():
    cues = subtitle_cues(make_timeline(), max_chars_per_line=42, max_lines=2)
    bob = [c for c in cues if c.speaker == "Bob"]
    li = [c for c in cues if c.speaker == "Li"]
    assert len(bob) >= 3 and len(li) >= 2
    for cue in cues:
        lines = cue.text.split("\n")
        assert len(lines) <= 2
        assert all(0 < display_width(line) <= 42 for line in lines)
    # English splits at word boundaries only: every line's words are words of the original.
    words = set(LONG_ENGLISH.split())
    assert all(word in words for c in bob for word in c.text.split())
    # Chinese splits between characters, never putting closing punctuation at the start of a line.
    assert all(line[0] not in "，。" for c in li for line in c.text.split("\n"))


def test_split_cues_share_the_segment_span_by_length():
    cues = [c for c in subtitle_cues(make_timeline()) if c.speaker == "Bob"]
    assert cues[0].start_s == pytest.approx(3.8) and cues[-1].end_s == pytest.approx(6.4)
    rates = [len(c.text) / (c.end_s - c.start_s) for c in cues]
    assert max(rates) / min(rates) < 1.1  # same characters per second, up to ms rounding


def test_overlapping_segments_are_pushed_later():
    timeline = make_timeline()
    first, second = timeline.utterances[:2]
    overlapped = PlacedSegment(seq=99, utterance=1, text="Overlap.", start_s=1.0, end_s=1.2)
    timeline = Timeline(
        duration_s=DURATION_S,
        sample_rate=SR,
        utterances=(first, PlacedUtterance(**{**second.__dict__, "segments": (overlapped,)})),
        cues=(),
        chapters=(),
    )
    cues = subtitle_cues(timeline)
    assert cues[1].start_s >= cues[0].end_s and cues[1].end_s > cues[1].start_s


def test_cjk_and_unbroken_words_are_cut_to_fit():
    timeline = Timeline(
        duration_s=3.0,
        sample_rate=SR,
        utterances=(
            PlacedUtterance(
                0, "X", "x", "", 1, 0.0, 2.0, (PlacedSegment(0, 0, "a" * 100 + " " + "字" * 30, 0.0, 2.0),)
            ),
        ),
        cues=(),
        chapters=(),
    )
    cues = subtitle_cues(timeline, max_chars_per_line=10, max_lines=1)
    assert all(len(c.text) <= 10 for c in cues)
    assert "".join(no_space(c.text) for c in cues) == "a" * 100 + "字" * 30


_WORDS = st.text(alphabet=st.sampled_from("abcXYZ字中文，。！?.-&<> "), min_size=0, max_size=120)


@settings(max_examples=150, deadline=None)
@given(
    texts=st.lists(_WORDS, min_size=1, max_size=5),
    speakers=st.lists(st.sampled_from(["A", "Bo", "Celestine Montgomery-Smythe"]), min_size=5, max_size=5),
    max_chars=st.integers(min_value=4, max_value=50),
    max_lines=st.integers(min_value=1, max_value=3),
    starts=st.lists(st.floats(min_value=0.0, max_value=20.0), min_size=5, max_size=5),
)
def test_cue_invariants_hold_for_any_text(texts, speakers, max_chars, max_lines, starts):
    utterances = tuple(
        PlacedUtterance(
            i,
            speakers[i],
            "v",
            text,
            1,
            starts[i],
            starts[i] + 0.5,
            (PlacedSegment(i, i, text, starts[i], starts[i] + 0.5),),
        )
        for i, text in enumerate(texts)
    )
    timeline = Timeline(duration_s=30.0, sample_rate=SR, utterances=utterances, cues=(), chapters=())
    cues = subtitle_cues(timeline, max_chars_per_line=max_chars, max_lines=max_lines)
    ordered = sorted(utterances, key=lambda u: u.start_s)
    assert "".join(no_space(c.text) for c in cues) == "".join(no_space(u.text) for u in ordered)
    previous_end = 0.0
    for cue in cues:
        assert previous_end <= cue.start_s < cue.end_s
        previous_end = cue.end_s
        assert 1 <= len(cue.text.split("\n")) <= max_lines
    for block in to_srt(cues, max_chars_per_line=max_chars).strip().split("\n\n") if cues else []:
        assert all(display_width(line) <= max_chars for line in block.split("\n")[2:])


# --- SRT / VTT -----------------------------------------------------------------------------


def parse_blocks(text: str, time_pattern: str) -> list[tuple[float, float, list[str]]]:
    blocks = []
    for block in text.strip().split("\n\n"):
        lines = block.split("\n")
        timing_index = next(i for i, line in enumerate(lines) if "-->" in line)
        match = re.fullmatch(f"{time_pattern} --> {time_pattern}", lines[timing_index])
        assert match, lines[timing_index]
        v = [int(g) for g in match.groups()]
        start = v[0] * 3600 + v[1] * 60 + v[2] + v[3] / 1000
        end = v[4] * 3600 + v[5] * 60 + v[6] + v[7] / 1000
        blocks.append((start, end, lines[timing_index + 1 :]))
    return blocks


def test_srt_format_and_speaker_prefix():
    cues = subtitle_cues(make_timeline())
    srt = to_srt(cues)
    raw_blocks = srt.strip().split("\n\n")
    assert [int(b.split("\n")[0]) for b in raw_blocks] == list(range(1, len(cues) + 1))
    blocks = parse_blocks(srt, SRT_TIME)
    previous_end = 0.0
    for (start, end, lines), cue in zip(blocks, cues, strict=True):
        assert previous_end <= start < end
        assert (start, end) == (pytest.approx(cue.start_s), pytest.approx(cue.end_s))
        assert 1 <= len(lines) <= 2 and all(display_width(line) <= 42 for line in lines)
        previous_end = end
    first_lines = [lines[0] for _, _, lines in blocks]
    assert first_lines[0].startswith("Narrator: ")
    assert first_lines[1].startswith("Alice: Tom & Jerry <live>")
    assert not first_lines[2].startswith("Alice: ")  # same speaker, no prefix
    assert sum(line.startswith("Bob: ") for line in first_lines) == 1
    assert sum(line.startswith("Li: ") for line in first_lines) == 1  # two utterances, one prefix


def test_srt_text_holds_every_character_once():
    timeline = make_timeline()
    srt = to_srt(subtitle_cues(timeline))
    body = []
    for _, _, lines in parse_blocks(srt, SRT_TIME):
        body.append(re.sub(r"^(Narrator|Alice|Bob|Li): ", "", "\n".join(lines)))
    expected = "".join(no_space(s.text) for u in timeline.utterances for s in u.segments)
    assert no_space("".join(body)) == expected


def test_vtt_format_voice_tags_and_escaping():
    cues = subtitle_cues(make_timeline())
    vtt = to_vtt(cues)
    assert vtt.startswith("WEBVTT\n\n")
    blocks = parse_blocks(vtt.removeprefix("WEBVTT\n"), VTT_TIME)
    assert len(blocks) == len(cues)
    for (start, end, lines), cue in zip(blocks, cues, strict=True):
        assert (start, end) == (pytest.approx(cue.start_s), pytest.approx(cue.end_s))
        assert lines[0].startswith(f"<v {cue.speaker}>")
        assert len(lines) <= 2
        assert all("-->" not in line for line in lines)
    alice = blocks[1][2][0]
    assert alice == "<v Alice>Tom &amp; Jerry &lt;live&gt; said a &gt; b."
    text = re.sub(r"<v [^>]*>", "", vtt)
    assert "<" not in text and ">" not in text.replace("-->", "")


def test_vtt_escapes_speaker_names():
    vtt = to_vtt([SubtitleCue(0.0, 1.0, "hi", "R&D <bot>")])
    assert "<v R&amp;D &lt;bot&gt;>hi" in vtt


def test_long_speaker_names_are_shortened_to_half_a_line():
    cue = SubtitleCue(0.0, 1.0, "x" * 20, "A" * 60)
    first_line = to_srt([cue]).split("\n")[2]
    assert first_line.endswith("…: " + "x" * 20) and len(first_line) <= 42


def test_timestamps_past_an_hour():
    srt = to_srt([SubtitleCue(3725.5, 3726.25, "late", "X")])
    assert "01:02:05,500 --> 01:02:06,250" in srt


# --- MP3 -------------------------------------------------------------------------------------


def test_encode_mp3_decodes_to_master_length_and_carries_chapters(tmp_path):
    master = speechlike(3.0)
    timeline = make_timeline()
    data = encode_mp3(master, SR, title="Inspector Hale", chapters=timeline.chapters)
    decoded, rate = decode_mp3(data)
    assert rate == SR and decoded.shape[1] == 2 and decoded.dtype == np.float32
    assert len(master) <= len(decoded) <= len(master) + MP3_LENGTH_TOLERANCE_SAMPLES
    path = tmp_path / "x.mp3"
    path.write_bytes(data)
    tag = ID3(path)
    assert tag.version[:2] == (2, 4)
    assert str(tag["TIT2"]) == "Inspector Hale"
    assert str(tag["TPE1"]) == "dramaflow"
    assert "lameenc" in str(tag["TSSE"])


def test_encode_mp3_accepts_mono_and_is_deterministic():
    mono = speechlike(1.0)[:, :1]
    assert encode_mp3(mono, SR) == encode_mp3(mono, SR)
    assert decode_mp3(encode_mp3(mono, SR))[0].shape[1] == 2


def test_encode_mp3_rejects_nan():
    bad = np.zeros((100, 2), np.float32)
    bad[5, 0] = np.nan
    with pytest.raises(ValueError):
        encode_mp3(bad, SR)


# --- output paths and write_outputs ----------------------------------------------------------


def test_output_paths_sit_beside_the_mp3():
    files = output_paths(Path("/x/show.v2.mp3"))
    assert files == OutputFiles(
        mp3=Path("/x/show.v2.mp3"),
        wav=Path("/x/show.v2.wav"),
        timeline=Path("/x/show.v2.timeline.json"),
        srt=Path("/x/show.v2.srt"),
        vtt=Path("/x/show.v2.vtt"),
    )
    with pytest.raises(ConfigError):
        output_paths(Path("/x/show.wav"))


@pytest.fixture(scope="session")
def written(tmp_path_factory):
    directory = tmp_path_factory.mktemp("out") / "new" / "folder"  # created by write_outputs
    master = speechlike(peak_dbtp=-3.0)
    report = write_outputs(
        directory / "show.mp3",
        master,
        SR,
        make_timeline(),
        title="Inspector Hale",
        extra_report={"lufs_target": -16.0, "note": "café"},
    )
    return master, report


def test_write_outputs_writes_all_files_and_nothing_else(written):
    _, report = written
    files = report.files
    assert sorted(p.name for p in files.mp3.parent.iterdir()) == sorted(
        ["show.mp3", "show.wav", "show.timeline.json", "show.srt", "show.vtt"]
    )


def test_written_mp3_has_chapters_and_toc(written):
    master, report = written
    tag = ID3(report.files.mp3)
    assert str(tag["TIT2"]) == "Inspector Hale"
    chapters = sorted(tag.getall("CHAP"), key=lambda f: f.element_id)
    assert [c.element_id for c in chapters] == ["chp0", "chp1"]
    assert [(c.start_time, c.end_time) for c in chapters] == [(0, 6600), (6600, 12000)]
    assert [str(c.sub_frames["TIT2"]) for c in chapters] == ["The Fog", "第二章 夜色"]
    (toc,) = tag.getall("CTOC")
    assert toc.element_id == "toc"
    assert toc.flags & CTOCFlags.TOP_LEVEL and toc.flags & CTOCFlags.ORDERED
    assert list(toc.child_element_ids) == ["chp0", "chp1"]
    decoded, rate = soundfile.read(report.files.mp3, dtype="float32", always_2d=True)
    assert rate == SR and len(master) <= len(decoded) <= len(master) + MP3_LENGTH_TOLERANCE_SAMPLES


def test_written_wav_is_16_bit_stereo_exact_length_and_matches_master(written):
    master, report = written
    info = soundfile.info(report.files.wav)
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (SR, 2, "PCM_16", len(master))
    wav, _ = soundfile.read(report.files.wav, dtype="float32")
    assert report.mp3_gain_adjust_db == 0.0
    assert np.max(np.abs(wav - master)) < 2.5 / 32768  # rounding plus ±1 LSB dither
    assert report.duration_s == pytest.approx(DURATION_S)


def test_written_timeline_json_has_the_report(written):
    _, report = written
    data = json.loads(report.files.timeline.read_text(encoding="utf-8"))
    assert data["title"] == "Inspector Hale"
    output = data["report"].pop("output")
    assert data["report"] == {"lufs_target": -16.0, "note": "café"}
    assert output["wav_lufs"] == pytest.approx(report.wav_lufs) and output["mp3_lufs"] == pytest.approx(report.mp3_lufs)
    assert output["mp3_true_peak_dbtp"] == pytest.approx(report.mp3_true_peak_dbtp)
    assert len(data["utterances"]) == 5 and len(data["chapters"]) == 2
    assert "café" in report.files.timeline.read_text(encoding="utf-8")  # ensure_ascii=False


def test_written_subtitles_match_the_renderers(written):
    _, report = written
    cues = subtitle_cues(make_timeline())
    assert report.files.srt.read_text(encoding="utf-8") == to_srt(cues)
    assert report.files.vtt.read_text(encoding="utf-8") == to_vtt(cues)


def test_report_measures_both_files(written):
    _, report = written
    assert report.wav_true_peak_dbtp == pytest.approx(-3.0, abs=0.1)
    assert report.mp3_true_peak_dbtp <= -1.0
    assert report.mp3_lufs == pytest.approx(report.wav_lufs, abs=MP3_LOUDNESS_TOLERANCE_LU)


def test_true_peak_guard_turns_the_master_down(tmp_path):
    master = speechlike(4.0, peak_dbtp=-0.1)
    report = write_outputs(tmp_path / "hot.mp3", master, SR, make_timeline(), title="Hot")
    decoded, rate = soundfile.read(report.files.mp3, dtype="float32", always_2d=True)
    assert true_peak_dbtp(decoded, rate) <= -1.0
    assert report.mp3_true_peak_dbtp <= -1.0
    assert report.mp3_gain_adjust_db < 0.0
    wav, _ = soundfile.read(report.files.wav, dtype="float32")
    gain = db_to_gain(report.mp3_gain_adjust_db)
    assert np.max(np.abs(wav - master * gain)) < 2.5 / 32768  # the WAV got the same correction


def test_true_peak_guard_gives_up_with_a_warning(tmp_path):
    # The ±1 LSB dither alone sits near -90 dBFS, so this ceiling can never be met.
    with pytest.warns(DramaflowWarning, match="true peak"):
        report = write_outputs(
            tmp_path / "x.mp3", speechlike(1.0), SR, make_timeline(), title="T", max_true_peak_dbtp=-120.0
        )
    assert report.mp3_true_peak_dbtp > -120.0
    assert report.files.mp3.exists()


def test_write_outputs_is_deterministic(tmp_path):
    master = speechlike(3.0)
    a = write_outputs(tmp_path / "a" / "x.mp3", master, SR, make_timeline(), title="T")
    b = write_outputs(tmp_path / "b" / "x.mp3", master, SR, make_timeline(), title="T")
    for name in ("mp3", "wav", "timeline", "srt", "vtt"):
        assert getattr(a.files, name).read_bytes() == getattr(b.files, name).read_bytes(), name


def test_failure_while_staging_leaves_no_file(tmp_path, monkeypatch):
    (tmp_path / "keep.txt").write_text("unrelated")

    def broken(cues):
        # By now the WAV and timeline temp files exist; they must be cleaned up.
        assert any(p.name.endswith(".partial") for p in tmp_path.iterdir())
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(core, "to_srt", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_outputs(tmp_path / "show.mp3", speechlike(1.0), SR, make_timeline(), title="T")
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_failure_while_moving_into_place_leaves_no_new_file(tmp_path, monkeypatch):
    (tmp_path / "show.srt").write_text("old subtitles")  # an earlier render's file may be overwritten
    real_replace = staging.os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError("rename failed")
        real_replace(src, dst)

    monkeypatch.setattr(staging.os, "replace", flaky_replace)
    with pytest.raises(OSError, match="rename failed"):
        write_outputs(tmp_path / "show.mp3", speechlike(1.0), SR, make_timeline(), title="T")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["show.srt"]
    assert (tmp_path / "show.srt").read_text() == "old subtitles"
    assert Path(calls[-1]).name == "show.srt"


def test_mp3_is_moved_into_place_last(tmp_path, monkeypatch):
    real_replace = staging.os.replace
    order = []
    monkeypatch.setattr(
        staging.os, "replace", lambda src, dst: (order.append(Path(dst).name), real_replace(src, dst))
    )
    write_outputs(tmp_path / "show.mp3", speechlike(1.0), SR, make_timeline(), title="T")
    assert order[-1] == "show.mp3" and len(order) == 5


def test_chinese_lines_are_measured_in_display_columns():
    from nodes.common.types import PlacedSegment, PlacedUtterance, Timeline

    text = "我是一帆！今天这期有点特别：你现在听到的每一个声音，从剧本到混音，全是在一台没联网的电脑上做出来的。"
    seg = PlacedSegment(seq=0, utterance=0, text=text, start_s=0.0, end_s=10.0)
    utt = PlacedUtterance(index=0, speaker="一帆", voice="zh-yifan", text=text, line=1, start_s=0.0, end_s=10.0,
                          segments=(seg,))
    cues = subtitle_cues(Timeline(10.0, 44100, (utt,), (), ()))
    lines = [line for cue in cues for line in cue.text.split("\n")]
    assert all(display_width(line) <= 42 for line in lines)
    assert max(len(line) for line in lines) <= 21  # 21 double-width characters fill a line
    assert "".join(lines) == text


def test_written_files_follow_the_umask(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        report = write_outputs(tmp_path / "u.mp3", np.zeros((44100, 2), np.float32), 44100, make_timeline(),
                               title="t")
    finally:
        os.umask(old)
    for path in (report.files.mp3, report.files.wav, report.files.srt):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_writer_failing_on_a_full_disk_is_named_enospc_and_leaves_nothing(tmp_path, monkeypatch):
    """Where no small file system can be mounted, the full disk is simulated at the write: the writer
    fails the way libraries do (not always with ENOSPC) and the disk reports no free space."""
    import errno
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: usage(10 << 20, 10 << 20, 0))

    def failing(_f):
        raise AssertionError  # what a full disk looked like from the MP3 writer
    with pytest.raises(OSError) as info:
        with core._staged_files() as stage:
            stage(tmp_path / "a.wav", lambda f: f.write(b"x" * 100))
            stage(tmp_path / "b.mp3", failing)
    assert info.value.errno == errno.ENOSPC and list(tmp_path.iterdir()) == []


def test_the_node_names_a_full_disk_in_its_error_record():
    import errno

    from nodes.common.runtime import os_error_message

    message = os_error_message(OSError(errno.ENOSPC, "No space left on device", "/data/tasks/x/output.mp3"))
    assert message.startswith("the disk is full (ENOSPC) writing /data/tasks/x/output.mp3")
    assert "DRAMAFLOW_DATA_DIR" in message


def test_dither_drawn_in_blocks_gives_the_bytes_of_one_draw():
    """to_pcm16 draws both dithers a block at a time (memory); the bytes must be those of
    ``x += a - b`` with both draws whole, for lengths around the block size and both channel counts."""
    from nodes.output.mp3 import BLOCK_ROWS, DITHER_SEED, PCM16_SCALE, to_pcm16

    def whole(audio):
        x = np.clip(audio, -1.0, 1.0) * np.float32(PCM16_SCALE)
        rng = np.random.default_rng(DITHER_SEED)
        x += rng.random(x.shape, dtype=np.float32) - rng.random(x.shape, dtype=np.float32)
        return np.clip(np.rint(x), -32768, 32767).astype(np.int16)

    for frames in (1, BLOCK_ROWS - 1, BLOCK_ROWS, 2 * BLOCK_ROWS + 7):
        audio = (np.random.default_rng(frames).standard_normal((frames, 2)) * 0.5).astype(np.float32)
        assert np.array_equal(to_pcm16(audio), whole(audio))
        assert np.array_equal(to_pcm16(audio[:, :1]), whole(audio[:, :1]))


def test_the_mp3_is_measured_block_by_block_as_if_whole(monkeypatch):
    """Decoding and measuring the MP3 a block at a time gives the numbers of the whole decoded array, also
    when the decoder's frame count (an estimate, which counts the ID3 tag's bytes) is too high."""
    import io

    import soundfile

    from nodes.common import audio
    from nodes.common.audio import integrated_lufs, true_peak_dbtp
    from nodes.output.mp3 import _id3_tag, _lame, _measure_mp3, decode_mp3, to_pcm16

    monkeypatch.setattr(audio, "CHUNK_SAMPLES", 20_011)
    x = (np.random.default_rng(11).standard_normal((44100 * 3 + 77, 2)) * 0.2).astype(np.float32)
    mp3 = _id3_tag("t" * 2000, "dramaflow", 192, ()) + _lame(to_pcm16(x), 44100, 192)
    decoded, rate = decode_mp3(mp3)
    with soundfile.SoundFile(io.BytesIO(mp3)) as f:
        assert f.frames > len(decoded)  # the estimate this test is about
    assert _measure_mp3(mp3) == (integrated_lufs(decoded, rate), true_peak_dbtp(decoded, rate))


@pytest.mark.parametrize("channels, peak_dbtp", [(2, -3.0), (1, -0.1)])  # -0.1: the true-peak re-encode
def test_the_master_read_from_its_file_gives_the_same_files(tmp_path, monkeypatch, channels, peak_dbtp):
    """The dora output reads the mixer's file a block at a time (several blocks here); every file it
    writes has the bytes of writing from the whole array, also when the MP3 is encoded again."""
    from nodes.common.programme import ProgrammeFile
    from nodes.output import mp3

    monkeypatch.setattr(mp3, "BLOCK_ROWS", 20_011)
    monkeypatch.setattr(core, "BLOCK_ROWS", 20_011)
    master = speechlike(4.0, peak_dbtp=peak_dbtp)[:, :channels]
    from_array = write_outputs(tmp_path / "a" / "x.mp3", master, SR, make_timeline(), title="T")
    programme = ProgrammeFile.write(tmp_path / "mix.wav", np.ascontiguousarray(master), SR)
    from_file = write_outputs(tmp_path / "b" / "x.mp3", programme, SR, make_timeline(), title="T")
    assert (from_file.mp3_gain_adjust_db < 0.0) == (peak_dbtp > -1.0)
    assert from_file.mp3_gain_adjust_db == from_array.mp3_gain_adjust_db
    for name in ("mp3", "wav", "timeline"):
        assert getattr(from_file.files, name).read_bytes() == getattr(from_array.files, name).read_bytes(), name
