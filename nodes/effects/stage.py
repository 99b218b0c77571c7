"""Which voice effect each utterance gets: its own (line param or voice), else its scene's reverb.

A scene's reverb comes from ``[ambience: … | reverb=room|hall]`` and holds until the next ambience
cue or ``[ambience: none]``.
"""

from __future__ import annotations

from nodes.common.types import Plan


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
