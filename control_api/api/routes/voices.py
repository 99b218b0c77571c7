"""The voices of voices.yaml, and a short cached sample of each."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from control_api.api.deps import API_PREFIX, CurrentUser, SettingsDep
from control_api.api.models import VoicePublic
from control_api.api.problems import not_found
from control_api.offload import make_preview
from control_api.service import library_for

router = APIRouter(prefix=API_PREFIX, tags=["voices"])


@router.get("/voices", summary="Voices of voices.yaml", response_model=list[VoicePublic])
def voices(_user: CurrentUser, settings: SettingsDep) -> list[VoicePublic]:
    return [VoicePublic.model_validate(row | {"preview_url": f"{API_PREFIX}/voices/{quote(row['id'], safe='')}/preview"})
            for row in library_for(settings.voices_file).as_rows()]


@router.get("/voices/{voice_id}/preview", summary="A short sample of the voice (WAV, cached)")
async def voice_preview(voice_id: str, request: Request, _user: CurrentUser, settings: SettingsDep) -> FileResponse:
    library = library_for(settings.voices_file)
    if voice_id not in library:
        raise not_found("voice")
    cached = settings.previews_dir / f"{uuid.uuid5(uuid.NAMESPACE_URL, voice_id).hex}.wav"
    if not cached.exists():  # rendered in a helper process: the voice models never load into the API
        cached.parent.mkdir(parents=True, exist_ok=True)
        voices = str(settings.voices_file) if settings.voices_file else None
        await request.app.state.offload.run(make_preview, voices, voice_id, str(cached))
    return FileResponse(cached, media_type="audio/wav")
