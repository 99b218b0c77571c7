"""The request and response bodies of the API: what the OpenAPI schema shows and what each response
holds (a response model keeps only its own fields, so every field a response has is declared here).

Timestamps are ISO 8601 strings as ``datetime.isoformat`` writes them (``+00:00``, not ``Z``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from control_api.db import ApiKey, CreditTransaction, Script, Task, TaskStatus, User

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
    options: dict[str, Any] = Field(default_factory=dict, description="{'seed': int, 'settings': {group: {k: v}}, "
                                    "'keep': bool (the audio never expires; default: your account's keep_audio)}")
    engine_type: Literal["dora", "direct"] | None = Field(None, description="default: the service's "
                                                          "DRAMAFLOW_DEFAULT_ENGINE")

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
    engine_type: str
    script_id: uuid.UUID | None
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
        "id": str(task.id), "status": status, "template": task.template, "engine_type": task.engine_type,
        "script_id": str(task.script_id) if task.script_id else None, "title": task.title,
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
    source: Literal["uploaded", "ai_generated", "template"]
    conversation_id: uuid.UUID | None
    estimated_chars: int | None
    estimated_duration_s: float | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, script: Script) -> Self:
        return cls(id=script.id, title=script.title, content=script.content, source=script.source,
                   conversation_id=script.conversation_id, estimated_chars=script.estimated_chars,
                   estimated_duration_s=script.estimated_duration_s,
                   created_at=script.created_at.isoformat(), updated_at=script.updated_at.isoformat())


class ScriptCheckRequest(BaseModel):
    content: str
    voice_config: dict[str, VoiceChoice] = Field(default_factory=dict)
    template: str = "podcast"

    _text = field_validator("content")(lambda value: storable_text(value))


class SpeakerSummary(BaseModel):
    name: str
    voice: str
    provider: str
    language: str
    line: int = Field(description="where the speaker first speaks")
    utterances: int
    words: int


class ScriptCounts(BaseModel):
    lines: int
    utterances: int
    segments: int
    cues: int
    chapters: int
    chars: int


class ScriptProblem(BaseModel):
    line: int | None
    message: str
    hint: str | None = None


class ScriptCheck(BaseModel):
    """A script as the renderer reads it; ``errors`` holds the first error (parsing stops there)."""

    title: str
    language: str | None
    speakers: list[SpeakerSummary]
    counts: ScriptCounts
    estimated_duration_s: float | None
    errors: list[ScriptProblem]
    warnings: list[ScriptProblem]


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
    age: list[int] | None = Field(None, description="The ages the voice sounds, [from, to] in years")
    accent: str | None = None
    style: list[str] = []
    licence: str = Field("", description="Of the model and the recordings it was trained on")
    fallback: str | None
    aliases: list[str]
    params: dict[str, Any]
    description: str
    preview_url: str


class TemplatePublic(BaseModel):
    name: str
    description: str


class TemplateSetting(BaseModel):
    """One setting a task may change (``options.settings[group][key]``), as a form offers it."""

    group: str
    key: str
    default: bool | int | float | str
    kind: Literal["number", "integer", "boolean", "string", "choice"]
    minimum: float | None
    maximum: float | None
    choices: list[int | float | str] | None


class TemplateDetail(TemplatePublic):
    settings: list[TemplateSetting]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str] = Field(description="redis, postgres, dora: `ok` or `error: …`")


# --- accounts, keys, credits -----------------------------------------------------------------------

Username = Annotated[str, StringConstraints(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                                         strip_whitespace=True)]
Password = Annotated[str, StringConstraints(max_length=256)]
Role = Literal["user", "admin"]
Status = Literal["active", "suspended", "banned"]
CreditKind = Literal["purchase", "grant", "audio_generation", "script_generation", "refund"]


class UserRegister(BaseModel):
    username: Username = Field(description="3–50 letters, digits, `_`, `.` or `-`")
    email: Email
    password: Password = Field(description="at least 10 characters, not a common password")


class UserUpdate(BaseModel):
    """What a person changes about their account; a new password needs the current one."""

    email: Email | None = None
    keep_audio: bool | None = Field(None, description="keep the audio of new tasks for good (their `keep` default)")
    password: Password | None = Field(None, description="the new password")
    current_password: Password | None = None


class UserPublic(BaseModel):
    id: int
    username: str
    email: str | None
    role: Role
    status: Status
    status_reason: str | None
    credit_balance: int
    total_credit_purchased: int
    keep_audio: bool
    created_at: Timestamp

    @classmethod
    def of(cls, user: User) -> Self:
        return cls(id=user.id, username=user.username, email=user.email, role=user.role, status=user.status,
                   status_reason=user.status_reason, credit_balance=user.credit_balance,
                   total_credit_purchased=user.total_credit_purchased, keep_audio=user.keep_audio,
                   created_at=user.created_at.isoformat())


class UserList(BaseModel):
    items: list[UserPublic]
    total: int
    limit: int
    offset: int


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds")


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="what the key is for")

    _text = field_validator("name")(lambda value: storable_text(value))


class ApiKeyPublic(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    created_at: Timestamp
    last_used_at: Timestamp | None

    @classmethod
    def of(cls, row: ApiKey, **extra: Any) -> Self:
        return cls(id=row.id, name=row.name, prefix=row.prefix, created_at=row.created_at.isoformat(),
                   last_used_at=_iso(row.last_used_at), **extra)


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="the key itself: shown this once, never stored")


class CreditsPublic(BaseModel):
    balance: int
    reserved: int = Field(description="held by your queued and running tasks")
    available: int = Field(description="balance − reserved: what a new task may cost")
    total_purchased: int


class TransactionPublic(BaseModel):
    id: int
    type: CreditKind
    amount: int
    balance_after: int
    reference: str | None = Field(description="the task (or conversation) it is for")
    description: str
    created_at: Timestamp

    @classmethod
    def of(cls, row: CreditTransaction) -> Self:
        return cls(id=row.id, type=row.type, amount=row.amount, balance_after=row.balance_after,
                   reference=row.reference_id, description=row.description, created_at=row.created_at.isoformat())


class TransactionList(BaseModel):
    items: list[TransactionPublic]
    total: int
    limit: int
    offset: int


class TaskEstimate(BaseModel):
    chars: int = Field(description="characters of spoken text")
    segments: int
    estimated_duration_s: float = Field(description="an upper estimate of the output's length")
    credits: int
    minimax_characters: int = Field(description="characters MiniMax would bill, before cache hits "
                                                "(a Chinese character counts 2)")
    available: int
    sufficient: bool
    warnings: list[str]


class CreditAdjust(BaseModel):
    amount: int = Field(description="credits to add (a grant may be negative to correct one)")
    type: Literal["purchase", "grant", "refund"]
    description: str = Field("", max_length=300)

    @model_validator(mode="after")
    def _sign(self) -> CreditAdjust:
        if self.amount == 0 or (self.amount < 0 and self.type != "grant"):
            raise ValueError("amount must be positive (a grant may be negative to take credits back)")
        return self


class AdminUserUpdate(BaseModel):
    status: Status | None = None
    reason: str | None = Field(None, max_length=300, description="shown to the user with a suspension or ban")
    role: Role | None = None
