"""Script decoding and front matter: lines with BOM, CRLF and HTML comments removed, the YAML header
(title, language, seed, pronunciation…), the declared voices per speaker (front matter, then the task's
voice config, which wins) and the narrator. Every error is a ``ScriptError`` naming the file's line."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from nodes.common.casting import choose
from nodes.common.errors import ConfigError, ScriptError
from nodes.common.voices import VoiceLibrary, parse_override

FRONT_MATTER_KEYS = ("title", "language", "voices", "narrator", "author", "description", "seed", "pronunciation")
NARRATOR_NAMES = ("narrator", "旁白", "叙述者")
_PRONUNCIATION = re.compile(r"^[^/\s][^/]*/\S.*$")
_COMMENT_OPEN, _COMMENT_CLOSE = "<!--", "-->"


def _decode(text: str) -> list[str]:
    """Lines of the script with BOM, CRLF and HTML comments removed (line numbers preserved)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return _strip_comments(text.split("\n"))


def _strip_comments(lines: list[str]) -> list[str]:
    out: list[str] = []
    open_line: int | None = None
    for number, line in enumerate(lines, start=1):
        kept = ""
        rest = line
        while rest:
            if open_line is None:
                i = rest.find(_COMMENT_OPEN)
                if i < 0:
                    kept += rest
                    break
                kept += rest[:i]
                rest = rest[i + len(_COMMENT_OPEN):]
                open_line = number
            else:
                j = rest.find(_COMMENT_CLOSE)
                if j < 0:
                    break
                rest = rest[j + len(_COMMENT_CLOSE):]
                open_line = None
        # A line that held only a comment must not end a paragraph: mark it as "nothing here".
        out.append(kept if kept.strip() or kept == line else "\0")
    if open_line is not None:
        raise ScriptError("HTML comment '<!--' is never closed", open_line, "close it with '-->'")
    return out


def _front_matter(lines: list[str]) -> tuple[int, dict[str, Any]]:
    """(index of the first body line, parsed front matter). No front matter → (0, {})."""
    if not lines or lines[0].strip() != "---":
        return 0, {}
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            break
    else:
        raise ScriptError("front matter starts with '---' but is never closed", 1,
                          "add a line with just '---' after the front matter")
    source = "\n".join(lines[1:i])
    try:
        data = yaml.safe_load(source) if source.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 2) if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScriptError(f"front matter is not valid YAML: {problem}", line,
                          "use 'key: value' lines; quote values that contain ':' or '#'") from None
    if not isinstance(data, dict):
        raise ScriptError("front matter must be a mapping of keys to values", 2,
                          "write lines like 'title: My Show'")
    unknown = sorted(set(map(str, data)) - set(FRONT_MATTER_KEYS))
    if unknown:
        raise ScriptError(f"unknown front matter key(s): {', '.join(unknown)}", _key_line(lines, unknown[0], 1, i),
                          f"known keys: {', '.join(FRONT_MATTER_KEYS)}")
    for key in ("title", "language", "narrator", "author", "description"):
        if key in data and data[key] is not None and not isinstance(data[key], str | int | float):
            raise ScriptError(f"front matter '{key}' must be text", _key_line(lines, key, 1, i))
    if "seed" in data and (isinstance(data["seed"], bool) or not isinstance(data["seed"], int)):
        raise ScriptError("front matter 'seed' must be a whole number", _key_line(lines, "seed", 1, i))
    if "pronunciation" in data:
        data["pronunciation"] = _pronunciation(data["pronunciation"], _key_line(lines, "pronunciation", 1, i))
    data["_end"] = i
    return i + 1, data


