"""The last stage: subtitles, MP3/WAV encoding with chapters, and writing every output file atomically.

Everything here is pure except ``write_outputs``, which writes ``OUT.mp3`` plus ``OUT.wav``,
``OUT.timeline.json``, ``OUT.srt`` and ``OUT.vtt`` beside it, all or nothing.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nodes.common.audio import db_to_gain, integrated_lufs, to_stereo, true_peak_dbtp
from nodes.common.errors import ConfigError, warn
from nodes.common.settings import check_choice, check_ranges
from nodes.common.types import PlacedChapter, Timeline

MAX_CHARS_PER_LINE = 42
MAX_LINES = 2
MIN_CUE_MS = 1  # cues squeezed by overlapping segments still last at least this long

PCM16_SCALE = 32767.0
DITHER_SEED = 0x0D1A  # fixed so that the same master always gives the same bytes

MP3_QUALITY = 2  # LAME's -q 2: near-best quality, still fast
MAX_TRUE_PEAK_RETRIES = 3
TRUE_PEAK_MARGIN_DB = 0.1  # extra cut beyond the measured excess, so one retry usually suffices
ID3_NO_BYTE_OFFSET = 0xFFFFFFFF  # CHAP byte offsets "not used": players seek by time

# CJK text has no spaces, so a line may break between any two of these characters.
_CJK_RANGES = (
    (0x2E80, 0x2FDF),  # radicals
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3100, 0x312F),  # bopomofo
    (0x3130, 0x318F),  # hangul compatibility jamo
    (0x3400, 0x4DBF),  # extension A
    (0x4E00, 0x9FFF),  # unified ideographs
    (0xAC00, 0xD7AF),  # hangul syllables
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0xFF00, 0xFFEF),  # half/full-width forms
    (0x20000, 0x3134F),  # extensions B–G
)
# Punctuation that must not start a line (it sticks to what precedes) or end one (sticks to what follows).
_NO_LINE_START = set("，。！？、；：）」』】》〉’”…,.!?;:)]}%")
_NO_LINE_END = set("（「『【《〈‘“([{")


# --- subtitles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubtitleCue:
    """One subtitle. ``text`` holds the display lines joined by ``\\n``, already wrapped."""

    start_s: float
    end_s: float
    text: str
    speaker: str


def subtitle_cues(
    timeline: Timeline, max_chars_per_line: int = MAX_CHARS_PER_LINE, max_lines: int = MAX_LINES
) -> list[SubtitleCue]:
    """Cues for every placed segment, in time order.

    - A segment's text is wrapped at word boundaries (between any two characters in CJK text) into
      lines of at most ``max_chars_per_line`` characters, and every ``max_lines`` lines make a cue;
      the segment's time span is shared among its cues in proportion to their text length.
    - The first line of a cue whose speaker differs from the previous cue's leaves room for the
      ``Name: `` prefix that ``to_srt`` adds there, so the SRT lines stay within the limit too.
    - Times are whole milliseconds; ``start_s < end_s`` and each start is >= the previous end
      (segments that overlap are pushed later).
    - Every non-whitespace character of every segment appears in exactly one cue, in order.
    """
    if max_chars_per_line < 1 or max_lines < 1:
        raise ValueError("max_chars_per_line and max_lines must be >= 1")
    cues: list[SubtitleCue] = []
    previous_end_ms = 0
    previous_speaker: str | None = None
    for start_s, end_s, text, speaker in _timed_texts(timeline):
        prefix = _speaker_prefix(speaker, max_chars_per_line) if speaker != previous_speaker else ""
        lines = _wrap(_tokens(text), max_chars_per_line - display_width(prefix), max_chars_per_line)
        if not lines:
            continue
        pieces = ["\n".join(lines[i : i + max_lines]) for i in range(0, len(lines), max_lines)]
        start_ms = max(_to_ms(start_s), previous_end_ms)
        end_ms = max(_to_ms(end_s), start_ms + MIN_CUE_MS * len(pieces))
        bounds = _split_span(start_ms, end_ms, [len(p) for p in pieces])
        for piece, (a, b) in zip(pieces, pairwise(bounds), strict=True):
            cues.append(SubtitleCue(start_s=a / 1000.0, end_s=b / 1000.0, text=piece, speaker=speaker))
        previous_end_ms, previous_speaker = end_ms, speaker
    return cues


def to_srt(cues: Sequence[SubtitleCue], *, max_chars_per_line: int = MAX_CHARS_PER_LINE) -> str:
    """SubRip text: 1-based index, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, the cue's lines.

    ``Name: `` (shortened to fit half a line) starts the first line whenever the speaker changes;
    cues from ``subtitle_cues`` left room for it, given the same ``max_chars_per_line``.
    """
    blocks = []
    previous_speaker: str | None = None
    for number, cue in enumerate(cues, start=1):
        text = cue.text
        if cue.speaker != previous_speaker:
            text = _speaker_prefix(cue.speaker, max_chars_per_line) + text
        previous_speaker = cue.speaker
        timing = f"{_timestamp(cue.start_s, ',')} --> {_timestamp(cue.end_s, ',')}"
        blocks.append(f"{number}\n{timing}\n{text}\n")
    return "\n".join(blocks)


def to_vtt(cues: Sequence[SubtitleCue]) -> str:
    """WebVTT text: ``WEBVTT`` header, ``HH:MM:SS.mmm`` times, the speaker as a ``<v Name>`` voice tag.

    ``&``, ``<`` and ``>`` in the text and the speaker name are escaped as character references.
    """
    blocks = ["WEBVTT\n"]
    for cue in cues:
        timing = f"{_timestamp(cue.start_s, '.')} --> {_timestamp(cue.end_s, '.')}"
        voice = f"<v {_vtt_escape(cue.speaker)}>" if cue.speaker else ""
        blocks.append(f"{timing}\n{voice}{_vtt_escape(cue.text)}\n")
    return "\n".join(blocks)


@dataclass(frozen=True)
class _Token:
    text: str
    space_before: bool


def _timed_texts(timeline: Timeline) -> list[tuple[float, float, str, str]]:
    """(start_s, end_s, text, speaker) per segment (per utterance if it has none), by start time."""
    items = []
    for utterance in timeline.utterances:
        spans = utterance.segments or (utterance,)
        items.extend((s.start_s, s.end_s, s.text, utterance.speaker) for s in spans)
    return sorted(items, key=lambda item: item[0])


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def _tokens(text: str) -> list[_Token]:
    """Unbreakable units of ``text``: words, single CJK characters, punctuation glued to neighbours."""
    raw: list[_Token] = []
    for match in re.finditer(r"\S+", text):
        spaced = True
        for run in _runs(match.group()):
            raw.append(_Token(run, spaced))
            spaced = False
    tokens: list[_Token] = []
    glue_next = False
    for token in raw:
        attach = tokens and not token.space_before and (glue_next or token.text[0] in _NO_LINE_START)
        if attach:
            tokens[-1] = _Token(tokens[-1].text + token.text, tokens[-1].space_before)
        else:
            tokens.append(token)
        glue_next = token.text[-1] in _NO_LINE_END
    return tokens


def _runs(word: str) -> list[str]:
    """Split a space-free word into runs: each CJK character alone, other characters grouped."""
    runs: list[str] = []
    for char in word:
        if _is_cjk(char) or not runs or _is_cjk(runs[-1][-1]):
            runs.append(char)
        else:
            runs[-1] += char
    return runs


def display_width(text: str) -> int:
    """Columns ``text`` takes on screen: CJK characters are double width."""
    return sum(2 if _is_cjk(c) else 1 for c in text)


def _cut_to_width(text: str, width: int) -> int:
    """How many leading characters of ``text`` fit in ``width`` columns (at least one)."""
    used = 0
    for i, char in enumerate(text):
        used += display_width(char)
        if used > width:
            return max(1, i)
    return len(text)


def _wrap(tokens: list[_Token], first_width: int, width: int) -> list[str]:
    """Greedy line filling in display columns; the first line holds ``first_width``, the others ``width``.

    A token wider than a whole line is cut between characters.
    """
    lines: list[str] = []
    current = ""
    for token in tokens:
        text, space = token.text, token.space_before
        while text:
            capacity = max(1, first_width if not lines else width)
            piece = (" " if space and current else "") + text
            if display_width(current) + display_width(piece) <= capacity:
                current += piece
                break
            if current:
                lines.append(current)
                current = ""
                continue
            cut = _cut_to_width(text, capacity)
            lines.append(text[:cut])
            text, space = text[cut:], False
    if current:
        lines.append(current)
    return lines


def _split_span(start_ms: int, end_ms: int, weights: list[int]) -> list[int]:
    """``len(weights) + 1`` strictly increasing boundaries from start to end, spaced by weight."""
    total = sum(weights) or 1
    count = len(weights)
    bounds = [start_ms]
    cumulative = 0
    for i, weight in enumerate(weights[:-1], start=1):
        cumulative += weight
        ideal = start_ms + round((end_ms - start_ms) * cumulative / total)
        bounds.append(min(max(ideal, bounds[-1] + MIN_CUE_MS), end_ms - MIN_CUE_MS * (count - i)))
    bounds.append(end_ms)
    return bounds


def _speaker_prefix(speaker: str, max_chars_per_line: int) -> str:
    """``"Name: "``, with the name cut (and ``…`` added) so the prefix takes at most half a line."""
    if not speaker:
        return ""
    room = max_chars_per_line // 2 - 2  # ": " takes two
    if room < 1:
        return ""
    name = speaker if display_width(speaker) <= room else speaker[: _cut_to_width(speaker, room - 1)] + "…"
    return f"{name}: " if name != "…" else ""


def _to_ms(seconds: float) -> int:
    return max(0, int(round(seconds * 1000.0)))


def _timestamp(seconds: float, separator: str) -> str:
    ms = _to_ms(seconds)
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- MP3 ----------------------------------------------------------------------------------------


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """Float audio → int16 ``(samples, channels)``: clip to [-1, 1], add TPDF dither (±1 LSB), round.

    The dither comes from a generator seeded with ``DITHER_SEED``, so equal input gives equal output.
    """
    x = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0) * np.float32(PCM16_SCALE)
    rng = np.random.default_rng(DITHER_SEED)
    x += rng.random(x.shape, dtype=np.float32) - rng.random(x.shape, dtype=np.float32)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def encode_mp3(
    audio: np.ndarray,
    sample_rate: int,
    *,
    bitrate_kbps: int = 192,
    title: str = "",
    chapters: Sequence[PlacedChapter] = (),
    artist: str = "dramaflow",
) -> bytes:
    """Stereo CBR MP3 (LAME quality 2) with an ID3v2.4 tag: title, artist, encoder and chapters.

    Mono input is played on both channels. Deterministic: equal arguments give equal bytes.
    Decoders see LAME's 1105-sample start delay (no gapless header is written); see MP3_DELAY_SAMPLES.
    """
    pcm = to_pcm16(to_stereo(_finite(audio)))
    return _id3_tag(title, artist, bitrate_kbps, chapters) + _lame(pcm, sample_rate, bitrate_kbps)


def decode_mp3(data: bytes) -> tuple[np.ndarray, int]:
    """Decode MP3 bytes with libsndfile → (float32 ``(samples, channels)``, sample_rate)."""
    import soundfile

    audio, sample_rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return audio, int(sample_rate)


# LAME's encoder delay (576) plus the mpg123 decoder delay (529): decoded audio starts this late.
MP3_DELAY_SAMPLES = 1105
MP3_FRAME_SAMPLES = 1152


def _lame(pcm: np.ndarray, sample_rate: int, bitrate_kbps: int) -> bytes:
    import lameenc

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(int(bitrate_kbps))
    encoder.set_in_sample_rate(int(sample_rate))
    encoder.set_channels(pcm.shape[1])
    encoder.set_quality(MP3_QUALITY)
    return bytes(encoder.encode(np.ascontiguousarray(pcm).tobytes()) + encoder.flush())


def _id3_tag(title: str, artist: str, bitrate_kbps: int, chapters: Sequence[PlacedChapter]) -> bytes:
    from mutagen.id3 import CHAP, CTOC, ID3, TIT2, TPE1, TSSE, CTOCFlags

    tag = ID3()
    if title:
        tag.add(TIT2(encoding=3, text=[title]))
    if artist:
        tag.add(TPE1(encoding=3, text=[artist]))
    tag.add(TSSE(encoding=3, text=[_encoder_string(bitrate_kbps)]))
    ids = [f"chp{i}" for i in range(len(chapters))]
    for element_id, chapter in zip(ids, chapters, strict=True):
        tag.add(
            CHAP(
                element_id=element_id,
                start_time=_to_ms(chapter.start_s),
                end_time=_to_ms(chapter.end_s),
                start_offset=ID3_NO_BYTE_OFFSET,
                end_offset=ID3_NO_BYTE_OFFSET,
                sub_frames=[TIT2(encoding=3, text=[chapter.title])],
            )
        )
    if ids:
        flags = CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED
        tag.add(CTOC(element_id="toc", flags=flags, child_element_ids=ids, sub_frames=[]))
    buffer = io.BytesIO()
    tag.save(buffer, v2_version=4, padding=lambda info: 0)
    return buffer.getvalue()


def _encoder_string(bitrate_kbps: int) -> str:
    return f"dramaflow {_version('dramaflow')}; LAME (lameenc {_version('lameenc')}) CBR {bitrate_kbps} kbps"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _finite(audio: np.ndarray) -> np.ndarray:
    x = np.asarray(audio, dtype=np.float32)
    if not np.all(np.isfinite(x)):
        raise ValueError("audio contains NaN or infinite samples")
    return x


# --- writing the outputs --------------------------------------------------------------------


@dataclass(frozen=True)
class OutputSettings:
    """What a template may set for the output stage."""

    mp3_bitrate_kbps: int = 256
    max_true_peak_dbtp: float = -1.0

    def __post_init__(self) -> None:
        check_choice(self, "mp3_bitrate_kbps", (64, 96, 128, 160, 192, 224, 256, 320))
        check_ranges(self, {"max_true_peak_dbtp": (-12.0, 0.0)})


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


@dataclass(frozen=True)
class _Encoded:
    pcm: np.ndarray  # int16, the exact samples in both the WAV and the MP3
    mp3: bytes
    decoded: np.ndarray
    decoded_rate: int
    gain_adjust_db: float
    mp3_true_peak_dbtp: float


def write_outputs(
    mp3_path: Path,
    master: np.ndarray,
    sample_rate: int,
    timeline: Timeline,
    *,
    title: str,
    max_true_peak_dbtp: float = -1.0,
    bitrate_kbps: int = 256,
    extra_report: dict[str, Any] | None = None,
) -> OutputReport:
    """Encode and write the MP3, WAV (16-bit, exactly ``len(master)`` samples), timeline JSON, SRT, VTT.

    - If the decoded MP3's true peak exceeds ``max_true_peak_dbtp``, the master is turned down by the
      excess plus ``TRUE_PEAK_MARGIN_DB`` and re-encoded (at most ``MAX_TRUE_PEAK_RETRIES`` times);
      the WAV carries the same final samples as the MP3.
    - All or nothing: every file is written to a hidden ``.NAME.*.partial`` file in the destination
      folder (created if missing) and fsynced; only then is each moved into place, the MP3 last. On
      any error no new file is left behind and the error is re-raised.
    """
    files = output_paths(Path(mp3_path))
    stereo = to_stereo(_finite(master))
    encoded = _encode_within_true_peak(
        stereo,
        sample_rate,
        max_true_peak_dbtp=max_true_peak_dbtp,
        encode=lambda pcm: (
            _id3_tag(title, "dramaflow", bitrate_kbps, timeline.chapters)
            + _lame(pcm, sample_rate, bitrate_kbps)
        ),
    )
    wav_audio = encoded.pcm.astype(np.float32) / np.float32(32768.0)
    report = OutputReport(
        files=files,
        wav_lufs=integrated_lufs(wav_audio, sample_rate),
        wav_true_peak_dbtp=true_peak_dbtp(wav_audio, sample_rate),
        mp3_lufs=integrated_lufs(encoded.decoded, encoded.decoded_rate),
        mp3_true_peak_dbtp=encoded.mp3_true_peak_dbtp,
        mp3_gain_adjust_db=encoded.gain_adjust_db,
        duration_s=stereo.shape[0] / sample_rate,
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


def _encode_within_true_peak(
    master: np.ndarray,
    sample_rate: int,
    *,
    max_true_peak_dbtp: float,
    encode: Callable[[np.ndarray], bytes],
) -> _Encoded:
    gain_adjust_db = 0.0
    for attempt in range(MAX_TRUE_PEAK_RETRIES + 1):
        scaled = master if gain_adjust_db == 0.0 else master * np.float32(db_to_gain(gain_adjust_db))
        pcm = to_pcm16(scaled)
        mp3 = encode(pcm)
        decoded, decoded_rate = decode_mp3(mp3)
        peak_dbtp = true_peak_dbtp(decoded, decoded_rate)
        if peak_dbtp <= max_true_peak_dbtp or attempt == MAX_TRUE_PEAK_RETRIES:
            break
        gain_adjust_db -= peak_dbtp - max_true_peak_dbtp + TRUE_PEAK_MARGIN_DB
    if peak_dbtp > max_true_peak_dbtp:
        warn(
            f"MP3 true peak {peak_dbtp:.2f} dBTP is above {max_true_peak_dbtp:.2f} dBTP after "
            f"{MAX_TRUE_PEAK_RETRIES} gain corrections"
        )
    return _Encoded(pcm, mp3, decoded, decoded_rate, gain_adjust_db, peak_dbtp)


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


Stage = Callable[[Path, Callable[[BinaryIO], Any]], None]


@contextmanager
def _staged_files() -> Iterator[Stage]:
    """Yield ``stage(final_path, write)``; on clean exit move every staged file into place, in order.

    ``write`` fills a hidden temp file beside ``final_path``, which is then flushed and fsynced. On
    any error (while staging or while moving) every temp file is removed, as is every final file
    that this call created, and the error propagates.
    """
    staged: list[tuple[Path, Path, bool]] = []  # (temp, final, final existed before)
    moved: list[tuple[Path, bool]] = []

    def stage(final: Path, write: Callable[[BinaryIO], Any]) -> None:
        fd, temp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
        temp = Path(temp_name)
        staged.append((temp, final, final.exists()))
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; published files follow the umask
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())

    try:
        yield stage
        for temp, final, existed in staged:
            os.replace(temp, final)
            moved.append((final, existed))
        _fsync_directories({final.parent for _, final, _ in staged})
    except BaseException as exc:
        for temp, _, _ in staged:
            temp.unlink(missing_ok=True)
        for final, existed in moved:
            if not existed:
                final.unlink(missing_ok=True)
        folder = staged[-1][1].parent if staged else None
        if isinstance(exc, Exception) and not _is_enospc(exc) and folder and _disk_full(folder):
            # a writer that fails on a full disk may say anything (an AssertionError, a short write)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder)) from exc
        raise


DISK_FULL_BYTES = 1 << 20  # less free space than this after a failed write: the disk was full


def _is_enospc(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def _disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < DISK_FULL_BYTES
    except OSError:
        return False


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _fsync_directories(directories: set[Path]) -> None:
    """Make the renames durable; not every platform can open a directory, which is fine."""
    for directory in directories:
        try:
            fd = os.open(directory, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


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
