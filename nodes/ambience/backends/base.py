"""What an ambience backend is, and where backends are looked up by name.

An ambience backend turns a short text prompt into audio:

- ``render_bed`` gives a continuous background bed ("heavy rain, distant thunder") of an exact length;
- ``render_sfx`` gives a one-shot sound effect ("door knock") whose length is
  ``sfx_duration_s(prompt, duration_s)`` rounded to samples with ``seconds_to_samples``.

Every result is a ``Sound``: float32 stereo ``(samples, 2)`` at the requested sample rate, the names
of what matched the prompt, and whether a default had to stand in because nothing matched.
Backends are listed by name in ``registry.py``; ``get_backend("procedural")`` needs no files, no network
and no models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from nodes.common.errors import ConfigError


@dataclass(frozen=True)
class Sound:
    """One rendered bed or one-shot.

    ``audio`` is float32 ``(samples, 2)`` stereo at ``sample_rate``; ``matched`` names the scenes or
    one-shots that were used (in order); ``fallback`` is True when nothing in the prompt matched and a
    default (room tone, a soft impact) was used instead.
    """

    audio: np.ndarray
    sample_rate: int
    matched: tuple[str, ...]
    fallback: bool

    def __post_init__(self) -> None:
        if self.audio.ndim != 2 or self.audio.shape[1] != 2:
            raise ValueError(f"Sound.audio must be shaped (samples, 2), got {self.audio.shape}")
        if self.audio.dtype != np.float32:
            raise ValueError(f"Sound.audio must be float32, got {self.audio.dtype}")
        if self.sample_rate <= 0:
            raise ValueError(f"Sound.sample_rate must be positive, got {self.sample_rate}")

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / self.sample_rate


@runtime_checkable
class AmbienceBackend(Protocol):
    """Renders ambience beds and one-shot effects from text prompts.

    Contracts every backend keeps:

    - the same arguments give bit-identical audio; another ``seed`` gives different audio;
    - ``render_bed`` returns exactly ``seconds_to_samples(duration_s, sample_rate)`` samples;
    - ``render_sfx`` returns exactly ``seconds_to_samples(sfx_duration_s(prompt, duration_s),
      sample_rate)`` samples, and ``sfx_duration_s`` is a pure lookup (nothing is rendered);
    - a prompt that matches nothing still gives audible sound with ``fallback=True`` and a
      ``DramaflowWarning`` naming the prompt; never silence.
    """

    name: str

    def render_bed(self, prompt: str, duration_s: float, sample_rate: int, seed: int) -> Sound: ...

    def render_sfx(
        self, prompt: str, sample_rate: int, seed: int, duration_s: float | None = None
    ) -> Sound: ...

    def sfx_duration_s(self, prompt: str, duration_s: float | None = None) -> float: ...

    def describe(self) -> dict[str, list[str]]:
        """``{"scenes": [...], "sfx": [...]}``: one ``"name: keyword, keyword, ..."`` line per entry."""
        ...


class BackendUnavailable(ConfigError):
    """A backend's model, packages or files are not on this machine. A render then uses the procedural
    backend and says so in a warning; ``dramaflow ambience generate`` refuses with this message."""
