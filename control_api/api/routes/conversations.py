"""The script writer: conversations with a language model that drafts and revises a script, and the
script they end in. Without a configured model every route that calls one answers 503 saying what to set."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlmodel import select

from control_api import conversations as store
from control_api.api.deps import API_PREFIX, ActiveUser, CurrentUser, SessionDep, SettingsDep
from control_api.api.models import ScriptPublic
from control_api.api.problems import Problem, not_found
from control_api.api.writer_models import (
    ConversationCreate,
    ConversationDetail,
    ConversationList,
    ConversationPublic,
    ConversationRequest,
    MessagePublic,
    draft_of,
)
from control_api.db import Conversation, User, session_scope
from control_api.service import check_script, library_for
from control_api.settings import ServiceSettings
from control_api.writer.author import Brief, Drafted, write_streaming
from control_api.writer.llm import NOT_CONFIGURED, ChatClient
from nodes.common.errors import BackendError

router = APIRouter(prefix=API_PREFIX, tags=["writer"])
FIRST_REQUEST = "Write the first draft."


def chat_client(request: Request) -> ChatClient:
    client = getattr(request.app.state, "llm", None)
    if client is None:
        raise Problem(503, "Service Unavailable", NOT_CONFIGURED)
    return client


def detail(settings: ServiceSettings, user: User, conversation_id: uuid.UUID) -> ConversationDetail:
    with session_scope(settings.database_url) as session:
        conversation = store.owned(session, user.id, conversation_id)
        if conversation is None:
            raise not_found("conversation")
        messages = store.messages_of(session, conversation.id)
        return ConversationDetail.of(conversation, store.charged(session, conversation.id),
                                     messages=[MessagePublic.of(m) for m in messages],
                                     draft=draft_of(store.current_draft(messages)))


async def run_round(request: Request, settings: ServiceSettings, user: User, conversation_id: uuid.UUID,
                    text: str, stream: bool) -> Any:
    """One round: check the user can pay, ask the model (repairing once), store and charge it."""
    client = chat_client(request)

    def prepare() -> tuple[Brief, str | None, list[dict[str, str]]]:
        with session_scope(settings.database_url) as session:
            conversation = store.owned(session, user.id, conversation_id)
            if conversation is None:
                raise not_found("conversation")
            if conversation.status != "active":
                raise Problem(409, "Conflict", f"the conversation is {conversation.status}; resume it first "
                              "(PUT …/resume)")
            messages = store.messages_of(session, conversation.id)
            store.check_can_pay(session, user.id, settings, store.rounds_done(messages) + 1,
                                 store.charged(session, conversation.id))
            draft = store.current_draft(messages)
            return store.brief_of(conversation), draft.content if draft else None, store.history(messages)

    brief, draft, history = await run_in_threadpool(prepare)
    library = library_for(settings.voices_file)

    def record(drafted: Drafted) -> None:
        with session_scope(settings.database_url) as session:
            conversation = session.exec(select(Conversation).where(Conversation.id == conversation_id)
                                        .with_for_update()).one()
            store.record_round(session, settings, conversation, text, drafted)

    rounds = write_streaming(client, library, brief, text, draft=draft, history=history)
    if not stream:
        try:
            async for item in rounds:
                if isinstance(item, Drafted):
                    await run_in_threadpool(record, item)
        except BackendError as exc:
            raise Problem(503, "Service Unavailable", f"the language model is unavailable: {exc}") from None
        return await run_in_threadpool(detail, settings, user, conversation_id)

    async def events():
        try:
            async for item in rounds:
                if isinstance(item, Drafted):
                    await run_in_threadpool(record, item)
                    final = await run_in_threadpool(detail, settings, user, conversation_id)
                    yield _sse("draft", final.model_dump_json())
                elif isinstance(item, dict):
                    yield _sse("repairing", json.dumps(item, ensure_ascii=False))
                else:
                    yield _sse("delta", json.dumps({"text": item}, ensure_ascii=False))
        except BackendError as exc:
            yield _sse("error", json.dumps({"detail": f"the language model is unavailable: {exc}"}))

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


def _wants_stream(accept: str | None) -> bool:
    return "text/event-stream" in (accept or "")


@router.post("/conversations", status_code=201, summary="Start a conversation: the first draft",
             response_model=ConversationDetail)
async def create(body: ConversationCreate, request: Request, user: ActiveUser, settings: SettingsDep,
                 accept: Annotated[str | None, Header()] = None) -> Any:
    chat_client(request)  # 503 before anything is stored
    library = library_for(settings.voices_file)
    unknown = [s.voice for s in body.speakers if s.voice not in library]
    if unknown:
        raise Problem(422, "Invalid request", f"unknown voice(s) {', '.join(unknown)}: pick ids from GET /api/v1/voices")
    brief = Brief(topic=body.topic, style=body.style, language=body.language,
                  target_duration_s=body.target_duration_s, speakers=tuple(s.model_dump() for s in body.speakers))

    def start() -> uuid.UUID:
        with session_scope(settings.database_url) as session:
            store.check_can_pay(session, user.id, settings, 1, 0)
            return store.create(session, user.id, brief).id

    conversation_id = await run_in_threadpool(start)
    return await run_round(request, settings, user, conversation_id, f"{FIRST_REQUEST} Topic: {body.topic}",
                           _wants_stream(accept))


@router.post("/conversations/{conversation_id}/messages", summary="Ask for a revision (streams with "
             "Accept: text/event-stream)", response_model=ConversationDetail)
async def revise(conversation_id: uuid.UUID, body: ConversationRequest, request: Request, user: ActiveUser,
                 settings: SettingsDep, accept: Annotated[str | None, Header()] = None) -> Any:
    return await run_round(request, settings, user, conversation_id, body.content, _wants_stream(accept))


@router.get("/conversations", summary="Your conversations, newest first", response_model=ConversationList)
def list_conversations(user: CurrentUser, session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                       offset: Annotated[int, Query(ge=0)] = 0) -> ConversationList:
    rows = session.exec(select(Conversation).where(Conversation.user_id == user.id)
                        .order_by(Conversation.updated_at.desc()).offset(offset).limit(limit)).all()
    return ConversationList(items=[ConversationPublic.of(c, store.charged(session, c.id)) for c in rows],
                            limit=limit, offset=offset)


@router.get("/conversations/{conversation_id}", summary="Messages and the current draft",
            response_model=ConversationDetail)
def get_conversation(conversation_id: uuid.UUID, user: CurrentUser, settings: SettingsDep) -> ConversationDetail:
    return detail(settings, user, conversation_id)


@router.put("/conversations/{conversation_id}/resume", summary="Make a finished or abandoned conversation active",
            response_model=ConversationDetail)
def resume(conversation_id: uuid.UUID, user: ActiveUser, settings: SettingsDep) -> ConversationDetail:
    with session_scope(settings.database_url) as session:
        conversation = store.owned(session, user.id, conversation_id)
        if conversation is None:
            raise not_found("conversation")
        conversation.status = "active"
        session.add(conversation)
    return detail(settings, user, conversation_id)


@router.post("/conversations/{conversation_id}/finalize", status_code=201,
             summary="The current draft as a stored script, ready to render", response_model=ScriptPublic)
def finalize(conversation_id: uuid.UUID, user: ActiveUser, settings: SettingsDep) -> ScriptPublic:
    with session_scope(settings.database_url) as session:
        conversation = store.owned(session, user.id, conversation_id)
        if conversation is None:
            raise not_found("conversation")
        draft = store.current_draft(store.messages_of(session, conversation.id))
        if draft is None:
            raise Problem(409, "Conflict", "the conversation has no draft yet")
        check = (draft.details or {}).get("check") or {}
        if not check.get("ok"):
            problems = "; ".join(p["message"] for p in check.get("problems", []))
            raise Problem(422, "Draft not clean", f"the current draft does not pass its checks ({problems}); ask for "
                          "a revision first", problems=check.get("problems"))
        counts = check_script(settings, draft.content, "podcast", {})["counts"]
        script = store.finalize(session, conversation, draft, (draft.details or {}).get("model"), counts["chars"])
        return ScriptPublic.of(script)
