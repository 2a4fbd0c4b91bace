"""HTTP handlers for transcription: control (start, stop, designate) and the stored transcript."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, WebSocket, get, post, websocket
from litestar.params import FromQuery, JSONBody, Parameter

from moot.http import Caller, RoomId
from moot.services import Svc
from moot.settings import TranscriptionSettings
from moot.transcription.control import (
    DesignateHost,
    TranscriptionStart,
    TranscriptionState,
)
from moot.transcription.schemas import TranscriptPage


def worker_url(request: Request[Any, Any, Any], settings: TranscriptionSettings) -> str:
    if settings.worker_public_url:
        return settings.worker_public_url
    scheme = "wss" if request.url.scheme == "https" else "ws"
    return f"{scheme}://{request.url.netloc}/ws/transcribe"


class TranscriptionController(Controller):
    path = "/api/v1/rooms/{room:str}"
    tags = ["transcription"]

    @get("/transcription", summary="Transcription state (participants)")
    async def state(
        self, services: Svc, participant: Caller, room_id: RoomId
    ) -> TranscriptionState:
        return await services.transcription.state(room_id, participant)

    @post(
        "/transcription/start",
        status_code=200,
        summary="Start transcribing; returns the worker URL and a short-lived token "
        "(transcription host)",
    )
    async def start(
        self,
        request: Request[Any, Any, Any],
        services: Svc,
        participant: Caller,
        room_id: RoomId,
    ) -> TranscriptionStart:
        url = worker_url(request, services.transcription.settings)
        return await services.transcription.start(room_id, participant, url)

    @post("/transcription/stop", status_code=200, summary="Stop (transcription host or host)")
    async def stop(self, services: Svc, participant: Caller, room_id: RoomId) -> TranscriptionState:
        return await services.transcription.stop(room_id, participant)

    @post(
        "/transcription/host",
        status_code=200,
        summary="Designate the transcription host (room host)",
    )
    async def designate(
        self,
        data: JSONBody[DesignateHost],
        services: Svc,
        participant: Caller,
        room_id: RoomId,
    ) -> TranscriptionState:
        return await services.transcription.designate(room_id, participant, data.participant_id)

    @get("/transcripts", summary="Final transcript segments, oldest first (participants)")
    async def list_transcripts(
        self,
        services: Svc,
        participant: Caller,
        room_id: RoomId,
        after: Annotated[
            int | None, Parameter(ge=0, description="next_after of the page before")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> TranscriptPage:
        return await services.transcripts.page(room_id, participant, after=after, limit=limit)

    @get("/transcripts/export", summary="The whole transcript as txt, srt, vtt or json")
    async def export(
        self,
        services: Svc,
        participant: Caller,
        room_id: RoomId,
        format: FromQuery[Literal["txt", "srt", "vtt", "json"]] = "txt",
    ) -> Response[Any]:
        body, media_type, filename = await services.transcripts.export(room_id, participant, format)
        return Response(
            body,
            media_type=media_type,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


@websocket("/ws/transcribe")
async def transcribe_socket(socket: WebSocket[Any, Any, Any], services: Svc) -> None:
    """The transcription host's audio: binary PCM16 mono 16 kHz chunks; `?token=` from
    `POST /api/v1/rooms/{room}/transcription/start`."""
    await socket.accept()
    assert services.worker is not None, "the worker route is only mounted with a worker"
    await services.worker.serve(socket)
