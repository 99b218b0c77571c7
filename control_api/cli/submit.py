"""``dramaflow submit``: send a script to the REST API and, with --follow, watch it and fetch the MP3.

A top-level command: ``control_api.cli`` registers ``submit`` on the root app.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TaskID

from control_api.cli.common import _fail, _progress, _read_script, _voice_map, console, escape, out


def submit(
    script: Annotated[Path, typer.Argument(help="Markdown script to render.")],
    template: Annotated[str, typer.Option("--template", "-t", help="Dataflow template.")] = "podcast",
    voice: Annotated[list[str] | None, typer.Option("--voice", "-v", help="Name=voice-id (repeatable).")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Show progress, download the result.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to save the MP3 (with --follow).")] = None,
    api: Annotated[str, typer.Option(envvar="DRAMAFLOW_API_URL", help="Base URL of the API.")] = "http://127.0.0.1:8000",
    key: Annotated[str | None, typer.Option(envvar="DRAMAFLOW_API_KEY", help="API key.")] = None,
) -> None:
    """Submit SCRIPT to the API; with --follow, draw progress from its events and download the MP3."""
    import httpx

    if not key:
        raise _fail("no API key: pass --key or set DRAMAFLOW_API_KEY", 2)
    body = {"script": _read_script(script), "template": template, "voice_config": _voice_map(voice)}
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=api, headers=headers, timeout=httpx.Timeout(30, read=None)) as client:
        response = client.post("/api/v1/tasks", json=body)
        if response.status_code != 202:
            problem = _problem(response)
            raise _fail(problem, 2 if response.status_code in (400, 402, 413, 422) else 1)
        task = response.json()
        console.print(f"task {task['id']} queued ({task['credit_cost']} credits)")
        for warning in task.get("warnings", []):
            console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
        if not follow:
            out.print(task["id"])
            return
        final = _follow(client, task)
        if final.get("status_value") != "completed":
            raise _fail(f"task {final.get('status_value')}: {final.get('error', '')}", 1)
        target = output or script.with_suffix(".mp3")
        with client.stream("GET", task["urls"]["audio_mp3"]) as audio, open(target, "wb") as f:
            for chunk in audio.iter_bytes():
                f.write(chunk)
        out.print(f"wrote {target} ({os.path.getsize(target)} bytes, {final.get('duration_s', 0):.1f} s)")


def _problem(response) -> str:
    try:
        doc = response.json()
        return f"{response.status_code} {doc.get('title', '')}: {doc.get('detail', '')}"
    except ValueError:
        return f"{response.status_code}: {response.text[:300]}"


def _follow(client, task: dict) -> dict:
    """Read the task's SSE stream to its final status event, drawing one bar per stage."""
    bars: dict[str, TaskID] = {}
    final: dict = {}
    with _progress(transient=False) as bar:
        for event, data in iter_sse(client, task["urls"]["events"]):
            doc = json.loads(data)
            if event in ("stage", "progress"):
                stage = doc["stage"]
                if stage not in bars:
                    bars[stage] = bar.add_task(stage, total=max(doc["total"], 1))
                bar.update(bars[stage], completed=doc["done"], total=max(doc["total"], 1))
            elif event == "status" and doc.get("status_value") in ("completed", "failed", "cancelled"):
                final = doc
                break
    return final


def iter_sse(client, url: str):
    """(event, data) pairs of a Server-Sent Events response; reconnects with Last-Event-ID."""
    import httpx

    last_id = None
    while True:
        headers = {"Last-Event-ID": last_id} if last_id else {}
        try:
            with client.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    raise _fail(_problem(response.read() and response), 1)
                event, data = "message", []
                for line in response.iter_lines():
                    if line.startswith("id:"):
                        last_id = line[3:].strip()
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line and data:
                        yield event, "\n".join(data)
                        event, data = "message", []
                return
        except httpx.TransportError:
            continue
