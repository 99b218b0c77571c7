"""The request and response bodies of the API: what the OpenAPI schema shows and what each response
holds (a response model keeps only its own fields, so every field a response has is declared here).

Timestamps are ISO 8601 strings as ``datetime.isoformat`` writes them (``+00:00``, not ``Z``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from control_api.db import Script, Task, TaskStatus

VoiceChoice = str | dict[str, Any]
TaskState = Literal["queued", "running", "completed", "failed", "cancelled"]
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


def storable_text(value: Any) -> Any:
    """Refuse text that cannot be stored or spoken: NUL and unpaired surrogates, naming the line."""
    if isinstance(value, str):
        for index, char in enumerate(value):
            if char == "\x00" or "\ud800" <= char <= "\udfff":
                line = value.count("\n", 0, index) + 1
                what = "a NUL character" if char == "\x00" else f"an unpaired surrogate (U+{ord(char):04X})"
                raise ValueError(f"line {line} contains {what}; save the text as UTF-8 and remove it")
    return value


# --- requests --------------------------------------------------------------------------------------


class TaskCreate(BaseModel):
    script: str | None = Field(None, description="The script, Markdown (design §5).")
    script_id: uuid.UUID | None = Field(None, description="A stored script instead of `script`.")
    voice_config: dict[str, VoiceChoice] = Field(default_factory=dict,
                                                 description="speaker → voice id or {voice, speed, pitch, …}")
    template: str = "podcast"
    options: dict[str, Any] = Field(default_factory=dict, description="{'seed': int, 'settings': {group: {k: v}}}")

    _text = field_validator("script")(lambda value: storable_text(value))

    @model_validator(mode="after")
    def _one_script(self) -> TaskCreate:
        if (self.script is None) == (self.script_id is None):
            raise ValueError("give exactly one of `script` and `script_id`")
        return self


class ScriptCreate(BaseModel):
    title: str = Field("", max_length=300)
    content: str

    _text = field_validator("title", "content")(lambda value: storable_text(value))


class ScriptUpdate(ScriptCreate):
    """The new title and content (both replace the stored ones)."""


class TemplatePreview(BaseModel):
    voice_config: dict[str, VoiceChoice] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    title: str = "Preview"


# --- tasks -----------------------------------------------------------------------------------------


class StageProgress(BaseModel):
    model_config = ConfigDict(extra="allow")

    done: int
    total: int
    retries: int = 0


class TaskUsage(BaseModel):
    """What the TTS provider billed (0 for offline voices and cache hits)."""

    requests: int
    usage_characters: int
    cache_hits: int
    retries: int


class TaskLinks(BaseModel):
    self: str
    events: str
    cancel: str
    audio_mp3: str
    audio_wav: str
    timeline: str
    subtitles_srt: str
    subtitles_vtt: str


class TaskPublic(BaseModel):
    id: uuid.UUID
    status: TaskState
    template: str
    title: str
    stage: str | None
    progress: int
    eta_s: float | None
    stages: dict[str, StageProgress]
    error: str | None
    credit_cost: int
    chars: int
    segments: int
    duration_s: float | None
    retry_count: int
    tts: TaskUsage
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    urls: TaskLinks

    @classmethod
    def of(cls, task: Task, live: dict[str, Any] | None = None, **extra: Any) -> Self:
        """The view of ``task``, its progress as Redis has it (``live``) over the row's."""
        return cls.model_validate(task_view(task, live) | extra)


class TaskAccepted(TaskPublic):
    """A submitted task (new, or the one stored under the same Idempotency-Key)."""

    warnings: list[str]


class TaskDetail(TaskPublic):
    cancel_requested: bool | None = Field(description="null while the event store is unreachable")


class TaskList(BaseModel):
    items: list[TaskPublic]
    total: int
    limit: int
    offset: int


def task_view(task: Task, live: dict[str, Any] | None = None, base: str = "/api/v1") -> dict[str, Any]:
    live = live or {}
    status = live.get("status") if live.get("status") and not TaskStatus(task.status).final else task.status
    url = f"{base}/tasks/{task.id}"
    view = {
        "id": str(task.id), "status": status, "template": task.template, "title": task.title,
        "stage": live.get("stage", task.stage), "progress": 100 if task.status == "completed" else
        int(live.get("progress", task.progress)), "eta_s": live.get("eta_s"), "stages": live.get("stages", {}),
        "error": task.error_message if task.status in ("failed", "cancelled") else None,
        "credit_cost": task.credit_cost, "chars": task.chars_processed, "segments": task.segments,
        "duration_s": task.duration_s, "retry_count": task.retry_count,
        "tts": {"requests": task.tts_requests, "usage_characters": task.tts_usage_characters,
                "cache_hits": task.tts_cache_hits, "retries": task.tts_retries},
        "created_at": task.created_at.isoformat(), "started_at": _iso(task.started_at),
        "finished_at": _iso(task.finished_at),
        "urls": {"self": url, "events": f"{url}/events", "cancel": f"{url}/cancel",
                 "audio_mp3": f"{url}/audio?format=mp3", "audio_wav": f"{url}/audio?format=wav",
                 "timeline": f"{url}/timeline", "subtitles_srt": f"{url}/subtitles?format=srt",
                 "subtitles_vtt": f"{url}/subtitles?format=vtt"},
    }
    return view


def _iso(value) -> str | None:
    return value.isoformat() if value else None


# --- scripts, voices, templates, health ------------------------------------------------------------


class ScriptPublic(BaseModel):
    id: uuid.UUID
    title: str
    content: str
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, script: Script) -> Self:
        return cls(id=script.id, title=script.title, content=script.content,
                   created_at=script.created_at.isoformat(), updated_at=script.updated_at.isoformat())


class ScriptList(BaseModel):
    items: list[ScriptPublic]
    limit: int
    offset: int


class VoicePublic(BaseModel):
    """One voices.yaml entry (fields the library adds later pass through)."""

    model_config = ConfigDict(extra="allow")

    id: str
    display_name: str
    provider: str
    provider_voice: str | None
    language: str
    category: str
    gender: str | None
    fallback: str | None
    aliases: list[str]
    params: dict[str, Any]
    description: str


class TemplatePublic(BaseModel):
    name: str
    description: str


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(description="redis, postgres, dora: `ok` or `error: …`")
