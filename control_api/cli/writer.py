"""``dramaflow write`` (a script drafted by the configured language model) and ``dramaflow adapt`` (prose,
a novel chapter, into a drama script)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from control_api.cli.common import _fail, _read_script, console, escape, out


def _llm_config(required: bool):
    """The configured language model (DRAMAFLOW_LLM_*), or None when there is none and it is not required."""
    import os

    from control_api.writer.llm import NOT_CONFIGURED, LLMConfig
    from nodes.common.errors import ConfigError

    try:
        config = LLMConfig.from_env(os.environ)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    if config is None and required:
        raise _fail(NOT_CONFIGURED, 2)
    return config


def _with_model(config, work):
    """Run ``await work(client)`` with a chat client for ``config``; a model that stays away fails (exit 1)."""
    import asyncio

    from control_api.writer.llm import ChatClient
    from nodes.common.errors import BackendError

    async def run():
        client = ChatClient(config)
        try:
            return await work(client)
        finally:
            await client.close()

    try:
        return asyncio.run(run())
    except BackendError as exc:
        raise _fail(f"the language model is unavailable: {exc}", 1) from None


def _save_or_print(script: str, output: Path | None) -> None:
    from nodes.common.files import atomic_write

    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(output, lambda f: f.write(script.encode("utf-8")))
    else:
        out.print(script, end="", highlight=False, markup=False)


def adapt(source: Annotated[Path, typer.Argument(help="Plain text or Markdown, English or Chinese.")],
          output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the script here "
                                                      "(default: print it).")] = None,
          offline: Annotated[bool, typer.Option("--offline", help="Adapt by rules, without an LLM.")] = False,
          title: Annotated[str | None, typer.Option(help="The script's title (default: the first # heading).")] = None,
          language: Annotated[str | None, typer.Option(help="en or zh (default: detected).")] = None) -> None:
    """Adapt prose into a drama script: quotes become the lines of the characters the text names, the
    rest the narrator's; scenes get ambience, sounds the text tells of get effects. With a configured
    language model (DRAMAFLOW_LLM_*) the model adapts it in chunks, checked and completed; without one,
    or with --offline, the rules do. Prints the checks: what was kept, restored and missing."""
    from control_api.writer.adaptation import adapt_with_model
    from control_api.writer.llm import NOT_CONFIGURED
    from control_api.writer.rules import adapt as adapt_by_rules
    from nodes.common.voices import load_voices
    from nodes.segmenter.core import parse_script

    if language not in (None, "en", "zh"):
        raise _fail(f"--language {language}: choose en or zh", 2)
    text = _read_script(source)
    library = load_voices()
    config = None if offline else _llm_config(required=False)
    if config is None:
        if not offline:
            console.print(f"[yellow]warning:[/] adapting by rules (as --offline): {escape(NOT_CONFIGURED)}")
        adapted = adapt_by_rules(text, language=language, title=title)
    else:
        def progress(done: int, total: int) -> None:
            console.print(f"chunk {done}/{total} adapted", highlight=False)

        adapted = _with_model(config, lambda client: adapt_with_model(text, client, library, language=language,
                                                                      title=title, progress=progress))
    plan = parse_script(adapted.script, library)  # what the renderer reads; a failure here is a bug
    _save_or_print(adapted.script, output)
    share = adapted.coverage.share * 100
    tokens = sum(r.total_tokens for r in adapted.replies)
    console.print(f"{len(plan.utterances)} lines, speakers: {', '.join(adapted.speakers) or 'the narrator only'}; "
                  f"{adapted.tags_removed} speech tags became speakers; {share:.1f} % of the text kept"
                  + (f"; {adapted.chunk_count} chunk(s), {tokens} tokens" if adapted.mode == "llm" else "")
                  + (f" → {escape(str(output))}" if output else ""), highlight=False)
    for number in adapted.fallback_chunks:
        console.print(f"[yellow]chunk {number}:[/] the model's lines failed the checks twice; adapted by the rules",
                      highlight=False)
    for line, passage in adapted.restored:
        console.print(f"[yellow]restored, line {line}:[/] {escape(passage)}", highlight=False)
    for passage in adapted.coverage.missing:
        console.print(f"[yellow]missing:[/] {escape(passage)}", highlight=False)


def write(topic: Annotated[str, typer.Argument(help="What the script is about.")],
          style: Annotated[str, typer.Option(help="educational, casual, interview, debate or drama.")] = "casual",
          speaker: Annotated[list[str] | None, typer.Option("--speaker", "-s", help="Name=voice-id[:persona] "
                                                            "(repeatable).")] = None,
          language: Annotated[str, typer.Option(help="en or zh.")] = "en",
          minutes: Annotated[float, typer.Option(help="Target length in minutes.")] = 5.0,
          output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the script here "
                                                      "(default: print it).")] = None) -> None:
    """Draft a script with the configured language model (DRAMAFLOW_LLM_*), checked by dramaflow's own
    parser and repaired once; prints the checks. A draft that still fails is not written to -o (exit 1)."""
    from control_api.writer.author import Brief
    from control_api.writer.author import write as write_draft
    from control_api.writer.drafts import STYLES
    from nodes.common.voices import load_voices

    if style not in STYLES:
        raise _fail(f"--style {style}: choose one of {', '.join(STYLES)}", 2)
    library = load_voices()
    cast = []
    for item in speaker or []:
        name, sep, rest = item.partition("=")
        voice, _, persona = rest.partition(":")
        if not sep or not name.strip() or voice.strip() not in library:
            raise _fail(f"--speaker {item!r}: write it as Name=voice-id[:persona] with a voice of "
                        "'dramaflow voices list'", 2)
        cast.append({"name": name.strip(), "voice": voice.strip(), "persona": persona.strip()})
    config = _llm_config(required=True)
    brief = Brief(topic=topic, style=style, language=language, target_duration_s=minutes * 60, speakers=tuple(cast))
    drafted = _with_model(config, lambda client: write_draft(client, library, brief,
                                                             f"Write the first draft. Topic: {topic}"))
    check = drafted.check
    words = ", ".join(f"{name} {n}" for name, n in check.words.items())
    console.print(f"{len(drafted.replies)} call(s), {drafted.tokens} tokens; words: {words or 'none'}; "
                  f"about {(check.estimated_duration_s or 0) / 60:.1f} min", highlight=False)
    for problem in check.problems:
        console.print(f"[red]problem:[/] {escape(str(problem))}", highlight=False)
    if not check.ok:
        out.print(check.script, end="", highlight=False, markup=False)
        raise _fail("the draft does not pass its checks (above); it was not written", 1)
    _save_or_print(check.script, output)
    if output is not None:
        console.print(f"→ {escape(str(output))}", highlight=False)
