"""The request and response bodies of the script writer (conversations); the rest are in ``models``."""

from __future__ import annotations

import uuid
from typing import Any, Literal, Self

from pydantic import BaseModel, Field, field_validator

from control_api.api.models import ScriptProblem, Timestamp, storable_text
from control_api.db import Conversation, ConversationMessage

Style = Literal["educational", "casual", "interview", "debate", "drama"]


class SpeakerBrief(BaseModel):
    name: str = Field(min_length=1, max_length=40, pattern=r"^[^\s:：*【】\[\]#>(（][^:：*【】\[\]]*$")
    voice: str = Field(min_length=1, max_length=100, description="a voice id of GET /voices")
    persona: str = Field("", max_length=500)

    _text = field_validator("name", "persona")(lambda value: storable_text(value))


class ConversationCreate(BaseModel):
    topic: str = Field(min_length=3, max_length=2000)
    style: Style = "casual"
    language: Literal["en", "zh"] = "en"
    target_duration_s: float = Field(300.0, ge=30, le=3600)
    speakers: list[SpeakerBrief] = Field(min_length=1, max_length=8)

    _text = field_validator("topic")(lambda value: storable_text(value))


class ConversationRequest(BaseModel):
    content: str = Field(min_length=1, max_length=4000, description="what to change: \"make Mara angrier\"")

    _text = field_validator("content")(lambda value: storable_text(value))


class DraftPublic(BaseModel):
    """The current script and its checks; ``ok`` false: it is not clean (see ``problems``)."""

    script: str
    ok: bool
    problems: list[ScriptProblem]
    words: dict[str, int]
    estimated_duration_s: float | None


class MessagePublic(BaseModel):
    id: int
    role: Literal["user", "assistant", "system"]
    content: str
    metadata: dict[str, Any] | None = Field(description="model, tokens, cost, latency_s, calls, check")
    created_at: Timestamp

    @classmethod
    def of(cls, message: ConversationMessage) -> Self:
        return cls(id=message.id, role=message.role, content=message.content, metadata=message.details,
                   created_at=message.created_at.isoformat())


class ConversationPublic(BaseModel):
    id: uuid.UUID
    topic: str
    style: str | None
    language: str
    target_duration_s: float | None
    speakers: list[dict[str, Any]]
    status: Literal["active", "completed", "abandoned"]
    message_count: int
    total_tokens: int
    total_cost: float
    credits_charged: int
    script_id: uuid.UUID | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, conversation: Conversation, credits_charged: int, **extra: Any) -> Self:
        return cls(id=conversation.id, topic=conversation.topic, style=conversation.style,
                   language=conversation.language, target_duration_s=conversation.target_duration_s,
                   speakers=conversation.speakers or [], status=conversation.status,
                   message_count=conversation.message_count, total_tokens=conversation.total_tokens,
                   total_cost=conversation.total_cost, credits_charged=credits_charged,
                   script_id=conversation.script_id, created_at=conversation.created_at.isoformat(),
                   updated_at=conversation.updated_at.isoformat(), **extra)


class ConversationDetail(ConversationPublic):
    messages: list[MessagePublic]
    draft: DraftPublic | None


class ConversationList(BaseModel):
    items: list[ConversationPublic]
    limit: int
    offset: int


def draft_of(message: ConversationMessage | None) -> DraftPublic | None:
    if message is None:
        return None
    check = (message.details or {}).get("check") or {}
    return DraftPublic(script=message.content, ok=bool(check.get("ok")), problems=check.get("problems", []),
                       words=check.get("words", {}), estimated_duration_s=check.get("estimated_duration_s"))
