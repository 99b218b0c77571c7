"""What a written draft must be before it is a script: it parses (dramaflow's own parser, with the
voices it declares), and it fits what was asked — at least two speakers in a podcast style, no speaker
under 15 % of the words in a two-host show, an estimated length within ±20 % of the target.

Every problem carries the line it is on (when it has one) and what would fix it; the repair prompt
quotes them to the model, and a draft that still has any is returned with them, never stored as clean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from control_api.limits import estimate_duration_s
from control_api.service import word_count
from nodes.common.errors import ConfigError, ScriptError
from nodes.common.voices import VoiceLibrary
from nodes.segmenter.core import parse_script

PODCAST_STYLES = ("educational", "casual", "interview", "debate")
STYLES = (*PODCAST_STYLES, "drama")
MIN_SHARE = 0.15  # of the words, for each host of a two-host show
DURATION_TOLERANCE = 0.20
FENCE = re.compile(r"```[\w-]*[ \t]*\n(.*?)\n[ \t]*```", re.S)


@dataclass(frozen=True)
class Problem:
    line: int | None
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return where + self.message + (f" (fix: {self.hint})" if self.hint else "")


@dataclass(frozen=True)
class DraftCheck:
    script: str
    problems: tuple[Problem, ...] = ()
    words: dict[str, int] = field(default_factory=dict)  # speaker → words
    estimated_duration_s: float | None = None
    title: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def extract_script(reply: str) -> str:
    """The script inside a model's reply: without a code fence around it or words before its front matter."""
    text = reply.strip()
    fenced = FENCE.search(text)
    if fenced:
        text = fenced[1].strip()
    start = re.search(r"^---\s*$", text, re.M)
    if start and start.start() > 0 and "**" not in text[:start.start()]:
        text = text[start.start():]
    return text + "\n"


def check_draft(text: str, library: VoiceLibrary, *, style: str, target_duration_s: float | None = None) -> DraftCheck:
    """Parse ``text`` and check it against the request; the problems, or none."""
    script = extract_script(text)
    try:
        plan = parse_script(script, library)
    except ScriptError as exc:
        return DraftCheck(script, (Problem(exc.line, exc.message, exc.hint),))
    except ConfigError as exc:
        return DraftCheck(script, (Problem(None, str(exc)),))
    words: dict[str, int] = {}
    first_line: dict[str, int] = {}
    for utterance in plan.utterances:
        words[utterance.speaker] = words.get(utterance.speaker, 0) + word_count(utterance.text)
        first_line.setdefault(utterance.speaker, utterance.line)
    problems: list[Problem] = []
    hosts = {name: n for name, n in words.items() if name.lower() not in ("narrator", "旁白")}
    if style in PODCAST_STYLES and len(hosts) < 2:
        problems.append(Problem(None, f"a {style} podcast needs at least two speakers; this draft has "
                                f"{len(hosts)}", "give the second host lines of their own"))
    total = sum(hosts.values())
    if style in PODCAST_STYLES and len(hosts) == 2 and total:
        for name, n in hosts.items():
            if n / total < MIN_SHARE:
                problems.append(Problem(first_line[name], f"{name} says {n} of {total} words ({n / total:.0%}); each "
                                        f"host needs at least {MIN_SHARE:.0%}", f"give {name} more to say"))
    duration_s = estimate_duration_s(plan)
    if target_duration_s:
        low, high = target_duration_s * (1 - DURATION_TOLERANCE), target_duration_s * (1 + DURATION_TOLERANCE)
        if not low <= duration_s <= high:
            change = "shorten it" if duration_s > high else "lengthen it"
            problems.append(Problem(None, f"it would run about {duration_s / 60:.1f} minutes; the target is "
                                    f"{target_duration_s / 60:.1f} (±{DURATION_TOLERANCE:.0%})", change))
    return DraftCheck(script, tuple(problems), words, round(duration_s, 1), plan.title)


def describe(check: DraftCheck) -> dict[str, Any]:
    """The check as the API shows it."""
    return {"ok": check.ok, "problems": [{"line": p.line, "message": p.message, "hint": p.hint} for p in check.problems],
            "words": check.words, "estimated_duration_s": check.estimated_duration_s}
