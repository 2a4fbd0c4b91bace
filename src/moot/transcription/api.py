"""HTTP handlers for transcription: control (start, stop, designate) and the stored transcript."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, Parameter

from moot.rooms.api import Caller, RoomRef
from moot.settings import Settings
from moot.transcription.control import (
    DesignateHost,
    TranscriptionControl,
    TranscriptionStart,
    TranscriptionState,
)
from moot.transcription.history import TranscriptHistory
from moot.transcription.schemas import TranscriptPage

Control = NamedDependency[TranscriptionControl]
History = NamedDependency[TranscriptHistory]


def worker_url(request: Request[Any, Any, Any], settings: Settings) -> str:
    if settings.worker_public_url:
        return settings.worker_public_url
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return f"{scheme}://{request.url.netloc}/ws/transcribe"


class TranscriptionController(Controller):
    path = "/api/v1/rooms/{room:str}"
    tags = ["transcription"]

    @get("/transcription", summary="Transcription state (participants)")
    async def state(
        self, transcription: Control, participant: Caller, room: RoomRef
    ) -> TranscriptionState:
        return await transcription.state(room, participant)

    @post(
        "/transcription/start",
        status_code=200,
        summary="Start transcribing; returns the worker URL and a short-lived token "
        "(transcription host)",
    )
    async def start(
        self,
        request: Request[Any, Any, Any],
        transcription: Control,
        settings: NamedDependency[Settings],
        participant: Caller,
        room: RoomRef,
    ) -> TranscriptionStart:
        return await transcription.start(room, participant, worker_url(request, settings))

    @post("/transcription/stop", status_code=200, summary="Stop (transcription host or host)")
    async def stop(
        self, transcription: Control, participant: Caller, room: RoomRef
    ) -> TranscriptionState:
        return await transcription.stop(room, participant)

    @post(
        "/transcription/host",
        status_code=200,
        summary="Designate the transcription host (room host)",
    )
    async def designate(
        self,
        data: JSONBody[DesignateHost],
        transcription: Control,
        participant: Caller,
        room: RoomRef,
    ) -> TranscriptionState:
        return await transcription.designate(room, participant, data.participant_id)

    @get("/transcripts", summary="Final transcript segments, oldest first (participants)")
    async def list_transcripts(
        self,
        transcripts: History,
        participant: Caller,
        room: RoomRef,
        after: Annotated[int | None, Parameter(ge=0, description="next_after of the page before")]
        = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> TranscriptPage:
        return await transcripts.page(room, participant, after=after, limit=limit)

    @get("/transcripts/export", summary="The whole transcript as txt, srt, vtt or json")
    async def export(
        self,
        transcripts: History,
        participant: Caller,
        room: RoomRef,
        format: FromQuery[Literal["txt", "srt", "vtt", "json"]] = "txt",
    ) -> Response[Any]:
        body, media_type, filename = await transcripts.export(room, participant, format)
        return Response(
            body,
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


