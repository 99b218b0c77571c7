"""``dramaflow adapt``: prose (a novel chapter) into a drama script."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from control_api.cli.common import _fail, _read_script, console, escape, out


def adapt(source: Annotated[Path, typer.Argument(help="Plain text or Markdown, English or Chinese.")],
          output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the script here "
                                                      "(default: print it).")] = None,
          offline: Annotated[bool, typer.Option("--offline", help="Adapt by rules, without an LLM.")] = False,
          title: Annotated[str | None, typer.Option(help="The script's title (default: the first # heading).")] = None,
          language: Annotated[str | None, typer.Option(help="en or zh (default: detected).")] = None) -> None:
    """Adapt prose into a drama script: quotes become the lines of the characters the text names, the
    rest the narrator's; scenes get ambience, sounds the text tells of get effects. Prints the checks."""
    from control_api.writer.rules import adapt as adapt_by_rules
    from nodes.common.files import atomic_write
    from nodes.common.voices import load_voices
    from nodes.segmenter.core import parse_script

    if language not in (None, "en", "zh"):
        raise _fail(f"--language {language}: choose en or zh", 2)
    if not offline:
        console.print("[yellow]warning:[/] no LLM adapter is available yet: adapting by rules (as --offline)")
    text = _read_script(source)
    adapted = adapt_by_rules(text, language=language, title=title)
    plan = parse_script(adapted.script, load_voices())  # what the renderer reads; a failure here is a bug
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(output, lambda f: f.write(adapted.script.encode("utf-8")))
    else:
        out.print(adapted.script, end="", highlight=False, markup=False)
    share = adapted.coverage.share * 100
    console.print(f"{len(plan.utterances)} lines, speakers: {', '.join(adapted.speakers) or 'the narrator only'}; "
                  f"{adapted.tags_removed} speech tags became speakers; {share:.1f} % of the text kept"
                  + (f" → {escape(str(output))}" if output else ""), highlight=False)
    for passage in adapted.coverage.missing:
        console.print(f"[yellow]missing:[/] {escape(passage)}", highlight=False)
