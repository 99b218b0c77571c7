"""The dataflow templates, and the YAML a task would run with one."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from control_api.api.deps import API_PREFIX, CurrentUser
from control_api.api.models import TemplatePreview, TemplatePublic
from control_api.api.problems import not_found
from control_api.service import render_options
from control_api.templates import SAMPLE_TASK, render, template_names, template_source

router = APIRouter(prefix=API_PREFIX, tags=["templates"])


@router.get("/templates", summary="Dataflow templates", response_model=list[TemplatePublic])
def templates(_user: CurrentUser) -> list[TemplatePublic]:
    rows = []
    for name in template_names():
        header = [line[1:].strip() for line in template_source(name).splitlines() if line.startswith("#")]
        rows.append(TemplatePublic(name=name, description=" ".join(header[:3])))
    return rows


@router.post("/templates/{name}/render", summary="Preview the dataflow YAML a task would run",
             response_class=PlainTextResponse)
def template_render(name: str, body: TemplatePreview, _user: CurrentUser) -> PlainTextResponse:
    if name not in template_names():
        raise not_found("template")
    options = render_options(body.voice_config, body.options)
    text = render(name, SAMPLE_TASK, title=body.title, voices={k: str(v) for k, v in body.voice_config.items()},
                  options=options.settings)
    return PlainTextResponse(text, media_type="application/yaml")
