"""Prose into a drama script with a language model, chunk by chunk, never losing a passage.

The source is cut into chunks of about ``CHUNK_CHARS`` at paragraph ends (a heading starts a new one).
Each chunk goes to the model with the adaptation prompt (``prompts/adapt.md``: the line format, the
rules, the characters found so far), and the model answers with the script lines of that chunk only.

- **Checked**: each answer is parsed by dramaflow's own parser, under front matter written here (the
  narrator, a voice for every name). An answer that fails is asked for once more with its line-numbered
  problems; one that still fails is replaced by the rule-based adapter's lines for that chunk (listed in
  ``fallback_chunks``).
- **Complete**: when a chunk's lines hold less than 95 % of its characters (speech tags aside), every
  source sentence they lack is put back as narration after the line holding the sentence before it,
  under an HTML comment (an authoring note, not spoken) that flags it, and listed in ``restored``.

The characters are carried across chunks in the prompt; voices are cast by order of appearance.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from string import Template

from control_api.writer.completeness import MIN_COVERAGE, PART, SENTENCE, coverage, gaps, letters
from control_api.writer.drafts import extract_script
from control_api.writer.llm import ChatClient, Reply
from control_api.writer.rules import (
    FALLBACK_TITLE,
    HEADING,
    NARRATOR,
    Adapted,
    adapt,
    cast_voices,
    detect_language,
    front_matter,
    without_tags,
)
from nodes.common.errors import ConfigError, ScriptError
from nodes.common.voices import VoiceLibrary
from nodes.segmenter.core import parse_script

PROMPTS = Path(__file__).with_name("prompts")
CHUNK_CHARS = 4000
RESTORED_NOTE = "<!-- restored: the adaptation left this passage out -->"
_SPEAKER = re.compile(r"^\*\*\s*([^*:：()（）\[\]]{1,40}?)\s*(?:[(（][^)）]*[)）])?\s*(?:[:：]\s*\*\*|\*\*\s*[:：])\s*(.*)$")
_FRONT = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.S)
LANGUAGE_NAMES = {"en": "English", "zh": "Chinese"}


def chunks(text: str, max_chars: int = CHUNK_CHARS) -> list[str]:
    """``text`` in pieces of at most about ``max_chars``, cut at paragraph ends; a heading starts a piece;
    a paragraph longer than ``max_chars`` is cut at sentence ends."""
    pieces: list[str] = []
    current: list[str] = []

    def close() -> None:
        if any(p.strip() for p in current):
            pieces.append("\n\n".join(current).strip("\n"))
        current.clear()

    for paragraph in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")):
        if not paragraph.strip():
            continue
        if HEADING.match(paragraph.strip().split("\n", 1)[0]) and len("\n\n".join(current)) > max_chars // 4:
            close()
        parts = [paragraph] if len(paragraph) <= max_chars else _sentences_within(paragraph, max_chars)
        for part in parts:
            if current and len("\n\n".join(current)) + 2 + len(part) > max_chars:
                close()
            current.append(part)
    close()
    return pieces


def _sentences_within(paragraph: str, max_chars: int) -> list[str]:
    parts, current = [], ""
    for sentence in SENTENCE.findall(paragraph):
        if current and len(current) + len(sentence) > max_chars:
            parts.append(current)
            current = ""
        current += sentence
    return [*parts, current] if current else parts


def body_lines(reply: str) -> list[str]:
    """The script lines of a model's answer: without a code fence, front matter or blank lines."""
    text = _FRONT.sub("", extract_script(reply), count=1)
    return [line.rstrip() for line in text.split("\n") if line.strip()]


def names_in(lines: list[str], narrator: str) -> list[str]:
    """The speakers that ``lines`` name, in order of appearance, the narrator left out."""
    found: list[str] = []
    for line in lines:
        match = _SPEAKER.match(line)
        if match and match[1] != narrator and match[1] not in found:
            found.append(match[1])
    return found


def spoken(lines: list[str]) -> str:
    """The text ``lines`` speak (and their headings): cue lines and comments left out."""
    kept = []
    for line in lines:
        if line.startswith(("[", "<!--")):
            continue
        match = _SPEAKER.match(line)
        kept.append(match[2] if match else line.lstrip("#").strip())
    return "\n".join(kept)