def _pronunciation(value: Any, line: int) -> tuple[str, ...]:
    """Front matter ``pronunciation:``: a list of "word/(replacement)" entries (MiniMax pronunciation_dict)."""
    hint = "write a list like 'pronunciation: [\"omg/oh my god\", \"处理/(chu3)(li3)\"]'"
    if not isinstance(value, list):
        raise ScriptError("front matter 'pronunciation' must be a list of 'word/replacement' entries", line, hint)
    for entry in value:
        if not isinstance(entry, str) or not _PRONUNCIATION.match(entry.strip()):
            raise ScriptError(f"pronunciation entry {entry!r} is not 'word/replacement'", line, hint)
    return tuple(entry.strip() for entry in value)


def _key_line(lines: list[str], key: str, start: int, end: int) -> int:
    """1-based line of ``key:`` inside lines[start:end], else the first front-matter line."""
    pattern = re.compile(r"^\s*['\"]?" + re.escape(key) + r"['\"]?\s*:")
    for i in range(start, end):
        if pattern.match(lines[i]):
            return i + 1
    return start + 1


def _declared_voices(
    front: dict[str, Any], lines: list[str], body_start: int, voice_config: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """Speaker → parsed override, from front matter then the task's voice config (which wins)."""
    declared: dict[str, dict[str, Any]] = {}
    where: dict[str, int] = {}
    voices = front.get("voices") or {}
    fm_end = front.get("_end", 0)
    if not isinstance(voices, dict):
        raise ScriptError("front matter 'voices' must map speaker names to voice ids",
                          _key_line(lines, "voices", 1, fm_end), "e.g. 'voices: {Mara: en-joe}'")
    for name, value in voices.items():
        line = _key_line(lines, str(name), 1, fm_end)
        try:
            declared[str(name)] = parse_override(value)
        except ValueError as exc:
            raise ScriptError(f"voice for speaker {name!r}: {exc}", line) from None
        where[str(name)] = line
    for name, value in voice_config.items():
        try:
            override = parse_override(value)
        except ValueError as exc:
            raise ConfigError(f"voice config for speaker {name!r}: {exc}") from None
        declared[str(name)] = {**declared.get(str(name), {}), **override}
        where.setdefault(str(name), 0)
    for name, override in declared.items():
        if "voice" not in override and "describe" not in override:
            raise ScriptError(f"speaker {name!r} has settings but no voice", where[name] or None,
                              f"add 'voice: <id>' for {name}, or describe it: {{gender: female, age: old}}")
    return declared, where


def cast_described(declared: dict[str, dict[str, Any]], where: Mapping[str, int], front: Mapping[str, Any],
                   library: VoiceLibrary, provider_available: Callable[[str], bool]) -> None:
    """Give each described speaker (no ``voice``, only tags) the best fitting voice no other speaker has,
    in declaration order (``nodes.common.casting``). A speaker that names a voice keeps it."""
    named = [o["voice"] for o in declared.values() if "voice" in o]
    language = str(front.get("language") or "").strip() or next(
        (library.entries[v].language for v in named if v in library), "en")
    taken = set(named)
    for name, override in declared.items():
        if "voice" in override:
            continue
        want = override["describe"]
        voice, busy = choose(want, library.entries, language=language, taken=taken,
                             provider_available=provider_available)
        if voice is None:
            why = (f"the voices that fit ({', '.join(busy)}) are taken by other speakers" if busy
                   else f"no {language} voice in the library fits")
            raise ScriptError(f"speaker {name!r} {want}: {why}", where[name] or None,
                              "loosen the description, add a voice to voices.yaml, or name a voice "
                              "(`dramaflow voices list --language " + language + "` shows them with their tags)")
        override["voice"] = voice
        taken.add(voice)


def _narrator(front: dict[str, Any], declared: Mapping[str, Any], body_start: int) -> str | None:
    name = front.get("narrator")
    if name is not None:
        if str(name) not in declared:
            raise ScriptError(f"narrator {name!r} is not a declared speaker", 1,
                              f"add {name} to 'voices:' in the front matter")
        return str(name)
    return next((n for n in declared if n.lower() in NARRATOR_NAMES), None)
