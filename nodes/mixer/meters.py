"""What mastering needs to know about a programme, measured in one pass and kept small.

Mastering tries several gains. For each it needs the programme's hop energies, where the 4× oversampled
peak passes the limiter's threshold (and the peak around those places), and the per-sample K-weighted
energy where the limiter acts. Held whole, the energy and the peak are two more programme-length arrays:
1.3 GB for an hour at 44.1 kHz. ``ProgrammeMeters`` keeps instead:

- the hop energies;
- the peak only where it is above ``floor`` (a few percent of the samples), as block-relative indices
  and values. Below the floor the limiter's required gain is exactly 1 whatever the value, so a span of
  the peak with zeros there gives the limiter the same bits. A threshold that comes within
  ``FLOOR_MARGIN`` of the floor measures the peak again with a lower floor;
- the energy of the first blocks, up to ``ENERGY_CACHE_BYTES`` (a whole demo), and for every block the
  filter state at its start, from which any other block's energy is computed again, to the same bits.
"""

from __future__ import annotations

import numpy as np

from nodes.common.audio import CHUNK_SAMPLES, _hops_of, block_peak_at, k_weight_block, k_weighting

FLOOR_MARGIN = 1.001  # a threshold at least this many times the floor: every peak that matters is kept
ENERGY_CACHE_BYTES = 64 << 20


class ProgrammeMeters:
    def __init__(self, x: np.ndarray, sample_rate: int, floor: float) -> None:
        self.x, self.sample_rate = x, sample_rate
        self.starts = range(0, len(x), CHUNK_SAMPLES)
        self._stages = k_weighting(sample_rate)
        self._states: list[list | None] = []  # the filters' state at each block's start
        self._energy: dict[int, np.ndarray] = {}  # block start → energy, the first blocks
        self._recent: dict[int, np.ndarray] = {}  # blocks beyond those, computed again when asked for
        self._cached = 0
        self.floor = floor
        self._peaks: list[tuple[np.ndarray, np.ndarray]] = []  # per block: indices above the floor, values
        self.max_peak = 0.0
        self.hops = _hops_of(self._scan(), sample_rate)

    def __len__(self) -> int:
        return len(self.x)

    def _scan(self):
        states = None
        for start in self.starts:
            self._states.append(states)
            energy, states = k_weight_block(self.x[start:start + CHUNK_SAMPLES], self._stages, states)
            if self._cached + energy.nbytes <= ENERGY_CACHE_BYTES:
                self._energy[start] = energy
                self._cached += energy.nbytes
            self._keep_peaks(start)
            yield energy

    def _keep_peaks(self, start: int) -> None:
        peak = block_peak_at(self.x, start, self.sample_rate)
        if peak.size:
            self.max_peak = max(self.max_peak, float(peak.max()))
        where = np.flatnonzero(peak > self.floor).astype(np.int32)
        self._peaks.append((where, peak[where]))

    def above(self, threshold: float) -> np.ndarray:
        """Indices where the peak is above ``threshold``: ``np.flatnonzero(peak > threshold)``."""
        if threshold < FLOOR_MARGIN * self.floor:
            self.floor = threshold / (2 * FLOOR_MARGIN)
            self._peaks = []
            for start in self.starts:
                self._keep_peaks(start)
        found = [where[values > threshold].astype(np.int64) + start
                 for start, (where, values) in zip(self.starts, self._peaks, strict=True)]
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

    def peak(self, lo: int, hi: int) -> np.ndarray:
        """The peak over [lo, hi), zero where it is under the floor."""
        out = np.zeros(max(0, hi - lo), dtype=np.float32)
        for k in range(lo // CHUNK_SAMPLES, -(-hi // CHUNK_SAMPLES)):
            where, values = self._peaks[k]
            at = where.astype(np.int64) + k * CHUNK_SAMPLES
            inside = (at >= lo) & (at < hi)
            out[at[inside] - lo] = values[inside]
        return out

    def energy(self, lo: int, hi: int) -> np.ndarray:
        """The per-sample K-weighted energy over [lo, hi)."""
        first = lo // CHUNK_SAMPLES * CHUNK_SAMPLES
        parts = [self._energy_at(start) for start in range(first, hi, CHUNK_SAMPLES)]
        joined = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return joined[lo - first:hi - first]

    def _energy_at(self, start: int) -> np.ndarray:
        if start in self._energy:
            return self._energy[start]
        if start not in self._recent:  # computed again from the state at its start; the last two kept
            if len(self._recent) >= 2:
                self._recent.pop(next(iter(self._recent)))
            states = self._states[start // CHUNK_SAMPLES]
            self._recent[start] = k_weight_block(self.x[start:start + CHUNK_SAMPLES], self._stages, states)[0]
        return self._recent[start]
