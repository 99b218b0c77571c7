"""MP3 encoding: float audio to dithered 16-bit PCM, LAME CBR encoding behind an ID3v2.4 tag (title,
artist, encoder and CHAP/CTOC chapters), decoding for measurement, and re-encoding with less gain
until the decoded MP3's true peak fits (``_encode_within_true_peak``). Deterministic: equal input, equal bytes."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata

import numpy as np

from nodes.common.audio import integrated_lufs, to_stereo, true_peak_dbtp
from nodes.common.errors import warn
from nodes.common.types import PlacedChapter
from nodes.output.subtitles import _to_ms

PCM16_SCALE = 32767.0
DITHER_SEED = 0x0D1A  # fixed so that the same master always gives the same bytes
BLOCK_ROWS = 1 << 18  # rows dithered, encoded or checked at once: memory stays at one block beyond the result

MP3_QUALITY = 2  # LAME's -q 2: near-best quality, still fast
MAX_TRUE_PEAK_RETRIES = 3
TRUE_PEAK_MARGIN_DB = 0.1  # extra cut beyond the measured excess, so one retry usually suffices
ID3_NO_BYTE_OFFSET = 0xFFFFFFFF  # CHAP byte offsets "not used": players seek by time


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """Float audio → int16 ``(samples, channels)``: clip to [-1, 1], add TPDF dither (±1 LSB), round.

    The dither is the difference of two uniform draws from a generator seeded with ``DITHER_SEED`` (the
    first draw for every sample, then the second), so equal input gives equal output. It is made
    ``BLOCK_ROWS`` rows at a time, the second draw from a twin generator advanced past the first:
    memory stays at the int16 result plus one block, the bytes those of drawing both whole.
    """
    x = np.asarray(audio, dtype=np.float32)
    return _pcm16(x.shape, (x[start:start + BLOCK_ROWS] for start in range(0, len(x), BLOCK_ROWS)))


def _pcm16(shape: tuple[int, ...], blocks: Iterable[np.ndarray]) -> np.ndarray:
    """``to_pcm16`` of a signal of ``shape`` given as consecutive float32 blocks."""
    out = np.empty(shape, dtype=np.int16)
    size = int(np.prod(shape))
    first = np.random.default_rng(DITHER_SEED)
    second = np.random.default_rng(DITHER_SEED)
    second.bit_generator.advance(size // 2)  # PCG64 gives two float32 draws per 64-bit step
    if size % 2:
        second.random(dtype=np.float32)  # the step the first draw's last value came from
    start = 0
    for block in blocks:
        part = np.clip(block, -1.0, 1.0)
        part *= np.float32(PCM16_SCALE)
        dither = first.random(part.shape, dtype=np.float32)
        dither -= second.random(part.shape, dtype=np.float32)
        part += dither
        np.rint(part, out=part)
        np.clip(part, -32768, 32767, out=part)
        out[start:start + len(part)] = part
        start += len(part)
    if start != len(out):
        raise RuntimeError(f"expected {len(out)} samples, got {start}")
    return out


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
    pcm = np.ascontiguousarray(pcm)
    mp3 = bytearray()
    for start in range(0, len(pcm), BLOCK_ROWS):  # the same bytes as one call, without a copy of the PCM
        mp3 += encoder.encode(pcm[start:start + BLOCK_ROWS])
    mp3 += encoder.flush()
    return bytes(mp3)


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
    if not all(np.isfinite(x[start:start + BLOCK_ROWS]).all() for start in range(0, len(x), BLOCK_ROWS)):
        raise ValueError("audio contains NaN or infinite samples")
    return x


@dataclass(frozen=True)
class _Encoded:
    pcm: np.ndarray  # int16, the exact samples in both the WAV and the MP3
    mp3: bytes
    mp3_lufs: float
    gain_adjust_db: float
    mp3_true_peak_dbtp: float
    wav_lufs: float
    wav_true_peak_dbtp: float


def _measure_mp3(mp3: bytes) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of the decoded MP3, decoded and measured block by block: the
    numbers of measuring ``decode_mp3``'s whole array, without holding it (a test compares them)."""
    import soundfile

    from nodes.common import audio

    def blocks(decoder: soundfile.SoundFile):
        # read() to the real end: an MP3's frame count is an estimate, and blocks() pads to it
        while len(block := decoder.read(audio.CHUNK_SAMPLES, dtype="float32", always_2d=True)):
            yield block

    with soundfile.SoundFile(io.BytesIO(mp3)) as decoder:
        return audio.measure_blocks(blocks(decoder), int(decoder.samplerate))


def _encode_and_measure(encode: Callable[[np.ndarray], bytes], pcm: np.ndarray) -> tuple[bytes, float, float]:
    mp3 = encode(pcm)
    return (mp3, *_measure_mp3(mp3))


def _measure_pcm16(pcm: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of int16 samples as a WAV player reads them (the meters convert
    them chunk by chunk, never the whole programme at once)."""
    return integrated_lufs(pcm, sample_rate), true_peak_dbtp(pcm, sample_rate)


def _encode_within_true_peak(
    pcm_for: Callable[[float], np.ndarray],
    sample_rate: int,
    *,
    max_true_peak_dbtp: float,
    encode: Callable[[np.ndarray], bytes],
) -> _Encoded:
    """Encode ``pcm_for(0.0)`` (the master as 16-bit PCM), and while the decoded MP3's true peak is over
    ``max_true_peak_dbtp``, ``pcm_for`` the master turned down and encode again. LAME (which lets go of the GIL) encodes and the MP3 is measured in a second
    thread while this one measures the WAV's samples: two cores, 1–2 s less wall per demo."""
    gain_adjust_db = 0.0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mp3") as pool:
        for attempt in range(MAX_TRUE_PEAK_RETRIES + 1):
            pcm = mp3 = None  # the last attempt's let go before the next is made
            pcm = pcm_for(gain_adjust_db)
            encoding = pool.submit(_encode_and_measure, encode, pcm)
            wav_lufs, wav_peak_dbtp = _measure_pcm16(pcm, sample_rate)
            mp3, mp3_lufs, peak_dbtp = encoding.result()
            if peak_dbtp <= max_true_peak_dbtp or attempt == MAX_TRUE_PEAK_RETRIES:
                break
            gain_adjust_db -= peak_dbtp - max_true_peak_dbtp + TRUE_PEAK_MARGIN_DB
    if peak_dbtp > max_true_peak_dbtp:
        warn(
            f"MP3 true peak {peak_dbtp:.2f} dBTP is above {max_true_peak_dbtp:.2f} dBTP after "
            f"{MAX_TRUE_PEAK_RETRIES} gain corrections"
        )
    return _Encoded(pcm, mp3, mp3_lufs, gain_adjust_db, peak_dbtp, wav_lufs, wav_peak_dbtp)
