"""Listener-proxy measures of voices: MFCC statistics and pitch, and the distance between two voices.

There is no offline speaker-embedding model on the package registries (issue 18's research), so a voice
is summarised as a Gaussian of its MFCCs (coefficients 1–12, 16 kHz, voiced frames) plus the median and
spread of its pitch in semitones. The distance between two voices is the symmetric Kullback–Leibler
divergence of their MFCC Gaussians (per dimension), and the pitch gap is reported beside it. The same
voice on two different texts gives the baseline: how far a voice is from itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ANALYSIS_RATE = 16_000
FRAME_S, HOP_S = 0.025, 0.010
MEL_BANDS, CEPSTRA = 40, 12
VOICED_DB_BELOW_PEAK = 35.0  # frames quieter than this under the loudest frame are pauses


@dataclass(frozen=True)
class VoiceStats:
    mfcc_mean: np.ndarray
    mfcc_cov: np.ndarray
    f0_median_st: float  # semitones over 55 Hz
    f0_spread_st: float  # interquartile range, semitones
    frames: int


def _mel_filters(n_fft: int, sample_rate: int) -> np.ndarray:
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    edges_hz = 700.0 * (10 ** (np.linspace(mel(60.0), mel(sample_rate / 2), MEL_BANDS + 2) / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    filters = np.zeros((MEL_BANDS, bins.size))
    for k in range(MEL_BANDS):
        lo, mid, hi = edges_hz[k: k + 3]
        filters[k] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0.0, None)
    return filters


def voice_stats(audio: np.ndarray, sample_rate: int) -> VoiceStats:
    import pyworld
    from scipy.fft import dct

    from nodes.common.audio import resample

    x = resample(audio.reshape(-1, 1).astype(np.float32), sample_rate, ANALYSIS_RATE)[:, 0].astype(np.float64)
    frame, hop = int(FRAME_S * ANALYSIS_RATE), int(HOP_S * ANALYSIS_RATE)
    n_fft = 512
    starts = np.arange(0, x.size - frame, hop)
    frames = np.stack([x[s: s + frame] for s in starts]) * np.hamming(frame)
    power = np.abs(np.fft.rfft(frames, n_fft)) ** 2
    energy_db = 10 * np.log10(power.sum(axis=1) + 1e-12)
    voiced = energy_db > energy_db.max() - VOICED_DB_BELOW_PEAK
    logmel = np.log(power[voiced] @ _mel_filters(n_fft, ANALYSIS_RATE).T + 1e-10)
    cepstra = dct(logmel, type=2, norm="ortho", axis=1)[:, 1: CEPSTRA + 1]
    f0, t = pyworld.dio(x, ANALYSIS_RATE)
    f0 = pyworld.stonemask(x, f0, t, ANALYSIS_RATE)
    st = 12 * np.log2(f0[f0 > 0] / 55.0)
    return VoiceStats(mfcc_mean=cepstra.mean(axis=0), mfcc_cov=np.cov(cepstra, rowvar=False),
                      f0_median_st=float(np.median(st)), f0_spread_st=float(np.subtract(*np.percentile(st, [75, 25]))),
                      frames=int(voiced.sum()))


def mfcc_distance(a: VoiceStats, b: VoiceStats) -> float:
    """Symmetric KL divergence of the two MFCC Gaussians, per dimension."""
    inv_a, inv_b = np.linalg.inv(a.mfcc_cov), np.linalg.inv(b.mfcc_cov)
    d = a.mfcc_mean - b.mfcc_mean
    kl = 0.5 * (np.trace(inv_b @ a.mfcc_cov) + np.trace(inv_a @ b.mfcc_cov) - 2 * CEPSTRA
                + d @ (inv_a + inv_b) @ d)
    return float(kl / CEPSTRA)


def pitch_gap_st(a: VoiceStats, b: VoiceStats) -> float:
    return abs(a.f0_median_st - b.f0_median_st)
