"""The scipy-free filters give scipy's (and pyloudnorm's) numbers to the bit, and the stages that use them
no longer import scipy.signal, scipy.ndimage or pyloudnorm."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyloudnorm
import pytest
from scipy.ndimage import minimum_filter1d
from scipy.signal import lfilter

from nodes.common.audio import k_weighting
from nodes.common.iir import linear_filter, running_min

RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000)


@pytest.mark.parametrize("sample_rate", RATES)
def test_k_weighting_is_pyloudnorms_to_the_bit(sample_rate):
    ours = k_weighting(sample_rate)
    theirs = [(stage.b, stage.a) for stage in pyloudnorm.Meter(sample_rate)._filters.values()]
    assert [stage.passband_gain for stage in pyloudnorm.Meter(sample_rate)._filters.values()] == [1.0, 1.0]
    assert len(ours) == len(theirs) == 2
    for (b, a), (b_ref, a_ref) in zip(ours, theirs, strict=True):
        assert b.tobytes() == b_ref.tobytes() and a.tobytes() == a_ref.tobytes()


def test_linear_filter_is_lfilter_to_the_bit():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 50_000))
    for b, a in k_weighting(44100) + [(np.array([0.2]), np.array([1.0, -0.8]))]:
        zi = rng.standard_normal((2, max(len(a), len(b)) - 1))
        y, zf = linear_filter(b, a, x, zi)
        y_ref, zf_ref = lfilter(b, a, x, axis=-1, zi=zi)
        assert y.tobytes() == y_ref.tobytes() and zf.tobytes() == zf_ref.tobytes()
    one_d = rng.standard_normal(1000)
    y, _ = linear_filter([0.5], [1.0, -0.5], one_d, [0.25])
    assert y.tobytes() == lfilter([0.5], [1.0, -0.5], one_d, zi=[0.25])[0].tobytes()


def test_linear_filter_refuses_a_plain_fir():
    with pytest.raises(ValueError, match="recursive"):
        linear_filter([1.0, 0.5], [1.0], np.ones(4), np.zeros(1))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 220, 221, 999, 1000, 1500])
def test_running_min_is_minimum_filter1d(size):
    rng = np.random.default_rng(size)
    for n in (1, 5, 999, 1000, 1001, 4321):
        x = rng.random(n)
        assert np.array_equal(running_min(x, size),
                              minimum_filter1d(x, size=size, origin=-(size // 2), mode="nearest"))


SLOW_MODULES = ("scipy.signal", "scipy.ndimage", "pyloudnorm")


def test_mastering_and_measuring_import_no_slow_scipy_modules():
    """A mixer or output node masters and measures without the 2.9 s of CPU those imports cost."""
    code = (
        "import sys, numpy as np\n"
        "from nodes.mixer.core import master, MixConfig\n"
        "from nodes.common.audio import integrated_lufs, true_peak_dbtp\n"
        "x = (np.random.default_rng(0).standard_normal((44100 * 3, 2)) * 0.05).astype(np.float32)\n"
        "x[44100::22050] = 0.9  # clicks the limiter has to catch\n"
        "r = master(x, 44100, MixConfig())\n"
        "assert r.limiter_max_reduction_db > 0, 'the limiter did not run'\n"
        "integrated_lufs(r.master, 44100), true_peak_dbtp(r.master, 44100)\n"
        f"print(sorted(m for m in {SLOW_MODULES!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_scipy_signal_imported_afterwards_reuses_the_loaded_module():
    code = (
        "import numpy as np\n"
        "from nodes.common.iir import linear_filter, _sigtools\n"
        "first = _sigtools()\n"
        "import scipy.signal\n"
        "assert scipy.signal._signaltools._sigtools is first\n"
        "x = np.arange(10.0)\n"
        "assert np.array_equal(scipy.signal.lfilter([1.0], [1.0, -0.5], x), linear_filter([1.0], [1.0, -0.5], x, [0.0])[0])\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize("sample_rate", [24000, 44100, 48000])
def test_streamed_meters_equal_the_whole_array_ones_to_the_bit(sample_rate, monkeypatch):
    """Loudness and true peak measured chunk by chunk (int16 converted per chunk, hops carried across
    chunks) give the numbers the programme-length arrays give."""
    from nodes.common import audio

    monkeypatch.setattr(audio, "CHUNK_SAMPLES", 10_007)  # chunks that cut hops and oversampling context
    rng = np.random.default_rng(sample_rate)
    pcm = (rng.standard_normal((sample_rate * 3 + 17, 2)) * 4000).astype(np.int16)
    as_float = pcm.astype(np.float32) / np.float32(32768.0)
    hops = audio.hop_energies(audio.k_weighted_energy(as_float, sample_rate), sample_rate)
    assert audio._streamed_hop_energies(pcm, sample_rate).tobytes() == hops.tobytes()
    assert audio._streamed_hop_energies(as_float, sample_rate).tobytes() == hops.tobytes()
    assert audio.integrated_lufs(pcm, sample_rate) == audio.gated_loudness(hops, sample_rate)
    assert audio.true_peak_dbtp(pcm, sample_rate) == audio.gain_to_db(
        float(audio.oversampled_peak(as_float, sample_rate).max()))
    assert audio.oversampled_peak(pcm, sample_rate).tobytes() == audio.oversampled_peak(as_float, sample_rate).tobytes()
    assert audio.integrated_lufs(np.zeros((sample_rate, 2), np.int16), sample_rate) == -np.inf
    assert audio.true_peak_dbtp(np.zeros((0, 2), np.float32), sample_rate) == -np.inf


def old_oversampled_peak(x, sample_rate, chunk):
    """The chunked oversampled peak as it was written before the meters streamed (array slices)."""
    import soxr

    from nodes.common.audio import OVERSAMPLE_MARGIN, TRUE_PEAK_OVERSAMPLE, _abs_max_over_columns

    n, peak = len(x), np.empty(len(x), dtype=np.float32)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        lo, hi = max(0, start - OVERSAMPLE_MARGIN), min(n, stop + OVERSAMPLE_MARGIN)
        up = _abs_max_over_columns(soxr.resample(x[lo:hi], sample_rate, sample_rate * TRUE_PEAK_OVERSAMPLE))
        m = hi - lo
        up = np.pad(up, (0, max(0, m * 4 - len(up))))[: m * 4].reshape(m, 4)
        inner = slice(start - lo, start - lo + (stop - start))
        peak[start:stop] = np.maximum(_abs_max_over_columns(up[inner]), _abs_max_over_columns(x[start:stop]))
    return peak


@pytest.mark.parametrize("frames", [10_007 * 3, 10_007 * 3 + 500, 10_007 * 2 + 1])
def test_block_meters_give_the_old_chunked_numbers(frames, monkeypatch):
    """Blocks with one block of look-ahead (a last block shorter than the context margin too) give the
    peaks the array slices gave, and measure_blocks the whole array's loudness and true peak."""
    from nodes.common import audio

    monkeypatch.setattr(audio, "CHUNK_SAMPLES", 10_007)
    x = (np.random.default_rng(frames).standard_normal((frames, 2)) * 0.2).astype(np.float32)
    old = old_oversampled_peak(x, 44100, 10_007)
    assert audio.oversampled_peak(x, 44100).tobytes() == old.tobytes()
    blocks = (x[s:s + 10_007] for s in range(0, frames, 10_007))
    lufs, peak_dbtp = audio.measure_blocks(blocks, 44100)
    assert lufs == audio.integrated_lufs(x, 44100) and peak_dbtp == audio.gain_to_db(float(old.max()))
    assert audio.measure_blocks(iter([np.zeros((100, 2), np.float32)]), 44100) == (-np.inf, -np.inf)
    assert audio.measure_blocks(iter([]), 44100) == (-np.inf, -np.inf)