class _Adaptation:
    def __init__(self, client: ChatClient, library: VoiceLibrary, language: str, title: str,
                 voices: dict[str, list[str]] | None) -> None:
        self.client, self.library, self.language, self.title = client, library, language, title
        self.narrator = NARRATOR[language]
        self.characters: list[str] = []
        self.voices = voices or {}
        self.replies: list[Reply] = []
        self.fallback_chunks: list[int] = []
        self.tags: list[str] = []

    def front(self, names: list[str]) -> str:
        return front_matter(self.title, self.language, self.narrator,
                            cast_voices(self.language, [self.narrator, *names], self.voices))

    def problems(self, lines: list[str]) -> list[str]:
        """The parser's complaints about ``lines`` (line numbers within them), or none."""
        if not lines:
            return ["the answer has no script lines"]
        names = [*self.characters, *(n for n in names_in(lines, self.narrator) if n not in self.characters)]
        front = self.front(names)
        try:
            parse_script(front + "\n".join(lines) + "\n", self.library)
        except ScriptError as exc:
            line = (exc.line or 0) - front.count("\n")
            return [(f"line {line}: " if line > 0 else "") + exc.message + (f" (fix: {exc.hint})" if exc.hint else "")]
        except ConfigError as exc:
            return [str(exc)]
        return []

    def prompt(self) -> str:
        values = {"narrator": self.narrator, "language": LANGUAGE_NAMES[self.language],
                  "characters": ", ".join(self.characters) or "none yet"}
        return Template((PROMPTS / "adapt.md").read_text(encoding="utf-8")).safe_substitute(values)

    async def chunk(self, number: int, source: str) -> list[str]:
        messages = [{"role": "system", "content": self.prompt()}, {"role": "user", "content": source}]
        lines: list[str] = []
        for attempt in range(2):
            reply = await self.client.complete(messages, temperature=0.3)
            self.replies.append(reply)
            lines = body_lines(reply.content)
            problems = self.problems(lines)
            if not problems:
                break
            if attempt == 1:
                self.fallback_chunks.append(number)
                ruled = adapt(source, language=self.language)
                lines = body_lines(ruled.script)
            else:
                messages += [{"role": "assistant", "content": reply.content},
                             {"role": "user", "content": "These lines do not pass dramaflow's checks:\n"
                              + "\n".join(f"- {p}" for p in problems)
                              + "\nAnswer with all the corrected lines for the passage only."}]
        self.characters += [n for n in names_in(lines, self.narrator) if n not in self.characters]
        tags = adapt(source, language=self.language).tags
        self.tags += tags
        return self.restore(without_tags(source, tags), lines)

    def restore(self, source: str, lines: list[str]) -> list[str]:
        """``lines`` with the sentences of ``source`` they lack put back, when they hold under 95 % of it."""
        text = spoken(lines)
        if coverage(source, text).share >= MIN_COVERAGE:
            return lines
        missing = gaps(source, text)
        out = list(lines)
        anchor = 0  # insert after this many lines of ``out``
        for sentence in (s.strip() for s in SENTENCE.findall(source)):
            if sentence not in missing:
                anchor = _after(out, sentence, anchor)
                continue
            lacking = letters(missing[sentence])
            for part in PART.findall(sentence):  # a quote the model kept, before the narration it lost
                if letters(part) and letters(part) in lacking:
                    break
                anchor = _after(out, part, anchor)
            out[anchor:anchor] = [RESTORED_NOTE, f"**{self.narrator}:** {_clean_line(missing[sentence])}"]
            anchor += 2
        return out


def _after(lines: list[str], passage: str, anchor: int) -> int:
    """Just after the first line from ``anchor`` on that holds the end of ``passage`` (else ``anchor``)."""
    tail = letters(passage)[-16:]
    if not tail:
        return anchor
    return next((i + 1 for i in range(anchor, len(lines))
                 if not lines[i].startswith(("[", "<!--")) and tail in letters(lines[i])), anchor)


def _clean_line(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text.replace("<!--", "<! --").replace(" | ", " / ").replace("[", "(").replace("]", ")")


async def adapt_with_model(text: str, client: ChatClient, library: VoiceLibrary, *, language: str | None = None,
                           title: str | None = None, voices: dict[str, list[str]] | None = None,
                           progress: Callable[[int, int], None] | None = None) -> Adapted:
    """Adapt ``text`` chunk by chunk with the model; ``progress(done, total)`` after each chunk."""
    language = language or detect_language(text)
    heading = next((m[2] for m in map(HEADING.match, text.split("\n")) if m and len(m[1]) == 1), None)
    work = _Adaptation(client, library, language, title or heading or FALLBACK_TITLE[language], voices)
    pieces = chunks(text)
    body: list[str] = []
    for number, piece in enumerate(pieces, 1):
        body += await work.chunk(number, piece)
        if progress:
            progress(number, len(pieces))
    script = work.front(work.characters) + "\n".join(body) + "\n"
    parse_script(script, library)  # every chunk passed on its own under a subset of this cast
    lines = script.split("\n")
    restored = [(i + 2, lines[i + 1].split(":**", 1)[1].strip()) for i, line in enumerate(lines)
                if line == RESTORED_NOTE]
    return Adapted(script=script, language=language, speakers=work.characters, tags=work.tags,
                   coverage=coverage(without_tags(text, work.tags), spoken(body)), mode="llm",
                   restored=restored, fallback_chunks=work.fallback_chunks, replies=work.replies,
                   chunk_count=len(pieces))
