"""The dataflow templates, and the YAML a task would run with one."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from control_api.api.deps import API_PREFIX, CurrentUser
from control_api.api.models import TemplateDetail, TemplatePreview, TemplatePublic, TemplateSetting
from control_api.api.problems import not_found
from control_api.service import render_options
from control_api.templates import SAMPLE_TASK, render, template_names, template_settings, template_source

router = APIRouter(prefix=API_PREFIX, tags=["templates"])


def _description(name: str) -> str:
    header = [line[1:].strip() for line in template_source(name).splitlines() if line.startswith("#")]
    return " ".join(header[:3])


@router.get("/templates", summary="Dataflow templates", response_model=list[TemplatePublic])
def templates(_user: CurrentUser) -> list[TemplatePublic]:
    return [TemplatePublic(name=name, description=_description(name)) for name in template_names()]


@router.get("/templates/{name}", summary="A template and the settings a task may change, with their ranges",
            response_model=TemplateDetail)
def template(name: str, _user: CurrentUser) -> TemplateDetail:
    if name not in template_names():
        raise not_found("template")
    return TemplateDetail(name=name, description=_description(name),
                          settings=[TemplateSetting.model_validate(row) for row in template_settings(name)])


@router.post("/templates/{name}/render", summary="Preview the dataflow YAML a task would run",
             response_class=PlainTextResponse)
def template_render(name: str, body: TemplatePreview, _user: CurrentUser) -> PlainTextResponse:
    if name not in template_names():
        raise not_found("template")
    options = render_options(body.voice_config, body.options)
    text = render(name, SAMPLE_TASK, title=body.title, voices={k: str(v) for k, v in body.voice_config.items()},
                  options=options.settings)
    return PlainTextResponse(text, media_type="application/yaml")
