"""Script parser and segmenter: Markdown script → ``Plan`` (utterances, segments, cues, chapters).

The format is design §5. Every error is a ``ScriptError`` naming the 1-based line of the file and the
fix. Nothing is dropped silently: each speakable character of the body reaches exactly one segment,
and anything the parser cannot place is an error, not a skip.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from nodes.common.errors import ConfigError, ScriptError
from nodes.common.types import Chapter, Cue, Event, Plan, Segment, Utterance, VoiceSettings
from nodes.common.voices import (
    EMOTIONS,
    OVERRIDE_RANGES,
    VOICE_EFFECTS,
    VoiceLibrary,
    offline_only,
    parse_override,
    resolve_voice,
)
from nodes.segmenter.text import (
    is_speakable,
    join_lines,
    normalize_whitespace,
    split_spans,
    strip_block_markers,
    strip_inline_markdown,
)

FRONT_MATTER_KEYS = ("title", "language", "voices", "narrator", "author", "description", "seed", "pronunciation")
NARRATOR_NAMES = ("narrator", "旁白", "叙述者")
CUE_KINDS = ("ambience", "sfx", "pause")
AMBIENCE_STOP_WORDS = ("none", "off", "stop", "silence")
MAX_PAUSE_S = 60.0

# Segment limits in characters, per language; "default" for the rest. CJK packs more per character.
DEFAULT_MAX_CHARS: dict[str, int] = {"zh": 80, "ja": 80, "ko": 120, "default": 240}
# Per provider, winning over the language limits: a paid API counts requests, not characters, so whole
# utterances go in one request up to this length. MiniMax accepts < 10,000, but one segment's audio must
# fit in one dora message (64 MiB: 380 s of 44.1 kHz float32): 1000 Chinese characters are about 250 s.
DEFAULT_PROVIDER_MAX_CHARS: dict[str, int] = {"minimax": 1000}
# Providers that pause inside one request (MiniMax ``<#s#>``); others get one segment per side of a pause.
INLINE_PAUSE_PROVIDERS = frozenset({"minimax"})
# An inline ``[pause: s]`` travels inside paragraph text as PAUSE_OPEN seconds@line PAUSE_CLOSE.
PAUSE_OPEN, PAUSE_CLOSE = "\ue000", "\ue001"
_INLINE_PAUSE = re.compile(r"\[\s*pause\s*:\s*([^\]]*)\]", re.IGNORECASE)
_PAUSE_MARK = re.compile(PAUSE_OPEN + r"([^@]*)@(\d+)" + PAUSE_CLOSE)
_PRONUNCIATION = re.compile(r"^[^/\s][^/]*/\S.*$")

CUE_PARAMS: dict[str, dict[str, type]] = {
    "ambience": {"gain_db": float, "fade_s": float, "reverb": str, "seed": int},
    "sfx": {"gain_db": float, "duration_s": float, "wait": bool, "pan": float, "seed": int},
    "pause": {},
}
LINE_PARAMS: dict[str, type] = {"effect": str, "gain_db": float, "speed": float, "pitch": float, "pan": float}

_NAME = r"[^\s:：*【】\[\]#>(（][^:：*【】\[\]]{0,39}?"
_EMOTION = r"\s*[(（]\s*([^)）]*?)\s*[)）]"
_SPEAKER_FORMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("tag", re.compile(r"^\*\*【([^】]+)】\*\*(?:" + _EMOTION + r")?\s*(.*)$")),
    ("tag", re.compile(r"^【([^】]+)】(?:" + _EMOTION + r")?\s*(.*)$")),
    ("bold", re.compile(r"^\*\*(" + _NAME + r")(?:" + _EMOTION + r")?\s*[:：]\s*\*\*\s*(.*)$")),
    ("bold", re.compile(r"^\*\*(" + _NAME + r")(?:" + _EMOTION + r")?\s*\*\*\s*[:：]\s*(.*)$")),
    ("bare", re.compile(r"^(" + _NAME + r")(?:" + _EMOTION + r")?\s*[:：]\s*(.*)$")),
)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BRACKET_LINE = re.compile(r"^\[(.*)\]\s*$")
_CUE = re.compile(r"^\s*([A-Za-z_]+)\s*:\s*(.*)$", re.DOTALL)
_CUE_NO_COLON = re.compile(r"^\s*(ambience|sfx|pause)\b", re.IGNORECASE)
_LINE_PARAM_TAIL = re.compile(r"\s\|\s*([a-z_]+)\s*=\s*([^|\s][^|]*?)\s*$")
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
_COMMENT_OPEN, _COMMENT_CLOSE = "<!--", "-->"


@dataclass(frozen=True)
class SegmenterConfig:
    """How text is cut into TTS requests. ``max_chars`` per language (``default`` for the rest)."""

    max_chars: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_MAX_CHARS))
    pack: bool = True
    provider_max_chars: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PROVIDER_MAX_CHARS))

    def __post_init__(self) -> None:
        for name in ("max_chars", "provider_max_chars"):
            for key, value in getattr(self, name).items():
                if not _SETTING_KEY.fullmatch(str(key)):
                    raise ValueError(f"{name}: {key!r} is not a language or provider name")
                if not 1 <= int(value) <= 9999:
                    raise ValueError(f"{name}: {key}={value} must be between 1 and 9999 characters")

    def limit(self, language: str, provider: str | None = None) -> int:
        if provider is not None and provider in self.provider_max_chars:
            return int(self.provider_max_chars[provider])
        return int(self.max_chars.get(language, self.max_chars.get("default", 240)))


_SETTING_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")


@dataclass
class _Paragraph:
    speaker: str
    emotion: str | None
    line: int
    text: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    explicit: bool = True  # started by a speaker tag (vs. narrator / continued speaker)


@dataclass
class _State:
    events: list[tuple[str, Any]] = field(default_factory=list)  # ("utterance", _Paragraph) | ("cue", Cue) | ("chapter", Chapter)
    paragraph: _Paragraph | None = None
    awaiting_text: _Paragraph | None = None  # a speaker tag whose text starts on a later line
    last_speaker: str | None = None
    title: str | None = None
    content_seen: bool = False
    front_title: Any = None


def parse_script(
    text: str,
    library: VoiceLibrary,
    *,
    voice_config: Mapping[str, Any] | None = None,
    provider_available: Callable[[str], bool] = offline_only,
    config: SegmenterConfig | None = None,
) -> Plan:
    """Parse and segment a script.

    ``voice_config`` (task / CLI) maps speaker → voice id or override mapping and wins over the front
    matter. ``provider_available`` decides when a voice falls back (offline: piper and espeak only).
    """
    config = config or SegmenterConfig()
    lines = _decode(text)
    body_start, front = _front_matter(lines)
    declared, declared_lines = _declared_voices(front, lines, body_start, voice_config or {})
    narrator = _narrator(front, declared, body_start)
    state = _State(front_title=front.get("title"))
    _parse_body(lines, body_start, declared, library, narrator, state)
    return _build_plan(state, front, declared, declared_lines, library, provider_available, config, body_start)


# --- decoding and front matter ----------------------------------------------------------------


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
        if "voice" not in override:
            raise ScriptError(f"speaker {name!r} has settings but no voice", where[name] or None,
                              f"add 'voice: <id>' for {name}")
    return declared, where


def _narrator(front: dict[str, Any], declared: Mapping[str, Any], body_start: int) -> str | None:
    name = front.get("narrator")
    if name is not None:
        if str(name) not in declared:
            raise ScriptError(f"narrator {name!r} is not a declared speaker", 1,
                              f"add {name} to 'voices:' in the front matter")
        return str(name)
    return next((n for n in declared if n.lower() in NARRATOR_NAMES), None)


# --- body -------------------------------------------------------------------------------------


def _parse_body(
    lines: list[str], body_start: int, declared: Mapping[str, Any], library: VoiceLibrary,
    narrator: str | None, state: _State,
) -> None:
    for index in range(body_start, len(lines)):
        number = index + 1
        raw = lines[index]
        if raw == "\0":  # a comment-only line: invisible, does not break the paragraph
            continue
        line = raw.strip()
        if not line or _RULE.match(line):
            _end_paragraph(state)
            continue
        heading = _HEADING.match(line)
        if heading:
            _heading(state, number, len(heading.group(1)), heading.group(2))
            continue
        bracket = _BRACKET_LINE.match(line)
        if bracket and not re.match(r"^\[[^\]]*\]\(", line):
            _cue(state, number, bracket.group(1))
            continue
        speaker = _match_speaker(line, number, declared, library)
        if speaker is not None:
            _start_paragraph(state, number, *speaker)
            continue
        _text_line(state, number, line, narrator)
    _end_paragraph(state)
    if state.awaiting_text is not None:
        p = state.awaiting_text
        raise ScriptError(f"speaker line for {p.speaker} has no text", p.line,
                          f"write the line after the name, e.g. '{p.speaker}: Hello'")


def _heading(state: _State, number: int, level: int, title: str) -> None:
    _end_paragraph(state)
    _no_dangling_speaker(state)
    title = normalize_whitespace(strip_inline_markdown(title))
    if not title:
        raise ScriptError("heading has no title", number, "write a title after the '#'")
    if not state.content_seen and level == 1 and state.title is None and not state.front_title:
        state.title = title
        state.events.append(("title", number))
        return
    state.events.append(("chapter", Chapter(index=-1, title=title, line=number, level=level)))
    state.last_speaker = None


def _cue(state: _State, number: int, inner: str) -> None:
    _end_paragraph(state)
    _no_dangling_speaker(state)
    state.events.append(("cue", parse_cue(inner, number)))


def parse_cue(inner: str, number: int) -> Cue:
    """Parse the inside of ``[kind: value | key=value …]``."""
    m = _CUE.match(inner)
    if not m:
        if _CUE_NO_COLON.match(inner):
            kind = _CUE_NO_COLON.match(inner).group(1).lower()
            raise ScriptError(f"cue [{inner}] is missing ':' after '{kind}'", number, f"write it as [{kind}: …]")
        raise ScriptError(f"a line in square brackets is read as a cue, but [{inner}] is not one", number,
                          "cues are [ambience: …], [sfx: …] and [pause: seconds]; "
                          "to have it spoken, write it without the brackets")
    kind = m.group(1).lower()
    if kind not in CUE_KINDS:
        close = difflib.get_close_matches(kind, CUE_KINDS, n=1)
        suggestion = f"did you mean '{close[0]}'? " if close else ""
        raise ScriptError(f"unknown cue kind '{kind}'", number, f"{suggestion}known cues: {', '.join(CUE_KINDS)}")
    value, *param_parts = [p.strip() for p in m.group(2).split("|")]
    params = _cue_params(kind, param_parts, number)
    if kind == "pause":
        seconds = _number(value, number, "pause length")
        if not 0 < seconds <= MAX_PAUSE_S:
            raise ScriptError(f"pause of {value} s is out of range", number,
                              f"use a number of seconds above 0 and at most {MAX_PAUSE_S:g}, e.g. [pause: 1.5]")
        return Cue(index=-1, kind="pause", line=number, duration_s=seconds)
    if not value:
        hint = "describe the scene, e.g. [ambience: rain on a window], or stop it with [ambience: none]" \
            if kind == "ambience" else "describe the sound, e.g. [sfx: door creaks open]"
        raise ScriptError(f"{kind} cue has no description", number, hint)
    if kind == "ambience" and value.lower() in AMBIENCE_STOP_WORDS:
        return Cue(index=-1, kind="ambience_stop", line=number, params=tuple(sorted(params.items())))
    duration = params.pop("duration_s", None)
    return Cue(index=-1, kind=kind, line=number, prompt=normalize_whitespace(value), duration_s=duration,
               params=tuple(sorted(params.items())))


def _cue_params(kind: str, parts: list[str], number: int) -> dict[str, Any]:
    allowed = CUE_PARAMS[kind]
    params: dict[str, Any] = {}
    for part in parts:
        if "=" not in part:
            raise ScriptError(f"cue parameter '{part}' is not key=value", number,
                              f"write e.g. '| gain_db=-6'; {kind} accepts: {', '.join(allowed) or 'no parameters'}")
        key, raw = (s.strip() for s in part.split("=", 1))
        if key not in allowed:
            raise ScriptError(f"unknown {kind} parameter '{key}'", number,
                              f"{kind} accepts: {', '.join(allowed) or 'no parameters'}")
        params[key] = _typed(raw, allowed[key], number, key)
    _check_param_ranges(kind, params, number)
    return params


def _check_param_ranges(kind: str, params: Mapping[str, Any], number: int) -> None:
    ranges = {"gain_db": (-40.0, 20.0), "fade_s": (0.0, 30.0), "duration_s": (0.05, 30.0), "pan": (-1.0, 1.0)}
    for key, (lo, hi) in ranges.items():
        if key in params and not lo <= params[key] <= hi:
            raise ScriptError(f"{key}={params[key]:g} is out of range", number, f"use a value in [{lo:g}, {hi:g}]")
    if params.get("reverb") not in (None, "none", "room", "hall"):
        raise ScriptError(f"unknown reverb '{params['reverb']}'", number, "use reverb=room, reverb=hall or reverb=none")


def _typed(raw: str, kind: type, number: int, key: str) -> Any:
    if kind is bool:
        lowered = raw.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ScriptError(f"{key}={raw} is not true/false", number, f"write {key}=true or {key}=false")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ScriptError(f"{key}={raw} is not a whole number", number) from None
    if kind is float:
        return _number(raw, number, key)
    return raw


def _number(raw: str, number: int, what: str) -> float:
    try:
        value = float(raw.removesuffix("s").strip())
    except ValueError:
        raise ScriptError(f"{what} '{raw}' is not a number", number, "write a number such as 1.5") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ScriptError(f"{what} '{raw}' is not a finite number", number)
    return value


def _match_speaker(
    line: str, number: int, declared: Mapping[str, Any], library: VoiceLibrary
) -> tuple[str, str | None, str, bool] | None:
    """(speaker, emotion, rest of line, explicit) for a speaker line, else None."""
    for form, pattern in _SPEAKER_FORMS:
        m = pattern.match(line)
        if not m:
            continue
        name, emotion, rest = m.group(1).strip(), m.group(2), m.group(3)
        if form == "bare":
            speaker = _declared_name(name, declared)
            if speaker is None:
                continue  # "Note: …" is text unless Note is a declared speaker
        else:
            speaker = _declared_name(name, declared) or _alias_speaker(name, library)
            if speaker is None:
                raise _unknown_speaker(name, number, declared)
        return speaker, _emotion(emotion, number), rest, True
    return None


def _declared_name(name: str, declared: Mapping[str, Any]) -> str | None:
    if name in declared:
        return name
    folded = {n.casefold(): n for n in declared}
    return folded.get(name.casefold())


def _alias_speaker(name: str, library: VoiceLibrary) -> str | None:
    """A tag like 【大牛】 names a voice by alias or display name: the speaker is then that voice."""
    return name if library.by_alias(name) or name in library else None


def _unknown_speaker(name: str, number: int, declared: Mapping[str, Any]) -> ScriptError:
    close = difflib.get_close_matches(name, list(declared), n=1)
    suggestion = f"did you mean {close[0]!r}? otherwise " if close else ""
    return ScriptError(f"unknown speaker {name!r}", number,
                       f"{suggestion}add '{name}: <voice-id>' under 'voices:' in the front matter, "
                       f"or pass --voice '{name}=<voice-id>'")


def _emotion(raw: str | None, number: int) -> str | None:
    if raw is None:
        return None
    emotion = raw.strip().lower()
    if emotion not in EMOTIONS:
        raise ScriptError(f"unknown emotion '({raw})'", number, f"use one of: {', '.join(EMOTIONS)}")
    return emotion


def _start_paragraph(state: _State, number: int, speaker: str, emotion: str | None, rest: str, explicit: bool) -> None:
    _end_paragraph(state)
    _no_dangling_speaker(state)
    paragraph = _Paragraph(speaker=speaker, emotion=emotion, line=number, explicit=explicit)
    text, params = _line_params(rest, number)
    paragraph.params = params
    state.last_speaker = speaker
    if text.strip():
        paragraph.text = _clean(text, number)
        state.paragraph = paragraph
    else:
        state.awaiting_text = paragraph  # MoFA style: 【大牛】 alone, the text on the next lines


def _line_params(text: str, number: int) -> tuple[str, dict[str, Any]]:
    """Strip trailing ``| key=value`` parameters (only known keys) from a speaker line."""
    params: dict[str, Any] = {}
    while True:
        m = _LINE_PARAM_TAIL.search(text)
        if not m or m.group(1) not in LINE_PARAMS:
            break
        key, raw = m.group(1), m.group(2)
        value = _typed(raw, LINE_PARAMS[key], number, key)
        if key == "effect" and value not in (*VOICE_EFFECTS, "none"):
            raise ScriptError(f"unknown effect '{value}'", number, f"use one of: {', '.join(VOICE_EFFECTS)}, none")
        if key in OVERRIDE_RANGES and not OVERRIDE_RANGES[key][0] <= value <= OVERRIDE_RANGES[key][1]:
            lo, hi = OVERRIDE_RANGES[key]
            raise ScriptError(f"{key}={raw} is out of range", number, f"use a value in [{lo:g}, {hi:g}]")
        params[key] = value
        text = text[: m.start()]
    return text, params


def _text_line(state: _State, number: int, line: str, narrator: str | None) -> None:
    text = strip_block_markers(line)
    if state.paragraph is not None:
        state.paragraph.text = join_lines(state.paragraph.text, _clean(text, number))
        return
    if state.awaiting_text is not None:
        paragraph, state.awaiting_text = state.awaiting_text, None
        paragraph.text = _clean(text, number)
        state.paragraph = paragraph
        return
    speaker = narrator or state.last_speaker
    if speaker is None:
        raise ScriptError("text has no speaker", number,
                          "start the line with a speaker ('Name: text' or '【Name】text'), "
                          "or set 'narrator: Name' in the front matter")
    state.paragraph = _Paragraph(speaker=speaker, emotion=None, line=number, text=_clean(text, number),
                                 explicit=False)


def _clean(text: str, number: int) -> str:
    """Inline Markdown reduced to words; inline ``[pause: s]`` kept as a marker (see ``_split_pauses``)."""

    def mark(m: re.Match[str]) -> str:
        seconds = _number(m.group(1), number, "pause length")
        if not 0 < seconds <= MAX_PAUSE_S:
            raise ScriptError(f"pause of {m.group(1).strip()} s is out of range", number,
                              f"use a number of seconds above 0 and at most {MAX_PAUSE_S:g}, e.g. [pause: 0.8]")
        return f" {PAUSE_OPEN}{seconds!r}@{number}{PAUSE_CLOSE} "

    return normalize_whitespace(strip_inline_markdown(_INLINE_PAUSE.sub(mark, text)))


def _split_pauses(text: str, line: int) -> tuple[str, list[tuple[int, float]]]:
    """Paragraph text without pause markers, and the pauses as (offset into that text, seconds).

    A pause must sit between words; pauses with nothing speakable between them add up."""
    pieces = _PAUSE_MARK.split(text)  # text, seconds, line, text, seconds, line, ..., text
    clean = pieces[0].strip()
    pauses: list[tuple[int, float]] = []
    for k in range(1, len(pieces), 3):
        seconds, where, after = float(pieces[k]), int(pieces[k + 1]), pieces[k + 2].strip()
        if not is_speakable(clean):
            raise ScriptError("an inline [pause] must sit between words; nothing is said before this one",
                              where, "to pause before the line, put [pause: s] on its own line above it")
        if pauses and pauses[-1][0] == len(clean):
            seconds += pauses.pop()[1]
            if seconds > MAX_PAUSE_S:
                raise ScriptError(f"pauses in a row add up to {seconds:g} s", where,
                                  f"keep a pause at most {MAX_PAUSE_S:g} s")
        pauses.append((len(clean), seconds))
        clean = join_lines(clean, after)
    if pauses and not is_speakable(clean[pauses[-1][0]:]):
        raise ScriptError("an inline [pause] must sit between words; nothing is said after this one",
                          line, "to pause after the line, put [pause: s] on its own line below it")
    return clean, pauses


def _end_paragraph(state: _State) -> None:
    paragraph, state.paragraph = state.paragraph, None
    if paragraph is None:
        return
    if not is_speakable(_PAUSE_MARK.sub(" ", paragraph.text)):
        raise ScriptError(f"nothing to say in {_PAUSE_MARK.sub(' ', paragraph.text).strip()!r}", paragraph.line,
                          "give the line some words, or remove it")
    state.events.append(("utterance", paragraph))
    state.content_seen = True


def _no_dangling_speaker(state: _State) -> None:
    if state.awaiting_text is not None:
        p = state.awaiting_text
        raise ScriptError(f"speaker line for {p.speaker} has no text", p.line,
                          f"write the line after the name, e.g. '{p.speaker}: Hello'")
    state.content_seen = state.content_seen or bool(state.events)


# --- assembling the plan ----------------------------------------------------------------------


def _build_plan(
    state: _State, front: dict[str, Any], declared: Mapping[str, dict[str, Any]], declared_lines: Mapping[str, int],
    library: VoiceLibrary, provider_available: Callable[[str], bool], config: SegmenterConfig, body_start: int,
) -> Plan:
    paragraphs = [p for kind, p in state.events if kind == "utterance"]
    if not paragraphs:
        raise ScriptError("the script has no spoken text", body_start + 1,
                          "add at least one line like 'Narrator: Once upon a time…'")
    language = str(front.get("language") or "").strip() or None
    speakers, notes = _resolve_speakers(paragraphs, declared, declared_lines, library, provider_available)
    language = language or speakers[paragraphs[0].speaker].language
    utterances: list[Utterance] = []
    cues: list[Cue] = []
    chapters: list[Chapter] = []
    events: list[Event] = []
    seq = 0
    for kind, item in state.events:
        if kind == "utterance":
            utterance = _utterance(len(utterances), item, speakers[item.speaker], seq, config)
            seq += len(utterance.segments)
            utterances.append(utterance)
            events.append(Event("utterance", utterance.index))
        elif kind == "cue":
            cues.append(Cue(**{**item.__dict__, "index": len(cues)}))
            events.append(Event("cue", len(cues) - 1))
        elif kind == "chapter":
            chapters.append(Chapter(index=len(chapters), title=item.title, line=item.line, level=item.level))
            events.append(Event("chapter", len(chapters) - 1))
    title = str(front.get("title") or state.title or "Untitled")
    fm = {k: v for k, v in front.items() if k not in ("_end", "voices", "pronunciation")}
    return Plan(
        title=title, language=str(language), speakers=tuple(sorted(speakers.items())),
        utterances=tuple(utterances), cues=tuple(cues), chapters=tuple(chapters), events=tuple(events),
        warnings=tuple(notes), front_matter=tuple(sorted((k, _plain(v)) for k, v in fm.items())),
        pronunciation=tuple(front.get("pronunciation", ())),
    )


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _resolve_speakers(
    paragraphs: list[_Paragraph], declared: Mapping[str, dict[str, Any]], declared_lines: Mapping[str, int],
    library: VoiceLibrary, provider_available: Callable[[str], bool],
) -> tuple[dict[str, VoiceSettings], list[str]]:
    first_line: dict[str, int] = {}
    for p in paragraphs:
        first_line.setdefault(p.speaker, p.line)
    speakers: dict[str, VoiceSettings] = {}
    notes: list[str] = []
    for name, line in first_line.items():
        override = declared.get(name)
        if override is None:
            voice_id = library.by_alias(name) or (name if name in library else None)
            if voice_id is None:
                raise _unknown_speaker(name, line, declared)
            override = {"voice": voice_id}
        if override["voice"] not in library:
            where = declared_lines.get(name) or line
            raise ScriptError(f"speaker {name!r}: {library.unknown_voice_message(override['voice'])}", where,
                              "pick a voice id from 'dramaflow voices list'")
        settings, fallback_notes = resolve_voice(library, override, provider_available=provider_available)
        speakers[name] = settings
        notes += [f"speaker {name}: {n}" for n in fallback_notes]
    return speakers, notes


def _utterance(index: int, p: _Paragraph, voice: VoiceSettings, first_seq: int, config: SegmenterConfig) -> Utterance:
    params = dict(p.params)
    effect = params.pop("effect", voice.effect)
    effect = None if effect == "none" else effect
    overrides = {k: float(v) for k, v in params.items() if k in ("gain_db", "speed", "pitch", "pan")}
    if overrides:
        voice = voice.replace(**overrides)
    text, pauses = _split_pauses(p.text, p.line)
    pieces = _pieces(text, pauses, config.limit(voice.language, voice.provider))
    packed = _pack(pieces, config.limit(voice.language, voice.provider), config.pack,
                   inline_pauses=voice.provider in INLINE_PAUSE_PROVIDERS)
    segments = tuple(
        Segment(seq=first_seq + k, utterance=index, index=k, text=text[s:e], line=p.line,
                pauses=tuple((offset - s, seconds) for offset, seconds in inside), pause_after_s=after)
        for k, (s, e, inside, after) in enumerate(packed)
    )
    return Utterance(index=index, speaker=p.speaker, voice=voice, text=text, line=p.line,
                     emotion=p.emotion, effect=effect, segments=segments)


def _pieces(text: str, pauses: list[tuple[int, float]], limit: int) -> list[tuple[int, int, float]]:
    """Unpacked spans (start, end, pause after) of ``text``: split between pauses, then by ``split_spans``."""
    bounds = [0, *(offset for offset, _ in pauses), len(text)]
    out: list[tuple[int, int, float]] = []
    for k in range(len(bounds) - 1):
        a, b = bounds[k], bounds[k + 1]
        spans = split_spans(text[a:b], limit, pack=False)
        for j, (s, e) in enumerate(spans):
            last = j == len(spans) - 1 and k < len(pauses)
            out.append((a + s, a + e, pauses[k][1] if last else 0.0))
    return out


def _pack(
    pieces: list[tuple[int, int, float]], limit: int, pack: bool, *, inline_pauses: bool
) -> list[tuple[int, int, list[tuple[int, float]], float]]:
    """Merge consecutive pieces while they fit in ``limit`` (a short utterance stays one request).

    A pause between pieces is kept inside the merged segment only for providers that pause in-request;
    for the others a pause always ends a segment (its ``pause_after_s``)."""
    out: list[tuple[int, int, list[tuple[int, float]], float]] = []
    for s, e, pause in pieces:
        if pack and out:
            first, last_end, inside, after = out[-1]
            if e - first <= limit and (after == 0.0 or inline_pauses):
                out[-1] = (first, e, inside + ([(last_end, after)] if after else []), pause)
                continue
        out.append((s, e, [], pause))
    return out


def plan_seed(plan: Plan, override: int | None = None) -> int:
    """The task's seed: an explicit override, else the front matter's ``seed:``, else 0."""
    return int(override) if override is not None else int(dict(plan.front_matter).get("seed", 0))
