"""Writing and revising drafts with a language model: the prompt of a style (files in ``prompts/``,
editable like templates), the conversation so far within a token budget, and one repair round.

Context sent with each request: the system prompt (the script format, the voices, the style with the
topic, speakers and length), the current draft in full (never cut), and the latest messages (up to
``MAX_MESSAGES``) that fit in ``token_budget`` beside them, oldest dropped first. A draft that does not
pass ``check_draft`` is sent back once with its line-numbered problems; what still fails is returned with
its problems, for the caller to show, never to store as clean.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

from control_api.writer.drafts import STYLES, DraftCheck, check_draft
from control_api.writer.llm import ChatClient, Reply
from nodes.common.voices import VoiceLibrary

PROMPTS = Path(__file__).with_name("prompts")
MAX_MESSAGES = 20
TOKEN_BUDGET = 8000
WORDS_PER_MINUTE = {"en": 150, "zh": 250}  # Chinese: characters


@dataclass(frozen=True)
class Brief:
    """What the conversation is about, as it was started."""

    topic: str
    style: str
    language: str = "en"
    target_duration_s: float = 300.0
    speakers: tuple[dict[str, str], ...] = ()  # {name, voice, persona}

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}")


@dataclass
class Drafted:
    """A draft and how it came to be: the calls made (one, or two with a repair) and its check."""

    check: DraftCheck
    replies: list[Reply] = field(default_factory=list)
    repaired: bool = False

    @property
    def tokens(self) -> int:
        return sum(r.total_tokens for r in self.replies)


def tokens_of(text: str) -> int:
    return len(text) // 4 + 1


def system_prompt(brief: Brief, library: VoiceLibrary, prompts: Path = PROMPTS) -> str:
    voices = "\n".join(f"- {row['id']}: {row['display_name']} ({row['language']}, {row.get('gender') or 'any'})"
                       for row in library.as_rows() if row["language"] == brief.language)
    minutes = brief.target_duration_s / 60
    speakers = "; ".join(f"{s['name']} (voice {s.get('voice') or 'your choice'}): {s.get('persona') or 'a speaker'}"
                         for s in brief.speakers) or "choose them"
    values = {"voices": voices, "topic": brief.topic, "language": {"en": "English", "zh": "Chinese"}.get(
        brief.language, brief.language), "speakers": speakers, "minutes": f"{minutes:.0f}",
        "words": str(round(minutes * WORDS_PER_MINUTE.get(brief.language, 150)))}
    format_guide = Template((prompts / "format.md").read_text(encoding="utf-8")).safe_substitute(values)
    style = Template((prompts / f"{brief.style}.md").read_text(encoding="utf-8")).safe_substitute(values)
    return f"{format_guide}\n\n{style}"


def context(system: str, draft: str | None, history: Sequence[dict[str, str]], request: str,
            token_budget: int = TOKEN_BUDGET) -> list[dict[str, str]]:
    """The messages of one request: the system prompt, the draft in full, the latest history that fits."""
    head = [{"role": "system", "content": system}]
    if draft:
        head.append({"role": "system", "content": f"The current draft of the script:\n\n{draft}"})
    tail = [{"role": "user", "content": request}]
    left = token_budget - sum(tokens_of(m["content"]) for m in head + tail)
    kept: list[dict[str, str]] = []
    for message in reversed(list(history)[-MAX_MESSAGES:]):
        cost = tokens_of(message["content"])
        if cost > left:
            break
        kept.insert(0, {"role": message["role"], "content": message["content"]})
        left -= cost
    return head + kept + tail


def repair_request(check: DraftCheck) -> str:
    problems = "\n".join(f"- {problem}" for problem in check.problems)
    return ("The script does not pass dramaflow's checks:\n" + problems +
            "\nAnswer with the whole corrected script only.")


async def write(client: ChatClient, library: VoiceLibrary, brief: Brief, request: str, *,
                draft: str | None = None, history: Sequence[dict[str, str]] = ()) -> Drafted:
    """A new or revised draft for ``request``, repaired once if it fails its checks."""
    drafted = None
    async for item in write_streaming(client, library, brief, request, draft=draft, history=history):
        if isinstance(item, Drafted):
            drafted = item
    assert drafted is not None
    return drafted


async def write_streaming(client: ChatClient, library: VoiceLibrary, brief: Brief, request: str, *,
                          draft: str | None = None, history: Sequence[dict[str, str]] = ()
                          ) -> AsyncIterator[str | dict[str, Any] | Drafted]:
    """As ``write``, yielding the reply's text as it is written, ``{"repairing": [problems]}`` before a
    repair round, and the ``Drafted`` last."""
    messages = context(system_prompt(brief, library), draft, history, request)
    replies: list[Reply] = []
    for attempt in range(2):
        reply = None
        async for item in client.stream(messages):
            if isinstance(item, Reply):
                reply = item
            else:
                yield item
        assert reply is not None
        replies.append(reply)
        check = check_draft(reply.content, library, style=brief.style, target_duration_s=brief.target_duration_s)
        if check.ok or attempt == 1:
            yield Drafted(check, replies, repaired=attempt == 1 and check.ok)
            return
        yield {"repairing": [str(p) for p in check.problems]}
        messages = [*messages, {"role": "assistant", "content": reply.content},
                    {"role": "user", "content": repair_request(check)}]
