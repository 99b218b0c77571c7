"""What the segmenter decides for each utterance and the later stages read back: its synthesis
requests (one per segment, seeded, with the emotion folded into offline voices) and its voice effect
(its own, else its scene's reverb: ``[ambience: … | reverb=room|hall]`` holds until the next ambience
cue or ``[ambience: none]``).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from nodes.common.providers import LOCAL_PROVIDERS
from nodes.common.types import Plan, Segment, Utterance, VoiceSettings

# Offline engines have no emotion control; these prosody nudges make the (emotion) tag audible.
# (speed factor, pitch in semitones, gain in dB)
EMOTION_PROSODY: dict[str, tuple[float, float, float]] = {
    "happy": (1.06, 1.0, 1.0),
    "sad": (0.9, -1.0, -2.0),
    "angry": (1.08, 0.5, 3.0),
    "fearful": (1.1, 1.5, -1.0),
    "disgusted": (0.95, -0.5, 0.0),
    "surprised": (1.05, 2.0, 1.5),
    "calm": (0.95, -0.5, -1.0),
    "fluent": (1.0, 0.0, 0.0),
    "whisper": (0.92, 0.0, -6.0),
}


@dataclass(frozen=True)
class SynthesisRequest:
    """One segment to speak. ``seed`` makes stochastic engines repeatable per segment."""

    seq: int
    text: str
    voice: VoiceSettings
    line: int
    emotion: str | None = None
    seed: int = 0
    utterance: int = -1
    language: str = ""  # the script's language (MiniMax language_boost)
    pauses: tuple[tuple[int, float], ...] = ()  # (offset into text, seconds): pause inside this request
    pronunciation: tuple[str, ...] = ()  # "word/(replacement)" entries: voices.yaml, then front matter

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SynthesisRequest:
        voice = dict(data["voice"])
        voice["options"] = tuple((k, v) for k, v in voice.get("options", ()))
        return cls(**{**data, "voice": VoiceSettings(**voice),
                      "pauses": tuple((int(o), float(s)) for o, s in data.get("pauses", ())),
                      "pronunciation": tuple(data.get("pronunciation", ()))})


def segment_seed(seed: int, segment: Segment, utterance: Utterance) -> int:
    """A per-segment seed from the task seed and what is said by whom: order-independent, stable."""
    key = f"{seed}\x1f{utterance.voice.voice_id}\x1f{utterance.emotion}\x1f{segment.text}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


def requests_for(plan: Plan, seed: int) -> list[SynthesisRequest]:
    """One request per segment, with the emotion folded into the voice for offline engines."""
    out: list[SynthesisRequest] = []
    for utterance in plan.utterances:
        voice = utterance.voice
        if utterance.emotion and voice.provider in LOCAL_PROVIDERS:
            speed, pitch, gain = EMOTION_PROSODY[utterance.emotion]
            voice = voice.replace(speed=voice.speed * speed, pitch=voice.pitch + pitch, gain_db=voice.gain_db + gain)
        for segment in utterance.segments:
            out.append(SynthesisRequest(
                seq=segment.seq, text=segment.text, voice=voice, line=segment.line,
                emotion=utterance.emotion, seed=segment_seed(seed, segment, utterance),
                utterance=utterance.index, language=plan.language, pauses=segment.pauses,
                pronunciation=plan.pronunciation,
            ))
    return out


def utterance_effects(plan: Plan) -> dict[int, str | None]:
    effects: dict[int, str | None] = {}
    scene_reverb: str | None = None
    for event in plan.events:
        if event.kind == "cue":
            cue = plan.cues[event.index]
            if cue.kind == "ambience":
                reverb = cue.param("reverb")
                scene_reverb = None if reverb in (None, "none") else reverb
            elif cue.kind == "ambience_stop":
                scene_reverb = None
        elif event.kind == "utterance":
            utterance = plan.utterances[event.index]
            effects[utterance.index] = utterance.effect or scene_reverb
    return effects
