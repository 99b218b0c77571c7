"""A completed task's files: the audio (MP3 or WAV), its timeline and its subtitles. Served only from
paths the worker recorded, and only inside the data folder."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse
from sqlmodel import Session, select

from control_api.api.deps import API_PREFIX, CurrentUser, SessionDep, SettingsDep, own_task
from control_api.api.problems import Problem, not_found
from control_api.db import Audio, Task, TaskStatus
from control_api.queue import OUTPUT_NAME
from control_api.settings import ServiceSettings

router = APIRouter(prefix=API_PREFIX, tags=["tasks"])


def inside(settings: ServiceSettings, path: str | Path) -> Path:
    """The resolved path, if it lies inside the data folder; 404 otherwise."""
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(settings.data_dir.resolve()) or not resolved.is_file():
        raise not_found("file")
    return resolved


def _audio(session: Session, task: Task, fmt: str) -> Audio:
    if task.status != TaskStatus.completed:
        raise Problem(409, "Not ready", f"the task is {task.status}; audio exists once it is completed")
    audio = session.exec(select(Audio).where(Audio.task_id == task.id, Audio.format == fmt)).first()
    if audio is None:
        raise Problem(410, "Gone", "the audio of this task has expired")
    return audio


def _companion(session: Session, settings: ServiceSettings, task: Task, suffix: str) -> Path:
    mp3 = inside(settings, _audio(session, task, "mp3").file_path)
    return inside(settings, mp3.with_name(Path(OUTPUT_NAME).stem + suffix))


@router.get("/tasks/{task_id}/audio", summary="The rendered audio (Range requests supported)",
            response_class=FileResponse)
def task_audio(task_id: uuid.UUID, user: CurrentUser, session: SessionDep, settings: SettingsDep,
               format: Literal["mp3", "wav"] = "mp3") -> FileResponse:  # noqa: A002 - the query name
    task = own_task(session, user, task_id)
    path = inside(settings, _audio(session, task, format).file_path)
    name = f"{(task.title or 'dramaflow')[:80]}.{format}".replace('"', "'").replace("/", "-")
    return FileResponse(path, media_type="audio/mpeg" if format == "mp3" else "audio/wav", filename=name)


@router.get("/tasks/{task_id}/timeline", summary="Timeline: utterances, segments, cues, chapters (JSON)")
def task_timeline(task_id: uuid.UUID, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> FileResponse:
    task = own_task(session, user, task_id)
    return FileResponse(_companion(session, settings, task, ".timeline.json"), media_type="application/json")


@router.get("/tasks/{task_id}/subtitles", summary="Subtitles as SRT or WebVTT")
def task_subtitles(task_id: uuid.UUID, user: CurrentUser, session: SessionDep, settings: SettingsDep,
                   format: Literal["srt", "vtt"] = "vtt") -> FileResponse:  # noqa: A002
    task = own_task(session, user, task_id)
    media = "text/vtt" if format == "vtt" else "application/x-subrip"
    return FileResponse(_companion(session, settings, task, f".{format}"), media_type=media)
