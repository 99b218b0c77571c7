"""Prose into a drama script: ``POST /adaptations``. With a configured language model (mode ``llm``, or
``auto``) the model adapts it chunk by chunk (control_api/writer/adaptation.py), charged as
``script_generation`` per started 1,000 tokens; offline (mode ``rules``, or ``auto`` without a model)
the rule-based adapter does, free. Either way the script parses and nothing of the source is lost."""

from __future__ import annotations

import math
import uuid
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, field_validator

from control_api import credits
from control_api.api.deps import API_PREFIX, ActiveUser, SettingsDep
from control_api.api.models import ScriptCheck, storable_text
from control_api.api.problems import Problem
from control_api.db import CreditType, User, session_scope
from control_api.service import check_script, library_for
from control_api.settings import ServiceSettings
from control_api.writer.adaptation import CHUNK_CHARS, adapt_with_model
from control_api.writer.llm import NOT_CONFIGURED
from control_api.writer.rules import Adapted, adapt
from nodes.common.errors import BackendError

router = APIRouter(prefix=API_PREFIX, tags=["writer"])
MAX_SOURCE_CHARS = 200_000  # a long novel chapter
PROMPT_TOKENS_PER_CHUNK = 700  # the adaptation prompt, for the estimate


class AdaptationCreate(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS, description="plain text or Markdown")
    language: Literal["en", "zh"] | None = Field(None, description="default: detected")
    title: str | None = Field(None, max_length=300)
    mode: Literal["auto", "llm", "rules"] = Field(
        "auto", description="llm: the configured model (503 without one); rules: offline, free; auto: the model "
        "when one is configured, else the rules")

    _text = field_validator("text", "title")(lambda value: storable_text(value))


class RestoredPassage(BaseModel):
    line: int = Field(description="its line in the script (under a <!-- restored … --> note)")
    text: str


class Adaptation(BaseModel):
    script: str
    language: str
    mode: Literal["llm", "rules"]
    speakers: list[str]
    speech_tags_removed: int
    kept_share: float = Field(description="of the source's letters, digits and CJK characters (speech tags aside)")
    complete: bool = Field(description="kept_share >= 0.95")
    missing: list[str] = Field(description="source passages the script does not hold word for word")
    restored: list[RestoredPassage] = Field(description="passages the model left out, put back as narration")
    fallback_chunks: list[int] = Field(description="chunks (1-based) the model failed twice, adapted by the rules")
    chunks: int
    tokens: int
    credits_charged: int
    warnings: list[str]
    check: ScriptCheck


def estimated_credits(settings: ServiceSettings, text: str) -> int:
    """What an adaptation by the model should cost: the text in and out once, plus a prompt per chunk."""
    tokens = len(text) / 2 + PROMPT_TOKENS_PER_CHUNK * math.ceil(len(text) / CHUNK_CHARS)
    return math.ceil(tokens / 1000) * settings.credits_per_1k_tokens


def described(settings: ServiceSettings, result: Adapted, charged: int, warnings: list[str]) -> Adaptation:
    check = check_script(settings, result.script, "drama", {})
    return Adaptation(script=result.script, language=result.language, mode=result.mode, speakers=result.speakers,
                      speech_tags_removed=result.tags_removed, kept_share=round(result.coverage.share, 4),
                      complete=result.coverage.complete, missing=list(result.coverage.missing),
                      restored=[RestoredPassage(line=n, text=t) for n, t in result.restored],
                      fallback_chunks=result.fallback_chunks, chunks=result.chunk_count,
                      tokens=sum(r.total_tokens for r in result.replies), credits_charged=charged,
                      warnings=warnings, check=ScriptCheck.model_validate(check))


def by_rules(settings: ServiceSettings, body: AdaptationCreate, warnings: list[str]) -> Adaptation:
    return described(settings, adapt(body.text, language=body.language, title=body.title), 0, warnings)


def charge(settings: ServiceSettings, user: User, result: Adapted, title: str) -> int:
    """Credits for the model's tokens (never more than the user has free); the adaptation is the reference."""
    tokens = sum(r.total_tokens for r in result.replies)
    with session_scope(settings.database_url) as session:
        locked = credits.lock_user(session, user.id)
        amount = min(math.ceil(tokens / 1000) * settings.credits_per_1k_tokens,
                     locked.credit_balance - credits.reserved(session, user.id))
        if amount > 0:
            credits.add(session, locked, -amount, CreditType.script_generation, f"prose adaptation: {title}"[:300],
                        reference_id=f"adaptation:{uuid.uuid4()}")
        return max(amount, 0)


@router.post("/adaptations", summary="Prose (a novel chapter) into a drama script", response_model=Adaptation)
async def create(body: AdaptationCreate, request: Request, user: ActiveUser, settings: SettingsDep) -> Adaptation:
    client = getattr(request.app.state, "llm", None)
    if body.mode == "rules" or (body.mode == "auto" and client is None):
        warnings = [f"adapted by the offline rules: {NOT_CONFIGURED}"] if body.mode == "auto" else []
        return await request.app.state.offload.run(by_rules, settings, body, warnings)
    if client is None:
        raise Problem(503, "Service Unavailable", NOT_CONFIGURED + "; or ask for mode \"rules\" (offline)")

    def can_pay() -> None:
        with session_scope(settings.database_url) as session:
            credits.check_balance(session, user.id, estimated_credits(settings, body.text))

    await run_in_threadpool(can_pay)
    library = library_for(settings.voices_file)
    try:
        result = await adapt_with_model(body.text, client, library, language=body.language, title=body.title)
    except BackendError as exc:
        raise Problem(503, "Service Unavailable", f"the language model is unavailable: {exc}") from None
    title = body.title or body.text.strip().split("\n", 1)[0].lstrip("# ")[:80]
    charged = await run_in_threadpool(charge, settings, user, result, title)
    warnings = [f"chunk {n}: the model's lines failed the checks twice; adapted by the rules"
                for n in result.fallback_chunks]
    warnings += [f"line {n}: a passage the model left out, put back as narration" for n, _ in result.restored]
    return await run_in_threadpool(described, settings, result, charged, warnings)
