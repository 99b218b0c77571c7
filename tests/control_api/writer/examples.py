"""An English chapter (scripts/chapter-en.txt) and what a model makes of it, for the adaptation tests."""

from __future__ import annotations

from pathlib import Path

SCRIPTS = Path(__file__).parents[3] / "scripts"
CHAPTER_PATH = SCRIPTS / "chapter-en.txt"
CHAPTER = CHAPTER_PATH.read_text(encoding="utf-8")
# What a model makes of chapter-en.txt, all but two sentences of it (the dog and the ferryman's head).
FULL_REPLY = """\
## The Ferry at Low Water
[ambience: a slow river, water lapping at wooden posts]
**Narrator:** The ferry had not run since the storm. Ada stood on the slipway with her hands in her pockets, watching the grey water slide past the pilings.
**Tomas:** You're early.
**Narrator:** Tomas came down the path with a lantern.
**Tomas:** Nobody crosses before the tide turns.
**Ada (calm):** I know. I wanted to see the river before anyone else did.
**Narrator:** He set the lantern on a post. The light made a small gold room in the fog.
[sfx: a door bangs in the wind]
**Narrator:** Somewhere behind them a door banged in the wind, and a dog barked twice and fell silent.
**Tomas:** Your father used to say the same thing.
**Ada:** He said a lot of things.
**Narrator:** Tomas laughed.
**Tomas (happy):** Most of them true, as it turned out.
**Narrator:** By the time the sun came up the fog had thinned to threads.
[sfx: three knocks on a wooden door]
**Narrator:** There was a knock on the wheelhouse door, and the ferryman put his head out, blinking.
**Ferryman:** Two for the far side?
**Narrator:** Ada looked at Tomas, and Tomas looked at the river.
**Ada (whisper):** Just one. He's staying.
"""
SHORT_REPLY = "\n".join(line for line in FULL_REPLY.split("\n")
                        if "a dog barked" not in line and "the ferryman put his head out" not in line)
