"""The last stage: subtitles, MP3/WAV encoding with chapters, and writing every output file atomically.

Everything here is pure except ``write_outputs``, which writes ``OUT.mp3`` plus ``OUT.wav``,
``OUT.timeline.json``, ``OUT.srt`` and ``OUT.vtt`` beside it, all or nothing.

This module holds the output settings, the file names and ``write_outputs``, and re-exports the public
names of ``subtitles`` (SRT/VTT), ``mp3`` (encoding, ID3 chapters) and ``staging`` (atomic writing).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nodes.common.audio import db_to_gain, to_stereo
from nodes.common.errors import ConfigError
from nodes.common.programme import ProgrammeFile, programme_blocks
from nodes.common.settings import check_choice, check_ranges
from nodes.common.types import Timeline
from nodes.output.mp3 import (
    BLOCK_ROWS,
    MP3_DELAY_SAMPLES,
    MP3_FRAME_SAMPLES,
    _encode_within_true_peak,
    _finite,
    _id3_tag,
    _lame,
    _pcm16,
    decode_mp3,
    encode_mp3,
    to_pcm16,
)
from nodes.output.staging import _staged_files
from nodes.output.subtitles import (
    MAX_CHARS_PER_LINE,
    MAX_LINES,
    SubtitleCue,
    subtitle_cues,
    to_srt,
    to_vtt,
)
from nodes.output.subtitles import display_width as display_width

MP3_BITRATES_KBPS = (64, 96, 128, 160, 192, 224, 256, 320)
OUTPUT_RANGES = {"max_true_peak_dbtp": (-12.0, 0.0)}


@dataclass(frozen=True)
class OutputSettings:
    """What a template may set for the output stage."""

    mp3_bitrate_kbps: int = 256
    max_true_peak_dbtp: float = -1.0

    def __post_init__(self) -> None:
        check_choice(self, "mp3_bitrate_kbps", MP3_BITRATES_KBPS)
        check_ranges(self, OUTPUT_RANGES)


@dataclass(frozen=True)
class OutputFiles:
    mp3: Path
    wav: Path
    timeline: Path
    srt: Path
    vtt: Path


@dataclass(frozen=True)
class OutputReport:
    files: OutputFiles
    wav_lufs: float
    wav_true_peak_dbtp: float
    mp3_lufs: float
    mp3_true_peak_dbtp: float
    mp3_gain_adjust_db: float  # 0.0 unless the MP3's true peak forced the master down
    duration_s: float


def output_paths(mp3_path: Path) -> OutputFiles:
    """``OUT.mp3`` → ``OUT.wav``, ``OUT.timeline.json``, ``OUT.srt``, ``OUT.vtt`` in the same folder."""
    mp3_path = Path(mp3_path)
    if mp3_path.suffix.lower() != ".mp3":
        raise ConfigError(f"the output file must end in .mp3, got {str(mp3_path)!r}")
    base = mp3_path.with_suffix("")
    return OutputFiles(
        mp3=mp3_path,
        wav=base.with_name(base.name + ".wav"),
        timeline=base.with_name(base.name + ".timeline.json"),
        srt=base.with_name(base.name + ".srt"),
        vtt=base.with_name(base.name + ".vtt"),
    )


def write_outputs(
    mp3_path: Path,
    master: np.ndarray | ProgrammeFile,
    sample_rate: int,
    timeline: Timeline,
    *,
    title: str,
    max_true_peak_dbtp: float = -1.0,
    bitrate_kbps: int = 256,
    extra_report: dict[str, Any] | None = None,
) -> OutputReport:
    """Encode and write the MP3, WAV (16-bit, exactly ``len(master)`` samples), timeline JSON, SRT, VTT.
    ``master`` is an array or the file the mixer wrote, read a block at a time.

    - If the decoded MP3's true peak exceeds ``max_true_peak_dbtp``, the master is turned down by the
      excess plus ``TRUE_PEAK_MARGIN_DB`` and re-encoded (at most ``MAX_TRUE_PEAK_RETRIES`` times);
      the WAV carries the same final samples as the MP3.
    - All or nothing: every file is written to a hidden ``.NAME.*.partial`` file in the destination
      folder (created if missing) and fsynced; only then is each moved into place, the MP3 last. On
      any error no new file is left behind and the error is re-raised.
    """
    files = output_paths(Path(mp3_path))
    rows = len(master) if isinstance(master, np.ndarray) else master.samples

    def pcm_for(gain_adjust_db: float) -> np.ndarray:  # read a block at a time: the master is never copied
        gain = np.float32(db_to_gain(gain_adjust_db))
        stereo = (to_stereo(_finite(block)) for block in programme_blocks(master, BLOCK_ROWS))
        return _pcm16((rows, 2), stereo if gain_adjust_db == 0.0 else (block * gain for block in stereo))

    encoded = _encode_within_true_peak(
        pcm_for,
        sample_rate,
        max_true_peak_dbtp=max_true_peak_dbtp,
        encode=lambda pcm: (
            _id3_tag(title, "dramaflow", bitrate_kbps, timeline.chapters)
            + _lame(pcm, sample_rate, bitrate_kbps)
        ),
    )
    report = OutputReport(
        files=files,
        wav_lufs=encoded.wav_lufs,
        wav_true_peak_dbtp=encoded.wav_true_peak_dbtp,
        mp3_lufs=encoded.mp3_lufs,
        mp3_true_peak_dbtp=encoded.mp3_true_peak_dbtp,
        mp3_gain_adjust_db=encoded.gain_adjust_db,
        duration_s=rows / sample_rate,
    )
    files.mp3.parent.mkdir(parents=True, exist_ok=True)
    with _staged_files() as stage:
        stage(files.wav, lambda f: _write_wav(f, encoded.pcm, sample_rate))
        measured = {"wav_lufs": report.wav_lufs, "wav_true_peak_dbtp": report.wav_true_peak_dbtp,
                    "mp3_lufs": report.mp3_lufs, "mp3_true_peak_dbtp": report.mp3_true_peak_dbtp,
                    "mp3_gain_adjust_db": report.mp3_gain_adjust_db, "mp3_bitrate_kbps": bitrate_kbps}
        stage(files.timeline, _text(_timeline_json(timeline, {**(extra_report or {}), "output": measured})))
        cues = subtitle_cues(timeline)
        stage(files.srt, _text(to_srt(cues)))
        stage(files.vtt, _text(to_vtt(cues)))
        stage(files.mp3, lambda f: f.write(encoded.mp3))
    return report


def _timeline_json(timeline: Timeline, extra_report: dict[str, Any] | None) -> str:
    return (
        json.dumps(timeline.to_dict() | {"report": extra_report or {}}, ensure_ascii=False, indent=2) + "\n"
    )


def _write_wav(fileobj: BinaryIO, pcm: np.ndarray, sample_rate: int) -> None:
    import soundfile

    soundfile.write(fileobj, pcm, sample_rate, format="WAV", subtype="PCM_16")


def _text(content: str) -> Callable[[BinaryIO], Any]:
    data = content.encode("utf-8")
    return lambda f: f.write(data)


__all__ = [
    "MAX_CHARS_PER_LINE",
    "MAX_LINES",
    "MP3_DELAY_SAMPLES",
    "MP3_FRAME_SAMPLES",
    "OutputFiles",
    "OutputReport",
    "SubtitleCue",
    "decode_mp3",
    "encode_mp3",
    "output_paths",
    "subtitle_cues",
    "to_pcm16",
    "to_srt",
    "to_vtt",
    "write_outputs",
]
