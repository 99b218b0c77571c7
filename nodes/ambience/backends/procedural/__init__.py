"""Procedural ambience beds and one-shot sound effects, synthesized with numpy/scipy.

No sample files, no downloads, no models: every sound is filtered noise, sine partials and envelopes.

Beds
    A prompt is matched against the keywords of the scenes in ``_SCENES``; up to ``MAX_LAYERS``
    matched scenes (first by position in the prompt) are layered. Adjectives in the same clause as a
    scene's keyword shape it ("heavy" → louder and denser, "light" → quieter and sparser, "distant" →
    quieter and low-passed). A prompt that matches nothing gives room tone, ``fallback=True`` and a
    ``DramaflowWarning``. Beds are normalized to ``BED_LUFS`` integrated, fade in and out over
    ``BED_FADE_S`` and never contain a silent stretch.

One-shots
    The prompt picks one entry of ``_ONE_SHOTS`` (specific keywords beat generic ones such as "door"
    or "glass"). Each has a nominal duration; an explicit ``duration_s`` is clamped to
    ``SFX_MIN_S``…``SFX_MAX_S`` and longer requests repeat the pattern (more knocks, more steps, more
    rings) or let the tail ring out. One-shots are normalized to ``SFX_MAX_MOMENTARY_LUFS``.

Speed
    Long beds are not synthesized sample by sample: each stationary component is rendered once as a
    ``TEXTURE_S`` texture and recombined from random excerpts with equal-power crossfades; slow
    modulations and sparse events (thunder, cars, birds, clacks) run over the full length. Everything
    is added straight into the one output buffer, so a 30-minute bed needs one full-length array.

Determinism
    All randomness comes from a ``numpy`` generator seeded with a SHA-256 of (seed, kind, prompt).

Layout (each module imports only those listed before it)
    ``dsp`` noise, filters, tones and envelopes; ``blocks`` the generator context, gain curves,
    textures and grain scattering; ``beds_nature`` / ``beds_manmade`` the scene beds; ``oneshots`` the
    one-shots; ``levels`` loudness targets, limiting and fades; ``catalogue`` the table of scenes and
    one-shots with their keywords; ``matching`` prompt → scenes / one-shot; ``backend``
    ``ProceduralBackend``.
"""

from __future__ import annotations

from nodes.ambience.backends.procedural.backend import (
    BED_MAX_S,
    MIN_SAMPLE_RATE,
    PROBE_S,
    SFX_DISTANT_LOWPASS_HZ,
    SFX_MAX_S,
    SFX_MIN_S,
    ProceduralBackend,
)
from nodes.ambience.backends.procedural.blocks import CROSSFADE_S, SEGMENT_S, TEXTURE_S, WARMUP_S
from nodes.ambience.backends.procedural.catalogue import (
    FALLBACK_SCENE,
    FALLBACK_SFX,
    SCENE_KEYWORDS,
    SFX_KEYWORDS,
    SFX_NOMINAL_S,
)
from nodes.ambience.backends.procedural.levels import (
    BED_FADE_S,
    BED_LUFS,
    MEASURE_CHUNK_S,
    MEASURE_CHUNKS,
    PEAK_CEILING,
    SFX_FADE_OUT_S,
    SFX_MAX_MOMENTARY_LUFS,
)
from nodes.ambience.backends.procedural.matching import (
    DISTANT_GAIN_DB,
    DISTANT_LOWPASS_HZ,
    LAYER_OFFSETS_DB,
    LOUDER_GAIN_DB,
    LOUDER_INTENSITY,
    MAX_LAYERS,
    SOFTER_GAIN_DB,
    SOFTER_INTENSITY,
)

__all__ = [
    "BED_FADE_S",
    "BED_LUFS",
    "BED_MAX_S",
    "CROSSFADE_S",
    "DISTANT_GAIN_DB",
    "DISTANT_LOWPASS_HZ",
    "FALLBACK_SCENE",
    "FALLBACK_SFX",
    "LAYER_OFFSETS_DB",
    "LOUDER_GAIN_DB",
    "LOUDER_INTENSITY",
    "MAX_LAYERS",
    "MEASURE_CHUNKS",
    "MEASURE_CHUNK_S",
    "MIN_SAMPLE_RATE",
    "PEAK_CEILING",
    "PROBE_S",
    "SCENE_KEYWORDS",
    "SEGMENT_S",
    "SFX_DISTANT_LOWPASS_HZ",
    "SFX_FADE_OUT_S",
    "SFX_KEYWORDS",
    "SFX_MAX_MOMENTARY_LUFS",
    "SFX_MAX_S",
    "SFX_MIN_S",
    "SFX_NOMINAL_S",
    "SOFTER_GAIN_DB",
    "SOFTER_INTENSITY",
    "TEXTURE_S",
    "WARMUP_S",
    "ProceduralBackend",
]
