"""The offline adapter: prose (plain text or Markdown, English or Chinese) into a drama script by rules.

Quotes become dialogue; the speaker comes from the speech tag next to the quote ("…," said Mara / Mara
said, "…" / 他说道：“…” / “…”她道), the emotion from its verb (whispered → whisper); a quote without a
named speaker in a paragraph that already has one is that speaker's; otherwise it goes to the other of the
last two speakers; everything else is the narrator's. Headings become chapters, scene breaks (``***``)
and headings start a scene, whose bed comes from what the text mentions (rain, sea, fire…), and sound
effects go where the text has them (a knock, thunder, footsteps). Tags that became speakers are not
spoken. The result always parses (the tests render it), and its completeness is measured.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from control_api.writer.attribution import Tag, tag_after, tag_before
from control_api.writer.completeness import Coverage, coverage
from nodes.common.text import is_cjk

QUOTE = re.compile(r"“([^”]+)”|\"([^\"]+)\"|「([^」]+)」|『([^』]+)』")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
SCENE_BREAK = re.compile(r"^\s*(?:\*\s*){3,}$|^\s*(?:-\s*){3,}$|^\s*(?:~\s*){3,}$")
SENTENCE_END = re.compile(r"[.!?。！？]\s*")
AMBIENCE = (  # (words in the text, the bed's prompt); the one the scene mentions first sets its bed
    (("storm", "thunder", "lightning", "雷", "暴风雨"), "a storm with thunder and wind"),
    (("river", "ferry", "河", "渡口"), "a slow river, water lapping at wooden posts"),
    (("rain", "drizzle", "雨"), "steady rain"),
    (("sea", "waves", "shore", "harbour", "harbor", "海", "浪"), "waves on a shore, gulls"),
    (("forest", "woods", "森林", "树林"), "a forest with birdsong"),
    (("fire", "hearth", "fireplace", "炉火", "篝火"), "a crackling fire in a quiet room"),
    (("street", "traffic", "city", "街", "城市"), "a city street with distant traffic"),
    (("tavern", "inn", "crowd", "酒馆", "人群"), "a busy tavern, murmuring crowd"),
    (("wind", "风"), "wind"),
    (("night", "crickets", "夜"), "a quiet night with crickets"),
)
SFX = (
    (("knock", "敲门"), "three knocks on a wooden door"),
    (("door creak", "door opened", "door swung", "推开门", "门开了"), "a door creaks open"),
    (("thunder", "雷声"), "thunder clap"),
    (("footsteps", "脚步声"), "footsteps on a wooden floor"),
    (("gunshot", "枪声"), "a gunshot in the distance"),
    (("shatter", "碎了"), "glass shatters"),
    (("bell", "钟声", "铃"), "a bell rings"),
)
NARRATOR = {"en": "Narrator", "zh": "旁白"}
SOMEONE = {"en": "Stranger", "zh": "陌生人"}
FALLBACK_TITLE = {"en": "Adapted chapter", "zh": "改编章节"}


@dataclass
class Line:
    speaker: str
    text: str
    emotion: str | None = None
    source_line: int = 0


@dataclass
class Adapted:
    """A drama script made from prose, and what the adapter found."""

    script: str
    language: str
    speakers: list[str]
    coverage: Coverage
    tags: list[str] = field(default_factory=list)  # the speech tags that became speaker names (not spoken)
    mode: str = "rules"  # rules | llm
    restored: list[tuple[int, str]] = field(default_factory=list)  # (script line, passage) put back as narration
    fallback_chunks: list[int] = field(default_factory=list)  # chunks (1-based) the rules adapted for the model
    replies: list[Any] = field(default_factory=list)  # the model's calls (llm.Reply)
    chunk_count: int = 1  # the pieces the model was given

    @property
    def tags_removed(self) -> int:
        return len(self.tags)


def _first(text: str, words: tuple[str, ...]) -> int | None:
    """Where the first of ``words`` occurs in ``text`` (whole English words; CJK anywhere), or None."""
    spots = []
    for word in words:
        pattern = re.escape(word) if is_cjk(word[0]) else rf"\b{re.escape(word)}\b"
        match = re.search(pattern, text, re.IGNORECASE)
        if match:
            spots.append(match.start())
    return min(spots, default=None)


def detect_language(text: str) -> str:
    alnum = [c for c in text if c.isalnum()]
    return "zh" if alnum and sum(is_cjk(c) for c in alnum) / len(alnum) > 0.3 else "en"


def _clean(text: str) -> str:
    """Prose as it may stand in a script line: one line; no comment openers, line-parameter tails or
    square brackets (an inline ``[pause: 3]`` in prose is text to speak, not a pause)."""
    text = re.sub(r"\s+", " ", text).strip()
    return text.replace("<!--", "<! --").replace(" | ", " / ").replace("[", "(").replace("]", ")")


class _Adapter:
    def __init__(self, language: str) -> None:
        self.language, self.chinese = language, language == "zh"
        self.narrator = NARRATOR[language]
        self.body: list[str] = []
        self.spoken: list[str] = []
        self.recent: list[str] = []  # distinct speakers, most recent last
        self.speakers: list[str] = []
        self.bed: str | None = None
        self.known: set[str] = set()  # every name a speech tag gives, anywhere in the text
        self.tags: list[str] = []  # speech tags that became speakers (not spoken)

    def say(self, speaker: str, text: str, emotion: str | None = None) -> None:
        text = _clean(text)
        if not any(c.isalnum() for c in text):
            return
        self.spoken.append(text)
        mood = f" ({emotion})" if emotion else ""
        self.body.append(f"**{speaker}{mood}:** {text}")
        if speaker != self.narrator:
            if speaker not in self.speakers:
                self.speakers.append(speaker)
            if speaker in self.recent:
                self.recent.remove(speaker)
            self.recent.append(speaker)

    def unnamed(self, in_paragraph: str | None) -> str:
        if in_paragraph:
            return in_paragraph
        if len(self.recent) >= 2:
            return self.recent[-2]
        return SOMEONE[self.language] if not self.recent or self.recent[-1] != SOMEONE[self.language] else self.recent[-1]

    def scene(self, text: str) -> None:
        found = [(at, prompt) for words, prompt in AMBIENCE if (at := _first(text, words)) is not None]
        if found:
            prompt = min(found)[1]
            if prompt != self.bed:
                self.body.append(f"[ambience: {prompt}]")
                self.bed = prompt

    def effects(self, text: str) -> None:
        for words, prompt in SFX:
            if _first(text, words) is not None:
                self.body.append(f"[sfx: {prompt}]")
                return

    def subject(self, narration: str) -> str | None:
        """The first character the narration around a quote names (their line, when no tag says)."""
        found = [(at, name) for name in self.known if (at := _first(narration, (name,))) is not None]
        return min(found)[1] if found else None

    def paragraph(self, text: str, new_scene: bool) -> None:
        if new_scene:
            self.scene(text)
        quotes = list(QUOTE.finditer(text))
        speaker_here: str | None = None
        cursor = 0
        pending: list[tuple[str, str | None]] = []  # narration pieces and quotes, in order
        for i, match in enumerate(quotes):
            quote = next(g for g in match.groups() if g is not None)
            before = text[cursor:match.start()]
            after_end = quotes[i + 1].start() if i + 1 < len(quotes) else len(text)
            after = text[match.end():after_end]
            tag = self._tag(before, after)
            if tag is not None and tag[0] == "before":
                before = before[:tag[1].start] + before[tag[1].end:]
            pending.append(("narration", before))
            who = tag[1].speaker if tag else None
            narration = QUOTE.sub(" ", text)
            speaker = who or speaker_here or self.subject(narration) or self.unnamed(None)
            speaker_here = speaker
            pending.append((f"quote:{speaker}", quote if tag is None else f"{quote}\x00{tag[1].emotion or ''}"))
            cursor = match.end()
            if tag is not None and tag[0] == "after":
                cursor += tag[1].end
            self._flush(pending)
        pending.append(("narration", text[cursor:]))
        self._flush(pending)

    def _tag(self, before: str, after: str) -> tuple[str, Tag] | None:
        found = tag_after(after, self.chinese)
        if found is not None:
            self.tags.append(after[found.start:found.end])
            return "after", found
        sentence = SENTENCE_END.split(before)[-1]
        found = tag_before(sentence, self.chinese)
        if found is not None:
            self.tags.append(sentence[found.start:found.end])
            offset = len(before) - len(sentence)
            return "before", Tag(found.speaker, found.emotion, found.start + offset, found.end + offset)
        return None

    def _flush(self, pending: list[tuple[str, str | None]]) -> None:
        for kind, text in pending:
            if kind == "narration":
                self.say(self.narrator, text or "")
                self.effects(text or "")  # sounds the narration tells of, where it tells them
            else:
                quote, _, emotion = (text or "").partition("\x00")
                quote = re.sub(r"[,，]\s*$", "." if not self.chinese else "。", quote.strip())  # "…," said X
                self.say(kind.split(":", 1)[1], quote, emotion or None)
        pending.clear()


def adapt(text: str, *, language: str | None = None, title: str | None = None,
          voices: dict[str, list[str]] | None = None) -> Adapted:
    """Adapt ``text``; ``voices``: language → voice ids to cast from (the first is the narrator's)."""
    language = language or detect_language(text)
    adapter = _Adapter(language)
    adapter.known = character_names(text, adapter.chinese)
    heading_title = None
    new_scene = True
    paragraph: list[str] = []

    def end_paragraph() -> None:
        nonlocal new_scene
        if paragraph:
            adapter.paragraph(" ".join(paragraph) if not adapter.chinese else "".join(p.strip() for p in paragraph),
                              new_scene)
            new_scene = False
            paragraph.clear()

    for raw in text.replace("\r\n", "\n").split("\n"):
        heading = HEADING.match(raw)
        if heading or SCENE_BREAK.match(raw) or not raw.strip():
            end_paragraph()
            if heading:
                if heading_title is None and len(heading[1]) == 1:
                    heading_title = heading[2]
                else:
                    adapter.body.append(f"## {_clean(heading[2]).lstrip('#')}")
                new_scene = True
            elif raw.strip():
                new_scene = True
            continue
        paragraph.append(raw.strip())
    end_paragraph()

    cast = cast_voices(language, [adapter.narrator, *adapter.speakers], voices or {})
    name = title or heading_title or FALLBACK_TITLE[language]
    script = front_matter(name, language, adapter.narrator, cast) + "\n".join(adapter.body) + "\n"
    headings = [m[2] for m in map(HEADING.match, text.split("\n")) if m]
    return Adapted(script=script, language=language, speakers=adapter.speakers,
                   coverage=coverage(without_tags(text, adapter.tags), "\n".join([*adapter.spoken, *headings])),
                   tags=adapter.tags)


def front_matter(title: str, language: str, narrator: str, cast: dict[str, str]) -> str:
    """The front matter of an adapted script: title, language, narrator and a voice for every speaker."""
    lines = ["---", f"title: {json.dumps(title, ensure_ascii=False)}", f"language: {language}",
             f"narrator: {json.dumps(narrator, ensure_ascii=False)}", "voices:"]
    lines += [f"  {json.dumps(who, ensure_ascii=False)}: {voice}" for who, voice in cast.items()]
    return "\n".join([*lines, "---"]) + "\n"


def character_names(text: str, chinese: bool) -> set[str]:
    """Every speaker a speech tag names, in the whole text (a first pass: a character introduced by a
    tag later on is known when an earlier line of theirs is only near their name)."""
    names = set()
    for match in QUOTE.finditer(text):
        for tag in (tag_after(text[match.end():match.end() + 60], chinese),
                    tag_before(SENTENCE_END.split(text[max(0, match.start() - 60):match.start()])[-1], chinese)):
            if tag is not None and tag.speaker:
                names.add(tag.speaker)
    return names


def without_tags(text: str, tags: list[str]) -> str:
    """The source as the completeness check reads it: the speech tags that became speakers taken out
    (each once, in order), as they are not text the script had to speak."""
    for tag in tags:
        text = text.replace(tag, " ", 1)
    return text


DEFAULT_VOICES = {"en": ["en-joe", "en-espeak-f", "en-joe-deep", "en-joe-bright", "en-espeak-m"],
                  "zh": ["zh-espeak-m", "zh-espeak-f", "zh-espeak-m2", "zh-yifan", "zh-boyu"]}


def cast_voices(language: str, names: list[str], voices: dict[str, list[str]]) -> dict[str, str]:
    pool = voices.get(language) or DEFAULT_VOICES[language]
    narrator, rest = pool[0], pool[1:] or pool
    return {name: narrator if i == 0 else rest[(i - 1) % len(rest)] for i, name in enumerate(names)}
