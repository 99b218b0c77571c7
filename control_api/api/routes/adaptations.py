"""Prose into a drama script: ``POST /adaptations``. Offline rules (control_api/writer/rules.py) today;
the language model's adaptation is still to come (issue 16)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, field_validator

from control_api.api.deps import API_PREFIX, CurrentUser, SettingsDep
from control_api.api.models import ScriptCheck, storable_text
from control_api.service import check_script
from control_api.settings import ServiceSettings
from control_api.writer.rules import adapt

router = APIRouter(prefix=API_PREFIX, tags=["writer"])
MAX_SOURCE_CHARS = 200_000  # a long novel chapter


class AdaptationCreate(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS, description="plain text or Markdown")
    language: Literal["en", "zh"] | None = Field(None, description="default: detected")
    title: str | None = Field(None, max_length=300)
    mode: Literal["rules"] = Field("rules", description="rules: offline (the only mode so far)")

    _text = field_validator("text", "title")(lambda value: storable_text(value))


class Adaptation(BaseModel):
    script: str
    language: str
    speakers: list[str]
    speech_tags_removed: int
    kept_share: float = Field(description="of the source's letters, digits and CJK characters (speech tags aside)")
    complete: bool = Field(description="kept_share >= 0.95")
    missing: list[str] = Field(description="source passages the script does not hold")
    check: ScriptCheck


def adapted(settings: ServiceSettings, body: AdaptationCreate) -> Adaptation:
    result = adapt(body.text, language=body.language, title=body.title)
    check = check_script(settings, result.script, "drama", {})
    return Adaptation(script=result.script, language=result.language, speakers=result.speakers,
                      speech_tags_removed=result.tags_removed, kept_share=round(result.coverage.share, 4),
                      complete=result.coverage.complete, missing=list(result.coverage.missing),
                      check=ScriptCheck.model_validate(check))


@router.post("/adaptations", summary="Prose (a novel chapter) into a drama script", response_model=Adaptation)
async def create(body: AdaptationCreate, request: Request, _user: CurrentUser, settings: SettingsDep) -> Adaptation:
    return await request.app.state.offload.run(adapted, settings, body)
